"""The scan: every file under a folder of class subfolders read once, routed, decoded once, judged.

Listing (`dlzoo.data.listing`) follows symbolic links with a loop guard and lists what it refuses.

Each file is read once, in one thread (Python code under the GIL, which threads only slowed): its
sha256 (for the manifest and duplicates) and its header (`dlzoo.data.sniff`: format, declared size,
EXIF orientation) come from that read. A file over the pixel limit, empty, or whose header is not an
image's is skipped with the reason before any decode. Files TensorFlow decodes exactly (plain JPEG
and PNG) are decoded in a parallel tf.data pipeline; all others are decoded by Pillow (the
reference) from the bytes already read, in a thread pool. A file that fails to decode is skipped
with Pillow's reason.

The scan can keep what it decoded, so checking costs no second pass over the files:
`keep="arrays"` returns a uint8 numpy array, `keep="tfcache"` leaves the images in a tf.data
in-memory cache that becomes the training pipeline (see folders.image_folder).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from dlzoo.data.images import UnusableImage, pil_decode_sized, tf_decode_fn
from dlzoo.data.labelfile import csv_source, read_labels
from dlzoo.data.listing import list_files, root_folder
from dlzoo.data.manifest import content_digest, manifest_hash
from dlzoo.data.sniff import PILLOW, plan, sniff
from dlzoo.quiet import decoder_message, native_stderr_filtered

__all__ = ["ImageRecord", "ScanReport", "in_validation", "scan_folder", "split_sides"]


@dataclasses.dataclass(slots=True)  # one per file: no __dict__ (fewer objects for the collector)
class ImageRecord:
    """One usable file."""

    path: str  # relative to the root, '/'-separated
    label: str  # class folder name
    size: int  # bytes
    sha256: str
    height: int  # as stored, before any resize
    width: int
    decoder: str  # "tensorflow" or "pillow"
    fs_path: str = dataclasses.field(default="", repr=False, compare=False)  # absolute, to open()
    route: int = dataclasses.field(default=PILLOW, repr=False, compare=False)  # see dlzoo.data.sniff


@dataclasses.dataclass
class ScanReport:
    """What the scan found: usable files, skipped files with reasons, classes."""

    root: str
    class_folders: list[str]  # every non-hidden subfolder, sorted
    records: list[ImageRecord]  # usable files, sorted by path
    skipped: list[tuple[str, str]]  # (relative path, reason), sorted
    # a label file's path (dlzoo.data.labelfile) when the labels came from a CSV, not subfolders;
    # class_folders are then the labels it names
    labels_file: str | None = None
    # a multi-label table's labels per record path (record.label is them joined by "|")
    multi_labels: dict[str, tuple[str, ...]] | None = None

    @property
    def source(self) -> str:
        """The source name that reads these files again: `folder:ROOT` or `csv:LABELS[?root=ROOT]`."""
        if self.labels_file is None:
            return f"folder:{self.root}"
        return csv_source(self.labels_file, self.root)

    @property
    def counts(self) -> dict[str, int]:
        out = {c: 0 for c in self.class_folders}
        for r in self.records:
            for label in self.labels_of(r):
                out[label] += 1
        return out

    @property
    def multi_label(self) -> bool:
        """Whether each file has a set of labels (a label file's `labels` column)."""
        return self.multi_labels is not None

    def split_keys(self) -> list[str]:
        """The class each record is stratified by in the split: its class; for a multi-label
        file its rarest label (then the first by name), so a rare label gets files on both
        sides of the split (a file with no label: "")."""
        if self.multi_labels is None:
            return [r.label for r in self.records]
        counts = self.counts
        return [min(self.labels_of(r), key=lambda c: (counts[c], c), default="")
                for r in self.records]

    def targets(self, indices, class_names) -> np.ndarray:
        """The training targets of `records[indices]`: int32 class indices, or for multi-label
        data a float32 multi-hot matrix `(len(indices), len(class_names))`."""
        index = {c: i for i, c in enumerate(class_names)}
        if self.multi_labels is None:
            return np.array([index[self.records[i].label] for i in indices], np.int32)
        out = np.zeros((len(indices), len(class_names)), np.float32)
        for row, i in enumerate(indices):
            out[row, [index[c] for c in self.labels_of(self.records[i])]] = 1.0
        return out

    def labels_of(self, record) -> tuple[str, ...]:
        """A record's labels: its class (folder or CSV label), or a multi-label row's labels."""
        if self.multi_labels is None:
            return (record.label,)
        return self.multi_labels[record.path]

    @property
    def class_names(self) -> list[str]:
        """Classes with at least one usable file, sorted."""
        return [c for c, n in self.counts.items() if n > 0]

    @property
    def empty_classes(self) -> list[str]:
        return [c for c, n in self.counts.items() if n == 0]

    @property
    def manifest_hash(self) -> str:
        if self.labels_file is not None:
            # a folder's paths hold each file's class; a label file's do not: its labels are
            # hashed too, so relabelling a file is other data (feature caches, cards)
            return manifest_hash((f"{r.path}\tlabel={r.label}", r.size, r.sha256)
                                 for r in self.records)
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
        if self.labels_file is not None:
            raise ValueError(
                f"{self.labels_file}: a label file needs at least two labels with usable images; "
                f"found {found.replace('no subfolders', 'no labelled row')}, "
                f"{len(self.skipped)} file(s) skipped (paths are read relative to {self.root}).")
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
    return _score(rel_path, seed) < validation_split


def _score(rel_path: str, seed: int) -> float:
    digest = hashlib.sha256(f"{int(seed)}\0{rel_path}".encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split_sides(files, validation_split: float, seed: int = 0) -> dict[str, str]:
    """`{path: "train" | "val"}` for `files`, `(relative path, class)` pairs: stratified per class.

    Each file's side is the `in_validation` hash of its path, so adding files never moves one that
    is already placed. A class the hash left on one side is corrected, per class: every class with
    at least two files gets at least one training and one validation file (the file whose hash is
    nearest the threshold moves), and a class with a single file trains on it. Only such a small
    class's corrected file can change side, when the class grows enough for the hash alone.
    """
    by_class: dict[str, list[str]] = {}
    for path, label in files:
        by_class.setdefault(label, []).append(path)
    sides = {}
    for paths in by_class.values():
        score = {p: _score(p, seed) for p in paths}
        val = {p for p in paths if validation_split > 0 and score[p] < validation_split}
        if validation_split > 0 and len(paths) >= 2:
            if not val:
                val = {min(paths, key=lambda p: (score[p], p))}
            elif len(val) == len(paths):
                val.discard(max(paths, key=lambda p: (score[p], p)))
        elif len(paths) == 1:
            val = set()
        sides.update({p: "val" if p in val else "train" for p in paths})
    return sides



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


def available_memory() -> int:
    """Bytes of memory available to new allocations (MemAvailable), or 4 GiB when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 4 << 30


# --- one read per file -----------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class _Read:
    """What one read of a file gave: its digest and route, or why it is skipped."""

    reason: str | None = None
    digest: str | None = None
    route: int = PILLOW
    resize: bool = True  # the decoded size differs from the target
    image: np.ndarray | None = None  # decoded by Pillow (and resized when kept)
    hw: tuple[int, int] | None = None


def _read_one(path, *, use_tf, image_size, opts, max_pixels) -> tuple[_Read, bytes | None]:
    """Reads `path` once: its hash and header; `(read, data)` where `data` is the file's bytes when
    Pillow must decode it (not TensorFlow's, or no TensorFlow), else None."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return _Read(f"unreadable: {e.strerror or e}"), None
    try:
        header = sniff(data, max_pixels=max_pixels)
    except UnusableImage as e:
        return _Read(str(e)), None
    digest = content_digest(data)
    if use_tf and header.route != PILLOW:
        # the same plan whether the images are kept or streamed later (and as predict reads)
        route, resize = plan(header, image_size, opts["crop_to_aspect_ratio"])
        return _Read(digest=digest, route=route, resize=resize, hw=(header.height, header.width)), None
    return _Read(digest=digest), data


def _pillow(data, digest, *, channels, image_size, opts, use_tf, keep) -> _Read:
    try:  # resized (when kept) as every path resizes: dlzoo.data.images.resize_array
        img, hw = pil_decode_sized(data, channels=channels, image_size=image_size,
                                   resize=bool(keep), **opts)
    except UnusableImage as e:
        return _Read(str(e))
    return _Read(digest=digest, image=img if keep else None, hw=hw)


def _pillow_again(path, digest, **kw) -> _Read:
    """A file TensorFlow refused after its header passed: Pillow decodes it or says why."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return _Read(f"unreadable: {e.strerror or e}")
    if not data:
        return _Read("empty file (0 bytes)")
    return _pillow(data, content_digest(data) if digest is None else digest, **kw)


# --- the TensorFlow engine -------------------------------------------------------------------------

_DECODE_AHEAD = 16  # decoded images buffered ahead of the cache (0: none; benchmarks.pipeline_parts)


def _tf_pass(entries, rows, routes, *, channels, image_size, opts, keep, out, bar, task):
    """Decodes `rows` of `entries` in tf.data; returns ({row: (h, w)}, cached dataset or None).

    `routes[i]` is `(route, resize)` of rows[i] (`sniff.plan`); each pair gets its own pipeline.

    Rows TensorFlow cannot decode are absent from the result (`ignore_errors`) and go to Pillow.
    With keep="tfcache" the pipeline ends in an in-memory `cache()` of
    `(image uint8, class folder index, row, (h, w))`; this pass fills it.
    """
    import tensorflow as tf

    folder_index = _folder_index(entries)
    parts = []
    for route, resize in sorted(set(routes)):  # one straight decoder each: no branching per file
        decode = tf_decode_fn(channels, image_size if keep and resize else None, route=route, **opts)
        mine = [r for r, rt in zip(rows, routes) if rt == (route, resize)]
        # bytes: any name TensorFlow can open (an object array: no per-element type inference)
        paths = np.array([os.fsencode(entries[r][3]) for r in mine], dtype=object)
        labels = np.array([folder_index[entries[r][1]] for r in mine], np.int32)
        part = tf.data.Dataset.from_tensor_slices((np.asarray(mine, np.int64), paths, labels))
        part = part.map(_loader(tf, decode), num_parallel_calls=tf.data.AUTOTUNE)
        if keep == "tfcache" and _DECODE_AHEAD:
            # A buffer between the parallel decode and the cache: without it tf.data's autotuning
            # starved the decode when a cache followed (the scan took 1.4-1.8x the wall time in
            # three of four runs on a loaded machine, the same in the fourth; benchmarks.
            # pipeline_parts). Only here: these images are at the target size; unkept ones may
            # be huge.
            part = part.prefetch(_DECODE_AHEAD)
        parts.append(part.ignore_errors())
    ds = parts[0]
    for part in parts[1:]:
        ds = ds.concatenate(part)
    cached = None
    if keep == "tfcache":
        cached = ds = ds.cache()
    plain = tf.autograph.experimental.do_not_convert  # see _loader
    if keep == "arrays":
        view = ds.map(plain(lambda img, label, row, size: (row, size, img))).batch(64)
    else:  # the images stay in the cache (or are dropped); only rows and sizes come out
        view = ds.map(plain(lambda img, label, row, size: (row, size))).batch(256)
    done = {}
    for batch in view.prefetch(2):
        got = batch[0].numpy()
        for r, hw in zip(got, batch[1].numpy()):
            done[int(r)] = (int(hw[0]), int(hw[1]))
        if keep == "arrays":
            out[got] = batch[2].numpy()
        bar.advance(task, len(got))
    return done, cached


def _loader(tf, decode):
    # Not converted by AutoGraph: these functions branch with tf.cond/switch_case themselves, and
    # converting them (parsing this module's source) cost a fresh process about 1 s per scan.
    @tf.autograph.experimental.do_not_convert
    def load(row, path, label):
        img, size = decode(tf.io.read_file(path))
        return img, label, row, size

    return load


def _folder_index(entries) -> dict[str, int]:
    return {c: i for i, c in enumerate(sorted({e[1] for e in entries}))}


# --- the scan ----------------------------------------------------------------------------------------


def listing(path, labels=None):
    """`(root, class folders, entries, skipped)`: the files under the folder `path` by class
    subfolder (`dlzoo.data.listing`), or, with `labels` (a CSV, `dlzoo.data.labelfile`), the
    files it lists relative to `path` (None: the CSV's folder), labelled by it; plus the table."""
    if labels is None:
        root = root_folder(path)
        return (root, *list_files(root), None)
    table = read_labels(labels, path)
    return table.root, list(table.class_names), table.entries, list(table.skipped), table


def scan(path, *, workers=None, progress=True, channels=3, image_size=None, opts=None, keep=None,
         engine="auto", max_pixels=None, cache_budget=None, labels=None):
    """Scans `path`; returns `(report, kept)`.

    labels: a label file (CSV of file,label rows, `dlzoo.data.labelfile`) to read instead of
    class subfolders; its paths are relative to `path` (None: the CSV's own folder).

    keep: None (check only), "arrays" (kept = uint8 array aligned with report.records, resized to
    image_size) or "tfcache" (kept = {"dataset": cached tf.data dataset or None, "fallback":
    [(row, image, folder index, (h, w))], "folder_index", "order": record indices in the order
    the cache then the fallback yield them, "rows": each record's row number, which the cached
    elements carry}, needs TensorFlow). With "tfcache", when the decoded
    images would exceed `cache_budget` bytes (default: a quarter of the available memory) nothing
    is kept (kept is None), and a one-line warning says the pipeline will stream from disk.
    max_pixels: files declaring more pixels are skipped unread (default `sniff.MAX_PIXELS`).
    """
    opts = opts or {"interpolation": "bilinear", "crop_to_aspect_ratio": False}
    root, class_folders, entries, skipped, table = listing(path, labels)
    use_tf = engine == "tensorflow" or (engine == "auto" and _tf_available())
    if keep == "tfcache" and not use_tf:
        raise ImportError("keep='tfcache' needs TensorFlow")
    todo = [r for r, e in enumerate(entries) if e[2] > 0]
    skipped += [(e[0], "empty file (0 bytes)") for e in entries if e[2] == 0]
    if keep == "tfcache":
        keep = _fits(root, len(todo), image_size, channels, cache_budget)
    out = np.zeros((len(entries), *image_size, channels), np.uint8) if keep == "arrays" else None
    kw = {"channels": channels, "image_size": image_size, "opts": opts, "use_tf": use_tf,
          "keep": keep}
    reads: dict[int, _Read] = {}
    bar = _progress(progress, len(entries))
    threads = workers or min(4, os.cpu_count() or 1)
    with bar, ThreadPoolExecutor(max_workers=threads) as pool:
        task = bar.add_task(f"Scanning {os.path.basename(root)}", total=len(entries))
        bar.advance(task, len(entries) - len(todo))
        # Read, hash and sniff here, one file after another: that is Python holding the GIL, and
        # threads only slowed it (0.11 s for 2,000 JPEGs with 4 threads, 0.07 s with one). What
        # Pillow decodes goes to the pool, whose threads decode in parallel (Pillow releases the
        # GIL); at most 4 files a thread wait there, so their bytes stay few.
        pending: dict[int, object] = {}
        limit = 4 * threads

        def collect(r):
            reads[r] = pending.pop(r).result()
            bar.advance(task)

        for r in todo:
            got, data = _read_one(entries[r][3], use_tf=use_tf, image_size=image_size, opts=opts,
                                  max_pixels=max_pixels)
            if data is None:
                reads[r] = got
                if got.reason is not None:
                    bar.advance(task)
                continue
            pending[r] = pool.submit(_pillow, data, got.digest, **kw)
            if len(pending) >= limit:
                collect(next(iter(pending)))
        for r in list(pending):
            collect(r)
        tf_rows = [r for r in todo if reads[r].reason is None and reads[r].route != PILLOW]
        done, cached = {}, None
        if tf_rows:
            # libjpeg's own lines about a damaged file ("Improper call to JPEG library in state
            # 201"): the file goes on to Pillow and, if unreadable, is reported by name
            with native_stderr_filtered(decoder_message):
                done, cached = _tf_pass(entries, tf_rows, [(reads[r].route, reads[r].resize) for r in tf_rows],
                                        keep=keep, out=out, bar=bar, task=task, channels=channels,
                                        image_size=image_size, opts=opts)
        refused = [r for r in tf_rows if r not in done]
        for r, got in zip(refused, pool.map(
                lambda r: _pillow_again(entries[r][3], reads[r].digest, **kw), refused)):
            reads[r] = got
    decoder = {}
    for r in todo:
        got = reads[r]
        if got.reason is not None:
            skipped.append((entries[r][0], got.reason))
        elif r in done:  # its size as stored is the header's (a JPEG may decode at reduced scale)
            decoder[r] = "tensorflow"
        else:
            decoder[r] = "pillow"
            if keep == "arrays":
                out[r] = got.image
    records = [ImageRecord(entries[r][0], entries[r][1], entries[r][2], reads[r].digest,
                           *reads[r].hw, decoder[r], fs_path=entries[r][3],
                           route=reads[r].route if decoder[r] == "tensorflow" else PILLOW)
               for r in todo if r in decoder]
    kept_rows = [r for r in todo if r in decoder]
    skipped.sort()
    report = ScanReport(root, class_folders, records, skipped,
                        labels_file=None if table is None else table.path,
                        multi_labels=table.labels if table is not None and table.multi_label
                        else None)
    if keep == "arrays":
        return report, _compact(out, kept_rows)
    if keep == "tfcache":
        record_of = {r: i for i, r in enumerate(kept_rows)}
        folder_index = _folder_index(entries)
        fallback = [(r, reads[r].image, folder_index[entries[r][1]], reads[r].hw)
                    for r in kept_rows if decoder[r] == "pillow"]
        order = ([record_of[r] for r in done]  # the order the cache replays
                 + [record_of[item[0]] for item in fallback])
        return report, {"dataset": cached, "fallback": fallback, "folder_index": folder_index,
                        "order": order, "rows": kept_rows}
    return report, None


def _fits(root, n, image_size, channels, budget):
    """ "tfcache" when `n` decoded images fit `budget` bytes, else None (stream), said in one line."""
    need = n * int(image_size[0]) * int(image_size[1]) * channels
    budget = available_memory() // 4 if budget is None else int(budget)
    if need <= budget:
        return "tfcache"
    warnings.warn(
        f"{root}: {n} images at {image_size[0]}x{image_size[1]}x{channels} need "
        f"{need / 2**20:,.0f} MiB decoded, over the cache budget of {budget / 2**20:,.0f} MiB; "
        "streaming them from disk each epoch (set cache_budget= to change this)", stacklevel=3)
    return None


def _compact(arr: np.ndarray, keep: list[int]) -> np.ndarray:
    """arr[keep] without a second full-size copy (moves rows down in place)."""
    for new, old in enumerate(keep):
        if new != old:
            arr[new] = arr[old]
    return arr[: len(keep)]


def scan_folder(path, *, workers=None, progress=True, max_pixels=None, labels=None) -> ScanReport:
    """Checks every file under `path` (class subfolders) and reports what is usable.

    Every file is read once and decoded in parallel (tf.data for plain JPEG/PNG, Pillow for the
    rest; see `dlzoo.data.sniff`), so a truncated or corrupt image is found now rather than in
    the middle of an epoch.

    Args:
        path: str or PathLike, the root folder whose subfolders are the classes.
        workers: int or None, threads decoding with Pillow (default: up to 4); reading, hashing
            and header checks run in one thread.
        progress: bool (True), show a progress bar on stderr.
        max_pixels: int or None, files declaring more pixels are skipped unread (default
            `dlzoo.data.sniff.MAX_PIXELS`, Pillow's limit).
        labels: str or None, a label file (CSV of file,label rows) read instead of class
            subfolders, its paths relative to `path` (None: the CSV's folder).

    Returns:
        A `ScanReport`: `records` (usable files with size, sha256, size in pixels), `skipped`
        `(relative path, reason)`, `counts`, `class_names`, `empty_classes`, `duplicates()`.

    Example:
        >>> report = scan_folder("photos/")
        >>> report.counts, report.skipped[:3]
    """
    report, _ = scan(path, workers=workers, progress=progress, max_pixels=max_pixels, labels=labels)
    return report
