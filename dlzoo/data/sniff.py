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
                 TIFF, BMP, animations (their first frame), phone photos (HEIC/HEIF through
                 pillow-heif, AVIF through Pillow's own plugin), ...

The declared size in pixels is read here too, so a file over the pixel limit is skipped with its
reason before any decoder allocates its pixels.
"""

from __future__ import annotations

import dataclasses
import io
import re
import struct
import warnings

from dlzoo.data.images import (
    UnusableImage,
    ensure_plugins,
    open_reason,
    pil_decode_sized,
    tf_decode_fn,
)

__all__ = ["MAX_PIXELS", "PILLOW", "TF_JPEG", "TF_PNG", "Header", "decode_bytes", "plan", "sniff"]

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
    limit = MAX_PIXELS if max_pixels is None else int(max_pixels)
    if not data:
        raise UnusableImage("empty file (0 bytes)")
    quick = _quick_jpeg(data) if data[:3] == b"\xff\xd8\xff" else (
        _quick_png(data) if data[:8] == b"\x89PNG\r\n\x1a\n" else None)
    if quick is not None:  # the common plain photo: its header read without Pillow (faster)
        _check_pixels(quick.width, quick.height, limit)
        return quick
    from PIL import Image

    ensure_plugins(data)  # HEIC/HEIF (pillow-heif), AVIF where this Pillow lacks it
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
    _check_pixels(width, height, limit)
    fmt = img.format or "image"
    orientation = _orientation(img) if fmt in ("JPEG", "MPO", "WEBP", "TIFF", "AVIF", "HEIF") else 1
    route = PILLOW
    if fmt == "JPEG" and img.mode in ("L", "RGB") and orientation in (0, 1):
        route = TF_JPEG
    elif fmt == "PNG" and _plain_png(img, data):
        route = TF_PNG
    elif fmt == "PNG":
        orientation = _orientation(img) if b"eXIf" in data else 1
    return Header(fmt, width, height, img.mode, route, orientation or 1)


def plan(header: Header, image_size=None, crop_to_aspect_ratio=False) -> tuple[int, bool]:
    """`(route, resize)` for reading a file at `image_size`: a JPEG at least twice the target in
    both dimensions is decoded by libjpeg at 1/2, 1/4 or 1/8 scale (never below the target, as
    Pillow's `draft` does), then resized; `resize` is False when the decoded size is the target."""
    if image_size is None:
        return header.route, False
    th, tw = int(image_size[0]), int(image_size[1])
    route, h, w = header.route, header.height, header.width
    if route == TF_JPEG and not crop_to_aspect_ratio:
        k = 0
        while k < 3 and -(-h // 2 ** (k + 1)) >= th and -(-w // 2 ** (k + 1)) >= tw:
            k += 1
        route, h, w = TF_JPEG + k, -(-h // 2**k), -(-w // 2**k)
    return route, (h, w) != (th, tw) or route == PILLOW


def _check_pixels(width: int, height: int, limit: int) -> None:
    if width * height > limit:
        raise UnusableImage(
            f"declares {width}x{height} pixels, over the limit of {limit:,} (not decoded)"
        )


# SOF markers of 8-bit Huffman JPEGs libjpeg decodes the same in TensorFlow and Pillow
_PLAIN_SOF = {0xC0: True, 0xC1: True, 0xC2: True}


def _quick_jpeg(data: bytes) -> Header | None:
    """A plain JPEG's header (1 or 3 components, 8-bit, upright, one picture), or None when
    anything is unusual, so Pillow reads it instead."""
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2:
            return None
        if marker == 0xE1 and data[i + 4 : i + 10] == b"Exif\0\0":
            if _tiff_orientation(data[i + 10 : i + 2 + length]) not in (0, 1):
                return None
        elif marker == 0xE2 and data[i + 4 : i + 8] == b"MPF\0":
            return None  # a multi-picture file (MPO): Pillow decides which picture
        elif 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if marker not in _PLAIN_SOF or i + 10 > n or data[i + 4] != 8:
                return None
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            components = data[i + 9]
            if components not in (1, 3) or width < 1 or height < 1:
                return None
            return Header("JPEG", width, height, "L" if components == 1 else "RGB", TF_JPEG)
        elif marker == 0xDA:
            return None
        i += 2 + length
    return None


def _tiff_orientation(tiff: bytes) -> int:
    """Orientation (tag 0x0112) from an EXIF block's IFD0; -1 when it cannot be read."""
    try:
        order = {b"II": "<", b"MM": ">"}[tiff[:2]]
        (offset,) = struct.unpack(order + "I", tiff[4:8])
        (count,) = struct.unpack(order + "H", tiff[offset : offset + 2])
        for k in range(count):
            at = offset + 2 + 12 * k
            tag, kind = struct.unpack(order + "HH", tiff[at : at + 4])
            if tag == 0x0112:
                if kind != 3:
                    return -1
                return struct.unpack(order + "H", tiff[at + 8 : at + 10])[0]
    except (KeyError, struct.error):
        return -1
    return 1


def _quick_png(data: bytes) -> Header | None:
    """A plain 8-bit gray/gray+alpha/RGB/RGBA PNG's header, or None (Pillow reads it instead)."""
    if len(data) < 33 or not _ihdr_ok(data):
        return None
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    mode = {0: "L", 2: "RGB", 4: "LA", 6: "RGBA"}.get(colour)
    if depth != 8 or mode is None or width < 1 or height < 1:
        return None
    if any(tag in data for tag in (b"tRNS", b"acTL", b"eXIf", b"Raw profile type exif")):
        return None
    return Header("PNG", width, height, mode, TF_PNG)


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
    decoded by Pillow. Either way the resize is `dlzoo.data.images.resize_array` (Pillow's), so
    a host with TensorFlow and one without give the same pixels.
    """
    opts = opts or {"interpolation": "bilinear", "crop_to_aspect_ratio": False}
    header = sniff(data, max_pixels=max_pixels)
    if use_tf is None:
        use_tf = _tf_available()
    if use_tf and header.route != PILLOW:
        import tensorflow as tf

        route, resize = plan(header, image_size, opts["crop_to_aspect_ratio"])
        decode = tf_decode_fn(channels, image_size if resize else None, route=route, **opts)
        try:
            img, _ = decode(tf.constant(data))
            return img.numpy(), (header.height, header.width)
        except (tf.errors.OpError, ValueError):
            pass  # a file TensorFlow refuses after all: Pillow decides, and says why
    return pil_decode_sized(data, channels=channels, image_size=image_size, **opts)


def _tf_available() -> bool:
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True
