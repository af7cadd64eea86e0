"""Transformer encoders (Vaswani et al. 2017): a text classifier over token ids, and a small vision
transformer over image patches (Dosovitskiy et al. 2021) built from the same block."""

from __future__ import annotations

import keras
from keras import layers, ops

from dlzoo.blocks.heads import classifier_head
from dlzoo.blocks.transformer import NORMS, transformer_encoder_block
from dlzoo.layers.embeddings import KINDS, PositionalEmbedding
from dlzoo.registry import prefixes_matching, register_model
from dlzoo.validation import (
    check_choice,
    check_head,
    check_image_input,
    check_int,
    check_num_classes,
    check_rate,
    check_sequence_head,
    check_token_input,
)

PAPER = "Vaswani et al. Attention is all you need. NeurIPS 2017."
PAPER_VIT = ("Dosovitskiy et al. An image is worth 16x16 words: transformers for image recognition "
             "at scale. ICLR 2021.")


def _check_encoder_args(name, *, embed_dim, num_heads, ff_dim, depth, dropout, attention_dropout,
                        norm):
    check_int(embed_dim, arg="embed_dim", name=name)
    check_int(num_heads, arg="num_heads", name=name)
    if embed_dim % num_heads:
        raise ValueError(
            f"{name}: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads}); each "
            "head gets embed_dim // num_heads channels. Change one of them."
        )
    if ff_dim is not None:
        check_int(ff_dim, arg="ff_dim", name=name)
    check_int(depth, arg="depth", name=name)
    check_rate(dropout, arg="dropout", name=name)
    if attention_dropout is not None:
        check_rate(attention_dropout, arg="attention_dropout", name=name)
    check_choice(norm, arg="norm", name=name, allowed=NORMS)


def _encoder_stack(x, *, depth, num_heads, ff_dim, dropout, attention_dropout, norm, activation,
                   padding_mask=None):
    for i in range(1, depth + 1):
        x = transformer_encoder_block(
            x,
            num_heads=num_heads,
            ff_dim=ff_dim,
            dropout=dropout,
            attention_dropout=attention_dropout,
            norm=norm,
            activation=activation,
            padding_mask=padding_mask,
            name=f"block{i}",
        )
    if norm == "pre":
        # pre-norm blocks leave the residual stream unnormalised; one LayerNorm closes the stack
        x = layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")(x)
    return x


def _check_text_encoder_args(name, *, num_classes, input_shape, include_top, pooling, vocab_size,
                             max_length, positions, embed_dim) -> tuple:
    """Validates the token input, the head and the positions; returns (input_shape, max_length)."""
    check_sequence_head(include_top=include_top, pooling=pooling, poolings=("avg",),
                        num_classes=num_classes, name=name)
    check_choice(positions, arg="positions", name=name, allowed=KINDS + (None,))
    input_shape = check_token_input(input_shape, name=name, vocab_size=vocab_size)
    length = input_shape[0]
    if max_length is None:
        max_length = length
    elif length is not None and check_int(max_length, arg="max_length", name=name) < length:
        raise ValueError(
            f"{name}: max_length ({max_length}) is shorter than the sequence length ({length}); "
            "raise max_length or leave it None."
        )
    if max_length is None and positions == "learned":
        raise ValueError(
            f"{name}: with input_shape=(None,) and positions='learned', pass max_length (the "
            "longest sequence) so the position table has a size."
        )
    if positions == "sinusoidal" and embed_dim % 2:
        raise ValueError(f"{name}: positions='sinusoidal' needs an even embed_dim; received {embed_dim}.")
    return input_shape, max_length


def TransformerEncoder(
    *,
    num_classes: int = 2,
    input_shape=(200,),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    vocab_size: int = 20000,
    max_length: int | None = None,
    positions: str | None = "learned",
    embed_dim: int = 128,
    num_heads: int = 4,
    ff_dim: int | None = None,
    depth: int = 2,
    dropout: float = 0.1,
    attention_dropout: float | None = None,
    norm: str = "post",
    activation: str = "relu",
    name: str = "transformer_encoder",
) -> keras.Model:
    """Transformer encoder text classifier: token + position embedding, encoder blocks, masked mean
    pooling, `predictions`.

    Reference: Vaswani et al. 2017 (the encoder half). Token id 0 is padding: it is masked in the
    attention (no query attends to it) and in the pooling, so padding at the end of a sequence
    does not change the prediction.

    Args:
        num_classes: output classes (default 2).
        input_shape: (sequence_length,), or (None,) for any length up to `max_length`
            (default (200,)).
        include_top: keep the classifier; without it the output is the pooled features, or the
            per-token features with pooling=None.
        pooling: with include_top=False, None (default: the per-token features) or "avg" (their
            mean over real tokens); the classifier always reads the mean.
        classifier_activation: "softmax", None for logits, or any Keras activation.
        vocab_size: number of token ids, padding included (default 20000).
        max_length: the longest sequence the position embedding knows (default: the sequence
            length).
        positions: "learned" (default), "sinusoidal" (the paper) or None (no position
            information: the model sees a bag of tokens).
        embed_dim: model width d_model (default 128).
        num_heads: attention heads (default 4).
        ff_dim: feed-forward width (default 4 * embed_dim, as in the paper).
        depth: encoder blocks (default 2).
        dropout: dropout on embeddings and sublayer outputs (paper: 0.1).
        attention_dropout: dropout on attention weights (default: `dropout`).
        norm: "post" (the paper) or "pre".
        activation: feed-forward activation ("relu", or "gelu").
        name: model name.

    Example:
        >>> from dlzoo import build
        >>> model = build("transformer_encoder", vocab_size=5000, input_shape=(64,), depth=1)
        >>> model.output_shape
        (None, 2)
    """
    _check_encoder_args(name, embed_dim=embed_dim, num_heads=num_heads, ff_dim=ff_dim, depth=depth,
                        dropout=dropout, attention_dropout=attention_dropout, norm=norm)
    input_shape, max_length = _check_text_encoder_args(
        name, num_classes=num_classes, input_shape=input_shape, include_top=include_top,
        pooling=pooling, vocab_size=vocab_size, max_length=max_length, positions=positions,
        embed_dim=embed_dim)

    inputs = keras.Input(shape=input_shape, dtype="int32", name="tokens")
    # Passed explicitly to every attention and to the pooling; see transformer_encoder_block for
    # why the automatic Keras mask alone does not survive a post-norm stack.
    padding_mask = ops.not_equal(inputs, 0)
    x = layers.Embedding(vocab_size, embed_dim, mask_zero=True, name="token_embedding")(inputs)
    if positions is not None:
        x = PositionalEmbedding(max_length, kind=positions, name="position_embedding")(x)
    x = layers.Dropout(dropout, name="embedding_dropout")(x)
    x = _encoder_stack(x, depth=depth, num_heads=num_heads, ff_dim=ff_dim or 4 * embed_dim,
                       dropout=dropout, attention_dropout=attention_dropout, norm=norm,
                       activation=activation, padding_mask=padding_mask)
    if pooling == "avg" or include_top:
        x = layers.GlobalAveragePooling1D(name="avg_pool")(x, mask=padding_mask)
    if include_top:
        x = classifier_head(x, num_classes=num_classes, classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)


def VisionTransformer(
    *,
    num_classes: int = 10,
    input_shape=(32, 32, 3),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    patch_size: int = 4,
    embed_dim: int = 128,
    num_heads: int = 4,
    ff_dim: int | None = None,
    depth: int = 6,
    dropout: float = 0.1,
    attention_dropout: float | None = None,
    norm: str = "pre",
    activation: str = "gelu",
    name: str = "vit",
) -> keras.Model:
    """Vision transformer: non-overlapping patches embedded by a strided convolution, learned
    positions, pre-norm encoder blocks, global average pooling over patches, `predictions`.

    Reference: Dosovitskiy et al. 2021, with the class token replaced by global average pooling of
    the patch tokens (Beyer, Zhai, Kolesnikov, "Better plain ViT baselines", 2022), which needs no
    custom layer. Small by default, for 32x32 images trained from scratch.

    Args:
        num_classes: output classes (default 10).
        input_shape: (height, width, channels), each side at least `patch_size`; a remainder
            smaller than a patch is dropped (default (32, 32, 3)).
        include_top: keep the classifier.
        pooling: with include_top=False: None (the patch features as a (h/p, w/p, dim) map),
            "avg" or "max".
        classifier_activation: "softmax", None for logits, or any Keras activation.
        patch_size: side of the square patches (default 4).
        embed_dim, num_heads, ff_dim, depth, dropout, attention_dropout, norm, activation: as in
            `TransformerEncoder` (defaults 128, 4, 4 * embed_dim, 6, 0.1, dropout, "pre", "gelu").
        name: model name.

    Example:
        >>> from dlzoo import build
        >>> model = build("vit_tiny", input_shape=(32, 32, 3), num_classes=10)
        >>> model.output_shape
        (None, 10)
    """
    check_head(include_top=include_top, pooling=pooling)
    check_num_classes(num_classes, include_top=include_top)
    check_int(patch_size, arg="patch_size", name=name)
    _check_encoder_args(name, embed_dim=embed_dim, num_heads=num_heads, ff_dim=ff_dim, depth=depth,
                        dropout=dropout, attention_dropout=attention_dropout, norm=norm)
    input_shape = check_image_input(input_shape, name=name, min_size=patch_size)
    if None in input_shape[:2]:
        raise ValueError(f"{name}: the position table needs a fixed image size; received {input_shape}.")
    grid = (input_shape[0] // patch_size, input_shape[1] // patch_size)

    inputs = keras.Input(shape=input_shape, name="input")
    x = layers.Conv2D(embed_dim, patch_size, strides=patch_size, name="patch_embedding")(inputs)
    x = layers.Reshape((grid[0] * grid[1], embed_dim), name="patch_tokens")(x)
    x = PositionalEmbedding(grid[0] * grid[1], kind="learned", name="position_embedding")(x)
    x = layers.Dropout(dropout, name="embedding_dropout")(x)
    x = _encoder_stack(x, depth=depth, num_heads=num_heads, ff_dim=ff_dim or 4 * embed_dim,
                       dropout=dropout, attention_dropout=attention_dropout, norm=norm,
                       activation=activation)
    if include_top:
        x = layers.GlobalAveragePooling1D(name="avg_pool")(x)
        x = classifier_head(x, num_classes=num_classes, classifier_activation=classifier_activation)
    elif pooling == "avg":
        x = layers.GlobalAveragePooling1D(name="avg_pool")(x)
    elif pooling == "max":
        x = layers.GlobalMaxPooling1D(name="max_pool")(x)
    else:
        x = layers.Reshape((grid[0], grid[1], embed_dim), name="feature_map")(x)
    return keras.Model(inputs, x, name=name)


@register_model(
    family="transformer",
    task="text_classification",
    input_kind="tokens",
    default_input_shape=(200,),
    default_num_classes=2,
    params=2_982_402,
    paper=PAPER,
    feature_layers=("avg_pool",),
    unfreeze_groups=("token_embedding", "block1", "block2", "predictions"),
    unfreeze_rule=prefixes_matching(r"(token_embedding|block\d+(?=_)|predictions)"),
    smoke_overrides={"vocab_size": 16, "input_shape": (6,), "embed_dim": 8, "num_heads": 2,
                     "ff_dim": 8, "depth": 1, "num_classes": 3},
    description="Transformer encoder text classifier: learned positions, 2 post-norm blocks, d=128",
)
def transformer_encoder(**kwargs):
    """Transformer encoder text classifier, 2 blocks of width 128, 4 heads."""
    return TransformerEncoder(**kwargs)


@register_model(
    family="transformer",
    task="image_classification",
    input_kind="image",
    default_input_shape=(32, 32, 3),
    default_num_classes=10,
    params=1_205_642,
    paper=PAPER_VIT,
    preprocessing="unit",
    feature_layers=("encoder_norm",),
    unfreeze_groups=("patch_embedding", "block1", "block2", "block3", "block4", "block5", "block6",
                     "predictions"),
    unfreeze_rule=prefixes_matching(r"(patch_embedding|block\d+(?=_)|predictions)"),
    min_input_size=4,
    smoke_overrides={"input_shape": (8, 8, 3), "patch_size": 4, "embed_dim": 8, "num_heads": 2,
                     "ff_dim": 8, "depth": 1, "num_classes": 3},
    description="Small vision transformer: 4x4 patches of 32x32 images, 6 pre-norm blocks, d=128",
)
def vit_tiny(**kwargs):
    """Small vision transformer for 32x32 images."""
    return VisionTransformer(**kwargs)
