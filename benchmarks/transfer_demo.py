"""The transfer demonstration (dlzoo.commands.transfer_demo): LeNet-5 pre-trained on digits 0-4, then six
policies on k = 2, 5, 10, 25 labelled images per class of digits 5-9, measured on every other 5-9
image over four seeds. Ships the pre-trained model with the figures in its card and the curves
(saved_models/lenet5-digits04/, transfer_curves.png: RESULTS.md shows that copy, none is kept here);
a quick run writes its curves to benchmarks/results/transfer_curves_quick.png."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from benchmarks import _common

ROOT = Path(__file__).resolve().parents[1]


def run(quick: bool = False) -> dict:
    from dlzoo.commands.transfer_demo import POLICIES, QUICK_POLICIES, run_demo

    work = Path(tempfile.mkdtemp(prefix="dlzoo-transfer-demo-"))
    try:
        r = run_demo(work, ks=(2, 10) if quick else (2, 5, 10, 25),
                     seeds=(0, 1) if quick else (0, 1, 2, 3),
                     policies=QUICK_POLICIES if quick else POLICIES)
        if quick:
            png = _common.RESULTS_DIR / "transfer_curves_quick.png"  # a test points it elsewhere
            png.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(r["plot"], png)
            image = "results/" + png.name
        else:
            shipped = ROOT / "saved_models" / "lenet5-digits04"
            if shipped.exists():
                shutil.rmtree(shipped)
            shutil.copytree(r["saved_dir"], shipped)
            image = "../saved_models/lenet5-digits04/transfer_curves.png"  # the card's own copy
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ks = r["ks"]
    rows = []
    for p, v in r["policies"].items():
        row = {"policy": p}
        row.update({f"k={k}": f"{m:.3f} ± {s:.3f}" for k, m, s in zip(ks, v["mean"], v["std"])})
        rows.append(row)
    pol = r["policies"]
    best_scratch = "scratch + augment" if "scratch + augment" in pol else "scratch"
    best_pre = "pretrained + augment"
    gap = [round(a - b, 3) for a, b in zip(pol[best_pre]["mean"], pol[best_scratch]["mean"])]
    summary = (
        f"Accuracy on the held-out 5-9 digits ({r['test_images'][0]}-{r['test_images'][-1]} "
        f"images) against k labelled images per class, mean ± std over {len(r['seeds'])} seeds, "
        f"{r['budget_epochs']} full-batch epochs per policy. {best_pre} minus {best_scratch}: "
        + ", ".join(f"k={k}: {g:+.3f}" for k, g in zip(ks, gap)) + "."
    )
    if "first try (head 60 @1e-3, all 30 @1e-4)" in pol and "scratch" in pol:
        first = pol["first try (head 60 @1e-3, all 30 @1e-4)"]["mean"]
        summary += (" The first try (frozen head phase, then a tenth of the rate) stays behind "
                    "plain scratch: " + ", ".join(f"k={k}: {a:.3f} vs {b:.3f}" for k, a, b in
                                                  zip(ks, first, pol["scratch"]["mean"])) + ".")
    return {
        "title": "Transfer demonstration: pretrained (digits 0-4) vs scratch on few 5-9 digits",
        "summary": summary,
        "rows": rows,
        "images": [image],
        "raw": {k: v for k, v in r.items() if k not in ("saved_dir", "plot")},
    }
