"""Named data sources: one `load(source)` for tfds datasets, digits, generated tasks and folders.

    source            what it is                                                  needs
    "digits"          scikit-learn's 1,797 bundled 8x8 handwritten digits,        nothing (offline)
                      resized (default 32x32, grayscale, 0-255)
    "synthetic:NAME"  generated tasks: shapes, stripes (images), blobs (vectors)  nothing
    "folder:PATH"     a folder of class subfolders (dlzoo.data.image_folder)      TensorFlow
    "mnist", "cifar10", "tf_flowers", "imdb_reviews", ... (any tfds name)        prepared tfds data
                                                                                  or the network

A tfds dataset that is not prepared locally is downloaded only when its host answers within a few
seconds; otherwise `load` raises ConnectionError at once, saying where the prepared files go and how
to make them, instead of tfds retrying for minutes.

Image batches hold float32 pixels in [0, 255] (`value_range="0-255"`); models rescale themselves.
"""

from __future__ import annotations

import dataclasses
import io
import os

import numpy as np

from dlzoo.data import synthetic
from dlzoo.data.folders import in_validation
from dlzoo.data.images import COLOR_MODES
from dlzoo.data.manifest import array_hash, manifest_hash
from dlzoo.validation import check_data_args

__all__ = ["DataBundle", "load", "load_arrays", "export_digits", "sources"]



@dataclasses.dataclass
class DataBundle:
    """Batched train/validation datasets and what a model card needs to know about them."""

    train: object  # tf.data.Dataset of (x, y) batches
    val: object  # tf.data.Dataset or None
    class_names: list[str]
    num_classes: int
    input_shape: tuple  # shape of one example's x
    source: str  # "digits", "mnist", "folder:/path", "synthetic:shapes", ...
    manifest_hash: str
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    value_range: str = "0-255"  # "0-255" for images, "raw" otherwise
    details: dict = dataclasses.field(default_factory=dict)  # source-specific (split sizes, ...)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "class_names": list(self.class_names),
            "num_classes": self.num_classes,
            "input_shape": list(self.input_shape),
            "manifest_hash": self.manifest_hash,
            "skipped": [list(s) for s in self.skipped],
            "value_range": self.value_range,
            **self.details,
        }


def sources() -> dict[str, str]:
    """The built-in sources that need no download, with one line each."""
    out = {"digits": "scikit-learn's 8x8 handwritten digits (1,797), resized; offline"}
    out.update({f"synthetic:{k}": v for k, v in synthetic.describe().items()})
    out["folder:PATH"] = "a folder of class subfolders of images"
    return out


def _split_source(source: str) -> tuple[str, str]:
    if not isinstance(source, str) or not source.strip():
        raise ValueError(
            f"source must be a name such as 'digits', 'mnist', 'folder:PATH' or "
            f"'synthetic:shapes'; received {source!r}."
        )
    kind, _, arg = source.partition(":")
    if kind in ("folder", "synthetic", "tfds") and arg:
        return kind, arg
    if kind == "digits" and not arg:
        return "digits", ""
    if ":" in source and kind not in ("folder", "synthetic", "tfds"):
        raise ValueError(
            f"unknown source kind {kind!r} in {source!r}; use folder:PATH, synthetic:NAME, "
            "tfds:NAME, digits or a tfds name."
        )
    return "tfds", source


# --- arrays: digits, synthetic, folders ----------------------------------------------------------


def _digits_images(image_size=(32, 32)):
    """uint8 (1797, h, w) digits scaled from 0-16 to 0-255 and resized bilinearly, and labels."""
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    h, w = image_size
    out = np.empty((len(d.images), h, w), np.uint8)
    for i, img in enumerate(d.images):
        f = Image.fromarray((img * (255.0 / 16.0)).astype(np.float32), mode="F")
        if (h, w) != (8, 8):
            f = f.resize((w, h), Image.Resampling.BILINEAR)
        out[i] = np.clip(np.round(np.asarray(f)), 0, 255).astype(np.uint8)
    return out, d.target.astype(np.int32)


def _digit_name(label: int, index: int) -> str:
    return f"{label}/{index:04d}.png"


def _convert_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """float (N, H, W, C in {1, 3}) -> `channels` channels."""
    c = x.shape[-1]
    if c == channels:
        return x
    if channels == 1:
        return (x[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    rgb = np.repeat(x, 3, axis=-1) if c == 1 else x[..., :3]
    if channels == 3:
        return rgb
    return np.concatenate([rgb, np.full(x.shape[:-1] + (1,), 255.0, np.float32)], axis=-1)


def _split(names, validation_split, seed):
    is_val = np.array([in_validation(n, validation_split, seed) for n in names], bool)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def load_arrays(source, *, image_size=None, color_mode=None, validation_split=0.2, seed=0,
                **kwargs):
    """Numpy arrays for the small sources (digits, synthetic:NAME, folder:PATH); no TensorFlow needed.

    For cross-validation and tuning on small data, and on hosts with only JAX. The split is the
    same hash-of-name split as `load` (and as a folder written by `export_digits`).

    Args:
        source: "digits", "synthetic:NAME" or "folder:PATH".
        image_size: (int, int) or None; digits and synthetic images default to (32, 32), folders
            to (224, 224).
        color_mode: "grayscale", "rgb", "rgba" or None (digits: grayscale; others: rgb).
        validation_split: float (0.2); seed: int (0).
        **kwargs: for synthetic tasks `n` (400), `data_seed` (0), `features`/`num_classes` (blobs);
            for folders `workers`, `progress`, `interpolation`, `crop_to_aspect_ratio`.

    Returns:
        `(x_train, y_train, x_val, y_val, meta)`: x float32 (images in [0, 255]), y int32, and a
        dict with class_names, num_classes, input_shape, source, manifest_hash, value_range, skipped.

    Example:
        >>> x, y, xv, yv, meta = load_arrays("digits", image_size=(16, 16))
        >>> x.shape, meta["num_classes"]          # ((1437, 16, 16, 1), 10)
    """
    kind, arg = _split_source(source)
    args = check_data_args(image_size=image_size, validation_split=validation_split, seed=seed,
                           color_mode=color_mode)
    image_size, color_mode, validation_split = args["image_size"], args["color_mode"], args["validation_split"]
    skipped: list = []
    if kind == "digits":
        image_size = image_size or (32, 32)
        color_mode = color_mode or "grayscale"
        _reject(kwargs, source)
        images, y = _digits_images(image_size)
        names = [_digit_name(int(label), i) for i, label in enumerate(y)]
        order = np.argsort(names, kind="stable")
        names = [names[i] for i in order]
        x = images[order][..., None].astype(np.float32)
        y = y[order]
        class_names = [str(i) for i in range(10)]
        value_range = "0-255"
        digest = array_hash(images, y, meta={"source": "digits", "image_size": image_size})
    elif kind == "synthetic":
        task = arg
        gen_kwargs = dict(kwargs)
        if task in synthetic.IMAGE_TASKS:
            image_size = image_size or (32, 32)
            color_mode = color_mode or "rgb"
            gen_kwargs["image_size"] = image_size
        elif image_size is not None or color_mode is not None:
            raise ValueError(
                f"synthetic:{task} is a vector task; image_size and color_mode do not apply."
            )
        x, y, class_names, value_range = synthetic.generate(task, **gen_kwargs)
        names = [f"{int(label)}/{i:05d}" for i, label in enumerate(y)]
        digest = array_hash(x, y, meta={"source": source, **{k: v for k, v in gen_kwargs.items()}})
    elif kind == "folder":
        return _folder_arrays(arg, image_size or (224, 224), color_mode or "rgb", validation_split,
                              seed, kwargs)
    else:
        raise ValueError(
            f"load_arrays handles digits, synthetic:NAME and folder:PATH; received {source!r}. "
            "Use dlzoo.data.load for tfds datasets (it streams them with tf.data)."
        )
    if value_range == "0-255":
        x = _convert_channels(x, COLOR_MODES[color_mode])
    tr, va = _split(names, validation_split, seed)
    meta = {
        "source": source if kind != "digits" else "digits",
        "class_names": class_names,
        "num_classes": len(class_names),
        "input_shape": tuple(x.shape[1:]),
        "manifest_hash": digest,
        "value_range": value_range,
        "skipped": skipped,
        "color_mode": color_mode,
        "image_size": image_size,
        "num_train": int(len(tr)),
        "num_val": int(len(va)),
    }
    return x[tr], y[tr], x[va], y[va], meta


def _reject(kwargs, source):
    if kwargs:
        raise TypeError(f"unexpected argument(s) for {source!r}: {', '.join(sorted(kwargs))}.")


def _folder_arrays(path, image_size, color_mode, validation_split, seed, kwargs):
    from dlzoo.data.scan import scan

    opts = {k: kwargs.pop(k) for k in ("interpolation", "crop_to_aspect_ratio") if k in kwargs}
    opts.setdefault("interpolation", "bilinear")
    opts.setdefault("crop_to_aspect_ratio", False)
    scan_kw = {k: kwargs.pop(k) for k in ("workers", "progress") if k in kwargs}
    _reject(kwargs, f"folder:{path}")
    report, images = scan(path, channels=COLOR_MODES[color_mode], image_size=image_size,
                          opts=opts, keep="arrays", **scan_kw)
    report.require_classes()
    class_names = report.class_names
    label_of = {c: i for i, c in enumerate(class_names)}
    y = np.array([label_of[r.label] for r in report.records], np.int32)
    tr, va = _split([r.path for r in report.records], validation_split, seed)
    x = images.astype(np.float32)
    meta = {
        "source": f"folder:{report.root}",
        "class_names": class_names,
        "num_classes": len(class_names),
        "input_shape": tuple(x.shape[1:]),
        "manifest_hash": report.manifest_hash,
        "value_range": "0-255",
        "skipped": list(report.skipped),
        "color_mode": color_mode,
        "image_size": image_size,
        "num_train": int(len(tr)),
        "num_val": int(len(va)),
    }
    return x[tr], y[tr], x[va], y[va], meta


# --- tf.data bundles -----------------------------------------------------------------------------


def _require_tf(what: str):
    try:
        import tensorflow as tf
    except ImportError:
        raise ImportError(
            f"{what} builds tf.data pipelines and needs TensorFlow (pip install tensorflow); on a "
            "host without it use dlzoo.data.load_arrays for digits, synthetic:NAME and folder:PATH."
        ) from None
    return tf


def _arrays_dataset(tf, x, y, batch_size, shuffle, seed):
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def load(source: str, *, image_size=None, color_mode=None, batch_size=32, validation_split=0.2,
         seed=0, data_dir=None, **kwargs) -> DataBundle:
    """Batched `tf.data` train/validation sets for a named source, and what they hold.

    Args:
        source: "digits", "synthetic:NAME", "folder:PATH", or a tfds name such as "mnist",
            "cifar10", "tf_flowers", "imdb_reviews" (also "tfds:NAME").
        image_size: (int, int) or None; None keeps a tfds dataset's fixed size (224x224 when its
            images vary), 32x32 for digits and synthetic images, 224x224 for folders.
        color_mode: "grayscale", "rgb", "rgba" or None (the source's own).
        batch_size: int (32); validation_split: float (0.2); seed: int (0).
        data_dir: where tfds looks for prepared data (default: tfds's, ~/tensorflow_datasets).
        **kwargs: folder options (`cache`, `shuffle`, `progress`, `interpolation`, ...),
            synthetic options (`n`, `data_seed`, ...), tfds options (`splits=(train, val)`,
            `shuffle`, `cache`).

    Returns:
        A `DataBundle`.

    Raises:
        ConnectionError: a tfds dataset is not prepared in `data_dir` and its host cannot be
            reached (within ~5 s); the message says how to prepare it.

    Example:
        >>> data = load("digits", image_size=(32, 32), batch_size=64)
        >>> model.fit(data.train, validation_data=data.val)
    """
    kind, arg = _split_source(source)
    check_data_args(image_size=image_size, batch_size=batch_size, validation_split=validation_split,
                    seed=seed, color_mode=color_mode)
    if kind == "folder":
        from dlzoo.data.folders import image_folder

        train, val, info = image_folder(
            arg, image_size=image_size or (224, 224), batch_size=batch_size,
            validation_split=validation_split, seed=seed, color_mode=color_mode or "rgb", **kwargs,
        )
        return DataBundle(
            train=train, val=val, class_names=info.class_names, num_classes=info.num_classes,
            input_shape=(*info.image_size, info.channels), source=f"folder:{info.root}",
            manifest_hash=info.manifest_hash, skipped=list(info.skipped), value_range="0-255",
            details={"num_train": len(info.train_files), "num_val": len(info.val_files),
                     "empty_classes": info.empty_classes, "color_mode": info.color_mode},
        )
    if kind == "tfds":
        from dlzoo.data.tfds_sources import load_tfds

        return load_tfds(arg, image_size=image_size, color_mode=color_mode, batch_size=batch_size,
                         validation_split=validation_split, seed=seed, data_dir=data_dir, **kwargs)
    tf = _require_tf(f"dlzoo.data.load({source!r})")
    shuffle = kwargs.pop("shuffle", True)
    x, y, xv, yv, meta = load_arrays(source, image_size=image_size, color_mode=color_mode,
                                     validation_split=validation_split, seed=seed, **kwargs)
    return DataBundle(
        train=_arrays_dataset(tf, x, y, batch_size, shuffle, seed),
        val=_arrays_dataset(tf, xv, yv, batch_size, False, seed) if len(xv) else None,
        class_names=meta["class_names"], num_classes=meta["num_classes"],
        input_shape=meta["input_shape"], source=meta["source"], manifest_hash=meta["manifest_hash"],
        skipped=[], value_range=meta["value_range"],
        details={k: meta[k] for k in ("num_train", "num_val", "color_mode", "image_size")},
    )


# --- export ----------------------------------------------------------------------------------------


def export_digits(directory, image_size=(32, 32), *, overwrite=False) -> dict:
    """Writes scikit-learn's digits as a folder of PNG files, one subfolder per class "0".."9".

    File names are `LABEL/INDEX.png`, so `image_folder(directory, image_size, color_mode="grayscale")`
    sees the same pixels and the same train/validation split as `load("digits")`.

    Args:
        directory: str or PathLike, created if missing; must be empty unless `overwrite=True`.
        image_size: (int, int) (32, 32).
        overwrite: bool (False), write into a non-empty folder (replacing same-named files).

    Returns:
        dict with directory, count, counts per class, image_size and the folder's manifest_hash.

    Example:
        >>> export_digits("digits_png")["count"]      # 1797
    """
    from PIL import Image

    from dlzoo.data.manifest import content_digest

    image_size = check_data_args(image_size=image_size, allow_no_image_size=False)["image_size"]
    root = os.fspath(directory)
    if os.path.isfile(root):
        raise NotADirectoryError(f"{root!r} is a file; pass a folder to write the digits into")
    if os.path.isdir(root) and os.listdir(root) and not overwrite:
        raise ValueError(f"{root!r} is not empty; pass an empty or new folder (or overwrite=True / --overwrite)")
    images, y = _digits_images(image_size)
    entries, counts = [], {str(i): 0 for i in range(10)}
    for i, (img, label) in enumerate(zip(images, y)):
        rel = _digit_name(int(label), i)
        path = os.path.join(root, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        buf = io.BytesIO()
        Image.fromarray(img, mode="L").save(buf, format="PNG")
        data = buf.getvalue()
        with open(path, "wb") as f:
            f.write(data)
        entries.append((rel, len(data), content_digest(data)))
        counts[str(int(label))] += 1
    return {
        "directory": os.path.abspath(root),
        "count": len(entries),
        "counts": counts,
        "image_size": list(image_size),
        "manifest_hash": manifest_hash(entries),
    }
