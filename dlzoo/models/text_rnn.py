"""Recurrent sequence models: LSTM and GRU text classifiers over token ids, and their float-sequence
(time series) counterparts."""

from __future__ import annotations

import keras
from keras import layers

from dlzoo.blocks.heads import classifier_head
from dlzoo.blocks.recurrent import CELLS, recurrent_stack
from dlzoo.registry import layers_matching, prefixes_matching, register_model
from dlzoo.validation import (
    check_choice,
    check_int,
    check_rate,
    check_sequence_head,
    check_sequence_input,
    check_token_input,
)

PAPER_LSTM = "Hochreiter, Schmidhuber. Long short-term memory. Neural Computation 1997."
PAPER_GRU = ("Cho et al. Learning phrase representations using RNN encoder-decoder for statistical "
             "machine translation. EMNLP 2014.")
PAPER_BI = "Schuster, Paliwal. Bidirectional recurrent neural networks. IEEE Trans. Signal Processing 1997."

POOLINGS = ("last", "avg")


def _check_rnn_args(name, *, cell, units, depth, dropout, recurrent_dropout, pooling, include_top,
                    num_classes):
    check_choice(cell, arg="cell", name=name, allowed=tuple(CELLS))
    check_int(units, arg="units", name=name)
    check_int(depth, arg="depth", name=name)
    check_rate(dropout, arg="dropout", name=name)
    check_rate(recurrent_dropout, arg="recurrent_dropout", name=name)
    check_sequence_head(include_top=include_top, pooling=pooling, poolings=POOLINGS,
                        num_classes=num_classes, name=name)


def _rnn_body(x, *, cell, units, depth, bidirectional, dropout, recurrent_dropout, pooling,
              include_top):
    if pooling is None and include_top:
        pooling = "last"
    x = recurrent_stack(
        x,
        cell=cell,
        units=units,
        depth=depth,
        bidirectional=bidirectional,
        dropout=dropout,
        recurrent_dropout=recurrent_dropout,
        return_sequences=pooling != "last",
    )
    if pooling == "avg":
        # honours the mask: the mean is over real steps only
        x = layers.GlobalAveragePooling1D(name="avg_pool")(x)
    return x


def TextRNN(
    *,
    num_classes: int = 2,
    input_shape=(200,),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    vocab_size: int = 20000,
    embedding_dim: int = 128,
    cell: str = "lstm",
    units: int = 64,
    depth: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    head_dropout: float = 0.0,
    name: str | None = None,
) -> keras.Model:
    """Recurrent text classifier: `Embedding(mask_zero=True)`, stacked LSTM/GRU, `predictions`.

    Token id 0 is padding: it is masked, so padding at the end of a sequence does not change the
    prediction. Ids must be < `vocab_size` (1 is usually the out-of-vocabulary token, as with
    `keras.layers.TextVectorization`).

    Args:
        num_classes: output classes (default 2; 1 gives a sigmoid unit).
        input_shape: (sequence_length,), or (None,) for any length (default (200,)).
        include_top: keep the classifier; without it the output is the pooled features (or the
            per-step outputs with pooling=None).
        pooling: how the sequence becomes one vector: "last" (the final state) or "avg" (the mean
            of the outputs over real steps). None (default) is "last" with the classifier and
            the per-step outputs without it.
        classifier_activation: "softmax", None for logits, or any Keras activation.
        vocab_size: number of token ids, padding and OOV included (default 20000).
        embedding_dim: size of the token vectors (default 128).
        cell: "lstm" (default) or "gru".
        units: state size of each recurrent layer (default 64).
        depth: stacked recurrent layers (default 1).
        bidirectional: read the sequence both ways (default False).
        dropout: dropout on each recurrent layer's inputs.
        recurrent_dropout: dropout on the recurrent state.
        head_dropout: dropout before the classifier.
        name: model name (default `text_{cell}`, `text_bi{cell}`).

    Returns:
        An uncompiled `keras.Model` taking int32 token ids.

    Example:
        >>> from dlzoo import build
        >>> model = build("text_lstm", vocab_size=5000, input_shape=(100,), num_classes=2)
        >>> model.output_shape
        (None, 2)
    """
    name = name or f"text_{'bi' if bidirectional else ''}{cell}"
    _check_rnn_args(name, cell=cell, units=units, depth=depth, dropout=dropout,
                    recurrent_dropout=recurrent_dropout, pooling=pooling, include_top=include_top,
                    num_classes=num_classes)
    check_int(embedding_dim, arg="embedding_dim", name=name)
    check_rate(head_dropout, arg="head_dropout", name=name)
    input_shape = check_token_input(input_shape, name=name, vocab_size=vocab_size)

    inputs = keras.Input(shape=input_shape, dtype="int32", name="tokens")
    x = layers.Embedding(vocab_size, embedding_dim, mask_zero=True, name="embedding")(inputs)
    x = _rnn_body(x, cell=cell, units=units, depth=depth, bidirectional=bidirectional,
                  dropout=dropout, recurrent_dropout=recurrent_dropout, pooling=pooling,
                  include_top=include_top)
    if include_top:
        if head_dropout:
            x = layers.Dropout(head_dropout, name="head_dropout")(x)
        x = classifier_head(x, num_classes=num_classes, classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)


def SequenceRNN(
    *,
    num_classes: int = 2,
    input_shape=(100, 1),
    include_top: bool = True,
    pooling: str | None = None,
    classifier_activation="softmax",
    cell: str = "lstm",
    units: int = 64,
    depth: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    mask_value: float | None = None,
    name: str | None = None,
) -> keras.Model:
    """Recurrent model for float sequences (time series): stacked LSTM/GRU, then `predictions`.

    For regression pass `classifier_activation=None` and `num_classes` = the number of targets.

    Args:
        num_classes: output units (default 2).
        input_shape: (timesteps, features); timesteps may be None (default (100, 1)).
        include_top, pooling, classifier_activation, cell, units, depth, bidirectional, dropout,
            recurrent_dropout: as in `TextRNN`.
        mask_value: steps whose features all equal this value are padding and are skipped
            (`keras.layers.Masking`); None (default) masks nothing.
        name: model name (default `sequence_{cell}`).

    Example:
        >>> from dlzoo import build
        >>> model = build("timeseries_lstm", input_shape=(48, 3))
        >>> model.output_shape
        (None, 1)
    """
    name = name or f"sequence_{'bi' if bidirectional else ''}{cell}"
    _check_rnn_args(name, cell=cell, units=units, depth=depth, dropout=dropout,
                    recurrent_dropout=recurrent_dropout, pooling=pooling, include_top=include_top,
                    num_classes=num_classes)
    input_shape = check_sequence_input(input_shape, name=name)

    inputs = keras.Input(shape=input_shape, name="sequence")
    x = inputs
    if mask_value is not None:
        x = layers.Masking(mask_value=float(mask_value), name="masking")(x)
    x = _rnn_body(x, cell=cell, units=units, depth=depth, bidirectional=bidirectional,
                  dropout=dropout, recurrent_dropout=recurrent_dropout, pooling=pooling,
                  include_top=include_top)
    if include_top:
        x = classifier_head(x, num_classes=num_classes, classifier_activation=classifier_activation)
    return keras.Model(inputs, x, name=name)


_TEXT_SMOKE = {"vocab_size": 16, "input_shape": (5,), "embedding_dim": 4, "units": 4,
               "num_classes": 3}
_SEQ_SMOKE = {"input_shape": (5, 2), "units": 4, "num_classes": 3}
# What the float-sequence variants share: 100 steps of 1 feature.
_SEQUENCE = {"family": "text_rnn", "input_kind": "sequence", "default_input_shape": (100, 1)}
_SEQUENCE_CLASSIFIER = {**_SEQUENCE, "task": "sequence_classification", "default_num_classes": 2,
                        "smoke_overrides": _SEQ_SMOKE}


# Registry facts the text classifiers share. The feature layers (the embedding, then each
# recurrent layer) and unfreeze groups are read off the built model, so they follow `depth`.
_TEXT = {
    "family": "text_rnn",
    "task": "text_classification",
    "input_kind": "tokens",
    "default_input_shape": (200,),
    "default_num_classes": 2,
    "feature_rule": layers_matching(r"embedding|(?:bi)?(?:lstm|gru)\d+"),
    "unfreeze_rule": prefixes_matching(r"(embedding|(?:bi)?(?:lstm|gru)\d+$|predictions)"),
    "smoke_overrides": _TEXT_SMOKE,
}


def _declared(layer: str) -> dict:
    """The feature layers and unfreeze groups at the defaults (one recurrent layer, `layer`)."""
    return {"feature_layers": ("embedding", layer),
            "unfreeze_groups": ("embedding", layer, "predictions")}


# one variant exercises stacking and both dropouts in the registry suite; the rest stay minimal
@register_model(**{**_TEXT, "smoke_overrides": {**_TEXT_SMOKE, "depth": 2, "dropout": 0.1,
                                                "recurrent_dropout": 0.1, "pooling": "avg"}},
                **_declared("lstm1"), params=2_609_538, paper=PAPER_LSTM,
                description="LSTM text classifier: masked embedding, LSTM, softmax")
def text_lstm(**kwargs):
    """LSTM text classifier over token ids."""
    return TextRNN(cell="lstm", **kwargs)


@register_model(**_TEXT, **_declared("gru1"), params=2_597_378, paper=PAPER_GRU,
                description="GRU text classifier: masked embedding, GRU, softmax")
def text_gru(**kwargs):
    """GRU text classifier over token ids."""
    return TextRNN(cell="gru", **kwargs)


@register_model(**_TEXT, **_declared("bilstm1"), params=2_659_074, paper=f"{PAPER_LSTM} {PAPER_BI}",
                description="Bidirectional LSTM text classifier")
def text_bilstm(**kwargs):
    """Bidirectional LSTM text classifier over token ids."""
    return TextRNN(cell="lstm", bidirectional=True, **kwargs)


@register_model(**_TEXT, **_declared("bigru1"), params=2_634_754, paper=f"{PAPER_GRU} {PAPER_BI}",
                description="Bidirectional GRU text classifier")
def text_bigru(**kwargs):
    """Bidirectional GRU text classifier over token ids."""
    return TextRNN(cell="gru", bidirectional=True, **kwargs)


@register_model(**_SEQUENCE_CLASSIFIER, params=17_026, paper=PAPER_LSTM,
                description="LSTM classifier for float sequences (time series), 100 steps x 1 feature")
def sequence_lstm(**kwargs):
    """LSTM classifier for float sequences."""
    return SequenceRNN(cell="lstm", **kwargs)


@register_model(**_SEQUENCE_CLASSIFIER, params=12_994, paper=PAPER_GRU,
                description="GRU classifier for float sequences (time series), 100 steps x 1 feature")
def sequence_gru(**kwargs):
    """GRU classifier for float sequences."""
    return SequenceRNN(cell="gru", **kwargs)


@register_model(
    **_SEQUENCE,
    task="sequence_regression",
    default_num_classes=1,
    params=16_961,
    paper=PAPER_LSTM,
    smoke_overrides={"input_shape": (5, 2), "units": 4, "num_classes": 2},
    description="LSTM regressor for time series: linear outputs (num_classes = number of targets)",
)
def timeseries_lstm(*, num_classes: int = 1, classifier_activation=None, **kwargs):
    """LSTM regressor for time series (linear outputs)."""
    return SequenceRNN(cell="lstm", num_classes=num_classes,
                       classifier_activation=classifier_activation,
                       name=kwargs.pop("name", "timeseries_lstm"), **kwargs)
