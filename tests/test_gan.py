"""GANs: the MLP GAN covers the modes of a ring of gaussians, DCGAN builds for its three image
sizes, generator and discriminator save and reload, a saved GAN resumes with its optimizers, and
the sample-grid callback writes a PNG per epoch."""

import keras
import numpy as np
import pytest
from PIL import Image

from dlzoo import build
from dlzoo.models.gan import GAN, SampleGrid, save_sample_grid
from tests._tasks import modes_covered, ring_of_gaussians

STD = 0.05


@pytest.mark.slow  # the default run is at its 12 CPU-min budget
def test_mlp_gan_covers_the_modes_of_a_ring_of_gaussians():
    points, centres = ring_of_gaussians(256 * 50, modes=8, radius=2.0, std=STD, seed=0)
    gan = build("mlp_gan", seed=0)
    gan.compile(optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5))
    history = gan.fit(points, epochs=24, batch_size=256, verbose=0)  # 1,200 steps
    assert set(history.history) == {"d_loss", "g_loss"}

    z = np.random.default_rng(1).normal(size=(2000, gan.latent_dim)).astype("float32")
    covered, close = modes_covered(gan.predict(z, verbose=0), centres, std=STD)
    assert covered >= 6, (covered, close)


@pytest.mark.parametrize(
    "name,image_shape,levels",
    [("dcgan_28", (28, 28, 1), 2), ("dcgan_32", (32, 32, 3), 3), ("dcgan_64", (64, 64, 3), 4)],
)
def test_dcgan_image_sizes(name, image_shape, levels):
    gan = build(name)
    assert gan.latent_dim == 100
    assert gan.generator.output_shape == (None,) + image_shape
    assert gan.discriminator.input_shape == (None,) + image_shape
    assert gan.discriminator.output_shape == (None, 1)
    deconvs = [l for l in gan.generator.layers if isinstance(l, keras.layers.Conv2DTranspose)]
    convs = [l for l in gan.discriminator.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(deconvs) == len(convs) == levels
    assert gan.generator.get_layer(f"deconv{levels}").get_config()["activation"] == "tanh"


def test_generator_and_discriminator_reload_from_keras_files(tmp_path):
    gan = build("dcgan_28", latent_dim=8, base_filters=4)
    z = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    images = gan.generator.predict(z, verbose=0)
    for net, x in ((gan.generator, z), (gan.discriminator, images)):
        path = tmp_path / f"{net.name}.keras"
        net.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        np.testing.assert_allclose(loaded.predict(x, verbose=0), net.predict(x, verbose=0), atol=1e-6)


def test_saved_gan_resumes_with_its_optimizers(tmp_path):
    points, _ = ring_of_gaussians(512, std=STD)
    gan = build("mlp_gan", hidden_units=(16, 16))
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.RMSprop(5e-4))
    gan.fit(points, epochs=1, batch_size=64, verbose=0)
    path = tmp_path / "gan.keras"
    gan.save(path)

    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, GAN) and loaded.compiled
    assert isinstance(loaded.g_optimizer, keras.optimizers.RMSprop)
    assert float(loaded.g_optimizer.learning_rate) == pytest.approx(5e-4)
    assert int(loaded.d_optimizer.iterations) == int(gan.d_optimizer.iterations) == 8
    for a, b in zip(loaded.d_optimizer.variables, gan.d_optimizer.variables):
        np.testing.assert_allclose(np.array(a), np.array(b))
    history = loaded.fit(points, epochs=1, batch_size=64, verbose=0)
    assert np.isfinite(history.history["g_loss"][0])
    assert int(loaded.g_optimizer.iterations) == 16


def test_sample_grid_writes_a_png_each_epoch(tmp_path):
    images = np.random.default_rng(0).uniform(-1, 1, size=(32, 28, 28, 1)).astype("float32")
    gan = build("dcgan_28", latent_dim=8, base_filters=4)
    gan.compile()
    grid = SampleGrid(tmp_path / "samples", num_samples=6, columns=3)
    gan.fit(images, epochs=2, batch_size=16, verbose=0, callbacks=[grid])
    assert [p.rsplit("/", 1)[-1] for p in grid.paths] == ["samples_epoch_001.png", "samples_epoch_002.png"]
    with Image.open(grid.paths[-1]) as png:
        assert png.size == (3 * 29 + 1, 2 * 29 + 1)  # 3 x 2 images of 28 pixels, 1-pixel borders


def test_points_are_saved_as_a_scatter_plot(tmp_path):
    path = save_sample_grid(np.random.default_rng(0).normal(size=(100, 2)), tmp_path / "points.png")
    with Image.open(path) as png:
        assert png.size[0] > 100
    with pytest.raises(ValueError, match="images .n, h, w, 1 or 3. or 2-D points"):
        save_sample_grid(np.zeros((4, 5)), tmp_path / "bad.png")


def test_mismatched_networks_are_refused():
    g = build("dcgan_28", latent_dim=8, base_filters=4).generator
    d = build("dcgan_32", latent_dim=8, base_filters=4).discriminator
    with pytest.raises(ValueError, match=r"samples of shape \(28, 28, 1\) but the discriminator takes"):
        GAN(g, d)
    with pytest.raises(ValueError, match="latent_dim=5"):
        GAN(g, build("dcgan_28", latent_dim=8, base_filters=4).discriminator, latent_dim=5)
    with pytest.raises(TypeError, match="generator must be a functional keras.Model"):
        GAN("generator", d)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"image_shape": (28, 32, 1)}, "must be square"),
        ({"image_shape": (9, 9, 3)}, "cannot be reached by doubling"),
        ({"image_shape": (6, 6, 3)}, "the minimum is 8x8"),
        ({"input_shape": (10, 10)}, "latent vector's shape"),
        ({"latent_dim": 0}, "latent_dim must be an integer >= 1"),
    ],
)
def test_dcgan_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build("dcgan_64", **kwargs)


