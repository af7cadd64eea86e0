"""`dlzoo quickstart` on JAX against the TensorFlow install, in one run: fresh processes, each in
an empty folder, interleaved (TF, JAX, JAX, TF, ...), wall and CPU seconds (user + sys of the
child). The TensorFlow side is this interpreter with `KERAS_BACKEND=tensorflow`; the JAX side is
`DLZOO_JAX_PYTHON` (a venv without TensorFlow, as `pip install dlzoo` makes; default this
interpreter) with `KERAS_BACKEND=jax`. Goal: JAX within 1.2x of TensorFlow.

    DLZOO_JAX_PYTHON=.venv-notf/bin/python python -m benchmarks run quickstart_backends
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks._common import load_average


def _once(python: str, backend: str) -> tuple[float, float]:
    env = {**os.environ, "KERAS_BACKEND": backend}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as work:
        t0 = time.perf_counter()
        subprocess.run([python, "-m", "dlzoo", "quickstart"], cwd=work, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def run(quick: bool = False) -> dict:
    jax_python = os.environ.get("DLZOO_JAX_PYTHON", sys.executable)
    sides = {"tensorflow": (sys.executable, "tensorflow"), "jax": (jax_python, "jax")}
    times: dict = {k: [] for k in sides}
    order = list(sides)
    for _ in range(1 if quick else 2):
        for name in order:
            times[name].append(_once(*sides[name]))
        order.reverse()
    rows = []
    for name, values in times.items():
        rows.append({"backend": name, "python": sides[name][0],
                     "wall s (median)": round(statistics.median(v[0] for v in values), 1),
                     "CPU s (median)": round(statistics.median(v[1] for v in values), 1),
                     "runs (wall/CPU)": ", ".join(f"{w:.0f}/{c:.0f}" for w, c in values)})
    wall = rows[1]["wall s (median)"] / rows[0]["wall s (median)"]
    cpu = rows[1]["CPU s (median)"] / rows[0]["CPU s (median)"]
    return {
        "title": "dlzoo quickstart: JAX host against the TensorFlow install",
        "summary": f"JAX / TensorFlow: {wall:.2f}x wall, {cpu:.2f}x CPU time (goal 1.2x). Load "
                   f"average {' '.join(load_average())}.",
        "rows": rows,
    }
