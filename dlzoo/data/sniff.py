"""What an image file is, read from its header before any pixel is decoded, and who decodes it.

Pillow is the reference decoder: a file yields what `ImageOps.exif_transpose(Image.open(f))`
followed by `.convert(mode)` gives (16-bit scaled to 8 bits), i.e. what a photo viewer shows.
TensorFlow's decoders run in parallel inside tf.data and are fast, but they are exact only on part of
what they accept: their default JPEG DCT differs from libjpeg's accurate one, they ignore EXIF
orientation, they shift 16-bit to 8 bits instead of scaling, and one of them corrupts the heap on an
animated image read with `channels=0`. "Try TensorFlow, fall back to Pillow on an error" is therefore
not safe; each file is routed by its header instead:

    TensorFlow   JPEG, 1 or 3 components (L, RGB), no EXIF orientation other than 1, single picture
                 (decode_jpeg with the accurate integer DCT: pixel-identical to Pillow);
                 PNG, 8 bits per sample, gray / gray+alpha / RGB / RGBA, no palette, no tRNS
                 colour key, not animated (APNG), no EXIF
    Pillow       everything else: CMYK/YCCK JPEG, rotated photos, palettes, 16-bit, GIF, WebP,
                 TIFF, BMP, animations (their first frame), ...

The declared size in pixels is read here too, so a file over the pixel limit is skipped with its
reason before any decoder allocates its pixels.
"""

from __future__ import annotations

import dataclasses
import io
import re
import struct
import warnings

from dlzoo.data.images import UnusableImage, open_reason

__all__ = ["MAX_PIXELS", "PILLOW", "TF_JPEG", "TF_PNG", "Header", "sniff"]

# Route codes, as the tf.data pipeline receives them.
PILLOW = -1
TF_PNG = 0
TF_JPEG = 1  # TF_JPEG + k: decode_jpeg(ratio=2**k); only 0 (full scale) is used by default

# Pillow's own decompression-bomb limit (about 89 million pixels, e.g. 9459 x 9459).
MAX_PIXELS = 89_478_485


@dataclasses.dataclass(frozen=True)
class Header:
    """A file's format and declared size, and the decoder it is routed to."""

    format: str  # Pillow's format name: "JPEG", "PNG", "GIF", "WEBP", "TIFF", ...
    width: int
    height: int
    mode: str  # Pillow's mode as stored ("RGB", "L", "P", "CMYK", "I;16", ...)
    route: int  # PILLOW, TF_PNG or TF_JPEG
    orientation: int = 1  # EXIF orientation (1: as stored)

    @property
    def by(self) -> str:
        return "pillow" if self.route == PILLOW else "tensorflow"


def sniff(data: bytes, *, max_pixels: int | None = None) -> Header:
    """Reads `data`'s header (nothing is decoded) and routes it; `UnusableImage` says why not.

    Raises `UnusableImage` when the header cannot be read or declares more than `max_pixels`
    (default `MAX_PIXELS`) pixels.
    """
    from PIL import Image

    limit = MAX_PIXELS if max_pixels is None else int(max_pixels)
    if not data:
        raise UnusableImage("empty file (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DecompressionBombWarning: the limit is checked below
        try:
            img = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as e:  # Pillow's own check, at twice its limit
            found = re.search(r"\((\d+) pixels\)", str(e))
            pixels = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
            raise UnusableImage(f"declares {pixels}, over the limit of {limit:,} (not decoded)") from None
        except Exception as e:  # noqa: BLE001 - any header Pillow cannot parse is a reason
            raise UnusableImage(open_reason(data, e)) from None
    width, height = img.size
    if width < 1 or height < 1:
        raise UnusableImage(f"{img.format or 'image'} with no pixels ({width}x{height})")
    if width * height > limit:
        raise UnusableImage(
            f"declares {width}x{height} pixels, over the limit of {limit:,} (not decoded)"
        )
    fmt = img.format or "image"
    orientation = _orientation(img) if fmt in ("JPEG", "MPO", "WEBP", "TIFF") else 1
    route = PILLOW
    if fmt == "JPEG" and img.mode in ("L", "RGB") and orientation in (0, 1):
        route = TF_JPEG
    elif fmt == "PNG" and _plain_png(img, data):
        route = TF_PNG
    elif fmt == "PNG":
        orientation = _orientation(img) if b"eXIf" in data else 1
    return Header(fmt, width, height, img.mode, route, orientation or 1)


def _orientation(img) -> int:
    try:
        return int(img.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 - malformed EXIF: shown as stored, as Pillow shows it
        return 1


def _plain_png(img, data: bytes) -> bool:
    """8-bit gray/gray+alpha/RGB/RGBA, no palette, no tRNS, not animated, no EXIF."""
    if img.mode not in ("L", "LA", "RGB", "RGBA") or "transparency" in img.info:
        return False
    if len(data) < 29 or data[24] != 8:  # IHDR bit depth
        return False
    if getattr(img, "n_frames", 1) != 1 or b"acTL" in data[:4096]:
        return False
    # EXIF may sit in an eXIf chunk or in a text chunk ("Raw profile type exif"), before or after
    # the pixels; any of them sends the file to Pillow, which applies its orientation.
    return b"eXIf" not in data and b"Raw profile type exif" not in data and _ihdr_ok(data)


def _ihdr_ok(data: bytes) -> bool:
    try:
        length, kind = struct.unpack(">I4s", data[8:16])
    except struct.error:
        return False
    return kind == b"IHDR" and length == 13


def decode_bytes(data: bytes, *, channels: int, image_size=None, opts=None, max_pixels=None,
                 use_tf: bool | None = None):
    """One file's bytes -> `(uint8 (H, W, channels), (height, width) as shown)`, decoded and
    resized exactly as the folder pipeline does it (`UnusableImage` says why not).

    Files routed to TensorFlow go through the same tf.function as the pipeline; the others are
    decoded by Pillow and resized with `tf.image.resize` (Pillow's resize without TensorFlow).
    """
    from dlzoo.data.images import pil_decode_sized, tf_decode_fn, tf_resize

    opts = opts or {"interpolation": "bilinear", "crop_to_aspect_ratio": False}
    header = sniff(data, max_pixels=max_pixels)
    if use_tf is None:
        use_tf = _tf_available()
    if use_tf and header.route != PILLOW:
        import tensorflow as tf

        decode = tf_decode_fn(channels, image_size, **opts)
        try:
            img, hw = decode(tf.constant(data), tf.constant(header.route, tf.int32))
            return img.numpy(), tuple(int(v) for v in hw.numpy())
        except (tf.errors.OpError, ValueError):
            pass  # a file TensorFlow refuses after all: Pillow decides, and says why
    # with TensorFlow, Pillow only decodes: the crop and resize are tf.image's, as in the pipeline
    img, hw = pil_decode_sized(data, channels=channels, image_size=None if use_tf else image_size,
                               **opts)
    if use_tf and image_size is not None:
        img = tf_resize(img, image_size, **opts).numpy()
    return img, hw


def _tf_available() -> bool:
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True
