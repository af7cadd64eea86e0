"""Per-weights input conventions, applied to images with values in [0, 255].

Where dlzoo applies preprocessing: **inside the model**. Training wraps the network as
`image -> Preprocess(mode) -> network` (see `with_preprocessing`), so the data pipeline, `dlzoo
evaluate`, `dlzoo predict`, exports and apps all feed raw [0, 255] pixels, and a saved model cannot
be fed the wrong convention. `preprocess` is the same mapping as a NumPy function, for code that
works outside a model (feature caches, plots). Both use keras.applications'
`imagenet_utils.preprocess_input` for the ImageNet conventions ("caffe", "tf", "torch").
"""

from __future__ import annotations

import numpy as np

from dlzoo.layers.preprocessing import IMAGENET_MODES, MODES, Preprocess, check_mode
from dlzoo.registry import model_info

__all__ = ["MODES", "Preprocess", "applied_mode", "base_network", "mode_for", "preprocess", "with_preprocessing"]

WRAPPER_LAYER = "preprocess"


def preprocess(images, mode: str) -> np.ndarray:
    """Applies a preprocessing `mode` to images in [0, 255], channels last; returns float32.

    Example:
        >>> preprocess(np.full((1, 2, 2, 3), 255.0), "tf").max()
        1.0
    """
    check_mode(mode)
    x = np.asarray(images, dtype="float32")
    if mode in ("caffe", "torch") and x.shape[-1] != 3:
        raise ValueError(
            f"preprocess: mode {mode!r} expects RGB images (3 channels); received shape {x.shape}."
        )
    if mode in IMAGENET_MODES:
        from keras.applications import imagenet_utils

        # preprocess_input works in place on float arrays: give it a copy
        return imagenet_utils.preprocess_input(x.copy(), data_format="channels_last", mode=mode)
    if mode == "unit":
        return x / 255.0
    return x


def mode_for(model_name: str) -> str:
    """The preprocessing mode a registered model's weights expect (`ModelInfo.preprocessing`)."""
    return model_info(model_name).preprocessing


def with_preprocessing(model, mode: str, *, augment=(), name: str | None = None):
    """Returns `model` behind a `Preprocess(mode)` layer, so it takes raw [0, 255] images.

    With `mode="none"` and no augmentation the model is returned unchanged. The network is kept
    as one nested layer (named as the network), so its layer names, and any transfer-learning
    table keyed on them, stay as they are; `base_network` gets it back.

    Args:
        model: a Keras model whose single input is an image batch, channels last.
        mode: one of `MODES`.
        augment: Keras random-augmentation layers (`RandomFlip`, ...) to run on the raw images
            before preprocessing; they act in training only and pass images through at inference.
        name: name of the wrapping model; default `"<model.name>_model"`.
    """
    import keras

    check_mode(mode)
    if mode == "none" and not augment:
        return model
    inputs = keras.Input(shape=model.input_shape[1:], name="image")
    x = inputs
    for layer in augment:
        x = layer(x)
    x = Preprocess(mode, name=WRAPPER_LAYER)(x)
    outputs = model(x)
    return keras.Model(inputs, outputs, name=name or f"{model.name}_model")


def base_network(model):
    """The network inside a `with_preprocessing` wrapper (or `model` itself if unwrapped)."""
    import keras

    if any(isinstance(layer, Preprocess) for layer in model.layers):
        for layer in model.layers:
            if isinstance(layer, keras.Model):
                return layer
    return model


def applied_mode(model) -> str:
    """The mode of the `Preprocess` layer a wrapped model starts with, `"none"` without one."""
    for layer in getattr(model, "layers", []):
        if isinstance(layer, Preprocess):
            return layer.mode
    return "none"
