"""Multi-label classification: several labels a file (a label file's `labels` column).

A multi-label model ends in a sigmoid `predictions` layer (one independent probability per label)
and trains with binary cross-entropy (`dlzoo.compiling`, task "multi_label_classification"). Each
label gets its own decision threshold, chosen on the validation split as the one that maximises
that label's F1 (scikit-learn's `precision_recall_curve`), and kept in the model's card
(`thresholds`, `{label: threshold}`), which `evaluate` and `predict` read back.

    >>> from dlzoo.multilabel import choose_thresholds, multilabel_report
    >>> thresholds = choose_thresholds(y_val, probs_val)          # (labels,) in [0, 1]
    >>> report = multilabel_report(y_test, probs_test, ["cat", "dog"], thresholds)
    >>> report.mean_average_precision, report.to_dict()["per_class"]["cat"]["f1"]

The figures are scikit-learn's: per-label precision, recall and F1 at the thresholds
(`precision_recall_fscore_support`), average precision per label and their mean, mAP
(`average_precision_score`), the exact-match ratio (`accuracy_score` on label sets).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dlzoo.compiling import MULTI_LABEL_TASK, has_sigmoid_head
from dlzoo.plots import plot_confusion_matrix
from dlzoo.tasks import Task

__all__ = ["MULTI_LABEL_TASK", "MultiLabelReport", "card_thresholds", "check_options",
           "choose_thresholds", "finish_card", "has_sigmoid_head", "is_multi_label_task",
           "labels_above", "multilabel_report", "sigmoid_head"]

DEFAULT_THRESHOLD = 0.5


def is_multi_label_task(task) -> bool:
    """Whether `task` (a card's `Task`, its string, or None) is multi-label classification."""
    return task is not None and Task(task).is_multi_label


def sigmoid_head(model):
    """Makes `model`'s `predictions` layer (a Dense softmax, the zoo's classifier head) a sigmoid:
    one independent probability per label. Changes the layer in place (its config follows, so the
    saved model loads as a sigmoid head); returns `model`.

    Raises ValueError when the model has no Dense `predictions` layer."""
    import keras

    try:
        layer = model.get_layer("predictions")
    except ValueError:
        layer = None
    if not isinstance(layer, keras.layers.Dense):
        raise ValueError(f"{model.name}: multi-label data needs a Dense 'predictions' head to "
                         "turn into one sigmoid a label; this model has none")
    layer.activation = keras.activations.get("sigmoid")
    return model


def choose_thresholds(y_true, probabilities) -> np.ndarray:
    """Per label, the threshold on its probability that maximises its F1 on `(y_true,
    probabilities)` (both `(N, labels)`, y 0/1); a label with no positive or no negative example
    keeps 0.5. A file has a label when its probability is >= the label's threshold; the threshold
    is placed halfway between the best F1's lowest positive score and the next lower score."""
    from sklearn.metrics import precision_recall_curve

    y = np.asarray(y_true) > 0.5
    p = np.asarray(probabilities, np.float64)
    out = np.full(p.shape[1], DEFAULT_THRESHOLD)
    for j in range(p.shape[1]):
        if y[:, j].all() or not y[:, j].any():
            continue
        precision, recall, thresholds = precision_recall_curve(y[:, j], p[:, j])
        f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
        best = float(thresholds[int(np.argmax(f1))])
        # halfway to the next lower score: the same decisions on this data, and no file sits
        # exactly on the threshold (where a rounding would flip it)
        below = p[:, j][p[:, j] < best]
        out[j] = (best + (below.max() if below.size else 0.0)) / 2
    return out


def check_options(*, class_weight=None) -> None:
    """ValueError for a training option that does not apply to multi-label data."""
    if class_weight:
        raise ValueError(f"class_weight={class_weight!r} weighs one class a file; multi-label "
                         "data has several labels a file. Drop --class-weight.")


def finish_card(card, report, class_names) -> None:
    """Marks a `dlzoo.saving.ModelCard` multi-label: its task, and the thresholds chosen on the
    validation split (`report`, a `MultiLabelReport`; 0.5 each without a validation split)."""
    card.task = MULTI_LABEL_TASK
    thresholds = report.thresholds if report is not None else [DEFAULT_THRESHOLD] * len(class_names)
    card.extra["thresholds"] = {str(c): float(t) for c, t in zip(class_names, thresholds)}
    card.extra["thresholds_chosen_on"] = ("validation split, each label's best F1"
                                          if report is not None else "none (no validation split)")


def card_thresholds(card: dict) -> np.ndarray:
    """The per-label thresholds a card keeps (`thresholds`, in `class_names` order); 0.5 for a
    label it does not name."""
    kept = card.get("thresholds") or {}
    return np.array([float(kept.get(str(c), DEFAULT_THRESHOLD)) for c in card["class_names"]])


def labels_above(probabilities, class_names, thresholds) -> list[list[tuple[str, float]]]:
    """For each row, every `(label, probability)` at or above its threshold, most likely first."""
    probs = np.asarray(probabilities, np.float64)
    out = []
    for row in probs:
        on = [j for j in np.argsort(-row, kind="stable") if row[j] >= thresholds[j]]
        out.append([(str(class_names[j]), float(row[j])) for j in on])
    return out


@dataclasses.dataclass
class MultiLabelReport:
    """What a multi-label model scored: per label, at its threshold, and over all thresholds (AP).

    Attributes:
        class_names: labels, in the model's order.
        thresholds: the threshold of each label.
        precision, recall, f1: per label at its threshold.
        support: files with the label.
        average_precision: per label (nan for a label with no file).
        loss: mean binary cross-entropy (Keras's, clipped at 1e-7).
        accuracy: exact-match ratio: files whose whole label set is right.
        confusion: `confusion[i, j]` counts files with label i predicted to have label j (the
            diagonal is each label's true positives).
        samples: files scored.
    """

    class_names: list
    thresholds: list
    precision: list
    recall: list
    f1: list
    support: list
    average_precision: list
    loss: float
    accuracy: float
    confusion: np.ndarray
    samples: int
    micro_f1: float = float("nan")

    @property
    def mean_average_precision(self) -> float:
        present = [a for a, s in zip(self.average_precision, self.support) if s > 0]
        return float(np.mean(present)) if present else float("nan")

    def to_dict(self) -> dict:
        per_class = {
            str(n): {"precision": round(float(p), 6), "recall": round(float(r), 6),
                     "f1": round(float(f), 6), "support": int(s),
                     "average_precision": None if np.isnan(a) else round(float(a), 6),
                     "threshold": round(float(t), 6)}
            for n, p, r, f, s, a, t in zip(self.class_names, self.precision, self.recall, self.f1,
                                           self.support, self.average_precision, self.thresholds)
        }
        return {
            "task": MULTI_LABEL_TASK,
            "accuracy": round(self.accuracy, 6),
            "loss": round(self.loss, 6),
            "mean_average_precision": round(self.mean_average_precision, 6),
            "macro_precision": round(float(np.mean(self.precision)), 6),
            "macro_recall": round(float(np.mean(self.recall)), 6),
            "macro_f1": round(float(np.mean(self.f1)), 6),
            "micro_f1": round(float(self.micro_f1), 6),
            "samples": int(self.samples),
            "thresholds": {str(n): float(t) for n, t in zip(self.class_names, self.thresholds)},
            "per_class": per_class,
            "confusion_matrix": self.confusion.tolist(),
        }

    def table(self, title: str = "per-label metrics"):
        from rich.table import Table

        table = Table(title=title, caption=(
            f"mAP {self.mean_average_precision:.4f}, exact match {self.accuracy:.4f} on "
            f"{self.samples} files, loss {self.loss:.4f}"))
        table.add_column("label")
        for col in ("threshold", "precision", "recall", "f1", "AP", "support"):
            table.add_column(col, justify="right")
        for n, t, p, r, f, a, s in zip(self.class_names, self.thresholds, self.precision,
                                       self.recall, self.f1, self.average_precision, self.support):
            table.add_row(str(n), f"{t:.3f}", f"{p:.3f}", f"{r:.3f}", f"{f:.3f}",
                          "" if np.isnan(a) else f"{a:.3f}", str(int(s)))
        return table

    def plot_confusion_matrix(self, path, title: str | None = None) -> str:
        return plot_confusion_matrix(self.confusion, self.class_names, path,
                                     title=title or "true label -> predicted label")


def multilabel_report(y_true, probabilities, class_names=None, thresholds=None
                      ) -> MultiLabelReport:
    """A `MultiLabelReport` of multi-hot `y_true` `(N, labels)` against sigmoid `probabilities`;
    `thresholds` per label (default: chosen on this data, `choose_thresholds`)."""
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        f1_score,
        precision_recall_fscore_support,
    )

    y = (np.asarray(y_true) > 0.5).astype(int)
    p = np.asarray(probabilities, np.float64)
    n = p.shape[1]
    if y.shape != p.shape:
        raise ValueError(f"evaluate: {y.shape[1] if y.ndim == 2 else '?'} labels in the data but "
                         f"the model predicts {n}; the data's labels do not match the model's.")
    class_names = [str(c) for c in (class_names or range(n))]
    t = choose_thresholds(y, p) if thresholds is None else np.asarray(thresholds, np.float64)
    pred = (p >= t).astype(int)
    prec, rec, f1, support = precision_recall_fscore_support(y, pred, average=None,
                                                             zero_division=0)
    ap = [float(average_precision_score(y[:, j], p[:, j])) if y[:, j].any() else float("nan")
          for j in range(n)]
    clipped = np.clip(p, 1e-7, 1 - 1e-7)
    loss = float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))) if len(y) else 0.0
    return MultiLabelReport(
        class_names=class_names, thresholds=[float(v) for v in t],
        precision=[float(v) for v in prec], recall=[float(v) for v in rec],
        f1=[float(v) for v in f1], support=[int(v) for v in support], average_precision=ap,
        loss=loss, accuracy=float(accuracy_score(y, pred)) if len(y) else float("nan"),
        confusion=(y.T @ pred).astype(int), samples=len(y),
        micro_f1=float(f1_score(y, pred, average="micro", zero_division=0)))
