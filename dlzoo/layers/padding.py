"""Zero padding along the channel axis, for ResNet's parameter-free shortcut (option A)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="dlzoo")
class ChannelPadding(keras.layers.Layer):
    """Appends zero channels to a channels-last tensor: `(..., C)` becomes `(..., C + before + after)`.

    He et al. (2016, section 3.3, option A) widen the identity shortcut this way when a residual
    stage doubles its width, so the shortcut has no parameters. Keras has `ZeroPadding2D` for the
    spatial axes only, hence this layer.

    Args:
        padding: an int (zeros appended after the existing channels) or a pair `(before, after)`.
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, int):
            padding = (0, padding)
        before, after = (int(p) for p in padding)
        if before < 0 or after < 0:
            raise ValueError(f"padding must be >= 0 on both sides; received {padding!r}.")
        self.padding = (before, after)

    def call(self, inputs):
        pad = [[0, 0]] * (len(inputs.shape) - 1) + [list(self.padding)]
        return ops.pad(inputs, pad)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        if channels is not None:
            channels = channels + sum(self.padding)
        return tuple(input_shape[:-1]) + (channels,)

    def get_config(self):
        config = super().get_config()
        config.update(padding=list(self.padding))
        return config
