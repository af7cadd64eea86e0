"""Transformer encoder: with positions it learns an order-sensitive task, without them it cannot;
padding is masked end to end in post-norm and pre-norm stacks; positional encodings match the
paper; the vision transformer reuses the block."""

import math

import keras
import numpy as np
import pytest

from dlzoo import build, model_info
from dlzoo.layers import PositionalEmbedding
from tests._tasks import order_task

VOCAB, LENGTH = 12, 12
SMALL = {"vocab_size": VOCAB, "input_shape": (LENGTH,), "embed_dim": 32, "num_heads": 2,
         "ff_dim": 64, "depth": 1, "dropout": 0.0}


@pytest.fixture(scope="module")
def order_data():
    return (order_task(2000, length=LENGTH, min_length=6, vocab_size=VOCAB, seed=0),
            order_task(500, length=LENGTH, min_length=6, vocab_size=VOCAB, seed=1))


def _fit(model, data, epochs):
    (x, y), (xv, yv) = data
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model.fit(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=64,
                     verbose=0).history["val_accuracy"]


@pytest.mark.parametrize(
    "kwargs",
    [{"positions": "learned", "norm": "post"}, {"positions": "sinusoidal", "norm": "pre"}],
    ids=["learned-postnorm", "sinusoidal-prenorm"],
)
def test_transformer_with_positions_learns_token_order(kwargs, order_data):
    # val accuracy per epoch (seed 0): learned/post-norm .54 .88 .92 .97, sinusoidal/pre-norm
    # .77 .95 .99 1.0
    accuracy = _fit(build("transformer_encoder", **SMALL, **kwargs), order_data, epochs=4)
    assert max(accuracy) >= 0.9, accuracy


def test_transformer_without_positions_stays_at_chance(order_data):
    # Self-attention and mean pooling are permutation invariant: without positions the model
    # sees a bag of tokens, and both marker tokens are in every sequence.
    # The same 4 epochs in which both models with positions pass 0.9.
    accuracy = _fit(build("transformer_encoder", **SMALL, positions=None), order_data, epochs=4)
    assert max(accuracy) <= 0.6, accuracy


def _pad(tokens, length):
    return np.pad(tokens, ((0, 0), (0, length - tokens.shape[1])))


@pytest.mark.parametrize("norm", ["post", "pre"])
@pytest.mark.parametrize("positions", ["learned", "sinusoidal", None])
def test_padding_does_not_change_the_prediction(norm, positions):
    model = build("transformer_encoder", vocab_size=20, input_shape=(None,), max_length=24,
                  embed_dim=8, num_heads=2, depth=2, norm=norm, positions=positions)
    tokens = np.random.default_rng(0).integers(1, 20, size=(4, 7))
    short = model.predict(_pad(tokens, 9), verbose=0)
    np.testing.assert_allclose(model.predict(_pad(tokens, 24), verbose=0), short, atol=1e-5)
    other = model.predict(_pad(np.roll(tokens, 1, axis=0), 9), verbose=0)
    assert np.abs(other - short).max() > 1e-4


def test_sinusoidal_encoding_matches_the_paper():
    dim, length = 16, 10
    out = np.array(PositionalEmbedding(kind="sinusoidal")(np.zeros((1, length, dim), "float32")))[0]
    for pos in (0, 3, 9):
        for i in range(dim // 2):
            angle = pos / 10000 ** (2 * i / dim)
            assert out[pos, 2 * i] == pytest.approx(math.sin(angle), abs=1e-5)
            assert out[pos, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-5)


def test_learned_positions_refuse_longer_sequences():
    with pytest.raises(ValueError, match="exceed max_length=8"):
        PositionalEmbedding(8)(keras.Input((10, 4)))
    with pytest.raises(ValueError, match="needs max_length"):
        PositionalEmbedding(None, kind="learned")


@pytest.mark.parametrize(
    "kwargs",
    [{"positions": "sinusoidal", "norm": "pre", "activation": "gelu"}, {"positions": None}],
)
def test_variants_round_trip_safe_mode(kwargs, tmp_path):
    model = build("transformer_encoder", vocab_size=20, input_shape=(6,), embed_dim=8, num_heads=2,
                  depth=1, **kwargs)
    x = np.random.default_rng(0).integers(0, 20, size=(3, 6))
    path = tmp_path / "t.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_block_layer_names():
    model = build("transformer_encoder", vocab_size=20, input_shape=(6,), embed_dim=8, num_heads=2,
                  depth=2, norm="pre")
    names = {layer.name for layer in model.layers}
    for part in ("attention", "attention_norm", "ffn1", "ffn2", "ffn_norm"):
        assert f"block2_{part}" in names
    assert "encoder_norm" in names and "position_embedding" in names


def test_vision_transformer_feature_map():
    model = build("vit_tiny", input_shape=(16, 16, 3), patch_size=4, embed_dim=8, num_heads=2,
                  depth=1, include_top=False)
    assert model.output_shape == (None, 4, 4, 8)
    assert build("vit_tiny").output_shape == (None, 10)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"embed_dim": 10, "num_heads": 4}, "must be divisible by num_heads"),
        ({"norm": "middle"}, "norm must be 'post' or 'pre'"),
        ({"positions": "rotary"}, "positions must be"),
        ({"input_shape": (None,)}, "pass max_length"),
        ({"input_shape": (10,), "max_length": 5}, "max_length .5. is shorter"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build("transformer_encoder", **kwargs)


def test_encoder_parameter_count_by_hand():
    d, ff, vocab, length, blocks = 128, 512, 20000, 200, 2
    attention = 4 * (d * d + d)  # query, key, value and output projections with biases
    block = attention + (d * ff + ff) + (ff * d + d) + 2 * 2 * d  # + feed-forward + 2 LayerNorms
    expected = vocab * d + length * d + blocks * block + (d * 2 + 2)
    assert model_info("transformer_encoder").params == expected
