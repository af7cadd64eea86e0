"""Generated tasks the learning tests use (offline, seeded, made in milliseconds)."""

from __future__ import annotations

import numpy as np

TOKEN_A, TOKEN_B = 1, 2


def order_task(n: int, *, length: int = 12, min_length: int | None = None, vocab_size: int = 12,
               seed: int = 0):
    """Token sequences holding token A and token B once each among random filler tokens; the label
    is 1 when A comes before B. Every sequence contains the same two marker tokens, so a bag of
    words is at chance: only order tells the classes apart.

    Sequences are `min_length..length` tokens long (default: all `length`), padded with 0 at the
    end; filler tokens are 3..vocab_size-1.

    Returns:
        (tokens int32 of shape (n, length), labels int32 of shape (n,)).
    """
    rng = np.random.default_rng(seed)
    min_length = length if min_length is None else min_length
    x = np.zeros((n, length), dtype="int32")
    y = rng.integers(0, 2, size=n).astype("int32")
    for i in range(n):
        m = rng.integers(min_length, length + 1)
        x[i, :m] = rng.integers(3, vocab_size, size=m)
        first, second = sorted(rng.choice(m, size=2, replace=False))
        a, b = (first, second) if y[i] else (second, first)
        x[i, a], x[i, b] = TOKEN_A, TOKEN_B
    return x, y


def ring_of_gaussians(n: int, *, modes: int = 8, radius: float = 2.0, std: float = 0.05, seed: int = 0):
    """2-D points from `modes` gaussians evenly spaced on a circle (Metz et al. 2017's toy task).

    Returns:
        (points float32 of shape (n, 2), centres float32 of shape (modes, 2)).
    """
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * np.arange(modes) / modes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    k = rng.integers(0, modes, size=n)
    points = centres[k] + std * rng.normal(size=(n, 2))
    return points.astype("float32"), centres.astype("float32")


def modes_covered(samples, centres, *, std: float, min_share: float = 0.01):
    """How many modes the samples cover: each sample counts for its nearest centre if it lies within
    3 standard deviations of it; a mode is covered when it holds at least `min_share` of the samples.

    Returns:
        (number of modes covered, fraction of samples within 3 std of some centre).
    """
    d = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=-1)
    nearest = d.argmin(axis=1)
    close = d.min(axis=1) <= 3 * std
    counts = np.bincount(nearest[close], minlength=len(centres))
    return int((counts >= min_share * len(samples)).sum()), float(close.mean())
