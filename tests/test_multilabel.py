"""Multi-label data (issue 27, item 4): a label file's `labels` column, a sigmoid head with binary
cross-entropy, thresholds chosen per label on validation and kept in the card, per-label figures
and mAP in `evaluate`, every label above its threshold in `predict`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("blue", "red", "green")


def _write(root: Path, n: int = 24, seed: int = 0) -> dict[str, tuple[str, ...]]:
    """n 32x32 JPEGs under root/imgs, each with a random subset of LABELS painted in (red: top
    band, blue: bottom band, green: middle) over noise, and labels.csv with a `labels` column ('|' between
    labels); {relative path: labels}."""
    from tests._imagefolders import _jpeg

    rng = np.random.default_rng(seed)
    (root / "imgs").mkdir(parents=True, exist_ok=True)
    truth = {}
    for i in range(n):
        on = tuple(sorted(c for c in LABELS if rng.random() < 0.5))
        img = np.full((32, 32, 3), 40, np.uint8)
        if "red" in on:
            img[:10, :, 0] = 230
        if "green" in on:
            img[11:21, :, 1] = 230
        if "blue" in on:
            img[22:, :, 2] = 230
        img = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)  # no twins
        rel = f"imgs/{i:03d}.jpg"
        (root / rel).write_bytes(_jpeg(img))
        truth[rel] = on
    (root / "labels.csv").write_text(
        "file,labels\n" + "".join(f"{p},{'|'.join(on)}\n" for p, on in truth.items()))
    return truth


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("multilabel")
    return root, _write(root)


@pytest.mark.parametrize("loader", ["pydataset", "tf.data"])
def test_labels_column_gives_multi_hot_rows(data, loader):
    """Each file's row holds a 1 for exactly its labels (a file with none: all zeros); every
    label has files on both sides of the split."""
    if loader == "tf.data":
        pytest.importorskip("tensorflow")
    from dlzoo.data import load

    root, truth = data
    bundle = load(f"csv:{root / 'labels.csv'}", image_size=(8, 8), loader=loader, progress=False,
                  shuffle=False, batch_size=5)
    assert bundle.class_names == sorted(LABELS) and bundle.details["multi_label"] is True
    for side, part in (("train", bundle.train), ("val", bundle.val)):
        rows = np.concatenate([np.asarray(y) for _, y in part])
        want = [[float(c in truth[f]) for c in bundle.class_names] for f in bundle.files[side]]
        np.testing.assert_array_equal(rows, np.array(want, np.float32))
        assert rows.sum(axis=0).min() >= 1, (side, rows.sum(axis=0))  # each label on each side
    assert any(not on for on in truth.values())  # the data has files with no label


def test_thresholds_maximise_each_labels_f1():
    """Per label, no threshold on the scores gives a higher F1 than the chosen one, and the
    chosen one sits strictly between two scores (a rounding cannot flip a file)."""
    from sklearn.metrics import f1_score

    from dlzoo.multilabel import choose_thresholds

    rng = np.random.default_rng(5)
    y = rng.random((40, 3)) < 0.4
    p = np.clip(y * 0.3 + rng.random((40, 3)) * 0.7, 0, 1)
    t = choose_thresholds(y, p)
    for j in range(3):
        best = max(f1_score(y[:, j], p[:, j] >= c) for c in np.unique(p[:, j]))
        assert f1_score(y[:, j], p[:, j] >= t[j]) == pytest.approx(best)
        assert not np.any(np.isclose(p[:, j], t[j], atol=1e-9))


def _sigmoid_model(seed=1):
    """Flatten -> Dense(3, sigmoid) named predictions with known weights, and its numpy twin."""
    import keras

    rng = np.random.default_rng(seed)
    n = 8 * 8 * 3
    w = rng.normal(0, 3.0 / (255 * np.sqrt(n)), (n, 3)).astype("float32")
    b = np.zeros(3, "float32")
    inp = keras.Input((8, 8, 3))
    out = keras.layers.Dense(3, activation="sigmoid", name="predictions")(
        keras.layers.Flatten()(inp))
    model = keras.Model(inp, out)
    model.get_layer("predictions").set_weights([w, b])
    return model, (lambda x: 1 / (1 + np.exp(-(x.reshape(len(x), -1).astype("float64") @ w + b))))


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    """The hand-made sigmoid model saved with thresholds chosen on the data's validation side
    (finish_card: what fine-tuning and training write) and the data read as the model reads it."""
    import dlzoo
    from dlzoo.data import load
    from dlzoo.evaluation import evaluate
    from dlzoo.multilabel import finish_card
    from dlzoo.saving import ModelCard

    root, _ = data
    bundle = load(f"csv:{root / 'labels.csv'}", image_size=(8, 8), loader="pydataset",
                  progress=False, shuffle=False)
    model, by_hand = _sigmoid_model()
    report = evaluate(model, bundle.val, class_names=bundle.class_names)
    card = ModelCard(name="ml", model="hand", task="image_classification",
                     class_names=list(bundle.class_names),
                     data={**bundle.to_dict(), "recipe": {"validation_split": 0.2, "seed": 0}})
    finish_card(card, report, bundle.class_names)
    out = dlzoo.save(model, tmp_path_factory.mktemp("saved") / "ml", card)
    return out, report, by_hand, bundle


def test_thresholds_round_trip_through_the_card(saved):
    """The thresholds chosen on validation come back from card.json unchanged, and `evaluate`
    (in Python, as the CLI calls it) scores the validation side at them: the same per-label
    figures and mAP as when they were chosen; the per-label figures are scikit-learn's at them."""
    from sklearn.metrics import average_precision_score, precision_recall_fscore_support

    from dlzoo.evaluation import evaluate_saved_model
    from dlzoo.multilabel import card_thresholds
    from dlzoo.saving import read_card

    out, chosen, by_hand, bundle = saved
    card = read_card(out)
    assert card["task"] == "multi_label_classification"
    assert list(card_thresholds(card)) == chosen.thresholds  # exactly: no rounding on the way
    result = evaluate_saved_model(out, f"csv:{bundle.details['labels_file']}", split="val",
                                  out=out.parent / "ev", top_losses=0)
    got = json.loads(Path(result.paths["report"]).read_text())
    assert got["thresholds"] == dict(zip(bundle.class_names, chosen.thresholds))
    assert got["per_class"] == chosen.to_dict()["per_class"]
    x = np.concatenate([np.asarray(xb) for xb, _ in bundle.val])
    y = np.concatenate([np.asarray(yb) for _, yb in bundle.val]).astype(int)
    p = by_hand(x)
    prec, rec, _, _ = precision_recall_fscore_support(y, p >= np.array(chosen.thresholds),
                                                      average=None, zero_division=0)
    for j, name in enumerate(bundle.class_names):
        assert got["per_class"][name]["precision"] == pytest.approx(prec[j], abs=1e-6)
        assert got["per_class"][name]["recall"] == pytest.approx(rec[j], abs=1e-6)
    aps = [average_precision_score(y[:, j], p[:, j]) for j in range(3) if y[:, j].any()]
    assert got["mean_average_precision"] == pytest.approx(np.mean(aps), abs=1e-5)


def _dlzoo(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "dlzoo", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=600, check=False)


@pytest.mark.slow  # default-run budget (12 CPU-min): an end-to-end CLI run
def test_predict_prints_every_label_above_its_threshold(saved, data):
    root, _ = data
    out, chosen, by_hand, _ = saved
    files = [f"imgs/{i:03d}.jpg" for i in range(6)]
    run = _dlzoo("predict", out, *files, "--json", cwd=root)
    assert run.returncode == 0, run.stderr
    from dlzoo.evaluation import read_images

    x, _, _ = read_images([root / f for f in files], (8, 8, 3))
    p = by_hand(x)
    t = np.array(chosen.thresholds)
    names = chosen.class_names
    for row, probs in zip(json.loads(run.stdout), p):
        want = sorted((names[j] for j in range(3) if probs[j] >= t[j]), key=lambda c: -probs[names.index(c)])
        assert [c["class"] for c in row["labels"]] == want


@pytest.mark.slow
def test_finetune_evaluate_predict_on_a_multi_label_csv(tmp_path):
    """`dlzoo finetune labels.csv` (a `labels` column): a sigmoid head trained with binary
    cross-entropy learns the painted bands (mAP on the held-out split above the label
    frequencies a constant guess scores); `evaluate` as printed reads the card's thresholds back
    and reproduces the card's figures."""
    _write(tmp_path, n=80, seed=1)
    run = _dlzoo("finetune", "labels.csv", "--model", "lenet5", "--image-size", "32",
                 "--head-epochs", "12", "--epochs", "0", "--cache-dir", "", "--quiet",
                 "--out", "ml", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    card = json.loads((tmp_path / "ml" / "card.json").read_text())
    assert card["task"] == "multi_label_classification" and set(card["thresholds"]) == set(LABELS)
    assert card["metrics"]["val_mean_average_precision"] > 0.8, card["metrics"]
    run = _dlzoo("evaluate", "ml", "labels.csv", "--out", "ev", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "ev" / "report.json").read_text())
    assert report["mean_average_precision"] == pytest.approx(
        card["metrics"]["val_mean_average_precision"], abs=1e-5)
    assert report["thresholds"] == card["thresholds"]
    assert "mAP" in run.stdout


def test_one_hot_labels_of_a_softmax_model_are_single_label():
    """Rows of labels are multi-label only for a sigmoid head: a softmax model's one-hot labels
    (as label smoothing or MixUp give) are scored as the classes they mark."""
    import keras

    from dlzoo.evaluation import Report, evaluate

    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="predictions")(inp))
    x = np.random.default_rng(0).normal(size=(12, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[np.arange(12) % 3]
    report = evaluate(model, (x, y))
    assert isinstance(report, Report) and report.support == [4, 4, 4]
