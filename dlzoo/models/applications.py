"""keras.applications' image classifiers in the zoo: MobileNet v1/v2/v3, EfficientNet, EfficientNetV2,
ConvNeXt, DenseNet, Xception, NASNet and Inception-ResNet v2, composed, not copied.

Each variant is keras.applications' own constructor (`keras.applications.EfficientNetB0`, ...)
called with `weights=None`; the zoo adds what it adds to every family: the uniform arguments
checked before anything is built (the family's minimum input size in the error), ImageNet weights
through `dlzoo.weights` (the Keras cache first, a clear error within seconds offline), the input
convention the weights expect, feature layers and unfreeze groups for transfer learning.

Two things are changed on the network keras.applications returns, and nothing else:

- Layers keras.applications leaves unnamed (`conv2d_17`, `activation_3`: names that depend on what
  was built before in the session) get deterministic names inside their block (`block35_1_conv2d`),
  so unfreeze groups and feature layers can name them. Weighted layers join the block that follows
  them (a shortcut convolution is built before its block's first named layer), the others the
  block before them. ImageNet files load by layer order, so they are unaffected.
- EfficientNet (v1) is built as keras.applications builds it for `weights="imagenet"`: a
  per-channel `Rescaling` by 1/sqrt(std) follows the input `Normalization` (keras' workaround for
  tensorflow/tensorflow#49930, which it adds only when it loads ImageNet weights itself), and the
  `Normalization` starts with ImageNet's mean and variance, so every build, random or pretrained, takes
  raw [0, 255] pixels and standardises them as the published weights expect.

Preprocessing: MobileNetV3, EfficientNet, EfficientNetV2 and ConvNeXt carry theirs inside the
network (their `preprocess_input` is the identity), so their `preprocessing` is "none" and raw
[0, 255] pixels go straight in; the others declare the `preprocess_input` mode of their module
("tf" for MobileNet v1/v2, Xception, NASNet, Inception-ResNet v2; "torch" for DenseNet), which the
zoo's `Preprocess` layer applies in front of the network (`dlzoo.preprocessing.with_preprocessing`).
"""

from __future__ import annotations

import dataclasses
import math
import re

import keras
import numpy as np

from dlzoo.registry import last_per_stage, prefixes_matching, register_model
from dlzoo.validation import (
    check_choice,
    check_head,
    check_image_input,
    check_int,
    check_num_classes,
    check_rate,
    head_activation,
)
from dlzoo.weights import WeightsFile

__all__ = ["FAMILIES", "IMAGENET_WEIGHTS", "KERAS_NAMES", "Application", "name_unnamed_layers"]

KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"

# ImageNet statistics keras.applications' EfficientNet uses (keras/src/applications/efficientnet.py).
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)


@dataclasses.dataclass(frozen=True)
class Family:
    """What the zoo adds to one keras.applications module's constructors.

    Attributes:
        name: the registry family (`dlzoo list --family NAME`).
        paper: the architecture's reference.
        preprocessing: the `Preprocess` mode the zoo puts in front ("none": the network has its own).
        min_size: the smallest input side the family's constructor accepts.
        groups: regular expression whose first group is a layer's unfreeze group (a prefix): the
            blocks of the body, bottom to top; the classifier is never one (as in the zoo's
            other families), so the groups are the same with and without the top.
        arch_args: the family's own constructor arguments the zoo passes through.
        top1_source: where the published ImageNet top-1 accuracies come from.
    """

    name: str
    paper: str
    preprocessing: str
    min_size: int
    groups: str
    arch_args: tuple = ()


KERAS_DOCS = "https://keras.io/api/applications/"

FAMILIES = {
    "mobilenet": Family(
        "mobilenet", "Howard et al. MobileNets: efficient convolutional neural networks for mobile "
        "vision applications. arXiv:1704.04861, 2017.", "tf", 32,
        r"(conv1|conv_dw_\d+|conv_pw_\d+)", ("alpha", "depth_multiplier", "dropout")),
    "mobilenet_v2": Family(
        "mobilenet_v2", "Sandler, Howard, Zhu, Zhmoginov, Chen. MobileNetV2: inverted residuals and "
        "linear bottlenecks. CVPR 2018.", "tf", 32,
        r"(Conv1|bn_Conv1|expanded_conv_|block_\d+_|Conv_1)", ("alpha",)),
    "mobilenet_v3": Family(
        "mobilenet_v3", "Howard et al. Searching for MobileNetV3. ICCV 2019.", "none", 32,
        r"(expanded_conv_(?:\d+_)?|conv_1|conv)", ("alpha", "minimalistic", "dropout_rate")),
    "efficientnet": Family(
        "efficientnet", "Tan, Le. EfficientNet: rethinking model scaling for convolutional neural "
        "networks. ICML 2019.", "none", 32, r"(stem_|block\d+[a-z]_|top_)"),
    "efficientnet_v2": Family(
        "efficientnet_v2", "Tan, Le. EfficientNetV2: smaller models and faster training. ICML 2021.",
        "none", 32, r"(stem_|block\d+[a-z]_|top_)"),
    "convnext": Family(
        "convnext", "Liu, Mao, Wu, Feichtenhofer, Darrell, Xie. A ConvNet for the 2020s. CVPR 2022.",
        "none", 32, r"(convnext_[a-z]+_(?:stem|stage_\d+_|downsampling_block_\d+))"),
    "densenet": Family(
        "densenet", "Huang, Liu, van der Maaten, Weinberger. Densely connected convolutional "
        "networks. CVPR 2017.", "torch", 32, r"(conv1_|conv\d+_block\d+_|pool\d+_|bn$)"),
    "xception": Family(
        "xception", "Chollet. Xception: deep learning with depthwise separable convolutions. "
        "CVPR 2017.", "tf", 71, r"(block\d+_)"),
    "nasnet": Family(
        "nasnet", "Zoph, Vasudevan, Shlens, Le. Learning transferable architectures for scalable "
        "image recognition. CVPR 2018.", "tf", 32,
        r"(stem_|cell_(?:stem_|reduce_)?\d+_)"),
    "inception_resnet_v2": Family(
        "inception_resnet_v2", "Szegedy, Ioffe, Vanhoucke, Alemi. Inception-v4, Inception-ResNet and "
        "the impact of residual connections on learning. AAAI 2017.", "tf", 75,
        r"(mixed_\d[a-z]_|block\d+_\d+_|conv_7b)"),
}


def _cell_first(name: str) -> str:
    """NASNet's layers end in their cell (`separable_conv_1_normal_left1_12`, `adjust_bn_stem_1`);
    unfreeze groups are name prefixes, so the zoo puts the cell first: `cell_12_separable_conv_1_
    normal_left1`, `cell_stem_1_adjust_bn`. The stem convolution (`stem_conv1`) keeps its name."""
    m = re.fullmatch(r"(.+?)_((?:stem|reduce)_\d+|\d+)", name)
    return f"cell_{m.group(2)}_{m.group(1)}" if m and not name.startswith("stem_") else name


# --- the builder ------------------------------------------------------------------------------


def Application(
    *,
    keras_name: str,
    family: str,
    name: str,
    num_classes: int = 1000,
    input_shape=None,
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    default_shape=(224, 224, 3),
    **arch_args,
) -> keras.Model:
    """keras.applications' `keras_name` network with the zoo's arguments, checks and layer names.

    Reference: the family's paper (`FAMILIES[family].paper`); the network is keras.applications'.

    Args:
        keras_name: the constructor in `keras.applications` (`"EfficientNetB0"`).
        family: the key of its `FAMILIES` entry.
        name: the model's name (its registry name).
        num_classes: classifier outputs (default 1000).
        input_shape: (height, width, channels), at least the family's minimum side; default
            `default_shape`.
        default_shape: the variant's default input, keras.applications' own default size
            (224x224x3 for most, 299 for Xception and Inception-ResNet v2, 331 for NASNet-Large,
            240 ... 600 for EfficientNet B1 ... B7; 224 for MobileNetV3, which keras leaves open).
        include_top: keep the classifier.
        pooling: with include_top=False, None (feature map), "avg" or "max".
        classifier_activation: "softmax", None for logits, or any Keras activation.
        **arch_args: the family's own constructor arguments (`FAMILIES[family].arch_args`:
            `alpha`, `depth_multiplier`, `dropout` for MobileNet; `alpha` for MobileNetV2;
            `alpha`, `minimalistic`, `dropout_rate` for MobileNetV3).

    Returns:
        An uncompiled `keras.Model` named `name`.

    Raises:
        ValueError: an argument out of range (the input side below the family's minimum, ...).
        TypeError: an argument the family's constructor does not take.

    Example:
        >>> from dlzoo.models.applications import Application
        >>> model = Application(keras_name="MobileNetV3Small", family="mobilenet_v3",
        ...                     name="mobilenet_v3_small", input_shape=(32, 32, 3), num_classes=3)
    """
    fam = FAMILIES[family]
    unknown = sorted(set(arch_args) - set(fam.arch_args))
    if unknown:
        allowed = ", ".join(("num_classes", "input_shape", "include_top", "pooling",
                             "classifier_activation") + fam.arch_args)
        raise TypeError(f"{name} does not take argument(s) {', '.join(unknown)}. Allowed: {allowed}.")
    _check_arch_args(arch_args, name=name)
    check_head(include_top=include_top, pooling=pooling)
    check_num_classes(num_classes, include_top=include_top)
    input_shape = check_image_input(default_shape if input_shape is None else input_shape,
                                    name=name, min_size=fam.min_size)
    constructor = getattr(keras.applications, keras_name)
    extra = {"name": name} if family == "convnext" else {}  # ConvNeXt prefixes its layers with it
    model = constructor(
        weights=None,
        include_top=include_top,
        input_shape=input_shape,
        pooling=pooling,
        classes=num_classes,
        classifier_activation=head_activation(classifier_activation, num_classes),
        **extra,
        **arch_args,
    )
    if family == "efficientnet":
        model = _imagenet_stem(model)
    if family == "nasnet":  # the unnamed ReLU that ends the network: its last feature layer
        [layer for layer in model.layers if isinstance(layer, keras.layers.Activation)][-1].name = "final_relu"
    name_unnamed_layers(model, fam.groups, rename=_cell_first if family == "nasnet" else None)
    model.name = name
    return model


def _check_arch_args(args: dict, *, name: str) -> None:
    alpha = args.get("alpha", 1.0)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha <= 4:
        raise ValueError(f"{name}: alpha (the width multiplier) must be a number in (0, 4]; "
                         f"received {alpha!r}. 1.0 is the published width.")
    if "depth_multiplier" in args:
        check_int(args["depth_multiplier"], arg="depth_multiplier", name=name)
    for arg in ("dropout", "dropout_rate"):
        if arg in args:
            check_rate(args[arg], arg=arg, name=name)
    if "minimalistic" in args:
        check_choice(args["minimalistic"], arg="minimalistic", name=name, allowed=(False, True))


def _imagenet_stem(model):
    """EfficientNet as keras.applications builds it for ImageNet weights (see the module doc)."""
    from keras import layers

    def call(layer, *args, **kwargs):
        out = layer(*args, **kwargs)
        if isinstance(layer, layers.Normalization):
            scale = [1.0 / math.sqrt(s) for s in IMAGENET_STDDEV_RGB]
            return layers.Rescaling(scale, name="stem_imagenet_scaling")(out)
        return out

    # A clone with new layers: reusing them would leave each layer's `.output` in the old graph.
    model = keras.models.clone_model(model, call_function=call)
    norm = next(layer for layer in model.layers if isinstance(layer, layers.Normalization))
    # The state the ImageNet file holds (keras: "the normalization layer uses square value of
    # STDDEV as the variance"), so a random build standardises as the pretrained one does.
    mean, variance, count = norm.get_weights()
    norm.set_weights([np.asarray(IMAGENET_MEAN_RGB, mean.dtype),
                      np.asarray([s * s for s in IMAGENET_STDDEV_RGB], variance.dtype), count])
    return model


def _snake(class_name: str) -> str:
    # keras' own rule for automatic layer names (keras.src.utils.naming.to_snake_case)
    s = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", s).lower()


def name_unnamed_layers(model, groups: str, rename=None) -> None:
    """Renames the layers keras named automatically (`conv2d_17`) after the block they are in.

    A layer's block is the unfreeze group (`groups`' first group) of the nearest named layer:
    the next one for a layer with weights (a shortcut convolution or an Inception branch comes
    before its block's named layers), the previous one otherwise (an activation or a sum ends
    the block before it). The new name is `<group><automatic base name>[_k]`, the same in every
    session, e.g. `block35_1_conv2d_3`, `block2_add`. `rename(name) -> name`, if given, renames
    the named layers first.
    """
    regex = re.compile(groups)
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            layer.name = "input_layer"  # the zoo's families' name for it
    all_layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    auto = [bool(re.fullmatch(rf"{_snake(type(layer).__name__)}(_\d+)?", layer.name))
            for layer in all_layers]
    if rename is not None:
        for layer, is_auto in zip(all_layers, auto):
            if not is_auto:
                layer.name = rename(layer.name)
    if not any(auto):
        return

    def group_of(i, step):
        j = i + step
        while 0 <= j < len(all_layers):
            if not auto[j]:
                m = regex.match(all_layers[j].name)
                prefix = m.group(1) if m else all_layers[j].name
                return prefix if prefix.endswith("_") else prefix + "_"
            j += step
        return None

    taken = {layer.name for layer, a in zip(all_layers, auto) if not a}
    counts: dict = {}
    for i, (layer, is_auto) in enumerate(zip(all_layers, auto)):
        if not is_auto:
            continue
        first, second = (1, -1) if layer.weights else (-1, 1)
        prefix = group_of(i, first) or group_of(i, second) or ""
        base = prefix + _snake(type(layer).__name__)
        k = counts.get(base, 0)
        new = base if k == 0 else f"{base}_{k}"
        while new in taken:
            k += 1
            new = f"{base}_{k}"
        counts[base] = k + 1
        taken.add(new)
        layer.name = new


# --- transfer-learning layout ------------------------------------------------------------------
# Feature layers are the ends of the stages (the last layer before each halving of the resolution,
# the network's output last); unfreeze groups are the blocks (cells, stages for ConvNeXt), bottom to
# top. The rules read them off a built model; `LAYOUT` (made by `layout_of` at each variant's
# defaults, checked by tests/models/test_applications.py) holds them as `dlzoo info` shows them.


def _efficientnet_features(names):
    stages = last_per_stage(r"block(\d+)[a-z]_(?:add|project_bn)")(names)
    return stages + [n for n in ("top_activation",) if n in names]


def _densenet_features(names):
    return last_per_stage(r"conv(\d)_block\d+_concat")(names)[:-1] + ["relu"]


def _named(*patterns):
    """A rule: the layers named by `patterns` (full-match regular expressions), in layer order."""
    regex = re.compile("|".join(patterns))
    return lambda names: [n for n in names if regex.fullmatch(n)]


FEATURE_RULES = {
    "mobilenet": _named(r"conv_pw_(?:1|3|5|11|13)_relu"),
    "mobilenet_v2": _named(r"block_(?:1|3|6|13)_expand_relu", "out_relu"),
    "mobilenet_v3_small": _named(r"expanded_conv_project_bn", r"expanded_conv_(?:2|7)_add",
                                 r"conv_1_activation"),
    "mobilenet_v3_large": _named(r"expanded_conv_(?:2|5|11)?_?add", r"conv_1_activation"),
    "efficientnet": _efficientnet_features,
    "efficientnet_v2": _efficientnet_features,
    "convnext": last_per_stage(r"convnext_[a-z]+_stage_(\d+)_block_\d+_identity"),
    "densenet": _densenet_features,
    "xception": _named("block1_conv2_act", r"block(?:2|3|12)_add", "block14_sepconv2_act"),
    "nasnet_mobile": _named("cell_stem_1_reduction_concat", r"cell_(?:3|8)_normal_concat",
                            "final_relu"),
    "nasnet_large": _named("cell_stem_1_reduction_concat", r"cell_(?:5|12)_normal_concat",
                           "final_relu"),
    "inception_resnet_v2": _named("block35_10_ac", "block17_20_ac", "conv_7b_ac"),
}


def layout_of(name: str, model) -> tuple:
    """(feature layers, unfreeze groups) of `model`, built by the registered variant `name`."""
    from dlzoo.registry import feature_layers, unfreeze_groups

    return tuple(feature_layers(name, model)), tuple(unfreeze_groups(name, model))


def _facts(family: str, name: str, default_shape: tuple) -> dict:
    fam = FAMILIES[family]
    small = fam.min_size
    smoke = {"input_shape": (small, small, 3), "num_classes": 3}
    features, groups = LAYOUT[name]
    return {
        "family": family,
        "default_input_shape": default_shape,
        "default_num_classes": 1000,
        "paper": fam.paper,
        "weights": ("imagenet",),
        "preprocessing": fam.preprocessing,
        "feature_layers": tuple(features.split()),
        "unfreeze_groups": tuple(groups.split()),
        "min_input_size": fam.min_size,
        "smoke_overrides": smoke,
        "feature_rule": FEATURE_RULES.get(name, FEATURE_RULES.get(family)),
        "unfreeze_rule": prefixes_matching(fam.groups),
    }


# keras.applications' ImageNet files, as its constructors fetch them (same names, URLs and hashes;
# MobileNet v1/v2 publish no hash, and keras checks none): the 224-pixel, width-1.0 files.
IMAGENET_WEIGHTS = {
    "mobilenet_v1": (WeightsFile(
        "mobilenet_1_0_224_tf.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/mobilenet_1_0_224_tf.h5",
        ""), WeightsFile(
        "mobilenet_1_0_224_tf_no_top.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/mobilenet_1_0_224_tf_no_top.h5",
        "")),
    "mobilenet_v2": (WeightsFile(
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        ""), WeightsFile(
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        "")),
    "mobilenet_v3_small": (WeightsFile(
        "weights_mobilenet_v3_small_224_1.0_float.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/weights_mobilenet_v3_small_224_1.0_float.h5",
        "8768d4c2e7dee89b9d02b2d03d65d862"), WeightsFile(
        "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
        "d3e8ec802a04aa4fc771ee12a9a9b836")),
    "mobilenet_v3_large": (WeightsFile(
        "weights_mobilenet_v3_large_224_1.0_float.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/weights_mobilenet_v3_large_224_1.0_float.h5",
        "59e551e166be033d707958cf9e29a6a7"), WeightsFile(
        "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
        "07fb09a5933dd0c8eaafa16978110389")),
    "efficientnet_b0": (WeightsFile(
        "efficientnetb0.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb0.h5",
        "902e53a9f72be733fc0bcb005b3ebbac"), WeightsFile(
        "efficientnetb0_notop.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb0_notop.h5",
        "50bc09e76180e00e4465e1a485ddc09d")),
    "efficientnet_b1": (WeightsFile(
        "efficientnetb1.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb1.h5",
        "1d254153d4ab51201f1646940f018540"), WeightsFile(
        "efficientnetb1_notop.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb1_notop.h5",
        "74c4e6b3e1f6a1eea24c589628592432")),
    "efficientnet_b2": (WeightsFile(
        "efficientnetb2.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb2.h5",
        "b15cce36ff4dcbd00b6dd88e7857a6ad"), WeightsFile(
        "efficientnetb2_notop.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb2_notop.h5",
        "111f8e2ac8aa800a7a99e3239f7bfb39")),
    "efficientnet_b3": (WeightsFile(
        "efficientnetb3.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb3.h5",
        "ffd1fdc53d0ce67064dc6a9c7960ede0"), WeightsFile(
        "efficientnetb3_notop.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb3_notop.h5",
        "af6d107764bb5b1abb91932881670226")),
    "efficientnet_b4": (WeightsFile(
        "efficientnetb4.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb4.h5",
        "18c95ad55216b8f92d7e70b3a046e2fc"), WeightsFile(
        "efficientnetb4_notop.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb4_notop.h5",
        "ebc24e6d6c33eaebbd558eafbeedf1ba")),
    "efficientnet_b5": (WeightsFile(
        "efficientnetb5.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb5.h5",
        "ace28f2a6363774853a83a0b21b9421a"), WeightsFile(
        "efficientnetb5_notop.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb5_notop.h5",
        "38879255a25d3c92d5e44e04ae6cec6f")),
    "efficientnet_b6": (WeightsFile(
        "efficientnetb6.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb6.h5",
        "165f6e37dce68623721b423839de8be5"), WeightsFile(
        "efficientnetb6_notop.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb6_notop.h5",
        "9ecce42647a20130c1f39a5d4cb75743")),
    "efficientnet_b7": (WeightsFile(
        "efficientnetb7.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb7.h5",
        "8c03f828fec3ef71311cd463b6759d99"), WeightsFile(
        "efficientnetb7_notop.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb7_notop.h5",
        "cbcfe4450ddf6f3ad90b1b398090fe4a")),
    "efficientnet_v2_b0": (WeightsFile(
        "efficientnetv2-b0.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-b0.h5",
        "21ecbf6da12460d5c40bb2f29ceb2188"), WeightsFile(
        "efficientnetv2-b0_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-b0_notop.h5",
        "893217f2bb855e2983157299931e43ff")),
    "efficientnet_v2_b1": (WeightsFile(
        "efficientnetv2-b1.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-b1.h5",
        "069f0534ff22adf035c89e2d9547a9dc"), WeightsFile(
        "efficientnetv2-b1_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-b1_notop.h5",
        "0e80663031ca32d657f9caa404b6ec37")),
    "efficientnet_v2_b2": (WeightsFile(
        "efficientnetv2-b2.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-b2.h5",
        "424e49f28180edbde1e94797771950a7"), WeightsFile(
        "efficientnetv2-b2_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-b2_notop.h5",
        "1dfe2e7a5d45b6632553a8961ea609eb")),
    "efficientnet_v2_b3": (WeightsFile(
        "efficientnetv2-b3.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-b3.h5",
        "1f1fc43bd98a6e4fd8fdfd551e02c7a0"), WeightsFile(
        "efficientnetv2-b3_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-b3_notop.h5",
        "f6abf7b5849ac99a89b50dd3fd532856")),
    "efficientnet_v2_s": (WeightsFile(
        "efficientnetv2-s.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-s.h5",
        "e1d88a8495beba45748fedd0cecbe016"), WeightsFile(
        "efficientnetv2-s_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-s_notop.h5",
        "af0682fb74e8c54910f2d4393339c070")),
    "efficientnet_v2_m": (WeightsFile(
        "efficientnetv2-m.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-m.h5",
        "a3bf6aa3276309f4fc6a34aa114c95cd"), WeightsFile(
        "efficientnetv2-m_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-m_notop.h5",
        "1b8dc055df72dde80d614482840fe342")),
    "efficientnet_v2_l": (WeightsFile(
        "efficientnetv2-l.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-l.h5",
        "27e6d408b53c7ebc868fefa357689935"), WeightsFile(
        "efficientnetv2-l_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-l_notop.h5",
        "b0b66b5c863aef5b46e8608fe1711615")),
    "convnext_tiny": (WeightsFile(
        "convnext_tiny.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_tiny.h5",
        "8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff"), WeightsFile(
        "convnext_tiny_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_tiny_notop.h5",
        "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1")),
    "convnext_small": (WeightsFile(
        "convnext_small.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_small.h5",
        "ce1277d8f1ee5a0ef0e171469089c18f5233860ceaf9b168049cb9263fd7483c"), WeightsFile(
        "convnext_small_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_small_notop.h5",
        "6fc8009faa2f00c1c1dfce59feea9b0745eb260a7dd11bee65c8e20843da6eab")),
    "convnext_base": (WeightsFile(
        "convnext_base.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_base.h5",
        "52cbb006d3dadd03f6e095a8ca1aca47aecdd75acb4bc74bce1f5c695d0086e6"), WeightsFile(
        "convnext_base_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_base_notop.h5",
        "40a20c5548a5e9202f69735ecc06c990e6b7c9d2de39f0361e27baeb24cb7c45")),
    "convnext_large": (WeightsFile(
        "convnext_large.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_large.h5",
        "070c5ed9ed289581e477741d3b34beffa920db8cf590899d6d2c67fba2a198a6"), WeightsFile(
        "convnext_large_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_large_notop.h5",
        "96f02b6f0753d4f543261bc9d09bed650f24dd6bc02ddde3066135b63d23a1cd")),
    "convnext_xlarge": (WeightsFile(
        "convnext_xlarge.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_xlarge.h5",
        "c1f5ccab661354fc3a79a10fa99af82f0fbf10ec65cb894a3ae0815f17a889ee"), WeightsFile(
        "convnext_xlarge_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/convnext/convnext_xlarge_notop.h5",
        "de3f8a54174130e0cecdc71583354753d557fcf1f4487331558e2a16ba0cfe05")),
    "densenet121": (WeightsFile(
        "densenet121_weights_tf_dim_ordering_tf_kernels.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/densenet/densenet121_weights_tf_dim_ordering_tf_kernels.h5",
        "9d60b8095a5708f2dcce2bca79d332c7"), WeightsFile(
        "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/densenet/densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "30ee3e1110167f948a6b9946edeeb738")),
    "densenet169": (WeightsFile(
        "densenet169_weights_tf_dim_ordering_tf_kernels.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/densenet/densenet169_weights_tf_dim_ordering_tf_kernels.h5",
        "d699b8f76981ab1b30698df4c175e90b"), WeightsFile(
        "densenet169_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/densenet/densenet169_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "b8c4d4c20dd625c148057b9ff1c1176b")),
    "densenet201": (WeightsFile(
        "densenet201_weights_tf_dim_ordering_tf_kernels.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/densenet/densenet201_weights_tf_dim_ordering_tf_kernels.h5",
        "1ceb130c1ea1b78c3bf6114dbdfd8807"), WeightsFile(
        "densenet201_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/densenet/densenet201_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "c13680b51ded0fb44dff2d8f86ac8bb1")),
    "xception": (WeightsFile(
        "xception_weights_tf_dim_ordering_tf_kernels.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/xception/xception_weights_tf_dim_ordering_tf_kernels.h5",
        "0a58e3b7378bc2990ea3b43d5981f1f6"), WeightsFile(
        "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "b0042744bf5b25fce3cb969f33bebb97")),
    "nasnet_mobile": (WeightsFile(
        "nasnet_mobile.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/NASNet-mobile.h5",
        "020fb642bf7360b370c678b08e0adf61"), WeightsFile(
        "nasnet_mobile_no_top.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/NASNet-mobile-no-top.h5",
        "1ed92395b5b598bdda52abe5c0dbfd63")),
    "nasnet_large": (WeightsFile(
        "nasnet_large.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/NASNet-large.h5",
        "11577c9a518f0070763c2b964a382f17"), WeightsFile(
        "nasnet_large_no_top.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/NASNet-large-no-top.h5",
        "d81d89dc07e6e56530c4e77faddd61b5")),
    "inception_resnet_v2": (WeightsFile(
        "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/inception_resnet_v2/inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5",
        "e693bd0210a403b3192acc6073ad2e96"), WeightsFile(
        "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/inception_resnet_v2/inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "d19885ff4a710c122648d3b5c3b684e4")),
}


KERAS_NAMES = {"mobilenet_v1": "MobileNet", "mobilenet_v2": "MobileNetV2", "mobilenet_v3_small": "MobileNetV3Small", "mobilenet_v3_large": "MobileNetV3Large", "efficientnet_b0": "EfficientNetB0", "efficientnet_b1": "EfficientNetB1", "efficientnet_b2": "EfficientNetB2", "efficientnet_b3": "EfficientNetB3", "efficientnet_b4": "EfficientNetB4", "efficientnet_b5": "EfficientNetB5", "efficientnet_b6": "EfficientNetB6", "efficientnet_b7": "EfficientNetB7", "efficientnet_v2_b0": "EfficientNetV2B0", "efficientnet_v2_b1": "EfficientNetV2B1", "efficientnet_v2_b2": "EfficientNetV2B2", "efficientnet_v2_b3": "EfficientNetV2B3", "efficientnet_v2_s": "EfficientNetV2S", "efficientnet_v2_m": "EfficientNetV2M", "efficientnet_v2_l": "EfficientNetV2L", "convnext_tiny": "ConvNeXtTiny", "convnext_small": "ConvNeXtSmall", "convnext_base": "ConvNeXtBase", "convnext_large": "ConvNeXtLarge", "convnext_xlarge": "ConvNeXtXLarge", "densenet121": "DenseNet121", "densenet169": "DenseNet169", "densenet201": "DenseNet201", "xception": "Xception", "nasnet_mobile": "NASNetMobile", "nasnet_large": "NASNetLarge", "inception_resnet_v2": "InceptionResNetV2"}


LAYOUT = {  # name: (feature layers, unfreeze groups), space-separated
    "mobilenet_v1": (
        "conv_pw_1_relu conv_pw_3_relu conv_pw_5_relu conv_pw_11_relu conv_pw_13_relu",
        ("conv1 conv_dw_1 conv_pw_1 conv_dw_2 conv_pw_2 conv_dw_3 conv_pw_3 conv_dw_4 conv_pw_4 "
        "conv_dw_5 conv_pw_5 conv_dw_6 conv_pw_6 conv_dw_7 conv_pw_7 conv_dw_8 conv_pw_8 conv_dw_9 "
        "conv_pw_9 conv_dw_10 conv_pw_10 conv_dw_11 conv_pw_11 conv_dw_12 conv_pw_12 conv_dw_13 "
        "conv_pw_13")),
    "mobilenet_v2": (
        "block_1_expand_relu block_3_expand_relu block_6_expand_relu block_13_expand_relu out_relu",
        ("Conv1 bn_Conv1 expanded_conv_ block_1_ block_2_ block_3_ block_4_ block_5_ block_6_ "
        "block_7_ block_8_ block_9_ block_10_ block_11_ block_12_ block_13_ block_14_ block_15_ "
        "block_16_ Conv_1")),
    "mobilenet_v3_small": (
        "expanded_conv_project_bn expanded_conv_2_add expanded_conv_7_add conv_1_activation",
        ("conv expanded_conv_ expanded_conv_1_ expanded_conv_2_ expanded_conv_3_ expanded_conv_4_ "
        "expanded_conv_5_ expanded_conv_6_ expanded_conv_7_ expanded_conv_8_ expanded_conv_9_ "
        "expanded_conv_10_ conv_1")),
    "mobilenet_v3_large": (
        ("expanded_conv_add expanded_conv_2_add expanded_conv_5_add expanded_conv_11_add "
        "conv_1_activation"),
        ("conv expanded_conv_ expanded_conv_1_ expanded_conv_2_ expanded_conv_3_ expanded_conv_4_ "
        "expanded_conv_5_ expanded_conv_6_ expanded_conv_7_ expanded_conv_8_ expanded_conv_9_ "
        "expanded_conv_10_ expanded_conv_11_ expanded_conv_12_ expanded_conv_13_ expanded_conv_14_ "
        "conv_1")),
    "efficientnet_b0": (
        ("block1a_project_bn block2b_add block3b_add block4c_add block5c_add block6d_add "
        "block7a_project_bn top_activation"),
        ("stem_ block1a_ block2a_ block2b_ block3a_ block3b_ block4a_ block4b_ block4c_ block5a_ "
        "block5b_ block5c_ block6a_ block6b_ block6c_ block6d_ block7a_ top_")),
    "efficientnet_b1": (
        ("block1b_add block2c_add block3c_add block4d_add block5d_add block6e_add block7b_add "
        "top_activation"),
        ("stem_ block1a_ block1b_ block2a_ block2b_ block2c_ block3a_ block3b_ block3c_ block4a_ "
        "block4b_ block4c_ block4d_ block5a_ block5b_ block5c_ block5d_ block6a_ block6b_ block6c_ "
        "block6d_ block6e_ block7a_ block7b_ top_")),
    "efficientnet_b2": (
        ("block1b_add block2c_add block3c_add block4d_add block5d_add block6e_add block7b_add "
        "top_activation"),
        ("stem_ block1a_ block1b_ block2a_ block2b_ block2c_ block3a_ block3b_ block3c_ block4a_ "
        "block4b_ block4c_ block4d_ block5a_ block5b_ block5c_ block5d_ block6a_ block6b_ block6c_ "
        "block6d_ block6e_ block7a_ block7b_ top_")),
    "efficientnet_b3": (
        ("block1b_add block2c_add block3c_add block4e_add block5e_add block6f_add block7b_add "
        "top_activation"),
        ("stem_ block1a_ block1b_ block2a_ block2b_ block2c_ block3a_ block3b_ block3c_ block4a_ "
        "block4b_ block4c_ block4d_ block4e_ block5a_ block5b_ block5c_ block5d_ block5e_ block6a_ "
        "block6b_ block6c_ block6d_ block6e_ block6f_ block7a_ block7b_ top_")),
    "efficientnet_b4": (
        ("block1b_add block2d_add block3d_add block4f_add block5f_add block6h_add block7b_add "
        "top_activation"),
        ("stem_ block1a_ block1b_ block2a_ block2b_ block2c_ block2d_ block3a_ block3b_ block3c_ "
        "block3d_ block4a_ block4b_ block4c_ block4d_ block4e_ block4f_ block5a_ block5b_ block5c_ "
        "block5d_ block5e_ block5f_ block6a_ block6b_ block6c_ block6d_ block6e_ block6f_ block6g_ "
        "block6h_ block7a_ block7b_ top_")),
    "efficientnet_b5": (
        ("block1c_add block2e_add block3e_add block4g_add block5g_add block6i_add block7c_add "
        "top_activation"),
        ("stem_ block1a_ block1b_ block1c_ block2a_ block2b_ block2c_ block2d_ block2e_ block3a_ "
        "block3b_ block3c_ block3d_ block3e_ block4a_ block4b_ block4c_ block4d_ block4e_ block4f_ "
        "block4g_ block5a_ block5b_ block5c_ block5d_ block5e_ block5f_ block5g_ block6a_ block6b_ "
        "block6c_ block6d_ block6e_ block6f_ block6g_ block6h_ block6i_ block7a_ block7b_ block7c_ "
        "top_")),
    "efficientnet_b6": (
        ("block1c_add block2f_add block3f_add block4h_add block5h_add block6k_add block7c_add "
        "top_activation"),
        ("stem_ block1a_ block1b_ block1c_ block2a_ block2b_ block2c_ block2d_ block2e_ block2f_ "
        "block3a_ block3b_ block3c_ block3d_ block3e_ block3f_ block4a_ block4b_ block4c_ block4d_ "
        "block4e_ block4f_ block4g_ block4h_ block5a_ block5b_ block5c_ block5d_ block5e_ block5f_ "
        "block5g_ block5h_ block6a_ block6b_ block6c_ block6d_ block6e_ block6f_ block6g_ block6h_ "
        "block6i_ block6j_ block6k_ block7a_ block7b_ block7c_ top_")),
    "efficientnet_b7": (
        ("block1d_add block2g_add block3g_add block4j_add block5j_add block6m_add block7d_add "
        "top_activation"),
        ("stem_ block1a_ block1b_ block1c_ block1d_ block2a_ block2b_ block2c_ block2d_ block2e_ "
        "block2f_ block2g_ block3a_ block3b_ block3c_ block3d_ block3e_ block3f_ block3g_ block4a_ "
        "block4b_ block4c_ block4d_ block4e_ block4f_ block4g_ block4h_ block4i_ block4j_ block5a_ "
        "block5b_ block5c_ block5d_ block5e_ block5f_ block5g_ block5h_ block5i_ block5j_ block6a_ "
        "block6b_ block6c_ block6d_ block6e_ block6f_ block6g_ block6h_ block6i_ block6j_ block6k_ "
        "block6l_ block6m_ block7a_ block7b_ block7c_ block7d_ top_")),
    "efficientnet_v2_b0": (
        ("block1a_project_bn block2b_add block3b_add block4c_add block5e_add block6h_add "
        "top_activation"),
        ("stem_ block1a_ block2a_ block2b_ block3a_ block3b_ block4a_ block4b_ block4c_ block5a_ "
        "block5b_ block5c_ block5d_ block5e_ block6a_ block6b_ block6c_ block6d_ block6e_ block6f_ "
        "block6g_ block6h_ top_")),
    "efficientnet_v2_b1": (
        "block1b_add block2c_add block3c_add block4d_add block5f_add block6i_add top_activation",
        ("stem_ block1a_ block1b_ block2a_ block2b_ block2c_ block3a_ block3b_ block3c_ block4a_ "
        "block4b_ block4c_ block4d_ block5a_ block5b_ block5c_ block5d_ block5e_ block5f_ block6a_ "
        "block6b_ block6c_ block6d_ block6e_ block6f_ block6g_ block6h_ block6i_ top_")),
    "efficientnet_v2_b2": (
        "block1b_add block2c_add block3c_add block4d_add block5f_add block6j_add top_activation",
        ("stem_ block1a_ block1b_ block2a_ block2b_ block2c_ block3a_ block3b_ block3c_ block4a_ "
        "block4b_ block4c_ block4d_ block5a_ block5b_ block5c_ block5d_ block5e_ block5f_ block6a_ "
        "block6b_ block6c_ block6d_ block6e_ block6f_ block6g_ block6h_ block6i_ block6j_ top_")),
    "efficientnet_v2_b3": (
        "block1b_add block2c_add block3c_add block4e_add block5g_add block6l_add top_activation",
        ("stem_ block1a_ block1b_ block2a_ block2b_ block2c_ block3a_ block3b_ block3c_ block4a_ "
        "block4b_ block4c_ block4d_ block4e_ block5a_ block5b_ block5c_ block5d_ block5e_ block5f_ "
        "block5g_ block6a_ block6b_ block6c_ block6d_ block6e_ block6f_ block6g_ block6h_ block6i_ "
        "block6j_ block6k_ block6l_ top_")),
    "efficientnet_v2_s": (
        "block1b_add block2d_add block3d_add block4f_add block5i_add block6o_add top_activation",
        ("stem_ block1a_ block1b_ block2a_ block2b_ block2c_ block2d_ block3a_ block3b_ block3c_ "
        "block3d_ block4a_ block4b_ block4c_ block4d_ block4e_ block4f_ block5a_ block5b_ block5c_ "
        "block5d_ block5e_ block5f_ block5g_ block5h_ block5i_ block6a_ block6b_ block6c_ block6d_ "
        "block6e_ block6f_ block6g_ block6h_ block6i_ block6j_ block6k_ block6l_ block6m_ block6n_ "
        "block6o_ top_")),
    "efficientnet_v2_m": (
        ("block1c_add block2e_add block3e_add block4g_add block5n_add block6r_add block7e_add "
        "top_activation"),
        ("stem_ block1a_ block1b_ block1c_ block2a_ block2b_ block2c_ block2d_ block2e_ block3a_ "
        "block3b_ block3c_ block3d_ block3e_ block4a_ block4b_ block4c_ block4d_ block4e_ block4f_ "
        "block4g_ block5a_ block5b_ block5c_ block5d_ block5e_ block5f_ block5g_ block5h_ block5i_ "
        "block5j_ block5k_ block5l_ block5m_ block5n_ block6a_ block6b_ block6c_ block6d_ block6e_ "
        "block6f_ block6g_ block6h_ block6i_ block6j_ block6k_ block6l_ block6m_ block6n_ block6o_ "
        "block6p_ block6q_ block6r_ block7a_ block7b_ block7c_ block7d_ block7e_ top_")),
    "efficientnet_v2_l": (
        ("block1d_add block2g_add block3g_add block4j_add block5s_add block6y_add block7g_add "
        "top_activation"),
        ("stem_ block1a_ block1b_ block1c_ block1d_ block2a_ block2b_ block2c_ block2d_ block2e_ "
        "block2f_ block2g_ block3a_ block3b_ block3c_ block3d_ block3e_ block3f_ block3g_ block4a_ "
        "block4b_ block4c_ block4d_ block4e_ block4f_ block4g_ block4h_ block4i_ block4j_ block5a_ "
        "block5b_ block5c_ block5d_ block5e_ block5f_ block5g_ block5h_ block5i_ block5j_ block5k_ "
        "block5l_ block5m_ block5n_ block5o_ block5p_ block5q_ block5r_ block5s_ block6a_ block6b_ "
        "block6c_ block6d_ block6e_ block6f_ block6g_ block6h_ block6i_ block6j_ block6k_ block6l_ "
        "block6m_ block6n_ block6o_ block6p_ block6q_ block6r_ block6s_ block6t_ block6u_ block6v_ "
        "block6w_ block6x_ block6y_ block7a_ block7b_ block7c_ block7d_ block7e_ block7f_ block7g_ "
        "top_")),
    "convnext_tiny": (
        ("convnext_tiny_stage_0_block_2_identity convnext_tiny_stage_1_block_2_identity "
        "convnext_tiny_stage_2_block_8_identity convnext_tiny_stage_3_block_2_identity"),
        ("convnext_tiny_stem convnext_tiny_stage_0_ convnext_tiny_downsampling_block_0 "
        "convnext_tiny_stage_1_ convnext_tiny_downsampling_block_1 convnext_tiny_stage_2_ "
        "convnext_tiny_downsampling_block_2 convnext_tiny_stage_3_")),
    "convnext_small": (
        ("convnext_small_stage_0_block_2_identity convnext_small_stage_1_block_2_identity "
        "convnext_small_stage_2_block_26_identity convnext_small_stage_3_block_2_identity"),
        ("convnext_small_stem convnext_small_stage_0_ convnext_small_downsampling_block_0 "
        "convnext_small_stage_1_ convnext_small_downsampling_block_1 convnext_small_stage_2_ "
        "convnext_small_downsampling_block_2 convnext_small_stage_3_")),
    "convnext_base": (
        ("convnext_base_stage_0_block_2_identity convnext_base_stage_1_block_2_identity "
        "convnext_base_stage_2_block_26_identity convnext_base_stage_3_block_2_identity"),
        ("convnext_base_stem convnext_base_stage_0_ convnext_base_downsampling_block_0 "
        "convnext_base_stage_1_ convnext_base_downsampling_block_1 convnext_base_stage_2_ "
        "convnext_base_downsampling_block_2 convnext_base_stage_3_")),
    "convnext_large": (
        ("convnext_large_stage_0_block_2_identity convnext_large_stage_1_block_2_identity "
        "convnext_large_stage_2_block_26_identity convnext_large_stage_3_block_2_identity"),
        ("convnext_large_stem convnext_large_stage_0_ convnext_large_downsampling_block_0 "
        "convnext_large_stage_1_ convnext_large_downsampling_block_1 convnext_large_stage_2_ "
        "convnext_large_downsampling_block_2 convnext_large_stage_3_")),
    "convnext_xlarge": (
        ("convnext_xlarge_stage_0_block_2_identity convnext_xlarge_stage_1_block_2_identity "
        "convnext_xlarge_stage_2_block_26_identity convnext_xlarge_stage_3_block_2_identity"),
        ("convnext_xlarge_stem convnext_xlarge_stage_0_ convnext_xlarge_downsampling_block_0 "
        "convnext_xlarge_stage_1_ convnext_xlarge_downsampling_block_1 convnext_xlarge_stage_2_ "
        "convnext_xlarge_downsampling_block_2 convnext_xlarge_stage_3_")),
    "densenet121": (
        "conv2_block6_concat conv3_block12_concat conv4_block24_concat relu",
        ("conv1_ conv2_block1_ conv2_block2_ conv2_block3_ conv2_block4_ conv2_block5_ conv2_block6_ "
        "pool2_ conv3_block1_ conv3_block2_ conv3_block3_ conv3_block4_ conv3_block5_ conv3_block6_ "
        "conv3_block7_ conv3_block8_ conv3_block9_ conv3_block10_ conv3_block11_ conv3_block12_ "
        "pool3_ conv4_block1_ conv4_block2_ conv4_block3_ conv4_block4_ conv4_block5_ conv4_block6_ "
        "conv4_block7_ conv4_block8_ conv4_block9_ conv4_block10_ conv4_block11_ conv4_block12_ "
        "conv4_block13_ conv4_block14_ conv4_block15_ conv4_block16_ conv4_block17_ conv4_block18_ "
        "conv4_block19_ conv4_block20_ conv4_block21_ conv4_block22_ conv4_block23_ conv4_block24_ "
        "pool4_ conv5_block1_ conv5_block2_ conv5_block3_ conv5_block4_ conv5_block5_ conv5_block6_ "
        "conv5_block7_ conv5_block8_ conv5_block9_ conv5_block10_ conv5_block11_ conv5_block12_ "
        "conv5_block13_ conv5_block14_ conv5_block15_ conv5_block16_ bn")),
    "densenet169": (
        "conv2_block6_concat conv3_block12_concat conv4_block32_concat relu",
        ("conv1_ conv2_block1_ conv2_block2_ conv2_block3_ conv2_block4_ conv2_block5_ conv2_block6_ "
        "pool2_ conv3_block1_ conv3_block2_ conv3_block3_ conv3_block4_ conv3_block5_ conv3_block6_ "
        "conv3_block7_ conv3_block8_ conv3_block9_ conv3_block10_ conv3_block11_ conv3_block12_ "
        "pool3_ conv4_block1_ conv4_block2_ conv4_block3_ conv4_block4_ conv4_block5_ conv4_block6_ "
        "conv4_block7_ conv4_block8_ conv4_block9_ conv4_block10_ conv4_block11_ conv4_block12_ "
        "conv4_block13_ conv4_block14_ conv4_block15_ conv4_block16_ conv4_block17_ conv4_block18_ "
        "conv4_block19_ conv4_block20_ conv4_block21_ conv4_block22_ conv4_block23_ conv4_block24_ "
        "conv4_block25_ conv4_block26_ conv4_block27_ conv4_block28_ conv4_block29_ conv4_block30_ "
        "conv4_block31_ conv4_block32_ pool4_ conv5_block1_ conv5_block2_ conv5_block3_ "
        "conv5_block4_ conv5_block5_ conv5_block6_ conv5_block7_ conv5_block8_ conv5_block9_ "
        "conv5_block10_ conv5_block11_ conv5_block12_ conv5_block13_ conv5_block14_ conv5_block15_ "
        "conv5_block16_ conv5_block17_ conv5_block18_ conv5_block19_ conv5_block20_ conv5_block21_ "
        "conv5_block22_ conv5_block23_ conv5_block24_ conv5_block25_ conv5_block26_ conv5_block27_ "
        "conv5_block28_ conv5_block29_ conv5_block30_ conv5_block31_ conv5_block32_ bn")),
    "densenet201": (
        "conv2_block6_concat conv3_block12_concat conv4_block48_concat relu",
        ("conv1_ conv2_block1_ conv2_block2_ conv2_block3_ conv2_block4_ conv2_block5_ conv2_block6_ "
        "pool2_ conv3_block1_ conv3_block2_ conv3_block3_ conv3_block4_ conv3_block5_ conv3_block6_ "
        "conv3_block7_ conv3_block8_ conv3_block9_ conv3_block10_ conv3_block11_ conv3_block12_ "
        "pool3_ conv4_block1_ conv4_block2_ conv4_block3_ conv4_block4_ conv4_block5_ conv4_block6_ "
        "conv4_block7_ conv4_block8_ conv4_block9_ conv4_block10_ conv4_block11_ conv4_block12_ "
        "conv4_block13_ conv4_block14_ conv4_block15_ conv4_block16_ conv4_block17_ conv4_block18_ "
        "conv4_block19_ conv4_block20_ conv4_block21_ conv4_block22_ conv4_block23_ conv4_block24_ "
        "conv4_block25_ conv4_block26_ conv4_block27_ conv4_block28_ conv4_block29_ conv4_block30_ "
        "conv4_block31_ conv4_block32_ conv4_block33_ conv4_block34_ conv4_block35_ conv4_block36_ "
        "conv4_block37_ conv4_block38_ conv4_block39_ conv4_block40_ conv4_block41_ conv4_block42_ "
        "conv4_block43_ conv4_block44_ conv4_block45_ conv4_block46_ conv4_block47_ conv4_block48_ "
        "pool4_ conv5_block1_ conv5_block2_ conv5_block3_ conv5_block4_ conv5_block5_ conv5_block6_ "
        "conv5_block7_ conv5_block8_ conv5_block9_ conv5_block10_ conv5_block11_ conv5_block12_ "
        "conv5_block13_ conv5_block14_ conv5_block15_ conv5_block16_ conv5_block17_ conv5_block18_ "
        "conv5_block19_ conv5_block20_ conv5_block21_ conv5_block22_ conv5_block23_ conv5_block24_ "
        "conv5_block25_ conv5_block26_ conv5_block27_ conv5_block28_ conv5_block29_ conv5_block30_ "
        "conv5_block31_ conv5_block32_ bn")),
    "xception": (
        "block1_conv2_act block2_add block3_add block12_add block14_sepconv2_act",
        ("block1_ block2_ block3_ block4_ block5_ block6_ block7_ block8_ block9_ block10_ block11_ "
        "block12_ block13_ block14_")),
    "nasnet_mobile": (
        "cell_stem_1_reduction_concat cell_3_normal_concat cell_8_normal_concat final_relu",
        ("stem_ cell_stem_1_ cell_stem_2_ cell_0_ cell_1_ cell_2_ cell_3_ cell_reduce_4_ cell_5_ "
        "cell_6_ cell_7_ cell_8_ cell_reduce_8_ cell_9_ cell_10_ cell_11_ cell_12_")),
    "nasnet_large": (
        "cell_stem_1_reduction_concat cell_5_normal_concat cell_12_normal_concat final_relu",
        ("stem_ cell_stem_1_ cell_stem_2_ cell_0_ cell_1_ cell_2_ cell_3_ cell_4_ cell_5_ "
        "cell_reduce_6_ cell_7_ cell_8_ cell_9_ cell_10_ cell_11_ cell_12_ cell_reduce_12_ cell_13_ "
        "cell_14_ cell_15_ cell_16_ cell_17_ cell_18_")),
    "inception_resnet_v2": (
        "block35_10_ac block17_20_ac conv_7b_ac",
        ("mixed_5b_ block35_1_ block35_2_ block35_3_ block35_4_ block35_5_ block35_6_ block35_7_ "
        "block35_8_ block35_9_ block35_10_ mixed_6a_ block17_1_ block17_2_ block17_3_ block17_4_ "
        "block17_5_ block17_6_ block17_7_ block17_8_ block17_9_ block17_10_ block17_11_ block17_12_ "
        "block17_13_ block17_14_ block17_15_ block17_16_ block17_17_ block17_18_ block17_19_ "
        "block17_20_ mixed_7a_ block8_1_ block8_2_ block8_3_ block8_4_ block8_5_ block8_6_ "
        "block8_7_ block8_8_ block8_9_ block8_10_ conv_7b")),
}


@register_model(**_facts("mobilenet", "mobilenet_v1", (224, 224, 3)), params=4_253_864,
                description="MobileNet v1 = keras.applications.MobileNet, 224x224x3")
def mobilenet_v1(**kwargs):
    """MobileNet v1 (keras.applications.MobileNet), 224x224x3; see `Application`."""
    return Application(keras_name="MobileNet", family="mobilenet", name="mobilenet_v1", default_shape=(224, 224, 3), **kwargs)


@register_model(**_facts("mobilenet_v2", "mobilenet_v2", (224, 224, 3)), params=3_538_984,
                description="MobileNetV2 = keras.applications.MobileNetV2, 224x224x3")
def mobilenet_v2(**kwargs):
    """MobileNetV2 (keras.applications.MobileNetV2), 224x224x3; see `Application`."""
    return Application(keras_name="MobileNetV2", family="mobilenet_v2", name="mobilenet_v2", default_shape=(224, 224, 3), **kwargs)


@register_model(**_facts("mobilenet_v3", "mobilenet_v3_small", (224, 224, 3)), params=2_554_968,
                description="MobileNetV3-Small = keras.applications.MobileNetV3Small, 224x224x3")
def mobilenet_v3_small(**kwargs):
    """MobileNetV3-Small (keras.applications.MobileNetV3Small), 224x224x3; see `Application`."""
    return Application(keras_name="MobileNetV3Small", family="mobilenet_v3", name="mobilenet_v3_small",
                       default_shape=(224, 224, 3), **kwargs)


@register_model(**_facts("mobilenet_v3", "mobilenet_v3_large", (224, 224, 3)), params=5_507_432,
                description="MobileNetV3-Large = keras.applications.MobileNetV3Large, 224x224x3")
def mobilenet_v3_large(**kwargs):
    """MobileNetV3-Large (keras.applications.MobileNetV3Large), 224x224x3; see `Application`."""
    return Application(keras_name="MobileNetV3Large", family="mobilenet_v3", name="mobilenet_v3_large",
                       default_shape=(224, 224, 3), **kwargs)


@register_model(**_facts("efficientnet", "efficientnet_b0", (224, 224, 3)), params=5_330_571,
                description="EfficientNet-B0 = keras.applications.EfficientNetB0, 224x224x3")
def efficientnet_b0(**kwargs):
    """EfficientNet-B0 (keras.applications.EfficientNetB0), 224x224x3; see `Application`."""
    return Application(keras_name="EfficientNetB0", family="efficientnet", name="efficientnet_b0", default_shape=(224, 224, 3), **kwargs)


@register_model(**_facts("efficientnet", "efficientnet_b1", (240, 240, 3)), params=7_856_239,
                description="EfficientNet-B1 = keras.applications.EfficientNetB1, 240x240x3")
def efficientnet_b1(**kwargs):
    """EfficientNet-B1 (keras.applications.EfficientNetB1), 240x240x3; see `Application`."""
    return Application(keras_name="EfficientNetB1", family="efficientnet", name="efficientnet_b1", default_shape=(240, 240, 3), **kwargs)


@register_model(**_facts("efficientnet", "efficientnet_b2", (260, 260, 3)), params=9_177_569,
                description="EfficientNet-B2 = keras.applications.EfficientNetB2, 260x260x3")
def efficientnet_b2(**kwargs):
    """EfficientNet-B2 (keras.applications.EfficientNetB2), 260x260x3; see `Application`."""
    return Application(keras_name="EfficientNetB2", family="efficientnet", name="efficientnet_b2", default_shape=(260, 260, 3), **kwargs)


@register_model(**_facts("efficientnet", "efficientnet_b3", (300, 300, 3)), params=12_320_535,
                description="EfficientNet-B3 = keras.applications.EfficientNetB3, 300x300x3")
def efficientnet_b3(**kwargs):
    """EfficientNet-B3 (keras.applications.EfficientNetB3), 300x300x3; see `Application`."""
    return Application(keras_name="EfficientNetB3", family="efficientnet", name="efficientnet_b3", default_shape=(300, 300, 3), **kwargs)


@register_model(**_facts("efficientnet", "efficientnet_b4", (380, 380, 3)), params=19_466_823,
                description="EfficientNet-B4 = keras.applications.EfficientNetB4, 380x380x3")
def efficientnet_b4(**kwargs):
    """EfficientNet-B4 (keras.applications.EfficientNetB4), 380x380x3; see `Application`."""
    return Application(keras_name="EfficientNetB4", family="efficientnet", name="efficientnet_b4", default_shape=(380, 380, 3), **kwargs)


@register_model(**_facts("efficientnet", "efficientnet_b5", (456, 456, 3)), params=30_562_527,
                description="EfficientNet-B5 = keras.applications.EfficientNetB5, 456x456x3")
def efficientnet_b5(**kwargs):
    """EfficientNet-B5 (keras.applications.EfficientNetB5), 456x456x3; see `Application`."""
    return Application(keras_name="EfficientNetB5", family="efficientnet", name="efficientnet_b5", default_shape=(456, 456, 3), **kwargs)


@register_model(**_facts("efficientnet", "efficientnet_b6", (528, 528, 3)), params=43_265_143,
                description="EfficientNet-B6 = keras.applications.EfficientNetB6, 528x528x3")
def efficientnet_b6(**kwargs):
    """EfficientNet-B6 (keras.applications.EfficientNetB6), 528x528x3; see `Application`."""
    return Application(keras_name="EfficientNetB6", family="efficientnet", name="efficientnet_b6", default_shape=(528, 528, 3), **kwargs)


@register_model(**_facts("efficientnet", "efficientnet_b7", (600, 600, 3)), params=66_658_687,
                description="EfficientNet-B7 = keras.applications.EfficientNetB7, 600x600x3")
def efficientnet_b7(**kwargs):
    """EfficientNet-B7 (keras.applications.EfficientNetB7), 600x600x3; see `Application`."""
    return Application(keras_name="EfficientNetB7", family="efficientnet", name="efficientnet_b7", default_shape=(600, 600, 3), **kwargs)


@register_model(**_facts("efficientnet_v2", "efficientnet_v2_b0", (224, 224, 3)), params=7_200_312,
                description="EfficientNetV2-B0 = keras.applications.EfficientNetV2B0, 224x224x3")
def efficientnet_v2_b0(**kwargs):
    """EfficientNetV2-B0 (keras.applications.EfficientNetV2B0), 224x224x3; see `Application`."""
    return Application(keras_name="EfficientNetV2B0", family="efficientnet_v2", name="efficientnet_v2_b0", default_shape=(224, 224, 3), **kwargs)


@register_model(**_facts("efficientnet_v2", "efficientnet_v2_b1", (240, 240, 3)), params=8_212_124,
                description="EfficientNetV2-B1 = keras.applications.EfficientNetV2B1, 240x240x3")
def efficientnet_v2_b1(**kwargs):
    """EfficientNetV2-B1 (keras.applications.EfficientNetV2B1), 240x240x3; see `Application`."""
    return Application(keras_name="EfficientNetV2B1", family="efficientnet_v2", name="efficientnet_v2_b1", default_shape=(240, 240, 3), **kwargs)


@register_model(**_facts("efficientnet_v2", "efficientnet_v2_b2", (260, 260, 3)), params=10_178_374,
                description="EfficientNetV2-B2 = keras.applications.EfficientNetV2B2, 260x260x3")
def efficientnet_v2_b2(**kwargs):
    """EfficientNetV2-B2 (keras.applications.EfficientNetV2B2), 260x260x3; see `Application`."""
    return Application(keras_name="EfficientNetV2B2", family="efficientnet_v2", name="efficientnet_v2_b2", default_shape=(260, 260, 3), **kwargs)


@register_model(**_facts("efficientnet_v2", "efficientnet_v2_b3", (300, 300, 3)), params=14_467_622,
                description="EfficientNetV2-B3 = keras.applications.EfficientNetV2B3, 300x300x3")
def efficientnet_v2_b3(**kwargs):
    """EfficientNetV2-B3 (keras.applications.EfficientNetV2B3), 300x300x3; see `Application`."""
    return Application(keras_name="EfficientNetV2B3", family="efficientnet_v2", name="efficientnet_v2_b3", default_shape=(300, 300, 3), **kwargs)


@register_model(**_facts("efficientnet_v2", "efficientnet_v2_s", (384, 384, 3)), params=21_612_360,
                description="EfficientNetV2-S = keras.applications.EfficientNetV2S, 384x384x3")
def efficientnet_v2_s(**kwargs):
    """EfficientNetV2-S (keras.applications.EfficientNetV2S), 384x384x3; see `Application`."""
    return Application(keras_name="EfficientNetV2S", family="efficientnet_v2", name="efficientnet_v2_s", default_shape=(384, 384, 3), **kwargs)


@register_model(**_facts("efficientnet_v2", "efficientnet_v2_m", (480, 480, 3)), params=54_431_388,
                description="EfficientNetV2-M = keras.applications.EfficientNetV2M, 480x480x3")
def efficientnet_v2_m(**kwargs):
    """EfficientNetV2-M (keras.applications.EfficientNetV2M), 480x480x3; see `Application`."""
    return Application(keras_name="EfficientNetV2M", family="efficientnet_v2", name="efficientnet_v2_m", default_shape=(480, 480, 3), **kwargs)


@register_model(**_facts("efficientnet_v2", "efficientnet_v2_l", (480, 480, 3)), params=119_027_848,
                description="EfficientNetV2-L = keras.applications.EfficientNetV2L, 480x480x3")
def efficientnet_v2_l(**kwargs):
    """EfficientNetV2-L (keras.applications.EfficientNetV2L), 480x480x3; see `Application`."""
    return Application(keras_name="EfficientNetV2L", family="efficientnet_v2", name="efficientnet_v2_l", default_shape=(480, 480, 3), **kwargs)


@register_model(**_facts("convnext", "convnext_tiny", (224, 224, 3)), params=28_589_128,
                description="ConvNeXt-Tiny = keras.applications.ConvNeXtTiny, 224x224x3")
def convnext_tiny(**kwargs):
    """ConvNeXt-Tiny (keras.applications.ConvNeXtTiny), 224x224x3; see `Application`."""
    return Application(keras_name="ConvNeXtTiny", family="convnext", name="convnext_tiny", default_shape=(224, 224, 3), **kwargs)


@register_model(**_facts("convnext", "convnext_small", (224, 224, 3)), params=50_223_688,
                description="ConvNeXt-Small = keras.applications.ConvNeXtSmall, 224x224x3")
def convnext_small(**kwargs):
    """ConvNeXt-Small (keras.applications.ConvNeXtSmall), 224x224x3; see `Application`."""
    return Application(keras_name="ConvNeXtSmall", family="convnext", name="convnext_small", default_shape=(224, 224, 3), **kwargs)


@register_model(**_facts("convnext", "convnext_base", (224, 224, 3)), params=88_591_464,
                description="ConvNeXt-Base = keras.applications.ConvNeXtBase, 224x224x3")
def convnext_base(**kwargs):
    """ConvNeXt-Base (keras.applications.ConvNeXtBase), 224x224x3; see `Application`."""
    return Application(keras_name="ConvNeXtBase", family="convnext", name="convnext_base", default_shape=(224, 224, 3), **kwargs)


@register_model(**_facts("convnext", "convnext_large", (224, 224, 3)), params=197_767_336,
                description="ConvNeXt-Large = keras.applications.ConvNeXtLarge, 224x224x3")
def convnext_large(**kwargs):
    """ConvNeXt-Large (keras.applications.ConvNeXtLarge), 224x224x3; see `Application`."""
    return Application(keras_name="ConvNeXtLarge", family="convnext", name="convnext_large", default_shape=(224, 224, 3), **kwargs)


@register_model(**_facts("convnext", "convnext_xlarge", (224, 224, 3)), params=350_196_968,
                description="ConvNeXt-XLarge = keras.applications.ConvNeXtXLarge, 224x224x3")
def convnext_xlarge(**kwargs):
    """ConvNeXt-XLarge (keras.applications.ConvNeXtXLarge), 224x224x3; see `Application`."""
    return Application(keras_name="ConvNeXtXLarge", family="convnext", name="convnext_xlarge", default_shape=(224, 224, 3), **kwargs)


@register_model(**_facts("densenet", "densenet121", (224, 224, 3)), params=8_062_504,
                description="DenseNet-121 = keras.applications.DenseNet121, 224x224x3")
def densenet121(**kwargs):
    """DenseNet-121 (keras.applications.DenseNet121), 224x224x3; see `Application`."""
    return Application(keras_name="DenseNet121", family="densenet", name="densenet121", default_shape=(224, 224, 3), **kwargs)


@register_model(**_facts("densenet", "densenet169", (224, 224, 3)), params=14_307_880,
                description="DenseNet-169 = keras.applications.DenseNet169, 224x224x3")
def densenet169(**kwargs):
    """DenseNet-169 (keras.applications.DenseNet169), 224x224x3; see `Application`."""
    return Application(keras_name="DenseNet169", family="densenet", name="densenet169", default_shape=(224, 224, 3), **kwargs)


@register_model(**_facts("densenet", "densenet201", (224, 224, 3)), params=20_242_984,
                description="DenseNet-201 = keras.applications.DenseNet201, 224x224x3")
def densenet201(**kwargs):
    """DenseNet-201 (keras.applications.DenseNet201), 224x224x3; see `Application`."""
    return Application(keras_name="DenseNet201", family="densenet", name="densenet201", default_shape=(224, 224, 3), **kwargs)


@register_model(**_facts("xception", "xception", (299, 299, 3)), params=22_910_480,
                description="Xception = keras.applications.Xception, 299x299x3")
def xception(**kwargs):
    """Xception (keras.applications.Xception), 299x299x3; see `Application`."""
    return Application(keras_name="Xception", family="xception", name="xception", default_shape=(299, 299, 3), **kwargs)


@register_model(**_facts("nasnet", "nasnet_mobile", (224, 224, 3)), params=5_326_716,
                description="NASNet-A Mobile = keras.applications.NASNetMobile, 224x224x3")
def nasnet_mobile(**kwargs):
    """NASNet-A Mobile (keras.applications.NASNetMobile), 224x224x3; see `Application`."""
    return Application(keras_name="NASNetMobile", family="nasnet", name="nasnet_mobile", default_shape=(224, 224, 3), **kwargs)


@register_model(**_facts("nasnet", "nasnet_large", (331, 331, 3)), params=88_949_818,
                description="NASNet-A Large = keras.applications.NASNetLarge, 331x331x3")
def nasnet_large(**kwargs):
    """NASNet-A Large (keras.applications.NASNetLarge), 331x331x3; see `Application`."""
    return Application(keras_name="NASNetLarge", family="nasnet", name="nasnet_large", default_shape=(331, 331, 3), **kwargs)


@register_model(**_facts("inception_resnet_v2", "inception_resnet_v2", (299, 299, 3)), params=55_873_736,
                description="Inception-ResNet v2 = keras.applications.InceptionResNetV2, 299x299x3")
def inception_resnet_v2(**kwargs):
    """Inception-ResNet v2 (keras.applications.InceptionResNetV2), 299x299x3; see `Application`."""
    return Application(keras_name="InceptionResNetV2", family="inception_resnet_v2", name="inception_resnet_v2", default_shape=(299, 299, 3), **kwargs)
