"""Held-out accuracy of the training switches (issue 27) on lenet5-digits: each switch alone
against the recipe as shipped, the same epochs, the same validation split (data.seed 0: 332
held-out digits), three training seeds (initial weights, shuffling, augmentation). One row per
configuration: mean and standard deviation of val_accuracy, and its difference from the recipe
as shipped.

    python -m benchmarks run switches_accuracy     (or --quick: 2 seeds, 6 epochs, 4 switches)
"""

from __future__ import annotations

import statistics
import tempfile
import time

CONFIGS = {
    "as shipped": [],
    "label_smoothing 0.1": ["train.label_smoothing=0.1"],
    "ema 0.99": ["train.ema=0.99"],
    "cosine, 1 warm-up epoch": ["callbacks.lr_schedule={type: cosine, warmup_epochs: 1}"],
    "one_cycle": ["callbacks.lr_schedule=one_cycle"],
    "adamw, weight_decay 0.05": ["train.optimizer=adamw", "train.weight_decay=0.05"],
    "gradient_accumulation 2": ["train.gradient_accumulation=2"],
    "mixup 0.2": ["train.augment={mixup: 0.2}"],
    "cutmix": ["train.augment={cutmix: true}"],
    "erasing 0.25": ["train.augment={erasing: 0.25}"],
    "l2 1e-4": ["train.l2=1e-4"],
    "max_norm 3": ["train.max_norm=3"],
    "rand_augment": ["train.augment={rand_augment: true}"],
}
QUICK = ("as shipped", "label_smoothing 0.1", "ema 0.99", "one_cycle", "mixup 0.2")


def measure(names, *, epochs: int, seeds, log=print) -> list[dict]:
    from dlzoo.recipes import load_recipe
    from dlzoo.training import run_recipe

    rows, base = [], None
    for name in names:
        accs, start = [], time.perf_counter()
        for seed in seeds:
            recipe = load_recipe("lenet5-digits", overrides=[
                f"train.epochs={epochs}", f"train.seed={seed}", *CONFIGS[name]])
            with tempfile.TemporaryDirectory() as out:
                r = run_recipe(recipe, output=out, verbose=0, log=lambda *a: None)
            accs.append(r.card["metrics"]["val_accuracy"])
        mean = statistics.mean(accs)
        base = mean if base is None else base
        row = {"switch": name, "val_accuracy": f"{mean:.4f} ± "
               f"{statistics.stdev(accs) if len(accs) > 1 else 0.0:.4f}",
               "vs shipped": f"{mean - base:+.4f}", "seeds": ", ".join(f"{a:.4f}" for a in accs),
               "seconds": round(time.perf_counter() - start)}
        log(f"{row['switch']:28s} {row['val_accuracy']}  {row['vs shipped']}  ({row['seeds']}; "
            f"{row['seconds']} s)")
        rows.append(row)
    return rows


def run(quick: bool = False) -> dict:
    import keras

    epochs, seeds = (6, (0, 1)) if quick else (12, (0, 1, 2))
    names = QUICK if quick else tuple(CONFIGS)
    rows = measure(names, epochs=epochs, seeds=seeds)
    return {
        "title": "Training switches on lenet5-digits: held-out accuracy",
        "summary": (f"lenet5-digits, {epochs} epochs (early stopping and LR on plateau as the "
                    f"recipe ships them, except where a schedule is the switch), train.seed "
                    f"{', '.join(map(str, seeds))}, {keras.backend.backend()}; val_accuracy on "
                    "the 332 held-out digits, each switch alone."),
        "rows": rows,
    }


if __name__ == "__main__":
    run()
