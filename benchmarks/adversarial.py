"""Adversarial training on the digits: accuracy under FGSM with and without it, and the clean
accuracy each costs (Goodfellow et al. 2015). LeNet-5 from the `lenet5-digits` recipe, trained
twice with the same seed: as shipped, and with `train.adversarial: {epsilon: 0.1, ratio: 0.5}`;
both attacked with FGSM on the same 332 validation digits. Epsilon is a fraction of the input
range [0, 255]."""

from __future__ import annotations

import tempfile

EPSILONS = [0.0, 0.01, 0.03, 0.1]
ADVERSARIAL = "{method: fgsm, epsilon: 0.1, ratio: 0.5}"


def run(quick: bool = False) -> dict:
    import numpy as np

    from dlzoo.recipes import load_recipe
    from dlzoo.robustness import accuracy_under_attack
    from dlzoo.training import run_recipe

    epochs = 8 if quick else 60
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, extra in (("standard", []), ("adversarial", [f"train.adversarial={ADVERSARIAL}"])):
            recipe = load_recipe("lenet5-digits", overrides=[f"train.epochs={epochs}", *extra])
            r = run_recipe(recipe, output=f"{tmp}/{label}", verbose=0, log=lambda *a: None)
            from dlzoo.data.datasets import load

            bundle = load("digits", image_size=(32, 32), color_mode="grayscale", batch_size=256)
            xs, ys = zip(*[(np.asarray(x), np.asarray(y)) for x, y in bundle.val])
            x, y = np.concatenate(xs), np.concatenate(ys)
            rows = accuracy_under_attack(r.model, x, y, EPSILONS, value_range=(0, 255))
            results[label] = {"rows": rows, "epochs_run": r.epochs_run, "seconds": r.seconds}
    table = []
    for label, res in results.items():
        row = {"training": label, "epochs run": res["epochs_run"],
               "train seconds": round(res["seconds"], 1)}
        for r in res["rows"]:
            row[f"acc @ eps {r['epsilon']:g}"] = round(r["accuracy"], 4)
        table.append(row)
    std, adv = (results[k]["rows"] for k in ("standard", "adversarial"))
    summary = (
        f"Under FGSM at epsilon 0.1, adversarial training lifts validation accuracy from "
        f"{std[-1]['accuracy']:.3f} to {adv[-1]['accuracy']:.3f}; clean accuracy goes from "
        f"{std[0]['accuracy']:.3f} to {adv[0]['accuracy']:.3f}. LeNet-5 on the 332 validation "
        f"digits, recipe lenet5-digits (seed 0, up to {epochs} epochs with early stopping), "
        f"adversarial run with train.adversarial={ADVERSARIAL}."
    )
    return {"title": "Adversarial training on the digits (FGSM)", "summary": summary,
            "rows": table, "seed": 0, "epsilons": EPSILONS}
