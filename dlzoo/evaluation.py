"""Classifier evaluation: accuracy, per-class precision / recall / F1, confusion matrix, plots.

    >>> from dlzoo.evaluation import evaluate
    >>> report = evaluate(model, bundle.val, class_names=bundle.class_names)
    >>> report.accuracy, report.confusion
    >>> report.plot_confusion_matrix("confusion_matrix.png")

The metrics come from `sklearn.metrics`; plots use matplotlib's object API (`Figure`, no pyplot),
which renders with Agg and leaves the caller's matplotlib state alone.
"""

from __future__ import annotations

import csv
import dataclasses
import os

import numpy as np

__all__ = [
    "Report",
    "predict_dataset",
    "classification_report",
    "evaluate",
    "top_k",
    "plot_confusion_matrix",
    "plot_history",
    "read_history",
    "read_images",
]


@dataclasses.dataclass
class Report:
    """What `evaluate` measured on one data set.

    Attributes:
        accuracy: fraction of samples whose top class is right.
        loss: mean cross-entropy of the predicted probabilities (what Keras reports as loss).
        class_names: names in label order.
        precision, recall, f1: per class, in label order.
        support: samples per class.
        confusion: `confusion[i, j]` counts samples of class i predicted as j.
    """

    accuracy: float
    loss: float
    class_names: list
    precision: list
    recall: list
    f1: list
    support: list
    confusion: np.ndarray

    @property
    def num_samples(self) -> int:
        return int(sum(self.support))

    def to_dict(self) -> dict:
        """JSON-ready: the summary figures and a per-class table."""
        per_class = {
            name: {
                "precision": round(float(p), 6),
                "recall": round(float(r), 6),
                "f1": round(float(f), 6),
                "support": int(s),
            }
            for name, p, r, f, s in zip(
                self.class_names, self.precision, self.recall, self.f1, self.support
            )
        }
        return {
            "accuracy": round(self.accuracy, 6),
            "loss": round(self.loss, 6),
            "macro_precision": round(float(np.mean(self.precision)), 6),
            "macro_recall": round(float(np.mean(self.recall)), 6),
            "macro_f1": round(float(np.mean(self.f1)), 6),
            "samples": self.num_samples,
            "per_class": per_class,
            "confusion_matrix": self.confusion.tolist(),
        }

    def table(self, title: str = "per-class metrics"):
        """A `rich.table.Table` of the per-class figures, with accuracy in the caption."""
        from rich.table import Table

        table = Table(
            title=title,
            caption=f"accuracy {self.accuracy:.4f} on {self.num_samples} samples, "
            f"loss {self.loss:.4f}",
        )
        table.add_column("class")
        for col in ("precision", "recall", "f1", "support"):
            table.add_column(col, justify="right")
        for name, p, r, f, s in zip(
            self.class_names, self.precision, self.recall, self.f1, self.support
        ):
            table.add_row(str(name), f"{p:.3f}", f"{r:.3f}", f"{f:.3f}", str(int(s)))
        return table

    def plot_confusion_matrix(self, path, title: str | None = None) -> str:
        return plot_confusion_matrix(self.confusion, self.class_names, path, title=title)


def _as_probabilities(outputs: np.ndarray) -> np.ndarray:
    outputs = np.asarray(outputs, dtype="float64")
    if outputs.ndim == 2 and outputs.shape[1] == 1:  # one sigmoid unit: P(class 1)
        outputs = np.concatenate([1.0 - outputs, outputs], axis=1)
    return outputs


def predict_dataset(model, data) -> tuple[np.ndarray, np.ndarray]:
    """Runs `model` over labelled data in one pass; returns `(labels, probabilities)`.

    `data` is a `tf.data.Dataset` (or any iterable) of `(x, y)` batches, or a tuple of arrays
    `(x, y)`. One pass over the batches keeps labels and predictions aligned even if the data
    set reshuffles on each iteration.
    """
    if isinstance(data, tuple) and len(data) == 2:
        x, y = data
        return np.asarray(y).reshape(-1), _as_probabilities(model.predict(x, verbose=0))
    labels, probs = [], []
    batches = data.as_numpy_iterator() if hasattr(data, "as_numpy_iterator") else data
    for batch in batches:
        if not (isinstance(batch, (tuple, list)) and len(batch) >= 2):
            raise ValueError(
                "evaluate: the data must yield (images, labels) batches; received batches of "
                f"{type(batch).__name__}. Evaluate on a labelled split such as bundle.val."
            )
        xb, yb = batch[0], batch[1]
        labels.append(np.asarray(yb).reshape(-1))
        # A direct call, not predict_on_batch: no tf.function to retrace for the last, smaller
        # batch (and no retracing warnings when a process evaluates several models).
        import keras

        probs.append(keras.ops.convert_to_numpy(model(xb, training=False)))
    if not labels:
        raise ValueError("evaluate: the data set is empty; there is nothing to evaluate.")
    return np.concatenate(labels), _as_probabilities(np.concatenate(probs))


def classification_report(y_true, probabilities, class_names=None) -> Report:
    """Builds a `Report` from integer labels and predicted class probabilities."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y_true = np.asarray(y_true).astype(int).reshape(-1)
    probs = _as_probabilities(probabilities)
    n = probs.shape[1]
    if class_names is None:
        class_names = [str(i) for i in range(n)]
    class_names = [str(c) for c in class_names]
    if len(class_names) != n:
        raise ValueError(
            f"evaluate: the model predicts {n} classes but {len(class_names)} class names were "
            f"given ({class_names[:5]}...). Evaluate with data that has the model's classes."
        )
    if y_true.size and (y_true.min() < 0 or y_true.max() >= n):
        raise ValueError(
            f"evaluate: labels range over {y_true.min()}..{y_true.max()} but the model has {n} "
            "classes. The data's classes do not match the model's."
        )
    y_pred = probs.argmax(axis=1)
    labels = list(range(n))
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    picked = np.clip(probs[np.arange(len(y_true)), y_true], 1e-7, 1.0)
    return Report(
        accuracy=float(np.mean(y_pred == y_true)),
        loss=float(-np.mean(np.log(picked))),
        class_names=class_names,
        precision=[float(v) for v in p],
        recall=[float(v) for v in r],
        f1=[float(v) for v in f],
        support=[int(v) for v in s],
        confusion=confusion_matrix(y_true, y_pred, labels=labels),
    )


def evaluate(model, data, class_names=None) -> Report:
    """Evaluates a classifier on labelled data (see `predict_dataset`) and returns a `Report`.

    Example:
        >>> report = evaluate(model, (x_val, y_val), class_names=["cat", "dog"])
        >>> print(report.accuracy)
    """
    y_true, probs = predict_dataset(model, data)
    return classification_report(y_true, probs, class_names)


def top_k(probabilities, class_names, k: int = 3) -> list[list[tuple[str, float]]]:
    """For each row of probabilities, the `k` most likely `(class name, probability)` pairs."""
    probs = _as_probabilities(probabilities)
    k = max(1, min(int(k), probs.shape[1]))
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [[(str(class_names[j]), float(row[j])) for j in idx] for row, idx in zip(probs, order)]


# --- plots -------------------------------------------------------------------------------------


def plot_confusion_matrix(confusion, class_names, path, title: str | None = None) -> str:
    """Draws the confusion matrix (rows: true class, columns: predicted) with counts; returns path."""
    from matplotlib.figure import Figure

    cm = np.asarray(confusion)
    n = cm.shape[0]
    size = min(14.0, 2.5 + 0.45 * n)
    fig = Figure(figsize=(size, size * 0.9))
    ax = fig.add_subplot()
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ticks = np.arange(n)
    labels = [str(c) for c in class_names]
    ax.set_xticks(ticks, labels, rotation=45 if max(map(len, labels)) > 3 else 0, ha="right")
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix")
    if n <= 30:
        threshold = cm.max() / 2 if cm.size else 0
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if cm[i, j] > threshold else "black")
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


def plot_history(history: dict, path, title: str | None = None) -> str:
    """Draws loss, the other metrics and the learning rate per epoch; returns path.

    `history` is `{name: [value per epoch]}` as in `keras.callbacks.History.history` or
    `read_history`; `val_*` series are drawn with their training series.
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
            ax.legend()
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


# --- reading files for prediction ---------------------------------------------------------------


def read_images(paths, input_shape) -> tuple[np.ndarray, list, list]:
    """Reads image files as a model's raw input: `(H, W, C)` from `input_shape`, values 0-255.

    Decodes and resizes exactly as the folder pipeline does (`dlzoo.data.images`: TensorFlow's
    decoder and `tf.image.resize`, Pillow for what TensorFlow refuses), so a file predicts as it
    would have trained.

    Returns:
        `(images float32 (N, H, W, C), the paths read, [(path, reason)] for the files skipped)`.
    """
    from dlzoo.data.images import UnusableImage, pil_decode, tf_decode_fn

    h, w, c = (int(s) for s in input_shape)
    try:
        import tensorflow as tf

        decode = tf_decode_fn(c, (h, w))
    except ImportError:
        tf, decode = None, None
    arrays, kept, failed = [], [], []
    for path in paths:
        path = str(path)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            failed.append((path, e.strerror or str(e)))
            continue
        array = None
        if decode is not None:
            try:
                array = decode(tf.constant(data))[0].numpy()
            except (tf.errors.OpError, ValueError):
                array = None
        if array is None:
            try:
                array = pil_decode(data, channels=c, image_size=(h, w))
            except UnusableImage as e:
                failed.append((path, str(e)))
                continue
        arrays.append(array.astype("float32"))
        kept.append(path)
    images = np.stack(arrays) if arrays else np.zeros((0, h, w, c), "float32")
    return images, kept, failed
