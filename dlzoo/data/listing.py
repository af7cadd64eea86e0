"""Listing a folder of class subfolders: which files to read, and which entries are left out why.

Symbolic links are followed (files, class folders, folders inside a class) with a loop guard: a
broken link, a loop, or a link that resolves to the root or one of its parents (it would pull in
files from outside the root under a class name) is skipped and listed, as are FIFOs and other
special files (reading one would block) and files outside any class folder. A file name that is not
valid UTF-8 is kept: it is opened by its own bytes and shown with its odd bytes escaped
(`r\\xe9sum\\xe9.png`), so the folder always trains.
"""

from __future__ import annotations

import errno
import os
import stat

from dlzoo.userfiles import IMAGE_MAX_BYTES

__all__ = ["list_files", "root_folder", "shown_name"]


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def shown_name(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 (kept by os as surrogates) escaped as \\xNN."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class _Lister:
    """Walks root/CLASS/... following symbolic links, refusing loops and links out to the root."""

    def __init__(self, root: str):
        self.root = root
        self.real_root = os.path.realpath(root)
        self.entries: list[tuple[str, str, int, str]] = []  # (rel, class, bytes, path to open)
        self.skipped: list[tuple[str, str]] = []
        self.class_folders: list[str] = []

    def run(self):
        st = os.stat(self.root)
        for entry in self._scandir(self.root, ""):
            rel = shown_name(entry.name)
            kind = self._kind(entry, rel, ((st.st_dev, st.st_ino),))
            if kind is None:
                continue
            if kind[0] != "dir":
                self.skipped.append((rel, "outside any class folder (ignored)"))
                continue
            self.class_folders.append(rel)
            self._walk(entry.path, rel, rel, ((st.st_dev, st.st_ino), kind[1]))
        self.entries.sort()
        return self.class_folders, self.entries, self.skipped

    def _scandir(self, path, rel):
        try:
            with os.scandir(path) as it:
                found = [e for e in it if not _is_hidden(e.name)]
        except OSError as e:
            self.skipped.append((rel or ".", f"unreadable folder: {e.strerror or e}"))
            return []
        return sorted(found, key=lambda e: e.name)

    def _kind(self, entry, rel, chain):
        """("dir", (dev, ino)) / ("file", size) / ("other",) or None (skipped, with the reason)."""
        try:
            st = entry.stat(follow_symlinks=True)
        except OSError as e:
            if entry.is_symlink():
                why = ("symbolic link loop" if e.errno == errno.ELOOP
                       else f"broken symbolic link (to {shown_name(os.readlink(entry.path))})")
                self.skipped.append((rel, why))
            else:
                self.skipped.append((rel, f"unreadable: {e.strerror or e}"))
            return None
        if stat.S_ISDIR(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if self.real_root == target or self.real_root.startswith(target.rstrip(os.sep) + os.sep):
                    why = "symbolic link to the root folder or one of its parents (refused)"
                    self.skipped.append((rel, why))
                    return None
            if key in chain:
                self.skipped.append((rel, "symbolic link loop"))
                return None
            return ("dir", key)
        if stat.S_ISREG(st.st_mode):
            return ("file", st.st_size)
        return ("other",)

    def _walk(self, path, rel_dir, label, chain):
        for entry in self._scandir(path, rel_dir):
            rel = f"{rel_dir}/{shown_name(entry.name)}"
            kind = self._kind(entry, rel, chain)
            if kind is None:
                continue
            if kind[0] == "dir":
                self._walk(entry.path, rel, label, (*chain, kind[1]))
            elif kind[0] == "file" and kind[1] > IMAGE_MAX_BYTES:  # read whole: refuse first
                why = f"{kind[1]:,} bytes, more than the {IMAGE_MAX_BYTES >> 20} MiB an image may have"
                self.skipped.append((rel, why))
            elif kind[0] == "file":
                self.entries.append((rel, label, kind[1], entry.path))
            else:
                self.skipped.append((rel, "not a regular file (device, socket or pipe)"))


def list_files(root: str):
    """(class folders, [(rel, class, size, path to open)] sorted, [(rel, reason)] skipped).

    Hidden entries (names starting with ".") are ignored."""
    return _Lister(root).run()


def root_folder(path) -> str:
    """`path` as an absolute folder path; FileNotFoundError / NotADirectoryError saying what to pass."""
    root = os.fspath(path)
    if isinstance(root, bytes):
        root = os.fsdecode(root)
    if not os.path.exists(root):
        raise FileNotFoundError(f"image folder {root!r} does not exist; pass a folder of class subfolders")
    if not os.path.isdir(root):
        raise NotADirectoryError(f"{root!r} is a file; pass a folder of class subfolders")
    return os.path.abspath(root)
