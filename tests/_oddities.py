"""A generated corpus of odd but valid image files, and the reference of what each one shows.

Every file displays (after its EXIF orientation) as one 12x16 picture, so a folder of them reads at
(12, 16) with no resize and each decoded image can be compared pixel for pixel with Pillow's
`ImageOps.exif_transpose(Image.open(f)).convert(mode)` (16-bit scaled to 8 bits).
"""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
from PIL import Image, ImageOps

SHOWN = (12, 16)  # (height, width) every corpus file displays as
MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}

# EXIF orientation -> the transpose that stores a picture so that exif_transpose shows it upright
_STORE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def picture(seed: int = 0) -> np.ndarray:
    """A 12x16 RGB picture with a clear top/bottom and left/right (so rotations show)."""
    rng = np.random.default_rng(seed)
    a = np.zeros((*SHOWN, 3), np.uint8)
    a[:6, :8] = (230, 30, 30)
    a[:6, 8:] = (30, 200, 40)
    a[6:, :8] = (40, 60, 220)
    a[6:, 8:] = (240, 230, 60)
    return np.clip(a.astype(int) + rng.integers(-12, 13, a.shape), 0, 255).astype(np.uint8)


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _stored(img: Image.Image, orientation: int) -> Image.Image:
    return img.transpose(_STORE[orientation]) if orientation in _STORE else img


def _png16(rgb16: np.ndarray) -> bytes:
    """A 16-bit RGB PNG (Pillow cannot write one)."""
    h, w, _ = rgb16.shape
    raw = b"".join(b"\0" + rgb16[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def write_corpus(directory) -> list[str]:
    """Writes the odd files into `directory`; returns their names (at least 25)."""
    os.makedirs(directory, exist_ok=True)
    rgb = Image.fromarray(picture())
    gray = rgb.convert("L")
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray(np.tile(np.linspace(0, 255, SHOWN[1]).astype(np.uint8), (SHOWN[0], 1))))
    pal = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    g16 = np.asarray(gray).astype(np.uint16) * 257 + 3
    names = []

    def save(name, img, fmt=None, **kw):
        img.save(os.path.join(directory, name), fmt, **kw)
        names.append(name)

    def put(name, data: bytes):
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
        names.append(name)

    save("plain.jpg", rgb, quality=90)
    save("gray.jpg", gray, quality=90)
    save("progressive.jpg", rgb, quality=80, progressive=True)
    save("subsampled444.jpg", rgb, quality=80, subsampling=0)
    save("cmyk.jpg", rgb.convert("CMYK"), quality=90)
    for o in range(2, 9):  # every EXIF orientation, as phones write them
        save(f"orient{o}.jpg", _stored(rgb, o), quality=95, exif=_exif(o))
    save("orient6_gray.jpg", _stored(gray, 6), quality=95, exif=_exif(6))
    save("orient1.jpg", rgb, quality=95, exif=_exif(1))
    save("rgb.png", rgb)
    save("rgba.png", rgba)
    save("gray.png", gray)
    save("gray_alpha.png", rgba.convert("LA"))
    save("bilevel.png", gray.convert("1"))
    save("palette.png", pal)
    save("palette_trns.png", pal, transparency=0)
    save("rgb_trns.png", rgb, transparency=(230, 30, 30))
    save("gray16.png", Image.fromarray(g16))
    put("rgb16.png", _png16(np.stack([g16, g16 // 2, 65535 - g16], -1)))
    save("orient6.png", _stored(rgb, 6), exif=_exif(6))
    frames = [rgb, rgb.transpose(Image.Transpose.ROTATE_180), gray.convert("RGB")]
    save("animated.png", frames[0], save_all=True, append_images=frames[1:], duration=50)
    save("palette.gif", pal)
    save("animated.gif", frames[0], save_all=True, append_images=frames[1:], duration=50, loop=0)
    gray_frames = [f.convert("L") for f in frames]
    save("animated_gray.gif", gray_frames[0], save_all=True, append_images=gray_frames[1:],
         duration=50, loop=0)
    save("lossless.webp", rgb, lossless=True)
    save("rgba.webp", rgba, lossless=True)
    save("animated.webp", frames[0], save_all=True, append_images=frames[1:], duration=50,
         lossless=True)
    save("orient8.webp", _stored(rgb, 8), lossless=True, exif=_exif(8))
    save("rgb.tif", rgb)
    save("gray16.tif", Image.fromarray(g16))
    save("cmyk.tif", rgb.convert("CMYK"))
    save("orient3.tif", _stored(rgb, 3), exif=_exif(3))
    save("rgb.bmp", rgb)
    save("palette.bmp", pal)
    return names


def reference(path, color_mode: str) -> np.ndarray:
    """What a photo viewer shows: exif_transpose, then convert (16-bit scaled to 8 bits)."""
    img = ImageOps.exif_transpose(Image.open(path))
    if img.mode.startswith("I;16") or img.mode == "I":
        g = np.clip(np.round(np.asarray(img, np.float64) / 257.0), 0, 255).astype(np.uint8)
        img = Image.fromarray(g)
    a = np.asarray(img.convert(MODES[color_mode]))
    return a[..., None] if a.ndim == 2 else a
