"""dlzoo.training and `dlzoo train`: a recipe trains, evaluates and saves; a run killed with
SIGKILL resumes from its last finished epoch, with no epoch run or logged twice."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import dlzoo
from dlzoo.cli import main
from dlzoo.recipes import load_recipe
from dlzoo.training import run_dir_for, run_recipe

ROOT = Path(__file__).resolve().parent.parent


def quiet(*args):
    pass


def epochs_logged(path):
    with open(path) as f:
        return [int(r["epoch"]) for r in csv.DictReader(f)]


def test_recipe_trains_evaluates_and_saves_a_complete_model(tmp_path):
    recipe = load_recipe("lenet5-digits", overrides=["train.epochs=4"])
    result = run_recipe(recipe, output=tmp_path, verbose=0, log=quiet)
    saved = tmp_path / "lenet5-digits"
    assert result.saved_dir == saved
    assert {"model.keras", "card.json", "README.md", "history.csv", "curves.png",
            "confusion_matrix.png"} <= set(os.listdir(saved))
    assert not (tmp_path / ".runs").exists(), "run state removed once the model is saved"
    card = json.loads((saved / "card.json").read_text())
    assert card["model"] == "lenet5" and card["task"] == "image_classification"
    assert card["class_names"] == [str(i) for i in range(10)]
    assert card["input_shape"] == [32, 32, 1] and card["preprocessing_applied"] == "unit"
    assert card["data"]["source"] == "digits" and len(card["data"]["manifest_hash"]) >= 16
    assert card["seed"] == 0 and card["training"]["epochs_run"] == 4
    assert card["recipe"]["train"]["epochs"] == 4
    assert {"dlzoo", "keras", "backend"} <= set(card["versions"])
    assert epochs_logged(saved / "history.csv") == [0, 1, 2, 3]
    # Four epochs of LeNet-5 learn the digits well past chance (10%).
    assert card["metrics"]["val_accuracy"] > 0.5
    # The saved model takes raw 0-255 pixels and reproduces the card's figure.
    from dlzoo.data.datasets import load
    from dlzoo.evaluation import evaluate

    bundle = load("digits", image_size=(32, 32), color_mode="grayscale", batch_size=64,
                  validation_split=0.2, seed=0)
    again = evaluate(dlzoo.load(saved), bundle.val, bundle.class_names)
    assert again.accuracy == pytest.approx(card["metrics"]["val_accuracy"], abs=1e-6)


def test_train_refuses_to_replace_an_earlier_result_without_overwrite(tmp_path, capsys):
    # as finetune, tune and export refuse: an earlier model is replaced only when asked, and the
    # refusal comes before anything is built or trained
    earlier = tmp_path / "lenet5-digits"
    earlier.mkdir()
    (earlier / "card.json").write_text("{}")
    assert main(["train", "lenet5-digits", "--output", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "already holds" in err and "--overwrite" in err
    assert (earlier / "card.json").read_text() == "{}"
    assert not run_dir_for(tmp_path, "lenet5-digits").exists()


def test_resume_refuses_a_changed_recipe_or_a_missing_run(tmp_path, capsys):
    assert main(["train", "lenet5-digits", "--resume", "--output", str(tmp_path)]) == 2
    assert "no unfinished run of 'lenet5-digits'" in capsys.readouterr().err
    run = run_dir_for(tmp_path, "lenet5-digits")
    run.mkdir(parents=True)
    recipe = load_recipe("lenet5-digits", overrides=["train.epochs=3"])
    (run / "recipe.json").write_text(json.dumps(recipe))
    assert main(["train", "lenet5-digits", "--resume", "--set", "train.epochs=4",
                 "--output", str(tmp_path)]) == 2
    assert ("the recipe changed since the run started (train.epochs 3 when started, 4 now)"
            in capsys.readouterr().err)


def test_bad_recipe_value_is_one_line_naming_the_key(capsys):
    assert main(["train", "lenet5-digits", "--set", "train.epochs=ten"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("dlzoo: error: recipe lenet5-digits.yaml: train.epochs must be a positive "
                   "integer; received 'ten'.")


@pytest.mark.slow
def test_kill_9_then_resume_runs_every_epoch_exactly_once(tmp_path):
    epochs, kill_after = 8, 3
    cmd = [sys.executable, "-m", "dlzoo", "train", "lenet5-digits",
           "--set", f"train.epochs={epochs}", "--set", "callbacks.early_stopping=false",
           "--output", str(tmp_path), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    log = run_dir_for(tmp_path, "lenet5-digits") / "history.csv"
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if log.exists() and len(log.read_text().splitlines()) - 1 >= kill_after:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"training ended before the kill: {proc.stderr.read()!r}"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "lenet5-digits").exists(), "nothing saved by the killed run"
    done_before = len(epochs_logged(log))
    assert kill_after <= done_before < epochs

    resumed = subprocess.run(cmd + ["--resume"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr
    saved = tmp_path / "lenet5-digits"
    assert epochs_logged(saved / "history.csv") == list(range(epochs)), "no epoch repeated"
    card = json.loads((saved / "card.json").read_text())
    assert card["training"]["epochs_run"] == epochs
    # The log row of an epoch is written just before its backup; a kill between the two
    # resumes one epoch earlier, and that epoch's row is replaced, not repeated.
    assert card["training"]["resumed_from_epoch"] in (done_before - 1, done_before)
    assert "resumed after epoch" in resumed.stdout
    lr = [float(r) for r in np.atleast_1d(np.genfromtxt(saved / "history.csv", delimiter=",",
                                                        names=True)["learning_rate"])]
    assert len(lr) == epochs and all(v > 0 for v in lr)


def test_other_tasks_and_raw_inputs_train_through_the_same_runner(tmp_path):
    import keras

    from dlzoo.recipes import validate
    from dlzoo.registry import register_model, unregister_model

    @register_model(family="test", task="autoencoder", default_input_shape=(16, 16, 3),
                    preprocessing="unit", overwrite=True)
    def tiny_autoencoder(*, input_shape=(16, 16, 3)):
        inputs = keras.Input(input_shape, name="input")
        x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu",
                                name="enc")(inputs)
        x = keras.layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation="sigmoid",
                                         name="dec")(x)
        return keras.Model(inputs, x, name="tiny_autoencoder")

    try:
        ae = validate({"name": "ae", "model": "tiny_autoencoder",
                       "data": {"source": "synthetic:shapes", "image_size": [16, 16], "n": 64},
                       "train": {"epochs": 2}})
        result = run_recipe(ae, output=tmp_path, verbose=0, log=quiet)
        assert result.report is None and result.card["task"] == "autoencoder"
        assert 0 < result.card["metrics"]["val_loss"] < 1  # MSE of [0, 1] reconstructions
        assert result.card["preprocessing_applied"] == "unit"
        assert result.epochs_run == 2
    finally:
        unregister_model("tiny_autoencoder")

    # Feature vectors ("raw" values): no preprocessing layer, the MLP takes them as they are.
    mlp = validate({"name": "mlp-blobs", "model": "mlp", "model_args": {"hidden_units": [16]},
                    "data": {"source": "synthetic:blobs", "n": 200},
                    "train": {"epochs": 3, "learning_rate": 0.01}})
    result = run_recipe(mlp, output=tmp_path, verbose=0, log=quiet)
    assert result.card["preprocessing_applied"] == "none"
    assert result.card["metrics"]["val_accuracy"] > 0.6  # 3 well-separated clusters


def test_prepare_run_gives_one_runs_inputs_and_old_augment_names_still_read():
    from dlzoo.training import prepare_run

    recipe = load_recipe("lenet5-digits", overrides=["train.augment.rotate=0.05"])
    augment = recipe["train"]["augment"]
    assert augment["rotation"] == 0.05 and "rotate" not in augment  # the old spelling
    run = prepare_run(recipe, log=quiet)
    assert run.steps == int(run.train.cardinality()) > 0
    assert run.model.optimizer is not None and run.model.get_layer("augment_rotation")
    assert run.model.input_shape[1:] == tuple(run.bundle.input_shape)
    arrays = prepare_run(recipe, build=False, arrays=True, log=quiet)
    (x, y), (xv, yv) = arrays.train, arrays.val
    assert arrays.model is None and len(x) == len(y) and len(xv) == len(yv)
    assert arrays.steps == -(-len(x) // recipe["data"]["batch_size"])


@pytest.mark.parametrize("mode, low, high", [("unit", 0.0, 1.0), ("tf", -1.0, 1.0),
                                             ("none", 0.0, 255.0)])
def test_autoencoder_targets_are_scaled_as_the_model_input_is(mode, low, high):
    import types

    tf = pytest.importorskip("tensorflow")  # tf.data in, tf.data out; Batches.map: test_backend_neutral

    from dlzoo.tasks import Task
    from dlzoo.training import training_data

    x = np.array([[[[0.0]], [[255.0]]]], dtype="float32")  # one 2x1x1 image: black and white
    data = tf.data.Dataset.from_tensor_slices((x, np.zeros(1, "int32"))).batch(1)
    bundle = types.SimpleNamespace(train=data, val=None)
    info = types.SimpleNamespace(task=Task.AUTOENCODER, preprocessing=mode, name="conv_dae")
    train, val = training_data(bundle, info)
    inputs, targets = next(iter(train))
    assert val is None and float(inputs.numpy().max()) == 255.0  # inputs stay raw
    assert targets.dtype == tf.float32
    assert (float(targets.numpy().min()), float(targets.numpy().max())) == pytest.approx((low, high))
