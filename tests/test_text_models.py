"""Recurrent text and sequence models: they learn an order-sensitive task a bag of words cannot,
padding does not change their predictions, and bad arguments fail before any layer is built."""

import keras
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from dlzoo import build, model_info
from tests._tasks import order_task

VOCAB, LENGTH = 12, 12


@pytest.fixture(scope="module")
def order_data():
    """2000 training and 500 validation sequences of 6..12 tokens, padded to 12."""
    return (order_task(2000, length=LENGTH, min_length=6, vocab_size=VOCAB, seed=0),
            order_task(500, length=LENGTH, min_length=6, vocab_size=VOCAB, seed=1))


def _bag_of_words(tokens):
    return np.stack([np.bincount(row, minlength=VOCAB) for row in tokens])


def test_order_task_defeats_a_bag_of_words(order_data):
    (x, y), (xv, yv) = order_data
    assert 0.4 < y.mean() < 0.6
    accuracy = LogisticRegression(max_iter=2000).fit(_bag_of_words(x), y).score(_bag_of_words(xv), yv)
    assert accuracy < 0.6, accuracy


@pytest.mark.parametrize("name", ["text_lstm", "text_gru"])
def test_recurrent_model_learns_token_order(name, order_data):
    (x, y), (xv, yv) = order_data
    model = build(name, vocab_size=VOCAB, input_shape=(LENGTH,), embedding_dim=16, units=32)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, validation_data=(xv, yv), epochs=3, batch_size=64, verbose=0)
    assert max(history.history["val_accuracy"]) >= 0.9, history.history["val_accuracy"]


def _pad(tokens, length):
    return np.pad(tokens, ((0, 0), (0, length - tokens.shape[1])))


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("text_lstm", {}),
        ("text_gru", {"pooling": "avg"}),
        ("text_bilstm", {"depth": 2}),
        ("text_bigru", {"pooling": "avg"}),
    ],
)
def test_padding_does_not_change_the_prediction(name, kwargs):
    model = build(name, vocab_size=20, input_shape=(None,), embedding_dim=8, units=8, **kwargs)
    tokens = np.random.default_rng(0).integers(1, 20, size=(4, 7))
    short = model.predict(_pad(tokens, 9), verbose=0)
    long = model.predict(_pad(tokens, 20), verbose=0)
    np.testing.assert_allclose(short, long, atol=1e-5)
    # and the prediction does depend on the tokens, so the comparison above means something
    other = model.predict(_pad(tokens[:, ::-1], 9), verbose=0)
    assert np.abs(other - short).max() > 1e-4


def test_float_sequences_skip_masked_steps():
    model = build("sequence_lstm", input_shape=(None, 3), units=8, mask_value=0.0)
    steps = np.random.default_rng(0).normal(size=(4, 6, 3)).astype("float32")
    padded = np.concatenate([steps, np.zeros((4, 5, 3), "float32")], axis=1)
    np.testing.assert_allclose(model.predict(steps, verbose=0), model.predict(padded, verbose=0), atol=1e-5)


def test_timeseries_regressor_has_linear_outputs():
    model = build("timeseries_lstm", input_shape=(10, 2), num_classes=3, units=4)
    assert model.output_shape == (None, 3)
    assert model.get_layer("predictions").get_config()["activation"] == "linear"


def test_bidirectional_and_stacked_layer_names():
    model = build("text_bigru", vocab_size=50, input_shape=(10,), depth=2, units=6, embedding_dim=4)
    names = [layer.name for layer in model.layers]
    assert names == ["tokens", "embedding", "bigru1", "bigru2", "predictions"]
    assert model.get_layer("bigru2").output.shape == (None, 12)  # both directions concatenated


def test_features_without_top():
    seq = build("text_lstm", vocab_size=50, input_shape=(10,), units=6, include_top=False, pooling=None)
    assert seq.output_shape == (None, 10, 6)
    vec = build("text_lstm", vocab_size=50, input_shape=(10,), units=6, include_top=False, pooling="avg")
    assert vec.output_shape == (None, 6)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"units": 0}, "units must be an integer >= 1"),
        ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\)"),
        ({"pooling": "max"}, "pooling must be 'last', 'avg' or None"),
        ({"vocab_size": 1}, "vocab_size must be an integer >= 2"),
        ({"input_shape": (10, 3)}, r"input_shape must be \(sequence_length,\)"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build("text_lstm", **kwargs)


def test_cell_is_checked():
    from dlzoo.models.text_rnn import TextRNN

    with pytest.raises(ValueError, match="cell must be 'lstm' or 'gru'; received 'rnn'"):
        TextRNN(cell="rnn")


def test_sequence_input_shape_is_checked():
    with pytest.raises(ValueError, match=r"\(timesteps, features\)"):
        build("sequence_gru", input_shape=(100,))


def test_lstm_parameter_count_by_hand():
    embedding = 20000 * 128
    lstm = 4 * (64 * (128 + 64) + 64)  # four gates, each over [input, state] plus a bias
    head = 64 * 2 + 2
    assert model_info("text_lstm").params == embedding + lstm + head
