"""Denoising autoencoders (Vincent et al. 2008, 2010): dense for flat vectors, convolutional for
images. The corruption is a layer active only in training, and the encoder is a model of its own
(`model.get_layer("encoder")`) so that it can be stacked under a classifier and fine-tuned: the
unsupervised layer-wise pre-training story."""

from __future__ import annotations

import keras
from keras import layers

from dlzoo.layers.noise import MaskingNoise, SaltAndPepperNoise
from dlzoo.registry import register_model
from dlzoo.validation import (
    check_choice,
    check_flat_input,
    check_image_input,
    check_int,
    check_rate,
)

PAPER = ("Vincent, Larochelle, Bengio, Manzagol. Extracting and composing robust features with "
         "denoising autoencoders. ICML 2008.")
PAPER_STACKED = ("Vincent et al. Stacked denoising autoencoders: learning useful representations in "
                 "a deep network with a local denoising criterion. JMLR 2010.")

CORRUPTIONS = ("gaussian", "masking", "salt_and_pepper", None)


def corruption_layer(kind: str | None, level: float, *, seed: int | None = None, name: str = "corruption"):
    """The input corruption of a denoising autoencoder, active only in training.

    Args:
        kind: "gaussian" (additive, `level` = standard deviation), "masking" (a fraction `level`
            of the inputs set to 0), "salt_and_pepper" (a fraction `level` set to 0 or 1), or None.
        level: the standard deviation or the fraction.
        seed: seed of the noise.
        name: layer name.

    Returns:
        A Keras layer, or None for kind=None.
    """
    if kind is None:
        return None
    if kind == "gaussian":
        return layers.GaussianNoise(level, seed=seed, name=name)
    if kind == "masking":
        return MaskingNoise(level, seed=seed, name=name)
    return SaltAndPepperNoise(level, seed=seed, name=name)


def _check_corruption(name, corruption, corruption_level):
    check_choice(corruption, arg="corruption", name=name, allowed=CORRUPTIONS)
    if corruption == "gaussian":
        if isinstance(corruption_level, bool) or not isinstance(corruption_level, (int, float)) \
                or corruption_level < 0:
            raise ValueError(
                f"{name}: corruption_level is the noise's standard deviation for gaussian "
                f"corruption and must be >= 0; received {corruption_level!r}."
            )
    elif corruption is not None:
        check_rate(corruption_level, arg="corruption_level", name=name)


def _assemble(inputs, encoder, decoder, corruption, corruption_level, seed, name):
    x = inputs
    noise = corruption_layer(corruption, corruption_level, seed=seed)
    if noise is not None:
        x = noise(x)
    return keras.Model(inputs, decoder(encoder(x)), name=name)


def DenseDAE(
    *,
    input_shape=(784,),
    hidden_units=(256, 64),
    activation: str = "relu",
    output_activation: str | None = "sigmoid",
    corruption: str | None = "masking",
    corruption_level: float = 0.3,
    seed: int | None = None,
    name: str = "dense_dae",
) -> keras.Model:
    """Denoising autoencoder for flat vectors: corruption, a Dense encoder, a mirrored decoder.

    Reference: Vincent et al. 2008 (masking noise, as in the paper, by default). Train it with the
    clean inputs as targets: `model.fit(x, x)`; the corruption happens inside, in training only.

    Args:
        input_shape: (features,) (default (784,)).
        hidden_units: encoder widths; the last is the code size; the decoder mirrors them
            (default (256, 64)).
        activation: hidden activation.
        output_activation: "sigmoid" (default) for inputs in [0, 1], None for unbounded inputs.
        corruption: "masking" (default), "gaussian", "salt_and_pepper" or None (a plain
            autoencoder).
        corruption_level: fraction corrupted, or the gaussian standard deviation (default 0.3).
        seed: seed of the corruption.
        name: model name.

    Returns:
        An uncompiled `keras.Model`: input -> corruption -> `encoder` -> `decoder`.

    Example:
        >>> from dlzoo import build
        >>> dae = build("dense_dae", input_shape=(64,), hidden_units=(32, 16))
        >>> dae.get_layer("encoder").output_shape
        (None, 16)
    """
    input_shape = check_flat_input(input_shape, name=name)
    hidden_units = tuple(hidden_units)
    if not hidden_units:
        raise ValueError(f"{name}: hidden_units needs at least one width (the code size).")
    for u in hidden_units:
        check_int(u, arg="hidden_units", name=name)
    _check_corruption(name, corruption, corruption_level)

    enc_in = keras.Input(input_shape, name="encoder_input")
    x = enc_in
    for i, units in enumerate(hidden_units, start=1):
        x = layers.Dense(units, activation=activation, name=f"encoder_dense{i}")(x)
    encoder = keras.Model(enc_in, x, name="encoder")

    dec_in = keras.Input((hidden_units[-1],), name="code")
    x = dec_in
    for i, units in enumerate(reversed(hidden_units[:-1]), start=1):
        x = layers.Dense(units, activation=activation, name=f"decoder_dense{i}")(x)
    x = layers.Dense(input_shape[0], activation=output_activation, name="reconstruction")(x)
    decoder = keras.Model(dec_in, x, name="decoder")

    inputs = keras.Input(input_shape, name="input")
    return _assemble(inputs, encoder, decoder, corruption, corruption_level, seed, name)


def ConvDAE(
    *,
    input_shape=(28, 28, 1),
    filters=(32, 64),
    kernel_size: int = 3,
    activation: str = "relu",
    output_activation: str | None = "sigmoid",
    corruption: str | None = "gaussian",
    corruption_level: float = 0.3,
    seed: int | None = None,
    name: str = "conv_dae",
) -> keras.Model:
    """Convolutional denoising autoencoder: stride-2 convolutions down, transposed convolutions up.

    Reference: Vincent et al. 2010 (the denoising criterion), with the convolutional encoder and
    decoder of Masci et al. 2011, pooling replaced by strided convolutions. Each level halves the
    image side, so the side must be divisible by 2 ** len(filters).

    Args:
        input_shape: (height, width, channels) (default (28, 28, 1)).
        filters: encoder widths, one stride-2 convolution each; the decoder mirrors them
            (default (32, 64)).
        kernel_size: convolution kernel side (default 3).
        activation: hidden activation.
        output_activation: "sigmoid" (default) for images in [0, 1], None otherwise.
        corruption: "gaussian" (default), "masking", "salt_and_pepper" or None.
        corruption_level: gaussian standard deviation or fraction corrupted (default 0.3).
        seed: seed of the corruption.
        name: model name.

    Returns:
        An uncompiled `keras.Model`: input -> corruption -> `encoder` -> `decoder`.

    Example:
        >>> from dlzoo import build
        >>> dae = build("conv_dae", input_shape=(8, 8, 1), filters=(16, 8))
        >>> dae.get_layer("encoder").output_shape
        (None, 2, 2, 8)
    """
    filters = tuple(filters)
    if not filters:
        raise ValueError(f"{name}: filters needs at least one width.")
    for f in filters:
        check_int(f, arg="filters", name=name)
    check_int(kernel_size, arg="kernel_size", name=name)
    _check_corruption(name, corruption, corruption_level)
    factor = 2 ** len(filters)
    input_shape = check_image_input(input_shape, name=name, min_size=factor)
    for side, label in zip(input_shape[:2], ("height", "width")):
        if side is not None and side % factor:
            raise ValueError(
                f"{name}: input {label} {side} is not divisible by {factor} (2 ** len(filters), "
                f"one halving per level); received input_shape={input_shape}. Resize or pad the "
                "images, or use fewer levels."
            )
    channels = input_shape[-1]

    enc_in = keras.Input(input_shape, name="encoder_input")
    x = enc_in
    for i, f in enumerate(filters, start=1):
        x = layers.Conv2D(f, kernel_size, strides=2, padding="same", activation=activation,
                          name=f"encoder_conv{i}")(x)
    encoder = keras.Model(enc_in, x, name="encoder")

    dec_in = keras.Input(encoder.output.shape[1:], name="code")
    x = dec_in
    for i, f in enumerate(reversed(filters), start=1):
        x = layers.Conv2DTranspose(f, kernel_size, strides=2, padding="same", activation=activation,
                                   name=f"decoder_deconv{i}")(x)
    x = layers.Conv2D(channels, kernel_size, padding="same", activation=output_activation,
                      name="reconstruction")(x)
    decoder = keras.Model(dec_in, x, name="decoder")

    inputs = keras.Input(input_shape, name="input")
    return _assemble(inputs, encoder, decoder, corruption, corruption_level, seed, name)


@register_model(
    family="autoencoder",
    task="autoencoder",
    input_kind="flat",
    default_input_shape=(784,),
    params=435_536,
    paper=PAPER,
    preprocessing="unit",
    feature_layers=("encoder",),
    smoke_overrides={"input_shape": (12,), "hidden_units": (6, 3)},
    description="Dense denoising autoencoder, masking noise 0.3, 784-256-64-256-784",
)
def dense_dae(**kwargs):
    """Dense denoising autoencoder for flat vectors (masking noise)."""
    return DenseDAE(**kwargs)


@register_model(
    family="autoencoder",
    task="autoencoder",
    input_kind="image",
    default_input_shape=(28, 28, 1),
    params=74_497,
    paper=PAPER_STACKED,
    preprocessing="unit",
    feature_layers=("encoder",),
    min_input_size=4,
    smoke_overrides={"input_shape": (8, 8, 1), "filters": (4, 4)},
    description="Convolutional denoising autoencoder, gaussian noise 0.3, 28x28x1 -> 7x7x64",
)
def conv_dae(**kwargs):
    """Convolutional denoising autoencoder for images (gaussian noise)."""
    return ConvDAE(**kwargs)
