"""The scan: every file under a folder of class subfolders decoded once, in parallel, and judged.

A file that is empty, truncated, corrupt or not an image is skipped with its reason. TensorFlow
decodes in a parallel tf.data pipeline (the C++ decoders Keras uses); a file it refuses goes to
Pillow, which either decodes it (a CMYK JPEG to grayscale, a TIFF) or says why it cannot. Content
hashes (sha256) are computed by a thread pool alongside, for the manifest and for duplicates.

The scan can keep what it decoded, so checking costs no second pass over the files:
`keep="arrays"` returns a uint8 numpy array, `keep="tfcache"` leaves the images in tf.data in-memory
caches that become the training pipeline (see folders.image_folder).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from dlzoo.data.images import UnusableImage, pil_decode_sized
from dlzoo.data.manifest import content_digest, manifest_hash

__all__ = ["ImageRecord", "ScanReport", "in_validation", "scan_folder"]


@dataclasses.dataclass
class ImageRecord:
    """One usable file."""

    path: str  # relative to the root, '/'-separated
    label: str  # class folder name
    size: int  # bytes
    sha256: str
    height: int  # as stored, before any resize
    width: int
    decoder: str  # "tensorflow" or "pillow"


@dataclasses.dataclass
class ScanReport:
    """What the scan found: usable files, skipped files with reasons, classes."""

    root: str
    class_folders: list[str]  # every non-hidden subfolder, sorted
    records: list[ImageRecord]  # usable files, sorted by path
    skipped: list[tuple[str, str]]  # (relative path, reason), sorted

    @property
    def counts(self) -> dict[str, int]:
        out = {c: 0 for c in self.class_folders}
        for r in self.records:
            out[r.label] += 1
        return out

    @property
    def class_names(self) -> list[str]:
        """Classes with at least one usable file, sorted."""
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
        if len(self.class_names) >= 2:
            return
        found = ", ".join(f"{c!r} ({n})" for c, n in self.counts.items()) or "no subfolders"
        raise ValueError(
            f"{self.root}: an image folder needs at least two class subfolders with usable images; "
            f"found {found}, {len(self.skipped)} file(s) skipped. Put each class's images in its "
            "own subfolder (root/cat/*.jpg, root/dog/*.jpg); run `dlzoo doctor` for the details."
        )


def in_validation(rel_path: str, validation_split: float, seed: int = 0) -> bool:
    """Whether a file goes to validation: a hash of its relative path and the seed, not its rank.

    The same file always lands on the same side for a given (split, seed), however many files
    are added or removed around it.
    """
    if validation_split <= 0:
        return False
    digest = hashlib.sha256(f"{int(seed)}\0{rel_path}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < validation_split


# --- listing ---------------------------------------------------------------------------------------


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _list_files(root: str):
    """(class folders, [(rel, class, size)] sorted, skipped). Hidden files and folders are ignored."""
    class_folders, entries, skipped = [], [], []
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if _is_hidden(entry.name):
            continue
        if not entry.is_dir():
            skipped.append((entry.name, "outside any class folder (ignored)"))
            continue
        class_folders.append(entry.name)
        for dirpath, dirnames, filenames in os.walk(entry.path):
            dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
            for f in filenames:
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
    entries.sort()
    return class_folders, entries, skipped


def _check_root(path) -> str:
    root = os.fspath(path)
    if not os.path.exists(root):
        raise FileNotFoundError(f"image folder {root!r} does not exist; pass a folder of class subfolders")
    if not os.path.isdir(root):
        raise NotADirectoryError(f"{root!r} is a file; pass a folder of class subfolders")
    return os.path.abspath(root)


def _progress(enabled: bool, total: int):
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not enabled or total == 0,
    )


def _tf_available() -> bool:
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


def _hash_files(root: str, rels: list[str]) -> list[str | None]:
    out = []
    for rel in rels:
        try:
            with open(os.path.join(root, rel), "rb") as f:
                out.append(content_digest(f.read()))
        except OSError:
            out.append(None)
    return out


# --- the TensorFlow engine -------------------------------------------------------------------------


def _tf_pass(root, entries, rows, groups, *, channels, image_size, opts, keep, out, bar, task):
    """Decodes `rows` of `entries` in tf.data; returns ({row: (h, w)}, {group: cached dataset}).

    Rows TensorFlow cannot decode are absent from the result (`ignore_errors`) and go to Pillow.
    With keep="tfcache" each group (e.g. train / val) gets its own pipeline ending in an in-memory
    `cache()` of `(image uint8, class folder index, row, (h, w))`; this pass fills the cache.
    """
    import tensorflow as tf

    from dlzoo.data.images import tf_decode_fn

    decode = tf_decode_fn(channels, image_size if keep else None, **opts)
    folder_index = {c: i for i, c in enumerate(sorted({e[1] for e in entries}))}

    def load(row, path, label):
        img, size = decode(tf.io.read_file(path))
        return img, label, row, size

    done, cached, parts = {}, {}, []
    for group, group_rows in groups.items():
        if not group_rows:
            continue
        paths = [os.path.join(root, entries[r][0]) for r in group_rows]
        labels = np.array([folder_index[entries[r][1]] for r in group_rows], np.int32)
        ds = tf.data.Dataset.from_tensor_slices((np.asarray(group_rows, np.int64), paths, labels))
        ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()
        if keep == "tfcache":
            ds = ds.cache()
            cached[group] = ds
        parts.append(ds)
    if not parts:
        return done, cached, folder_index
    ds = parts[0]
    for part in parts[1:]:  # one pass (one iterator) over every group fills every cache
        ds = ds.concatenate(part)
    if keep == "arrays":
        view = ds.map(lambda img, label, row, size: (row, size, img)).batch(64)
    else:  # the images stay in the caches (or are dropped); only rows and sizes come out
        view = ds.map(lambda img, label, row, size: (row, size)).batch(256)
    for batch in view.prefetch(2):
        got = batch[0].numpy()
        for r, hw in zip(got, batch[1].numpy()):
            done[int(r)] = (int(hw[0]), int(hw[1]))
        if keep == "arrays":
            out[got] = batch[2].numpy()
        bar.advance(task, len(got))
    return done, cached, folder_index


# --- the scan ----------------------------------------------------------------------------------------


def scan(path, *, workers=None, progress=True, channels=3, image_size=None, opts=None, keep=None,
         groups_of=None, engine="auto"):
    """Scans `path`; returns `(report, kept)`.

    keep: None (check only), "arrays" (kept = uint8 array aligned with report.records, resized to
    image_size) or "tfcache" (kept = {"datasets": {group: dataset}, "fallback": ...,
    "folder_index": ..., "used": ..., "order": {group: record indices}}, needs TensorFlow).
    `groups_of(rel) -> str` assigns files to groups (train/val).
    """
    root = _check_root(path)
    opts = opts or {"interpolation": "bilinear", "crop_to_aspect_ratio": False}
    class_folders, entries, skipped = _list_files(root)
    use_tf = engine == "tensorflow" or (engine == "auto" and _tf_available())
    if keep == "tfcache" and not use_tf:
        raise ImportError("keep='tfcache' needs TensorFlow")
    out = np.zeros((len(entries), *image_size, channels), np.uint8) if keep == "arrays" else None
    todo = [r for r, e in enumerate(entries) if e[2] > 0]
    skipped += [(e[0], "empty file (0 bytes)") for e in entries if e[2] == 0]
    group_of = groups_of or (lambda rel: "all")
    groups: dict[str, list[int]] = {}
    for r in todo:
        groups.setdefault(group_of(entries[r][0]), []).append(r)
    sizes: dict[int, tuple[int, int]] = {}
    decoder: dict[int, str] = {}
    fallback: dict[str, list] = {}
    cached, folder_index = {}, {}
    bar = _progress(progress, len(entries))
    with bar, ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as pool:
        task = bar.add_task(f"Scanning {os.path.basename(root)}", total=len(entries))
        bar.advance(task, len(entries) - len(todo))
        chunks = [todo[i : i + 64] for i in range(0, len(todo), 64)]
        hashes = [pool.submit(_hash_files, root, [entries[r][0] for r in c]) for c in chunks]
        if use_tf and todo:
            done, cached, folder_index = _tf_pass(
                root, entries, todo, groups, channels=channels, image_size=image_size, opts=opts,
                keep=keep, out=out, bar=bar, task=task,
            )
            sizes.update(done)
            decoder.update({r: "tensorflow" for r in done})
        rest = [r for r in todo if r not in sizes]
        decode = functools.partial(_pillow_one, root, entries, channels=channels,
                                   image_size=image_size, resize=not use_tf and keep is not None,
                                   opts=opts)
        for r, img, hw in pool.map(decode, rest):
            bar.advance(task, 1)
            if img is None:
                skipped.append((entries[r][0], hw))
                continue
            if keep and use_tf and image_size is not None:
                from dlzoo.data.images import tf_resize

                img = tf_resize(img, image_size, **opts).numpy()
            if keep == "arrays":
                out[r] = img
            elif keep == "tfcache":
                label = folder_index[entries[r][1]]
                fallback.setdefault(group_of(entries[r][0]), []).append((r, img, label, hw))
            sizes[r] = hw
            decoder[r] = "pillow"
        digests = {r: d for c, f in zip(chunks, hashes) for r, d in zip(c, f.result())}
    records, kept_rows = _records(entries, sizes, decoder, digests, skipped)
    skipped.sort()
    report = ScanReport(root, class_folders, records, skipped)
    if keep == "arrays":
        return report, _compact(out, kept_rows)
    if keep == "tfcache":
        return report, _tfcache_kept(len(entries), kept_rows, groups, decoder, cached, fallback,
                                     folder_index)
    return report, None


def _pillow_one(root, entries, r, *, channels, image_size, resize, opts):
    """Row `r` decoded by Pillow: `(r, image, (h, w))`, or `(r, None, reason)` when unusable."""
    try:
        with open(os.path.join(root, entries[r][0]), "rb") as f:
            data = f.read()
        img, hw = pil_decode_sized(data, channels=channels, image_size=image_size, resize=resize,
                                   **opts)
    except UnusableImage as e:
        return r, None, str(e)
    except OSError as e:
        return r, None, f"unreadable: {e.strerror or e}"
    return r, img, hw


def _records(entries, sizes, decoder, digests, skipped):
    """The usable files' records and their rows; a file gone before its hash joins `skipped`."""
    records, kept_rows = [], []
    for r, (rel, label, size) in enumerate(entries):
        if r not in sizes:
            continue
        if digests.get(r) is None:  # removed or unreadable between the decode and the hash
            skipped.append((rel, "unreadable: vanished during the scan"))
            continue
        h, w = sizes[r]
        records.append(ImageRecord(rel, label, size, digests[r], h, w, decoder[r]))
        kept_rows.append(r)
    return records, kept_rows


def _tfcache_kept(n_entries, kept_rows, groups, decoder, cached, fallback, folder_index) -> dict:
    """What `keep="tfcache"` returns: the filled caches, Pillow's images, and each group's order."""
    record_of = {r: i for i, r in enumerate(kept_rows)}
    used = np.zeros(n_entries, bool)
    used[kept_rows] = True
    vanished = any(r not in record_of for r in decoder)
    order = {}  # record indices in the order each group's dataset yields them
    for group, group_rows in groups.items():
        first = [record_of[r] for r in group_rows if decoder.get(r) == "tensorflow" and r in record_of]
        then = [record_of[item[0]] for item in fallback.get(group, []) if item[0] in record_of]
        order[group] = first + then
    return {"datasets": cached, "fallback": fallback, "folder_index": folder_index,
            "used": used if vanished else None, "order": order}


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
        workers: int or None, threads for hashing and the Pillow fallback (default: a few per core).
        progress: bool (True), show a progress bar on stderr.

    Returns:
        A `ScanReport`: `records` (usable files with size, sha256, size in pixels), `skipped`
        `(relative path, reason)`, `counts`, `class_names`, `empty_classes`, `duplicates()`.

    Example:
        >>> report = scan_folder("photos/")
        >>> report.counts, report.skipped[:3]
    """
    report, _ = scan(path, workers=workers, progress=progress)
    return report
