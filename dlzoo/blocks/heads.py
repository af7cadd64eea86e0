"""Classifier heads and pooling, shared so every family names its head the same way."""

from __future__ import annotations

from keras import layers

from dlzoo.validation import head_activation


def pool_features(x, pooling: str | None, *, name_prefix: str = ""):
    """Global average/max pooling of a feature map; None leaves it as is."""
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name=f"{name_prefix}avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name=f"{name_prefix}max_pool")(x)
    return x


def dense_stack(x, units, *, name: str, activation="relu", dropout: float = 0.0, names=None):
    """A stack of Dense layers, each optionally followed by Dropout.

    Layer names are `names[i]` when given (VGG's `fc1`, `fc2`), else `{name}{i + 1}`; dropout layers
    add `_dropout`.
    """
    for i, n in enumerate(units):
        layer_name = names[i] if names else f"{name}{i + 1}"
        x = layers.Dense(n, activation=activation, name=layer_name)(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"{layer_name}_dropout")(x)
    return x


def classifier_head(
    x,
    *,
    num_classes: int,
    classifier_activation="softmax",
    flatten: bool = False,
    hidden_units=(),
    hidden_names=None,
    hidden_activation="relu",
    dropout: float = 0.0,
):
    """The top of a classifier: Flatten (or global average pooling), hidden Dense layers, then
    `predictions`.

    Args:
        x: the feature map (or vector).
        num_classes: output units.
        classifier_activation: "softmax" (default), None for logits, or any Keras activation. With
            one class, "softmax" becomes "sigmoid".
        flatten: Flatten the feature map (VGG, AlexNet, LeNet) instead of average-pooling it
            (ResNet, Inception).
        hidden_units: sizes of the fully connected layers before the classifier.
        hidden_names: their layer names.
        hidden_activation: their activation.
        dropout: dropout after each hidden layer.
    """
    if len(x.shape) == 4:
        if flatten:
            x = layers.Flatten(name="flatten")(x)
        else:
            x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif len(x.shape) > 2:
        x = layers.Flatten(name="flatten")(x)
    x = dense_stack(
        x, hidden_units, name="fc", activation=hidden_activation, dropout=dropout, names=hidden_names
    )
    return layers.Dense(
        num_classes,
        activation=head_activation(classifier_activation, num_classes),
        name="predictions",
    )(x)
