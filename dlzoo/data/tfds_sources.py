"""tensorflow-datasets sources for `dlzoo.data.load`: the usual splits, preprocessing, and a fast
offline failure.

tfds retries a failed download for minutes. Before letting it try, `load_tfds` checks whether the
dataset is already prepared under `data_dir`, and if not, whether the download host answers within a
few seconds (`DLZOO_OFFLINE=1` skips the probe); otherwise it raises ConnectionError with the command
that prepares the data elsewhere and where to copy it.
"""

from __future__ import annotations

import difflib
import os
from urllib.parse import urlsplit

from dlzoo.data import synthetic
from dlzoo.data.bundle import DataBundle, reject_unexpected, require_tensorflow
from dlzoo.data.images import channels_for, tf_resize, tf_to_channels
from dlzoo.data.manifest import manifest_hash
from dlzoo.network import PROBE_TIMEOUT_S, network_available

__all__ = ["KNOWN_SPLITS", "NETWORK_PROBE_URL", "data_dir_root", "load_tfds"]

# The usual (train, validation) splits. Datasets with only a train split hold out its last
# `validation_split` fraction; unknown names use "validation" or "test" when tfds has one.
KNOWN_SPLITS = {
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
NETWORK_PROBE_URL = "https://storage.googleapis.com/"


def own_names() -> dict[str, str]:
    """dlzoo's own source names (not tfds's) that need no tfds, as a bare word (`shapes`) mapped to the
    source to write (`synthetic:shapes`): digits, the synthetic tasks, the grammar corpus."""
    out = {"digits": "digits", "grammar": "grammar"}
    out.update({k: f"synthetic:{k}" for k in synthetic.describe()})
    return out


def _tfds_builder(name, data_dir):
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ImportError(
            f"{name!r} is no folder in {os.getcwd()}, and loading it as a tfds dataset needs "
            "tensorflow-datasets (pip install tensorflow-datasets); 'digits', 'synthetic:NAME' "
            "and 'folder:PATH' work without it."
        ) from None
    try:
        return tfds.builder(name, data_dir=data_dir)
    except Exception as e:  # tfds raises its own DatasetNotFoundError, or others for bad configs
        if type(e).__name__ != "DatasetNotFoundError":
            raise
        own = own_names()
        close = difflib.get_close_matches(name.split("/")[0], [*own, *tfds.list_builders()],
                                          n=5)
        close = list(dict.fromkeys(own.get(c, c) for c in close))  # shapes: synthetic:shapes
        hint = f" Close matches: {', '.join(close)}." if close else ""
        raise ValueError(
            f"unknown dataset {name!r}: not a tfds name, nor digits, synthetic:NAME or folder:PATH."
            f"{hint} No folder named {name!r} in {os.getcwd()} either."
        ) from None


def data_dir_root(builder) -> str:
    """The `data_dir` a builder's files live under, for any config depth: `builder.data_dir` is
    `ROOT/NAME/VERSION` or `ROOT/NAME/CONFIG/VERSION` (`imdb_reviews/plain_text/1.0.0`), i.e.
    ROOT joined with `builder.info.full_name`; `tfds build NAME --data_dir ROOT` writes there."""
    root = getattr(builder, "data_dir_root", None)
    if root:
        return os.fspath(root)
    path = os.fspath(builder.data_dir).rstrip("/")
    for _ in builder.info.full_name.strip("/").split("/"):
        path = os.path.dirname(path)
    return path


def _ensure_prepared(builder, name, data_dir):
    if builder.is_prepared():
        return
    where = data_dir_root(builder)
    if not network_available(NETWORK_PROBE_URL, PROBE_TIMEOUT_S):
        raise ConnectionError(
            f"dataset {name!r} is not prepared under {builder.data_dir} and the download host "
            f"({urlsplit(NETWORK_PROBE_URL).hostname}) cannot be reached. On a machine with internet run "
            f"`tfds build {name} --data_dir {where}` (or python -c \"import tensorflow_datasets as "
            f"tfds; tfds.load('{name}', data_dir='{where}')\") and copy its {where}/{builder.name} "
            f"folder to {where}/ on this machine (or pass data_dir=... to where it is); or use "
            "'digits' or 'folder:PATH', which need no download."
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
    train, val = KNOWN_SPLITS.get(builder.name, (None, None))
    if train is None:
        available = set(builder.info.splits)
        if builder.name not in KNOWN_SPLITS and "train" in available:
            for candidate in ("validation", "test"):
                if candidate in available:
                    return "train", candidate
        if validation_split <= 0:
            return "train", None
        pct = round(100 * (1 - validation_split))
        return f"train[:{pct}%]", f"train[{pct}%:]"
    return train, (val if validation_split > 0 else None)


def load_tfds(name, *, image_size, color_mode, batch_size, validation_split, seed, data_dir,
               splits=None, shuffle=True, cache=False, **kwargs):
    reject_unexpected(kwargs, name)
    tf = require_tensorflow(f"{name!r} is no folder in {os.getcwd()}, and as a tfds dataset it")

    builder = _tfds_builder(name, data_dir)
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
        channels = channels_for(color_mode) if color_mode else (native[-1] or 3)
        if image_size is None:
            image_size = native[:2] if None not in native[:2] else (224, 224)
        image_size = tuple(int(s) for s in image_size)

        def prep(x, y):
            x = tf_to_channels(tf.cast(x, tf.uint8), channels)
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
        ds = ds.map(tf.autograph.experimental.do_not_convert(prep),
                    num_parallel_calls=tf.data.AUTOTUNE)
        if cache:  # a buffer first, or autotuning starves the parallel map (see data.scan._tf_pass)
            ds = ds.prefetch(16).cache()
        if training and shuffle:
            ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    return DataBundle(
        train=make(train_split, True), val=make(val_split, False), class_names=class_names,
        num_classes=num_classes, input_shape=input_shape, source=builder.name,
        manifest_hash=_tfds_manifest(builder, name, (train_split, val_split)), skipped=[],
        value_range=value_range, details=details,
    )
