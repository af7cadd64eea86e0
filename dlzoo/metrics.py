"""Metrics Keras logs during fit that plain accuracy hides on imbalanced classes.

`balanced_accuracy` (the mean of the per-class recalls, scikit-learn's `balanced_accuracy_score`)
and `macro_f1` (the mean of the per-class F1 scores) take the integer labels dlzoo's classifiers
train on and the predicted probabilities. Both are `keras.metrics.FBetaScore` underneath (its
per-class true positive, false positive and false negative counts, accumulated over the epoch),
so they run on every backend and in compiled steps. Name them in a recipe's `train.metrics`
(Keras then logs `balanced_accuracy` / `val_balanced_accuracy`, `macro_f1` / `val_macro_f1`),
and use those names as `callbacks.monitor` or `tune.objective`.

    >>> from dlzoo.metrics import resolve_metrics
    >>> model.compile(loss="sparse_categorical_crossentropy",
    ...               metrics=resolve_metrics(["accuracy", "balanced_accuracy", "macro_f1"]))
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["METRICS", "BalancedAccuracy", "MacroF1", "class_counts", "class_weights",
           "resolve_metrics"]


def _dense(y_true, y_pred):
    """(one-hot labels, probabilities with one column per class): integer labels of shape (B,)
    or (B, 1) become one-hot; one sigmoid unit becomes the two columns (1 - p, p)."""
    y_pred = ops.convert_to_tensor(y_pred)
    if y_pred.shape[-1] == 1:
        y_pred = ops.concatenate([1.0 - y_pred, y_pred], axis=-1)
    y_true = ops.reshape(ops.cast(y_true, "int32"), (-1,))
    return ops.one_hot(y_true, y_pred.shape[-1], dtype=y_pred.dtype), y_pred


@keras.saving.register_keras_serializable(package="dlzoo")
class MacroF1(keras.metrics.F1Score):
    """Macro-averaged F1 of the top class, from integer labels (`keras.metrics.F1Score` takes
    one-hot labels). Logged as `macro_f1` / `val_macro_f1`.

    Args:
        name: str, the logged name ("macro_f1").
    """

    def __init__(self, name="macro_f1", dtype=None, **kwargs):
        kwargs.pop("average", None)
        kwargs.pop("threshold", None)
        super().__init__(average="macro", threshold=None, name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _dense(y_true, y_pred)
        if sample_weight is not None:
            sample_weight = ops.reshape(sample_weight, (-1,))
        super().update_state(y_true, y_pred, sample_weight)


@keras.saving.register_keras_serializable(package="dlzoo")
class BalancedAccuracy(MacroF1):
    """Balanced accuracy: the mean over the classes present of the recall of each, from integer
    labels (scikit-learn's `balanced_accuracy_score`; always answering the majority class scores
    1 / number of classes). Logged as `balanced_accuracy` / `val_balanced_accuracy`.

    Args:
        name: str, the logged name ("balanced_accuracy").
    """

    def __init__(self, name="balanced_accuracy", dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)

    def result(self):
        support = self.true_positives + self.false_negatives
        present = ops.cast(support > 0, self.dtype)
        recall = ops.divide(self.true_positives, ops.maximum(support, 1e-12))
        return ops.divide(ops.sum(recall * present), ops.maximum(ops.sum(present), 1.0))


# name in a recipe's train.metrics -> class
METRICS = {"balanced_accuracy": BalancedAccuracy, "macro_f1": MacroF1}


def resolve_metrics(metrics):
    """`metrics` (a list of Keras metric names or objects) with dlzoo's names
    (`balanced_accuracy`, `macro_f1`) made into fresh metric objects; other entries unchanged.
    None stays None."""
    if metrics is None:
        return None
    return [METRICS[m]() if isinstance(m, str) and m in METRICS else m for m in metrics]


def class_weights(counts, mode="balanced") -> dict[int, float]:
    """Keras `fit(class_weight=...)` for per-class training counts (label order).

    "balanced": `n / (k * n_c)` for the k classes with examples, scikit-learn's
    `compute_class_weight("balanced")`, so every class weighs as much in the loss as the others;
    a class without training examples gets weight 1.

    Raises:
        ValueError: `mode` is not "balanced", or there are no training examples.
    """
    import numpy as np
    from sklearn.utils.class_weight import compute_class_weight

    if mode != "balanced":
        raise ValueError(f"class_weight must be 'balanced' or None; received {mode!r}")
    counts = np.asarray(counts, dtype="int64")
    present = np.flatnonzero(counts > 0)
    if not present.size:
        raise ValueError("class_weight='balanced' needs training examples; there are none.")
    y = np.repeat(present, counts[present])
    weights = compute_class_weight("balanced", classes=present, y=y)
    out = {int(i): 1.0 for i in range(len(counts))}
    out.update({int(c): round(float(w), 6) for c, w in zip(present, weights)})
    return out


def class_counts(bundle, train) -> list[int]:
    """Training examples per class (label order): counted from the labels of `(x, y)` arrays,
    from the class folder of each training file of an image folder (nothing decoded), else by
    reading the training labels once."""
    import numpy as np

    n = len(bundle.class_names)
    if isinstance(train, tuple):
        return np.bincount(np.asarray(train[1]).reshape(-1).astype("int64"), minlength=n).tolist()
    files = getattr(bundle, "files", None) or {}
    if files.get("train") is not None and str(bundle.source).startswith("folder:"):
        index = {str(c): i for i, c in enumerate(bundle.class_names)}
        labels = [index[str(f).replace("\\", "/").split("/", 1)[0]] for f in files["train"]]
        return np.bincount(np.asarray(labels, "int64"), minlength=n).tolist()
    batches = train.as_numpy_iterator() if hasattr(train, "as_numpy_iterator") else train
    counts = np.zeros(n, "int64")
    for batch in batches:
        counts += np.bincount(np.asarray(batch[1]).reshape(-1).astype("int64"), minlength=n)
    return counts.tolist()
