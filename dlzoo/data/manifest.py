"""Hashes of what a run read, so a model card or a feature cache can say exactly which data it saw.

A folder's manifest is the sha256 of its sorted `relative path, size, content sha256` lines: renaming,
adding, removing or editing any used file changes it; touching a file's timestamp does not. Arrays
(digits, synthetic tasks) hash their bytes, dtype and shape. Nothing here needs TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

__all__ = ["array_hash", "content_digest", "manifest_hash"]


def content_digest(data: bytes) -> str:
    """sha256 of a file's bytes, hex."""
    return hashlib.sha256(data).hexdigest()


def manifest_hash(entries: Iterable[tuple[str, int, str]]) -> str:
    """Hash of a set of files given as `(relative posix path, size in bytes, content sha256)`.

    Order does not matter: the entries are sorted first, so two scans of the same files agree.
    """
    h = hashlib.sha256(b"dlzoo-manifest-v1\n")
    for rel, size, digest in sorted(entries):
        h.update(f"{rel}\t{int(size)}\t{digest}\n".encode())
    return h.hexdigest()


def array_hash(*arrays, meta: dict | None = None) -> str:
    """Hash of numpy arrays (bytes, dtype, shape) and an optional JSON-able `meta` dict."""
    import numpy as np

    h = hashlib.sha256(b"dlzoo-arrays-v1\n")
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}\n".encode())
        h.update(a.tobytes())
    if meta:
        h.update(json.dumps(meta, sort_keys=True, default=str).encode())
    return h.hexdigest()
