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
import functools
import inspect
import math
import re

import keras
import numpy as np

from dlzoo.models.applications_tables import IMAGENET_WEIGHTS, LAYOUT, PARAMS
from dlzoo.registry import (
    feature_layers,
    last_per_stage,
    prefixes_matching,
    register_model,
    unfreeze_groups,
)
from dlzoo.validation import (
    check_choice,
    check_head,
    check_image_input,
    check_int,
    check_num_classes,
    check_rate,
    head_activation,
    unknown_arguments,
)

__all__ = ["FAMILIES", "IMAGENET_WEIGHTS", "KERAS_NAMES", "Application", "name_unnamed_layers"]


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
    """

    name: str
    paper: str
    preprocessing: str
    min_size: int
    groups: str
    arch_args: tuple = ()



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

# Every variant's arguments, besides its family's own (`Family.arch_args`).
_ACCEPTED = ("num_classes", "input_shape", "include_top", "pooling", "classifier_activation")


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
        raise unknown_arguments(name, unknown, _ACCEPTED + fam.arch_args)
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
    norm.finalize_state()  # set_weights leaves the statistics the layer computes with unchanged
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


def _names(spec: str) -> tuple:
    """Space-separated layer names; a range in braces stands for its members, digits or letters:
    `block{1-3}_` is block1_ block2_ block3_, `block2{a-c}_` is block2a_ block2b_ block2c_."""
    out = []
    for word in spec.split():
        m = re.search(r"\{(\w+)-(\w+)\}", word)
        if m is None:
            out.append(word)
            continue
        lo, hi = m.groups()
        values = range(int(lo), int(hi) + 1) if lo.isdigit() else map(chr, range(ord(lo), ord(hi) + 1))
        out += [f"{word[:m.start()]}{v}{word[m.end():]}" for v in values]
    return tuple(out)


def layout_of(name: str, model) -> tuple:
    """(feature layers, unfreeze groups) of `model`, built by the registered variant `name`."""
    return tuple(feature_layers(name, model)), tuple(unfreeze_groups(name, model))


def _facts(family: str, name: str, default_shape: tuple) -> dict:
    fam = FAMILIES[family]
    small = fam.min_size
    smoke = {"input_shape": (small, small, 3), "num_classes": 3}
    features, groups = LAYOUT.get(name, ("", ""))  # a new variant: read off its build
    return {
        "family": family,
        "default_input_shape": default_shape,
        "default_num_classes": 1000,
        "paper": fam.paper,
        "weights": ("imagenet",),
        "preprocessing": fam.preprocessing,
        "feature_layers": _names(features),
        "unfreeze_groups": _names(groups),
        "min_input_size": fam.min_size,
        "smoke_overrides": smoke,
        "feature_rule": FEATURE_RULES.get(name, FEATURE_RULES.get(family)),
        "unfreeze_rule": prefixes_matching(fam.groups),
    }


KERAS_NAMES: dict = {}  # registry name -> keras.applications constructor, filled as variants register


def _application(keras_name: str, size: int = 224):
    """Registers the decorated function as the variant `keras.applications.<keras_name>`, by
    default `size` x `size` x 3 (keras.applications' own default). Its name is the function's,
    its family the keras.applications module the constructor is in, its title the docstring's
    first line; its ImageNet files and published parameter count are its rows in the family
    tables (`applications_tables`). The variant builds `Application(keras_name=..., family=...,
    name=..., default_shape=..., **kwargs)`."""

    def register(fn):
        name = fn.__name__
        family = getattr(keras.applications, keras_name).__module__.rsplit(".", 1)[-1]
        fixed = {"keras_name": keras_name, "family": family, "name": name,
                 "default_shape": (size, size, 3)}

        @functools.wraps(fn)
        def builder(**kwargs):
            if set(kwargs) & set(fixed):  # the variant's own facts are not arguments
                raise unknown_arguments(name, sorted(set(kwargs) & set(fixed)),
                                        _ACCEPTED + FAMILIES[family].arch_args)
            return fn(**kwargs, **fixed)

        title = (inspect.getdoc(fn) or name).split("\n")[0].rstrip(".")
        KERAS_NAMES[name] = keras_name
        return register_model(
            **_facts(family, name, (size, size, 3)), params=PARAMS.get(name),
            description=f"{title} = keras.applications.{keras_name}, {size}x{size}x3")(builder)

    return register


# Each variant: keras.applications' constructor and default size, and its title.
@_application("MobileNet")
def mobilenet_v1(**kwargs):
    """MobileNet v1."""
    return Application(**kwargs)


@_application("MobileNetV2")
def mobilenet_v2(**kwargs):
    """MobileNetV2."""
    return Application(**kwargs)


@_application("MobileNetV3Small")
def mobilenet_v3_small(**kwargs):
    """MobileNetV3-Small."""
    return Application(**kwargs)


@_application("MobileNetV3Large")
def mobilenet_v3_large(**kwargs):
    """MobileNetV3-Large."""
    return Application(**kwargs)


@_application("EfficientNetB0")
def efficientnet_b0(**kwargs):
    """EfficientNet-B0."""
    return Application(**kwargs)


@_application("EfficientNetB1", 240)
def efficientnet_b1(**kwargs):
    """EfficientNet-B1."""
    return Application(**kwargs)


@_application("EfficientNetB2", 260)
def efficientnet_b2(**kwargs):
    """EfficientNet-B2."""
    return Application(**kwargs)


@_application("EfficientNetB3", 300)
def efficientnet_b3(**kwargs):
    """EfficientNet-B3."""
    return Application(**kwargs)


@_application("EfficientNetB4", 380)
def efficientnet_b4(**kwargs):
    """EfficientNet-B4."""
    return Application(**kwargs)


@_application("EfficientNetB5", 456)
def efficientnet_b5(**kwargs):
    """EfficientNet-B5."""
    return Application(**kwargs)


@_application("EfficientNetB6", 528)
def efficientnet_b6(**kwargs):
    """EfficientNet-B6."""
    return Application(**kwargs)


@_application("EfficientNetB7", 600)
def efficientnet_b7(**kwargs):
    """EfficientNet-B7."""
    return Application(**kwargs)


@_application("EfficientNetV2B0")
def efficientnet_v2_b0(**kwargs):
    """EfficientNetV2-B0."""
    return Application(**kwargs)


@_application("EfficientNetV2B1", 240)
def efficientnet_v2_b1(**kwargs):
    """EfficientNetV2-B1."""
    return Application(**kwargs)


@_application("EfficientNetV2B2", 260)
def efficientnet_v2_b2(**kwargs):
    """EfficientNetV2-B2."""
    return Application(**kwargs)


@_application("EfficientNetV2B3", 300)
def efficientnet_v2_b3(**kwargs):
    """EfficientNetV2-B3."""
    return Application(**kwargs)


@_application("EfficientNetV2S", 384)
def efficientnet_v2_s(**kwargs):
    """EfficientNetV2-S."""
    return Application(**kwargs)


@_application("EfficientNetV2M", 480)
def efficientnet_v2_m(**kwargs):
    """EfficientNetV2-M."""
    return Application(**kwargs)


@_application("EfficientNetV2L", 480)
def efficientnet_v2_l(**kwargs):
    """EfficientNetV2-L."""
    return Application(**kwargs)


@_application("ConvNeXtTiny")
def convnext_tiny(**kwargs):
    """ConvNeXt-Tiny."""
    return Application(**kwargs)


@_application("ConvNeXtSmall")
def convnext_small(**kwargs):
    """ConvNeXt-Small."""
    return Application(**kwargs)


@_application("ConvNeXtBase")
def convnext_base(**kwargs):
    """ConvNeXt-Base."""
    return Application(**kwargs)


@_application("ConvNeXtLarge")
def convnext_large(**kwargs):
    """ConvNeXt-Large."""
    return Application(**kwargs)


@_application("ConvNeXtXLarge")
def convnext_xlarge(**kwargs):
    """ConvNeXt-XLarge."""
    return Application(**kwargs)


@_application("DenseNet121")
def densenet121(**kwargs):
    """DenseNet-121."""
    return Application(**kwargs)


@_application("DenseNet169")
def densenet169(**kwargs):
    """DenseNet-169."""
    return Application(**kwargs)


@_application("DenseNet201")
def densenet201(**kwargs):
    """DenseNet-201."""
    return Application(**kwargs)


@_application("Xception", 299)
def xception(**kwargs):
    """Xception."""
    return Application(**kwargs)


@_application("NASNetMobile")
def nasnet_mobile(**kwargs):
    """NASNet-A Mobile."""
    return Application(**kwargs)


@_application("NASNetLarge", 331)
def nasnet_large(**kwargs):
    """NASNet-A Large."""
    return Application(**kwargs)


@_application("InceptionResNetV2", 299)
def inception_resnet_v2(**kwargs):
    """Inception-ResNet v2."""
    return Application(**kwargs)
