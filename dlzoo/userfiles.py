"""Reading a file a user names: regular files only, and no more bytes than a cap.

A path on a command line can be anything: `/dev/zero` (endless), a FIFO (blocks until someone
writes), a directory, a 40 GB video. Every command that reads a user's file whole (images to
predict, recipes, cards, weights) checks it here first, so such a path is a one-line error, not
a process that grows until the machine runs out of memory or waits forever.

    >>> from dlzoo.userfiles import read_bytes
    >>> data = read_bytes("photo.jpg", max_bytes=IMAGE_MAX_BYTES, what="image")
"""

from __future__ import annotations

import os
import stat

__all__ = [
    "CARD_MAX_BYTES",
    "IMAGE_MAX_BYTES",
    "RECIPE_MAX_BYTES",
    "check_regular_file",
    "read_bytes",
    "read_text",
]

IMAGE_MAX_BYTES = 256 << 20  # an image file to predict: 256 MiB (a 100-megapixel PNG is ~300 MB raw, far less stored)
RECIPE_MAX_BYTES = 1 << 20  # a YAML recipe: 1 MiB (the shipped ones are under 2 KB)
CARD_MAX_BYTES = 64 << 20  # card.json: 64 MiB (skipped-file lists of large folders included)


def _human(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.0f} {unit}"
        n /= 1024
    return str(n)


def _check_stat(path, st, max_bytes, what) -> int:
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{path}: the {what} is a directory, not a file.")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else
                "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise ValueError(f"{path}: the {what} is {kind}; give a regular file.")
    if max_bytes is not None and st.st_size > max_bytes:
        raise ValueError(f"{path}: the {what} is {_human(st.st_size)}, more than the "
                         f"{_human(max_bytes)} a {what} may have; is it the right file?")
    return st.st_size


def check_regular_file(path, *, max_bytes: int | None = None, what: str = "file") -> int:
    """The size of `path` in bytes, after checking it is a regular file of at most `max_bytes`.

    Raises:
        FileNotFoundError: nothing at `path`.
        IsADirectoryError: a directory.
        ValueError: a FIFO, device or socket, or a file over `max_bytes` (the message says
            which, with the size and the cap).
    """
    return _check_stat(path, os.stat(path), max_bytes, what)


def read_bytes(path, *, max_bytes: int, what: str = "file") -> bytes:
    """The contents of the regular file `path`, refusing anything else or anything larger than
    `max_bytes` (checked on the open file, and the read itself is capped, so a file that grows
    after the check still cannot make it read more).

    Raises:
        as `check_regular_file`.
    """
    # O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        _check_stat(path, os.fstat(fd), max_bytes, what)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ValueError(f"{path}: the {what} grew past {_human(max_bytes)} while being read.")
    return data


def read_text(path, *, max_bytes: int, what: str = "file") -> str:
    """`read_bytes` decoded as UTF-8 (a `ValueError` naming the file when it is not)."""
    try:
        return read_bytes(path, max_bytes=max_bytes, what=what).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: the {what} is not UTF-8 text ({e.reason} at byte {e.start}).") from None
