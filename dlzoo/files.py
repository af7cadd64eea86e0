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
import errno
import json
import math
import os
import uuid
from pathlib import Path


class DiskFullError(OSError):
    """A write ran out of space (ENOSPC or EDQUOT); the file it was writing was not changed."""


class RunLockedError(OSError):
    """Another live process holds the lock of a run, a search or an output folder."""

__all__ = [
    "DiskFullError",
    "RunLock",
    "RunLockedError",
    "atomic_path",
    "json_default",
    "json_default_or_str",
    "pid_alive",
    "remove_stale_temps",
    "to_jsonable",
    "weights_bytes",
    "write_json",
    "write_text",
    "write_weights",
]


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; on a clean exit the file written there is synced
    and renamed over `path` (`os.replace`, atomic on POSIX), on an error it is removed.

    The temporary name keeps the target's suffixes (`.final.tmp-ID.weights.h5`), so writers
    that add or check an extension (`np.savez`, h5py, Keras's `.weights.h5`) write exactly
    there.

    Raises:
        FileNotFoundError: the writer did not create the temporary file.
    """
    target = Path(path)
    suffixes = "".join(target.suffixes)  # all of them: Keras wants `.weights.h5` whole
    stem = target.name[: len(target.name) - len(suffixes)] if suffixes else target.name
    tmp = target.with_name(f".{stem}.tmp-{uuid.uuid4().hex[:8]}{suffixes}")
    try:
        try:
            yield tmp
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        except Exception as e:
            if _disk_full(e):
                _release_hdf5(tmp)
                full = DiskFullError(
                    f"no space left on the device while writing {target} (the file was left "
                    "as it was); free some space and run again (with --resume for a run)")
                full.errno = errno.ENOSPC
                raise full from e
            raise
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def remove_stale_temps(folder, *, recursive: bool = True) -> list[Path]:
    """Removes the temporary files `atomic_path` leaves when its process is killed mid-write
    (`.NAME.tmp-ID.SUFFIX`) under `folder`; returns them. Only for a folder this process owns
    (a run's, under its lock): another writer's file in progress would go too."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [p for p in (folder.rglob(".*.tmp-*") if recursive else folder.glob(".*.tmp-*"))
             if p.is_file()]
    for p in found:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    return found


def weights_bytes(model, attrs: dict | None = None) -> bytes:
    """`model.save_weights`'s `.weights.h5` file (weights and optimizer state), made in memory;
    `attrs` are set on its root (strings, numbers).

    Made in memory because HDF5 cannot recover from a failed write: a full disk during
    `save_weights` leaves a file HDF5 can neither finish nor close, and the process crashes at
    exit (SIGSEGV). Written with `write_weights`, a full disk is one clean `DiskFullError`.

    Raises:
        ImportError: this Keras lacks the in-memory writer `save_weights` uses
            (`keras.src.saving.saving_lib.H5IOStore`).
    """
    import io

    import h5py
    from keras.src.saving.saving_lib import H5IOStore, _save_state

    if not model.built:
        raise ValueError("the model is not built; build it before saving its weights")
    buffer = io.BytesIO()
    store = H5IOStore(buffer, mode="w")  # what save_weights_only does, on a BytesIO
    _save_state(model, weights_store=store, assets_store=None, inner_path="",
                visited_saveables=set())
    store.close()
    if attrs:
        with h5py.File(buffer, "r+") as f:
            for key, value in attrs.items():
                f.attrs[key] = value
    return buffer.getvalue()


def write_weights(model, path, *, attrs: dict | None = None) -> Path:
    """Writes the model's weights (a Keras `.weights.h5` file, `model.load_weights` reads it)
    to `path` whole or not at all: made in memory (`weights_bytes`), then written by
    `atomic_path`; a full disk raises `DiskFullError` and leaves `path` as it was."""
    try:
        data = weights_bytes(model, attrs)
    except ImportError:  # another Keras: its own writer, on the temporary file
        with atomic_path(path) as tmp:
            model.save_weights(tmp)
            if attrs:
                import h5py

                with h5py.File(tmp, "a") as f:
                    for key, value in attrs.items():
                        f.attrs[key] = value
        return Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return Path(path)


def _release_hdf5(path: Path) -> None:
    """Frees the space of an HDF5 file a full disk left open (Keras's `save_weights` through
    h5py): HDF5 cannot close a file whose last write failed, retries at exit and crashes the
    process (SIGSEGV). Truncating it lets that close succeed; the file is removed after."""
    import sys

    h5py = sys.modules.get("h5py")
    if h5py is None:
        return
    with contextlib.suppress(Exception):
        for fid in h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE):
            name = os.fsdecode(fid.name)
            if os.path.abspath(name) == os.path.abspath(path):
                os.ftruncate(fid.get_vfd_handle(), 0)
                fid.close()


def _disk_full(error: BaseException) -> bool:
    """True for ENOSPC / EDQUOT, also when a library (h5py, Keras) wrapped the OSError in its
    own error or only kept its text."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        text = str(error)
        if "No space left on device" in text or "Disk quota exceeded" in text or (
                "errno = 28" in text):
            return True
        error = error.__cause__ or error.__context__
    return False


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists on this host (it may belong to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """An exclusive lock on a folder that one process at a time may write (a training run's
    state, a fine-tune's output): `fcntl.flock` on the file `path`, which holds the owner's pid.

    The kernel drops a flock when its process dies, however it dies, so a lock left by a killed
    process is free: the next one takes it over (and says so through `log`). A live holder makes
    `acquire` raise `RunLockedError` naming it: "another run of NAME is in progress (pid N)".

        >>> with RunLock(".runs/lenet5-digits.lock", "run of lenet5-digits"):
        ...     train()
    """

    def __init__(self, path, what: str, *, log=None):
        self.path = Path(path)
        self.what = what
        self.log = log
        self._fd = None

    def acquire(self) -> RunLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_pid(fd)
                os.close(fd)
                raise RunLockedError(
                    f"another {self.what} is in progress (pid {holder or 'unknown'}; lock "
                    f"{self.path}); wait for it to finish, or stop it first") from None
            # The holder may have removed the file between our open and our lock: lock the
            # file that is at the path now, not an unlinked one.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = _read_pid(fd)
        if previous and previous != os.getpid() and self.log is not None:
            note = "no longer running" if not pid_alive(previous) else "its lock was released"
            self.log(f"note: taking over the lock of an earlier {self.what} (pid {previous}, "
                     f"{note})")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self, *, remove: bool = True) -> None:
        if self._fd is None:
            return
        if remove:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


def _read_pid(fd) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


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
    try:
        return json_default(value)
    except TypeError:
        return str(value)


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
