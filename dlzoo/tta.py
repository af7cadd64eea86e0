"""Test-time augmentation: a classifier's probabilities averaged over flipped and cropped views.

    >>> from dlzoo.tta import TTA, tta_probabilities
    >>> spec = TTA.parse("flip,crops=5")     # 12 views: the image and 5 crops, each also mirrored
    >>> probs = tta_probabilities(model, images, spec)

The views of an image `x` (the model's input, `(H, W, C)` pixels in [0, 255], already at the model's
size), in this order:

1. `x` itself;
2. with `crops=N` (1 to 5), N crops of `crop_fraction` of its height and width (default 0.875,
   timm's `crop_pct`): the centre, then the top-left, top-right, bottom-left and bottom-right
   corners, each resized back to `(H, W)` by the one resize every dlzoo path uses
   (`dlzoo.data.images.resize_array`, Pillow's);
3. with `flip`, each of the above mirrored left to right.

The model's outputs (class probabilities) on the views are averaged with equal weights: the
arithmetic mean, the figure `evaluate --tta` and `predict --tta` report beside the plain one.
Keras has no test-time augmentation of its own (its preprocessing layers are random and act only in
training); the views are plain numpy, so this works on every backend.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dlzoo.data.images import resize_array
from dlzoo.predicting import batch_forward

__all__ = ["TTA", "tta_probabilities", "tta_views"]

CORNERS = ("centre", "top-left", "top-right", "bottom-left", "bottom-right")


@dataclasses.dataclass(frozen=True)
class TTA:
    """Which views to average: `flip` (mirror left-right), `crops` (0-5) of `crop_fraction`."""

    flip: bool = True
    crops: int = 0
    crop_fraction: float = 0.875

    def __post_init__(self):
        if isinstance(self.crops, bool) or not isinstance(self.crops, int) or not 0 <= self.crops <= 5:
            raise ValueError(f"tta crops must be a whole number from 0 to 5 (the centre and the four "
                             f"corners); received {self.crops!r}")
        if not (isinstance(self.crop_fraction, (int, float)) and 0 < self.crop_fraction <= 1):
            raise ValueError(f"tta crop_fraction must be in (0, 1]; received {self.crop_fraction!r}")
        if not self.flip and not self.crops:
            raise ValueError("tta needs flip or crops=N (1-5): the image alone is the plain figure")

    @property
    def views(self) -> list[str]:
        """The names of the views, in the order they are made."""
        base = ["image"] + [f"{c} crop" for c in CORNERS[: self.crops]]
        return base + [f"{b}, flipped" for b in base] if self.flip else base

    def describe(self) -> str:
        """`flip, 5 crops (12 views)`-style words for a report line."""
        parts = (["flip"] if self.flip else []) + (
            [f"{self.crops} crop{'s' if self.crops > 1 else ''} of {self.crop_fraction:g}"]
            if self.crops else [])
        return f"{', '.join(parts)} ({len(self.views)} views)"

    def to_dict(self) -> dict:
        return {"flip": self.flip, "crops": self.crops, "crop_fraction": self.crop_fraction,
                "views": self.views}

    @classmethod
    def parse(cls, text: str) -> TTA:
        """`--tta` words: `flip`, `crops=N`, `crop-fraction=F`, comma-separated (`flip,crops=5`).

        Raises ValueError naming the word that is not one of them."""
        flip, crops, fraction = False, 0, 0.875
        for word in (w.strip() for w in str(text).split(",")):
            key, eq, value = word.partition("=")
            key = key.strip().replace("_", "-")
            try:
                if key == "flip" and not eq:
                    flip = True
                elif key == "crops" and eq:
                    crops = int(value)
                elif key == "crop-fraction" and eq:
                    fraction = float(value)
                else:
                    raise ValueError
            except ValueError:
                raise ValueError(f"--tta {text!r}: {word!r} is not flip, crops=N (1-5) or "
                                 "crop-fraction=F; e.g. --tta flip,crops=5") from None
        return cls(flip=flip, crops=crops, crop_fraction=fraction)


def _crop_windows(h: int, w: int, spec: TTA) -> list[tuple[int, int, int, int]]:
    """(top, left, height, width) of each crop, in `CORNERS` order."""
    ch, cw = max(1, round(h * spec.crop_fraction)), max(1, round(w * spec.crop_fraction))
    spots = [((h - ch) // 2, (w - cw) // 2), (0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw)]
    return [(t, left, ch, cw) for t, left in spots[: spec.crops]]


def tta_views(images, spec: TTA) -> list[np.ndarray]:
    """The views of a batch `images` `(N, H, W, C)` (pixels in [0, 255]), as `spec.views` names
    them, each `(N, H, W, C)` float32.

    Raises ValueError for a batch that is not images."""
    x = np.asarray(images, np.float32)
    if x.ndim != 4:
        raise ValueError(f"test-time augmentation flips and crops images (N, H, W, C); received "
                         f"inputs of shape {x.shape}")
    n, h, w, _ = x.shape
    base = [x]
    if spec.crops:
        pixels = np.clip(np.rint(x), 0, 255).astype(np.uint8)  # resize_array works on uint8
        for top, left, ch, cw in _crop_windows(h, w, spec):
            base.append(np.stack([resize_array(img[top:top + ch, left:left + cw], (h, w))
                                  for img in pixels]).astype(np.float32) if n else x[:0])
    return base + [v[:, :, ::-1, :] for v in base] if spec.flip else base


def tta_probabilities(model, images, spec: TTA, *, batch_size: int | None = None) -> np.ndarray:
    """The mean of `model`'s outputs over the views of `images` (`tta_views`): `(N, classes)`.

    The model runs in inference mode (`dlzoo.predicting.batch_forward`: compiled on JAX), one
    view at a time, in batches of `batch_size` (default: the whole batch given).
    """
    forward = batch_forward(model)
    views = tta_views(images, spec)
    total = None
    for view in views:
        step = len(view) if not batch_size else int(batch_size)
        outs = [forward(view[i:i + step]) for i in range(0, len(view), max(step, 1))]
        out = np.concatenate(outs).astype(np.float64) if outs else None
        if out is None:
            return np.zeros((0, int(model.output_shape[-1])), np.float64)
        total = out if total is None else total + out
    return total / len(views)
