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
import difflib
import io
import os
import socket
import threading

import numpy as np

from dlzoo.data import synthetic
from dlzoo.data.folders import in_validation
from dlzoo.data.images import COLOR_MODES
from dlzoo.data.manifest import array_hash, manifest_hash
from dlzoo.validation import check_data_args

__all__ = ["DataBundle", "load", "load_arrays", "export_digits", "sources"]

# The usual (train, validation) splits. Datasets with only a train split hold out its last
# `validation_split` fraction; unknown names use "validation" or "test" when tfds has one.
_TFDS_SPLITS = {
    "mnist": ("train", "test"),
    "fashion_mnist": ("train", "test"),
    "kmnist": ("train", "test"),
    "emnist": ("train", "test"),
    "cifar10": ("train", "test"),
    "cifar100": ("train", "test"),
    "svhn_cropped": ("train", "test"),
    "imdb_reviews": ("train", "test"),
    "ag_news_subset": ("train", "test"),
    "imagenette": ("train", "validation"),
    "imagenet2012": ("train", "validation"),
    "oxford_flowers102": ("train", "validation"),
    "tf_flowers": (None, None),
    "cats_vs_dogs": (None, None),
    "beans": ("train", "validation"),
}
# Where `load` probes before letting tfds download (tfds tries its GCS mirror first).
NETWORK_PROBE = ("storage.googleapis.com", 443)
PROBE_TIMEOUT_S = 5.0


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


def _resize_arrays(x: np.ndarray, image_size) -> np.ndarray:
    from PIL import Image

    if x.shape[1:3] == tuple(image_size):
        return x
    h, w = image_size
    out = np.empty((x.shape[0], h, w, x.shape[-1]), np.float32)
    for i in range(x.shape[0]):
        for c in range(x.shape[-1]):
            f = Image.fromarray(x[i, ..., c].astype(np.float32), mode="F")
            out[i, ..., c] = np.asarray(f.resize((w, h), Image.Resampling.BILINEAR))
    return out


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
        return _load_tfds(arg, image_size=image_size, color_mode=color_mode, batch_size=batch_size,
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


# --- tensorflow-datasets -------------------------------------------------------------------------


def _network_available(host_port=None, timeout=None) -> bool:
    """Whether the download host answers an HTTPS request, bounded by `timeout` seconds in all.

    A bare TCP connect is not enough (proxies accept connections they never forward), and DNS
    lookups ignore socket timeouts, so the probe runs in a thread that we stop waiting for.
    """
    if os.environ.get("DLZOO_OFFLINE", "").strip() not in ("", "0"):
        return False
    host, port = host_port or NETWORK_PROBE
    timeout = PROBE_TIMEOUT_S if timeout is None else timeout
    result = []

    def probe():
        import http.client
        import ssl

        try:
            conn = http.client.HTTPSConnection(host, port, timeout=timeout,
                                               context=ssl.create_default_context())
            conn.request("HEAD", "/")
            conn.getresponse()
            conn.close()
            result.append(True)
        except (OSError, http.client.HTTPException, socket.timeout):
            result.append(False)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout)
    return bool(result and result[0])


def _tfds_builder(name, data_dir):
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ImportError(
            f"loading {name!r} needs tensorflow-datasets (pip install tensorflow-datasets); "
            "'digits', 'synthetic:NAME' and 'folder:PATH' work without it."
        ) from None
    try:
        return tfds, tfds.builder(name, data_dir=data_dir)
    except Exception as e:  # tfds raises its own DatasetNotFoundError, or others for bad configs
        if type(e).__name__ != "DatasetNotFoundError":
            raise
        close = difflib.get_close_matches(name.split("/")[0], tfds.list_builders(), n=5)
        hint = f" Close matches: {', '.join(close)}." if close else ""
        raise ValueError(
            f"unknown dataset {name!r}: not a tfds name, nor digits, synthetic:NAME or folder:PATH."
            f"{hint}"
        ) from None


def _ensure_prepared(builder, name, data_dir):
    if builder.is_prepared():
        return
    where = data_dir or os.path.dirname(os.path.dirname(builder.data_dir.rstrip("/")))
    if not _network_available():
        raise ConnectionError(
            f"dataset {name!r} is not prepared under {builder.data_dir} and the download host "
            f"({NETWORK_PROBE[0]}) cannot be reached. On a machine with internet run "
            f"`tfds build {name} --data_dir {where}` (or python -c \"import tensorflow_datasets as "
            f"tfds; tfds.load('{name}', data_dir='{where}')\") and copy {where}/{builder.name} "
            "here (or pass data_dir=... to where it is); or use 'digits' or 'folder:PATH', which "
            "need no download."
        )
    builder.download_and_prepare()


def _tfds_manifest(builder, name, splits) -> str:
    entries = [(f"tfds:{name}:{builder.info.version}:{splits[0]}:{splits[1]}", 0, "")]
    root = str(builder.data_dir)
    if os.path.isdir(root):
        for f in sorted(os.listdir(root)):
            p = os.path.join(root, f)
            if os.path.isfile(p) and not f.endswith(".json"):
                entries.append((f, os.path.getsize(p), ""))
    return manifest_hash(entries)


def _tfds_split_names(builder, name, validation_split, override):
    if override is not None:
        return tuple(override)
    train, val = _TFDS_SPLITS.get(builder.name, (None, None))
    if train is None:
        available = set(builder.info.splits)
        if builder.name not in _TFDS_SPLITS and "train" in available:
            for candidate in ("validation", "test"):
                if candidate in available:
                    return "train", candidate
        if validation_split <= 0:
            return "train", None
        pct = int(round(100 * (1 - validation_split)))
        return f"train[:{pct}%]", f"train[{pct}%:]"
    return train, (val if validation_split > 0 else None)


def _load_tfds(name, *, image_size, color_mode, batch_size, validation_split, seed, data_dir,
               splits=None, shuffle=True, cache=False, **kwargs):
    _reject(kwargs, name)
    tf = _require_tf(f"dlzoo.data.load({name!r})")
    from dlzoo.data.images import _tf_to_channels, tf_resize

    tfds, builder = _tfds_builder(name, data_dir)
    _ensure_prepared(builder, name, data_dir)
    features = builder.info.features
    keys = builder.info.supervised_keys
    if not keys:
        raise ValueError(f"tfds dataset {name!r} has no (input, label) pair; it cannot be loaded "
                         "for classification with dlzoo.data.load.")
    x_key, y_key = keys[0], keys[1]
    label = features[y_key]
    class_names = list(getattr(label, "names", None) or [])
    num_classes = len(class_names) or int(getattr(label, "num_classes", 0) or 0)
    train_split, val_split = _tfds_split_names(builder, name, validation_split, splits)
    x_feature = features[x_key]
    is_image = type(x_feature).__name__ == "Image"
    details = {"tfds_name": builder.name, "version": str(builder.info.version),
               "splits": [train_split, val_split]}
    if is_image:
        native = tuple(x_feature.shape)
        channels = COLOR_MODES[color_mode] if color_mode else (native[-1] or 3)
        if image_size is None:
            image_size = native[:2] if None not in native[:2] else (224, 224)
        image_size = tuple(int(s) for s in image_size)

        def prep(x, y):
            x = _tf_to_channels(tf.cast(x, tf.uint8), channels)
            x = tf_resize(x, image_size)
            return tf.cast(x, tf.float32), tf.cast(y, tf.int32)

        input_shape, value_range = (*image_size, channels), "0-255"
        details.update(image_size=list(image_size), channels=channels)
    else:
        if image_size is not None or color_mode is not None:
            raise ValueError(f"{name!r} is not an image dataset; image_size and color_mode do not apply.")

        def prep(x, y):
            return x, tf.cast(y, tf.int32)

        input_shape, value_range = tuple(x_feature.shape), "raw"

    def make(split, training):
        if split is None:
            return None
        ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=training and shuffle)
        ds = ds.map(prep, num_parallel_calls=tf.data.AUTOTUNE)
        if cache:
            ds = ds.cache()
        if training and shuffle:
            ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    return DataBundle(
        train=make(train_split, True), val=make(val_split, False), class_names=class_names,
        num_classes=num_classes, input_shape=input_shape, source=builder.name,
        manifest_hash=_tfds_manifest(builder, name, (train_split, val_split)), skipped=[],
        value_range=value_range, details=details,
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
