"""ADALINE, Widrow and Hoff's adaptive linear element: one linear unit trained on the squared
error of its sum (the LMS rule), classifying by a threshold on that sum."""

from __future__ import annotations

import keras
from keras import layers

from dlzoo.registry import register_model
from dlzoo.validation import check_flat_input

PAPER = "Widrow, Hoff. Adaptive switching circuits. IRE WESCON Convention Record 1960."


@register_model(
    family="mlp",
    task="classification",
    input_kind="flat",
    default_input_shape=(2,),
    default_num_classes=1,
    params=3,
    paper=PAPER,
    smoke_overrides={"input_shape": (3,)},
    description="ADALINE: one linear unit for two classes, trained on squared error (LMS)",
)
def adaline(*, num_classes: int = 1, input_shape=(2,), include_top: bool = True, pooling=None,
            name: str = "adaline"):
    """ADALINE (Widrow & Hoff 1960): one linear unit `predictions = w.x + b`, no activation.

    Trained with mean squared error against the 0/1 labels (`train.loss: mse`; with SGD and
    `data.batch_size: 1` that is the LMS rule, one sample at a time) and read as class 1 when the
    sum passes 0.5: the same rule as targets +-1 and the sign, rescaled. It learns what a line
    separates and cannot learn XOR (`dlzoo.commands.teaching.adaline_lms` is the rule in
    numpy).

    Args:
        num_classes: 1 or 2 (either way one unit: ADALINE separates two classes).
        input_shape: (features,) (default (2,)).
        include_top, pooling: must stay True / None (the unit is its own head).
        name: model name.

    Example:
        >>> from dlzoo import build
        >>> build("adaline").output_shape
        (None, 1)
    """
    if num_classes not in (1, 2) or isinstance(num_classes, bool):
        raise ValueError(f"{name}: ADALINE separates two classes (num_classes 1 or 2, one unit); "
                         f"received num_classes={num_classes!r}. For more classes use the "
                         "perceptron (softmax regression) or an MLP.")
    if not include_top or pooling is not None:
        raise ValueError(f"{name}: include_top=False / pooling leave nothing; the linear unit is "
                         "the whole model.")
    input_shape = check_flat_input(input_shape, name=name)
    inputs = keras.Input(shape=input_shape, name="input")
    return keras.Model(inputs, layers.Dense(1, name="predictions")(inputs), name=name)
