"""The few custom layers the zoo needs, serialisable and written with keras.ops only."""

from dlzoo.layers.embeddings import PositionalEmbedding
from dlzoo.layers.noise import MaskingNoise, SaltAndPepperNoise
from dlzoo.layers.normalization import LocalResponseNormalization
from dlzoo.layers.padding import ChannelPadding
from dlzoo.layers.preprocessing import Preprocess
from dlzoo.layers.tied import TiedEmbedding

__all__ = [
    "ChannelPadding",
    "LocalResponseNormalization",
    "MaskingNoise",
    "PositionalEmbedding",
    "Preprocess",
    "SaltAndPepperNoise",
    "TiedEmbedding",
]
