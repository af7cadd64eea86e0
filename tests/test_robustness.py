"""FGSM and adversarial training on scikit-learn's digits (offline, seconds)."""

import keras
import numpy as np
import pytest

from dlzoo import build
from dlzoo.robustness import (
    AdversarialBatches,
    accuracy_under_attack,
    fgsm,
    plot_adversarial_examples,
)

RANGE = (0.0, 16.0)  # sklearn digits pixels are 0..16


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = d.data.astype("float32")
    return train_test_split(x, d.target, test_size=0.3, random_state=0, stratify=d.target)


def _train(x, y, data=None, epochs=30):
    keras.utils.set_random_seed(0)
    model = build("mlp", input_shape=(64,), hidden_units=(64,))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    if data is None:
        model.fit(x / 1.0, y, epochs=epochs, batch_size=64, verbose=0)
    else:
        model.fit(data, epochs=epochs, verbose=0)
    return model


@pytest.fixture(scope="module")
def standard_model(digits):
    x_tr, _, y_tr, _ = digits
    return _train(x_tr, y_tr)


def test_fgsm_zero_epsilon_is_identity(standard_model, digits):
    _, x_te, _, y_te = digits
    x_adv = fgsm(standard_model, x_te, y_te, epsilon=0.0, value_range=RANGE)
    np.testing.assert_array_equal(x_adv, x_te)
    rows = accuracy_under_attack(standard_model, x_te, y_te, [0.0], value_range=RANGE)
    clean = (standard_model.predict(x_te, verbose=0).argmax(1) == y_te).mean()
    assert rows[0]["accuracy"] == pytest.approx(clean)
    assert clean > 0.93


def test_fgsm_step_size_and_clipping(standard_model, digits):
    _, x_te, _, y_te = digits
    eps = 0.05
    x_adv = fgsm(standard_model, x_te[:50], y_te[:50], epsilon=eps, value_range=RANGE)
    delta = np.abs(x_adv - x_te[:50])
    assert delta.max() <= eps * 16 + 1e-5
    assert x_adv.min() >= 0.0 and x_adv.max() <= 16.0
    # pixels not at a clipping bound move by exactly epsilon * range
    inside = (x_adv > 0) & (x_adv < 16)
    np.testing.assert_allclose(delta[inside], eps * 16, rtol=1e-5)


def test_accuracy_falls_as_epsilon_grows(standard_model, digits):
    _, x_te, _, y_te = digits
    rows = accuracy_under_attack(standard_model, x_te, y_te, [0.0, 0.02, 0.05, 0.1], value_range=RANGE)
    acc = [r["accuracy"] for r in rows]
    assert acc == sorted(acc, reverse=True), acc
    assert acc[-1] < acc[0] - 0.3, acc


def test_adversarial_training_beats_standard_under_attack(standard_model, digits):
    x_tr, x_te, y_tr, y_te = digits
    keras.utils.set_random_seed(0)
    model = build("mlp", input_shape=(64,), hidden_units=(64,))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    data = AdversarialBatches.from_arrays(model, x_tr, y_tr, batch_size=64, epsilon=0.1, ratio=0.5,
                                          value_range=RANGE)
    model.fit(data, epochs=12, verbose=0, callbacks=[data.callback])  # 0.70 vs 0.28 under attack at 12
    assert data.attacked > 0
    std = accuracy_under_attack(standard_model, x_te, y_te, [0.0, 0.1], value_range=RANGE)
    adv = accuracy_under_attack(model, x_te, y_te, [0.0, 0.1], value_range=RANGE)
    assert adv[1]["accuracy"] > std[1]["accuracy"] + 0.2, (std, adv)
    assert adv[0]["accuracy"] > 0.85  # the clean accuracy it costs stays small


def test_plot(standard_model, digits, tmp_path):
    _, x_te, _, y_te = digits
    path = plot_adversarial_examples(standard_model, x_te, y_te, epsilon=0.1, value_range=RANGE,
                                     path=tmp_path / "adv.png")
    assert path.stat().st_size > 5000


@pytest.mark.parametrize("eps", [-0.1, 1.5, float("nan"), "0.1", True])
def test_bad_epsilon(standard_model, digits, eps):
    _, x_te, _, y_te = digits
    with pytest.raises(ValueError, match="epsilon must be a number in"):
        fgsm(standard_model, x_te[:2], y_te[:2], epsilon=eps, value_range=RANGE)


def test_bad_value_range(standard_model, digits):
    _, x_te, _, y_te = digits
    with pytest.raises(ValueError, match="high > low"):
        fgsm(standard_model, x_te[:2], y_te[:2], epsilon=0.1, value_range=(1, 1))


def test_one_sigmoid_unit_confidence_is_that_of_the_predicted_class():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    x = np.random.default_rng(0).normal(size=(40, 2)).astype("float32")
    p = model.predict(x, verbose=0)[:, 0]
    y = (p > 0.5).astype("int64")
    clean = accuracy_under_attack(model, x, y, [0.0], value_range=(-4, 4))[0]
    assert clean["accuracy"] == 1.0
    assert clean["mean_confidence"] == pytest.approx(np.mean(np.maximum(p, 1 - p)), rel=1e-5)


def test_fgsm_moves_a_sample_the_model_is_sure_of():
    """p = 1.0 in float32 (logit gap 40): Keras's cross-entropy clips probabilities at 1e-7, which
    left such a sample with no gradient, and FGSM did not move it (on TensorFlow, JAX and PyTorch
    alike); the step must still be taken."""
    inputs = keras.Input((4,))
    dense = keras.layers.Dense(3, activation="softmax")
    model = keras.Model(inputs, dense(inputs))
    dense.set_weights([np.array([[10.0, 0.0, 0.0]] * 4, "float32"), np.zeros(3, "float32")])
    x = np.ones((1, 4), "float32")
    assert float(model.predict(x, verbose=0)[0, 0]) == 1.0  # sure, to float32 precision
    x_adv = fgsm(model, x, np.array([0]), epsilon=0.1, value_range=(0.0, 10.0))
    np.testing.assert_allclose(x_adv, x - 1.0)  # every input moved against class 0, by 0.1 * 10
