"""Position encodings for sequences of vectors (token or patch embeddings)."""

from __future__ import annotations

import math

import keras
from keras import ops

KINDS = ("learned", "sinusoidal")


@keras.saving.register_keras_serializable(package="dlzoo")
class PositionalEmbedding(keras.layers.Layer):
    """Adds a position encoding to a `(batch, length, dim)` sequence; the mask passes through.

    Self-attention is blind to order: without this layer a transformer sees a bag of tokens.

    - `"learned"`: one trainable vector per position (BERT, ViT), so at most `max_length` positions.
    - `"sinusoidal"`: Vaswani et al. 2017, section 3.5: `PE[pos, 2i] = sin(pos / 10000^(2i/dim))`,
      `PE[pos, 2i+1] = cos(...)`, no weights, any length; `dim` must be even.

    Keras has `Embedding` for tokens but no position encoding (KerasHub has one; the zoo does not
    depend on KerasHub), hence this layer.

    Args:
        max_length: the longest sequence (required for "learned"; None allowed for "sinusoidal").
        kind: "learned" (default) or "sinusoidal".
        initializer: initializer of the learned table.

    Example:
        >>> x = keras.layers.Embedding(1000, 32, mask_zero=True)(keras.Input((50,), dtype="int32"))
        >>> PositionalEmbedding(50, kind="sinusoidal")(x).shape
        (None, 50, 32)
    """

    def __init__(self, max_length: int | None = None, kind: str = "learned",
                 initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ValueError(f"PositionalEmbedding: kind must be 'learned' or 'sinusoidal'; received {kind!r}.")
        if max_length is None and kind == "learned":
            raise ValueError(
                "PositionalEmbedding: kind='learned' needs max_length (one vector per position); "
                "pass max_length=the longest sequence, or use kind='sinusoidal'."
            )
        if max_length is not None and (isinstance(max_length, bool) or int(max_length) < 1):
            raise ValueError(f"PositionalEmbedding: max_length must be >= 1; received {max_length!r}.")
        self.max_length = None if max_length is None else int(max_length)
        self.kind = kind
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = True

    def build(self, input_shape):
        length, dim = input_shape[-2], input_shape[-1]
        if self.max_length is not None and length is not None and length > self.max_length:
            raise ValueError(
                f"PositionalEmbedding: sequences of length {length} exceed max_length="
                f"{self.max_length}. Build with a larger max_length or truncate the inputs."
            )
        if self.kind == "sinusoidal" and dim % 2:
            raise ValueError(
                f"PositionalEmbedding: kind='sinusoidal' needs an even embedding size; received {dim}."
            )
        if self.kind == "learned":
            self.position_embeddings = self.add_weight(
                shape=(self.max_length, dim), initializer=self.initializer, name="embeddings"
            )

    def call(self, inputs):
        length, dim = ops.shape(inputs)[1], inputs.shape[-1]
        if self.kind == "learned":
            table = ops.convert_to_tensor(self.position_embeddings)
            positions = ops.slice(table, (0, 0), (length, dim))
        else:
            positions = sinusoidal_encoding(length, dim)
        return inputs + ops.cast(positions, inputs.dtype)[None]

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            max_length=self.max_length,
            kind=self.kind,
            initializer=keras.initializers.serialize(self.initializer),
        )
        return config


def sinusoidal_encoding(length, dim: int):
    """The `(length, dim)` table of Vaswani et al.: sin on even channels, cos on odd ones."""
    positions = ops.cast(ops.arange(length), "float32")[:, None]
    inv_freq = ops.exp(ops.arange(0, dim, 2, dtype="float32") * (-math.log(10000.0) / dim))
    angles = positions * inv_freq[None, :]
    # stack then reshape interleaves: channel 2i is sin, 2i+1 is cos.
    return ops.reshape(ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1), (length, dim))
