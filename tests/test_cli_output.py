"""What the command line prints, as people read it: in an 80-column terminal and in pipes, with no
TensorFlow/absl/CUDA or libjpeg lines, follow-up commands that paste into a shell."""

import io
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from dlzoo.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _dlzoo(*args, **env):
    """`python -m dlzoo ARGS` in a subprocess (stderr as a user's terminal gets it)."""
    full = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # the CLI's own
    full.update({"PYTHONPATH": str(ROOT), **env})
    return subprocess.run([sys.executable, "-m", "dlzoo", *map(str, args)], capture_output=True,
                          text=True, env=full, timeout=300, check=False)


def _noise_folder(root, per_class: int, side: int):
    """Classes a/ and b/ of `per_class` random RGB PNGs, side x side."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (root / cls).mkdir()
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (side, side, 3), np.uint8)).save(
                root / cls / f"{i}.png")


# --- noise -------------------------------------------------------------------------------------


@pytest.mark.slow  # test_first_hour's doctor+predict check covers it by default
def test_tensorflow_and_libjpeg_lines_do_not_reach_the_user(tmp_path):
    """`doctor` on a folder with a damaged JPEG: TensorFlow is imported (absl's InitializeLog
    notice, oneDNN, "Could not find cuda drivers", "failed call to cuInit") and libjpeg meets the
    damaged file ("Improper call to JPEG library in state 201"); none of it is printed."""
    from tests._imagefolders import make_messy_folder

    folder = make_messy_folder(tmp_path / "messy")
    run = _dlzoo("doctor", folder)
    assert run.returncode == 0, run.stderr
    assert "truncated.jpg" in run.stdout  # the damaged file is reported, by name, on stdout
    assert run.stderr.strip() == ""


def test_the_filter_keeps_what_the_level_keeps_and_every_other_line():
    """The native lines are filtered by TF_CPP_MIN_LOG_LEVEL's rule; a line that is not absl's
    (a C library's real error, a Python warning written meanwhile) comes through."""
    from dlzoo.quiet import noise

    info = "I0000 00:00:1796015249.955775   22910 port.cc:153] oneDNN custom operations are on."
    cuinit = ("E0000 00:00:1796015047.782204   17922 cuda_platform.cc:52] failed call to cuInit: "
              "INTERNAL: CUDA error")
    error = "E0000 00:00:1796015047.782204   17922 op.cc:12] something real"
    notice = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
    assert [noise(line, 0) for line in (info, cuinit, error, notice)] == [False] * 4
    assert [noise(line, 1) for line in (info, cuinit, error, notice)] == [True, False, False, True]
    assert [noise(line, 2) for line in (info, cuinit, error, notice)] == [True, True, False, True]
    assert [noise(line, 3) for line in (info, cuinit, error, notice)] == [True] * 4
    assert not noise("Traceback (most recent call last):", 3)

    # A logging handler made in the block (as absl's is, when TensorFlow imports it) keeps
    # working after it: it must not be left writing to a closed stream.
    script = ("import logging, os, sys\nfrom dlzoo.quiet import native_stderr_filtered\n"
              "with native_stderr_filtered():\n"
              f"    os.write(2, {(info + chr(10)).encode()!r})\n"
              "    os.write(2, b'a real native error\\n')\n"
              "    print('python says', file=sys.stderr)\n"
              "    handler = logging.StreamHandler()\n"
              "logging.getLogger('x').addHandler(handler)\n"
              "logging.getLogger('x').warning('logged after')\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert run.returncode == 0 and sorted(run.stderr.splitlines()) == [
        "a real native error", "logged after", "python says"]


def test_a_folder_epoch_is_known_to_keras_so_it_never_runs_out_of_data(tmp_path):
    """The cause of "Your input ran out of data; interrupting training" in finetune and
    quickstart: the folder datasets' length was unknown to tf.data, so Keras ran each epoch
    until the data ended (and, given steps_per_epoch, began the next on the spent iterator)."""
    import keras

    from dlzoo.data.datasets import load
    from dlzoo.training import steps_per_epoch

    _noise_folder(tmp_path, 9, 12)
    bundle = load(f"folder:{tmp_path}", image_size=(12, 12), batch_size=4,
                  validation_split=0.2, seed=0)
    n_train, n_val = bundle.details["num_train"], bundle.details["num_val"]
    assert int(bundle.train.cardinality()) == math.ceil(n_train / 4)
    assert int(bundle.val.cardinality()) == math.ceil(n_val / 4)

    model = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    seen = []
    count = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(bundle.train, validation_data=bundle.val, epochs=3, verbose=0,
                            steps_per_epoch=steps_per_epoch(bundle.train), callbacks=[count])
    assert not [w for w in caught if "ran out of data" in str(w.message)]
    assert len(history.history["loss"]) == 3 and len(seen) == 3 * math.ceil(n_train / 4)


# --- dlzoo list --------------------------------------------------------------------------------


def test_list_never_cuts_names_in_a_pipe(capsys):
    from dlzoo.registry import list_models

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert set(list_models()) <= rows and "…" not in out


def test_list_never_cuts_names_in_an_80_column_terminal(monkeypatch):
    from rich.console import Console

    from dlzoo.commands import list as list_command
    from dlzoo.registry import list_models

    screen = io.StringIO()
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(list_command, "_console", lambda: Console(file=screen, width=80))
    assert main(["list"]) == 0
    lines = screen.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert set(list_models()) <= {line.split()[0] for line in lines if line.strip()}


# --- small ones --------------------------------------------------------------------------------


def test_the_workers_summary_reports_the_time_the_workers_searched(tmp_path, monkeypatch, capsys):
    """With --workers the trials run in other processes; the summary counted only this
    process's collecting of their results ("0 s")."""
    import time

    from dlzoo.tuning import runner
    from dlzoo.tuning.search import SearchResult
    from tests._tuning import tiny_recipe

    recipe = tiny_recipe(tmp_path, name="timed", trials=1)
    monkeypatch.setattr(runner, "_launch_workers", lambda *a, **k: time.sleep(1.6))
    monkeypatch.setattr(runner, "search", lambda *a, **k: SearchResult(
        project_dir=tmp_path, tuner=None, trials=[], best_hyperparameters=None, best_spec=None,
        best_score=None, csv_path=tmp_path / "trials.csv", fingerprint={}, seconds=0.01))
    assert main(["tune", str(recipe), "--workers", "2", "--output", str(tmp_path / "out"),
                 "--quiet"]) == 0
    assert "timed: 0 trial(s), 0 completed, 2 s" in capsys.readouterr().out


def test_build_takes_builder_arguments_and_weights_none(capsys):
    assert main(["build", "lenet5", "--weights", "none", "--set", "activation=relu",
                 "--set", "num_classes=3"]) == 0
    assert "output (None, 3)" in capsys.readouterr().out
    assert main(["build", "lenet5", "--set", "no_such_argument=1"]) == 2
    assert "no_such_argument" in capsys.readouterr().err


def test_errors_about_weights_tell_command_line_users_the_flag():
    from dlzoo import build

    with pytest.raises(ValueError, match="--weights none"):
        build("lenet5", weights="imagenet")


def test_predict_takes_a_folder_recursively(tmp_path, capsys):
    import json

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for rel in ("a.png", "sub/b.jpg", "sub/deeper/c.png", ".hidden/d.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (20, 20), np.uint8)).save(tmp_path / rel)
    (tmp_path / "sub" / "notes.txt").write_text("not an image")
    shipped = ROOT / "saved_models" / "lenet5-digits"
    # every file is tried (by its header, not its suffix): the text file is skipped by name, exit 3
    assert main(["predict", str(shipped), str(tmp_path), "--json", "--top-k", "1"]) == 3
    captured = capsys.readouterr()
    files = [row["file"] for row in json.loads(captured.out)]
    assert files == [str(tmp_path / rel) for rel in ("a.png", "sub/b.jpg", "sub/deeper/c.png")]
    assert f"{tmp_path / 'sub' / 'notes.txt'}: skipped: not an image (text file)" in captured.err
    assert "read 3 of 4 file(s); 1 could not be read (named above)" in captured.err


def test_follow_up_commands_paste_into_a_shell(tmp_path, monkeypatch, capsys):
    """Paths with spaces in the commands `finetune` prints after a run come back whole from
    shlex.split, as a shell would split them."""
    import shlex
    import types

    import dlzoo.transfer

    photos, out = tmp_path / "my photos", tmp_path / "my model"
    photos.mkdir()
    card = {"name": "x", "model": "lenet5", "data": {"source": "folder", "skipped": []},
            "metrics": {}, "training": {"phase1": {"epochs_run": 1}, "phase2": {"epochs_run": 0}}}
    monkeypatch.setattr(dlzoo.transfer, "fine_tune",
                        lambda *a, **k: types.SimpleNamespace(card=card, report=None))
    assert main(["finetune", str(photos), "--model", "lenet5", "--out", str(out), "--quiet"]) == 0
    lines = [shlex.split(line) for line in capsys.readouterr().out.splitlines()
             if line.strip().startswith("dlzoo ")]
    assert ["dlzoo", "evaluate", str(out), str(photos)] in lines
    assert ["dlzoo", "export", str(out), "--format", "savedmodel"] in lines


def test_register_model_refuses_a_builder_that_returns_nothing():
    from dlzoo.registry import register_model, unregister_model
    from dlzoo.weights import build

    with pytest.raises(TypeError, match="never returns a value"):
        @register_model(family="mine", default_input_shape=(8, 8, 1))
        def stub_cnn(*, num_classes=10, input_shape=(8, 8, 1), **kw):
            model = None  # built, but not returned
            del model

    # a builder whose source cannot be read (made by exec) is caught when it builds
    namespace: dict = {}
    exec("def sourceless(*, num_classes=10, input_shape=(8, 8, 1)):\n    pass\n",  # noqa: S102
         namespace)
    register_model(family="mine", default_input_shape=(8, 8, 1))(namespace["sourceless"])
    try:
        with pytest.raises(TypeError, match="returned NoneType, not a keras.Model"):
            build("sourceless")
    finally:
        unregister_model("sourceless")


def test_a_folder_streamed_from_disk_also_has_its_length(tmp_path):
    """The same when the images are decoded from disk each epoch (cache=False): an epoch is the
    scanned files, even when one of them is spoilt after the scan."""
    import numpy as np

    from dlzoo.data.folders import image_folder

    _noise_folder(tmp_path, 9, 12)
    train, val, info = image_folder(tmp_path, image_size=(12, 12), batch_size=4,
                                    validation_split=0.2, seed=0, cache=False)
    assert int(train.cardinality()) == math.ceil(len(info.train_files) / 4)
    assert int(val.cardinality()) == math.ceil(len(info.val_files) / 4)
    (tmp_path / info.train_files[0]).write_bytes(b"spoilt")
    for _ in range(2):  # two epochs, each all the batches
        labels = np.concatenate([y.numpy() for _, y in train])
        assert len(labels) == len(info.train_files)


def test_list_into_a_reader_that_stops_early_ends_quietly():
    # `dlzoo list | head -1`: the reader closes the pipe; no "Broken pipe" error line, no traceback
    proc = subprocess.Popen([sys.executable, "-m", "dlzoo", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Broken pipe" not in err and "Traceback" not in err, err
