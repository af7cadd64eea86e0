"""Named data sources: one `load(source)` for tfds datasets, digits, generated tasks and folders.

    source            what it is                                                  needs
    "digits"          scikit-learn's 1,797 bundled 8x8 handwritten digits,        nothing (offline)
                      resized (default 32x32, grayscale, 0-255)
    "synthetic:NAME"  generated tasks: shapes, stripes (images), blobs (vectors)  nothing
    "folder:PATH"     a folder of class subfolders (dlzoo.data.image_folder)      nothing
    "csv:LABELS.csv"  images labelled by a CSV of file,label rows, paths          nothing
                      relative to its folder (or "csv:LABELS.csv?root=FOLDER";
                      dlzoo.data.labelfile); a path to a .csv file is the same
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
import re

import numpy as np

from dlzoo.backends import resolve_loader
from dlzoo.data import synthetic
from dlzoo.data.bundle import DataBundle, reject_unexpected, require_tensorflow
from dlzoo.data.corpus import is_corpus_source
from dlzoo.data.folders import image_folder, in_validation, require_training_images, split_sides
from dlzoo.data.images import channels_for
from dlzoo.data.labelfile import is_label_file, parse_csv_source
from dlzoo.data.manifest import array_hash, content_digest, manifest_hash
from dlzoo.data.ratings import is_ratings_source
from dlzoo.data.scan import scan
from dlzoo.data.tfds_sources import load_tfds, own_names
from dlzoo.validation import check_data_args

__all__ = ["DataBundle", "digits_images", "export_digits", "load", "load_arrays", "sources"]


def sources() -> dict[str, str]:
    """The built-in sources that need no download, with one line each."""
    out = {"digits": "scikit-learn's 8x8 handwritten digits (1,797), resized; offline"}
    out.update({f"synthetic:{k}": v for k, v in synthetic.describe().items()})
    out["folder:PATH"] = "a folder of class subfolders of images"
    out["csv:LABELS.csv"] = ("images labelled by a CSV of file,label rows (paths relative to "
                             "its folder, or csv:LABELS.csv?root=FOLDER)")
    return out


def misspelt_source(source) -> str | None:
    """The dlzoo source a bare name (`digitz`, `shapes`) was most likely meant as, read without
    a backend: a name close to one of `own_names()` (difflib ratio >= 0.8; no tfds dataset name
    is that close to one), that is not itself a folder here; None otherwise. A tfds dataset of
    such a name is still read as `tfds:NAME`."""
    import difflib

    if (not isinstance(source, str) or ":" in source or source == "digits"
            or is_corpus_source(source) or not re.fullmatch(r"[A-Za-z][\w.-]*", source)
            or os.path.exists(source)):
        return None
    own = own_names()
    close = difflib.get_close_matches(source.lower(), list(own), n=1, cutoff=0.8)
    return own[close[0]] if close else None


def _split_source(source: str) -> tuple[str, str]:
    if not isinstance(source, str) or not source.strip():
        raise ValueError(
            f"source must be a name such as 'digits', 'mnist', 'folder:PATH' or "
            f"'synthetic:shapes'; received {source!r}."
        )
    kind, _, arg = source.partition(":")
    if kind in ("folder", "synthetic", "tfds", "csv") and arg:
        return kind, arg
    if is_label_file(source):  # a CSV given where a folder may be: its labels
        return "csv", source
    if kind == "digits" and not arg:
        return "digits", ""
    if not _TFDS_NAME.match(source):  # a path, not a name tfds could parse
        raise _not_a_folder(source)
    return "tfds", source


# What tfds parses as a dataset name: name[/config][:version] (`imdb_reviews/plain_text:1.0.0`);
# anything else given as a source ("./photoss", "~/photos", "My Photos") was meant as a folder.
_TFDS_NAME = re.compile(r"^[a-z][a-z0-9_]*(/[a-zA-Z0-9_.+-]+)?(:[0-9.*]+)?$")


def _not_a_folder(source: str) -> Exception:
    """The error for a source that reads as a path: what is there instead of a folder."""
    if os.path.isfile(source):
        return ValueError(f"{source} is a file, not a folder; give a folder with one subfolder "
                          "of images per class (or a source name: digits, mnist, ...)")
    kind = source.partition(":")[0]
    if ":" in source and os.sep not in kind and kind.isidentifier():
        return ValueError(f"unknown source kind {kind!r} in {source!r}; use folder:PATH, "
                          "csv:LABELS.csv, synthetic:NAME, tfds:NAME, digits or a tfds name.")
    return FileNotFoundError(f"{source}: no such folder (in {os.getcwd()}); give a folder with "
                             "one subfolder of images per class, or a source name (`dlzoo "
                             "datasets list`)")


def source_options(source) -> tuple[str, ...] | None:
    """The source-specific keyword arguments `load(source, ...)` takes beyond its named ones,
    read without importing a backend (so a recipe's misspelt `data:` key is refused before
    TensorFlow or JAX loads); None when only the loader itself can tell (synthetic tasks)."""
    import inspect

    if isinstance(source, str) and (is_corpus_source(source) or is_ratings_source(source)):
        return None  # text corpora and ratings: their loaders check their own options
    try:
        kind, _ = _split_source(source)
    except (ValueError, OSError):  # OSError: a path that is no folder (said when it loads)
        return None

    def named(*fns):
        return {p.name for fn in fns for p in inspect.signature(fn).parameters.values()
                if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}

    if kind == "digits":
        return ()
    if kind in ("folder", "csv"):  # image_folder passes them on to the backend-neutral loader too
        return tuple(sorted(named(image_folder) - {"path", "loader", "labels"}))
    if kind == "tfds":
        return tuple(sorted(named(load_tfds) - {"name"}))
    return None


# --- arrays: digits, synthetic, folders ----------------------------------------------------------


def digits_images(image_size=(32, 32)) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 digits as uint8 images `(1797, height, width)` and int32 labels.

    The 8x8 pixels are scaled from 0-16 to 0-255 and resized bilinearly (Pillow) to `image_size`,
    `(height, width)`, default (32, 32). Offline; the same pixels `load("digits")` and
    `export_digits` use.
    """
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


def load_arrays(source, *, image_size=None, color_mode=None, validation_split=0.2, seed=0,
                **kwargs) -> DataBundle:
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
        A `DataBundle` whose `train` and `val` are `(x, y)` numpy pairs (x float32, images in
        [0, 255]; y int32); `val` is None when no example falls in the validation split.
        `details` holds num_train, num_val, color_mode and image_size.

    Example:
        >>> data = load_arrays("digits", image_size=(16, 16))
        >>> (x, y), (x_val, y_val) = data.train, data.val
        >>> x.shape, data.num_classes          # ((1437, 16, 16, 1), 10)
    """
    kind, arg = _split_source(source)
    args = check_data_args(image_size=image_size, validation_split=validation_split, seed=seed,
                           color_mode=color_mode)
    image_size, color_mode = args["image_size"], args["color_mode"]
    if kind == "digits":
        reject_unexpected(kwargs, source)
        x, y, names, meta = _digits_arrays(image_size or (32, 32), color_mode or "grayscale")
    elif kind == "synthetic":
        x, y, names, meta = _synthetic_arrays(source, arg, image_size, color_mode, kwargs)
    elif kind in ("folder", "csv"):
        x, y, names, meta = _folder_arrays(*_images_and_labels(kind, arg),
                                           image_size or (224, 224), color_mode or "rgb", kwargs)
    else:
        raise ValueError(
            f"load_arrays handles digits, synthetic:NAME, folder:PATH and csv:LABELS.csv; "
            f"received {source!r}. "
            "Use dlzoo.data.load for tfds datasets (it streams them with tf.data)."
        )
    return _array_bundle(x, y, names, meta, args["validation_split"], seed)


def _array_bundle(x, y, names, meta, validation_split, seed) -> DataBundle:
    """Images converted to `meta["color_mode"]`, split by a hash of each example's name."""
    if meta["value_range"] == "0-255":
        x = _convert_channels(x, channels_for(meta["color_mode"]))
    if meta.get("stratified"):  # a folder: the same per-class split as image_folder
        keys = meta.get("split_keys") or [int(c) for c in y]
        sides = split_sides(list(zip(names, keys)), validation_split, seed)
        is_val = np.array([sides[n] == "val" for n in names], bool)
    else:
        is_val = np.array([in_validation(n, validation_split, seed) for n in names], bool)
    tr, va = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    if meta.get("stratified"):
        require_training_images(meta["source"], meta["class_names"],
                                [c for i in tr for c in meta["labels_of"][i]]
                                if "labels_of" in meta else
                                [meta["class_names"][int(c)] for c in y[tr]])
    return DataBundle(
        train=(x[tr], y[tr]),
        val=(x[va], y[va]) if len(va) else None,
        class_names=meta["class_names"],
        num_classes=len(meta["class_names"]),
        input_shape=tuple(x.shape[1:]),
        source=meta["source"],
        manifest_hash=meta["manifest_hash"],
        skipped=meta["skipped"],
        value_range=meta["value_range"],
        details={"num_train": len(tr), "num_val": len(va),
                 "color_mode": meta["color_mode"], "image_size": meta["image_size"],
                 **({"multi_label": True} if "labels_of" in meta else {})},
    )


def _digits_arrays(image_size, color_mode):
    """(x float32 (N, h, w, 1), y, names, meta), sorted by file name as `export_digits` writes them."""
    images, y = digits_images(image_size)
    names = [_digit_name(int(label), i) for i, label in enumerate(y)]
    order = np.argsort(names, kind="stable")
    y = y[order]
    # The hash takes the images in scikit-learn's order and the labels sorted by name: that is
    # what it has always hashed, and saved cards hold it.
    digest = array_hash(images, y, meta={"source": "digits", "image_size": image_size})
    meta = {
        "source": "digits", "class_names": [str(i) for i in range(10)], "value_range": "0-255",
        "manifest_hash": digest, "skipped": [], "color_mode": color_mode, "image_size": image_size,
    }
    return images[order][..., None].astype(np.float32), y, [names[i] for i in order], meta


def _synthetic_arrays(source, task, image_size, color_mode, kwargs):
    """(x, y, names, meta) of a generated task; image tasks default to 32x32 RGB."""
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
    meta = {
        "source": source, "class_names": class_names, "value_range": value_range,
        "manifest_hash": array_hash(x, y, meta={"source": source, **gen_kwargs}),
        "skipped": [], "color_mode": color_mode, "image_size": image_size,
    }
    return x, y, [f"{int(label)}/{i:05d}" for i, label in enumerate(y)], meta


def _images_and_labels(kind, arg) -> tuple[str | None, str | None]:
    """`(image folder, label file)` of a `folder:` or `csv:` source's argument."""
    if kind == "folder":
        return arg, None
    labels, root = parse_csv_source(arg)
    return root, labels


def _folder_arrays(path, labels, image_size, color_mode, kwargs):
    """(x, y, relative paths, meta) of every usable image under `path` (labelled by its class
    folder, or by the label file `labels`), decoded once (the scan)."""
    opts = {k: kwargs.pop(k) for k in ("interpolation", "crop_to_aspect_ratio") if k in kwargs}
    opts.setdefault("interpolation", "bilinear")
    opts.setdefault("crop_to_aspect_ratio", False)
    scan_kw = {k: kwargs.pop(k) for k in ("workers", "progress") if k in kwargs}
    reject_unexpected(kwargs, f"folder:{path}" if labels is None else f"csv:{labels}")
    report, images = scan(path, channels=channels_for(color_mode), image_size=image_size,
                          opts=opts, keep="arrays", labels=labels, **scan_kw)
    report.require_classes()
    y = report.targets(range(len(report.records)), report.class_names)
    meta = {
        "source": report.source, "class_names": report.class_names,
        "value_range": "0-255", "manifest_hash": report.manifest_hash,
        "skipped": list(report.skipped), "color_mode": color_mode, "image_size": image_size,
        "stratified": True,
    }
    if report.multi_label:  # stratified by each file's rarest label (ScanReport.split_keys)
        meta["split_keys"] = report.split_keys()
        meta["labels_of"] = [report.labels_of(r) for r in report.records]
    return images.astype(np.float32), y, [r.path for r in report.records], meta


# --- tf.data bundles -----------------------------------------------------------------------------


def _arrays_dataset(tf, x, y, batch_size, shuffle, seed):
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def load(source: str, *, image_size=None, color_mode=None, batch_size=32, validation_split=0.2,
         seed=0, data_dir=None, loader="auto", **kwargs) -> DataBundle:
    """Batched `tf.data` train/validation sets for a named source, and what they hold.

    Args:
        source: "digits", "synthetic:NAME", "folder:PATH", or a tfds name such as "mnist",
            "cifar10", "tf_flowers", "imdb_reviews" (also "tfds:NAME").
        image_size: (int, int) or None; None keeps a tfds dataset's fixed size (224x224 when its
            images vary), 32x32 for digits and synthetic images, 224x224 for folders.
        color_mode: "grayscale", "rgb", "rgba" or None (the source's own).
        batch_size: int (32); validation_split: float (0.2); seed: int (0).
        data_dir: where tfds looks for prepared data (default: tfds's, ~/tensorflow_datasets).
        loader: "auto" (tf.data where TensorFlow is installed, else "pydataset"), "tf.data" or
            "pydataset" (`dlzoo.data.neutral.Batches`, a `keras.utils.PyDataset` every backend's
            `fit` takes; digits, synthetic and folders; tfds needs tf.data).
        **kwargs: folder options (`cache`, `shuffle`, `progress`, `interpolation`, ...),
            synthetic options (`n`, `data_seed`, ...), tfds options (`splits=(train, val)`,
            `shuffle`, `cache`).

    Returns:
        A `DataBundle` of batched `tf.data.Dataset`s, or `Batches` with the PyDataset loader
        (`val` None when nothing is held out).

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
    path = resolve_loader(loader)
    if kind in ("folder", "csv"):
        folder, labels = _images_and_labels(kind, arg)
        train, val, info = image_folder(
            folder, labels=labels, image_size=image_size or (224, 224), batch_size=batch_size,
            validation_split=validation_split, seed=seed, color_mode=color_mode or "rgb",
            loader=path, **kwargs,
        )
        return DataBundle(train=train, val=val, files={"train": info.train_files, "val": info.val_files,
                                                       "sha256": info.digests},
                          **info.metadata())
    if kind == "tfds":
        if loader == "pydataset":
            raise ValueError(f"{source!r} is a tfds dataset: tfds streams with tf.data "
                             "(pip install tensorflow tensorflow-datasets); loader='pydataset' "
                             "takes digits, synthetic:NAME and folder:PATH.")
        return load_tfds(arg, image_size=image_size, color_mode=color_mode, batch_size=batch_size,
                         validation_split=validation_split, seed=seed, data_dir=data_dir, **kwargs)
    shuffle = kwargs.pop("shuffle", True)
    arrays = load_arrays(source, image_size=image_size, color_mode=color_mode,
                         validation_split=validation_split, seed=seed, **kwargs)
    if path == "pydataset":
        from dlzoo.data.neutral import Batches

        return dataclasses.replace(
            arrays,
            train=Batches(*arrays.train, batch_size=batch_size, shuffle=shuffle, seed=seed),
            val=None if arrays.val is None else Batches(*arrays.val, batch_size=batch_size),
        )
    tf = require_tensorflow(f"dlzoo.data.load({source!r})")
    return dataclasses.replace(
        arrays,
        train=_arrays_dataset(tf, *arrays.train, batch_size, shuffle, seed),
        val=None if arrays.val is None else _arrays_dataset(tf, *arrays.val, batch_size, False, seed),
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

    image_size = check_data_args(image_size=image_size, allow_no_image_size=False)["image_size"]
    root = os.fspath(directory)
    if os.path.isfile(root):
        raise NotADirectoryError(f"{root!r} is a file; pass a folder to write the digits into")
    if os.path.isdir(root) and os.listdir(root) and not overwrite:
        raise ValueError(f"{root!r} is not empty; pass an empty or new folder, or --overwrite "
                         "(overwrite=True) to write into it")
    images, y = digits_images(image_size)
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
