"""Where an image-folder first epoch goes: the parts of dlzoo's scan timed one by one, beside Keras.

On 2,000 photo-like JPEGs stored at 160x160 (no resize), each part alone, interleaved over rounds:

* JPEG decode in tf.data, sequential (one thread, so CPU seconds compare cleanly): Keras's
  `decode_image` (TensorFlow's fast integer DCT) against `decode_jpeg` with the accurate integer DCT
  (Pillow's pixels, what dlzoo uses) and with the fast one, and the same pipeline with no decode.
* dlzoo's scan into its in-memory cache (`dlzoo.data.scan.scan(keep="tfcache")`), with and without
  the buffer (prefetch) between its parallel decode and the cache: without it tf.data's autotuning
  starved the decode.
* What the scan adds per file in Python: read, sha256, header (`dlzoo.data.sniff`).
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import statistics
import tempfile
import time

from benchmarks._common import load_average, make_photo_folder


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _decoders(tf):
    def image(c):
        return tf.io.decode_image(c, channels=3, expand_animations=False)

    def accurate(c):
        return tf.io.decode_jpeg(c, channels=3, dct_method="INTEGER_ACCURATE")

    def fast(c):
        return tf.io.decode_jpeg(c, channels=3, dct_method="INTEGER_FAST")

    def none(c):
        return tf.strings.length(c)

    return {"decode_image (Keras)": image, "decode_jpeg INTEGER_ACCURATE (dlzoo)": accurate,
            "decode_jpeg INTEGER_FAST": fast, "no decode (pipeline only)": none}


def run(quick: bool = False) -> dict:
    import numpy as np
    import tensorflow as tf

    from dlzoo.data.sniff import sniff

    n_files, rounds = (400, 3) if quick else (2000, 5)
    load_before = load_average()
    root = tempfile.mkdtemp(prefix="dlzoo-bench-parts-")
    try:
        make_photo_folder(root, n_files, (160, 160))
        paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
        blobs = [open(p, "rb").read() for p in paths]  # noqa: SIM115 - a few KB each
        names = np.array([os.fsencode(p) for p in paths], dtype=object)

        one_thread = tf.data.Options()  # really sequential: no automatic map parallelization
        one_thread.experimental_optimization.map_parallelization = False
        one_thread.threading.private_threadpool_size = 1

        def sequential(fn):
            def go():
                ds = tf.data.Dataset.from_tensor_slices(names).map(lambda p: fn(tf.io.read_file(p)))
                for _ in ds.batch(250).with_options(one_thread):
                    pass
            return go

        def scanned(buffer):
            from dlzoo.data import scan as scan_module

            def go():
                ahead = scan_module._DECODE_AHEAD
                scan_module._DECODE_AHEAD = ahead if buffer else 0
                try:
                    scan_module.scan(root, progress=False, channels=3, image_size=(160, 160),
                                     keep="tfcache")
                finally:
                    scan_module._DECODE_AHEAD = ahead
            return go

        def python_side():
            for b in blobs:
                hashlib.sha256(b).hexdigest()
                sniff(b)

        def read_files():
            for p in paths:
                with open(p, "rb") as f:
                    f.read()

        parts = {f"sequential {k}": sequential(fn) for k, fn in _decoders(tf).items()}
        parts["dlzoo scan into the cache, no buffer before it"] = scanned(False)
        parts["dlzoo scan into the cache (prefetch(16) before it)"] = scanned(True)
        parts["read every file (Python)"] = read_files
        parts["sha256 + header of every file (Python)"] = python_side
        for fn in parts.values():  # warm-up
            fn()
        wall = {k: [] for k in parts}
        cpu = {k: [] for k in parts}
        for _ in range(rounds):
            for k, fn in parts.items():
                c0, t0 = _cpu(), time.perf_counter()
                fn()
                wall[k].append(time.perf_counter() - t0)
                cpu[k].append(_cpu() - c0)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    load_after = load_average()
    rows = [{"part": k, "wall s (median)": statistics.median(wall[k]),
             "CPU s (median)": statistics.median(cpu[k])} for k in parts]
    med = {r["part"]: r for r in rows}
    acc = med["sequential decode_jpeg INTEGER_ACCURATE (dlzoo)"]["CPU s (median)"]
    keras = med["sequential decode_image (Keras)"]["CPU s (median)"]
    starved = statistics.median(
        a / b for a, b in zip(wall["dlzoo scan into the cache, no buffer before it"],
                              wall["dlzoo scan into the cache (prefetch(16) before it)"]))
    summary = (
        f"{n_files} photo-like JPEGs stored at 160x160, {rounds} interleaved rounds. Sequential "
        f"decode CPU: accurate DCT {acc:.2f} s, Keras's decode_image {keras:.2f} s (ratio "
        f"{acc / keras:.2f}). dlzoo's scan (read, hash, header, parallel decode into the cache) "
        f"takes {starved:.2f}x the wall time without a buffer before the cache (median of pairs). Load average (1/5/15 min) {load_before} before, "
        f"{load_after} after, on a shared 2-core machine."
    )
    return {"title": "Image-folder first epoch, part by part (scan of 2,000 JPEGs at 160x160)",
            "summary": summary, "rows": rows, "files": n_files, "rounds": rounds,
            "load": {"before": load_before, "after": load_after}}
