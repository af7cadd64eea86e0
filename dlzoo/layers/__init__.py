"""The few custom layers the zoo needs, serialisable and written with keras.ops only."""

from dlzoo.layers.normalization import LocalResponseNormalization
from dlzoo.layers.padding import ChannelPadding

__all__ = ["ChannelPadding", "LocalResponseNormalization"]
