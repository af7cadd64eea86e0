"""Labels from a CSV file (issue 27, item 4): `file,label` rows instead of class subfolders, read
through the same scan, decoders, split and skip list as a folder, with and without TensorFlow."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests._imagefolders import _jpeg, good_image

ROOT = Path(__file__).resolve().parents[1]


def _write_images(root: Path, n: int = 10, seed: int = 0) -> list[tuple[str, str]]:
    """n small JPEGs under root/imgs (bright 'cat', dark 'dog'); [(relative path, label)]."""
    rng = np.random.default_rng(seed)
    (root / "imgs").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        label = i % 2
        rel = f"imgs/{i:03d}.jpg"
        (root / rel).write_bytes(_jpeg(good_image(rng, label)))
        rows.append((rel, "cat" if label == 0 else "dog"))
    return rows


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    """labels.csv beside imgs/: good rows, a text file posing as a JPEG, a missing file, a file
    listed twice with different labels, a row with no label, a blank line."""
    root = tmp_path_factory.mktemp("csvdata")
    rows = _write_images(root)
    (root / "imgs" / "notes.jpg").write_bytes(b"my notes, not a photo\n")
    lines = ["file,label"] + [f"{p},{c}" for p, c in rows]
    lines += ["imgs/notes.jpg,cat", "imgs/missing.jpg,dog", "", "imgs/000.jpg,dog",
              "imgs/001.jpg,"]
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


def test_read_labels_skips_bad_rows_by_name(messy):
    from dlzoo.data.labelfile import read_labels

    table = read_labels(messy / "labels.csv")
    assert table.class_names == ["cat", "dog"] and not table.multi_label
    reasons = dict(table.skipped)
    assert "not found" in reasons["imgs/missing.jpg"] and "line 13" in reasons["imgs/missing.jpg"]
    assert "listed twice with different labels" in reasons["imgs/000.jpg"]
    assert "no label" in reasons["imgs/001.jpg"]
    used = [e[0] for e in table.entries]
    assert "imgs/000.jpg" not in used and "imgs/002.jpg" in used and "imgs/notes.jpg" in used


@pytest.mark.parametrize("text", [
    "\ufefffilename;class\nimgs/002.jpg;cat\n",         # BOM, semicolons, other column names
    "imgs/002.jpg,cat\n",                                # no header: the first cell is a file
    "id,width,label\nimgs/002.jpg,24,cat\n",             # more columns: the label one is found
])
def test_read_labels_header_forms(messy, tmp_path, text):
    from dlzoo.data.labelfile import read_labels

    csv = tmp_path / "l.csv"
    csv.write_text(text, encoding="utf-8")
    table = read_labels(csv, messy)
    assert [(e[0], e[1]) for e in table.entries] == [("imgs/002.jpg", "cat")]


def test_read_labels_refuses_what_is_no_label_file(tmp_path):
    from dlzoo.data.labelfile import read_labels

    (tmp_path / "one.csv").write_text("just_a_column\nx\n")
    with pytest.raises(ValueError, match="one column.*file,label"):
        read_labels(tmp_path / "one.csv")
    (tmp_path / "odd.csv").write_text("a,b\nc,d\n")
    with pytest.raises(ValueError, match="names no known columns.*header such as 'file,label'"):
        read_labels(tmp_path / "odd.csv")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        read_labels(tmp_path / "odd.csv", tmp_path / "nope")


@pytest.mark.parametrize("loader", ["pydataset", "tf.data"])
def test_csv_source_splits_and_skips_as_a_folder_does(messy, loader):
    """`load("csv:...")`: the bad rows skipped by name, the usable files split by the same
    stratified hash of their path as a folder's files, labels as the CSV says, on either loader
    (the PyDataset one is what a host without TensorFlow uses)."""
    if loader == "tf.data":
        pytest.importorskip("tensorflow")
    from dlzoo.data import load
    from dlzoo.data.labelfile import read_labels
    from dlzoo.data.scan import split_sides

    data = load(f"csv:{messy / 'labels.csv'}", image_size=(16, 16), batch_size=4, loader=loader,
                progress=False, shuffle=False, seed=3)
    assert data.source == f"csv:{messy / 'labels.csv'}"
    assert data.class_names == ["cat", "dog"]
    assert {s[0] for s in data.skipped} == {"imgs/000.jpg", "imgs/001.jpg", "imgs/missing.jpg",
                                            "imgs/notes.jpg"}
    table = read_labels(messy / "labels.csv")
    usable = [(e[0], e[1]) for e in table.entries if e[0] != "imgs/notes.jpg"]
    sides = split_sides(usable, 0.2, 3)
    assert sorted(data.files["val"]) == sorted(p for p, s in sides.items() if s == "val")
    assert sorted(data.files["train"]) == sorted(p for p, s in sides.items() if s == "train")
    label_of = dict(usable)
    got = [int(y) for _, yb in data.val for y in np.asarray(yb)]
    assert got == [data.class_names.index(label_of[f]) for f in data.files["val"]]


def test_csv_paths_relative_to_another_folder(messy, tmp_path):
    """`csv:LABELS?root=FOLDER` (the CLI's `FOLDER --labels LABELS`): paths under FOLDER."""
    from dlzoo.data import load
    from dlzoo.data.labelfile import csv_source

    csv = tmp_path / "elsewhere.csv"
    csv.write_text("image,category\n" + "".join(f"{i:03d}.jpg,{'cat' if i % 2 == 0 else 'dog'}\n"
                                                  for i in range(2, 10)))
    source = csv_source(csv, messy / "imgs")
    assert source == f"csv:{csv}?root={messy / 'imgs'}"
    data = load(source, image_size=(8, 8), loader="pydataset", progress=False)
    assert len(data.files["train"]) + len(data.files["val"]) == 8 and not data.skipped


# --- the CLI, as a user runs it ----------------------------------------------------------------


def _dlzoo(*args, cwd, python=sys.executable, **env):
    full = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    full["PYTHONPATH"] = str(ROOT) + os.pathsep + full.get("PYTHONPATH", "")
    full.update(env)
    return subprocess.run([python, "-m", "dlzoo", *map(str, args)], capture_output=True,
                          text=True, env=full, cwd=cwd, timeout=600, check=False)


@pytest.fixture(scope="module")
def finetuned_on_csv(messy):
    run = _dlzoo("finetune", "labels.csv", "--model", "lenet5", "--image-size", "32",
                 "--head-epochs", "1", "--epochs", "0", "--cache-dir", "", "--quiet",
                 "--out", "csv model", cwd=messy)
    return messy, run


@pytest.mark.slow  # the default run is at its 12 CPU-min budget
def test_finetune_reads_a_label_file(finetuned_on_csv):
    """`dlzoo finetune labels.csv`: trains on the CSV's labels, names the skipped rows, records
    the label file in the card, and prints an evaluate line for the same data."""
    root, run = finetuned_on_csv
    assert run.returncode == 0, run.stderr
    card = json.loads((root / "csv model" / "card.json").read_text())
    assert card["data"]["source"] == f"csv:{root / 'labels.csv'}"
    assert card["class_names"] == ["cat", "dog"]
    assert {s[0] for s in card["data"]["skipped"]} >= {"imgs/missing.jpg", "imgs/notes.jpg"}
    assert "imgs/missing.jpg: not found" in run.stdout
    assert "dlzoo evaluate 'csv model' labels.csv" in run.stdout


@pytest.mark.slow
def test_evaluate_and_train_on_a_label_file(finetuned_on_csv, tmp_path):
    """The printed evaluate line scores the held-out split (the card's figure); `FOLDER --labels
    CSV` reads the same; a recipe trains on `--set data.source=csv:...`."""
    root, _ = finetuned_on_csv
    card = json.loads((root / "csv model" / "card.json").read_text())
    run = _dlzoo("evaluate", "csv model", "labels.csv", "--top-losses", "0", "--out", tmp_path / "e",
                 cwd=root)
    assert run.returncode == 3 and "card's validation accuracy" in run.stdout, run.stdout
    report = json.loads((tmp_path / "e" / "report.json").read_text())
    assert report["accuracy"] == pytest.approx(card["metrics"]["val_accuracy"], abs=1e-4)
    (root / "sub").mkdir(exist_ok=True)
    (root / "sub" / "l.csv").write_text("file,label\n002.jpg,cat\n003.jpg,dog\n")
    run = _dlzoo("evaluate", "csv model", "imgs", "--labels", "sub/l.csv", "--top-losses", "0",
                 "--out", tmp_path / "e2", "--include-training-files", cwd=root)
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "e2" / "report.json").read_text())["samples"] == 2
    run = _dlzoo("train", "lenet5-digits", "--set", "data.source=csv:labels.csv", "--set",
                 "train.epochs=1", cwd=root)
    assert run.returncode == 0, run.stderr
    trained = json.loads((root / "saved_models" / "lenet5-digits-labels" / "card.json").read_text())
    assert trained["data"]["source"] == f"csv:{root / 'labels.csv'}"


def test_relabelling_a_file_changes_the_manifest(messy, tmp_path):
    """A folder's paths carry the class, a CSV's do not: the labels are in its manifest hash, so a
    feature cache or a card never takes relabelled data for the same data."""
    from dlzoo.data.scan import scan

    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    one.write_text("file,label\nimgs/002.jpg,cat\nimgs/003.jpg,dog\n")
    two.write_text("file,label\nimgs/002.jpg,dog\nimgs/003.jpg,cat\n")
    first = scan(messy, labels=one, progress=False)[0]
    again = scan(messy, labels=one, progress=False)[0]
    other = scan(messy, labels=two, progress=False)[0]
    assert first.manifest_hash == again.manifest_hash != other.manifest_hash


@pytest.mark.slow  # default-run budget (12 CPU-min): an end-to-end CLI run
def test_doctor_checks_a_label_file(messy):
    """`dlzoo doctor labels.csv`: the rows skipped by name, and per label the train/validation
    counts of the split training makes (exit 0: usable)."""
    from dlzoo.data import load

    run = _dlzoo("doctor", "labels.csv", "--json", cwd=messy)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["labels_file"] == str(messy / "labels.csv")
    assert {s["file"] for s in report["skipped"]} >= {"imgs/missing.jpg", "imgs/000.jpg"}
    data = load(f"csv:{messy / 'labels.csv'}", image_size=(8, 8), loader="pydataset",
                progress=False, shuffle=False)
    for side in ("train", "val"):
        labels = [int(y) for _, yb in getattr(data, side) for y in np.asarray(yb)]
        for i, name in enumerate(data.class_names):
            assert report["classes"][name][side] == labels.count(i)
