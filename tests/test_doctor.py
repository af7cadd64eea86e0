"""`dlzoo doctor DIR` and `dlzoo datasets export digits DIR`."""

import json
import os
import shutil

import pytest

from dlzoo.cli import main
from dlzoo.data import in_validation
from tests._imagefolders import BAD_FILES, make_messy_folder, write_good

pytest.importorskip("tensorflow")


@pytest.fixture
def leaky(tmp_path, rng):
    """The messy folder plus duplicates: one across train/val, one across classes."""
    root = make_messy_folder(tmp_path / "leaky")
    names = sorted(os.listdir(os.path.join(root, "b")))
    train_file = next(n for n in names if not in_validation(f"b/{n}", 0.2, 0))
    # pick a copy name that lands in validation, so the pair straddles the split
    copy = next(f"dup{i}.jpg" for i in range(100) if in_validation(f"b/dup{i}.jpg", 0.2, 0))
    shutil.copy(os.path.join(root, "b", train_file), os.path.join(root, "b", copy))
    shutil.copy(os.path.join(root, "a", "img000.jpg"), os.path.join(root, "b", "mislabelled.jpg"))
    return root, f"b/{train_file}", f"b/{copy}"


def test_doctor_json_report(leaky, capsys):
    root, original, copy = leaky
    assert main(["doctor", root, "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["usable_for_training"] and r["empty_classes"] == ["c"]
    assert r["classes"]["b"]["total"] == 14 and r["classes"]["c"]["total"] == 0
    assert r["classes"]["a"]["train"] + r["classes"]["a"]["val"] == r["classes"]["a"]["total"]
    reasons = {s["file"]: s["reason"] for s in r["skipped"]}
    for name, why in BAD_FILES.items():
        assert why in reasons[f"a/{name}"]
    groups = {tuple(sorted(g["files"])): g for g in r["duplicates"]}
    leak = groups[tuple(sorted([original, copy]))]
    assert leak["across_splits"] and not leak["across_classes"]
    assert groups[("a/img000.jpg", "b/mislabelled.jpg")]["across_classes"]
    assert r["duplicates_across_splits"] >= 1 and r["duplicates_across_classes"] == 1
    assert r["image_sizes"]["height"]["max"] == 24


def test_doctor_text_report(leaky, capsys):
    root, _, copy = leaky
    assert main(["doctor", root]) == 0
    out = capsys.readouterr().out
    assert "a/truncated.jpg: truncated JPEG" in out
    assert "a/zero.jpg: empty file (0 bytes)" in out
    assert "empty classes (left out): c" in out
    assert "imbalance" in out and "train/val" in out and copy in out


def test_doctor_flags_imbalance_and_unusable_folders(tmp_path, rng, capsys):
    root = tmp_path / "skewed"
    for i in range(16):
        write_good(root, "many", f"{i}.png", rng, 0, size=(8, 8), fmt="png")
    write_good(root, "few", "0.png", rng, 1, size=(8, 8), fmt="png")
    assert main(["doctor", str(root), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["imbalance"] == 16 and r["imbalanced"]
    shutil.rmtree(root / "few")
    assert main(["doctor", str(root)]) == 2
    assert "fewer than two classes" in capsys.readouterr().err
    assert main(["doctor", str(tmp_path / "absent")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_datasets_export_digits_cli(tmp_path, capsys):
    out = tmp_path / "digits"
    assert main(["datasets", "export", "digits", str(out), "--image-size", "16,16"]) == 0
    assert "wrote 1797 PNG files (16x16" in capsys.readouterr().out
    assert len(os.listdir(out / "7")) > 150
    assert main(["datasets", "export", "digits", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["datasets", "export", "mnist", str(out)]) == 2
    assert main(["datasets", "list"]) == 0
    assert "synthetic:shapes" in capsys.readouterr().out
