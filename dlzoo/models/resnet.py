"""ResNet (He et al. 2016a, 2016b): one configurable builder, the ImageNet and CIFAR variants.

`resnet50` ... `resnet152v2` are layer for layer keras.applications' ResNet50 ... ResNet152V2 (same
parameter counts, layer names, weight shapes and layer order), so its ImageNet weight files load.
`resnet18`/`resnet34` use basic blocks without convolution biases, like torchvision's. The CIFAR
networks (`resnet20` ... `resnet110`) follow section 4.2 of the paper: a 3x3 stem, three stages of
16/32/64 filters with n basic blocks each (6n + 2 layers) and parameter-free shortcuts (option A).
"""

from __future__ import annotations

import functools
import inspect

import keras
from keras import layers

from dlzoo.blocks.heads import classifier_head, pool_features
from dlzoo.blocks.residual import BN_EPSILON, basic_block, bottleneck_block
from dlzoo.registry import last_per_stage, prefixes_matching, register_model
from dlzoo.validation import (
    Downsample,
    check_choice,
    check_head,
    check_image_input,
    check_num_classes,
    check_positive_ints,
    min_spatial_size,
)
from dlzoo.weights import keras_applications_files

PAPER = "He, Zhang, Ren, Sun. Deep residual learning for image recognition. CVPR 2016."
PAPER_V2 = "He, Zhang, Ren, Sun. Identity mappings in deep residual networks. ECCV 2016."

BLOCKS = ("basic", "bottleneck")
STEMS = ("imagenet", "cifar")
SHORTCUTS = ("projection", "zero_pad")


def ResNet(
    *,
    depths=(3, 4, 6, 3),
    widths=(64, 128, 256, 512),
    block: str = "bottleneck",
    preact: bool = False,
    stem: str = "imagenet",
    stem_width: int | None = None,
    shortcut: str = "projection",
    expansion: int | None = None,
    conv_bias: bool | None = None,
    num_classes: int = 1000,
    input_shape=(224, 224, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    name: str = "resnet",
) -> keras.Model:
    """A residual network of any depth and width.

    Reference: He et al. 2016a (v1) and 2016b (pre-activation, v2). The defaults are ResNet-50,
    layer for layer keras.applications.ResNet50. Stages are named `conv2`, `conv3`, ... and blocks
    `conv{stage}_block{i}`; the stem is `conv1_*` (and `pool1_*` for the ImageNet stem). Every stage
    after the first halves the resolution: v1 strides its first block, v2 its predecessor's last
    block (keras.applications' layout, which gives the same shapes stage by stage).

    Args:
        depths: blocks per stage, e.g. (3, 4, 6, 3) for ResNet-50, (3, 3, 3) for ResNet-20.
        widths: filters per stage (the bottleneck width for bottleneck blocks), same length.
        block: "bottleneck" (1x1, 3x3, 1x1) or "basic" (3x3, 3x3).
        preact: pre-activation blocks (ResNet v2) instead of post-activation (v1).
        stem: "imagenet" (7x7/2 convolution and 3x3/2 max pool) or "cifar" (one 3x3 convolution).
        stem_width: filters of the stem convolution (default: widths[0]).
        shortcut: where a block changes width: "projection" (1x1 convolution, option B) or
            "zero_pad" (strided subsampling and zero channels, option A; widths must not shrink).
        expansion: bottleneck output channels per filter (default 4; basic blocks: 1).
        conv_bias: bias on the convolutions batch norm follows (default: True for v1 bottleneck
            networks, as keras.applications' Caffe-ported ResNet50 has; False otherwise).
        num_classes: output classes (default 1000).
        input_shape: (height, width, channels) (default (224, 224, 3)).
        include_top: keep the average pool and the classifier.
        pooling: with include_top=False, None (feature map), "avg" or "max".
        classifier_activation: "softmax", None for logits, or any Keras activation.
        name: model name.

    Returns:
        An uncompiled `keras.Model`.

    Example:
        >>> from dlzoo.models.resnet import ResNet
        >>> model = ResNet(depths=(2, 2), widths=(16, 32), block="basic", stem="cifar",
        ...                input_shape=(32, 32, 3), num_classes=10)
    """
    depths, widths, expansion, stem_width, conv_bias = _check_resnet_args(
        depths=depths, widths=widths, block=block, preact=preact, stem=stem,
        stem_width=stem_width, shortcut=shortcut, expansion=expansion, conv_bias=conv_bias,
        name=name)
    check_head(include_top=include_top, pooling=pooling)
    check_num_classes(num_classes, include_top=include_top)
    input_shape = check_image_input(
        input_shape, name=name, min_size=resnet_min_size(num_stages=len(depths), stem=stem, block=block, preact=preact)
    )

    inputs = keras.Input(shape=input_shape, name="input_layer")
    x = _stem(inputs, stem=stem, width=stem_width, preact=preact, conv_bias=conv_bias)
    x = _stages(x, depths=depths, widths=widths, block=block, preact=preact, shortcut=shortcut,
                expansion=expansion, in_channels=stem_width, conv_bias=conv_bias)
    if preact:
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name="post_bn")(x)
        x = layers.Activation("relu", name="post_relu")(x)
    if include_top:
        x = classifier_head(x, num_classes=num_classes, classifier_activation=classifier_activation)
    else:
        x = pool_features(x, pooling)
    return keras.Model(inputs, x, name=name)


def _check_resnet_args(*, depths, widths, block, preact, stem, stem_width, shortcut, expansion,
                       conv_bias, name):
    """Validates the architecture arguments; returns (depths, widths, expansion, stem_width,
    conv_bias) with the defaults that depend on the others filled in."""
    check_choice(block, arg="block", name=name, allowed=BLOCKS)
    check_choice(stem, arg="stem", name=name, allowed=STEMS)
    check_choice(shortcut, arg="shortcut", name=name, allowed=SHORTCUTS)
    check_choice(preact, arg="preact", name=name, allowed=(False, True))
    depths = check_positive_ints(depths, arg="depths", name=name)
    widths = check_positive_ints(widths, arg="widths", name=name, length=len(depths))
    if expansion is None:
        expansion = 4 if block == "bottleneck" else 1
    (expansion,) = check_positive_ints((expansion,), arg="expansion", name=name)
    if block == "basic" and expansion != 1:
        raise ValueError(
            f"{name}: expansion applies to bottleneck blocks; basic blocks output `widths` channels. "
            f"Received expansion={expansion} with block='basic'; leave expansion=None."
        )
    if stem_width is None:
        stem_width = widths[0]
    (stem_width,) = check_positive_ints((stem_width,), arg="stem_width", name=name)
    if conv_bias is None:
        conv_bias = block == "bottleneck" and not preact
    check_choice(conv_bias, arg="conv_bias", name=name, allowed=(False, True))
    channels = (stem_width,) + tuple(w * expansion for w in widths)
    if shortcut == "zero_pad" and any(b < a for a, b in zip(channels, channels[1:])):
        raise ValueError(
            f"{name}: shortcut='zero_pad' pads channels with zeros, so stage outputs cannot shrink; "
            f"received stem_width={stem_width}, widths={widths}, expansion={expansion} "
            f"(outputs {channels}). Use shortcut='projection' or non-decreasing widths."
        )
    return depths, widths, expansion, stem_width, conv_bias


def _stages(x, *, depths, widths, block, preact, shortcut, expansion, in_channels, conv_bias):
    """The residual stages `conv2`, `conv3`, ...: blocks `conv{stage}_block{i}`."""
    residual = bottleneck_block if block == "bottleneck" else basic_block
    extra = {"expansion": expansion} if block == "bottleneck" else {}
    for s, (depth, width) in enumerate(zip(depths, widths)):
        out_channels = width * expansion
        for i in range(1, depth + 1):
            if not preact:
                stride = 2 if (i == 1 and s > 0) else 1
                widen = i == 1 and (stride > 1 or in_channels != out_channels)
            else:
                stride = 2 if (i == depth and s + 1 < len(depths)) else 1
                widen = i == 1 and in_channels != out_channels
            x = residual(
                x,
                width,
                name=f"conv{s + 2}_block{i}",
                stride=stride,
                shortcut=shortcut if widen else "identity",
                preact=preact,
                conv_bias=conv_bias,
                **extra,
            )
        in_channels = out_channels
    return x


def _stem(x, *, stem: str, width: int, preact: bool, conv_bias: bool):
    # The stem convolution of a pre-activation network feeds the first block's batch norm through
    # nothing of its own, so it keeps its bias (keras.applications' ResNet50V2 does).
    bias = True if preact else conv_bias
    if stem == "imagenet":
        x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
        x = layers.Conv2D(width, 7, strides=2, use_bias=bias, name="conv1_conv")(x)
    else:
        x = layers.Conv2D(width, 3, padding="same", use_bias=bias, name="conv1_conv")(x)
    if not preact:
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name="conv1_bn")(x)
        x = layers.Activation("relu", name="conv1_relu")(x)
    if stem == "imagenet":
        x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    return x


def resnet_min_size(*, num_stages: int, stem: str, block: str, preact: bool) -> int:
    """Smallest input side, from the stem and the strided convolution of every later stage."""
    ops = []
    if stem == "imagenet":
        ops += [Downsample(7, 2, "valid", 3), Downsample(3, 2, "valid", 1)]
    if block == "bottleneck" and not preact:
        stage = Downsample(1, 2)  # the stride sits on a 1x1 convolution
    else:
        stage = Downsample(3, 2, "valid", 1)
    ops += [stage] * (num_stages - 1)
    return min_spatial_size(ops)


def stage_outputs(depths, *, preact: bool) -> tuple:
    """Names of the layers that end each stage (the features for transfer learning)."""
    names = [f"conv{s + 2}_block{d}_out" for s, d in enumerate(depths)]
    if preact:
        names[-1] = "post_relu"  # the last block's sum is not yet normalised
    return tuple(names)


# keras.applications' ImageNet files (keras/src/applications/resnet.py: same URLs and md5s), which
# load layer for layer; `build(..., weights="imagenet")` fetches them (dlzoo.weights).
IMAGENET_WEIGHTS = {
    "resnet50": keras_applications_files("resnet", "resnet50", "2cb95161c43110f7111970584f804107",
                                         "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": keras_applications_files("resnet", "resnet101", "f1aeb4b969a6efcfb50fad2f0c20cfc5",
                                          "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": keras_applications_files("resnet", "resnet152", "100835be76be38e30d865e96f2aaae62",
                                          "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": keras_applications_files("resnet", "resnet50v2", "3ef43a0b657b3be2300d5770ece849e0",
                                           "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": keras_applications_files("resnet", "resnet101v2", "6343647c601c52e1368623803854d971",
                                            "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": keras_applications_files("resnet", "resnet152v2", "a49b44d1979771252814e80f8ec446f9",
                                            "ed17cf2e0169df9d443503ef94b23b33"),
}


# --- the variants ------------------------------------------------------------------------------
# What cannot be derived: keras.applications' published parameter counts (resnet50 ... resnet152v2),
# torchvision's (resnet18/34: 11,689,512 / 21,797,672 trainable, plus BatchNormalization's moving
# statistics) and the CIFAR networks' (within 3% of the paper's 0.27M, 0.46M, 0.66M, 0.85M, 1.7M);
# tests/models/test_param_counts.py checks each against a build.
PARAMS = {
    "resnet18": 11_699_112, "resnet34": 21_814_696, "resnet50": 25_636_712,
    "resnet101": 44_707_176, "resnet152": 60_419_944, "resnet50v2": 25_613_800,
    "resnet101v2": 44_675_560, "resnet152v2": 60_380_648, "resnet20": 271_098,
    "resnet32": 466_426, "resnet44": 661_754, "resnet56": 857_082, "resnet110": 1_736_058,
}


# Feature layers and unfreeze groups are read off the built model (the last block of each stage,
# `post_relu` ending a v2 network; the stage prefixes), so they hold for any `depths`.
def _stage_features(names):
    outputs = last_per_stage(r"conv(\d+)_block\d+_out")(names)
    if outputs and "post_relu" in names:
        outputs[-1] = "post_relu"  # a v2 network's last block sum is not yet normalised
    return outputs


# The registry suite's cost (graph tracing, XLA compiles on JAX) grows with the number of layers,
# so its smoke builds are shallow: two blocks then one, in two stages, still take every kind of
# block and shortcut (identity, strided, widening). tests/test_resnet.py builds the full depths.
_IMAGENET_SMOKE = {"input_shape": (32, 32, 3), "num_classes": 3, "depths": (2, 1), "widths": (8, 16)}
_CIFAR_SMOKE = {"input_shape": (16, 16, 3), "num_classes": 3, "depths": (2, 1), "widths": (4, 8)}
_BASIC = {"block": "basic", "conv_bias": False}
_CIFAR = {"block": "basic", "stem": "cifar", "shortcut": "zero_pad", "conv_bias": False,
          "widths": (16, 32, 64), "input_shape": (32, 32, 3), "num_classes": 10}
_DEFAULTS = {k: p.default for k, p in inspect.signature(ResNet).parameters.items()}


def _facts(name: str, config: dict) -> dict:
    """The registry facts that follow from a variant's config (`ResNet`'s arguments over its
    defaults) and the family's tables."""
    c = {**_DEFAULTS, **config}
    depths, preact, stem = tuple(c["depths"]), c["preact"], c["stem"]
    groups = ("conv1_",) + tuple(f"conv{s + 2}_" for s in range(len(depths)))
    return {
        "family": "resnet",
        "default_input_shape": tuple(c["input_shape"]),
        "default_num_classes": c["num_classes"],
        "params": PARAMS.get(name),
        "paper": PAPER_V2 if preact else PAPER,
        "weights": ("imagenet",) if name in IMAGENET_WEIGHTS else (),
        "preprocessing": "tf" if preact or stem == "cifar" else "caffe",
        "feature_layers": stage_outputs(depths, preact=preact),
        "unfreeze_groups": groups + (("post_",) if preact else ()),
        "min_input_size": resnet_min_size(num_stages=len(depths), stem=stem, block=c["block"],
                                          preact=preact),
        "smoke_overrides": _CIFAR_SMOKE if stem == "cifar" else _IMAGENET_SMOKE,
        "feature_rule": _stage_features,
        "unfreeze_rule": prefixes_matching(r"(conv\d+_|post_)"),
    }


def _variant(**config):
    """Registers the decorated function as a ResNet variant with `config`, its `ResNet` arguments,
    written once here: the registry's facts follow from them (`_facts`), and the variant builds
    `ResNet(name=<its name>, **config, **kwargs)`, any argument overridable (`depths=(1, 1, 1)`)."""

    def register(fn):
        name = fn.__name__

        @functools.wraps(fn)
        def builder(**kwargs):
            return fn(**{"name": name, **config, **kwargs})

        return register_model(**_facts(name, config))(builder)

    return register


# Each variant: its config, and a docstring whose first line `dlzoo list` shows.
@_variant(depths=(2, 2, 2, 2), **_BASIC)
def resnet18(**kwargs):
    """ResNet-18 (basic blocks), 224x224x3

    Takes every `ResNet` argument.
    """
    return ResNet(**kwargs)


@_variant(depths=(3, 4, 6, 3), **_BASIC)
def resnet34(**kwargs):
    """ResNet-34 (basic blocks), 224x224x3

    Takes every `ResNet` argument.
    """
    return ResNet(**kwargs)


@_variant(depths=(3, 4, 6, 3))
def resnet50(**kwargs):
    """ResNet-50 = keras.applications.ResNet50, 224x224x3

    Takes every `ResNet` argument.
    """
    return ResNet(**kwargs)


@_variant(depths=(3, 4, 23, 3))
def resnet101(**kwargs):
    """ResNet-101 = keras.applications.ResNet101, 224x224x3

    Takes every `ResNet` argument.
    """
    return ResNet(**kwargs)


@_variant(depths=(3, 8, 36, 3))
def resnet152(**kwargs):
    """ResNet-152 = keras.applications.ResNet152, 224x224x3

    Takes every `ResNet` argument.
    """
    return ResNet(**kwargs)


@_variant(depths=(3, 4, 6, 3), preact=True)
def resnet50v2(**kwargs):
    """ResNet-50 v2 (pre-activation) = keras.applications.ResNet50V2, 224x224x3

    Takes every `ResNet` argument.
    """
    return ResNet(**kwargs)


@_variant(depths=(3, 4, 23, 3), preact=True)
def resnet101v2(**kwargs):
    """ResNet-101 v2 (pre-activation) = keras.applications.ResNet101V2, 224x224x3

    Takes every `ResNet` argument.
    """
    return ResNet(**kwargs)


@_variant(depths=(3, 8, 36, 3), preact=True)
def resnet152v2(**kwargs):
    """ResNet-152 v2 (pre-activation) = keras.applications.ResNet152V2, 224x224x3

    Takes every `ResNet` argument.
    """
    return ResNet(**kwargs)


@_variant(depths=(3, 3, 3), **_CIFAR)
def resnet20(**kwargs):
    """CIFAR ResNet-20 (3x3 basic blocks, option A shortcuts), 32x32x3

    He et al. 2016a, section 4.2; takes every `ResNet` argument.
    """
    return ResNet(**kwargs)


@_variant(depths=(5, 5, 5), **_CIFAR)
def resnet32(**kwargs):
    """CIFAR ResNet-32 (3x5 basic blocks, option A shortcuts), 32x32x3

    He et al. 2016a, section 4.2; takes every `ResNet` argument.
    """
    return ResNet(**kwargs)


@_variant(depths=(7, 7, 7), **_CIFAR)
def resnet44(**kwargs):
    """CIFAR ResNet-44 (3x7 basic blocks, option A shortcuts), 32x32x3

    He et al. 2016a, section 4.2; takes every `ResNet` argument.
    """
    return ResNet(**kwargs)


@_variant(depths=(9, 9, 9), **_CIFAR)
def resnet56(**kwargs):
    """CIFAR ResNet-56 (3x9 basic blocks, option A shortcuts), 32x32x3

    He et al. 2016a, section 4.2; takes every `ResNet` argument.
    """
    return ResNet(**kwargs)


@_variant(depths=(18, 18, 18), **_CIFAR)
def resnet110(**kwargs):
    """CIFAR ResNet-110 (3x18 basic blocks, option A shortcuts), 32x32x3

    He et al. 2016a, section 4.2; takes every `ResNet` argument.
    """
    return ResNet(**kwargs)
