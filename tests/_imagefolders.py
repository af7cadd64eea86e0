"""Image folders written on the fly for the data tests: good images plus every kind of bad file."""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

# file name in class "a" -> what the scan must say about it (a substring of the reason)
BAD_FILES = {
    "corrupt.png": "corrupt PNG",
    "garbage.jpg": "corrupt JPEG",
    "truncated.jpg": "truncated JPEG",
    "zero.jpg": "empty file (0 bytes)",
    "notes.jpg": "not an image (text file)",
    "readme.txt": "not an image (text file)",
}
# converted, not skipped: name -> Pillow mode on disk
CONVERTED = {"cmyk.jpg": "CMYK", "gray16.png": "I;16", "rgba.png": "RGBA", "palette.png": "P",
             "palette.gif": "P", "gray.png": "L", "photo.tif": "RGB", "gray16.tif": "I;16"}
# routed to Pillow by their header (TensorFlow would refuse them or decode them differently)
PILLOW_ONLY = ("photo.tif", "gray16.tif", "cmyk.jpg", "gray16.png", "palette.png", "palette.gif")


def _jpeg(arr, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=92, **kw)
    return buf.getvalue()


def _png(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def good_image(rng, label: int, size=(24, 24)) -> np.ndarray:
    """Class 0 bright with noise, class 1 dark: learnable in one epoch."""
    base = 200 if label == 0 else 40
    return np.clip(rng.normal(base, 20, size=(*size, 3)), 0, 255).astype(np.uint8)


def write_good(root, cls, name, rng, label, size=(24, 24), fmt="jpg"):
    os.makedirs(os.path.join(root, cls), exist_ok=True)
    arr = good_image(rng, label, size)
    data = _jpeg(arr) if fmt == "jpg" else _png(Image.fromarray(arr))
    with open(os.path.join(root, cls, name), "wb") as f:
        f.write(data)
    return arr


def make_messy_folder(root, n_good: int = 12, seed: int = 0) -> str:
    """Classes a, b (good JPEGs), an empty class c, and in a/ every kind of bad or odd file."""
    rng = np.random.default_rng(seed)
    root = str(root)
    for cls, label in (("a", 0), ("b", 1)):
        for i in range(n_good):
            write_good(root, cls, f"img{i:03d}.jpg", rng, label)
    os.makedirs(os.path.join(root, "c"))
    a = os.path.join(root, "a")
    jpg = _jpeg(good_image(rng, 0, (32, 32)))

    def put(name, data: bytes):
        with open(os.path.join(a, name), "wb") as f:
            f.write(data)

    png = bytearray(_png(Image.fromarray(good_image(rng, 0, (32, 32)))))
    mid = len(png) // 2
    png[mid : mid + 64] = b"\0" * 64
    put("corrupt.png", bytes(png))
    put("garbage.jpg", jpg[:200] + rng.integers(0, 256, len(jpg) - 200, dtype=np.uint8).tobytes())
    put("truncated.jpg", jpg[: len(jpg) // 2])
    put("zero.jpg", b"")
    put("notes.jpg", b"these are my notes, not a photo\n")
    put("readme.txt", b"class a: bright pictures\n")
    # odd but fine: each must be converted to the channels asked for
    bright = good_image(rng, 0, (24, 24))
    Image.fromarray(bright).convert("CMYK").save(os.path.join(a, "cmyk.jpg"))
    g16 = (bright[..., 0].astype(np.uint16) * 257).astype(np.uint16)
    Image.fromarray(g16).save(os.path.join(a, "gray16.png"))
    rgba = np.concatenate([bright, rng.integers(0, 256, (24, 24, 1), dtype=np.uint8)], -1)
    Image.fromarray(rgba, "RGBA").save(os.path.join(a, "rgba.png"))
    Image.fromarray(bright).convert("P").save(os.path.join(a, "palette.png"))
    Image.fromarray(bright).convert("P").save(os.path.join(a, "palette.gif"))
    Image.fromarray(bright).convert("L").save(os.path.join(a, "gray.png"))
    Image.fromarray(bright).save(os.path.join(a, "photo.tif"))
    Image.fromarray(g16).save(os.path.join(a, "gray16.tif"))
    # ignored: hidden files and folders, a file outside any class
    put(".DS_Store", b"\0\1junk")
    os.makedirs(os.path.join(a, ".thumbnails"))
    with open(os.path.join(a, ".thumbnails", "t.jpg"), "wb") as f:
        f.write(b"not even a jpeg")
    os.makedirs(os.path.join(root, ".cache"))
    with open(os.path.join(root, "labels.csv"), "w") as f:
        f.write("file,label\n")
    return root
