"""`Preprocess`: the input convention a network's weights expect, as a layer inside the model.

keras.applications ships these conventions as `preprocess_input` functions that run outside the
model; a saved model then needs the caller to remember which one applies. As a layer, a saved
dlzoo model takes raw [0, 255] images and carries its own preprocessing. The arithmetic of the
ImageNet conventions is keras.applications' own (`imagenet_utils.preprocess_input`, which works on
tensors); the layer stays a registered class of its own so that saved models load with
`safe_mode=True` and tools can read the mode off a model (`dlzoo.preprocessing.applied_mode`).
"""

from __future__ import annotations

import keras
from keras import ops

MODES = ("caffe", "tf", "torch", "unit", "none")
IMAGENET_MODES = ("caffe", "tf", "torch")  # keras.applications' preprocess_input modes


def check_mode(mode) -> str:
    """Returns `mode` if it is one of `MODES`, else raises a `ValueError` naming them."""
    if mode not in MODES:
        raise ValueError(
            f"preprocessing mode must be one of {', '.join(repr(m) for m in MODES)}; "
            f"received {mode!r}. Use the `preprocessing` field of `dlzoo info MODEL`."
        )
    return mode


@keras.saving.register_keras_serializable(package="dlzoo")
class Preprocess(keras.layers.Layer):
    """Maps images with values in [0, 255], channels last, to a network's input convention.

    Modes (as in `keras.applications.imagenet_utils.preprocess_input`, plus two of our own):
        `"caffe"`: RGB to BGR, minus the ImageNet mean per channel, no scaling (VGG, ResNet).
        `"tf"`: scaled to [-1, 1] (Inception, MobileNet).
        `"torch"`: scaled to [0, 1], then standardised with the ImageNet mean and std per channel.
        `"unit"`: scaled to [0, 1].
        `"none"`: unchanged.

    Args:
        mode: one of the modes above.

    Example:
        >>> layer = Preprocess("unit")
        >>> float(layer(keras.ops.full((1, 2, 2, 1), 255.0))[0, 0, 0, 0])
        1.0
    """

    def __init__(self, mode: str = "none", **kwargs):
        super().__init__(**kwargs)
        self.mode = check_mode(mode)

    def build(self, input_shape):
        channels = input_shape[-1]
        if self.mode in ("caffe", "torch") and channels != 3:
            raise ValueError(
                f"Preprocess: mode {self.mode!r} expects RGB images (3 channels); the input has "
                f"{channels}. Load the images with color_mode='rgb'."
            )
        super().build(input_shape)

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode in IMAGENET_MODES:
            return keras.applications.imagenet_utils.preprocess_input(
                x, data_format="channels_last", mode=self.mode)
        if self.mode == "unit":
            return x / 255.0
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode)
        return config
