"""The plots a run and an evaluation leave beside a model: training curves (curves.png) and the
confusion matrix (confusion_matrix.png).

    >>> from dlzoo.plots import plot_history, read_history
    >>> plot_history(read_history("saved_models/lenet5-digits/history.csv"), "curves.png")

matplotlib's object API (`Figure`, no pyplot figure): renders with Agg and leaves the caller's
matplotlib state alone. The confusion matrix is drawn by scikit-learn's `ConfusionMatrixDisplay`.
"""

from __future__ import annotations

import csv
import os

import numpy as np

__all__ = ["phase_marks", "plot_confusion_matrix", "plot_history", "read_history"]


def plot_confusion_matrix(confusion, class_names, path, title: str | None = None) -> str:
    """Draws the confusion matrix (rows: true class, columns: predicted) with counts; returns path.

    Drawn by scikit-learn's `ConfusionMatrixDisplay` on a matplotlib `Figure` (no pyplot state);
    counts are written in the cells up to 30 classes, and long class names are slanted.
    """
    from matplotlib.figure import Figure
    from sklearn.metrics import ConfusionMatrixDisplay

    cm = np.asarray(confusion)
    n = cm.shape[0]
    labels = [str(c) for c in class_names]
    size = min(14.0, 2.5 + 0.45 * n)
    fig = Figure(figsize=(size, size * 0.9))
    ax = fig.add_subplot()
    slanted = max(map(len, labels), default=0) > 3
    shown = ConfusionMatrixDisplay(cm, display_labels=labels).plot(
        ax=ax, cmap="Blues", include_values=n <= 30, values_format="d", colorbar=False,
        xticks_rotation=45 if slanted else "horizontal", text_kw={"fontsize": 8},
        im_kw={"vmin": 0},  # white means none, whatever the smallest count
    )
    # scikit-learn's own colorbar is taller than a square matrix; this one matches its height.
    fig.colorbar(shown.im_, ax=ax, fraction=0.046, pad=0.04)
    if slanted:
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix")
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=110)
    return os.fspath(path)


def read_history(path) -> dict:
    """Reads a Keras `CSVLogger` file into `{column: [values]}` (numbers as floats)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    out: dict = {}
    for row in rows:
        for key, value in row.items():
            try:
                out.setdefault(key, []).append(float(value))
            except (TypeError, ValueError):
                out.setdefault(key, []).append(value)
    return out


def phase_marks(card: dict) -> dict:
    """`{first epoch (1-based): label}` of each phase after the first in a run's card (a
    fine-tune's phase 2 starts after phase 1's epochs), for `plot_history(marks=...)`."""
    training = (card or {}).get("training") or {}
    first = (training.get("phase1") or {}).get("epochs_run") if isinstance(training, dict) else None
    second = (training.get("phase2") or {}).get("epochs_run") if isinstance(training, dict) else None
    if isinstance(first, int) and isinstance(second, int) and first > 0 and second > 0:
        return {first + 1: "phase 2: unfrozen"}
    return {}


def plot_history(history: dict, path, title: str | None = None, marks: dict | None = None) -> str:
    """Draws loss, the other metrics and the learning rate per epoch; returns path.

    `history` is `{name: [value per epoch]}` as in `keras.callbacks.History.history` or
    `read_history`; `val_*` series are drawn with their training series. `marks`
    (`{epoch: label}`, epochs 1-based as drawn) draws a dashed line before each such epoch,
    labelled: where a fine-tune's phase 2 starts (`phase_marks(card)`).
    """
    from matplotlib.figure import Figure

    epochs = history.get("epoch")
    series = {k: v for k, v in history.items() if k != "epoch"}
    n_epochs = len(next(iter(series.values()), []))
    xs = [int(e) + 1 for e in epochs] if epochs else list(range(1, n_epochs + 1))
    metrics = [k for k in series if not k.startswith("val_") and k != "learning_rate"]
    panels = metrics + (["learning_rate"] if "learning_rate" in series else [])
    if not panels:
        raise ValueError("plot_history: the history has no series to plot.")
    fig = Figure(figsize=(4.2 * len(panels), 3.4))
    for i, name in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        ax.plot(xs, series[name], marker=".", label="train" if name != "learning_rate" else None)
        if f"val_{name}" in series:
            ax.plot(xs, series[f"val_{name}"], marker=".", label="validation")
        for epoch, label in (marks or {}).items():
            ax.axvline(epoch - 0.5, color="grey", linestyle="--", linewidth=1, label=label)
        if f"val_{name}" in series or marks:
            ax.legend(fontsize=8)
        if name == "learning_rate" and min(series[name]) > 0:
            ax.set_yscale("log")
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=110)
    return os.fspath(path)
