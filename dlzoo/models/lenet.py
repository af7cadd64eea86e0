"""LeNet-5 (LeCun et al. 1998)."""

from __future__ import annotations

import keras
from keras import layers

from dlzoo.blocks.heads import classifier_head, pool_features
from dlzoo.registry import register_model
from dlzoo.validation import (
    Downsample,
    check_head,
    check_image_input,
    check_num_classes,
    min_spatial_size,
)

PAPER = "LeCun, Bottou, Bengio, Haffner. Gradient-based learning applied to document recognition. Proc. IEEE 1998."

# c1 5x5, s2 2x2/2, c3 5x5, s4 2x2/2, c5 5x5: all valid.
_DOWNSAMPLING = [Downsample(5), Downsample(2, 2), Downsample(5), Downsample(2, 2), Downsample(5)]
MIN_SIZE = min_spatial_size(_DOWNSAMPLING)


def LeNet(
    *,
    num_classes: int = 10,
    input_shape=(32, 32, 1),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    activation: str = "tanh",
    subsampling: str = "avg",
    name: str = "lenet5",
) -> keras.Model:
    """LeNet-5: three convolutions (6, 16, 120 maps of 5x5) with 2x2 subsampling, F6 of 84 units.

    Reference: LeCun et al. 1998. The C3 layer is fully connected to S2's maps (the paper's partial
    connection table was a hardware economy); C5 is a 5x5 convolution, which equals the paper's
    fully connected C5 at 32x32 and lets larger inputs through with `include_top=False`.

    Args:
        num_classes: output classes (default 10).
        input_shape: (height, width, channels), at least 32x32 (default (32, 32, 1)).
        include_top: keep F6 and the classifier.
        pooling: with include_top=False, None (C5 feature map), "avg" or "max".
        classifier_activation: "softmax", None for logits, or any Keras activation.
        activation: "tanh" (paper) or "relu".
        subsampling: "avg" (paper) or "max".
        name: model name.

    Returns:
        An uncompiled `keras.Model` (61,706 parameters at the defaults).

    Example:
        >>> from dlzoo import build
        >>> model = build("lenet5", activation="relu", subsampling="max")
        >>> model.output_shape
        (None, 10)
    """
    check_head(include_top=include_top, pooling=pooling)
    check_num_classes(num_classes, include_top=include_top)
    if activation not in ("tanh", "relu"):
        raise ValueError(f"lenet5: activation must be 'tanh' or 'relu'; received {activation!r}.")
    if subsampling not in ("avg", "max"):
        raise ValueError(f"lenet5: subsampling must be 'avg' or 'max'; received {subsampling!r}.")
    input_shape = check_image_input(input_shape, name=name, min_size=MIN_SIZE)
    pool = layers.AveragePooling2D if subsampling == "avg" else layers.MaxPooling2D

    inputs = keras.Input(shape=input_shape, name="input")
    x = layers.Conv2D(6, 5, activation=activation, name="c1")(inputs)
    x = pool(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation=activation, name="c3")(x)
    x = pool(2, name="s4")(x)
    x = layers.Conv2D(120, 5, activation=activation, name="c5")(x)
    if include_top:
        x = classifier_head(
            x,
            num_classes=num_classes,
            classifier_activation=classifier_activation,
            flatten=True,
            hidden_units=(84,),
            hidden_names=("f6",),
            hidden_activation=activation,
        )
    else:
        x = pool_features(x, pooling)
    return keras.Model(inputs, x, name=name)


@register_model(
    family="lenet",
    default_input_shape=(32, 32, 1),
    default_num_classes=10,
    params=61_706,
    paper=PAPER,
    preprocessing="unit",
    feature_layers=("s2", "s4", "c5"),
    unfreeze_groups=("c1", "c3", "c5", "f6"),
    min_input_size=MIN_SIZE,
    description="LeNet-5, tanh and average pooling (ReLU / max-pool option), 32x32x1",
)
def lenet5(**kwargs):
    """LeNet-5, 32x32x1, 10 classes."""
    return LeNet(**kwargs)
