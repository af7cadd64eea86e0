"""Architecture search: hyperband against random search, and one worker against two.

(a) Epochs to 97%: the `cnn` hypermodel over the search space of `recipes/cnn-digits-tune.yaml`
    (scikit-learn's digits at 16x16, 1,465 training / 332 validation images), searched with
    random search (up to 9 epochs per trial, early stopping patience 3) and hyperband
    (max 9 epochs, factor 3), each with oracle seeds 1, 2, 3. A search stops once a trial reaches
    97% validation accuracy (`search(target=0.97)`). The figure is the number of training epochs
    the whole search spent until the first epoch at which a trial reached 97%: the epochs of every
    trial that ran before it, plus that trial's epochs up to the hit (a hyperband trial continued
    from a lower rung counts only the epochs it adds). A search that never gets there within its
    budget (random: 10 trials; hyperband: one iteration of its brackets, about 45 epochs) counts
    all its epochs, marked ">". (Budgets sized for a full run of ~15-25 minutes on the shared
    2-core machine.)
    Goal: hyperband's median at most half of random's.
(b) Workers: the same 8-trial random search (2 epochs per trial, no retraining) through
    `dlzoo tune --workers 1` and `--workers 2`, wall time from the command's start to its end
    (process start-up included: a chief plus N workers, each importing TensorFlow).
(c) GPU: the same search with KERAS_BACKEND=jax on a GPU host, when one is available.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.97
RECIPE = "cnn-digits-tune"


def epochs_to_target(trials: list[dict], target: float = TARGET) -> tuple[int, bool]:
    """Epochs a sequential search spent until some trial's val_accuracy first reached `target`."""
    spent = 0
    for t in sorted(trials, key=lambda t: int(t["trial_id"])):
        for i, epoch in enumerate(t["history"], start=1):
            if epoch.get("val_accuracy", 0.0) >= target:
                return spent + i, True
        spent += len(t["history"])
    return spent, False


def _search(tuner: str, seed: int, directory: str, quick: bool) -> dict:
    import keras

    from dlzoo.recipes import load_recipe
    from dlzoo.registry import model_info
    from dlzoo.training import load_data
    from dlzoo.tuning.runner import recipe_hypermodel
    from dlzoo.tuning.search import search

    recipe = load_recipe(RECIPE)
    info = model_info(recipe["model"])
    keras.utils.set_random_seed(seed)
    bundle = load_data(recipe, info)
    hypermodel = recipe_hypermodel(recipe, bundle, info)
    t0 = time.perf_counter()
    result = search(
        hypermodel, bundle.train, bundle.val, tuner=tuner, objective="val_accuracy",
        max_trials=6 if quick else 10, epochs=9, early_stopping=3, hyperband_factor=3,
        hyperband_iterations=1, directory=directory,
        project_name=f"{tuner}-{seed}", seed=seed, target=TARGET,
        data_fingerprint=bundle.manifest_hash, verbose=0, log=lambda *a: None,
    )
    spent, reached = epochs_to_target(result.trials)
    return {
        "tuner": tuner, "seed": seed, "epochs_to_97": spent, "reached": reached,
        "trials": len(result.trials), "epochs_total": sum(len(t["history"]) for t in
                                                          result.trials),
        "best_val_accuracy": result.best_score, "seconds": time.perf_counter() - t0,
    }


def _workers_run(workers: int, directory: str, trials: int) -> float:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, "-m", "dlzoo", "tune", RECIPE, "--workers", str(workers), "--quiet",
           "--output", directory, "--tuner", "random", "--max-trials", str(trials),
           "--set", "tune.epochs=2", "--set", "tune.retrain=false"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
    return seconds


def summarize(per: dict, walls: dict, seeds, trials: int):
    """The summary line from the searches and the worker timings (also used to re-render a
    stored result)."""
    walls = {int(k): v for k, v in walls.items()}
    med = {k: statistics.median(r["epochs_to_97"] for r in v) for k, v in per.items()}
    reached = {k: all(r["reached"] for r in v) for k, v in per.items()}
    ratio = med["hyperband"] / med["random"] if med["random"] else None
    per_seed = [h["epochs_to_97"] / r["epochs_to_97"]
                for h, r in zip(per["hyperband"], per["random"])]
    speedup = walls[1] / walls[2]
    mark = {k: "" if reached[k] else ">" for k in med}
    summary = (
        f"(a) Epochs spent until a trial reached {TARGET:.0%} validation accuracy on the digits "
        f"(cnn hypermodel, space of recipes/{RECIPE}.yaml), median over seeds "
        f"{', '.join(map(str, seeds))}: random {mark['random']}{med['random']:g}, hyperband "
        f"{mark['hyperband']}{med['hyperband']:g}"
        + (f" (ratio of the medians {ratio:.2f}; goal <= 0.5: "
           f"{'met' if ratio <= 0.5 else 'not met'})" if ratio else "")
        + f". Seed by seed, hyperband / random is {', '.join(f'{x:.2f}' for x in per_seed)}: "
        "hyperband's rungs of 1 and 3 epochs find a 97% network with few epochs when its first "
        "brackets draw one, while random search's cost depends on how early it draws a good "
        "configuration; with three seeds the spread is wider than the difference."
        f" (b) The same {trials}-trial random search: {walls[1]:.0f} s with 1 worker, "
        f"{walls[2]:.0f} s with 2 ({speedup:.2f}x), on a 2-core machine shared with other jobs "
        "(each worker's TensorFlow already uses both cores), start-up of a chief and the "
        "workers included. (c) GPU: no GPU host was available to this run; the "
        "JAX-on-GPU trials-per-hour comparison was not measured."
    )
    return summary, med, ratio, speedup


def summary_rows(per: dict, walls: dict, seeds, trials: int) -> list[dict]:
    walls = {int(k): v for k, v in walls.items()}
    rows = []
    for k in ("random", "hyperband"):
        reached = all(r["reached"] for r in per[k])
        med = statistics.median(r["epochs_to_97"] for r in per[k])
        rows.append({"measure": f"(a) {k}, median of {len(seeds)} seed(s)",
                     "epochs to 97%": f"{'' if reached else '>'}{med:g}",
                     "trials": "", "best val acc": "", "seconds": ""})
    for n, s in walls.items():
        rows.append({"measure": f"(b) {trials}-trial random search, {n} worker(s)",
                     "epochs to 97%": "", "trials": trials, "best val acc": "",
                     "seconds": round(s, 1)})
    return rows


def run(quick: bool = False) -> dict:
    seeds = (1,) if quick else (1, 2, 3)
    rows, per = [], {"random": [], "hyperband": []}
    with tempfile.TemporaryDirectory(prefix="dlzoo-bench-tuning-") as tmp:
        for seed in seeds:
            for tuner in ("random", "hyperband"):
                r = _search(tuner, seed, tmp, quick)
                per[tuner].append(r)
                rows.append({
                    "measure": f"(a) {tuner}, seed {seed}",
                    "epochs to 97%": f"{'' if r['reached'] else '>'}{r['epochs_to_97']}",
                    "trials": r["trials"],
                    "best val acc": round(r["best_val_accuracy"] or 0.0, 4),
                    "seconds": round(r["seconds"], 1),
                })
        trials = 4 if quick else 8
        walls = {n: _workers_run(n, os.path.join(tmp, f"w{n}"), trials) for n in (1, 2)}
    summary, med, ratio, speedup = summarize(per, walls, seeds, trials)
    rows += summary_rows(per, walls, seeds, trials)
    return {
        "title": "Architecture search: hyperband vs random (epochs to 97% on digits), 1 vs 2 workers",
        "summary": summary,
        "rows": rows,
        "searches": per,
        "median_epochs_to_target": med,
        "hyperband_over_random": ratio,
        "workers_wall_seconds": walls,
        "workers_speedup": speedup,
        "gpu": None,
        "goals_met": {"hyperband<=0.5*random": ratio is not None and ratio <= 0.5},
    }
