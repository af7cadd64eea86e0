"""Test-time augmentation (issue 27, item 3): `evaluate --tta` and `predict --tta` average exactly
the views they name, checked against a model whose outputs are computed here by hand."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _linear_model(shape, classes, seed=0):
    """Flatten -> Dense(softmax) with known weights: probabilities computable in numpy."""
    import keras

    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    w = rng.normal(0, 3.0 / (255 * np.sqrt(n)), (n, classes)).astype("float32")  # logits ~ 1
    b = rng.normal(0, 0.1, classes).astype("float32")
    inp = keras.Input(shape)
    out = keras.layers.Dense(classes, activation="softmax", name="predictions")(
        keras.layers.Flatten(name="flatten")(inp))
    model = keras.Model(inp, out)
    model.get_layer("predictions").set_weights([w, b])
    return model, (lambda x: _softmax(x.reshape(len(x), -1).astype("float64") @ w + b))


def test_flip_averages_the_image_and_its_mirror():
    from dlzoo.tta import TTA, tta_probabilities

    model, by_hand = _linear_model((5, 7, 3), 4)
    x = np.random.default_rng(1).integers(0, 256, (6, 5, 7, 3)).astype("float32")
    got = tta_probabilities(model, x, TTA(), batch_size=4)
    want = (by_hand(x) + by_hand(x[:, :, ::-1, :])) / 2
    np.testing.assert_allclose(got, want, atol=2e-6)
    assert np.abs(got - by_hand(x)).max() > 1e-3  # the mirror changed something: not the plain


def test_crops_are_the_windows_named_and_each_counts_once():
    """Quadrants of constant value: each corner crop of half the side is one quadrant, resized
    back; the centre crop holds a quarter of each; the mean over 6 views (image, 5 crops) is
    averaged over the model's outputs, not its inputs."""
    from dlzoo.tta import TTA, tta_probabilities, tta_views

    a, b, c, d = 10.0, 90.0, 170.0, 250.0
    img = np.zeros((1, 8, 8, 1), "float32")
    img[0, :4, :4], img[0, :4, 4:], img[0, 4:, :4], img[0, 4:, 4:] = a, b, c, d
    spec = TTA(flip=False, crops=5, crop_fraction=0.5)
    assert spec.views == ["image", "centre crop", "top-left crop", "top-right crop",
                          "bottom-left crop", "bottom-right crop"]
    views = tta_views(img, spec)
    assert len(views) == 6 and all(v.shape == img.shape for v in views)
    for view, value in zip(views[2:], (a, b, c, d)):
        assert np.all(view == value)
    centre = views[1][0, :, :, 0]
    assert centre[0, 0] == a and centre[0, -1] == b and centre[-1, 0] == c and centre[-1, -1] == d
    model, by_hand = _linear_model((8, 8, 1), 3, seed=2)
    want = np.mean([by_hand(v) for v in views], axis=0)
    np.testing.assert_allclose(tta_probabilities(model, img, spec), want, atol=2e-6)
    flipped = tta_views(img, TTA(flip=True, crops=1, crop_fraction=0.5))
    assert len(flipped) == 4 and np.array_equal(flipped[3], views[1][:, :, ::-1])


def test_tta_words_and_bad_values():
    from dlzoo.tta import TTA

    assert TTA.parse("flip,crops=5") == TTA(flip=True, crops=5)
    assert len(TTA(crops=5).views) == 12
    with pytest.raises(ValueError, match="'spin' is not flip, crops=N"):
        TTA.parse("flip,spin")
    with pytest.raises(ValueError, match="from 0 to 5"):
        TTA(crops=7)
    with pytest.raises(ValueError, match="needs flip or crops"):
        TTA(flip=False)


# --- the CLI, as a user runs it ----------------------------------------------------------------


def _dlzoo(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "dlzoo", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=600, check=False)


@pytest.fixture(scope="module")
def hand_model(tmp_path_factory):
    """A saved linear classifier over 8x8 RGB images, a labelled folder of PNGs whose mirror
    images it often scores differently, and the model's probabilities computed by hand."""
    from PIL import Image

    import dlzoo
    from dlzoo.saving import ModelCard

    root = tmp_path_factory.mktemp("tta")
    model, by_hand = _linear_model((8, 8, 3), 2, seed=3)
    dlzoo.save(model, root / "hand", ModelCard(name="hand", model="hand", task="image_classification",
                                               class_names=["a", "b"], data={"source": "digits"}))
    rng = np.random.default_rng(4)
    images, labels = [], []
    for cls in ("a", "b"):
        (root / "data" / cls).mkdir(parents=True)
        for i in range(8):
            x = rng.integers(0, 256, (8, 8, 3)).astype("uint8")
            Image.fromarray(x).save(root / "data" / cls / f"{i}.png")
            images.append(x)
            labels.append(cls)
    return root, by_hand, np.stack(images).astype("float32"), labels


@pytest.mark.slow  # the default run is at its 12 CPU-min budget
def test_evaluate_tta_reports_the_hand_computed_figure_beside_the_plain(hand_model):
    root, by_hand, x, labels = hand_model
    run = _dlzoo("evaluate", "hand", "data", "--tta", "--top-losses", "0", "--out", "ev", cwd=root)
    assert run.returncode == 0, run.stderr
    report = json.loads((root / "ev" / "report.json").read_text())
    y = np.array([0 if c == "a" else 1 for c in labels])
    plain = by_hand(x)
    tta = (plain + by_hand(x[:, :, ::-1])) / 2
    assert report["accuracy"] == pytest.approx(float(np.mean(plain.argmax(1) == y)), abs=1e-6)
    assert report["tta"]["accuracy"] == pytest.approx(float(np.mean(tta.argmax(1) == y)), abs=1e-6)
    want_loss = -np.mean(np.log(tta[np.arange(len(y)), y]))
    assert report["tta"]["loss"] == pytest.approx(want_loss, abs=1e-5)
    assert report["tta"]["views"] == ["image", "image, flipped"]
    line = next(ln for ln in run.stdout.splitlines() if "test-time augmentation" in ln)
    assert f"accuracy {report['tta']['accuracy']:.4f} (plain {report['accuracy']:.4f})" in line


@pytest.mark.slow
def test_predict_tta_prints_the_average_and_the_plain(hand_model):
    root, by_hand, x, _ = hand_model
    run = _dlzoo("predict", "hand", "data/a/0.png", "--tta-crops", "2", "--json", cwd=root)
    assert run.returncode == 0, run.stderr
    [row] = json.loads(run.stdout)
    from dlzoo.tta import TTA, tta_views

    views = tta_views(x[:1], TTA(flip=True, crops=2))
    want = np.mean([by_hand(v) for v in views], axis=0)[0]
    got = {t["class"]: t["probability"] for t in row["top"]}
    plain = {t["class"]: t["probability"] for t in row["plain_top"]}
    assert got["a"] == pytest.approx(want[0], abs=1e-5) and got["b"] == pytest.approx(want[1], abs=1e-5)
    assert plain["a"] == pytest.approx(by_hand(x[:1])[0, 0], abs=1e-5)
    assert len(row["tta"]["views"]) == 6
    bad = _dlzoo("predict", "hand", "data/a/0.png", "--tta-crops", "9", cwd=root)
    assert bad.returncode == 2 and "--tta-crops takes 1 to 5" in bad.stderr
