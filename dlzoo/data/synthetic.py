"""Generated tasks: small, deterministic, learnable in a few epochs, no files and no network.

Each task returns `(x, y, class_names, value_range)` for `n` samples generated from `data_seed`
(the data is the same whatever split `seed` a caller uses). The tests and quick checks use them.

| name      | x                                   | classes                                        |
| --------- | ----------------------------------- | ---------------------------------------------- |
| `shapes`  | RGB image, default 32x32, 0-255     | circle, square, triangle (random colour, place, size, on noise) |
| `stripes` | RGB image, default 32x32, 0-255     | horizontal, vertical, diagonal, antidiagonal stripes (random period, phase, colours) |
| `blobs`   | float vector, default 16 features   | `num_classes` (3) Gaussian clusters, "raw" values |
| `xor`     | 2-D point near a corner of the unit square | 1 where exactly one coordinate is high (XOR) |
| `separable` | 2-D point in [-1, 1]^2            | side of a random line through the origin, with a margin |
"""

from __future__ import annotations

import numpy as np

__all__ = ["TASKS", "describe", "generate"]


def _shapes(n, rng, image_size=(32, 32), **_):
    h, w = image_size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    x = rng.normal(40, 12, size=(n, h, w, 3)).astype(np.float32)
    y = np.arange(n) % 3
    rng.shuffle(y)
    for i in range(n):
        r = rng.uniform(0.18, 0.32) * min(h, w)
        cy, cx = rng.uniform(r, h - r), rng.uniform(r, w - r)
        if y[i] == 0:  # circle
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        elif y[i] == 1:  # square
            mask = (np.abs(yy - cy) <= r * 0.85) & (np.abs(xx - cx) <= r * 0.85)
        else:  # triangle, apex up
            top = cy - r
            mask = (yy >= top) & (yy <= cy + r) & (np.abs(xx - cx) <= (yy - top) * 0.6)
        x[i][mask] = rng.uniform(110, 255, size=3)
    return np.clip(x, 0, 255), y.astype(np.int32), ["circle", "square", "triangle"], "0-255"


def _stripes(n, rng, image_size=(32, 32), **_):
    h, w = image_size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    coords = [yy, xx, (yy + xx) / np.sqrt(2), (yy - xx) / np.sqrt(2)]
    y = np.arange(n) % 4
    rng.shuffle(y)
    x = np.empty((n, h, w, 3), np.float32)
    for i in range(n):
        period = rng.uniform(4, 8)
        wave = np.sin(2 * np.pi * coords[y[i]] / period + rng.uniform(0, 2 * np.pi)) > 0
        fg, bg = rng.uniform(130, 255, size=3), rng.uniform(0, 90, size=3)
        x[i] = np.where(wave[..., None], fg, bg) + rng.normal(0, 8, size=(h, w, 3))
    names = ["horizontal", "vertical", "diagonal", "antidiagonal"]
    return np.clip(x, 0, 255), y.astype(np.int32), names, "0-255"


def _blobs(n, rng, features=16, num_classes=3, **_):
    centres = rng.normal(0, 3.0, size=(num_classes, features))
    y = np.arange(n) % num_classes
    rng.shuffle(y)
    x = centres[y] + rng.normal(0, 1.0, size=(n, features))
    return x.astype(np.float32), y.astype(np.int32), [f"blob{i}" for i in range(num_classes)], "raw"


def _xor(n, rng, noise=0.1, **_):
    """No line separates the classes: a perceptron cannot pass 75%, one hidden layer can reach 100%."""
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    labels = np.array([0, 1, 1, 0])
    which = np.arange(n) % 4
    rng.shuffle(which)
    x = corners[which] + rng.normal(0, noise, size=(n, 2))
    return x.astype(np.float32), labels[which].astype(np.int32), ["0", "1"], "raw"


def _separable(n, rng, margin=0.2, **_):
    """Linearly separable with a margin: the perceptron rule converges (Novikoff 1962)."""
    angle = rng.uniform(0, np.pi)
    normal = np.array([np.cos(angle), np.sin(angle)])
    points = []
    while sum(len(p) for p in points) < n:
        cand = rng.uniform(-1, 1, size=(2 * n, 2))
        points.append(cand[np.abs(cand @ normal) > margin])
    x = np.concatenate(points)[:n]
    return x.astype(np.float32), (x @ normal > 0).astype(np.int32), ["0", "1"], "raw"


TASKS = {"shapes": _shapes, "stripes": _stripes, "blobs": _blobs, "xor": _xor,
         "separable": _separable}
IMAGE_TASKS = ("shapes", "stripes")


def describe() -> dict[str, str]:
    """Task name -> one line."""
    return {
        "shapes": "RGB images of a circle, square or triangle (3 classes)",
        "stripes": "RGB images of stripes by orientation (4 classes)",
        "blobs": "16-feature vectors in 3 Gaussian clusters (flat input)",
        "xor": "2-D points around the unit square's corners labelled by XOR (2 classes)",
        "separable": "2-D points on either side of a line, with a margin (2 classes)",
    }


def generate(name: str, *, n: int = 400, data_seed: int = 0, **kwargs):
    """`(x, y, class_names, value_range)` for task `name`; see the table in the module docstring."""
    if name not in TASKS:
        raise ValueError(
            f"unknown synthetic task {name!r}; choose one of {', '.join(sorted(TASKS))} "
            "(e.g. source='synthetic:shapes')."
        )
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= MAX_SAMPLES:
        raise ValueError(f"n (number of samples) must be an integer from 2 to {MAX_SAMPLES:,}; "
                         f"received {n!r}.")
    _check_sizes(name, n, kwargs)
    rng = np.random.default_rng(data_seed)
    return TASKS[name](n, rng, **kwargs)


# Limits, so a typo (`n: 100000000000`) is an error naming the value before numpy tries to
# allocate it (a MemoryError, or the machine swapping).
MAX_SAMPLES = 10_000_000
MAX_ARRAY_BYTES = 4 << 30  # the generated x, as float32


def _positive_int(value, key, most):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= most:
        raise ValueError(f"{key} must be an integer from 1 to {most:,}; received {value!r}.")
    return int(value)


def _check_sizes(name, n, kwargs) -> None:
    """Checks the size arguments of task `name` and that its x fits in MAX_ARRAY_BYTES."""
    per_sample = 2
    if name in IMAGE_TASKS:
        size = kwargs.get("image_size", (32, 32))
        if not isinstance(size, (list, tuple)) or len(size) != 2:
            raise ValueError(f"image_size must be (height, width); received {size!r}.")
        h, w = (_positive_int(s, "image_size", 16_384) for s in size)
        per_sample = h * w * 3
    elif name == "blobs":
        per_sample = _positive_int(kwargs.get("features", 16), "features", 1_000_000)
        _positive_int(kwargs.get("num_classes", 3), "num_classes", 10_000)
    need = n * per_sample * 4
    if need > MAX_ARRAY_BYTES:
        raise ValueError(
            f"synthetic:{name} with n={n:,} would need {need / 2**30:.1f} GiB for its samples, "
            f"more than the {MAX_ARRAY_BYTES / 2**30:.0f} GiB allowed; use a smaller n or "
            "image_size."
        )
