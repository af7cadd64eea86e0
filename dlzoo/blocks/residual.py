"""Residual blocks (He et al. 2016a, 2016b): basic and bottleneck, post- (v1) and pre-activation (v2).

Layer names follow keras.applications' ResNet (`{name}_0_conv` is the shortcut projection,
`{name}_1_conv`, `{name}_2_conv`, `{name}_3_conv` the main branch, `{name}_out` the block output),
and the bottleneck blocks build the same graph, layer for layer, as keras.applications'
`residual_block_v1` / `residual_block_v2`, so its weight files load by layer order and by name.
"""

from __future__ import annotations

from keras import layers

from dlzoo.layers.padding import ChannelPadding

SHORTCUTS = ("identity", "projection", "zero_pad")
BN_EPSILON = 1.001e-5  # keras.applications' ResNets (ported from Caffe)


def residual_shortcut(
    x,
    out_channels: int,
    *,
    name: str,
    kind: str = "identity",
    stride: int = 1,
    batch_norm: bool = True,
    conv_bias: bool = True,
    bn_epsilon: float = BN_EPSILON,
):
    """The shortcut branch of a residual block.

    Args:
        x: the block's input (for pre-activation blocks, the activated input for "projection").
        out_channels: channels of the block's output.
        name: block prefix; layers are `{name}_0_conv`, `{name}_0_bn`, `{name}_0_pool`,
            `{name}_0_pad`.
        kind: "identity" (subsampled by a 1x1 max pool when stride > 1, as keras.applications'
            v2 does), "projection" (1x1 convolution, option B of He et al.) or "zero_pad" (strided
            subsampling and zero channels, option A: no parameters).
        stride: spatial stride of the block.
        batch_norm: BatchNormalization after the projection (v1) or not (v2).
        conv_bias: bias on the projection.
        bn_epsilon: BatchNormalization epsilon.
    """
    if kind == "projection":
        x = layers.Conv2D(out_channels, 1, strides=stride, use_bias=conv_bias, name=f"{name}_0_conv")(x)
        if batch_norm:
            x = layers.BatchNormalization(epsilon=bn_epsilon, name=f"{name}_0_bn")(x)
        return x
    if stride > 1:
        # A 1x1 max pool with stride s keeps every s-th pixel: the strided subsampling of option A.
        x = layers.MaxPooling2D(1, strides=stride, name=f"{name}_0_pool")(x)
    if kind == "zero_pad":
        extra = out_channels - x.shape[-1]
        if extra < 0:
            raise ValueError(
                f"{name}: a zero-padding shortcut cannot narrow {x.shape[-1]} channels to "
                f"{out_channels}; use shortcut='projection'."
            )
        if extra:
            x = ChannelPadding((0, extra), name=f"{name}_0_pad")(x)
    return x


def _bn_relu(x, *, name: str, epsilon: float):
    """BatchNormalization then ReLU: `{name}_bn`, `{name}_relu`."""
    x = layers.BatchNormalization(epsilon=epsilon, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _preactivation(x, out_channels: int, *, name: str, shortcut: str, stride: int, epsilon: float):
    """A v2 block's start: `{name}_preact_bn/_relu` and the shortcut (a projection reads the
    activated input, the others the raw one). Returns (activated input, shortcut)."""
    pre = _bn_relu(x, name=f"{name}_preact", epsilon=epsilon)
    sc = residual_shortcut(
        pre if shortcut == "projection" else x, out_channels, name=name, kind=shortcut,
        stride=stride, batch_norm=False,
    )
    return pre, sc


def _add_relu(shortcut, x, *, name: str):
    """A v1 block's end: `{name}_add`, then ReLU as `{name}_out`."""
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def bottleneck_block(
    x,
    filters: int,
    *,
    name: str,
    stride: int = 1,
    shortcut: str = "identity",
    preact: bool = False,
    expansion: int = 4,
    conv_bias: bool = True,
    bn_epsilon: float = BN_EPSILON,
):
    """1x1 reduce, 3x3, 1x1 expand to `expansion * filters` channels, plus the shortcut.

    v1 (`preact=False`, keras.applications' `residual_block_v1`): the stride sits on the first 1x1
    convolution; BatchNormalization follows every convolution; ReLU after the addition
    (`{name}_out`). v2 (`preact=True`, `residual_block_v2`): BatchNormalization and ReLU come
    first (`{name}_preact_bn`), the stride sits on the explicitly padded 3x3 convolution, and the
    addition is the output (`{name}_out`).

    Args:
        x: input tensor, channels last.
        filters: bottleneck width.
        name: prefix, e.g. "conv2_block1".
        stride: spatial stride.
        shortcut: see `residual_shortcut`.
        preact: pre-activation (v2) block.
        expansion: output channels are `expansion * filters`.
        conv_bias: bias on the convolutions that batch norm follows (keras.applications' v1 has
            them, its v2 does not); convolutions feeding the addition always have one.
        bn_epsilon: BatchNormalization epsilon.
    """
    out_channels = expansion * filters
    if not preact:
        sc = residual_shortcut(
            x, out_channels, name=name, kind=shortcut, stride=stride, conv_bias=conv_bias,
            bn_epsilon=bn_epsilon,
        )
        x = layers.Conv2D(filters, 1, strides=stride, use_bias=conv_bias, name=f"{name}_1_conv")(x)
        x = _bn_relu(x, name=f"{name}_1", epsilon=bn_epsilon)
        x = layers.Conv2D(filters, 3, padding="same", use_bias=conv_bias, name=f"{name}_2_conv")(x)
        x = _bn_relu(x, name=f"{name}_2", epsilon=bn_epsilon)
        x = layers.Conv2D(out_channels, 1, use_bias=conv_bias, name=f"{name}_3_conv")(x)
        x = layers.BatchNormalization(epsilon=bn_epsilon, name=f"{name}_3_bn")(x)
        return _add_relu(sc, x, name=name)

    pre, sc = _preactivation(x, out_channels, name=name, shortcut=shortcut, stride=stride,
                             epsilon=bn_epsilon)
    x = layers.Conv2D(filters, 1, use_bias=conv_bias, name=f"{name}_1_conv")(pre)
    x = _bn_relu(x, name=f"{name}_1", epsilon=bn_epsilon)
    x = layers.ZeroPadding2D(1, name=f"{name}_2_pad")(x)
    x = layers.Conv2D(filters, 3, strides=stride, use_bias=conv_bias, name=f"{name}_2_conv")(x)
    x = _bn_relu(x, name=f"{name}_2", epsilon=bn_epsilon)
    x = layers.Conv2D(out_channels, 1, name=f"{name}_3_conv")(x)
    return layers.Add(name=f"{name}_out")([sc, x])


def basic_block(
    x,
    filters: int,
    *,
    name: str,
    stride: int = 1,
    shortcut: str = "identity",
    preact: bool = False,
    conv_bias: bool = False,
    bn_epsilon: float = BN_EPSILON,
):
    """Two 3x3 convolutions of `filters` channels plus the shortcut (ResNet-18/34, CIFAR ResNets).

    The stride sits on the first 3x3 convolution, zero-padded by one pixel on every side
    (`{name}_1_pad`) so that its outputs line up with the strided subsampling of a "zero_pad"
    shortcut (Keras' "same" padding would pad only the bottom and right). v1 adds, then applies
    ReLU (`{name}_out`); v2 pre-activates (`{name}_preact_bn`) and its addition is `{name}_out`.

    Args: as `bottleneck_block`, with output channels `filters`.
    """
    def conv3x3(t, *, strides, bias, label):
        if strides > 1:
            t = layers.ZeroPadding2D(1, name=f"{name}_{label}_pad")(t)
            return layers.Conv2D(filters, 3, strides=strides, use_bias=bias, name=f"{name}_{label}_conv")(t)
        return layers.Conv2D(filters, 3, padding="same", use_bias=bias, name=f"{name}_{label}_conv")(t)

    if not preact:
        sc = residual_shortcut(
            x, filters, name=name, kind=shortcut, stride=stride, conv_bias=conv_bias,
            bn_epsilon=bn_epsilon,
        )
        x = conv3x3(x, strides=stride, bias=conv_bias, label="1")
        x = _bn_relu(x, name=f"{name}_1", epsilon=bn_epsilon)
        x = conv3x3(x, strides=1, bias=conv_bias, label="2")
        x = layers.BatchNormalization(epsilon=bn_epsilon, name=f"{name}_2_bn")(x)
        return _add_relu(sc, x, name=name)

    pre, sc = _preactivation(x, filters, name=name, shortcut=shortcut, stride=stride,
                             epsilon=bn_epsilon)
    x = conv3x3(pre, strides=stride, bias=conv_bias, label="1")
    x = _bn_relu(x, name=f"{name}_1", epsilon=bn_epsilon)
    x = conv3x3(x, strides=1, bias=True, label="2")
    return layers.Add(name=f"{name}_out")([sc, x])
