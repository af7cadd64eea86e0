"""Decoding one image file into an array of the size and channels asked for.

Two decoders, one result. TensorFlow's (`tf.io.decode_image`, C++, runs in parallel inside tf.data)
handles the common files: JPEG, PNG (8- and 16-bit, palette, alpha), GIF, BMP, WebP. Pillow handles
whatever TensorFlow refuses but is still an image (CMYK JPEG to grayscale, TIFF, 16-bit TIFF, ...)
and, when neither can read a file, says why in words (`diagnose`). Both convert to `channels`
(1 grayscale, 3 RGB, 4 RGBA) the same way: alpha dropped or made opaque, 16-bit scaled to 8-bit,
grayscale by ITU-R 601 luma.

One resize: `resize_array` (Pillow's resampling, antialiased), on every path and every host; the
tf.data pipeline calls it through `tf.numpy_function` (`tf_resize`), and exports do the same
arithmetic in Keras ops (`dlzoo.layers.preprocessing.pillow_resize`).
"""

from __future__ import annotations

import functools
import io
import struct

import numpy as np

__all__ = [
    "COLOR_MODES",
    "INTERPOLATIONS",
    "channels_for",
    "color_mode_for",
    "diagnose",
    "open_reason",
    "pil_decode",
    "tf_decode_fn",
    "resize_array",
    "tf_resize",
    "tf_to_channels",
]

COLOR_MODES = {"grayscale": 1, "rgb": 3, "rgba": 4}


def color_mode_for(channels: int) -> str | None:
    """The colour mode an image input with `channels` channels reads (1 grayscale, 3 rgb,
    4 rgba); None for any other count."""
    return {c: m for m, c in COLOR_MODES.items()}.get(channels)


def channels_for(color_mode: str) -> int:
    """Channels of a colour mode; ValueError naming the modes for anything else."""
    if color_mode not in COLOR_MODES:
        raise ValueError(f"color_mode must be one of {', '.join(COLOR_MODES)}; "
                         f"received {color_mode!r}.")
    return COLOR_MODES[color_mode]

# dlzoo's interpolation names (Keras's) -> the Pillow filter that does the resize (`resize_array`).
INTERPOLATIONS = {
    "bilinear": "BILINEAR",
    "nearest": "NEAREST",
    "bicubic": "BICUBIC",
    "area": "BOX",
    "lanczos3": "LANCZOS",
}


class UnusableImage(Exception):
    """A file that cannot be used as an image; `str()` is the reason shown to the user."""


# --- Pillow ------------------------------------------------------------------------------------


# ISO base media files (HEIF, AVIF): bytes 4-8 are "ftyp", then the major brand, then the
# compatible brands; a phone photo's brands say which codec its pictures need.
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1",
                b"msf1", b"mif2")
_AVIF_BRANDS = (b"avif", b"avis")
HEIF_INSTALL = "pip install pillow-heif"
AVIF_INSTALL = "pip install -U 'pillow>=11.3' (or pip install pillow-avif-plugin)"


def _brands(data: bytes) -> set[bytes]:
    """The major and compatible brands of an ISO base media file (empty for anything else)."""
    if data[4:8] != b"ftyp" or len(data) < 16:
        return set()
    size = min(int.from_bytes(data[:4], "big"), len(data), 256)
    return {data[8:12]} | {data[i:i + 4] for i in range(16, size - 3, 4)}


def phone_format(data: bytes) -> str | None:
    """"AVIF" or "HEIF" when `data` is such a file (by its brands), else None."""
    brands = _brands(data)
    if brands & set(_AVIF_BRANDS):
        return "AVIF"
    if brands & set(_HEIF_BRANDS):
        return "HEIF"
    return None


def ensure_plugins(data: bytes = b"") -> None:
    """Registers the Pillow plugins for phone photos the first time a HEIF/AVIF file is opened:
    `pillow-heif` (HEIC/HEIF) and, where this Pillow was built without AVIF, `pillow-avif-plugin`.
    A plugin that is not installed is not an error here: the file is then skipped, by name, with
    the line that installs it (`open_reason`)."""
    if data and data[4:8] != b"ftyp":
        return
    _register_plugins()


@functools.lru_cache(maxsize=1)
def _register_plugins() -> None:
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        pass
    else:
        register_heif_opener()
    if not _pillow_has_avif():
        try:
            import pillow_avif  # noqa: F401 - registers AVIF with Pillow on import
        except ImportError:
            pass


def _pillow_has_avif() -> bool:
    from PIL import features

    try:
        return bool(features.check("avif"))
    except ValueError:  # a Pillow older than 11.2 has no "avif" feature at all
        return False


def _open_pil(data: bytes, draft_scale: int = 1):
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise UnusableImage("empty file (0 bytes)")
    ensure_plugins(data)
    try:
        img = Image.open(io.BytesIO(data))
        if draft_scale > 1:  # libjpeg's DCT scaling, 1/2, 1/4 or 1/8: what tf.io.decode_jpeg(ratio=)
            # gives, pixel for pixel (the size asked makes Pillow pick exactly this scale)
            img.draft(img.mode, (img.width // draft_scale, img.height // draft_scale))
    except UnidentifiedImageError:
        raise UnusableImage(_not_an_image(data)) from None
    except Image.DecompressionBombError as e:
        raise UnusableImage(f"declares too many pixels to decode safely ({e})") from None
    except (OSError, SyntaxError, ValueError, IndexError, EOFError, struct.error) as e:
        raise UnusableImage(_reason(_guess_format(data), e)) from None
    fmt = img.format or "image"
    try:
        img.load()
    except Image.DecompressionBombError as e:
        raise UnusableImage(f"declares too many pixels to decode safely ({e})") from None
    except (OSError, SyntaxError, ValueError, IndexError, EOFError, struct.error) as e:
        raise UnusableImage(_reason(fmt, e)) from None
    if img.width < 1 or img.height < 1:
        raise UnusableImage(f"{fmt} with no pixels ({img.width}x{img.height})")
    return _transposed(img)


def _transposed(img):
    """The image as a viewer shows it: its EXIF orientation applied (JPEG, PNG, WebP, TIFF, AVIF;
    pillow-heif applies a HEIF's own rotation and mirroring when it opens the file)."""
    from PIL import ImageOps

    try:
        out = ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - malformed EXIF: shown as stored, as viewers do
        return img
    return img if out is None else out


def open_reason(data: bytes, error: Exception) -> str:
    """Why Pillow could not even open `data`'s header, in words."""
    from PIL import UnidentifiedImageError

    if isinstance(error, UnidentifiedImageError):
        return _not_an_image(data)
    return _reason(_guess_format(data), error)


_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def _guess_format(data: bytes) -> str | None:
    for magic, fmt in _SIGNATURES:
        if data.startswith(magic):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return phone_format(data)


def _reason(fmt: str | None, error: Exception) -> str:
    msg = str(error) or type(error).__name__
    kind = "truncated" if "truncated" in msg.lower() else "corrupt"
    return f"{kind} {fmt or 'image'}: {msg}"


def _not_an_image(data: bytes) -> str:
    fmt = _guess_format(data)
    if fmt == "HEIF" and not _module_found("pillow_heif"):
        return f"HEIC/HEIF photo, which this install cannot read: {HEIF_INSTALL}"
    if fmt == "AVIF" and not (_pillow_has_avif() or _module_found("pillow_avif")):
        return f"AVIF image, which this Pillow cannot read: {AVIF_INSTALL}"
    if fmt:
        return f"corrupt {fmt}: starts like one but its header cannot be read"
    head = data[:512]
    try:
        head.decode("utf-8")
        if b"\0" not in head:
            return "not an image (text file)"
    except UnicodeDecodeError:
        pass
    return "not an image (unknown file format)"


def _module_found(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _pil_to_array(img, channels: int) -> np.ndarray:
    """Pillow image -> uint8 array (H, W, channels)."""
    mode = img.mode
    if mode.startswith("I") or mode == "F":
        # 16/32-bit grayscale: Pillow's convert("L") clips at 255 instead of scaling.
        a = np.asarray(img).astype(np.float64)
        if mode.startswith("I;16") or (mode == "I" and a.max(initial=0) > 255):
            a = a / 257.0
        gray = np.clip(np.round(a), 0, 255).astype(np.uint8)[..., None]
        if channels == 1:
            return gray
        out = np.repeat(gray, 3, axis=-1)
        if channels == 4:
            out = np.concatenate([out, np.full_like(gray, 255)], axis=-1)
        return out
    target = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
    if img.mode != target:
        try:
            img = img.convert(target)
        except ValueError:  # a mode Pillow converts only through RGB
            img = img.convert("RGB").convert(target)
    a = np.asarray(img, dtype=np.uint8)
    return a[..., None] if a.ndim == 2 else a


def _crop_box(h: int, w: int, th: int, tw: int) -> tuple[int, int, int, int]:
    """Largest centred (top, left, height, width) window with the target aspect ratio."""
    ch, cw = h, round(h * tw / th)
    if cw > w:
        ch, cw = round(w * th / tw), w
    ch, cw = max(1, min(ch, h)), max(1, min(cw, w))
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def pil_decode(
    data: bytes,
    *,
    channels: int = 3,
    image_size: tuple[int, int] | None = None,
    interpolation: str = "bilinear",
    crop_to_aspect_ratio: bool = False,
    resize: bool = True,
) -> np.ndarray:
    """Decodes `data` with Pillow to a uint8 array `(H, W, channels)`, resized when asked.

    Raises `UnusableImage` with the reason when the bytes are not a usable image. `resize=False`
    leaves resizing to the caller (so the TensorFlow path can use tf.image.resize, as Keras does).
    """
    return pil_decode_sized(
        data, channels=channels, image_size=image_size, interpolation=interpolation,
        crop_to_aspect_ratio=crop_to_aspect_ratio, resize=resize,
    )[0]


def pil_decode_sized(data, *, channels=3, image_size=None, interpolation="bilinear",
                     crop_to_aspect_ratio=False, resize=True) -> tuple[np.ndarray, tuple[int, int]]:
    """`pil_decode`, and the image's original (height, width).

    A plain JPEG (the files TensorFlow decodes, `dlzoo.data.sniff`) at least twice the target
    size is decoded at the reduced scale the TensorFlow path uses (`sniff.plan`), so both give
    the same pixels; the image is converted to `channels`, then resized by `resize_array`.
    """
    scale = 1
    if resize and image_size is not None and not crop_to_aspect_ratio and data[:3] == b"\xff\xd8\xff":
        from dlzoo.data.sniff import TF_JPEG, _quick_jpeg, plan

        header = _quick_jpeg(data)
        if header is not None:
            scale = 2 ** (plan(header, image_size)[0] - TF_JPEG)
    img = _open_pil(data, scale)
    size = (img.height, img.width) if scale == 1 else _shown_size(data)
    out = _pil_to_array(img, channels)
    if resize and image_size is not None:
        out = resize_array(out, image_size, interpolation=interpolation,
                           crop_to_aspect_ratio=crop_to_aspect_ratio)
    return out, size


def _shown_size(data: bytes) -> tuple[int, int]:
    from dlzoo.data.sniff import _quick_jpeg

    header = _quick_jpeg(data)
    return header.height, header.width


def resize_array(img: np.ndarray, image_size, *, interpolation: str = "bilinear",
                 crop_to_aspect_ratio: bool = False) -> np.ndarray:
    """uint8 `(H, W, C)` (C 1, 3 or 4) -> uint8 `(height, width, C)`: THE resize of every image
    dlzoo reads, on every host and every path (the tf.data pipeline calls it too, `tf_resize`).

    Pillow's resampling (`Image.resize`; "bilinear" is its antialiased bilinear: a triangle
    filter widened by the reduction factor, so a downscale averages every source pixel instead
    of sampling a few), each channel on its own (alpha not premultiplied). With
    `crop_to_aspect_ratio`, the largest centred window of the target's aspect ratio is cut out
    first. An image already at the size is returned as it is.
    """
    from PIL import Image

    th, tw = int(image_size[0]), int(image_size[1])
    if crop_to_aspect_ratio:
        top, left, ch, cw = _crop_box(img.shape[0], img.shape[1], th, tw)
        img = img[top:top + ch, left:left + cw]
    if img.shape[:2] == (th, tw):
        return np.ascontiguousarray(img)
    c = img.shape[-1]
    mode = {1: "L", 3: "RGB", 4: "RGBa"}[c]  # RGBa: Pillow resamples the 4 bands as they are
    pil = Image.frombytes(mode, (img.shape[1], img.shape[0]),
                          np.ascontiguousarray(img[..., 0] if c == 1 else img).tobytes())
    out = pil.resize((tw, th), getattr(Image.Resampling, INTERPOLATIONS[interpolation]))
    a = np.frombuffer(out.tobytes(), np.uint8).reshape(th, tw, c)
    return a.copy()


def diagnose(data: bytes) -> str | None:
    """Why `data` is not a usable image, in words; None when Pillow decodes it fine."""
    try:
        _open_pil(data)
    except UnusableImage as e:
        return str(e)
    return None


# --- TensorFlow --------------------------------------------------------------------------------

def tf_resize(img, image_size, *, interpolation="bilinear", crop_to_aspect_ratio=False):
    """uint8 (H, W, C) tensor -> uint8 (h, w, C), inside tf.data: `resize_array` (Pillow's
    resampling) through `tf.numpy_function`, so the TensorFlow path resizes exactly as a host
    without TensorFlow does. Pillow releases the GIL while it resamples, so parallel map calls
    still resize in parallel. An image already at the size (after the crop) is passed through.
    """
    import tensorflow as tf

    th, tw = int(image_size[0]), int(image_size[1])
    opts = {"interpolation": interpolation, "crop_to_aspect_ratio": bool(crop_to_aspect_ratio)}

    def _resize():
        out = tf.numpy_function(lambda a: resize_array(a, (th, tw), **opts), [img], tf.uint8,
                                stateful=False)
        return tf.ensure_shape(out, (th, tw, img.shape[-1]))

    same = tf.logical_and(tf.shape(img)[0] == th, tf.shape(img)[1] == tw)
    out = tf.cond(same, lambda: tf.identity(img), _resize)
    return tf.ensure_shape(out, (th, tw, img.shape[-1]))


def tf_to_channels(img, channels: int, *, exact: bool = False):
    """A uint8 image `(H, W, 1|2|3|4)` as `(H, W, channels)`, in TensorFlow ops (for tf.data).

    `channels` is 1, 3 or 4 (`channels_for(color_mode)`): grayscale by ITU-R 601 luma, alpha
    dropped, or made opaque (255) when added; the same conversion `pil_decode` makes. With
    `exact`, grayscale is Pillow's own fixed-point luma (`tf_luma`), bit for bit; otherwise
    `tf.image.rgb_to_grayscale` (off by one level at most).
    """
    import tensorflow as tf

    def gray(x):
        return tf_luma(x) if exact else tf.image.rgb_to_grayscale(x)

    def opaque(x):
        return tf.concat([x, tf.fill(tf.concat([tf.shape(x)[:2], [1]], 0), tf.constant(255, tf.uint8))], -1)

    table = {
        1: [lambda: img, lambda: img[..., :1], lambda: gray(img), lambda: gray(img[..., :3])],
        3: [
            lambda: tf.tile(img, [1, 1, 3]),
            lambda: tf.tile(img[..., :1], [1, 1, 3]),
            lambda: img,
            lambda: img[..., :3],
        ],
        4: [
            lambda: opaque(tf.tile(img, [1, 1, 3])),
            lambda: tf.concat([tf.tile(img[..., :1], [1, 1, 3]), img[..., 1:2]], -1),
            lambda: opaque(img),
            lambda: img,
        ],
    }[channels]
    out = tf.switch_case(tf.shape(img)[-1] - 1, table)
    return tf.ensure_shape(out, (None, None, channels))


def tf_luma(rgb):
    """uint8 RGB `(H, W, 3)` -> uint8 `(H, W, 1)` exactly as Pillow's `convert("L")` computes it
    (ITU-R 601 in 16-bit fixed point; `tf.image.rgb_to_grayscale` rounds differently)."""
    import tensorflow as tf

    x = tf.cast(rgb, tf.int32)
    y = (x[..., 0] * 19595 + x[..., 1] * 38470 + x[..., 2] * 7471 + 32768) // 65536
    return tf.cast(y, tf.uint8)[..., None]


def tf_decode_fn(channels: int, image_size=None, *, interpolation="bilinear", crop_to_aspect_ratio=False,
                 route=None):
    """A function for tf.data: `(contents tf.string, route int32) -> (uint8 image, (height, width))`,
    or `contents -> ...` when `route` is given (one decoder, no branching: faster).

    `route` comes from `dlzoo.data.sniff`: TF_PNG or TF_JPEG; only files TensorFlow decodes exactly
    as Pillow does are routed to it (JPEG with the accurate integer DCT, plain 8-bit PNG). It raises
    (inside the pipeline) on a file TensorFlow cannot decode. Traced once per process and
    configuration, not once per pipeline.
    """
    size = None if image_size is None else (int(image_size[0]), int(image_size[1]))
    return _tf_decode_fn(int(channels), size, interpolation, bool(crop_to_aspect_ratio),
                         None if route is None else int(route))


def _tf_jpeg_channels(img, channels: int):
    """A 3-channel decoded JPEG as `channels`, without branching (Pillow's conversions)."""
    import tensorflow as tf

    if channels == 1:
        return tf_luma(img)
    if channels == 4:
        return tf.concat([img, tf.fill(tf.concat([tf.shape(img)[:2], [1]], 0), tf.constant(255, tf.uint8))], -1)
    return img


@functools.lru_cache(maxsize=32)
def _tf_decode_fn(channels, image_size, interpolation, crop_to_aspect_ratio, route):
    import tensorflow as tf

    def png(contents):
        return tf_to_channels(tf.io.decode_png(contents, channels=0, dtype=tf.uint8), channels,
                              exact=True)

    def jpeg(contents, ratio):
        img = tf.io.decode_jpeg(contents, channels=3, ratio=ratio, dct_method="INTEGER_ACCURATE")
        return _tf_jpeg_channels(tf.ensure_shape(img, (None, None, 3)), channels)

    def finish(img):
        size = tf.shape(img)[:2]
        if image_size is not None:
            img = tf_resize(
                img, image_size, interpolation=interpolation, crop_to_aspect_ratio=crop_to_aspect_ratio
            )
        return img, size

    if route is not None:  # route: 0 PNG, 1 + k JPEG at ratio 2**k (see dlzoo.data.sniff)
        @tf.function(input_signature=[tf.TensorSpec([], tf.string)], autograph=False)
        def decode_one(contents):
            return finish(png(contents) if route <= 0 else jpeg(contents, 2 ** (route - 1)))

        return decode_one

    @tf.function(input_signature=[tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.int32)],
                 autograph=False)
    def decode(contents, route):
        branches = [lambda: png(contents)] + [
            (lambda r=r: jpeg(contents, r)) for r in (1, 2, 4, 8)
        ]
        return finish(tf.switch_case(tf.clip_by_value(route, 0, 4), branches))

    return decode
