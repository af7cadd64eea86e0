"""How the image-folder pipeline grows: scan plus two epochs, wall time and peak memory, at
1,000 / 4,000 / 16,000 photo-like JPEGs (320x240, read at 160x160), dlzoo.data.image_folder and
keras.utils.image_dataset_from_directory side by side.

Each measurement runs in a fresh process, so its peak resident memory (VmHWM) is its own: the
cost of TensorFlow itself plus the pipeline. The processes alternate dlzoo / Keras at each size;
the OS page cache is warmed by one untimed read of every file first. For dlzoo "setup" is its scan
(every file read once, hashed, checked by its header and decoded into the in-memory cache); for
Keras it is listing the files. The last row runs dlzoo with a small cache budget, so it streams
from disk each epoch instead of caching: the bounded-memory mode a folder larger than a quarter of
the available memory gets by default.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

from benchmarks import _common
from benchmarks._common import load_average, make_photo_folder

SIZES = [1000, 4000, 16000]
QUICK_SIZES = [500, 1000]
STORED = (240, 320)  # height, width on disk
READ = (160, 160)
BATCH = 32
PLOT_NAME = "folder_scale.png"  # in _common.RESULTS_DIR (a test points that elsewhere)

_CHILD = r"""
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
tool, root, budget = sys.argv[1], sys.argv[2], sys.argv[3]
size = (int(sys.argv[4]), int(sys.argv[5]))
import tensorflow as tf, keras
from dlzoo.data import image_folder
import gc, resource
gc.collect()  # the collection TensorFlow's import left due, paid before the clock starts, by both
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
c0 = cpu()
t0 = time.perf_counter()
if tool == "keras":
    ds = keras.utils.image_dataset_from_directory(root, image_size=size, batch_size=32,
                                                   verbose=False).prefetch(tf.data.AUTOTUNE)
else:
    kw = {} if budget == "default" else {"cache_budget": int(budget)}
    ds, _, info = image_folder(root, image_size=size, batch_size=32, validation_split=0,
                               progress=False, **kw)
t1 = time.perf_counter()
times = []
for _ in range(2):
    s = time.perf_counter()
    n = sum(int(y.shape[0]) for _, y in ds)
    times.append(time.perf_counter() - s)
    if len(times) == 1:
        cpu1 = cpu() - c0
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (large) parent process
with open("/proc/self/status") as f:
    rss = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
print(json.dumps({"n": n, "setup": t1 - t0, "epoch1": times[0], "epoch2": times[1], "rss": rss,
                  "cpu1": cpu1}))
"""


def _child(tool: str, root: str, budget: str = "default", size: tuple = READ) -> dict:
    """One measurement in a fresh process: `tool` ("keras" or "dlzoo") reads `root` at `size`;
    {n, setup, epoch1, epoch2 (seconds), cpu1 (CPU seconds of setup + epoch 1), rss (MiB)}."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", _CHILD, tool, root, budget, str(size[0]), str(size[1])],
                         capture_output=True,
                         text=True, env=env, check=True, timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict:
    from dlzoo.data.scan import available_memory

    sizes = QUICK_SIZES if quick else SIZES
    budget = available_memory() // 4
    rows, load_before = [], str(load_average())
    base = tempfile.mkdtemp(prefix="dlzoo-bench-scale-")
    try:
        for n in sizes:
            root = os.path.join(base, str(n))
            make_photo_folder(root, n, STORED)
            for dirpath, _, files in os.walk(root):  # warm the page cache for both
                for f in files:
                    with open(os.path.join(dirpath, f), "rb") as fh:
                        fh.read()
            runs = [("keras", "default"), ("dlzoo", "default")]
            if n == sizes[-1]:
                runs.append(("dlzoo", str(64 << 20)))
            for tool, b in runs:
                got = _child(tool, root, b)
                assert got["n"] == n, (tool, n, got)
                rows.append({
                    "files": n,
                    "pipeline": tool if b == "default" else "dlzoo, cache_budget 64 MiB (streams)",
                    "setup s": got["setup"],
                    "epoch 1 s": got["epoch1"],
                    "epoch 2 s": got["epoch2"],
                    "setup + epoch 1 s": got["setup"] + got["epoch1"],
                    "peak RSS MiB": got["rss"],
                })
            shutil.rmtree(root, ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    load_after = str(load_average())
    _plot(rows)
    by = {(r["files"], r["pipeline"]): r for r in rows}
    ratios = {n: by[(n, "keras")]["setup + epoch 1 s"] / by[(n, "dlzoo")]["setup + epoch 1 s"]
              for n in sizes}
    peak = max(r["peak RSS MiB"] for r in rows if r["pipeline"].startswith("dlzoo"))
    summary = (
        f"{', '.join(map(str, sizes))} JPEGs of 320x240 read at 160x160, batch {BATCH}, each "
        f"measurement in its own process. dlzoo first epoch (scan included) vs Keras's: "
        + ", ".join(f"{ratios[n]:.2f}x at {n}" for n in sizes)
        + f". dlzoo's peak RSS {peak:,.0f} MiB at most, under the default cache budget of "
        f"{budget / 2**20:,.0f} MiB (a quarter of the available memory). Load average "
        f"(1/5/15 min) before {load_before}, after {load_after} on a shared machine."
    )
    return {
        "title": "Image-folder cost growth: scan + two epochs, wall time and peak memory",
        "summary": summary,
        "rows": rows,
        "images": [f"results/{PLOT_NAME}"],
        "budget_mib": budget / 2**20,
        "load": {"before": load_before, "after": load_after},
        "goals_met": {"peak_rss_under_budget": peak * 2**20 < budget},
    }


def _plot(rows) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for name in sorted({r["pipeline"] for r in rows}):
        pts = [r for r in rows if r["pipeline"] == name]
        xs = [r["files"] for r in pts]
        ax1.plot(xs, [r["setup + epoch 1 s"] for r in pts], "o-", label=f"{name}: setup + epoch 1")
        ax1.plot(xs, [r["epoch 2 s"] for r in pts], "x--", label=f"{name}: epoch 2")
        ax2.plot(xs, [r["peak RSS MiB"] for r in pts], "o-", label=name)
    for ax, title in ((ax1, "wall seconds"), (ax2, "peak RSS (MiB)")):
        ax.set_xscale("log")
        ax.set_xlabel("files")
        ax.set_title(title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    plot = _common.RESULTS_DIR / PLOT_NAME
    plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(plot, dpi=90)
    plt.close(fig)
