"""AlexNet (Krizhevsky, Sutskever, Hinton 2012)."""

from __future__ import annotations

import keras
from keras import layers

from dlzoo.blocks.conv import conv_bn_act
from dlzoo.blocks.heads import classifier_head, pool_features
from dlzoo.layers import LocalResponseNormalization
from dlzoo.registry import register_model
from dlzoo.validation import (
    Downsample,
    check_head,
    check_image_input,
    check_num_classes,
    min_spatial_size,
)

PAPER = ("Krizhevsky, Sutskever, Hinton. ImageNet classification with deep convolutional neural "
         "networks. NeurIPS 2012.")

# conv1 11x11/4 valid, pool 3x3/2, conv2 same, pool 3x3/2, conv3-5 same, pool 3x3/2.
_DOWNSAMPLING = [Downsample(11, 4), Downsample(3, 2), Downsample(5, 1, "same"), Downsample(3, 2),
                 Downsample(3, 1, "same"), Downsample(3, 1, "same"), Downsample(3, 1, "same"),
                 Downsample(3, 2)]
MIN_SIZE = min_spatial_size(_DOWNSAMPLING)


def AlexNet(
    *,
    num_classes: int = 1000,
    input_shape=(227, 227, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    towers: int = 2,
    lrn: bool = True,
    dropout: float = 0.5,
    fc_units: int = 4096,
    name: str = "alexnet",
) -> keras.Model:
    """AlexNet: five convolutions (96-256-384-384-256), LRN, overlapping pools, two 4,096-unit layers.

    Reference: Krizhevsky et al. 2012. The paper split conv2, conv4 and conv5 across two GPUs, each
    half seeing only its own tower's maps; `towers=2` reproduces that with grouped convolutions
    (60,965,224 parameters at 1,000 classes), `towers=1` is the common single-tower network
    (62,378,344). The input is 227x227 (the paper's "224" does not fit its own arithmetic).

    Args:
        num_classes: output classes (default 1000).
        input_shape: (height, width, channels), at least 67x67 (default (227, 227, 3)).
        include_top: keep fc6, fc7 and the classifier.
        pooling: with include_top=False, None (feature map), "avg" or "max".
        classifier_activation: "softmax", None for logits, or any Keras activation.
        towers: 2 (the paper's grouped conv2/conv4/conv5) or 1.
        lrn: local response normalisation after conv1 and conv2.
        dropout: dropout rate after fc6 and fc7 (0.5 in the paper).
        fc_units: width of fc6 and fc7 (4096).
        name: model name.

    Example:
        >>> from dlzoo import build
        >>> model = build("alexnet", num_classes=10, towers=1)
        >>> model.output_shape
        (None, 10)
    """
    check_head(include_top=include_top, pooling=pooling)
    check_num_classes(num_classes, include_top=include_top)
    if towers not in (1, 2):
        raise ValueError(f"alexnet: towers must be 1 or 2; received {towers!r}.")
    input_shape = check_image_input(input_shape, name=name, min_size=MIN_SIZE)

    inputs = keras.Input(shape=input_shape, name="input")
    x = conv_bn_act(inputs, 96, 11, strides=4, padding="valid", name="conv1")
    if lrn:
        x = LocalResponseNormalization(name="norm1")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = conv_bn_act(x, 256, 5, groups=towers, name="conv2")
    if lrn:
        x = LocalResponseNormalization(name="norm2")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool2")(x)
    x = conv_bn_act(x, 384, 3, name="conv3")
    x = conv_bn_act(x, 384, 3, groups=towers, name="conv4")
    x = conv_bn_act(x, 256, 3, groups=towers, name="conv5")
    x = layers.MaxPooling2D(3, strides=2, name="pool5")(x)
    if include_top:
        x = classifier_head(
            x,
            num_classes=num_classes,
            classifier_activation=classifier_activation,
            flatten=True,
            hidden_units=(fc_units, fc_units),
            hidden_names=("fc6", "fc7"),
            dropout=dropout,
        )
    else:
        x = pool_features(x, pooling)
    return keras.Model(inputs, x, name=name)


@register_model(
    family="alexnet",
    default_input_shape=(227, 227, 3),
    default_num_classes=1000,
    params=60_965_224,
    paper=PAPER,
    preprocessing="unit",
    feature_layers=("pool1", "pool2", "pool5"),
    unfreeze_groups=("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"),
    min_input_size=MIN_SIZE,
    smoke_overrides={"input_shape": (MIN_SIZE, MIN_SIZE, 3), "num_classes": 5, "fc_units": 64},
    description="AlexNet with the paper's two towers (grouped conv2/4/5) and LRN, 227x227x3",
)
def alexnet(**kwargs):
    """AlexNet, two towers, 227x227x3, 1,000 classes."""
    return AlexNet(**kwargs)
