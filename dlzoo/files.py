"""Files written whole or not at all, and values made JSON-safe: one owner for both.

Every file dlzoo writes while a run, a search or a fine-tune is in progress (state JSON, CSV
logs, feature caches, trial records) goes through `atomic_path`: the bytes go to a temporary
name beside the target, are flushed to disk, and are renamed over the target in one step, so a
kill at any moment leaves either the old file or the new one, never a torn one.

    >>> from dlzoo.files import write_json, atomic_path
    >>> write_json("state.json", {"epoch": 3})
    >>> with atomic_path("features.npz") as tmp:
    ...     np.savez(tmp, x=x)
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import uuid
from pathlib import Path

__all__ = [
    "atomic_path",
    "json_default",
    "json_default_or_str",
    "to_jsonable",
    "write_json",
    "write_text",
]


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; on a clean exit the file written there is synced
    and renamed over `path` (`os.replace`, atomic on POSIX), on an error it is removed.

    The temporary name keeps the target's suffix (`.name.tmp-ID.npz`), so writers that add or
    check an extension (`np.savez`, h5py, Keras) write exactly there.

    Raises:
        FileNotFoundError: the writer did not create the temporary file.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.stem}.tmp-{uuid.uuid4().hex[:8]}{target.suffix}")
    try:
        yield tmp
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text(path, text: str) -> Path:
    """Writes `text` (UTF-8) to `path` whole or not at all; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path, data, *, indent: int | None = None, default=None) -> Path:
    """Writes `data` as JSON to `path` whole or not at all; returns the path.

    Args:
        default: the `json.dumps` hook for values JSON lacks; `json_default` (numpy values,
            paths, tuples and sets; TypeError for the rest) unless given.
    """
    text = json.dumps(data, indent=indent, default=default or json_default)
    return write_text(path, text + ("\n" if indent else ""))


def json_default(value):
    """`json.dumps(default=...)` hook: numpy scalars and arrays, paths, tuples and sets.

    Raises:
        TypeError: for anything else, naming its type (so a wrong value is not silently
            written as its `str`).
    """
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:  # numpy scalar
        return value.item()
    if hasattr(value, "tolist"):  # numpy array
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} {value!r} to JSON")


def json_default_or_str(value):
    """Like `json_default`, but anything else is written as its `str` (for records of
    third-party objects, such as a tuner's state, where a readable trace beats an error)."""
    return json_default_or_str(value)


def to_jsonable(value):
    """A JSON-safe copy of `value`: containers walked, numpy scalars as Python numbers, tuples as
    lists, NaN as None (JSON has no NaN); anything else unknown becomes its `str`."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    try:
        return json_default(value)
    except TypeError:
        return str(value)
