"""Losses Keras lacks in the form the zoo needs.

`SmoothedCrossEntropy`: categorical cross-entropy with label smoothing that takes class indices
(the zoo's labels) as well as one-hot or mixed labels (MixUp, CutMix). Keras's
`SparseCategoricalCrossentropy` has no `label_smoothing`, and its `CategoricalCrossentropy` needs
one-hot labels; this one-hots indices and calls `keras.losses.categorical_crossentropy`.

    >>> model.compile(optimizer="adam", loss=SmoothedCrossEntropy(0.1), metrics=["accuracy"])
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["SmoothedCrossEntropy", "SoftLabelAccuracy"]


@keras.saving.register_keras_serializable(package="dlzoo")
class SmoothedCrossEntropy(keras.losses.Loss):
    """Cross-entropy against labels smoothed towards uniform: the target of the true class is
    `1 - label_smoothing + label_smoothing / C`, every other class `label_smoothing / C`
    (Szegedy et al. 2016, "Rethinking the Inception Architecture", section 7).

    Args:
        label_smoothing: float in [0, 1), default 0.1.
        from_logits: whether predictions are logits (default False: probabilities).

    Labels: class indices of shape `(batch,)` or `(batch, 1)`, or one-hot / soft labels of
    shape `(batch, C)`. Predictions: `(batch, C)`. Returns the mean loss over the batch.
    """

    def __init__(self, label_smoothing: float = 0.1, from_logits: bool = False,
                 name: str = "smoothed_crossentropy", reduction="sum_over_batch_size",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.label_smoothing = float(label_smoothing)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        classes = y_pred.shape[-1]
        rank = len(y_pred.shape)
        if len(y_true.shape) < rank or (y_true.shape[-1] == 1 and classes != 1):
            if len(y_true.shape) == rank:
                y_true = ops.squeeze(y_true, axis=-1)
            y_true = ops.one_hot(ops.cast(y_true, "int32"), classes, dtype=y_pred.dtype)
        else:
            y_true = ops.cast(y_true, y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            y_true, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing,
                "from_logits": self.from_logits}


def _soft_label_accuracy(y_true, y_pred):
    classes = y_pred.shape[-1]
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == classes and classes != 1:
        y_true = ops.argmax(y_true, axis=-1)  # soft labels: the class with the largest share
    elif len(y_true.shape) == len(y_pred.shape):
        y_true = ops.squeeze(y_true, axis=-1)
    return ops.cast(ops.equal(ops.cast(y_true, "int32"),
                              ops.cast(ops.argmax(y_pred, axis=-1), "int32")), "float32")


@keras.saving.register_keras_serializable(package="dlzoo")
class SoftLabelAccuracy(keras.metrics.MeanMetricWrapper):
    """Accuracy for class-index labels (validation) and one-hot or mixed labels (MixUp /
    CutMix training batches) alike: a mixed label counts as its largest share. Keras picks
    sparse or categorical accuracy once, from the first batch's shapes, and training and
    validation batches differ here. Logged as `accuracy` / `val_accuracy`."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(_soft_label_accuracy, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
