"""GPU training throughput: ResNet-50 at 224x224, batch 256, bfloat16 mixed precision, jit-compiled,
synthetic data resident on the device, on `KERAS_BACKEND=jax` (our GPU hosts have JAX, no
TensorFlow). Reports images/s and model-FLOPs utilisation (forward + backward = 24.7 GFLOP per
image, against the device's dense bf16 peak), and the dlzoo builder against keras.applications'
ResNet50 side by side (goal: ratio <= 1.03).

Then a `dlzoo tune` of the shipped recipe cnn-digits-tune (random search, a fixed number of
trials, the recipe's own epochs) in a subprocess on the same device: trials per hour.

Run on a GPU host (installed with `pip install ".[test]"` plus jax[cuda12], no TensorFlow):
    KERAS_BACKEND=jax python -m benchmarks run gpu_throughput
Without a GPU it records that none was available (it does not time a CPU in its place).
"""

from __future__ import annotations

import os
import time

FLOP_PER_IMAGE = 24.7e9  # ResNet-50 training step per 224x224 image (about 3x 4.1 GMAC x 2)
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}  # dense, no sparsity


def _gpu():
    import keras

    if keras.backend.backend() != "jax":
        return None, "set KERAS_BACKEND=jax (the GPU hosts have JAX, not TensorFlow)"
    import jax

    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    if not gpus:
        return None, "no GPU visible to JAX"
    return gpus[0], None


def _throughput(model, batch: int, steps: int) -> float:
    import jax
    import keras
    import numpy as np

    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy", jit_compile=True)
    x = jax.device_put(np.random.default_rng(0).normal(size=(batch, 224, 224, 3)).astype("float32"))
    y = jax.device_put(np.random.default_rng(1).integers(0, 1000, size=(batch,)))
    for _ in range(3):  # compile and warm up
        model.train_on_batch(x, y)
    jax.block_until_ready(model.trainable_variables[0].value)
    t0 = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    jax.block_until_ready(model.trainable_variables[0].value)
    return batch * steps / (time.perf_counter() - t0)


def _tune_rate(trials: int) -> dict:
    """Wall seconds of `dlzoo tune cnn-digits-tune` with `trials` random trials (its retrain of the
    winner included), as trials per hour."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dlzoo", "tune", "cnn-digits-tune", "--tuner", "random",
                        "--max-trials", str(trials), "--output", out, "--quiet"], check=True,
                       env={**os.environ, "KERAS_BACKEND": "jax"})
        seconds = time.perf_counter() - t0
    return {"model": f"dlzoo tune cnn-digits-tune, {trials} random trials + retrain",
            "seconds": seconds, "trials per hour": trials * 3600 / seconds}


def run(quick: bool = False) -> dict:
    import keras

    device, why = _gpu()
    if device is None:
        return {
            "title": "GPU training throughput (ResNet-50, 224 px, bf16, batch 256)",
            "summary": f"Not measured: {why}. No GPU machine was lent to the session that ran "
                       "this; run `KERAS_BACKEND=jax python -m benchmarks run gpu_throughput` on a "
                       "GPU host. Anchors: TensorFlow AMP+XLA on one A100, 2,375 images/s (NVIDIA "
                       "DeepLearningExamples); MLPerf Training v3.0, about 7,000 images/s per H100.",
            "rows": [],
            "measured": False,
        }
    from dlzoo import build

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    batch = 256
    steps = 10 if quick else 50
    kind = next((k for k in PEAK_BF16 if k in device.device_kind), None)
    rows, rates = [], {}
    for rnd in range(1 if quick else 3):  # interleave: dlzoo, keras, dlzoo, keras, ...
        for label, make in (("dlzoo resnet50", lambda: build("resnet50")),
                            ("keras.applications ResNet50",
                             lambda: keras.applications.ResNet50(weights=None))):
            rate = _throughput(make(), batch, steps)
            rates.setdefault(label, []).append(rate)
            keras.backend.clear_session()
    for label, values in rates.items():
        best = max(values)
        row = {"model": label, "images/s (best round)": best,
               "images/s (all rounds)": ", ".join(f"{v:.0f}" for v in values)}
        if kind:
            row["MFU"] = best * FLOP_PER_IMAGE / PEAK_BF16[kind]
        rows.append(row)
    ratio = max(rates["keras.applications ResNet50"]) / max(rates["dlzoo resnet50"])
    tune = _tune_rate(3 if quick else 12)
    rows.append(tune)
    return {
        "title": "GPU training throughput (ResNet-50, 224 px, bf16, batch 256)",
        "summary": f"{device.device_kind}: dlzoo resnet50 {max(rates['dlzoo resnet50']):.0f} "
                   f"images/s (goal >= 5,000 on one H100); keras.applications / dlzoo time ratio "
                   f"{ratio:.3f} (goal <= 1.03); `dlzoo tune` {tune['trials per hour']:.0f} trials/hour. "
                   f"JAX {__import__('jax').__version__}, "
                   f"KERAS_BACKEND={os.environ.get('KERAS_BACKEND')}.",
        "rows": rows,
        "measured": True,
        "device": device.device_kind,
    }
