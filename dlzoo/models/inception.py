"""Inception: GoogLeNet (Inception v1, Szegedy et al. 2015) and Inception v3 (Szegedy et al. 2016).

`inception_v3` is layer for layer keras.applications.InceptionV3 (23,851,784 parameters, `mixed0`
... `mixed10`, the same layer order), so its ImageNet weight files load. `googlenet` follows the
paper's Table 1 and the Caffe reference model's layer names, with optional auxiliary classifiers
and an optional batch-normalised version.
"""

from __future__ import annotations

import keras
from keras import layers

from dlzoo.blocks.conv import conv_bn_act
from dlzoo.blocks.heads import classifier_head, pool_features
from dlzoo.blocks.inception import (
    conv_bn_relu,
    inception_v1_block,
    inception_v3_a,
    inception_v3_b,
    inception_v3_c,
    inception_v3_reduction_a,
    inception_v3_reduction_b,
    scaled_depth,
)
from dlzoo.layers import LocalResponseNormalization
from dlzoo.registry import (
    last_per_stage,
    layers_matching,
    prefixes_matching,
    register_model,
)
from dlzoo.validation import (
    Downsample,
    check_choice,
    check_head,
    check_image_input,
    check_num_classes,
    check_positive_ints,
    head_activation,
    min_spatial_size,
)
from dlzoo.weights import keras_applications_files

PAPER_V1 = "Szegedy et al. Going deeper with convolutions. CVPR 2015."
PAPER_V3 = "Szegedy, Vanhoucke, Ioffe, Shlens, Wojna. Rethinking the Inception architecture for computer vision. CVPR 2016."

# GoogLeNet, Table 1: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj) per module; a 3x3/2
# max pool follows each stage (3b, 4e).
GOOGLENET_MODULES = (
    ("3a", (64, 96, 128, 16, 32, 32)),
    ("3b", (128, 128, 192, 32, 96, 64)),
    ("4a", (192, 96, 208, 16, 48, 64)),
    ("4b", (160, 112, 224, 24, 64, 64)),
    ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
    ("5a", (256, 160, 320, 32, 128, 128)),
    ("5b", (384, 192, 384, 48, 128, 128)),
)
_AUX_AFTER = {"4a": "aux1", "4d": "aux2"}


def googlenet_min_size(aux_classifiers: bool) -> int:
    # The 7x7/2 convolution is padded by 3 and every pool is "same", so only the auxiliary heads'
    # 5x5/3 average pool (on the 4a and 4d outputs, at 1/16 of the input) sets a minimum.
    ops = [Downsample(7, 2, "valid", 3)] + [Downsample(3, 2, "same")] * 3
    if aux_classifiers:
        ops.append(Downsample(5, 3))
    return min_spatial_size(ops)


def GoogLeNet(
    *,
    num_classes: int = 1000,
    input_shape=(224, 224, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    aux_classifiers: bool = False,
    batch_norm: bool = False,
    dropout: float = 0.4,
    modules=GOOGLENET_MODULES,
    name: str | None = None,
) -> keras.Model:
    """GoogLeNet (Inception v1): a 7x7/2 stem, nine Inception modules, global average pooling.

    Reference: Szegedy et al. 2015, Table 1 and section 5. Layer names follow the Caffe reference
    model (`conv1_7x7_s2`, `inception_3a_1x1`, ..., `inception_5b_output`). The paper's local
    response normalisation follows `pool1` and `conv2`; the batch-normalised version
    (`batch_norm=True`, as torchvision's) drops it, drops the convolution biases and keeps the
    paper's 5x5 convolutions.

    Args:
        num_classes: output classes (default 1000).
        input_shape: (height, width, channels) (default (224, 224, 3); with the auxiliary
            classifiers at least 65x65).
        include_top: keep the average pool, dropout and classifier (and the auxiliary heads).
        pooling: with include_top=False, None (feature map), "avg" or "max".
        classifier_activation: "softmax", None for logits, or any Keras activation.
        aux_classifiers: add the two training-time auxiliary classifiers on modules 4a and 4d
            (5x5/3 average pool, 1x1 convolution of 128, 1024-unit dense, 70% dropout). The model
            then has three outputs, `[predictions, aux1_predictions, aux2_predictions]`; the paper
            weights their losses 1, 0.3, 0.3: `compile(loss=[loss] * 3, loss_weights=[1.0, 0.3, 0.3])`.
        batch_norm: BatchNormalization after every convolution, no LRN.
        dropout: dropout before the classifier (paper: 0.4).
        modules: the Inception modules in order, as `(label, (#1x1, #3x3 reduce, #3x3,
            #5x5 reduce, #5x5, pool proj))` (default: Table 1's nine, `GOOGLENET_MODULES`). A 3x3/2
            max pool separates stages, where the label's leading digit changes ("3b" -> "4a");
            the auxiliary classifiers attach to "4a" and "4d".
        name: model name (default "googlenet" or "googlenet_bn").

    Returns:
        An uncompiled `keras.Model`.

    Example:
        >>> from dlzoo import build
        >>> model = build("googlenet", num_classes=10, input_shape=(96, 96, 3))
        >>> model.output_shape
        (None, 10)
    """
    name = name or ("googlenet_bn" if batch_norm else "googlenet")
    check_choice(aux_classifiers, arg="aux_classifiers", name=name, allowed=(False, True))
    check_choice(batch_norm, arg="batch_norm", name=name, allowed=(False, True))
    _check_rate(dropout, arg="dropout", name=name)
    modules = _check_modules(modules, name=name)
    if aux_classifiers and include_top and not set(_AUX_AFTER) <= {label for label, _ in modules}:
        raise ValueError(
            f"{name}: aux_classifiers=True attaches to modules 4a and 4d; modules has "
            f"{[label for label, _ in modules]}. Include them or pass aux_classifiers=False."
        )
    check_head(include_top=include_top, pooling=pooling)
    check_num_classes(num_classes, include_top=include_top)
    aux = aux_classifiers and include_top
    input_shape = check_image_input(input_shape, name=name, min_size=googlenet_min_size(aux))

    inputs = keras.Input(shape=input_shape, name="input_layer")
    x = _googlenet_stem(inputs, batch_norm=batch_norm)
    aux_outputs = []
    for i, (label, filters) in enumerate(modules):
        if i and label[0] != modules[i - 1][0][0]:
            x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{modules[i - 1][0][0]}_3x3_s2")(x)
        x = inception_v1_block(x, filters, name=f"inception_{label}", batch_norm=batch_norm)
        if aux and label in _AUX_AFTER:
            aux_outputs.append(
                _aux_head(x, name=_AUX_AFTER[label], num_classes=num_classes,
                          classifier_activation=classifier_activation, batch_norm=batch_norm)
            )
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout:
            x = layers.Dropout(dropout, name="avg_pool_dropout")(x)
        x = layers.Dense(
            num_classes, activation=head_activation(classifier_activation, num_classes),
            name="predictions",
        )(x)
    else:
        x = pool_features(x, pooling)
    outputs = [x] + aux_outputs if aux_outputs else x
    return keras.Model(inputs, outputs, name=name)


def _googlenet_stem(x, *, batch_norm: bool):
    """conv1 (7x7/2), pool1, LRN, conv2 (1x1 reduce, 3x3), LRN, pool2: Table 1's first rows."""
    unit = {"batch_norm": batch_norm, "use_bias": not batch_norm}
    x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = conv_bn_act(x, 64, 7, strides=2, padding="valid", name="conv1_7x7_s2", **unit)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1_3x3_s2")(x)
    if not batch_norm:
        x = LocalResponseNormalization(bias=1.0, alpha=1e-4 / 5, name="pool1_norm1")(x)
    x = conv_bn_act(x, 64, 1, name="conv2_3x3_reduce", **unit)
    x = conv_bn_act(x, 192, 3, name="conv2_3x3", **unit)
    if not batch_norm:
        x = LocalResponseNormalization(bias=1.0, alpha=1e-4 / 5, name="conv2_norm2")(x)
    return layers.MaxPooling2D(3, strides=2, padding="same", name="pool2_3x3_s2")(x)


def _aux_head(x, *, name, num_classes, classifier_activation, batch_norm):
    x = layers.AveragePooling2D(5, strides=3, name=f"{name}_pool")(x)
    x = conv_bn_act(x, 128, 1, name=f"{name}_conv", batch_norm=batch_norm, use_bias=not batch_norm)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(1024, activation="relu", name=f"{name}_fc")(x)
    x = layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return layers.Dense(
        num_classes, activation=head_activation(classifier_activation, num_classes),
        name=f"{name}_predictions",
    )(x)


def _check_modules(modules, *, name: str) -> tuple:
    ok = isinstance(modules, (tuple, list)) and len(modules) > 0
    labels = []
    for m in modules if ok else ():
        if not (
            isinstance(m, (tuple, list)) and len(m) == 2 and isinstance(m[0], str) and m[0][:1].isdigit()
            and isinstance(m[1], (tuple, list)) and len(m[1]) == 6
            and all(isinstance(f, int) and not isinstance(f, bool) and f >= 1 for f in m[1])
        ):
            ok = False
            break
        labels.append(m[0])
    if not ok or len(set(labels)) != len(labels):
        raise ValueError(
            f"{name}: modules must be a non-empty sequence of (label, six filter counts) with "
            "distinct labels starting with the stage digit, e.g. (('3a', (64, 96, 128, 16, 32, "
            f"32)), ...); received {modules!r}."
        )
    return tuple((label, tuple(f)) for label, f in modules)


def _check_rate(value, *, arg: str, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{name}: {arg} must be a number in [0, 1); received {value!r}.")


# Inception v3's stem: 3x3/2 valid, 3x3 valid, 3x3 same, 3x3/2 max pool, 1x1, 3x3 valid, 3x3/2 max
# pool; then the 3x3/2 valid grid reductions of mixed3 and mixed8.
_V3_DOWNSAMPLING = [
    Downsample(3, 2), Downsample(3), Downsample(3, 2), Downsample(3), Downsample(3, 2),
    Downsample(3, 2), Downsample(3, 2),
]
V3_MIN_SIZE = min_spatial_size(_V3_DOWNSAMPLING)  # 75, as keras.applications says


def InceptionV3(
    *,
    num_classes: int = 1000,
    input_shape=(299, 299, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    depth_multiplier: float = 1.0,
    modules=(3, 4, 2),
    name: str = "inception_v3",
) -> keras.Model:
    """Inception v3: factorised convolutions, grid reductions, `mixed0` ... `mixed10`.

    Reference: Szegedy et al. 2016. Layer for layer keras.applications.InceptionV3 at the
    defaults (which has no auxiliary classifier); the stem's layers are `stem1_conv` ...
    `stem5_relu`, `stem_pool1`, `stem_pool2`, and each module's `mixed{i}_{branch}_conv/_bn/_relu`.

    Args:
        num_classes: output classes (default 1000).
        input_shape: (height, width, channels), at least 75x75 (default (299, 299, 3)).
        include_top: keep the average pool and the classifier.
        pooling: with include_top=False, None (feature map), "avg" or "max".
        classifier_activation: "softmax", None for logits, or any Keras activation.
        depth_multiplier: TF-slim's width multiplier: every convolution gets
            `max(int(filters * depth_multiplier), 16)` filters (1.0: the paper's widths).
        modules: how many modules work at each grid size, (35x35, 17x17, 8x8) (default (3, 4, 2),
            keras.applications'). The modules and the two grid reductions are numbered `mixed0`,
            `mixed1`, ... in order; the 35x35 modules' pool projections are 32 wide, then 64; the
            17x17 modules' 7x7 branches 128, then 160, the last 192.
        name: model name.

    Returns:
        An uncompiled `keras.Model`.

    Example:
        >>> from dlzoo import build
        >>> model = build("inception_v3", include_top=False, pooling="avg", input_shape=(75, 75, 3))
        >>> model.output_shape
        (None, 2048)
    """
    if (
        isinstance(depth_multiplier, bool)
        or not isinstance(depth_multiplier, (int, float))
        or not depth_multiplier > 0
    ):
        raise ValueError(
            f"{name}: depth_multiplier must be a number > 0 (1.0 is the paper's widths); "
            f"received {depth_multiplier!r}."
        )
    n_a, n_b, n_c = check_positive_ints(modules, arg="modules", name=name, length=3)
    check_head(include_top=include_top, pooling=pooling)
    check_num_classes(num_classes, include_top=include_top)
    input_shape = check_image_input(input_shape, name=name, min_size=V3_MIN_SIZE)
    d = scaled_depth(float(depth_multiplier))

    inputs = keras.Input(shape=input_shape, name="input_layer")
    x = _v3_stem(inputs, depth=d)
    k = 0  # the running `mixed` number
    for i in range(n_a):
        x = inception_v3_a(x, 32 if i == 0 else 64, name=f"mixed{k}", depth=d)
        k += 1
    x = inception_v3_reduction_a(x, name=f"mixed{k}", depth=d)
    k += 1
    for i in range(n_b):
        c7 = 128 if i == 0 else 192 if i == n_b - 1 else 160
        x = inception_v3_b(x, c7, name=f"mixed{k}", depth=d)
        k += 1
    x = inception_v3_reduction_b(x, name=f"mixed{k}", depth=d)
    first_c = k + 1
    for i in range(n_c):
        k += 1
        x = inception_v3_c(x, name=f"mixed{k}", split_name=f"mixed{first_c}_{i}", depth=d)
    if include_top:
        x = classifier_head(x, num_classes=num_classes, classifier_activation=classifier_activation)
    else:
        x = pool_features(x, pooling)
    return keras.Model(inputs, x, name=name)


def _v3_stem(x, *, depth):
    """Five convolutions and two 3x3/2 max pools, 299 -> 35 (`stem1` ... `stem_pool2`)."""
    d = depth
    x = conv_bn_relu(x, d(32), 3, strides=2, padding="valid", name="stem1")
    x = conv_bn_relu(x, d(32), 3, padding="valid", name="stem2")
    x = conv_bn_relu(x, d(64), 3, name="stem3")
    x = layers.MaxPooling2D(3, strides=2, name="stem_pool1")(x)
    x = conv_bn_relu(x, d(80), 1, padding="valid", name="stem4")
    x = conv_bn_relu(x, d(192), 3, padding="valid", name="stem5")
    return layers.MaxPooling2D(3, strides=2, name="stem_pool2")(x)


_SMOKE_MODULE = (16, 16, 16, 8, 8, 8)

# keras.applications' ImageNet files for Inception v3 (keras/src/applications/inception_v3.py:
# same URLs and md5s); they load by layer order (dlzoo.weights).
IMAGENET_WEIGHTS = {
    "inception_v3": keras_applications_files("inception_v3", "inception_v3",
                                             "9a0d58056eeedaa3f26cb7ebd46da564",
                                             "bcbd6486424b2319ff4ef7d526e38f63"),
}


# 6,998,552 parameters at 224x224x3 and 1,000 classes without the auxiliary classifiers;
# `batch_norm=True` has 7,020,392 (tests/test_inception.py).
@register_model(
    family="inception",
    default_input_shape=(224, 224, 3),
    default_num_classes=1000,
    params=6_998_552,
    paper=PAPER_V1,
    preprocessing="tf",
    feature_layers=("inception_3b_output", "inception_4e_output", "inception_5b_output"),
    unfreeze_groups=("conv1_", "conv2_") + tuple(f"inception_{m}_" for m, _ in GOOGLENET_MODULES),
    # Read off the built model: the last module of each stage; the stem, every module and, with
    # aux_classifiers=True, the auxiliary heads as groups.
    feature_rule=last_per_stage(r"inception_(\d+)[a-z]_output"),
    unfreeze_rule=prefixes_matching(r"(conv\d+_|inception_\d+[a-z]_|aux\d+_)"),
    min_input_size=googlenet_min_size(False),
    # One narrow module per stage: the suite's cost grows with the number of layers.
    smoke_overrides={
        "input_shape": (64, 64, 3),
        "num_classes": 3,
        "modules": (("3a", _SMOKE_MODULE), ("4a", _SMOKE_MODULE), ("5a", _SMOKE_MODULE)),
    },
    description="GoogLeNet (Inception v1; aux_classifiers, batch_norm optional), 224x224x3",
)
def googlenet(**kwargs):
    """GoogLeNet (Inception v1), 224x224x3; see `GoogLeNet`."""
    return GoogLeNet(**kwargs)


@register_model(
    family="inception",
    default_input_shape=(299, 299, 3),
    default_num_classes=1000,
    params=23_851_784,
    paper=PAPER_V3,
    weights=("imagenet",),
    preprocessing="tf",
    feature_layers=tuple(f"mixed{i}" for i in range(11)),
    unfreeze_groups=("stem",) + tuple(f"mixed{i}_" for i in range(11)),
    feature_rule=layers_matching(r"mixed\d+"),
    unfreeze_rule=prefixes_matching(r"(stem|mixed\d+_)"),
    min_input_size=V3_MIN_SIZE,
    # One module per grid size, 16 filters a convolution: the suite's cost grows with the layers.
    smoke_overrides={
        "input_shape": (V3_MIN_SIZE, V3_MIN_SIZE, 3),
        "num_classes": 3,
        "depth_multiplier": 0.1,
        "modules": (1, 1, 1),
    },
    description="Inception v3 = keras.applications.InceptionV3, 299x299x3",
)
def inception_v3(**kwargs):
    """Inception v3, 299x299x3; see `InceptionV3`."""
    return InceptionV3(**kwargs)
