"""The GAN's own train step under `fit`, on whichever backend runs the suite (CI runs tests/models
on TensorFlow and on JAX): both networks learn with their own optimizer, the losses are reported,
and callbacks see the trained weights at the end of each epoch."""

import keras
import numpy as np

from dlzoo import build
from dlzoo.models.gan import SampleGrid


def test_fit_steps_both_networks_and_reports_both_losses(tmp_path):
    points = np.random.default_rng(0).normal(size=(96, 2)).astype("float32")
    gan = build("mlp_gan", hidden_units=(8, 8), seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    g_before = [np.array(w) for w in gan.generator.trainable_weights]
    d_before = [np.array(w) for w in gan.discriminator.trainable_weights]
    grid = SampleGrid(tmp_path, num_samples=50)
    history = gan.fit(points, epochs=2, batch_size=32, verbose=0, callbacks=[grid])

    assert set(history.history) == {"d_loss", "g_loss"}
    assert all(np.isfinite(v) for values in history.history.values() for v in values)
    # three steps per epoch, each stepping the discriminator once and the generator once
    assert int(gan.d_optimizer.iterations) == int(gan.g_optimizer.iterations) == 6
    for before, net in ((g_before, gan.generator), (d_before, gan.discriminator)):
        assert all(not np.array_equal(b, np.array(w)) for b, w in zip(before, net.trainable_weights))
    # the model's prediction is its generator's, and the callback ran on the synced weights
    z = np.random.default_rng(0).normal(size=(50, gan.latent_dim)).astype("float32")
    np.testing.assert_allclose(gan.predict(z, verbose=0), gan.generator.predict(z, verbose=0), atol=1e-6)
    assert len(grid.paths) == 2


def test_each_step_draws_fresh_latents():
    # The latent noise comes from the GAN's seed generator, whose state must advance and be kept
    # (on JAX it lives in the step's state and is written back after the epoch).
    points = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    gan = build("mlp_gan", hidden_units=(8, 8), seed=3)
    gan.compile()
    start = np.array(gan.seed_generator.state)
    gan.fit(points, epochs=1, batch_size=32, verbose=0)
    after_one = np.array(gan.seed_generator.state)
    gan.fit(points, epochs=1, batch_size=32, verbose=0)
    assert not np.array_equal(start, after_one)
    assert not np.array_equal(after_one, np.array(gan.seed_generator.state))


def test_validation_reports_both_losses_and_changes_nothing():
    points = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    gan = build("mlp_gan", hidden_units=(8, 8))
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.SGD(1e-2))  # d, then g
    history = gan.fit(points, validation_data=(points,), epochs=1, batch_size=32, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "val_d_loss", "val_g_loss"}
    weights = [np.array(w) for w in gan.trainable_weights]
    logs = gan.evaluate(points, verbose=0, return_dict=True)
    assert set(logs) == {"d_loss", "g_loss"} and all(np.isfinite(v) for v in logs.values())
    assert all(np.array_equal(a, np.array(w)) for a, w in zip(weights, gan.trainable_weights))
    assert int(gan.d_optimizer.iterations) == int(gan.g_optimizer.iterations) == 2
    assert isinstance(gan.g_optimizer, keras.optimizers.SGD)
