"""Odd names, symbolic links, special files and oversized images: the folder always trains, and
whatever is left out is listed with its reason."""

import json
import os
import struct
import zlib

import numpy as np
import pytest

from dlzoo.cli import main
from dlzoo.data import image_folder, scan_folder
from tests._imagefolders import write_good

tf = pytest.importorskip("tensorflow")


def _two_classes(root, rng, n=3):
    for cls, label in (("a", 0), ("b", 1)):
        for i in range(n):
            write_good(root, cls, f"{i}.png", rng, label, size=(8, 8), fmt="png")
    return root


def test_a_file_name_that_is_not_utf8_is_read_by_its_bytes(tmp_path, rng, capsys):
    root = _two_classes(tmp_path / "latin1", rng)
    write_good(root, "b", "tmp.png", rng, 1, size=(8, 8), fmt="png")
    os.rename(os.fsencode(root / "b" / "tmp.png"), os.fsencode(root / "b") + b"/r\xe9sum\xe9.png")
    shown = "b/r\\xe9sum\\xe9.png"
    for cache in (True, False):
        train, _, info = image_folder(root, image_size=(8, 8), batch_size=4, progress=False,
                                        validation_split=0, cache=cache)
        assert shown in info.train_files and info.skipped == []
        assert sum(int(y.shape[0]) for _, y in train) == 7
    json.dumps(info.to_dict())  # the card can be written
    assert main(["doctor", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["classes"]["b"]["total"] == 4
    assert main(["doctor", str(root)]) == 0


def test_symbolic_links_are_followed_and_loops_refused(tmp_path, rng):
    outside = tmp_path / "outside"
    for i in range(2):
        write_good(outside, "more", f"{i}.png", rng, 0, size=(8, 8), fmt="png")
    root = _two_classes(tmp_path / "root", rng)
    os.symlink(outside / "more", root / "c")  # a class folder that is a link
    os.symlink(outside / "more", root / "a" / "nested")  # a folder inside a class
    os.symlink(root / "b" / "0.png", root / "a" / "alias.png")  # a file
    os.symlink(tmp_path / "gone.png", root / "a" / "broken.png")  # broken
    os.symlink(root / "a", root / "a" / "again")  # a loop back into the class
    os.symlink("self", root / "b" / "self")  # a link to itself
    os.symlink(root, root / "b" / "up")  # the root, from inside a class
    os.symlink(tmp_path, root / "parent")  # a class folder that is the root's parent
    os.mkfifo(root / "b" / "pipe.png")  # reading it would block forever
    report = scan_folder(root, progress=False)
    used = {r.path for r in report.records}
    assert {"c/0.png", "c/1.png", "a/nested/0.png", "a/nested/1.png", "a/alias.png"} <= used
    assert report.class_folders == ["a", "b", "c"]  # not "parent"
    assert not any(p.startswith(("a/again", "b/up", "parent")) for p in used)
    reasons = dict(report.skipped)
    assert reasons["a/broken.png"].startswith("broken symbolic link")
    assert reasons["a/again"] == "symbolic link loop"
    assert reasons["b/self"] == "symbolic link loop"
    assert "root folder or one of its parents (refused)" in reasons["b/up"]
    assert "root folder or one of its parents (refused)" in reasons["parent"]
    assert reasons["b/pipe.png"].startswith("not a regular file")
    train, _, info = image_folder(root, image_size=(8, 8), progress=False, validation_split=0)
    assert info.class_names == ["a", "b", "c"]
    assert sum(int(y.shape[0]) for _, y in train) == len(used)


def _png_header_only(width, height) -> bytes:
    """A tiny PNG file that declares `width` x `height` pixels (its pixel data is cut short)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))


def test_a_file_declaring_too_many_pixels_is_skipped_before_decoding(tmp_path, rng):
    root = _two_classes(tmp_path / "big", rng)
    (root / "a" / "huge.png").write_bytes(_png_header_only(12000, 12000))
    (root / "a" / "huger.png").write_bytes(_png_header_only(20000, 20000))
    write_good(root, "b", "wide.png", rng, 1, size=(8, 40), fmt="png")
    reasons = dict(scan_folder(root, progress=False).skipped)
    assert reasons["a/huge.png"] == ("declares 12000x12000 pixels, over the limit of 89,478,485 "
                                     "(not decoded)")
    assert reasons["a/huger.png"] == ("declares 20000x20000 pixels, over the limit of 89,478,485 "
                                      "(not decoded)")
    _, _, info = image_folder(root, image_size=(8, 8), progress=False, max_pixels=300)
    assert "over the limit of 300" in dict(info.skipped)["b/wide.png"]
    assert "b/wide.png" not in info.train_files + info.val_files


def test_past_the_cache_budget_the_folder_streams_and_says_so(tmp_path, rng):
    root = _two_classes(tmp_path / "budget", rng, n=5)
    kw = {"image_size": (8, 8), "progress": False, "shuffle": False, "batch_size": 3}
    cached, _, info = image_folder(root, **kw)
    with pytest.warns(UserWarning, match="over the cache budget of 0 MiB; streaming") as got:
        streamed, _, info2 = image_folder(root, cache_budget=100, **kw)
    assert len(got) == 1
    assert info2.train_files == info.train_files
    x1 = np.concatenate([x for x, _ in cached])
    x2 = np.concatenate([x for x, _ in streamed])
    np.testing.assert_array_equal(x1, x2)
