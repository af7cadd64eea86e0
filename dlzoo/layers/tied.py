"""A token embedding that also scores hidden states against every token (tied input and output
weights, Press & Wolf 2017; Inan et al. 2017)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="dlzoo")
class TiedEmbedding(keras.layers.Layer):
    """A token embedding `E` (vocab x dim) that, called with `reverse=True` on `(..., dim)`
    vectors, returns `(..., vocab)` logits `h @ E^T + b`: the output layer of a language model
    that shares the embedding matrix (one vocab x dim matrix instead of two), with its own
    per-token bias `b`.

    Keras has no tied output layer (KerasHub's `ReversibleEmbedding` is one; the zoo does not
    depend on KerasHub), hence this layer. Ids are not masked: pad with 0 after the sequence (a
    causal model never lets a later padded step change an earlier prediction).

    Args:
        input_dim: vocabulary size; output_dim: vector size.
        embeddings_initializer: initializer of `E` ("uniform", as `keras.layers.Embedding`).

    Example:
        >>> emb = TiedEmbedding(1000, 32, name="token_embedding")
        >>> tokens = keras.Input((20,), dtype="int32")
        >>> emb(emb(tokens), reverse=True).shape
        (None, 20, 1000)
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          name="embeddings")
        self.output_bias = self.add_weight(shape=(self.input_dim,), initializer="zeros",
                                           name="output_bias")

    def call(self, inputs, reverse=False):
        if not reverse:
            if "int" not in str(inputs.dtype):
                inputs = ops.cast(inputs, "int32")
            return ops.take(self.embeddings, inputs, axis=0)
        table = ops.cast(self.embeddings, inputs.dtype)
        return ops.matmul(inputs, ops.transpose(table)) + ops.cast(self.output_bias, inputs.dtype)

    def compute_output_spec(self, inputs, reverse=False):
        shape = list(inputs.shape)
        shape = shape[:-1] + [self.input_dim] if reverse else shape + [self.output_dim]
        return keras.KerasTensor(shape, dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer)}
