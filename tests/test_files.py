"""dlzoo.files: a file is replaced whole or not at all, and values are written as JSON safely."""

import json
import math
import os

import numpy as np
import pytest

from dlzoo.files import atomic_path, json_default, to_jsonable, write_json, write_text


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "state.json"
    write_json(target, {"epoch": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text('{"epoch": 2')  # torn: the writer dies half-way
        raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"epoch": 1}
    assert os.listdir(tmp_path) == ["state.json"]


def test_the_temporary_keeps_the_suffix_so_numpy_writes_exactly_there(tmp_path):
    target = tmp_path / "best.npz"
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".npz" and tmp.parent == tmp_path
        np.savez(tmp, np.arange(3))
    with np.load(target) as f:
        assert f["arr_0"].tolist() == [0, 1, 2]
    assert os.listdir(tmp_path) == ["best.npz"]


def test_json_values_numpy_paths_tuples_nan(tmp_path):
    write_json(tmp_path / "a.json", {"n": np.int64(3), "x": np.float32(0.5),
                                     "shape": (2, 3), "p": tmp_path})
    assert json.loads((tmp_path / "a.json").read_text()) == {
        "n": 3, "x": 0.5, "shape": [2, 3], "p": str(tmp_path)}
    with pytest.raises(TypeError, match="object"):
        json_default(object())
    assert to_jsonable({"loss": float("nan"), "best": np.float64(1.5), 1: [np.int32(2)]}) == {
        "loss": None, "best": 1.5, "1": [2]}
    assert not math.isnan(to_jsonable(np.float32(2.0)))
    write_text(tmp_path / "t.txt", "one\n")
    assert (tmp_path / "t.txt").read_text() == "one\n"
