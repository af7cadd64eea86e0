"""Results a newcomer can trust: the majority-class baseline beside accuracy and a warning when a
model does not beat it, balanced accuracy and macro-F1, class weights, training files recognised by
content when a model is evaluated, and random weights trained from scratch. The CLI runs as users
run it (a subprocess, the CLI's own environment) on small generated folders."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlzoo.cli import main

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "saved_models" / "lenet5-digits"
WARNING = "warning: the model does not beat the majority-class baseline"


def _dlzoo(*args, cwd, **env):
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    full.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLI sets its own
    return subprocess.run([sys.executable, "-m", "dlzoo", *map(str, args)], capture_output=True,
                          text=True, env=full, cwd=cwd, timeout=600, check=False)


def _card(folder) -> dict:
    return json.loads((Path(folder) / "card.json").read_text())


def _last_line(text: str) -> str:
    return [line for line in text.splitlines() if line.strip()][-1]


def _imbalanced(root: Path, shift: float | None = None) -> Path:
    """48 "ok" and 8 "defect" 32x32 grey images. `shift` None: every image has the same pixels
    (the files differ only in a PNG text chunk), so no model can tell the classes apart and
    none can beat always answering "ok". A number: noise around 100, "defect" `shift` levels
    brighter: something to learn, but the minority class is easy to ignore."""
    from PIL.PngImagePlugin import PngInfo

    rng = np.random.default_rng(0)
    same = np.clip(rng.normal(100, 40, (32, 32)), 0, 255).astype(np.uint8)
    for cls, n, mean in (("ok", 48, 100), ("defect", 8, 100 + (shift or 0))):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            pixels = same if shift is None else np.clip(
                rng.normal(mean, 40, (32, 32)), 0, 255).astype(np.uint8)
            text = PngInfo()
            text.add_text("n", f"{cls}{i}")
            Image.fromarray(pixels).save(root / cls / f"{i:03d}.png", pnginfo=text)
    return root


def _finetune(work: Path, out: str, *more, epochs=3):
    return _dlzoo("finetune", "parts", "--model", SHIPPED, "--head-epochs", epochs, "--epochs", 0,
                  "--cache-dir", "", "--validation-split", 0.5, "--out", out, *more, cwd=work)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """The imbalanced folder, fine-tuned without class weights (the CLI in a subprocess)."""
    work = tmp_path_factory.mktemp("imbalance")
    _imbalanced(work / "parts")
    # the same bytes elsewhere, for the evaluate tests (default and slow: each finds it)
    shutil.copytree(work / "parts", work / "elsewhere" / "copy")
    run = _finetune(work, "plain")
    assert run.returncode == 0, run.stderr[-2000:]
    return work, run


def test_finetune_sets_accuracy_beside_the_majority_baseline_and_warns_when_not_beaten(plain):
    work, run = plain
    metrics = _card(work / "plain")["metrics"]
    for key in ("val_balanced_accuracy", "val_macro_f1", "val_majority_baseline"):
        assert 0 <= metrics[key] <= 1, key
    assert metrics["val_majority_class"] == "ok"
    assert "majority-class baseline of" in run.stdout
    # every image looks the same: whatever the model answers, it does not beat always "ok"
    assert metrics["val_accuracy"] <= metrics["val_majority_baseline"]
    assert metrics["val_beats_majority_baseline"] is False
    assert _last_line(run.stdout).startswith(WARNING)
    assert "--class-weight balanced" in _last_line(run.stdout)
    assert "val_balanced_accuracy" in (work / "plain" / "README.md").read_text()


@pytest.mark.slow  # two CLI runs of their own (25 CPU-s)
def test_balanced_class_weight_raises_the_minority_class_recall(tmp_path):
    _imbalanced(tmp_path / "parts", shift=30)
    runs = {}
    for name, more in (("plain", ()), ("weighted", ("--class-weight", "balanced"))):
        run = _finetune(tmp_path, name, *more, epochs=20)
        assert run.returncode == 0, run.stderr[-2000:]
        runs[name] = run
    card, before = _card(tmp_path / "weighted"), _card(tmp_path / "plain")
    weights = card["training"]["class_weight"]
    assert weights["mode"] == "balanced"
    assert weights["weights"]["defect"] > 1 > weights["weights"]["ok"]
    assert "class weights (balanced): " in runs["weighted"].stdout
    assert "class_weight" not in before["training"]
    recall = card["metrics"]["per_class"]["defect"]["recall"]
    assert recall > before["metrics"]["per_class"]["defect"]["recall"]
    assert "class weights | balanced" in (tmp_path / "weighted" / "README.md").read_text()


def test_evaluate_leaves_out_the_training_files_wherever_they_are(plain, capsys):
    work, _ = plain
    card = _card(work / "plain")
    seen = card["data"]["training_files"]
    total = sum(1 for _ in (work / "parts").rglob("*.png"))
    assert seen["count"] == card["data"]["num_train"] == len(seen["sha256"])
    run = _dlzoo("evaluate", "plain", "elsewhere/copy", "--out", "ev", "--top-losses", 0,
                 cwd=work)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (f"left out {seen['count']} of the {total} images: files plain was trained on"
            in run.stdout)
    report = json.loads((work / "ev" / "report.json").read_text())
    assert report["samples"] == total - seen["count"] == card["metrics"]["val_samples"]
    assert report["training_files"]["left_out"] == seen["count"]
    assert report["balanced_accuracy"] == card["metrics"]["val_balanced_accuracy"]

    # asked for, they are scored, and the output says the figures include them
    assert main(["evaluate", str(work / "plain"), str(work / "elsewhere" / "copy"), "--out",
                 str(work / "ev_all"), "--top-losses", "0", "--include-training-files"]) == 0
    out = capsys.readouterr().out
    assert f"note: {seen['count']} of the {total} images scored are files plain was" in out
    assert json.loads((work / "ev_all" / "report.json").read_text())["samples"] == total

    # a folder of training files only: one line, nothing scored
    from dlzoo.data.manifest import content_digest

    only, held_out = work / "only-training", []
    for path in sorted((work / "elsewhere" / "copy").rglob("*.png")):
        if content_digest(path.read_bytes()) in set(seen["sha256"]):
            (only / path.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, only / path.parent.name / path.name)
        else:
            held_out.append(path)
    # explain marks the training files, wherever they are
    trained = sorted(only.rglob("*.png"))[0]
    assert main(["explain", str(work / "plain"), str(trained), str(held_out[0]), "--out",
                 str(work / "explained")]) == 0
    lines = capsys.readouterr().out.splitlines()
    marked = [line for line in lines if "[a file the model was trained on]" in line]
    assert len(marked) == 1 and marked[0].startswith(str(trained))
    code = main(["evaluate", str(work / "plain"), str(only), "--out", str(work / "ev_none")])
    err = capsys.readouterr().err
    assert code != 0
    assert f"all {seen['count']} images" in err and "--include-training-files" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow  # a CLI run of its own (12-21 CPU-s)
def test_train_recipe_on_a_folder_logs_the_metrics_weighs_classes_and_records_its_files(plain,
                                                                                        capsys):
    work, _ = plain
    recipe = work / "parts-lenet.yaml"
    recipe.write_text(
        "name: parts-lenet\nmodel: lenet5\n"
        f"data: {{source: 'folder:{work / 'parts'}', image_size: [32, 32], "
        "color_mode: grayscale, batch_size: 16, validation_split: 0.5}\n"
        "train: {epochs: 2, metrics: [accuracy]}\n"
        "callbacks: {monitor: val_macro_f1, early_stopping: false}\n")
    run = _dlzoo("train", recipe, "--class-weight", "balanced", "--output", "trained", cwd=work)
    assert run.returncode == 0, run.stderr[-2000:]
    saved = work / "trained" / "parts-lenet"
    card = _card(saved)
    # the monitored dlzoo metric is compiled in, so Keras logs it every epoch
    header = (saved / "history.csv").read_text().splitlines()[0].split(",")
    assert {"macro_f1", "val_macro_f1"} <= set(header)
    assert card["training"]["class_weight"]["weights"]["defect"] > 1
    assert card["data"]["training_files"]["count"] == card["data"]["num_train"]
    assert "majority-class baseline of" in run.stdout
    if not card["metrics"]["val_beats_majority_baseline"]:
        assert _last_line(run.stdout).startswith(WARNING)
    else:
        assert WARNING not in run.stdout
    assert main(["evaluate", str(saved), str(work / "elsewhere" / "copy"), "--out",
                 str(work / "ev_train"), "--top-losses", "0"]) == 0
    assert (f"left out {card['data']['num_train']} of the"
            in capsys.readouterr().out)


@pytest.mark.slow  # a CLI run of its own (12-21 CPU-s)
def test_finetune_from_random_weights_trains_from_scratch(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (tmp_path / "photos" / cls).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), np.uint8)).save(
                tmp_path / "photos" / cls / f"{i}.png")
    run = _dlzoo("finetune", "photos", "--model", "resnet20", "--weights", "none",
                 "--head-epochs", 1, "--epochs", 0, "--cache-dir", "", "--out", "m",
                 cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    said = [line for line in run.stdout.splitlines() if line.startswith("from scratch:")]
    assert len(said) == 1 and "BatchNorm in training mode" in said[0]
    assert "Warning" not in run.stdout + run.stderr and ".py:" not in run.stdout + run.stderr
    card = _card(tmp_path / "m")
    assert card["training"]["from_scratch"] is True
    assert card["transfer"]["train_batchnorm"] is True and card["transfer"]["unfreeze"] == "all"
    assert card["training"]["phase2"]["epochs_run"] == 1  # the head's epoch, on every layer
    assert card["training"]["phase1"]["epochs_run"] == 0
    # any run ends with the warning when it does not beat the baseline, and only then
    if card["metrics"]["val_beats_majority_baseline"]:
        assert WARNING not in run.stdout
    else:
        assert _last_line(run.stdout).startswith(WARNING)


def test_offline_imagenet_message_says_first_where_to_put_the_file(tmp_path, monkeypatch,
                                                                   capsys):
    from dlzoo.weights import imagenet_file

    monkeypatch.setenv("DLZOO_OFFLINE", "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    _imbalanced(tmp_path / "parts")
    code = main(["finetune", str(tmp_path / "parts"), "--model", "mobilenet_v3_small",
                 "--weights", "imagenet", "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code != 0
    wf = imagenet_file("mobilenet_v3_small", include_top=False)
    target = os.path.join(str(tmp_path / "keras"), "models", wf.file_name)
    put = err.index(f"put the file {wf.file_name} at {target}")
    assert put < err.index("--weights none") and put < err.index("is needed because")
    assert "trained from scratch" in err


def test_a_tune_objective_naming_balanced_accuracy_is_logged_by_every_trial_model():
    """`tune.objective: val_balanced_accuracy` puts the metric in the trials' compile, so Keras
    logs it during fit (what keras-tuner reads the objective from)."""
    from types import SimpleNamespace

    import keras_tuner as kt

    from dlzoo.recipes import validate
    from dlzoo.tuning.runner import recipe_hypermodel

    recipe = validate({"name": "t", "model": "plain_cnn", "data": {"source": "synthetic:shapes"},
                       "tune": {"hypermodel": "cnn", "objective": "val_balanced_accuracy"}})
    assert recipe["train"]["metrics"] == ["accuracy", "balanced_accuracy"]
    bundle = SimpleNamespace(input_shape=(16, 16, 1), num_classes=3, details={},
                             value_range="0-255")
    from dlzoo.registry import model_info

    model = recipe_hypermodel(recipe, bundle, model_info("plain_cnn")).build(kt.HyperParameters())
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (12, 16, 16, 1)).astype("float32"), rng.integers(0, 3, 12)
    history = model.fit(x, y, validation_data=(x, y), epochs=1, verbose=0).history
    assert 0 <= history["val_balanced_accuracy"][0] <= 1
