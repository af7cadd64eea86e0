"""The few custom layers the zoo needs, serialisable and written with keras.ops only."""

from dlzoo.layers.normalization import LocalResponseNormalization

__all__ = ["LocalResponseNormalization"]
