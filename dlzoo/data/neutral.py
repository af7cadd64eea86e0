"""The backend-neutral input path: batches for `model.fit` on TensorFlow, JAX and PyTorch alike,
without TensorFlow installed. A `keras.utils.PyDataset` (worker threads, prefetching), which every
Keras 3 backend's `fit`, `evaluate` and `predict` take.

It gives what the tf.data path gives (dlzoo.data.folders / datasets): the same scan and skip
list, the same stratified hash-of-path split, the same `FolderInfo` and manifest hash, batches of
float32 images in [0, 255] with int32 labels; the training side is reshuffled each epoch (seeded:
epoch e's order is a permutation drawn from `(seed, e)`), validation is never shuffled.
Augmentation is in the model (Keras preprocessing layers, dlzoo.augmentation), so it is the same.

Images are kept decoded in memory (uint8) while they fit `cache_budget` (a quarter of the
available memory by default); past it, or with `cache=False`, each batch is decoded from its files
(Pillow) in the worker threads, and a file that can no longer be read is left out of its batch
with a warning, as tf.data's `ignore_errors` does. Without TensorFlow the scan decodes with Pillow
(with it, with TensorFlow's decoders where they give Pillow's pixels, as the tf.data path does),
and every path resizes with Pillow (`dlzoo.data.images.resize_array`): the same pixels on every
host.

Why PyDataset rather than grain: measured (`python -m benchmarks run neutral_loader`, 1,000
160-px JPEGs, 2 worker threads, 2 shared cores, benchmarks/RESULTS.md): an epoch decoded from
the files took 0.54 s with PyDataset and 1.09 s with grain, from memory 0.065 s and 0.235 s; and
PyDataset needs no package beyond Keras.

    >>> from dlzoo.data import load
    >>> data = load("digits", loader="pydataset")        # the default where TensorFlow is absent
    >>> model.fit(data.train, validation_data=data.val, epochs=5)
"""

from __future__ import annotations

import math
import os
import warnings

import keras
import numpy as np

from dlzoo.data.images import UnusableImage, channels_for, pil_decode
from dlzoo.data.scan import available_memory, listing, scan
from dlzoo.data.split import split_scan
from dlzoo.validation import check_data_args

__all__ = ["Batches", "FileImages", "Mapped", "image_folder"]


class FileImages:
    """Images decoded from their files on demand (Pillow), resized to `image_size`; indexable by
    an array of positions like the in-memory uint8 array it stands in for."""

    def __init__(self, paths, *, channels, image_size, opts):
        self.paths = list(paths)
        self.channels, self.image_size, self.opts = channels, tuple(image_size), dict(opts)
        self._warned = set()

    def __len__(self):
        return len(self.paths)

    def take(self, positions) -> tuple[np.ndarray, np.ndarray]:
        """(uint8 images, the positions that decoded): a file changed or removed since the scan is
        left out with a one-time warning, as tf.data's `ignore_errors` leaves it out."""
        out, ok = [], []
        for p in positions:
            path = self.paths[p]
            try:
                with open(path, "rb") as f:
                    img = pil_decode(f.read(), channels=self.channels, image_size=self.image_size,
                                     **self.opts)
            except (OSError, UnusableImage) as e:
                if path not in self._warned:
                    self._warned.add(path)
                    warnings.warn(f"{path}: left out of its batch, no longer readable: {e}",
                                  stacklevel=2)
                continue
            out.append(img)
            ok.append(p)
        shape = (0, *self.image_size, self.channels)
        return (np.stack(out) if out else np.zeros(shape, np.uint8)), np.asarray(ok, np.int64)


class Batches(keras.utils.PyDataset):
    """Batches `(x, y int32)` of `images[index]` for `fit`/`evaluate`/`predict` on any backend: x
    is uint8 when the images are (cast to float32 by the model, on the device), float32 otherwise.

    Args:
        images: a numpy array (N, ...) (uint8 or float32) or a `FileImages`.
        labels: int array (N,) aligned with `images`, or float (N, classes) multi-hot rows.
        index: positions into `images` that this side uses, in unshuffled order (default: all).
        batch_size: int (32).
        shuffle: bool (False); True reshuffles `index` every epoch from `(seed, epoch)`.
        seed: int (0).
        workers: int (1), threads preparing batches ahead of the model (PyDataset's `workers`).

    Also offers the few `tf.data.Dataset` methods dlzoo's tools read: `cardinality()` and
    `as_numpy_iterator()`; plain iteration yields one epoch in order.

    In a multi-process run (`divisible(..., shard=(index, count))`) indexing, what Keras's
    `fit` and `evaluate` read, gives this process's slice of each global batch (process p the
    p-th of `count` equal parts, Keras's `distribution.auto_shard_dataset = False` contract);
    iteration still yields whole batches (for dlzoo's own evaluation, which every process
    runs on the whole batch).
    """

    def __init__(self, images, labels, index=None, *, batch_size=32, shuffle=False, seed=0,
                 workers=1, max_queue_size=10):
        super().__init__(workers=workers, use_multiprocessing=False, max_queue_size=max_queue_size)
        self.images = images
        labels = np.asarray(labels)  # class indices, or multi-hot rows (multi-label data)
        self.labels = labels.astype(np.float32 if labels.ndim == 2 else np.int32, copy=False)
        self.index = np.arange(len(self.labels)) if index is None else np.asarray(index, np.int64)
        self.batch_size, self.shuffle, self.seed = int(batch_size), bool(shuffle), int(seed)
        self.epoch = 0
        self.drop_remainder = False
        self.shard = None  # (process index, process count): Keras reads this process's slice
        self._order = self._epoch_order()

    def _epoch_order(self) -> np.ndarray:
        if not self.shuffle:
            return self.index
        return np.random.default_rng((self.seed, self.epoch)).permutation(self.index)

    def __len__(self):
        if self.drop_remainder:
            return len(self.index) // self.batch_size
        return math.ceil(len(self.index) / self.batch_size)

    def __getitem__(self, i):
        return self._batch(i, self.shard)

    def _rows(self, i, shard=None) -> np.ndarray:
        """The example indices of batch `i`: this epoch's order, cut to this process's equal
        part of the global batch when `shard` is `(process index, process count)`."""
        if not 0 <= i < len(self):
            raise IndexError(f"batch {i} of {len(self)}")
        rows = self._order[i * self.batch_size : (i + 1) * self.batch_size]
        if shard is not None:  # this process's equal part of the global batch
            each = len(rows) // shard[1]
            rows = rows[shard[0] * each : (shard[0] + 1) * each]
        return rows

    def _batch(self, i, shard=None):
        """Batch `i` as `(x, y)` arrays (what indexing and iteration both return; a subclass
        that reads other arrays overrides this, not `__getitem__`)."""
        rows = self._rows(i, shard)
        if isinstance(self.images, FileImages):
            x, rows = self.images.take(rows)
        else:
            x = self.images[rows]
        # uint8 images travel as uint8, a quarter of float32's bytes: the model's input layer
        # casts them to float32 on the device (benchmarks/input_rate.py)
        return (x if x.dtype == np.uint8 else x.astype(np.float32, copy=False)), self.labels[rows]

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._epoch_order()

    def set_epoch(self, epoch: int) -> None:
        """Draws the order of epoch `epoch` (0-based), as PyTorch's `sampler.set_epoch`.

        Counting `on_epoch_end` calls does not give Keras's epoch: Keras also ends an "epoch"
        when it resets its iterator after reading a first batch to build the metrics, which a
        fit resumed from a backup does not do. `dlzoo.callbacks.RunBackup` calls this at the
        start of each of Keras's epochs, so epoch e of a run, resumed or not, reads order e."""
        self.epoch = int(epoch)
        self._order = self._epoch_order()

    def __iter__(self):
        for i in range(len(self)):
            yield self._batch(i)

    def cardinality(self) -> int:
        """Batches per epoch (tf.data's name for it)."""
        return len(self)

    def as_numpy_iterator(self):
        return iter(self)

    def divisible(self, replicas: int, *, drop_remainder: bool, shard=None):
        """A copy for a data-parallel `fit` over `replicas` devices: with `drop_remainder` every
        batch is full (the training side: a different remainder each epoch, as it reshuffles);
        without, the last `len % replicas` examples are left out (validation). `shard`:
        `(process index, process count)` of a multi-process run, whose `replicas` (all the
        devices of every process) are a multiple of the count, so every slice is equal."""
        index = self.index
        if not drop_remainder:
            index = index[: len(index) - len(index) % replicas]
        out = Batches(self.images, self.labels, index, batch_size=self.batch_size,
                      shuffle=self.shuffle, seed=self.seed, workers=self.workers,
                      max_queue_size=self.max_queue_size)
        out.drop_remainder = drop_remainder
        out.shard = None if shard is None else (int(shard[0]), int(shard[1]))
        return out

    def map(self, fn) -> Mapped:
        """Batches passed through `fn(x, y)` (tf.data's `map`, per batch), e.g. an autoencoder's
        `lambda x, y: (x, x / 255)`."""
        return Mapped(self, fn)


class Mapped(keras.utils.PyDataset):
    """A `Batches` (or another `Mapped`) whose batches pass through `fn(*batch)`."""

    def __init__(self, base, fn):
        super().__init__(workers=base.workers, use_multiprocessing=False,
                         max_queue_size=base.max_queue_size)
        self.base, self.fn = base, fn

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        return self.fn(*self.base[i])

    def on_epoch_end(self):
        self.base.on_epoch_end()

    def __iter__(self):
        for batch in self.base:  # whole batches, as the base yields them
            yield self.fn(*batch)

    cardinality = Batches.cardinality
    as_numpy_iterator = Batches.as_numpy_iterator
    map = Batches.map


def image_folder(path, image_size=(224, 224), batch_size=32, validation_split=0.2, seed=0,
                 color_mode="rgb", *, shuffle=True, cache=True, progress=True,
                 interpolation="bilinear", crop_to_aspect_ratio=False, workers=None,
                 cache_budget=None, max_pixels=None, labels=None):
    """`dlzoo.data.image_folder` on the backend-neutral path: `(train, val, FolderInfo)` with
    `Batches` in place of `tf.data.Dataset`s (same arguments, same split, same info).

    `cache`: True keeps the decoded images in memory while they fit `cache_budget` bytes (default
    a quarter of the available memory), else streams with a warning; False streams from the files
    each epoch. A cache file (a path) is a tf.data feature: TypeError.
    """
    args = check_data_args(
        image_size=image_size, batch_size=batch_size, validation_split=validation_split, seed=seed,
        color_mode=color_mode, interpolation=interpolation, allow_no_image_size=False,
    )
    image_size, color_mode = args["image_size"], args["color_mode"]
    validation_split = args["validation_split"]
    if not isinstance(cache, bool):
        raise TypeError(f"cache={cache!r}: a cache file is a tf.data feature (pip install "
                         "tensorflow); on the PyDataset path use cache=True (memory) or False.")
    channels = channels_for(color_mode)
    opts = {"interpolation": interpolation, "crop_to_aspect_ratio": bool(crop_to_aspect_ratio)}
    in_memory = cache
    if cache:
        files = len(listing(path, labels)[2])
        need = files * image_size[0] * image_size[1] * channels
        budget = available_memory() // 4 if cache_budget is None else int(cache_budget)
        if need > budget:
            in_memory = False
            warnings.warn(
                f"{path}: {files} images at {image_size[0]}x{image_size[1]}x{channels} need "
                f"{need / 2**20:,.0f} MiB decoded, over the cache budget of {budget / 2**20:,.0f} "
                "MiB; decoding them from disk each epoch (set cache_budget= to change this)",
                stacklevel=2)
    report, kept = scan(path, workers=workers, progress=progress, channels=channels,
                        image_size=image_size, opts=opts, keep="arrays" if in_memory else None,
                        max_pixels=max_pixels, labels=labels)
    order, info = split_scan(report, None, image_size=image_size, color_mode=color_mode,
                             validation_split=validation_split, seed=seed)
    targets = report.targets(range(len(report.records)), report.class_names)
    if in_memory:
        images = kept
    else:
        images = FileImages([r.fs_path for r in report.records], channels=channels,
                            image_size=image_size, opts=opts)
    threads = workers or (1 if in_memory else min(4, os.cpu_count() or 1))
    sides_out = {
        g: Batches(images, targets, order[g], batch_size=batch_size, shuffle=shuffle and g == "train",
                   seed=seed, workers=threads) if order[g] else None
        for g in ("train", "val")
    }
    return sides_out["train"], sides_out["val"], info
