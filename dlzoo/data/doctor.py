"""`dlzoo doctor DIR`: what is wrong with an image folder before a model ever sees it.

The report holds counts per class (train/validation under the same stratified split `image_folder`
uses; a class with no training or no validation image is a problem), class imbalance, every skipped file with its reason, exact duplicates (same bytes) and in
particular duplicates that sit on both sides of the split (validation leaks into training) or under
two classes (contradicting labels), and the spread of image sizes and colour modes.
"""

from __future__ import annotations

import statistics

from dlzoo.data.folders import ScanReport, scan_folder, split_sides

__all__ = ["diagnose_folder", "report_dict"]

IMBALANCE_WARN = 3.0  # largest / smallest class above this is flagged


def report_dict(report: ScanReport, *, validation_split: float = 0.2, seed: int = 0) -> dict:
    """The doctor's findings as a JSON-able dict."""
    side = split_sides([(r.path, r.label) for r in report.records], validation_split, seed)
    classes = {}
    for c in report.class_folders:
        classes[c] = {"train": 0, "val": 0}
    for r in report.records:
        classes[r.label][side[r.path]] += 1
    counts = {c: v["train"] + v["val"] for c, v in classes.items()}
    usable = [n for n in counts.values() if n > 0]
    imbalance = (max(usable) / min(usable)) if usable else None
    groups = []
    for g in report.duplicates():
        sides = sorted({side[r.path] for r in g})
        labels = sorted({r.label for r in g})
        groups.append({
            "sha256": g[0].sha256,
            "files": [r.path for r in g],
            "across_splits": len(sides) > 1,
            "across_classes": len(labels) > 1,
        })
    heights = [r.height for r in report.records]
    widths = [r.width for r in report.records]
    problems, blocking = [], False
    if len(report.class_names) < 2:
        problems.append("fewer than two classes have usable images: nothing to train on")
        blocking = True
    for c, v in classes.items():
        if counts[c] and not v["train"]:
            problems.append(f"class {c!r} has no training image")
            blocking = True
        elif counts[c] and validation_split > 0 and not v["val"]:
            problems.append(f"class {c!r} has no validation image ({counts[c]} usable file(s)): "
                            "its validation accuracy cannot be measured")
    return {
        "root": report.root,
        "validation_split": validation_split,
        "seed": seed,
        "usable": len(report.records),
        "classes": {c: {**v, "total": counts[c]} for c, v in classes.items()},
        "empty_classes": report.empty_classes,
        "imbalance": imbalance,
        "imbalanced": bool(imbalance and imbalance > IMBALANCE_WARN),
        "skipped": [{"file": f, "reason": why} for f, why in report.skipped],
        "duplicates": groups,
        "duplicates_across_splits": sum(g["across_splits"] for g in groups),
        "duplicates_across_classes": sum(g["across_classes"] for g in groups),
        "image_sizes": _spread(heights, widths),
        "decoded_by_pillow": [r.path for r in report.records if r.decoder == "pillow"],
        "manifest_hash": report.manifest_hash,
        # a class with no validation image is a problem to fix, but training can still run
        "usable_for_training": not blocking,
        "problems": problems,
    }


def _spread(heights, widths) -> dict:
    if not heights:
        return {}
    return {
        "height": {"min": min(heights), "median": statistics.median(heights), "max": max(heights)},
        "width": {"min": min(widths), "median": statistics.median(widths), "max": max(widths)},
    }


def diagnose_folder(path, *, validation_split: float = 0.2, seed: int = 0, workers=None,
                    progress: bool = True) -> dict:
    """Scans `path` and returns `report_dict` of it."""
    report = scan_folder(path, workers=workers, progress=progress)
    return report_dict(report, validation_split=validation_split, seed=seed)
