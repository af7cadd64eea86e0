"""Language models: P(next token | the tokens so far) at every position of a sequence.

The lectures' sentence generator: tokens as ids (1-of-K codes, looked up in an embedding), a
shared recurrent cell (LSTM or GRU, stacked) or a decoder-only transformer (causal self-attention:
no position sees the tokens after it), and a softmax over the vocabulary at every step. Trained
on `[START] w1 ... wn` against `w1 ... wn [STOP]` (`dlzoo.data.corpus`); `dlzoo.generation`
writes sentences with it. Token id 0 is padding after the sentence; being causal, the models
never let it change a real position's prediction.
"""

from __future__ import annotations

import keras
from keras import layers

from dlzoo.blocks.recurrent import CELLS, recurrent_stack
from dlzoo.blocks.transformer import NORMS, transformer_encoder_block
from dlzoo.layers.embeddings import KINDS, PositionalEmbedding
from dlzoo.layers.tied import TiedEmbedding
from dlzoo.registry import prefixes_matching, register_model
from dlzoo.validation import check_choice, check_int, check_rate, check_token_input

PAPER_RNN_LM = ("Mikolov et al. Recurrent neural network based language model. Interspeech 2010; "
                "Zaremba, Sutskever, Vinyals. Recurrent neural network regularization. 2014.")
PAPER_TIED = ("Press, Wolf. Using the output embedding to improve language models. EACL 2017; "
              "Inan, Khosravi, Socher. Tying word vectors and word classifiers. ICLR 2017.")
PAPER_GPT = ("Radford et al. Improving language understanding by generative pre-training. 2018 "
             "(a decoder-only transformer; Vaswani et al. 2017's blocks with a causal mask).")


def _embedding(vocab_size, dim, tie_weights):
    """The token embedding: a `TiedEmbedding` when it also scores the outputs."""
    cls = TiedEmbedding if tie_weights else layers.Embedding
    return cls(vocab_size, dim, name="token_embedding")


def _output(x, *, embedding, vocab_size, tie_weights, dim):
    """The softmax over the vocabulary at every step, `predictions`; with tied weights the
    embedding matrix scores the states (projected to its width first when they differ)."""
    if tie_weights:
        if x.shape[-1] != dim:
            x = layers.Dense(dim, name="tie_projection")(x)
        logits = embedding(x, reverse=True)
    else:
        logits = layers.Dense(vocab_size, name="logits")(x)
    return layers.Activation("softmax", dtype="float32", name="predictions")(logits)


def _check_common(name, *, vocab_size, input_shape, embedding_dim, depth, dropout):
    check_int(vocab_size, arg="vocab_size", name=name, minimum=5)  # PAD, UNK, START, STOP + 1
    check_int(embedding_dim, arg="embedding_dim", name=name)
    check_int(depth, arg="depth", name=name)
    check_rate(dropout, arg="dropout", name=name)
    return check_token_input(input_shape, name=name)


def LanguageRNN(
    *,
    vocab_size: int = 10000,
    input_shape=(32,),
    embedding_dim: int = 128,
    cell: str = "lstm",
    units: int = 256,
    depth: int = 2,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    tie_weights: bool = False,
    name: str | None = None,
) -> keras.Model:
    """Recurrent language model: token embedding, stacked LSTM/GRU returning every step, softmax
    over the vocabulary at every step (`predictions`).

    Reference: Mikolov et al. 2010 (RNN language model), Zaremba et al. 2014 (stacked LSTM with
    dropout); tied weights after Press & Wolf 2017.

    Args:
        vocab_size: token ids, the 4 special tokens included (default 10000).
        input_shape: (sequence_length,), or (None,) for any length (default (32,)).
        embedding_dim: size of the token vectors (default 128).
        cell: "lstm" (default) or "gru".
        units: state size of each recurrent layer (default 256).
        depth: stacked recurrent layers (default 2).
        dropout: dropout on the embeddings, between layers and before the softmax (default 0).
        recurrent_dropout: dropout on the recurrent state (default 0).
        tie_weights: score the states with the embedding matrix (one vocab x dim matrix instead
            of two; a `tie_projection` Dense maps units to embedding_dim when they differ).
        name: model name (default `lm_{cell}`).

    Returns:
        An uncompiled `keras.Model`: int32 `(batch, length)` ids in, float32
        `(batch, length, vocab_size)` probabilities of the next token out.

    Example:
        >>> from dlzoo import build
        >>> model = build("lm_lstm", vocab_size=50, input_shape=(12,), units=32, depth=1)
        >>> model.output_shape
        (None, 12, 50)
    """
    name = name or f"lm_{cell}"
    check_choice(cell, arg="cell", name=name, allowed=tuple(CELLS))
    check_int(units, arg="units", name=name)
    check_rate(recurrent_dropout, arg="recurrent_dropout", name=name)
    input_shape = _check_common(name, vocab_size=vocab_size, input_shape=input_shape,
                                embedding_dim=embedding_dim, depth=depth, dropout=dropout)
    inputs = keras.Input(shape=input_shape, dtype="int32", name="tokens")
    embedding = _embedding(vocab_size, embedding_dim, tie_weights)
    x = embedding(inputs)
    if dropout:
        x = layers.Dropout(dropout, name="embedding_dropout")(x)
    x = recurrent_stack(x, cell=cell, units=units, depth=depth, dropout=dropout,
                        recurrent_dropout=recurrent_dropout, return_sequences=True)
    if dropout:
        x = layers.Dropout(dropout, name="output_dropout")(x)
    outputs = _output(x, embedding=embedding, vocab_size=vocab_size, tie_weights=tie_weights,
                      dim=embedding_dim)
    return keras.Model(inputs, outputs, name=name)


def CausalTransformer(
    *,
    vocab_size: int = 10000,
    input_shape=(32,),
    embedding_dim: int = 128,
    num_heads: int = 4,
    ff_dim: int | None = None,
    depth: int = 2,
    dropout: float = 0.1,
    positions: str = "learned",
    norm: str = "pre",
    activation: str = "gelu",
    tie_weights: bool = True,
    name: str = "lm_transformer",
) -> keras.Model:
    """Decoder-only transformer language model: token and position embeddings, transformer
    blocks with causal self-attention (position i attends to positions <= i), a final
    LayerNorm, softmax over the vocabulary at every step (`predictions`).

    Reference: Radford et al. 2018 (GPT): the zoo's `transformer_encoder_block` with
    `causal=True`, pre-norm (as GPT-2), input and output embeddings tied.

    Args:
        vocab_size: token ids, the 4 special tokens included (default 10000).
        input_shape: (sequence_length,) (default (32,)); also the longest context it knows with
            learned positions.
        embedding_dim: model width d_model (default 128); divisible by num_heads.
        num_heads: attention heads (default 4).
        ff_dim: feed-forward width (default 4 * embedding_dim).
        depth: transformer blocks (default 2).
        dropout: dropout on embeddings, attention weights and sublayer outputs (default 0.1).
        positions: "learned" (default) or "sinusoidal".
        norm: "pre" (default, GPT-2) or "post" (the paper).
        activation: feed-forward activation ("gelu" default, or "relu").
        tie_weights: score the outputs with the token embedding matrix (default True).
        name: model name.

    Returns:
        An uncompiled `keras.Model`: int32 `(batch, length)` ids in, float32
        `(batch, length, vocab_size)` probabilities of the next token out.

    Example:
        >>> from dlzoo import build
        >>> model = build("lm_transformer", vocab_size=50, input_shape=(12,), embedding_dim=32)
        >>> model.output_shape
        (None, 12, 50)
    """
    check_int(num_heads, arg="num_heads", name=name)
    if ff_dim is not None:
        check_int(ff_dim, arg="ff_dim", name=name)
    check_choice(positions, arg="positions", name=name, allowed=KINDS)
    check_choice(norm, arg="norm", name=name, allowed=NORMS)
    input_shape = _check_common(name, vocab_size=vocab_size, input_shape=input_shape,
                                embedding_dim=embedding_dim, depth=depth, dropout=dropout)
    if embedding_dim % num_heads:
        raise ValueError(f"{name}: embedding_dim ({embedding_dim}) must be divisible by num_heads "
                         f"({num_heads}); each head gets embedding_dim // num_heads channels.")
    if input_shape[0] is None and positions == "learned":
        raise ValueError(f"{name}: positions='learned' needs a fixed input_shape (the longest "
                         "context); pass (length,) or positions='sinusoidal'.")
    if positions == "sinusoidal" and embedding_dim % 2:
        raise ValueError(f"{name}: positions='sinusoidal' needs an even embedding_dim; received "
                         f"{embedding_dim}.")
    inputs = keras.Input(shape=input_shape, dtype="int32", name="tokens")
    embedding = _embedding(vocab_size, embedding_dim, tie_weights)
    x = PositionalEmbedding(input_shape[0], kind=positions, name="position_embedding")(
        embedding(inputs))
    x = layers.Dropout(dropout, name="embedding_dropout")(x)
    for i in range(1, depth + 1):
        x = transformer_encoder_block(x, num_heads=num_heads, ff_dim=ff_dim or 4 * embedding_dim,
                                      dropout=dropout, norm=norm, activation=activation,
                                      causal=True, name=f"block{i}")
    if norm == "pre":
        x = layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    outputs = _output(x, embedding=embedding, vocab_size=vocab_size, tie_weights=tie_weights,
                      dim=embedding_dim)
    return keras.Model(inputs, outputs, name=name)


_LM = {
    "family": "language_model",
    "task": "text_generation",
    "input_kind": "tokens",
    "default_input_shape": (32,),
    "default_num_classes": None,
}
_RNN_GROUPS = prefixes_matching(r"(token_embedding|(?:lstm|gru)\d+$|logits|tie_projection)")


@register_model(**_LM, params=4_769_552, paper=PAPER_RNN_LM,
                unfreeze_groups=("token_embedding", "lstm1", "lstm2", "logits"),
                unfreeze_rule=_RNN_GROUPS,
                smoke_overrides={"vocab_size": 16, "input_shape": (6,), "embedding_dim": 8,
                                 "units": 8, "depth": 2, "dropout": 0.1, "tie_weights": True},
                description="Word/character language model: embedding, 2 LSTM layers of 256, "
                            "softmax over the vocabulary")
def lm_lstm(**kwargs):
    """Stacked LSTM language model."""
    return LanguageRNN(cell="lstm", **kwargs)


@register_model(**_LM, params=4_541_200, paper=PAPER_RNN_LM,
                unfreeze_groups=("token_embedding", "gru1", "gru2", "logits"),
                unfreeze_rule=_RNN_GROUPS,
                smoke_overrides={"vocab_size": 16, "input_shape": (6,), "embedding_dim": 8,
                                 "units": 8, "depth": 1},
                description="Word/character language model: embedding, 2 GRU layers of 256, "
                            "softmax over the vocabulary")
def lm_gru(**kwargs):
    """Stacked GRU language model."""
    return LanguageRNN(cell="gru", **kwargs)


@register_model(**_LM, params=1_690_896, paper=f"{PAPER_GPT} {PAPER_TIED}",
                unfreeze_groups=("token_embedding", "block1", "block2", "final_norm"),
                unfreeze_rule=prefixes_matching(r"(token_embedding|block\d+(?=_)|final_norm)"),
                smoke_overrides={"vocab_size": 16, "input_shape": (6,), "embedding_dim": 8,
                                 "num_heads": 2, "ff_dim": 8, "depth": 1},
                description="Decoder-only transformer language model: causal self-attention, "
                            "2 pre-norm blocks, d=128, tied embeddings")
def lm_transformer(**kwargs):
    """Small decoder-only (causal) transformer language model."""
    return CausalTransformer(**kwargs)
