"""Multilayer perceptron and the single perceptron, for flat feature vectors."""

from __future__ import annotations

import keras
from keras import layers

from dlzoo.blocks.heads import classifier_head
from dlzoo.registry import layers_matching, prefixes_matching, register_model
from dlzoo.validation import check_flat_input, check_head, check_num_classes

PAPER_MLP = ("Rumelhart, Hinton, Williams. Learning representations by back-propagating errors. "
             "Nature 1986.")
PAPER_PERCEPTRON = ("Rosenblatt. The perceptron: a probabilistic model for information storage and "
                    "organization in the brain. Psychological Review 1958.")


_FLAT = {"family": "mlp", "task": "classification", "input_kind": "flat"}


def MLP(
    *,
    num_classes: int = 10,
    input_shape=(784,),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    hidden_units=(256, 128),
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
    name: str = "mlp",
) -> keras.Model:
    """Fully connected network: hidden Dense layers, then `predictions`.

    Reference: Rumelhart et al. 1986. With `hidden_units=()` it is multinomial logistic regression.

    Args:
        num_classes: output units (default 10; 1 gives a sigmoid unit).
        input_shape: (features,) (default (784,), a flattened 28x28 image).
        include_top: keep the classifier; without it the output is the last hidden layer.
        pooling: must stay None (the features are vectors already).
        classifier_activation: "softmax", None for logits, or any Keras activation.
        hidden_units: widths of the hidden layers, `hidden1`, `hidden2`, ...
        activation: hidden activation.
        dropout: dropout after each hidden layer.
        batch_norm: BatchNormalization before each hidden activation.
        name: model name.

    Example:
        >>> from dlzoo import build
        >>> model = build("mlp", input_shape=(64,), hidden_units=(32,))
        >>> model.output_shape
        (None, 10)
    """
    check_head(include_top=include_top, pooling=pooling, allow_pooling=False)
    check_num_classes(num_classes, include_top=include_top)
    input_shape = check_flat_input(input_shape, name=name)
    hidden_units = tuple(int(u) for u in hidden_units)
    if any(u < 1 for u in hidden_units):
        raise ValueError(f"{name}: hidden_units must all be >= 1; received {hidden_units}.")
    if not include_top and not hidden_units:
        raise ValueError(f"{name}: include_top=False needs at least one hidden layer.")

    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    for i, units in enumerate(hidden_units, start=1):
        x = layers.Dense(units, use_bias=not batch_norm, name=f"hidden{i}")(x)
        if batch_norm:
            x = layers.BatchNormalization(name=f"hidden{i}_bn")(x)
        x = layers.Activation(activation, name=f"hidden{i}_{activation}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"hidden{i}_dropout")(x)
    if include_top:
        x = classifier_head(x, num_classes=num_classes, classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)


@register_model(
    **_FLAT,
    default_input_shape=(784,),
    default_num_classes=10,
    params=235_146,
    paper=PAPER_MLP,
    preprocessing="unit",
    feature_layers=("hidden1", "hidden2"),
    unfreeze_groups=("hidden1", "hidden2", "predictions"),
    feature_rule=layers_matching(r"hidden\d+"),
    unfreeze_rule=prefixes_matching(r"(hidden\d+(?=_|$)|predictions)"),
    description="Multilayer perceptron, 784-256-128-10",
)
def mlp(**kwargs):
    """MLP with two hidden ReLU layers (256, 128) for flattened 28x28 inputs."""
    return MLP(**kwargs)


@register_model(
    **_FLAT,
    default_input_shape=(2,),
    default_num_classes=1,
    params=3,
    paper=PAPER_PERCEPTRON,
    preprocessing="none",
    description="One logistic unit (softmax regression for several classes)",
)
def perceptron(*, num_classes: int = 1, input_shape=(2,), include_top: bool = True,
               pooling=None, classifier_activation="softmax", name: str = "perceptron"):
    """A single layer of output units on the raw inputs: one logistic unit for one class,
    softmax regression for several. It cannot learn XOR (Minsky & Papert 1969)."""
    if not include_top:
        raise ValueError("perceptron: include_top=False leaves nothing; the perceptron is its head.")
    return MLP(num_classes=num_classes, input_shape=input_shape, pooling=pooling,
               classifier_activation=classifier_activation, hidden_units=(), name=name)
