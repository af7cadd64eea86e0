"""Image folders: a class per subfolder, checked before training so no epoch crashes on a bad file.

    root/
      cat/ 001.jpg 002.png ...
      dog/ 001.jpg nested/002.jpg ...

`image_folder` scans the folder first (dlzoo.data.scan: every file decoded in parallel, with a
progress bar; unusable files skipped and listed with the reason), then returns train/validation
`tf.data` pipelines. Keras's `image_dataset_from_directory` trusts file extensions and crashes
mid-epoch on a corrupt JPEG instead.

With `cache=True` (default) the scan's decode *is* the first pass: each image is decoded and resized
once into a tf.data in-memory cache (uint8) that the training pipeline reads, so the check costs no
second pass over the files, as long as the decoded images fit `cache_budget` (default a quarter of
the available memory); past it, or with `cache=False` or a cache file path, batches are decoded
from disk each epoch, in parallel, and a one-line warning says so.

The validation split is stratified per class and decided per file by a hash of its relative path and
the seed (`scan.split_sides`), so adding files never moves an existing file between train and
validation, and every class with two usable files or more has one on each side.
"""

from __future__ import annotations

import os

import numpy as np

from dlzoo.backends import resolve_loader
from dlzoo.data.bundle import require_tensorflow
from dlzoo.data.images import channels_for, pil_decode, tf_decode_fn
from dlzoo.data.scan import (
    ImageRecord,
    ScanReport,
    in_validation,
    scan,
    scan_folder,
    split_sides,
)
from dlzoo.data.split import FolderInfo, require_training_images, split_scan
from dlzoo.validation import check_data_args

__all__ = [
    "FolderInfo",
    "ImageRecord",
    "ScanReport",
    "image_folder",
    "in_validation",
    "require_training_images",
    "scan_folder",
    "split_sides",
]


# --- the pipeline ------------------------------------------------------------------------------


def image_folder(
    path,
    image_size=(224, 224),
    batch_size=32,
    validation_split=0.2,
    seed=0,
    color_mode="rgb",
    *,
    shuffle=True,
    cache=True,
    progress=True,
    interpolation="bilinear",
    crop_to_aspect_ratio=False,
    workers=None,
    cache_budget=None,
    max_pixels=None,
    loader="auto",
):
    """Train and validation `tf.data` pipelines over a folder of class subfolders.

    Every file is checked first (see `scan_folder`); unusable ones are skipped and listed in
    `info.skipped` with the reason, so training never stops on one. Grayscale, RGBA, palette,
    16-bit and CMYK images are converted to `color_mode`. Batches are `(images, labels)`: images
    float32 in [0, 255] of shape (batch, height, width, channels), labels int32 class indices.

    Args:
        path: str or PathLike, root folder; each non-hidden subfolder is a class (nested folders
            inside a class belong to it).
        image_size: (int, int) (224, 224), (height, width) to resize to.
        batch_size: int (32).
        validation_split: float (0.2), fraction held out, per class; decided per file by a hash
            of its path and `seed`, so adding files never moves existing ones; every class with
            two files or more gets one on each side. 0 gives no validation set.
        seed: int (0), for the split and the shuffle order.
        color_mode: "rgb" (default), "grayscale" or "rgba".
        shuffle: bool (True), reshuffle the training set every epoch (validation is never shuffled).
        cache: True (default) keeps the decoded uint8 images in memory from the scan on, while
            they fit `cache_budget`; False decodes from disk every epoch; a path caches the
            decoded images in that file.
        progress: bool (True), progress bar on stderr during the scan.
        interpolation: "bilinear" (default), "nearest", "bicubic", "area" or "lanczos3".
        crop_to_aspect_ratio: bool (False), centre-crop to the target aspect ratio before resizing.
        workers: int or None, threads decoding with Pillow what TensorFlow does not (default: up
            to 4); files are read, hashed and sniffed in one thread (the GIL: threads were slower).
        cache_budget: int or None, bytes the in-memory cache may take (default: a quarter of the
            available memory); a folder needing more streams from disk, with a warning.
        max_pixels: int or None, files declaring more pixels are skipped without being decoded
            (default `dlzoo.data.sniff.MAX_PIXELS`, about 89 million).
        loader: "auto" (default: tf.data where TensorFlow is installed, else "pydataset"),
            "tf.data" or "pydataset" (`dlzoo.data.neutral`: a `keras.utils.PyDataset` any
            backend's `fit` takes, the same split, batches and info).

    Returns:
        `(train, val, info)`: `tf.data.Dataset`s (`dlzoo.data.neutral.Batches` with the
        PyDataset loader; val is None when validation_split is 0 or no file falls in it) and a
        `FolderInfo`.

    Example:
        >>> train, val, info = image_folder("photos/", image_size=(160, 160))
        >>> info.class_names, info.skipped
        >>> model.fit(train, validation_data=val, epochs=5)
    """
    if resolve_loader(loader) == "pydataset":
        from dlzoo.data import neutral  # imports Keras (a PyDataset); this module does not

        return neutral.image_folder(
            path, image_size, batch_size, validation_split, seed, color_mode, shuffle=shuffle,
            cache=cache, progress=progress, interpolation=interpolation,
            crop_to_aspect_ratio=crop_to_aspect_ratio, workers=workers, cache_budget=cache_budget,
            max_pixels=max_pixels)
    args = check_data_args(
        image_size=image_size, batch_size=batch_size, validation_split=validation_split, seed=seed,
        color_mode=color_mode, interpolation=interpolation, allow_no_image_size=False,
    )
    image_size, color_mode = args["image_size"], args["color_mode"]
    validation_split = args["validation_split"]
    if not isinstance(cache, (bool, str, os.PathLike)):
        raise TypeError(f"cache must be True, False or a file path; received {cache!r}.")
    tf = require_tensorflow("dlzoo.data.image_folder")
    opts = {"interpolation": interpolation, "crop_to_aspect_ratio": bool(crop_to_aspect_ratio)}
    report, kept = scan(
        path, workers=workers, progress=progress, channels=channels_for(color_mode),
        image_size=image_size, opts=opts, keep="tfcache" if cache is True else None,
        max_pixels=max_pixels, cache_budget=cache_budget,
    )
    order, info = split_scan(report, kept, image_size=image_size, color_mode=color_mode,
                             validation_split=validation_split, seed=seed)
    pipes = {
        group: _pipeline(tf, group, report, kept, info, order, batch_size=batch_size,
                         shuffle=shuffle and group == "train", cache=cache, opts=opts)
        for group in ("train", "val")
    }
    return pipes["train"], pipes["val"], info


def _pipeline(tf, group, report, kept, info, order, *, batch_size, shuffle, cache, opts):
    """One side's batches: from the scan's in-memory cache (`kept`) or decoded from the files."""
    files = info.train_files if group == "train" else info.val_files
    if not files:
        return None
    if kept is not None:
        return _from_cache(tf, kept, order[group], info.class_names, info.input_shape,
                           batch_size=batch_size, shuffle=shuffle, seed=info.seed)
    labels = info.train_labels if group == "train" else info.val_labels
    records = [report.records[i] for i in order[group]]
    return _from_files(
        tf, [os.fsencode(r.fs_path) for r in records], np.array(labels, np.int32),
        [r.route for r in records], channels=info.channels,
        image_size=info.image_size, opts=opts, batch_size=batch_size, shuffle=shuffle,
        seed=info.seed,
        cache_path=None if isinstance(cache, bool) else os.fspath(cache) + ("" if group == "train" else ".val"),
    )


def _from_cache(tf, kept, indices, class_names, input_shape, *, batch_size, shuffle, seed):
    """The scan's filled in-memory cache (plus Pillow's images), one side of it, shuffled, batched."""
    plain = tf.autograph.experimental.do_not_convert  # no Python control flow to convert
    ds = kept["dataset"]
    extra = kept["fallback"]
    if extra:
        rows, imgs, labels, sizes = zip(*extra)
        more = tf.data.Dataset.from_tensor_slices(
            (np.stack(imgs), np.array(labels, np.int32), np.array(rows, np.int64),
             np.array(sizes, np.int32))
        )
        ds = more if ds is None else ds.concatenate(more)
    # rows of this side (the cache holds both sides; filtering it costs a pass over pointers)
    rows = kept["rows"]  # record index -> the scan's row number, which the cached elements carry
    if len(indices) < len(rows):
        side = np.zeros(max(rows, default=0) + 1, bool)
        side[[rows[i] for i in indices]] = True
        side = tf.constant(side)
        ds = ds.filter(plain(lambda img, label, row, size: tf.gather(side, row)))
    # The cache holds exactly these rows, but `filter` (and the scan's ignore_errors) leave the
    # count unknown to tf.data, and Keras then finds the end of an epoch by running out of data
    # ("Your input ran out of data; interrupting training"), or, given steps_per_epoch, starts
    # the next epoch on the spent iterator.
    ds = ds.apply(tf.data.experimental.assert_cardinality(len(indices)))
    if shuffle:
        ds = ds.shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)
    # folder index -> class index (a folder with no usable file has no rows, but shifts indices)
    folders = sorted(kept["folder_index"], key=kept["folder_index"].get)
    table = np.array([class_names.index(f) if f in class_names else -1 for f in folders], np.int32)
    identity = np.array_equal(table, np.arange(len(table)))
    table = tf.constant(table)

    def finish(img, label, row, size):  # per batch, not per image: fewer steps per element
        img = tf.ensure_shape(img, (None, *input_shape))  # files decoded at the size skip resize
        return tf.cast(img, tf.float32), label if identity else tf.gather(table, label)

    # Parallel batching: copying images out of the cache is this pipeline's only real work.
    ds = ds.batch(batch_size, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(plain(finish), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _from_files(tf, paths, labels, routes, *, channels, image_size, opts, batch_size, shuffle,
                seed, cache_path):
    """Decodes from disk each epoch (or once into a cache file), in parallel."""
    plain = tf.autograph.experimental.do_not_convert  # no Python control flow to convert
    decode = tf_decode_fn(channels, image_size, **opts)

    def pillow(path):
        with open(path, "rb") as f:  # bytes path: any file name
            return pil_decode(f.read(), channels=channels, image_size=image_size, **opts)

    def load(path, label, route):
        def with_pillow():
            img = tf.numpy_function(pillow, [path], tf.uint8, stateful=False)
            return tf.ensure_shape(img, (*image_size, channels))

        img = tf.cond(route < 0, with_pillow, lambda: decode(tf.io.read_file(path), route)[0])
        return img, label

    ds = tf.data.Dataset.from_tensor_slices((paths, labels, np.asarray(routes, np.int32)))
    n = len(paths)
    if shuffle and not cache_path:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(plain(load), num_parallel_calls=tf.data.AUTOTUNE)
    if cache_path:  # a buffer before the cache, or autotuning starves the decode (see scan._tf_pass)
        ds = ds.prefetch(16)
    # Every file was decoded by the scan; one changed or removed since is dropped, not a crash.
    ds = ds.ignore_errors(log_warning=True)
    if cache_path:
        ds = ds.cache(cache_path)
        if shuffle:
            ds = ds.shuffle(min(n, 20 * batch_size), seed=seed, reshuffle_each_iteration=True)
    # ignore_errors leaves the length unknown to tf.data (Keras then runs each epoch out of data,
    # or, given steps_per_epoch, trains nothing in every other epoch). The scan read all n files,
    # so an epoch is n images: said by take(n), over repeat() so that a file spoilt since is
    # made up by the next pass's first image instead of ending the epoch early.
    ds = ds.repeat().take(n)
    ds = ds.batch(batch_size)
    ds = ds.map(plain(lambda x, y: (tf.cast(x, tf.float32), y)), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
