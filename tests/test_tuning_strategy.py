"""train.strategy: a recipe trains a zoo model under tf.distribute.MirroredStrategy over two
logical CPU devices (set before TensorFlow starts, hence a subprocess), and a search's trials
train under the same strategy."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlzoo.recipes import RecipeError, load_recipe
from tests._tuning import tiny_recipe

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
from dlzoo.recipes import load_recipe
from dlzoo.training import run_recipe
from dlzoo.tuning import tune_recipe

recipe = load_recipe(sys.argv[1], overrides=["train.strategy=mirrored", "train.epochs=2"])
result = run_recipe(recipe, output=sys.argv[2], verbose=0)
weight = result.model.trainable_weights[0]
search, _ = tune_recipe(recipe, output=sys.argv[2], verbose=0)
print("RESULT " + json.dumps({
    "replicas": tf.distribute.get_strategy().num_replicas_in_sync,
    "mirrored": isinstance(weight.value, tf.distribute.DistributedValues),
    "devices": [d.name for d in tf.config.list_logical_devices("CPU")],
    "val_accuracy": result.card["metrics"]["val_accuracy"],
    "strategy": result.card["recipe"]["train"]["strategy"],
    "trials": search.completed,
}))
"""


@pytest.mark.slow
def test_mirrored_strategy_over_two_cpu_devices_trains_a_zoo_model(tmp_path):
    recipe = tiny_recipe(tmp_path, name="mirrored", trials=1)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(recipe), str(tmp_path / "out")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    result = json.loads(line[len("RESULT "):])
    assert len(result["devices"]) == 2
    assert result["mirrored"], "the model's variables were not created under the strategy"
    assert "strategy: mirrored, 2 replica(s)" in proc.stdout
    assert result["strategy"] == "mirrored"
    assert result["val_accuracy"] > 0.2  # two epochs learn the digits well past chance (10%)
    assert result["trials"] == 1


def test_strategy_names_are_checked(tmp_path):
    recipe = tiny_recipe(tmp_path)
    with pytest.raises(RecipeError, match="train.strategy must be null or one of mirrored"):
        load_recipe(recipe, overrides=["train.strategy=horovod"])


def test_tf_distribute_strategies_need_the_tensorflow_backend(monkeypatch):
    import keras

    from dlzoo.training import strategy_for

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ValueError, match="data_parallel"):
        strategy_for("mirrored")
    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")
    with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
        strategy_for("data_parallel")


JAX_SCRIPT = r"""
import json, sys
import keras
from dlzoo.recipes import load_recipe
from dlzoo.training import run_recipe

recipe = load_recipe(sys.argv[1], overrides=["train.strategy=data_parallel", "train.epochs=2"])
result = run_recipe(recipe, output=sys.argv[2], verbose=0)
dist = keras.distribution.distribution()
print("RESULT " + json.dumps({
    "distribution": type(dist).__name__,
    "devices": len(dist.device_mesh.devices.ravel()),
    "val_accuracy": result.card["metrics"]["val_accuracy"],
}))
"""


@pytest.mark.slow  # ~1-2 min on 2 busy cores; run with -m slow
def test_data_parallel_on_jax_over_two_cpu_devices(tmp_path):
    recipe = tiny_recipe(tmp_path, name="dp", trials=1)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "jax",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    proc = subprocess.run([sys.executable, "-c", JAX_SCRIPT, str(recipe), str(tmp_path / "out")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    result = json.loads(line[len("RESULT "):])
    assert result["distribution"] == "DataParallel" and result["devices"] == 2
    assert "strategy: data_parallel over 2 device(s)" in proc.stdout
    assert result["val_accuracy"] > 0.2
