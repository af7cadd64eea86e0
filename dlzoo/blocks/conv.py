"""Convolution blocks."""

from __future__ import annotations

from keras import layers


def conv_bn_act(
    x,
    filters: int,
    kernel_size,
    *,
    name: str,
    strides=1,
    padding: str = "same",
    groups: int = 1,
    activation: str | None = "relu",
    batch_norm: bool = False,
    use_bias: bool | None = None,
    bn_epsilon: float = 1e-3,
    bn_scale: bool = True,
    conv_name: str | None = None,
):
    """Conv2D, then optional BatchNormalization, then an activation.

    Layer names: `{conv_name or name}` for the convolution, `{name}_bn` and `{name}_{activation}`
    (keras.applications' convention), so weight files keyed by layer name load.

    Args:
        x: input tensor, channels last.
        filters: output channels.
        kernel_size: int or (h, w).
        name: prefix of every layer's name.
        strides: int or (h, w).
        padding: "same" or "valid".
        groups: grouped convolution (AlexNet's two towers use 2).
        activation: activation name or None.
        batch_norm: add BatchNormalization between the convolution and the activation.
        use_bias: defaults to True without batch norm and True with it too (torchvision's VGG-BN
            keeps the bias); pass False to drop it.
        bn_epsilon: BatchNormalization epsilon.
        bn_scale: learn BatchNormalization's gamma (Inception v3 has none: a ReLU follows).
        conv_name: name of the convolution if it should differ from `name`.
    """
    if use_bias is None:
        use_bias = True
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        groups=groups,
        use_bias=use_bias,
        activation=None if batch_norm else activation,
        name=conv_name or name,
    )(x)
    if batch_norm:
        x = layers.BatchNormalization(epsilon=bn_epsilon, scale=bn_scale, name=f"{name}_bn")(x)
        if activation is not None:
            x = layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x
