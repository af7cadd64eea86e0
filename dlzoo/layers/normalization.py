"""Local response normalisation (Krizhevsky et al. 2012, section 3.3)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="dlzoo")
class LocalResponseNormalization(keras.layers.Layer):
    """Normalises each activation by the energy of its neighbouring channels.

    `b[c] = a[c] / (k + alpha * sum(a[j] ** 2 for j in c-r..c+r)) ** beta`, with AlexNet's
    `k=2, r=2 (n=5 channels), alpha=1e-4, beta=0.75`. As in the paper (and `tf.nn.lrn`), alpha
    multiplies the plain sum; PyTorch's `LocalResponseNorm` divides alpha by n instead.

    Keras 3 has no such layer (keras.applications never needed one), hence this one.

    Args:
        depth_radius: r, channels on each side.
        bias: k.
        alpha: scale of the sum of squares.
        beta: exponent.
    """

    def __init__(self, depth_radius: int = 2, bias: float = 2.0, alpha: float = 1e-4,
                 beta: float = 0.75, **kwargs):
        super().__init__(**kwargs)
        if int(depth_radius) < 0:
            raise ValueError(f"depth_radius must be >= 0; received {depth_radius!r}.")
        self.depth_radius = int(depth_radius)
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def call(self, inputs):
        r = self.depth_radius
        squared = ops.square(inputs)
        channels = inputs.shape[-1]
        pad = [[0, 0]] * (len(inputs.shape) - 1) + [[r, r]]
        padded = ops.pad(squared, pad)
        # A window sum over channels as 2r+1 shifted slices: cheap for r=2 and works on every backend.
        total = padded[..., 0:channels]
        for i in range(1, 2 * r + 1):
            total = total + padded[..., i : i + channels]
        return inputs / ops.power(self.bias + self.alpha * total, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            depth_radius=self.depth_radius, bias=self.bias, alpha=self.alpha, beta=self.beta
        )
        return config
