"""Registry-driven suite (timm's idea): every registered model is built on a tiny input, checked
for output shape and finite values, takes a training step in which every trainable weight moves,
and survives a `.keras` round trip with `safe_mode=True`. A model that registers is tested here
without anyone writing a test for it. Runs on every backend CI uses."""

import keras
import numpy as np
import pytest

from dlzoo import build, list_models, model_info

ALL = list_models()


def smoke_kwargs(name):
    info = model_info(name)
    return dict(info.smoke_overrides)


def sample_inputs(model, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    xs = []
    for t in model.inputs:
        shape = (batch,) + tuple(t.shape[1:])
        if "int" in str(t.dtype):
            xs.append(rng.integers(1, 8, size=shape).astype("int32"))
        else:
            xs.append(rng.normal(size=shape).astype("float32"))
    return xs[0] if len(xs) == 1 else xs


def sample_targets(model, x, batch=2, seed=1, task=None):
    """Targets and a loss for one training step, by task: an autoencoder reconstructs its input, a
    regressor gets real-valued targets, a classifier labels that fit its output."""
    info_out = model.outputs[0]
    rng = np.random.default_rng(seed)
    out_shape = tuple(info_out.shape[1:])
    if task == "autoencoder":
        return x, "mse"
    if task in ("sequence_regression", "rating_prediction"):
        return rng.normal(size=(batch,) + out_shape).astype("float32"), "mse"
    if task == "text_generation":  # the next token at every step
        return (rng.integers(0, out_shape[-1], size=(batch,) + out_shape[:-1]),
                "sparse_categorical_crossentropy")
    if len(out_shape) == 1 and out_shape[0] > 1:
        return rng.integers(0, out_shape[0], size=(batch,)), "sparse_categorical_crossentropy"
    if out_shape == (1,):  # a sigmoid unit, or a linear one (ADALINE) trained on squared error
        linear = getattr(model.layers[-1], "activation", None) is keras.activations.linear
        return (rng.integers(0, 2, size=(batch, 1)).astype("float32"),
                "mse" if linear else "binary_crossentropy")
    return rng.normal(size=(batch,) + out_shape).astype("float32"), "mse"


@pytest.mark.parametrize("name", ALL)
def test_forward_shape_and_finite(name):
    model = build(name, **smoke_kwargs(name))
    x = sample_inputs(model)
    y = model.predict(x, verbose=0)
    assert y.shape[0] == 2
    assert tuple(y.shape[1:]) == tuple(model.outputs[0].shape[1:])
    assert np.all(np.isfinite(y))
    info = model_info(name)
    if (info.task.endswith("classification") or info.task == "text_generation") and \
            model.outputs[0].shape[-1] > 1:
        # softmax rows sum to one
        np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-4)


def _drops_whole_samples(model) -> bool:
    """Whether a Dropout in `model` drops whole samples (noise_shape (None, 1, ...): drop-path)."""
    from dlzoo.weights import all_layers

    return any(isinstance(layer, keras.layers.Dropout) and layer.noise_shape is not None
               and all(d == 1 for d in tuple(layer.noise_shape)[1:])
               for layer in all_layers(model))


@pytest.mark.parametrize("name", ALL)
def test_train_step_moves_every_weight(name):
    model = build(name, **smoke_kwargs(name))
    task = model_info(name).task
    # Adam's first step moves each weight by ~lr * sign(grad): any weight with a non-zero gradient
    # changes, any weight with a zero gradient does not.
    if task == "generative":
        # A generative model trains on real samples alone, with its own losses (a GAN steps the
        # discriminator's and the generator's optimizers in turn); `optimizer` configures both.
        rng = np.random.default_rng(1)
        real = rng.normal(size=(2,) + tuple(model.outputs[0].shape[1:])).astype("float32")
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        before = [np.array(w) for w in model.trainable_weights]
        logs = model.train_on_batch(real, return_dict=True)
        assert logs and all(np.isfinite(v) for v in logs.values())
    else:
        # Stochastic depth (EfficientNet's drop-connect: a Dropout whose noise_shape drops a
        # block's whole residual branch per sample, rate up to 0.2) leaves a block without
        # gradient when it drops the branch for every sample of the batch: at 2 samples that is
        # 0.04 per block, at 8 it is 3e-6.
        batch = 8 if _drops_whole_samples(model) else 2
        x = sample_inputs(model, batch=batch)
        y, loss = sample_targets(model, x, batch=batch, task=task)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
        # Creating the optimizer's slots up front saves tracing the train step twice (deep nets).
        model.optimizer.build(model.trainable_variables)
        before = [np.array(w) for w in model.trainable_weights]
        model.train_on_batch(x, y)
    stuck = [
        w.path for w, b in zip(model.trainable_weights, before) if np.array_equal(np.array(w), b)
    ]
    assert not stuck, f"no gradient reached: {stuck}"


@pytest.mark.parametrize("name", ALL)
def test_keras_round_trip_safe_mode(name, tmp_path):
    model = build(name, **smoke_kwargs(name))
    x = sample_inputs(model)
    expected = model.predict(x, verbose=0)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert [w.shape for w in loaded.weights] == [w.shape for w in model.weights]


@pytest.mark.parametrize(
    "name", [n for n in ALL if model_info(n).input_kind == "image" and model_info(n).task == "image_classification"]
)
# avg and max: one shared helper (blocks.heads.pool_features) for every model; in the slow leg
@pytest.mark.parametrize("pooling", [None, *(pytest.param(p, marks=pytest.mark.slow)
                                             for p in ("avg", "max"))])
def test_feature_extractor(name, pooling):
    kwargs = smoke_kwargs(name)
    kwargs.pop("num_classes", None)
    for k in [k for k in kwargs if k.startswith("fc_")]:
        kwargs.pop(k)
    model = build(name, include_top=False, pooling=pooling, **kwargs)
    if pooling is None:
        assert len(model.output_shape) == 4
    else:
        assert len(model.output_shape) == 2
    y = model.predict(sample_inputs(model), verbose=0)
    assert np.all(np.isfinite(y))
