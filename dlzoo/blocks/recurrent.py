"""Stacked recurrent layers (LSTM, GRU), optionally bidirectional."""

from __future__ import annotations

from keras import layers

CELLS = {"lstm": layers.LSTM, "gru": layers.GRU}


def recurrent_stack(
    x,
    *,
    cell: str = "lstm",
    units: int = 64,
    depth: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    return_sequences: bool = False,
    name: str | None = None,
):
    """`depth` recurrent layers; all but the last return sequences, the last as asked.

    A mask on `x` (from `Embedding(mask_zero=True)` or `Masking`) is honoured by every layer: padded
    steps leave the state unchanged, so the last state is the state after the last real token.

    Layer names: `{name}1`, `{name}2`, ... (default name `lstm`/`gru`, or `bilstm`/`bigru` for the
    `Bidirectional` wrappers, whose inner layers are `forward_*` and `backward_*`).

    Args:
        x: a `(batch, steps, features)` tensor.
        cell: "lstm" (Hochreiter & Schmidhuber 1997) or "gru" (Cho et al. 2014).
        units: state size of each layer (each direction when bidirectional).
        depth: number of stacked layers.
        bidirectional: wrap each layer in `Bidirectional` (outputs concatenated, 2 * units).
        dropout: dropout on each layer's inputs.
        recurrent_dropout: dropout on the recurrent state (Gal & Ghahramani 2016).
        return_sequences: the last layer returns every step (for pooling) or only its last state.
        name: prefix of the layer names.
    """
    rnn = CELLS[cell]
    prefix = name or (f"bi{cell}" if bidirectional else cell)
    for i in range(1, depth + 1):
        last = i == depth
        layer_name = f"{prefix}{i}"
        layer = rnn(
            units,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            return_sequences=return_sequences or not last,
            name=f"{cell}{i}" if bidirectional else layer_name,
        )
        if bidirectional:
            layer = layers.Bidirectional(layer, name=layer_name)
        x = layer(x)
    return x
