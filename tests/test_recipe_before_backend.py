"""A bad recipe is refused before TensorFlow, JAX or Keras is imported: in a fraction of a second
and a few tens of MB, not the 25 s and 811 MB that loading TensorFlow first cost."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

BAD = {
    "epochs.yaml": ("name: bad\nmodel: lenet5\ndata: {source: digits}\ntrain: {epochs: ten}\n",
                    "train.epochs must be a positive integer; received 'ten'"),
    "model.yaml": ("name: bad\nmodel: lenet6\ndata: {source: digits}\n",
                   "model: Unknown model 'lenet6'. Closest names: lenet5"),
    "key.yaml": ("name: bad\nmodel: lenet5\ndata: {source: digits, batchsize: 8}\n",
                 "unknown key(s) data.batchsize"),
    "schedule.yaml": ("name: bad\nmodel: lenet5\ndata: {source: digits}\n"
                      "callbacks: {lr_schedule: cosin}\n",
                      "callbacks.lr_schedule must be one of constant, plateau, cosine"),
    "tune.yaml": ("name: bad\nmodel: lenet5\ndata: {source: digits}\n"
                  "tune: {hypermodel: cnn, tuner: randm}\n", "tune.tuner"),
}


def _imported(importtime: str) -> set[str]:
    """Top-level packages `python -X importtime` saw imported."""
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)", importtime, re.M)
    return {n.split(".")[0] for n in names}


@pytest.mark.parametrize("command,name", [("train", "epochs.yaml"), ("train", "model.yaml"),
                                          ("train", "key.yaml"), ("train", "schedule.yaml"),
                                          ("tune", "tune.yaml"), ("tune", "epochs.yaml")])
def test_a_bad_recipe_is_refused_before_any_backend_is_imported(tmp_path, command, name):
    text, error = BAD[name]
    (tmp_path / name).write_text(text)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "dlzoo", command, name],
                         cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120)
    lines = [ln for ln in run.stderr.splitlines() if not ln.startswith("import time:")]
    assert run.returncode == 2, run.stderr[-2000:]
    assert lines == [f"dlzoo: error: recipe {name}: " + lines[0].split(f"recipe {name}: ", 1)[1]]
    assert error in lines[0]
    loaded = _imported(run.stderr)
    assert "dlzoo" in loaded  # the import log is read right
    assert not loaded & {"tensorflow", "keras", "jax", "torch", "keras_tuner"}, sorted(loaded)
