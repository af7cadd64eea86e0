"""Image folders: a class per subfolder, scanned before training so no epoch crashes on a bad file.

    root/
      cat/ 001.jpg 002.png ...
      dog/ 001.jpg nested/002.jpg ...

`scan_folder` walks the folder and decodes every file in parallel (tf.data, with a progress bar). A
file that is empty, truncated, corrupt or not an image is skipped and listed with its reason; one
TensorFlow cannot decode but Pillow can (a CMYK JPEG to grayscale, a TIFF) is decoded by Pillow.
Keras's `image_dataset_from_directory` trusts the file extension and crashes mid-epoch instead.

`image_folder` builds the train/validation `tf.data` pipelines on top. With `cache=True` (default)
the scan's decode *is* the first epoch: the images are resized once, kept as uint8 and every epoch
reads them from memory, so the check costs no second pass over the files. With `cache=False` (folders
larger than memory) or a cache file path, batches are decoded from disk each epoch in parallel.

The validation split is decided per file by a hash of its relative path and the seed, so adding files
never moves an existing file between train and validation.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from dlzoo.data.images import COLOR_MODES, UnusableImage, pil_decode_sized
from dlzoo.data.manifest import content_digest, manifest_hash
from dlzoo.validation import check_data_args

__all__ = ["FolderInfo", "ImageRecord", "ScanReport", "scan_folder", "image_folder", "in_validation"]


# --- the scan ----------------------------------------------------------------------------------


@dataclasses.dataclass
class ImageRecord:
    """One usable file."""

    path: str  # relative to the root, '/'-separated
    label: str  # class folder name
    size: int  # bytes
    sha256: str
    height: int
    width: int
    decoder: str  # "tensorflow" or "pillow"


@dataclasses.dataclass
class ScanReport:
    """What `scan_folder` found: usable files, skipped files with reasons, classes."""

    root: str
    class_folders: list[str]  # every non-hidden subfolder, sorted
    records: list[ImageRecord]  # usable files, sorted by path
    skipped: list[tuple[str, str]]  # (relative path, reason)

    @property
    def counts(self) -> dict[str, int]:
        out = {c: 0 for c in self.class_folders}
        for r in self.records:
            out[r.label] += 1
        return out

    @property
    def class_names(self) -> list[str]:
        """Classes with at least one usable file."""
        return [c for c, n in self.counts.items() if n > 0]

    @property
    def empty_classes(self) -> list[str]:
        return [c for c, n in self.counts.items() if n == 0]

    @property
    def manifest_hash(self) -> str:
        return manifest_hash((r.path, r.size, r.sha256) for r in self.records)

    def duplicates(self) -> list[list[ImageRecord]]:
        """Groups of usable files with identical bytes (two or more per group)."""
        groups: dict[str, list[ImageRecord]] = {}
        for r in self.records:
            groups.setdefault(r.sha256, []).append(r)
        return [g for g in groups.values() if len(g) > 1]

    def require_classes(self) -> None:
        """Raises ValueError when fewer than two classes have usable images."""
        usable = self.class_names
        if len(usable) >= 2:
            return
        found = ", ".join(f"{c!r} ({n})" for c, n in self.counts.items()) or "no subfolders"
        raise ValueError(
            f"{self.root}: an image folder needs at least two class subfolders with usable images; "
            f"found {found}, {len(self.skipped)} file(s) skipped. Put each class's images in its "
            "own subfolder (root/cat/*.jpg, root/dog/*.jpg); run `dlzoo doctor` for the details."
        )


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _list_files(root: str):
    """(class folders, [(rel, label, size)], skipped). Hidden files and folders are ignored."""
    class_folders, entries, skipped = [], [], []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if _is_hidden(entry.name):
            continue
        if entry.is_dir():
            class_folders.append(entry.name)
            for dirpath, dirnames, filenames in os.walk(entry.path):
                dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
                for f in sorted(filenames):
                    if _is_hidden(f):
                        continue
                    full = os.path.join(dirpath, f)
                    rel = os.path.relpath(full, root).replace(os.sep, "/")
                    try:
                        size = os.path.getsize(full)
                    except OSError as e:
                        skipped.append((rel, f"unreadable: {e.strerror or e}"))
                        continue
                    entries.append((rel, entry.name, size))
        else:
            skipped.append((entry.name, "outside any class folder (ignored)"))
    entries.sort()
    return class_folders, entries, skipped


def _progress(enabled: bool, total: int, what: str):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not enabled or total == 0,
    )
    return bar, what


def _tf_available() -> bool:
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


def _decode_tensorflow(root, entries, *, channels, image_size, opts, out, bar, task):
    """Decodes every entry in a parallel tf.data pipeline.

    Returns {index: (sha256, (h, w))} for files TensorFlow decoded and writes their
    pixels into `out[index]` when `out` is given. Files it fails on are absent (`ignore_errors`):
    the caller hands those to Pillow, which decodes them or says why not.
    """
    import tensorflow as tf

    from dlzoo.data.images import tf_decode_fn

    decode = tf_decode_fn(channels, image_size, **opts)

    def load(i, path):
        contents = tf.io.read_file(path)
        img, size = decode(contents)
        return (i, contents, size) + ((img,) if out is not None else ())

    paths = [os.path.join(root, rel) for rel, _, _ in entries]
    ds = tf.data.Dataset.from_tensor_slices((np.arange(len(paths), dtype=np.int64), paths))
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    ds = ds.ignore_errors().batch(64).prefetch(2)
    done = {}
    for batch in ds:
        idx = batch[0].numpy()
        for i, contents, hw in zip(idx, batch[1].numpy(), batch[2].numpy()):
            done[int(i)] = (content_digest(contents), (int(hw[0]), int(hw[1])))
        if out is not None:
            out[idx] = batch[3].numpy()
        bar.advance(task, len(idx))
    return done


def _decode_one_pillow(path, *, channels, image_size, opts, resize_with_tf):
    with open(path, "rb") as f:
        data = f.read()
    img, size = pil_decode_sized(
        data, channels=channels, image_size=image_size, resize=not resize_with_tf, **opts
    )
    return data, img, size


def _scan(path, *, workers=None, progress=True, channels=3, image_size=None, opts=None, keep=False,
          engine="auto"):
    """Scan and (optionally) keep every usable image, resized to `image_size`, as uint8."""
    root = os.fspath(path)
    if not os.path.exists(root):
        raise FileNotFoundError(f"image folder {root!r} does not exist; pass a folder of class subfolders")
    if not os.path.isdir(root):
        raise NotADirectoryError(f"{root!r} is a file; pass a folder of class subfolders")
    root = os.path.abspath(root)
    opts = opts or {}
    class_folders, entries, skipped = _list_files(root)
    out = None
    if keep:
        out = np.zeros((len(entries), *image_size, channels), np.uint8)
    use_tf = engine == "tensorflow" or (engine == "auto" and _tf_available())
    results: dict[int, tuple] = {}
    bar, what = _progress(progress, len(entries), "scan")
    todo = [i for i, (_, _, size) in enumerate(entries) if size > 0]
    for i, (rel, _, size) in enumerate(entries):
        if size == 0:
            skipped.append((rel, "empty file (0 bytes)"))
    with bar:
        task = bar.add_task(f"Scanning {os.path.basename(root)}", total=len(entries))
        bar.advance(task, len(entries) - len(todo))
        if use_tf and todo:
            got = _decode_tensorflow(
                root, [entries[i] for i in todo], channels=channels, image_size=image_size,
                opts=opts, out=None if out is None else _Remap(out, todo), bar=bar, task=task,
            )
            for j, (digest, hw) in got.items():
                results[todo[j]] = (digest, hw, "tensorflow")
        rest = [i for i in todo if i not in results]

        def one(i):
            try:
                data, img, hw = _decode_one_pillow(
                    os.path.join(root, entries[i][0]), channels=channels, image_size=image_size,
                    opts=opts, resize_with_tf=use_tf,
                )
            except UnusableImage as e:
                return i, None, str(e), None
            except OSError as e:
                return i, None, f"unreadable: {e.strerror or e}", None
            return i, data, img, hw

        with ThreadPoolExecutor(max_workers=workers or min(8, (os.cpu_count() or 1) + 2)) as ex:
            for i, data, img, hw in ex.map(one, rest):
                bar.advance(task, 1)
                if data is None:
                    skipped.append((entries[i][0], img))
                    continue
                if out is not None:
                    if use_tf and image_size is not None:
                        from dlzoo.data.images import tf_resize

                        img = tf_resize(img, image_size, **opts).numpy()
                    out[i] = img
                results[i] = (content_digest(data), hw, "pillow")
    records, kept = [], []
    for i, (rel, label, size) in enumerate(entries):
        if i not in results:
            continue
        digest, (h, w), decoder = results[i]
        records.append(ImageRecord(rel, label, size, digest, h, w, decoder))
        kept.append(i)
    skipped.sort()
    report = ScanReport(root, class_folders, records, skipped)
    if out is not None:
        out = _compact(out, kept)
    return report, out


class _Remap:
    """`out[j] = x` for the j-th file handed to TensorFlow writes row `rows[j]` of the full array."""

    def __init__(self, out, rows):
        self.out, self.rows = out, np.asarray(rows)

    def __setitem__(self, j, value):
        self.out[self.rows[j]] = value


def _compact(arr: np.ndarray, keep: list[int]) -> np.ndarray:
    """arr[keep] without a second full-size copy (moves rows down in place)."""
    for new, old in enumerate(keep):
        if new != old:
            arr[new] = arr[old]
    return arr[: len(keep)]


def scan_folder(path, *, workers=None, progress=True) -> ScanReport:
    """Checks every file under `path` (class subfolders) and reports what is usable.

    Every file is decoded in parallel (tf.data; Pillow for what TensorFlow refuses), so a truncated
    or corrupt image is found now rather than in the middle of an epoch.

    Args:
        path: str or PathLike, the root folder whose subfolders are the classes.
        workers: int or None, threads for the Pillow fallback (default: a few per core).
        progress: bool (True), show a progress bar on stderr.

    Returns:
        A `ScanReport`: `records` (usable files with size, sha256, size in pixels), `skipped`
        `(relative path, reason)`, `counts`, `class_names`, `empty_classes`, `duplicates()`.

    Example:
        >>> report = scan_folder("photos/")
        >>> report.counts, report.skipped[:3]
    """
    report, _ = _scan(path, workers=workers, progress=progress)
    return report


def in_validation(rel_path: str, validation_split: float, seed: int = 0) -> bool:
    """Whether a file goes to validation: a hash of its relative path and the seed, not its rank.

    The same file always lands on the same side for a given (split, seed), however many files
    are added or removed around it.
    """
    if validation_split <= 0:
        return False
    digest = hashlib.sha256(f"{int(seed)}\0{rel_path}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < validation_split


# --- the pipeline ------------------------------------------------------------------------------


@dataclasses.dataclass
class FolderInfo:
    """What `image_folder` used: classes, counts, the split, and every file it skipped and why."""

    root: str
    class_names: list[str]  # classes with usable files, sorted; label i is class_names[i]
    counts: dict[str, int]  # usable files per class
    train_files: list[str]  # relative paths, in the order of the unshuffled train set
    val_files: list[str]  # relative paths, in the order of the validation set
    skipped: list[tuple[str, str]]  # (relative path, reason) for every unusable file
    empty_classes: list[str]  # class folders with no usable file (not in class_names)
    image_size: tuple[int, int]
    color_mode: str
    channels: int
    manifest_hash: str  # dlzoo.data.manifest over the files used (path, size, sha256)
    validation_split: float = 0.2
    seed: int = 0
    train_labels: list[int] = dataclasses.field(default_factory=list)
    val_labels: list[int] = dataclasses.field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict:
        """JSON-able summary for a model card (file lists reduced to their counts)."""
        return {
            "root": self.root,
            "class_names": list(self.class_names),
            "num_classes": self.num_classes,
            "counts": dict(self.counts),
            "num_train": len(self.train_files),
            "num_val": len(self.val_files),
            "skipped": [list(s) for s in self.skipped],
            "empty_classes": list(self.empty_classes),
            "image_size": list(self.image_size),
            "color_mode": self.color_mode,
            "channels": self.channels,
            "manifest_hash": self.manifest_hash,
            "validation_split": self.validation_split,
            "seed": self.seed,
        }


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
        validation_split: float (0.2), fraction held out; decided per file by a hash of its path
            and `seed`, so adding files never moves existing ones. 0 gives no validation set.
        seed: int (0), for the split and the shuffle order.
        color_mode: "rgb" (default), "grayscale" or "rgba".
        shuffle: bool (True), reshuffle the training set every epoch (validation is never shuffled).
        cache: True (default) keeps the decoded uint8 images in memory from the scan on; False
            decodes from disk every epoch; a path caches the decoded images in that file.
        progress: bool (True), progress bar on stderr during the scan.
        interpolation: "bilinear" (default), "nearest", "bicubic", "area" or "lanczos3".
        crop_to_aspect_ratio: bool (False), centre-crop to the target aspect ratio before resizing.
        workers: int or None, threads for files TensorFlow cannot decode.

    Returns:
        `(train, val, info)`: `tf.data.Dataset`s (val is None when validation_split is 0 or no
        file falls in it) and a `FolderInfo`.

    Example:
        >>> train, val, info = image_folder("photos/", image_size=(160, 160))
        >>> info.class_names, info.skipped
        >>> model.fit(train, validation_data=val, epochs=5)
    """
    args = check_data_args(
        image_size=image_size, batch_size=batch_size, validation_split=validation_split, seed=seed,
        color_mode=color_mode, interpolation=interpolation, allow_no_image_size=False,
    )
    image_size, color_mode = args["image_size"], args["color_mode"]
    validation_split = args["validation_split"]
    channels = COLOR_MODES[color_mode]
    if not (isinstance(cache, bool) or isinstance(cache, (str, os.PathLike))):
        raise TypeError(f"cache must be True, False or a file path; received {cache!r}.")
    try:
        import tensorflow as tf
    except ImportError:
        raise ImportError(
            "dlzoo.data.image_folder builds tf.data pipelines and needs TensorFlow; on a host "
            "without it use dlzoo.data.load_arrays('folder:PATH', ...) for numpy arrays."
        ) from None

    opts = {"interpolation": interpolation, "crop_to_aspect_ratio": bool(crop_to_aspect_ratio)}
    keep = cache is True
    report, images = _scan(
        path, workers=workers, progress=progress, channels=channels,
        image_size=image_size if keep else None, opts=opts, keep=keep,
    )
    report.require_classes()
    class_names = report.class_names
    label_of = {c: i for i, c in enumerate(class_names)}
    is_val = [in_validation(r.path, validation_split, seed) for r in report.records]
    train_idx = [i for i, v in enumerate(is_val) if not v]
    val_idx = [i for i, v in enumerate(is_val) if v]
    if not train_idx:
        raise ValueError(
            f"{report.root}: every usable file fell in the validation split "
            f"(validation_split={validation_split}); lower validation_split or add images."
        )
    labels = np.array([label_of[r.label] for r in report.records], np.int32)
    info = FolderInfo(
        root=report.root,
        class_names=class_names,
        counts={c: n for c, n in report.counts.items() if n > 0},
        train_files=[report.records[i].path for i in train_idx],
        val_files=[report.records[i].path for i in val_idx],
        skipped=list(report.skipped),
        empty_classes=report.empty_classes,
        image_size=image_size,
        color_mode=color_mode,
        channels=channels,
        manifest_hash=report.manifest_hash,
        validation_split=validation_split,
        seed=seed,
        train_labels=labels[train_idx].tolist(),
        val_labels=labels[val_idx].tolist(),
    )
    if report.empty_classes:
        warnings.warn(
            f"{report.root}: class folder(s) with no usable image left out: "
            f"{', '.join(report.empty_classes)}", stacklevel=2,
        )
    if validation_split > 0 and not val_idx:
        warnings.warn(
            f"{report.root}: no file fell in the validation split ({validation_split}); val is None",
            stacklevel=2,
        )

    def make(idx, training):
        if not idx:
            return None
        if keep:
            return _from_memory(tf, images[idx], labels[idx], batch_size, shuffle and training, seed)
        pil_rows = {i for i, r in enumerate(report.records) if r.decoder == "pillow"}
        return _from_files(
            tf, [os.path.join(report.root, report.records[i].path) for i in idx], labels[idx],
            [i in pil_rows for i in idx], channels=channels, image_size=image_size, opts=opts,
            batch_size=batch_size, shuffle=shuffle and training, seed=seed,
            cache_path=None if isinstance(cache, bool) else os.fspath(cache) + ("" if training else ".val"),
        )

    train = make(train_idx, True)
    val = make(val_idx, False)
    return train, val, info


def _from_memory(tf, images, labels, batch_size, shuffle, seed):
    """Batches gathered from uint8 tensors held in memory; cast to float32 per batch."""
    x = tf.convert_to_tensor(images)
    y = tf.convert_to_tensor(labels)
    n = int(images.shape[0])
    ds = tf.data.Dataset.range(n)
    if shuffle:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    ds = ds.map(
        lambda i: (tf.cast(tf.gather(x, i), tf.float32), tf.gather(y, i)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return ds.prefetch(tf.data.AUTOTUNE)


def _from_files(tf, paths, labels, use_pillow, *, channels, image_size, opts, batch_size, shuffle,
                seed, cache_path):
    """Decodes from disk each epoch (or once into a cache file), in parallel."""
    from dlzoo.data.images import pil_decode, tf_decode_fn, tf_resize

    decode = tf_decode_fn(channels, image_size, **opts)

    def pillow(path):
        with open(path.decode() if isinstance(path, bytes) else path, "rb") as f:
            return pil_decode(f.read(), channels=channels, image_size=None, resize=False)

    def load(path, label, by_pillow):
        def with_pillow():
            img = tf.numpy_function(pillow, [path], tf.uint8, stateful=False)
            img = tf.ensure_shape(img, (None, None, channels))
            return tf_resize(img, image_size, **opts)

        img = tf.cond(by_pillow, with_pillow, lambda: decode(tf.io.read_file(path))[0])
        return img, label

    ds = tf.data.Dataset.from_tensor_slices((paths, labels, use_pillow))
    n = len(paths)
    if shuffle and not cache_path:
        ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    # Every file was decoded by the scan; one changed or removed since is dropped, not a crash.
    ds = ds.ignore_errors(log_warning=True)
    if cache_path:
        ds = ds.cache(cache_path)
        if shuffle:
            ds = ds.shuffle(min(n, 20 * batch_size), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    ds = ds.map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
