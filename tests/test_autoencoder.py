"""Denoising autoencoders: the convolutional one denoises scikit-learn's digits, the corruption is
active only in training, and the encoder is a model of its own that a classifier can reuse."""

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from dlzoo import build
from dlzoo.layers import MaskingNoise, SaltAndPepperNoise


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return (data.images / 16.0).astype("float32")[..., None], data.target


def test_conv_dae_halves_the_noise_on_digits(digits):
    images, _ = digits
    train, test = images[:1400], images[1400:]
    model = build("conv_dae", input_shape=(8, 8, 1), filters=(16, 32), corruption="gaussian",
                  corruption_level=0.3, seed=0)
    model.compile(keras.optimizers.Adam(3e-3), "mse")
    model.fit(train, train, epochs=6, batch_size=32, verbose=0)

    noisy = test + 0.3 * np.random.default_rng(1).normal(size=test.shape).astype("float32")
    noisy_error = np.mean((noisy - test) ** 2)
    denoised_error = np.mean((model.predict(noisy, verbose=0) - test) ** 2)
    assert denoised_error <= 0.5 * noisy_error, (denoised_error, noisy_error)


@pytest.mark.parametrize("name", ["dense_dae", "conv_dae"])
def test_corruption_only_in_training(name):
    model = build(name, **({"input_shape": (16,)} if name == "dense_dae" else {"input_shape": (8, 8, 1)}))
    x = np.random.default_rng(0).uniform(size=(4,) + model.input_shape[1:]).astype("float32")
    noise = model.get_layer("corruption")
    np.testing.assert_array_equal(np.array(noise(x, training=False)), x)
    assert not np.allclose(np.array(noise(x, training=True)), x)
    # inference is deterministic: the corruption is off
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_masking_and_salt_and_pepper_noise():
    x = np.full((200, 50), 0.5, dtype="float32")
    masked = np.array(MaskingNoise(0.3, seed=1)(x, training=True))
    assert set(np.unique(masked)) == {0.0, 0.5}  # zeroed, not rescaled like Dropout
    assert abs((masked == 0).mean() - 0.3) < 0.02
    salted = np.array(SaltAndPepperNoise(0.2, seed=1)(x, training=True))
    assert set(np.unique(salted)) == {0.0, 0.5, 1.0}
    assert abs((salted == 0).mean() - 0.1) < 0.02 and abs((salted == 1).mean() - 0.1) < 0.02


def test_encoder_is_a_model_a_classifier_can_reuse(digits, tmp_path):
    images, labels = digits
    dae = build("dense_dae", input_shape=(64,), hidden_units=(32, 16), seed=0)
    flat = images.reshape(-1, 64)
    dae.compile(keras.optimizers.Adam(3e-3), "mse")
    dae.fit(flat, flat, epochs=2, batch_size=64, verbose=0)

    encoder = dae.get_layer("encoder")
    assert isinstance(encoder, keras.Model) and encoder.output_shape == (None, 16)
    encoder.trainable = False
    inputs = keras.Input((64,))
    outputs = keras.layers.Dense(10, activation="softmax", name="predictions")(encoder(inputs))
    classifier = keras.Model(inputs, outputs)
    assert len(classifier.trainable_weights) == 2  # only the new head
    # the classifier shares the pre-trained weights, it does not copy them
    assert classifier.get_layer("encoder").get_layer("encoder_dense1").kernel is \
        dae.get_layer("encoder").get_layer("encoder_dense1").kernel

    path = tmp_path / "encoder.keras"
    encoder.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(flat[:5], verbose=0), encoder.predict(flat[:5], verbose=0),
                               atol=1e-6)


def test_conv_encoder_and_decoder_shapes():
    dae = build("conv_dae")
    assert dae.output_shape == (None, 28, 28, 1)
    assert dae.get_layer("encoder").output_shape == (None, 7, 7, 64)
    assert dae.get_layer("decoder").input_shape == (None, 7, 7, 64)


@pytest.mark.parametrize(
    "name,kwargs,match",
    [
        ("conv_dae", {"input_shape": (30, 30, 1)}, "not divisible by 4"),
        ("conv_dae", {"corruption": "blur"}, "corruption must be"),
        ("dense_dae", {"corruption": "masking", "corruption_level": 1.5}, "corruption_level must be"),
        ("dense_dae", {"corruption": "gaussian", "corruption_level": -1}, "standard deviation"),
        ("dense_dae", {"hidden_units": ()}, "at least one width"),
    ],
)
def test_bad_arguments_name_the_argument(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        build(name, **kwargs)


