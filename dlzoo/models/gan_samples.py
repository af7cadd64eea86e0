"""Pictures of a generator's samples: a PNG grid of images (or a scatter plot of 2-D points), and a
callback that writes one after each epoch so the same latent vectors can be watched improving."""

from __future__ import annotations

import os

import keras
import numpy as np

__all__ = ["SampleGrid", "save_sample_grid"]


def save_sample_grid(samples, path, *, columns: int | None = None, value_range=(-1.0, 1.0)) -> str:
    """Writes generated samples to a PNG: images as a grid, 2-D points as a scatter plot.

    Args:
        samples: `(n, h, w, c)` images with c in (1, 3), or `(n, 2)` points.
        path: the PNG file to write (its folder is created).
        columns: images per row (default: ceil(sqrt(n))).
        value_range: the range the images' values span (default (-1, 1), a tanh output).

    Returns:
        The path written.
    """
    samples = np.asarray(samples)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if samples.ndim == 2 and samples.shape[1] == 2:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4, 4))
        ax.scatter(samples[:, 0], samples[:, 1], s=4, alpha=0.6)
        ax.set_aspect("equal")
        fig.savefig(path, dpi=80)
        plt.close(fig)
        return str(path)
    if samples.ndim != 4 or samples.shape[-1] not in (1, 3):
        raise ValueError(
            "save_sample_grid: samples must be images (n, h, w, 1 or 3) or 2-D points (n, 2); "
            f"received shape {samples.shape}."
        )
    from PIL import Image

    n, h, w, c = samples.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    low, high = value_range
    pixels = np.clip((samples - low) / (high - low), 0.0, 1.0)
    grid = np.ones((rows * (h + 1) + 1, columns * (w + 1) + 1, c), dtype="float32")
    for k in range(n):
        r, col = divmod(k, columns)
        grid[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + col * (w + 1): 1 + col * (w + 1) + w] = pixels[k]
    grid = (grid * 255).round().astype("uint8")
    Image.fromarray(grid[..., 0] if c == 1 else grid).save(path)
    return str(path)


class SampleGrid(keras.callbacks.Callback):
    """Saves the generator's samples for a fixed set of latent vectors as a PNG after each epoch,
    `{directory}/samples_epoch_001.png`, ... so the same z can be watched improving.

    Args:
        directory: where the PNGs go.
        num_samples: how many samples (default 16).
        columns: images per row (default: square grid).
        value_range: the range of the generator's outputs (default (-1, 1)).
        seed: seed of the fixed latent vectors.

    Example:
        >>> gan.fit(images, epochs=20, callbacks=[SampleGrid("runs/dcgan/samples")])
    """

    def __init__(self, directory, *, num_samples: int = 16, columns: int | None = None,
                 value_range=(-1.0, 1.0), seed: int = 0):
        super().__init__()
        self.directory = str(directory)
        self.num_samples = num_samples
        self.columns = columns
        self.value_range = value_range
        self.seed = seed
        self.paths: list[str] = []

    def on_epoch_end(self, epoch, logs=None):
        generator = self.model.generator
        latent_dim = generator.inputs[0].shape[-1]
        z = np.random.default_rng(self.seed).normal(size=(self.num_samples, latent_dim)).astype("float32")
        samples = generator.predict(z, verbose=0)
        path = os.path.join(self.directory, f"samples_epoch_{epoch + 1:03d}.png")
        self.paths.append(save_sample_grid(samples, path, columns=self.columns,
                                           value_range=self.value_range))
