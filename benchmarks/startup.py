"""Start-up: `dlzoo --help`, `--version`, `list`, `info`, `datasets list`, each timed as a whole
process (wall seconds, `python -m dlzoo ...`), median of interleaved rounds. Goal: each under 2 s.

With `DLZOO_BASELINE_REPO=/path/to/an/older/checkout` the same commands also run with that
checkout first on PYTHONPATH, interleaved pair by pair with this one, and the table gains the
baseline's median and the speed-up (baseline / this, median of the pairs). With
`DLZOO_STARTUP_ALSO=/path/to/another/python` (e.g. a venv without TensorFlow, where Keras would
run on JAX) every command is timed under that interpreter too.

    DLZOO_BASELINE_REPO=/work/main DLZOO_STARTUP_ALSO=/venv-notf/bin/python \
        python -m benchmarks run startup
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from benchmarks._common import HERE, paired_ratio

COMMANDS = (["--help"], ["--version"], ["list"], ["info", "resnet50"], ["datasets", "list"])
GOAL_S = 2.0


def _host(python: str) -> str:
    probe = "import importlib.util as u; print(u.find_spec('tensorflow') is not None)"
    has_tf = subprocess.run([python, "-c", probe], check=True, capture_output=True,
                            text=True).stdout.strip() == "True"
    return "TensorFlow installed" if has_tf else "no TensorFlow (JAX)"


def _timer(repo: str, argv: list, python: str = sys.executable):
    env = dict(os.environ, PYTHONPATH=repo, TF_CPP_MIN_LOG_LEVEL="2")
    if _host(python).startswith("no"):
        env["KERAS_BACKEND"] = "jax"
    # `python -m` puts the working folder first on sys.path: run in the checkout being timed
    where = subprocess.run([python, "-c", "import dlzoo; print(dlzoo.__file__)"], env=env,
                           cwd=repo, check=True, capture_output=True, text=True).stdout.strip()
    if not os.path.realpath(where).startswith(os.path.realpath(repo) + os.sep):
        raise RuntimeError(f"{repo}: python imports dlzoo from {where} instead")

    def once() -> float:
        t0 = time.perf_counter()
        subprocess.run([python, "-m", "dlzoo", *argv], env=env, cwd=repo, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - t0

    return once


def run(quick: bool = False) -> dict:
    rounds = 3 if quick else 5
    here = str(HERE.parent)
    base = os.environ.get("DLZOO_BASELINE_REPO")
    rows = []
    pythons = [sys.executable] + [p for p in os.environ.get("DLZOO_STARTUP_ALSO", "").split(",") if p]
    for python in pythons:
        host = _host(python)
        for argv in COMMANDS:
            fns = {"this": _timer(here, argv, python)}
            if base:
                fns["baseline"] = _timer(base, argv, python)
            for fn in fns.values():  # warm-up: the file cache, .pyc files
                fn()
            times = {k: [] for k in fns}
            for _ in range(rounds):
                for k, fn in fns.items():
                    times[k].append(fn())
            row = {"host": host, "command": "dlzoo " + " ".join(argv),
                   "seconds (median)": statistics.median(times["this"]),
                   "range": f"{min(times['this']):.2f}-{max(times['this']):.2f}",
                   "under 2 s": "yes" if statistics.median(times["this"]) < GOAL_S else "no"}
            if base:
                row["baseline seconds (median)"] = statistics.median(times["baseline"])
                row["speed-up (median of pairs)"] = paired_ratio(times["baseline"],
                                                                 times["this"])["median"]
            rows.append(row)
    worst = max(rows, key=lambda r: r["seconds (median)"])
    summary = (f"Whole-process wall time, median of {rounds} interleaved rounds after a warm-up. "
               f"Slowest: `{worst['command']}` ({worst['host']}) at {worst['seconds (median)']:.2f} s "
               f"(goal < {GOAL_S} s). "
               f"Load average at the start: {os.getloadavg()[0]:.2f}.")
    if base:
        summary += f" Baseline: the checkout at {base}, timed pair by pair with this one."
    if len(pythons) > 1:
        summary += f" Interpreters: {', '.join(pythons)} (KERAS_BACKEND=jax where TensorFlow is absent)."
    return {"title": "Start-up of the CLI's light commands (whole processes)", "summary": summary,
            "rows": rows, "backend": os.environ.get("KERAS_BACKEND", "tensorflow (default)")}
