"""Inception modules: GoogLeNet's (Szegedy et al. 2015) and Inception v3's (Szegedy et al. 2016).

The v3 modules build the same graph, layer for layer and in the same order, as
keras.applications.InceptionV3 (whose convolutions are unnamed), so its weight files, which Keras
matches by layer order, load; the concatenations carry its names (`mixed0` ... `mixed10`,
`mixed9_0`, `mixed9_1`). Our convolutions are named `{block}_{branch}_conv` / `_bn` / `_relu`.
"""

from __future__ import annotations

from keras import layers

from dlzoo.blocks.conv import conv_bn_act


def scaled_depth(multiplier: float = 1.0, min_depth: int = 16):
    """TF-slim's `depth_multiplier`: `filters -> max(int(filters * multiplier), min_depth)`, and the
    identity at 1.0 (keras.applications' widths)."""
    if multiplier == 1.0:
        return lambda filters: filters
    return lambda filters: max(int(filters * multiplier), min_depth)


def conv_bn_relu(x, filters: int, kernel_size, *, name: str, strides=1, padding: str = "same"):
    """Inception v3's unit: a bias-free convolution, BatchNormalization without gamma, ReLU."""
    return conv_bn_act(
        x,
        filters,
        kernel_size,
        name=name,
        conv_name=f"{name}_conv",
        strides=strides,
        padding=padding,
        batch_norm=True,
        use_bias=False,
        bn_scale=False,
    )


def inception_v1_block(x, filters, *, name: str, batch_norm: bool = False):
    """GoogLeNet's module: 1x1, 1x1 then 3x3, 1x1 then 5x5, and 3x3 max pool then 1x1, concatenated.

    Layer names are those of the Caffe reference model (`inception_3a_1x1`, `inception_3a_3x3_reduce`,
    ..., `inception_3a_pool_proj`, `inception_3a_output`).

    Args:
        x: input tensor, channels last.
        filters: the six widths of the paper's Table 1: (#1x1, #3x3 reduce, #3x3, #5x5 reduce,
            #5x5, pool proj).
        name: prefix, e.g. "inception_3a".
        batch_norm: BatchNormalization after every convolution (which then has no bias).
    """
    f1, f3r, f3, f5r, f5, fp = filters
    unit = dict(batch_norm=batch_norm, use_bias=not batch_norm)
    b1 = conv_bn_act(x, f1, 1, name=f"{name}_1x1", **unit)
    b3 = conv_bn_act(x, f3r, 1, name=f"{name}_3x3_reduce", **unit)
    b3 = conv_bn_act(b3, f3, 3, name=f"{name}_3x3", **unit)
    b5 = conv_bn_act(x, f5r, 1, name=f"{name}_5x5_reduce", **unit)
    b5 = conv_bn_act(b5, f5, 5, name=f"{name}_5x5", **unit)
    bp = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = conv_bn_act(bp, fp, 1, name=f"{name}_pool_proj", **unit)
    return layers.Concatenate(name=f"{name}_output")([b1, b3, b5, bp])


def inception_v3_a(x, pool_filters: int, *, name: str, depth=scaled_depth()):
    """35x35 module (paper's Figure 5, with the 5x5 branch kept): `mixed0` ... `mixed2`."""
    b1 = conv_bn_relu(x, depth(64), 1, name=f"{name}_1x1")
    b5 = conv_bn_relu(x, depth(48), 1, name=f"{name}_5x5_1")
    b5 = conv_bn_relu(b5, depth(64), 5, name=f"{name}_5x5_2")
    b3 = conv_bn_relu(x, depth(64), 1, name=f"{name}_3x3dbl_1")
    b3 = conv_bn_relu(b3, depth(96), 3, name=f"{name}_3x3dbl_2")
    b3 = conv_bn_relu(b3, depth(96), 3, name=f"{name}_3x3dbl_3")
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = conv_bn_relu(bp, depth(pool_filters), 1, name=f"{name}_pool_proj")
    return layers.Concatenate(name=name)([b1, b5, b3, bp])


def inception_v3_reduction_a(x, *, name: str, depth=scaled_depth()):
    """35x35 to 17x17 grid reduction (paper's Figure 10): `mixed3`."""
    b3 = conv_bn_relu(x, depth(384), 3, strides=2, padding="valid", name=f"{name}_3x3")
    bd = conv_bn_relu(x, depth(64), 1, name=f"{name}_3x3dbl_1")
    bd = conv_bn_relu(bd, depth(96), 3, name=f"{name}_3x3dbl_2")
    bd = conv_bn_relu(bd, depth(96), 3, strides=2, padding="valid", name=f"{name}_3x3dbl_3")
    bp = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return layers.Concatenate(name=name)([b3, bd, bp])


def inception_v3_b(x, channels_7x7: int, *, name: str, depth=scaled_depth()):
    """17x17 module with factorised 7x7 convolutions (paper's Figure 6): `mixed4` ... `mixed7`."""
    c = channels_7x7
    b1 = conv_bn_relu(x, depth(192), 1, name=f"{name}_1x1")
    b7 = conv_bn_relu(x, depth(c), 1, name=f"{name}_7x7_1")
    b7 = conv_bn_relu(b7, depth(c), (1, 7), name=f"{name}_7x7_2")
    b7 = conv_bn_relu(b7, depth(192), (7, 1), name=f"{name}_7x7_3")
    bd = conv_bn_relu(x, depth(c), 1, name=f"{name}_7x7dbl_1")
    bd = conv_bn_relu(bd, depth(c), (7, 1), name=f"{name}_7x7dbl_2")
    bd = conv_bn_relu(bd, depth(c), (1, 7), name=f"{name}_7x7dbl_3")
    bd = conv_bn_relu(bd, depth(c), (7, 1), name=f"{name}_7x7dbl_4")
    bd = conv_bn_relu(bd, depth(192), (1, 7), name=f"{name}_7x7dbl_5")
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = conv_bn_relu(bp, depth(192), 1, name=f"{name}_pool_proj")
    return layers.Concatenate(name=name)([b1, b7, bd, bp])


def inception_v3_reduction_b(x, *, name: str, depth=scaled_depth()):
    """17x17 to 8x8 grid reduction: `mixed8`."""
    b3 = conv_bn_relu(x, depth(192), 1, name=f"{name}_3x3_1")
    b3 = conv_bn_relu(b3, depth(320), 3, strides=2, padding="valid", name=f"{name}_3x3_2")
    b7 = conv_bn_relu(x, depth(192), 1, name=f"{name}_7x7x3_1")
    b7 = conv_bn_relu(b7, depth(192), (1, 7), name=f"{name}_7x7x3_2")
    b7 = conv_bn_relu(b7, depth(192), (7, 1), name=f"{name}_7x7x3_3")
    b7 = conv_bn_relu(b7, depth(192), 3, strides=2, padding="valid", name=f"{name}_7x7x3_4")
    bp = layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return layers.Concatenate(name=name)([b3, b7, bp])


def inception_v3_c(x, *, name: str, split_name: str, depth=scaled_depth()):
    """8x8 module with expanded filter banks (paper's Figure 7): `mixed9`, `mixed10`.

    Args:
        split_name: name of the concatenation of the split 3x3 branch (keras.applications calls
            them `mixed9_0` and `mixed9_1`, the latter inside `mixed10`).
    """
    b1 = conv_bn_relu(x, depth(320), 1, name=f"{name}_1x1")
    b3 = conv_bn_relu(x, depth(384), 1, name=f"{name}_3x3_1")
    b3a = conv_bn_relu(b3, depth(384), (1, 3), name=f"{name}_3x3_2a")
    b3b = conv_bn_relu(b3, depth(384), (3, 1), name=f"{name}_3x3_2b")
    b3 = layers.Concatenate(name=split_name)([b3a, b3b])
    bd = conv_bn_relu(x, depth(448), 1, name=f"{name}_3x3dbl_1")
    bd = conv_bn_relu(bd, depth(384), 3, name=f"{name}_3x3dbl_2")
    bda = conv_bn_relu(bd, depth(384), (1, 3), name=f"{name}_3x3dbl_3a")
    bdb = conv_bn_relu(bd, depth(384), (3, 1), name=f"{name}_3x3dbl_3b")
    bd = layers.Concatenate(name=f"{name}_3x3dbl_concat")([bda, bdb])
    bp = layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = conv_bn_relu(bp, depth(192), 1, name=f"{name}_pool_proj")
    return layers.Concatenate(name=name)([b1, b3, bd, bp])
