"""--precision and --devices: one vocabulary for train, finetune and tune (dlzoo.precision,
dlzoo.training.strategy_for), recorded in the card.

Mixed precision: layers compute in 16 bits, the output layer (the softmax) and the loss in
float32, float16 with loss scaling; `auto` is float32 on a CPU. Several devices: two JAX CPU
devices (`XLA_FLAGS=--xla_force_host_platform_device_count=2`, so in a subprocess) and one device
at the same global batch give the same losses.
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from dlzoo import build
from dlzoo.compiling import compile_for_task
from dlzoo.precision import (
    check_precision,
    float32_outputs,
    precision_scope,
    resolve_precision,
)
from dlzoo.preprocessing import with_preprocessing
from dlzoo.recipes import RecipeError, load_recipe

ROOT = Path(__file__).resolve().parents[1]


def test_auto_is_float32_on_a_cpu_and_bad_names_are_refused():
    assert resolve_precision("auto") == "float32"  # no GPU here: bfloat16 would be emulated
    with pytest.raises(ValueError, match="precision must be one of auto, float32, bfloat16, "
                                         "float16; received 'bf16'"):
        check_precision("bf16")
    with pytest.raises(RecipeError, match="train.precision must be one of auto"):
        load_recipe("mlp-xor", overrides=["train.precision=half"])
    with pytest.raises(RecipeError, match="train.devices must be a positive integer or all"):
        load_recipe("mlp-xor", overrides=["train.devices=0"])


@pytest.mark.parametrize("precision, compute, optimizer", [
    ("float32", "float32", "Adam"), ("bfloat16", "bfloat16", "Adam"),
    ("float16", "float16", "LossScaleOptimizer")])
def test_mixed_precision_computes_in_16_bits_with_a_float32_softmax(precision, compute,
                                                                    optimizer):
    before = keras.config.dtype_policy().name
    with precision_scope(precision):
        net = build("lenet5", input_shape=(32, 32, 1), num_classes=3)
        model = float32_outputs(with_preprocessing(net, "unit"))
        compile_for_task(model, "image_classification")
    assert keras.config.dtype_policy().name == before, "the global policy is restored"
    convs = [layer for layer in net.layers if "conv" in type(layer).__name__.lower()]
    assert convs and all(layer.compute_dtype == compute for layer in convs)
    assert all(w.dtype == "float32" for w in net.weights), "variables stay float32"
    assert net.layers[-1].compute_dtype == "float32", "the softmax computes in float32"
    assert type(model.optimizer).__name__ == optimizer
    x = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 1)).astype("float32")
    model.fit(x, np.arange(8) % 3, epochs=1, verbose=0)
    probabilities = model.predict(x, verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_the_card_records_precision_and_devices(tmp_path):
    from dlzoo.training import run_recipe

    recipe = load_recipe("mlp-xor", overrides=["train.epochs=2", "train.precision=bfloat16"])
    result = run_recipe(recipe, output=tmp_path, verbose=0, log=lambda *a: None)
    training = result.card["training"]
    assert (training["precision"], training["devices"]) == ("bfloat16", 1)
    assert training["global_batch_size"] == recipe["data"]["batch_size"]


@pytest.mark.slow
def test_bfloat16_trains_lenet5_digits_within_a_point_of_float32(tmp_path):
    """The shipped recipe (seed 0, its early stopping) in float32 and bfloat16 mixed."""
    from dlzoo.training import run_recipe

    accuracy = {}
    for precision in ("float32", "bfloat16"):
        recipe = load_recipe("lenet5-digits", overrides=[f"train.precision={precision}"])
        result = run_recipe(recipe, output=tmp_path / precision, verbose=0, log=lambda *a: None)
        accuracy[precision] = result.card["metrics"]["val_accuracy"]
    assert accuracy["float32"] > 0.97, accuracy
    assert abs(accuracy["bfloat16"] - accuracy["float32"]) <= 0.01, accuracy


# --- several devices: two JAX CPU devices in a subprocess ------------------------------------


def _two_device_env():
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT),
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLI's own environment
    return env


def _losses(path: Path) -> list[float]:
    with open(path) as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def _dlzoo(args, env, cwd):
    proc = subprocess.run([sys.executable, "-m", "dlzoo", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX's data parallelism (CI's JAX leg)")
def test_train_on_two_devices_gives_the_losses_of_one(tmp_path):
    env = _two_device_env()
    # 398 examples: 290 to train in 29 batches of 10, 108 to validate: every batch splits in two
    common = ["train", "mlp-xor", "--set", "data.n=398", "--set", "data.batch_size=10",
              "--set", "train.epochs=4", "--quiet"]
    losses = {}
    for devices in ("1", "2"):
        out = tmp_path / f"d{devices}"
        stdout = _dlzoo([*common, "--devices", devices, "--output", str(out)], env, tmp_path)
        card = json.loads((out / "mlp-xor" / "card.json").read_text())
        assert card["training"]["devices"] == int(devices), stdout
        losses[devices] = _losses(out / "mlp-xor" / "history.csv")
    assert len(losses["1"]) == 4
    np.testing.assert_allclose(losses["2"], losses["1"], rtol=1e-4)


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX's data parallelism (CI's JAX leg)")
def test_finetune_on_two_devices_gives_the_losses_of_one(tmp_path):
    from tests._imagefolders import write_good

    from dlzoo.data.datasets import load

    rng = np.random.default_rng(0)
    for label, cls in enumerate(["a", "b"]):
        for i in range(20):
            write_good(tmp_path / "data", cls, f"{i:02d}", rng, label, size=(32, 32))
    for _ in range(10):  # whole batches of 8 to train on, an even count to validate on
        files = load(f"folder:{tmp_path / 'data'}", image_size=(32, 32), batch_size=8,
                     validation_split=0.2, seed=0).files
        extra = files["train"][: len(files["train"]) % 8] + files["val"][: len(files["val"]) % 2]
        if not extra:
            break
        for name in extra:
            os.remove(tmp_path / "data" / name)
    assert len(files["train"]) % 8 == 0 and len(files["val"]) % 2 == 0, files
    env = _two_device_env()
    losses = {}
    for devices in ("1", "2"):
        out = tmp_path / f"ft{devices}"
        _dlzoo(["finetune", str(tmp_path / "data"), "--model", "lenet5", "--head-epochs", "2",
                "--epochs", "2", "--batch-size", "8", "--cache-dir", "", "--out", str(out),
                "--devices", devices, "--quiet"], env, tmp_path)
        card = json.loads((out / "card.json").read_text())
        assert card["training"]["devices"] == int(devices)
        losses[devices] = _losses(out / "history.csv")
    assert len(losses["1"]) == 4
    np.testing.assert_allclose(losses["2"], losses["1"], rtol=1e-3)


@pytest.mark.skipif(keras.backend.backend() not in ("jax", "tensorflow"), reason="data parallel")
def test_more_devices_than_the_host_has_is_one_clear_error():
    from dlzoo.training import strategy_for

    with pytest.raises(ValueError, match=r"train.devices is 4096 but this host has \d+ device\(s\) "
                                         r"\(.*\); ask for at most \d+ or 'all'"):
        strategy_for(None, devices=4096, log=lambda *a: None)
