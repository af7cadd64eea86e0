"""VGG (Simonyan & Zisserman 2015), layer for layer with keras.applications.vgg16/vgg19."""

from __future__ import annotations

import keras
from keras import layers

from dlzoo.blocks.conv import conv_bn_act
from dlzoo.blocks.heads import classifier_head, pool_features
from dlzoo.registry import layers_matching, prefixes_matching, register_model
from dlzoo.validation import (
    Downsample,
    check_head,
    check_image_input,
    check_int,
    check_num_classes,
    check_rate,
    min_spatial_size,
)
from dlzoo.weights import keras_applications_files

PAPER = ("Simonyan, Zisserman. Very deep convolutional networks for large-scale image "
         "recognition. ICLR 2015.")

# Convolutions per block for configurations A (11), B (13), D (16) and E (19) of the paper.
CONFIGS = {
    11: (1, 1, 2, 2, 2),
    13: (2, 2, 2, 2, 2),
    16: (2, 2, 3, 3, 3),
    19: (2, 2, 4, 4, 4),
}
FILTERS = (64, 128, 256, 512, 512)
# Five 2x2/2 max pools; the 3x3 convolutions are "same".
MIN_SIZE = min_spatial_size([Downsample(2, 2)] * 5)


def VGG(
    *,
    depth: int = 16,
    batch_norm: bool = False,
    num_classes: int = 1000,
    input_shape=(224, 224, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    fc_units: int = 4096,
    dropout: float = 0.5,
    name: str | None = None,
) -> keras.Model:
    """VGG-11/13/16/19, optionally with batch normalisation after every convolution.

    Reference: Simonyan & Zisserman 2015. Layer names and weight shapes are those of
    keras.applications (`block1_conv1` ... `block5_pool`, `flatten`, `fc1`, `fc2`, `predictions`), so
    its ImageNet weight files load. The paper's dropout (0.5 after fc1 and fc2) adds `fc1_dropout`
    and `fc2_dropout` layers, which hold no weights; `dropout=0` removes them.

    Args:
        depth: 11, 13, 16 or 19.
        batch_norm: BatchNormalization after each convolution (`block1_conv1_bn`, ...).
        num_classes: output classes (default 1000).
        input_shape: (height, width, channels), at least 32x32 (default (224, 224, 3)).
        include_top: keep fc1, fc2 and the classifier.
        pooling: with include_top=False, None (feature map), "avg" or "max".
        classifier_activation: "softmax", None for logits, or any Keras activation.
        fc_units: width of fc1 and fc2 (4096).
        dropout: dropout after fc1 and fc2.
        name: model name (default "vgg16", "vgg16_bn", ...).

    Example:
        >>> from dlzoo import build
        >>> model = build("vgg16", include_top=False, pooling="avg", input_shape=(64, 64, 3))
        >>> model.output_shape
        (None, 512)
    """
    if depth not in CONFIGS:
        raise ValueError(f"vgg: depth must be one of {sorted(CONFIGS)}; received {depth!r}.")
    return _plain_stages(
        stages=CONFIGS[depth],
        filters=FILTERS,
        kernel_size=3,
        batch_norm=batch_norm,
        num_classes=num_classes,
        input_shape=input_shape,
        include_top=include_top,
        pooling=pooling,
        classifier_activation=classifier_activation,
        fc_units=(fc_units, fc_units),
        dropout=dropout,
        name=name or f"vgg{depth}{'_bn' if batch_norm else ''}",
    )


def PlainCNN(
    *,
    stages=(2, 2, 2),
    filters=(32, 64, 128),
    kernel_size: int = 3,
    batch_norm: bool = False,
    num_classes: int = 10,
    input_shape=(32, 32, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    fc_units=(256,),
    dropout: float = 0.5,
    name: str = "plain_cnn",
) -> keras.Model:
    """A configurable VGG-style plain CNN: stages of "same" convolutions, each closed by a 2x2 pool.

    The VGG builder with its stage table opened up (LeNet/VGG-like networks of any depth and
    width); the architecture search's `cnn` hypermodel builds through it. Layer names follow VGG's
    (`block1_conv1` ... `blockN_pool`, `flatten`, `fc1`, ..., `predictions`).

    Args:
        stages: convolutions per stage, e.g. (2, 2, 2); one 2x2/2 max pool closes each stage.
        filters: channels of each stage's convolutions, one int per stage.
        kernel_size: odd square kernel size of every convolution (3).
        batch_norm: BatchNormalization after each convolution.
        num_classes: output classes (10).
        input_shape: (height, width, channels); each side at least 2 ** len(stages).
        include_top: keep the dense layers and the classifier.
        pooling: with include_top=False, None (feature map), "avg" or "max".
        classifier_activation: "softmax", None for logits, or any Keras activation.
        fc_units: widths of the dense layers before the classifier ((256,); () for none).
        dropout: dropout after each dense layer.
        name: model name.

    Example:
        >>> from dlzoo import build
        >>> model = build("plain_cnn", stages=(1, 1), filters=(8, 16), input_shape=(16, 16, 1))
        >>> model.output_shape
        (None, 10)
    """
    return _plain_stages(
        stages=stages, filters=filters, kernel_size=kernel_size, batch_norm=batch_norm,
        num_classes=num_classes, input_shape=input_shape, include_top=include_top,
        pooling=pooling, classifier_activation=classifier_activation, fc_units=fc_units,
        dropout=dropout, name=name,
    )


def check_plain_stages(stages, filters, kernel_size, fc_units, dropout, *, name: str) -> tuple:
    """Validates a stage table; returns (stages, filters, fc_units) as tuples of ints."""
    def int_tuple(value, arg):
        if isinstance(value, bool) or not isinstance(value, (list, tuple)) or not value or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value
        ):
            raise ValueError(
                f"{name}: {arg} must be a non-empty list of positive integers; received "
                f"{value!r}."
            )
        return tuple(value)

    stages = int_tuple(stages, "stages")
    filters = int_tuple(filters, "filters")
    if len(filters) != len(stages):
        raise ValueError(
            f"{name}: filters needs one entry per stage ({len(stages)} stages); received "
            f"{len(filters)}: {filters!r}."
        )
    check_int(kernel_size, arg="kernel_size", name=name)
    if kernel_size % 2 == 0:
        raise ValueError(f"{name}: kernel_size must be odd (1, 3, 5, ...); received {kernel_size}.")
    fc_units = () if fc_units in ((), []) else int_tuple(fc_units, "fc_units")
    check_rate(dropout, arg="dropout", name=name)
    return stages, filters, fc_units


def _plain_stages(*, stages, filters, kernel_size, batch_norm, num_classes, input_shape,
                  include_top, pooling, classifier_activation, fc_units, dropout, name):
    stages, filters, fc_units = check_plain_stages(stages, filters, kernel_size, fc_units, dropout,
                                                   name=name)
    check_head(include_top=include_top, pooling=pooling)
    check_num_classes(num_classes, include_top=include_top)
    input_shape = check_image_input(
        input_shape, name=name, min_size=min_spatial_size([Downsample(2, 2)] * len(stages))
    )

    inputs = keras.Input(shape=input_shape, name="input_layer")
    x = inputs
    for b, (convs, width) in enumerate(zip(stages, filters), start=1):
        for i in range(1, convs + 1):
            x = conv_bn_act(x, width, kernel_size, batch_norm=batch_norm, name=f"block{b}_conv{i}")
        x = layers.MaxPooling2D(2, strides=2, name=f"block{b}_pool")(x)
    if include_top:
        x = classifier_head(
            x,
            num_classes=num_classes,
            classifier_activation=classifier_activation,
            flatten=True,
            hidden_units=fc_units,
            hidden_names=tuple(f"fc{i}" for i in range(1, len(fc_units) + 1)),
            dropout=dropout,
        )
    else:
        x = pool_features(x, pooling)
    return keras.Model(inputs, x, name=name)


# keras.applications' ImageNet files (keras/src/applications/vgg16.py, vgg19.py: same URLs and
# md5s), which load layer for layer; `build(..., weights="imagenet")` fetches them (dlzoo.weights).
IMAGENET_WEIGHTS = {
    "vgg16": keras_applications_files("vgg16", "vgg16", "64373286793e3c8b2b4e3219cbf3544b",
                                      "6d6bbae143d832006294945121d1f1fc"),
    "vgg19": keras_applications_files("vgg19", "vgg19", "cbe5617147190e668d6c5d5026f83318",
                                      "253f8cb515780f3b799900260a226db6"),
}


# Registry facts every VGG shares. Feature layers (each block's pool) and unfreeze groups (the
# blocks, then the dense layers) are read off the built model, so they follow any stage table.
_FEATURES = layers_matching(r"block\d+_pool")
_GROUPS = prefixes_matching(r"(block\d+_|fc\d+)")
_VGG = {
    "family": "vgg",
    "default_input_shape": (224, 224, 3),
    "default_num_classes": 1000,
    "paper": PAPER,
    "preprocessing": "caffe",
    "feature_layers": tuple(f"block{b}_pool" for b in range(1, 6)),
    "unfreeze_groups": tuple(f"block{b}_" for b in range(1, 6)) + ("fc1", "fc2"),
    "feature_rule": _FEATURES,
    "unfreeze_rule": _GROUPS,
    "min_input_size": MIN_SIZE,
    "smoke_overrides": {"input_shape": (32, 32, 3), "num_classes": 5, "fc_units": 32},
}


# Parameter counts at 224x224x3 and 1,000 classes, as Keras counts them: keras.applications' for
# vgg16/vgg19; the _bn variants add 4 weights per conv channel (gamma, beta and the two moving
# statistics), so their trainable counts equal torchvision's vgg*_bn (vgg16_bn: 138,365,992).
@register_model(**_VGG, params=132_863_336, description="VGG-11, 224x224x3")
def vgg11(**kwargs):
    """VGG-11, 224x224x3."""
    return VGG(depth=11, batch_norm=False, **kwargs)


@register_model(**_VGG, params=132_874_344, description="VGG-11 with batch norm, 224x224x3")
def vgg11_bn(**kwargs):
    """VGG-11 with batch normalisation, 224x224x3."""
    return VGG(depth=11, batch_norm=True, **kwargs)


@register_model(**_VGG, params=133_047_848, description="VGG-13, 224x224x3")
def vgg13(**kwargs):
    """VGG-13, 224x224x3."""
    return VGG(depth=13, batch_norm=False, **kwargs)


@register_model(**_VGG, params=133_059_624, description="VGG-13 with batch norm, 224x224x3")
def vgg13_bn(**kwargs):
    """VGG-13 with batch normalisation, 224x224x3."""
    return VGG(depth=13, batch_norm=True, **kwargs)


@register_model(**_VGG, params=138_357_544, weights=("imagenet",), description="VGG-16, 224x224x3")
def vgg16(**kwargs):
    """VGG-16, 224x224x3."""
    return VGG(depth=16, batch_norm=False, **kwargs)


@register_model(**_VGG, params=138_374_440, description="VGG-16 with batch norm, 224x224x3")
def vgg16_bn(**kwargs):
    """VGG-16 with batch normalisation, 224x224x3."""
    return VGG(depth=16, batch_norm=True, **kwargs)


@register_model(**_VGG, params=143_667_240, weights=("imagenet",), description="VGG-19, 224x224x3")
def vgg19(**kwargs):
    """VGG-19, 224x224x3."""
    return VGG(depth=19, batch_norm=False, **kwargs)


@register_model(**_VGG, params=143_689_256, description="VGG-19 with batch norm, 224x224x3")
def vgg19_bn(**kwargs):
    """VGG-19 with batch normalisation, 224x224x3."""
    return VGG(depth=19, batch_norm=True, **kwargs)


@register_model(
    family="plain_cnn",  # VGG's builder, but not one of the paper's configurations
    default_input_shape=(32, 32, 3),
    default_num_classes=10,
    paper=PAPER,
    preprocessing="unit",
    feature_layers=("block1_pool", "block2_pool", "block3_pool"),
    unfreeze_groups=("block1_", "block2_", "block3_", "fc1"),
    feature_rule=_FEATURES,
    unfreeze_rule=_GROUPS,
    min_input_size=8,
    smoke_overrides={"input_shape": (16, 16, 1), "num_classes": 3, "stages": (1, 2),
                     "filters": (4, 8), "kernel_size": 5, "batch_norm": True, "fc_units": (16,),
                     "dropout": 0.0},
    description="Configurable VGG-style plain CNN (stages, filters, kernel, batch norm), 32x32x3",
)
def plain_cnn(**kwargs):
    """Configurable VGG-style plain CNN, three stages of 32/64/128 filters, 32x32x3."""
    return PlainCNN(**kwargs)
