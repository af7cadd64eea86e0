"""Input corruptions for denoising autoencoders (Vincent et al. 2008, 2010), active only in training.

Gaussian noise is `keras.layers.GaussianNoise`. Keras has no masking noise (Dropout rescales the
kept inputs by 1 / (1 - rate), which a denoising criterion must not do) and no salt-and-pepper
noise, hence these two.
"""

from __future__ import annotations

import keras
from keras import ops

from dlzoo.validation import check_rate


class _Corruption(keras.layers.Layer):
    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate(rate, arg="rate", name=type(self).__name__)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        u = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator, dtype=inputs.dtype)
        return self._corrupt(inputs, u)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="dlzoo")
class MaskingNoise(_Corruption):
    """Sets a random fraction `rate` of the inputs to zero, without rescaling the rest.

    Args:
        rate: fraction of inputs zeroed, in [0, 1).
        seed: seed of the noise.
    """

    def _corrupt(self, inputs, u):
        return ops.where(u < self.rate, ops.zeros_like(inputs), inputs)


@keras.saving.register_keras_serializable(package="dlzoo")
class SaltAndPepperNoise(_Corruption):
    """Sets a random fraction `rate` of the inputs to `low` or `high`, half each.

    Args:
        rate: fraction of inputs corrupted, in [0, 1).
        low: the "pepper" value (default 0.0, for inputs scaled to [0, 1]).
        high: the "salt" value (default 1.0).
        seed: seed of the noise.
    """

    def __init__(self, rate: float, low: float = 0.0, high: float = 1.0, seed: int | None = None,
                 **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.low = float(low)
        self.high = float(high)

    def _corrupt(self, inputs, u):
        low = ops.full_like(inputs, self.low)
        high = ops.full_like(inputs, self.high)
        return ops.where(u < self.rate / 2, low, ops.where(u < self.rate, high, inputs))

    def get_config(self):
        config = super().get_config()
        config.update(low=self.low, high=self.high)
        return config
