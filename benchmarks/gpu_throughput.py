"""GPU figures in one call, on `KERAS_BACKEND=jax` (our GPU hosts have JAX, no TensorFlow):

1. ResNet-50 training at 224x224, bfloat16 mixed precision, jit-compiled, synthetic data resident
   on the device: images/s and model-FLOPs utilisation (forward + backward = 24.7 GFLOP per image,
   against the device's dense bf16 peak), dlzoo's builder against keras.applications' ResNet50 in
   the same process, interleaved; each as Keras's `train_on_batch` loop and as `fit` over a
   device-resident batch (what `dlzoo train` runs), at batch 256.
2. `dlzoo quickstart` wall time (fresh process, the digits folder and the LeNet-5 recipe).
3. `dlzoo finetune` on 2,000 generated photo-like JPEGs (resnet50, 1 + 3 epochs, batch 64,
   `--precision auto`) end to end, with the GPU's utilisation sampled every 0.2 s (NVML).
4. `dlzoo tune cnn-digits-tune` (random search, a fixed number of trials plus the retrain):
   trials per hour.

Each part runs under a time limit of its own and its figures are written as soon as it ends
(`DLZOO_BENCH_PARTIAL`, a JSON file, when set), so a call stopped early still returns what it
measured. The whole run is sized for one call of at most 8 minutes on an H100/H200.

Run on a GPU host (installed with `pip install ".[test]"` plus jax[cuda], no TensorFlow):
    KERAS_BACKEND=jax python -m benchmarks run gpu_throughput
Without a GPU it records that none was available (it does not time a CPU in its place);
`DLZOO_GPU_BENCH_DRY_RUN=1` runs every part on the CPU at toy sizes, to check the script.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time

FLOP_PER_IMAGE = 24.7e9  # ResNet-50 training step per 224x224 image (about 3x 4.1 GMAC x 2)
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}  # dense, no sparsity
TITLE = "GPU figures (ResNet-50 bf16 training, quickstart, finetune, tune)"


def _dry_run() -> bool:
    return os.environ.get("DLZOO_GPU_BENCH_DRY_RUN", "") not in ("", "0")


def _gpu():
    import keras

    if keras.backend.backend() != "jax":
        return None, "set KERAS_BACKEND=jax (the GPU hosts have JAX, not TensorFlow)"
    import jax

    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    if not gpus:
        if _dry_run():
            return jax.devices()[0], None
        return None, "no GPU visible to JAX"
    return gpus[0], None


def _partial(results: dict) -> None:
    path = os.environ.get("DLZOO_BENCH_PARTIAL")
    if path:
        with open(path, "w") as f:
            json.dump(results, f, indent=1, default=str)


# --- 1. ResNet-50 ---------------------------------------------------------------------------------


def _throughput(make, batch: int, steps: int, size: int) -> dict:
    """Images/s of `make()` compiled for training, as a `train_on_batch` loop and as `fit` over
    one device-resident batch repeated (a PyDataset of `steps` batches)."""
    import jax
    import keras
    import numpy as np

    from dlzoo.precision import float32_outputs, precision_scope

    with precision_scope("bfloat16"):
        model = float32_outputs(make())
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    assert model.jit_compile, "the step must be jitted"
    rng = np.random.default_rng(0)
    x = jax.device_put(rng.uniform(0, 255, (batch, size, size, 3)).astype("float32"))
    y = jax.device_put(rng.integers(0, 1000, size=(batch,)).astype("int32"))
    t0 = time.perf_counter()
    model.train_on_batch(x, y)
    compile_s = time.perf_counter() - t0
    for _ in range(2):
        model.train_on_batch(x, y)
    t0 = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    jax.block_until_ready(model.trainable_variables[0].value)
    loop = batch * steps / (time.perf_counter() - t0)

    class Same(keras.utils.PyDataset):
        def __len__(self):
            return steps

        def __getitem__(self, i):
            return x, y

    model.fit(Same(), epochs=1, verbose=0)  # the fit step's own compile
    t0 = time.perf_counter()
    model.fit(Same(), epochs=1, verbose=0)
    jax.block_until_ready(model.trainable_variables[0].value)
    fitted = batch * steps / (time.perf_counter() - t0)
    return {"train_on_batch": loop, "fit": fitted, "compile_s": compile_s}


def _resnet(results: dict, device, quick: bool) -> None:
    import keras

    from dlzoo import build

    batch, size = (256, 224) if not _dry_run() else (4, 64)
    steps = 10 if quick or _dry_run() else 40
    kind = next((k for k in PEAK_BF16 if k in device.device_kind), None)
    makers = {"dlzoo resnet50": lambda: build("resnet50", input_shape=(size, size, 3)),
              "keras.applications ResNet50": lambda: keras.applications.ResNet50(
                  weights=None, input_shape=(size, size, 3))}
    rates: dict = {}
    rounds = int(os.environ.get("DLZOO_GPU_BENCH_ROUNDS", "1"))  # each model compiles twice a round
    for _ in range(1 if quick or _dry_run() else rounds):  # interleaved: dlzoo, keras, dlzoo, ...
        for label, make in makers.items():
            rates.setdefault(label, []).append(_throughput(make, batch, steps, size))
            keras.backend.clear_session()
            results["resnet50"] = _resnet_rows(rates, kind, batch)
            _partial(results)


def _resnet_rows(rates: dict, kind, batch: int) -> list:
    rows = []
    for label, runs in rates.items():
        for how in ("train_on_batch", "fit"):
            best = max(r[how] for r in runs)
            row = {"model": f"{label}, {how}, batch {batch}", "images/s (best round)": best,
                   "images/s (all rounds)": ", ".join(f"{r[how]:.0f}" for r in runs),
                   "compile s": round(runs[0]["compile_s"], 1)}
            if kind:
                row["MFU"] = round(best * FLOP_PER_IMAGE / PEAK_BF16[kind], 3)
            rows.append(row)
    return rows


# --- 2-4. the commands users run ------------------------------------------------------------------


def _dlzoo(args, cwd, timeout: float) -> dict:
    """Runs `python -m dlzoo ARGS` in `cwd`; wall seconds, exit status, the output's tail."""
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                    env.get("PYTHONPATH")) if p)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "dlzoo", *args], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=timeout)
        status, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as e:
        status = f"stopped at {timeout:.0f} s"
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (
            e.stdout or "")
    return {"seconds": round(time.perf_counter() - t0, 1), "status": status,
            "tail": out[-1500:]}


class _Utilisation:
    """Samples the first GPU's utilisation (NVML, `nvidia-ml-py`) every `every` seconds."""

    def __init__(self, every: float = 0.2):
        self.every, self.samples, self._stop = every, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        except Exception:  # no NVML (a CPU dry run): no samples
            return
        while not self._stop.is_set():
            self.samples.append(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            time.sleep(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=2)

    def summary(self) -> dict:
        s = self.samples
        if not s:
            return {"gpu_util_mean_%": None, "samples": 0}
        busy = sum(1 for v in s if v >= 50) / len(s)
        return {"gpu_util_mean_%": round(sum(s) / len(s), 1), "gpu_busy_share": round(busy, 3),
                "samples": len(s)}


def _commands(results: dict, quick: bool) -> None:
    from benchmarks._common import make_photo_folder

    dry = _dry_run() or quick
    with tempfile.TemporaryDirectory() as work:
        results["quickstart"] = _dlzoo(["quickstart"], work, timeout=60 if dry else 90)
        _partial(results)
        photos = os.path.join(work, "photos")
        n = 64 if dry else 2000
        t0 = time.perf_counter()
        make_photo_folder(photos, n, size=(256, 256))
        made = time.perf_counter() - t0
        model = ["--model", "lenet5", "--image-size", "32"] if _dry_run() else [
            "--model", "resnet50"]
        with _Utilisation() as util:
            run = _dlzoo(["finetune", photos, *model, "--head-epochs", "1", "--epochs",
                          "1" if dry else "3", "--batch-size", "64", "--cache-dir", "",
                          "--precision", "auto", "--out", os.path.join(work, "ft"), "--quiet"],
                         work, timeout=90 if dry else 170)
        results["finetune"] = {**run, **util.summary(), "images": n,
                               "seconds_to_write_jpegs": round(made, 1)}
        _partial(results)
        trials = 2 if dry else 4
        run = _dlzoo(["tune", "cnn-digits-tune", "--tuner", "random", "--max-trials",
                      str(trials), "--output", os.path.join(work, "tuned"), "--quiet"], work,
                     timeout=60 if dry else 90)
        run["trials"] = trials
        if run["status"] == 0:
            run["trials per hour"] = round(trials * 3600 / run["seconds"])
        results["tune"] = run
        _partial(results)


def run(quick: bool = False) -> dict:
    device, why = _gpu()
    if device is None:
        return {
            "title": TITLE,
            "summary": f"Not measured: {why}. No GPU machine was lent to the session that ran "
                       "this; run `KERAS_BACKEND=jax python -m benchmarks run gpu_throughput` on a "
                       "GPU host. Anchors: TensorFlow AMP+XLA on one A100, 2,375 images/s (NVIDIA "
                       "DeepLearningExamples); MLPerf Training v3.0, about 7,000 images/s per H100.",
            "rows": [],
            "measured": False,
        }
    import jax

    results: dict = {"device": device.device_kind}
    errors = {}
    for part, fn in (("resnet50", lambda: _resnet(results, device, quick)),
                     ("commands", lambda: _commands(results, quick))):
        try:
            fn()
        except Exception as e:  # keep what the other parts measure
            errors[part] = f"{type(e).__name__}: {str(e)[:500]}"
            results["errors"] = errors
            _partial(results)
    rows = list(results.get("resnet50", []))
    for name in ("quickstart", "finetune", "tune"):
        if name in results:
            rows.append({"model": f"dlzoo {name}",
                         **{k: v for k, v in results[name].items() if k != "tail"}})
    best = {r["model"].split(",")[0]: r["images/s (best round)"] for r in rows
            if "images/s (best round)" in r and ", fit," in r["model"]}
    summary = (f"{device.device_kind}: ResNet-50 bf16 fit at batch 256: "
               + ", ".join(f"{k} {v:.0f} images/s" for k, v in best.items())
               + f"; quickstart {results.get('quickstart', {}).get('seconds')} s; finetune "
                 f"{results.get('finetune', {}).get('seconds')} s; tune "
                 f"{results.get('tune', {}).get('trials per hour')} trials/hour. JAX "
                 f"{jax.__version__}.")
    return {"title": TITLE, "summary": summary, "rows": rows, "measured": True,
            "device": device.device_kind, "details": results, "errors": errors or None}
