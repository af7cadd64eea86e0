"""`dlzoo quickstart` on JAX against the TensorFlow install, in one run: fresh processes, each in
an empty folder, interleaved (TF, JAX, JAX, TF, ...), wall and CPU seconds (user + sys of the
child), the epochs each trained (early stopping ends each run; each host's random stream gives
its own, repeatable, count) and the seconds each took per epoch; then the same with
`--epochs 20` on both, the same work whatever the random streams. The TensorFlow side is this
interpreter with `KERAS_BACKEND=tensorflow`; the JAX side is `DLZOO_JAX_PYTHON` (a venv without
TensorFlow, as `pip install dlzoo` makes; default this interpreter) with `KERAS_BACKEND=jax`.
Goal: JAX within 1.2x of TensorFlow.

Every JAX run is a user's first: it gets an empty `JAX_COMPILATION_CACHE_DIR` of its own, so the
persistent compilation cache (`dlzoo.backends.use_compilation_cache`) cannot shorten it with
programs an earlier run compiled.

    DLZOO_JAX_PYTHON=.venv-notf/bin/python python -m benchmarks run quickstart_backends
"""

from __future__ import annotations

import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks._common import load_average


SAME_EPOCHS = 20  # early stopping (patience 10) rarely ends a run before: see `epochs`


def _once(python: str, backend: str, *args: str) -> tuple[float, float, int]:
    """(wall s, CPU s, epochs trained) of one `dlzoo quickstart ARGS` in a fresh folder."""
    env = {**os.environ, "KERAS_BACKEND": backend}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as work:
        env["JAX_COMPILATION_CACHE_DIR"] = os.path.join(work, "jax-cache")  # a first run
        t0 = time.perf_counter()
        out = subprocess.run([python, "-m", "dlzoo", "quickstart", *args], cwd=work, env=env,
                             check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True).stdout
        wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    found = re.search(r"after (\d+) epochs", out)
    return wall, cpu, int(found.group(1)) if found else 0


def _row(name: str, command: str, python: str, values: list) -> dict:
    per_epoch = [v[0] / v[2] for v in values if v[2]]
    return {"backend": name, "command": command, "python": python,
            "wall s (median)": round(statistics.median(v[0] for v in values), 1),
            "CPU s (median)": round(statistics.median(v[1] for v in values), 1),
            "epochs": "/".join(str(v[2]) for v in values),
            "wall s per epoch (median)": round(statistics.median(per_epoch), 2)
            if per_epoch else None,
            "runs (wall/CPU)": ", ".join(f"{w:.0f}/{c:.0f}" for w, c, _ in values)}


def run(quick: bool = False) -> dict:
    jax_python = os.environ.get("DLZOO_JAX_PYTHON", sys.executable)
    sides = {"tensorflow": (sys.executable, "tensorflow"), "jax": (jax_python, "jax")}
    commands = {"dlzoo quickstart": (), f"dlzoo quickstart --epochs {SAME_EPOCHS}":
                ("--epochs", str(SAME_EPOCHS))}
    times: dict = {(c, k): [] for c in commands for k in sides}
    order = list(sides)
    loads = [load_average()[0]]
    for _ in range(1 if quick else 2):
        for command, args in commands.items():
            for name in order:
                times[command, name].append(_once(*sides[name], *args))
                loads.append(load_average()[0])
            order.reverse()
    rows = [_row(name, command, sides[name][0], values)
            for (command, name), values in times.items()]

    def ratio(i: int, key: str) -> float:
        tf_row, jax_row = rows[2 * i], rows[2 * i + 1]
        return jax_row[key] / tf_row[key] if tf_row[key] and jax_row[key] else float("nan")

    return {
        "title": "dlzoo quickstart: JAX host against the TensorFlow install",
        "summary": f"JAX / TensorFlow, `dlzoo quickstart` as shipped: "
                   f"{ratio(0, 'wall s (median)'):.2f}x wall, "
                   f"{ratio(0, 'CPU s (median)'):.2f}x CPU time (goal 1.2x), "
                   f"{ratio(0, 'wall s per epoch (median)'):.2f}x wall per epoch trained; the "
                   f"same {SAME_EPOCHS} epochs on both (`--epochs {SAME_EPOCHS}`): "
                   f"{ratio(1, 'wall s (median)'):.2f}x wall, {ratio(1, 'CPU s (median)'):.2f}x "
                   f"CPU time. Every JAX run is a first run (an empty compilation cache). "
                   f"1-minute load average before and after each run: {' '.join(loads)}.",
        "rows": rows,
    }
