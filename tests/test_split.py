"""The split is stratified per class, keeps files in place as a folder grows, and every class
trains."""

import json

import numpy as np
import pytest

from dlzoo.cli import main
from dlzoo.data import image_folder, load_arrays
from dlzoo.data.scan import in_validation, split_sides
from tests._imagefolders import write_good


def _sides_per_class(sides, files):
    out = {}
    for path, label in files:
        out.setdefault(label, {"train": 0, "val": 0})[sides[path]] += 1
    return out


@pytest.mark.parametrize("split", [0.1, 0.2, 0.5, 0.9])
def test_every_class_with_two_files_has_one_on_each_side(split):
    rng = np.random.default_rng(1)
    for trial in range(40):
        sizes = rng.integers(1, 8, size=4)
        files = [(f"c{c}/IMG_{trial}_{i:04d}.jpg", f"c{c}") for c, n in enumerate(sizes)
                 for i in range(n)]
        per = _sides_per_class(split_sides(files, split, seed=trial), files)
        for c, n in enumerate(sizes):
            got = per[f"c{c}"]
            if n == 1:
                assert got == {"train": 1, "val": 0}
            else:
                assert got["train"] >= 1 and got["val"] >= 1, (n, got)


def test_hash_sides_stay_put_as_a_class_grows():
    files = [(f"x/{i:03d}.png", "x") for i in range(30)]
    before = split_sides(files, 0.2, seed=0)
    # every file the hash places keeps its side when more files come
    assert all(before[p] == ("val" if in_validation(p, 0.2, 0) else "train") for p, _ in files)
    grown = files + [(f"x/{i:03d}.png", "x") for i in range(30, 200)]
    after = split_sides(grown, 0.2, seed=0)
    assert all(after[p] == before[p] for p, _ in files)
    assert split_sides(files, 0, seed=0) == {p: "train" for p, _ in files}


@pytest.fixture
def six(tmp_path, rng):
    """The field report: 3 cats and 3 dogs (a hash-only split put every cat in validation)."""
    root = tmp_path / "six"
    for cls, label in (("cat", 0), ("dog", 1)):
        for i in range(1, 4):
            write_good(root, cls, f"IMG_{i:04d}.jpg", rng, label, size=(8, 8))
    return root


def test_small_classes_train_and_validate_everywhere(six, capsys):
    _, _, info = image_folder(six, image_size=(8, 8), validation_split=0.5, progress=False)
    for c in ("cat", "dog"):
        assert any(f.startswith(c) for f in info.train_files)
        assert any(f.startswith(c) for f in info.val_files)
    data = load_arrays(f"folder:{six}", image_size=(8, 8), validation_split=0.5, progress=False)
    assert sorted(set(data.train[1])) == [0, 1] and sorted(set(data.val[1])) == [0, 1]
    assert main(["doctor", str(six), "--validation-split", "0.5", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["problems"] == [] and all(c["train"] and c["val"] for c in r["classes"].values())
    for c in ("cat", "dog"):  # doctor reports the split training uses
        assert r["classes"][c] == {"train": sum(f.startswith(c) for f in info.train_files),
                                   "val": sum(f.startswith(c) for f in info.val_files), "total": 3}


def test_doctor_names_a_class_with_no_validation_image(tmp_path, rng, capsys):
    root = tmp_path / "lone"
    for i in range(4):
        write_good(root, "many", f"{i}.png", rng, 0, size=(8, 8), fmt="png")
    write_good(root, "lone", "0.png", rng, 1, size=(8, 8), fmt="png")
    assert main(["doctor", str(root), "--json"]) == 0  # it trains; it cannot be validated
    r = json.loads(capsys.readouterr().out)
    assert r["classes"]["lone"] == {"train": 1, "val": 0, "total": 1}
    assert r["problems"] == [("class 'lone' has no validation image (1 usable file(s)): its "
                             "validation accuracy cannot be measured")]
    assert main(["doctor", str(root)]) == 0
    assert "problem: class 'lone' has no validation image" in capsys.readouterr().out


def test_a_class_with_no_training_image_is_refused_by_name(six, monkeypatch, capsys):
    """Whatever split produced it, the data layer refuses a class it would never train on."""
    from dlzoo.data import datasets, doctor, split

    def hash_only(files, validation_split, seed=0):  # the old rule: cats all in validation here
        return {p: "val" if p.startswith("cat") else "train" for p, _ in files}

    monkeypatch.setattr(split, "split_sides", hash_only)
    monkeypatch.setattr(doctor, "split_sides", hash_only)
    monkeypatch.setattr(datasets, "split_sides", hash_only)
    with pytest.raises(ValueError, match="'cat' have no training image"):
        image_folder(six, image_size=(8, 8), validation_split=0.5, progress=False)
    with pytest.raises(ValueError, match="'cat' have no training image"):
        load_arrays(f"folder:{six}", image_size=(8, 8), validation_split=0.5, progress=False)
    assert main(["doctor", str(six), "--validation-split", "0.5"]) == 2
    assert "class 'cat' has no training image" in capsys.readouterr().err
