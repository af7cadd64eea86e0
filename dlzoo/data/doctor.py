"""`dlzoo doctor DIR` (or a label file): what is wrong with an image folder before a model sees it.

The report holds counts per class (train/validation under the same stratified split `image_folder`
uses; a class with no training or no validation image is a problem), class imbalance, every skipped file with its reason, exact duplicates (same bytes) and in
particular duplicates that sit on both sides of the split (validation leaks into training) or under
two classes (contradicting labels), and the spread of image sizes and colour modes.
"""

from __future__ import annotations

import os
import statistics

from dlzoo.augmentation import augmentation_layers
from dlzoo.data.datasets import load as load_data
from dlzoo.data.folders import ScanReport, scan_folder, split_sides
from dlzoo.data.images import color_mode_for
from dlzoo.data.labelfile import csv_source
from dlzoo.registry import model_info
from dlzoo.saving import is_saved_model, read_card
from dlzoo.saving import load as load_model

__all__ = ["diagnose_folder", "report_dict", "show_batch", "training_batch"]

IMBALANCE_WARN = 3.0  # largest / smallest class above this is flagged


def report_dict(report: ScanReport, *, validation_split: float = 0.2, seed: int = 0) -> dict:
    """The doctor's findings as a JSON-able dict."""
    # the split image_folder makes (a multi-label file stratified by its rarest label)
    side = split_sides([(r.path, key) for r, key in zip(report.records, report.split_keys())],
                       validation_split, seed)
    classes = {}
    for c in report.class_folders:
        classes[c] = {"train": 0, "val": 0}
    for r in report.records:
        for label in report.labels_of(r):  # a multi-label file counts under each of its labels
            classes[label][side[r.path]] += 1
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
        **({"labels_file": report.labels_file, "multi_label": report.multi_label}
           if report.labels_file else {}),
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
                    progress: bool = True, labels=None) -> dict:
    """Scans `path` and returns `report_dict` of it; with `labels` (a label file, CSV of
    file,label rows) the files it lists relative to `path` (None: the CSV's folder)."""
    report = scan_folder(path, workers=workers, progress=progress, labels=labels)
    return report_dict(report, validation_split=validation_split, seed=seed)


# --- `dlzoo doctor DIR --show-batch`: the training images as the model receives them ------------


def _batch_settings(model, image_size, color_mode, augment):
    """`(image size, colour mode, augmentation layers, what they come from)`: from a saved model
    (its card's input and the augmentation layers inside it), a registry name (its default
    input), or the arguments; explicit arguments win."""
    layers, where, shape = [], "the arguments", None
    if model is not None:
        if is_saved_model(model):
            shape = read_card(model)["input_shape"]
            import keras

            from dlzoo.layers.preprocessing import Preprocess

            for layer in load_model(model, compile=False).layers:  # the wrapper's augmentation
                if isinstance(layer, Preprocess):
                    break
                if not isinstance(layer, keras.layers.InputLayer):
                    layers.append(layer)
            where = f"saved model {os.path.basename(os.path.normpath(model))}"
        else:
            shape = model_info(model).default_input_shape
            where = f"{model}'s default input"
    if shape is not None and len(shape) == 3:
        image_size = image_size or tuple(shape[:2])
        color_mode = color_mode or color_mode_for(shape[2])
    if augment:
        layers = augmentation_layers(augment)
    return tuple(image_size or (224, 224)), color_mode or "rgb", layers, where


def training_batch(path, *, model=None, image_size=None, color_mode=None, augment=False,
                   count: int = 16, validation_split: float = 0.2, seed: int = 0, labels=None):
    """The first training batch of a folder exactly as a model receives it: scanned, decoded,
    resized and colour-converted by the data pipeline (`dlzoo.data.datasets.load`), then through
    the augmentation layers in training mode; before the model's preprocessing.

    Args:
        path: a folder of class subfolders.
        model: a saved model folder (its input size, colour mode and its own augmentation
            layers) or a registry name (its default input); optional.
        image_size: (height, width); default the model's, else 224 x 224 (as folders load).
        color_mode: "rgb", "grayscale" or "rgba"; default the model's, else "rgb".
        augment: False, True (`dlzoo.augmentation.DEFAULT_AUGMENT`) or a spec dict; replaces a
            saved model's own augmentation.
        count: batch size (1..256); the batch is shuffled as training shuffles.
        validation_split, seed: as training splits the folder.
        labels: a label file (CSV) labelling the images under `path` instead of subfolders.

    Returns:
        `(images float32 (count, H, W, C) in [0, 255], labels (count,) (multi-label data:
        multi-hot rows), class names, settings)`,
        settings `{"image_size", "color_mode", "augmentation" (layer names), "from"}`.
    """
    import keras

    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 256:
        raise ValueError(f"count must be an integer in 1..256; received {count!r}")
    image_size, color_mode, layers, where = _batch_settings(model, image_size, color_mode,
                                                            augment)
    source = f"folder:{path}" if labels is None else csv_source(labels, path)
    bundle = load_data(source, image_size=image_size, color_mode=color_mode,
                  batch_size=count, validation_split=validation_split, seed=seed, progress=False)
    train = bundle.train
    x, y = next(iter(train.as_numpy_iterator() if hasattr(train, "as_numpy_iterator") else train))
    for layer in layers:
        x = layer(x, training=True)
    settings = {"image_size": list(image_size), "color_mode": color_mode,
                "augmentation": [layer.name for layer in layers], "from": where}
    return keras.ops.convert_to_numpy(x), y, list(bundle.class_names), settings


def show_batch(path, out, **options) -> dict:
    """Draws `training_batch(path, **options)` (16 images by default) as a grid titled by class;
    returns its settings with `png` and `images` (how many)."""
    import numpy as np
    from matplotlib.figure import Figure

    x, y, classes, settings = training_batch(path, **options)
    n = len(x)
    cols = min(n, 8)
    rows = -(-n // cols)
    fig = Figure(figsize=(cols * 1.3 + 0.2, rows * 1.45 + 0.5))
    for i in range(n):
        ax = fig.add_subplot(rows, cols, i + 1)
        img = np.clip(x[i], 0, 255).astype("uint8")
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img[..., :3],
                  cmap="gray" if img.shape[-1] == 1 else None, vmin=0, vmax=255,
                  interpolation="nearest")
        names = ([classes[j] for j in np.flatnonzero(y[i])] if np.ndim(y[i])  # multi-label
                 else [classes[int(y[i])]])
        ax.set_title("|".join(map(str, names)) or "(none)", fontsize=7)
        ax.axis("off")
    h, w = settings["image_size"]
    aug = ", ".join(settings["augmentation"]) or "no augmentation"
    fig.suptitle(f"{n} training images at {h}x{w} {settings['color_mode']}, {aug} "
                 f"({settings['from']})", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    return {**settings, "png": str(out), "images": n}
