"""The transformer encoder block (Vaswani et al. 2017), post-norm as in the paper or pre-norm."""

from __future__ import annotations

from keras import layers

NORMS = ("post", "pre")


def transformer_encoder_block(
    x,
    *,
    num_heads: int,
    ff_dim: int,
    dropout: float = 0.1,
    attention_dropout: float | None = None,
    norm: str = "post",
    activation: str = "relu",
    epsilon: float = 1e-6,
    padding_mask=None,
    causal: bool = False,
    name: str,
):
    """Multi-head self-attention then a position-wise feed-forward network, each with a residual.

    - `norm="post"` (the paper): `x = LayerNorm(x + Dropout(Sublayer(x)))`.
    - `norm="pre"` (Xiong et al. 2020; ViT, GPT-2): `x = x + Dropout(Sublayer(LayerNorm(x)))`;
      trains without warm-up, and a stack of them needs one final LayerNorm (the caller's).

    Padding: pass `padding_mask` (`(batch, length)`, True for real tokens) and no query attends to
    a padded key. Relying on the mask that `Embedding(mask_zero=True)` attaches to `x` is not
    enough: `MultiHeadAttention` clears the mask of the tensor it is given, and in a post-norm
    block that tensor is also the residual, so after the first block the automatic mask is gone.

    Layer names: `{name}_attention`, `{name}_attention_dropout`, `{name}_attention_add`,
    `{name}_attention_norm`, `{name}_ffn1`, `{name}_ffn2`, `{name}_ffn_dropout`, `{name}_ffn_add`,
    `{name}_ffn_norm`.

    Args:
        x: a `(batch, length, dim)` tensor; `dim` must be divisible by `num_heads`.
        num_heads: attention heads, each of size `dim // num_heads`.
        ff_dim: hidden width of the feed-forward network (the paper uses 4 * dim).
        dropout: dropout on each sublayer's output, before the residual sum (paper: 0.1).
        attention_dropout: dropout on the attention weights (default: `dropout`).
        norm: "post" or "pre".
        activation: the feed-forward activation ("relu" in the paper, "gelu" in BERT/ViT).
        epsilon: LayerNormalization epsilon.
        padding_mask: boolean `(batch, length)` tensor, False at padding; None when nothing is
            padded.
        causal: position i attends to positions <= i only (a decoder, as in GPT): no step sees
            the tokens after it, so the block can predict the next token.
        name: prefix of every layer's name.
    """
    dim = x.shape[-1]
    if attention_dropout is None:
        attention_dropout = dropout

    def sublayer(x, fn, part):
        h = layers.LayerNormalization(epsilon=epsilon, name=f"{name}_{part}_norm")(x) if norm == "pre" else x
        h = fn(h)
        h = layers.Dropout(dropout, name=f"{name}_{part}_dropout")(h)
        x = layers.Add(name=f"{name}_{part}_add")([x, h])
        if norm == "post":
            x = layers.LayerNormalization(epsilon=epsilon, name=f"{name}_{part}_norm")(x)
        return x

    def attention(h):
        return layers.MultiHeadAttention(
            num_heads, key_dim=dim // num_heads, dropout=attention_dropout, name=f"{name}_attention"
        )(h, h, value_mask=padding_mask, use_causal_mask=causal)

    def feed_forward(h):
        h = layers.Dense(ff_dim, activation=activation, name=f"{name}_ffn1")(h)
        return layers.Dense(dim, name=f"{name}_ffn2")(h)

    x = sublayer(x, attention, "attention")
    return sublayer(x, feed_forward, "ffn")
