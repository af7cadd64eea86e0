"""`dlzoo finetune` on a generated folder of colour images with corrupt files, from the shipped
grayscale saved model and from a weights file; `predict` and `evaluate` on what it saved."""

import json
import os
from pathlib import Path

import keras
import numpy as np
import pytest

from dlzoo import build
from dlzoo.cli import main

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "saved_models" / "lenet5-digits"


def _colour_folder(root: Path, n=10, size=(40, 48)) -> Path:
    """Three colour classes (red, green, blue squares on noise) plus corrupt files in one."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, cls in enumerate(("red", "green", "blue")):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            img = rng.integers(0, 60, (*size, 3)).astype(np.uint8)
            y, x = rng.integers(0, 16, 2)
            img[y:y + 22, x:x + 22, c] = 230 - 20 * c  # the shade differs, so gray tells them apart
            Image.fromarray(img).save(root / cls / f"{i:02d}.jpg", quality=95)
    (root / "red" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "blue" / "empty.png").write_bytes(b"")
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return _colour_folder(tmp_path_factory.mktemp("photos") / "photos")


def _card(path):
    return json.loads((Path(path) / "card.json").read_text())


def test_finetune_a_grayscale_saved_model_on_colour_images_then_predict_and_evaluate(
        folder, tmp_path, capsys):
    out = tmp_path / "colours"
    code = main(["finetune", str(folder), "--model", str(SHIPPED), "--head-epochs", "3",
                 "--epochs", "2", "--unfreeze", "top:2", "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache"), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    card = _card(out)
    # Size and colour mode came from the saved model's card: the colour folder was read as gray.
    assert card["input_shape"] == [32, 32, 1]
    assert card["class_names"] == ["blue", "green", "red"]
    assert card["transfer"]["head"] == "new" and card["transfer"]["feature_layer"] == "c5"
    assert card["transfer"]["source_card"]["name"] == "lenet5-digits"
    assert card["preprocessing"] == "unit" and card["preprocessing_applied"] == "unit"
    skipped = {os.path.basename(p) for p, _ in card["data"]["skipped"]}
    assert skipped == {"broken.jpg", "empty.png"}
    assert "broken.jpg" in printed and "empty.png" in printed
    m = card["metrics"]
    assert {"phase1_val_accuracy", "phase2_val_accuracy", "val_accuracy"} <= set(m)
    assert card["training"]["phase1"]["epochs_run"] == 3
    assert card["training"]["phase2"]["epochs_run"] == 2
    assert {"model.keras", "curves.png", "confusion_matrix.png", "README.md"} <= set(
        os.listdir(out))

    good = str(folder / "green" / "03.jpg")
    assert main(["predict", str(out), good, "--json", "--top-k", "2"]) == 0
    pred = json.loads(capsys.readouterr().out)
    assert pred[0]["file"] == good and len(pred[0]["top"]) == 2
    assert {t["class"] for t in pred[0]["top"]} <= {"blue", "green", "red"}

    report_dir = tmp_path / "eval"
    assert main(["evaluate", str(out), str(folder), "--out", str(report_dir)]) == 3  # 2 skipped
    report = json.loads((report_dir / "report.json").read_text())
    assert report["split"] == "val" and report["samples"] == m["val_samples"]
    assert report["accuracy"] == pytest.approx(m["val_accuracy"], abs=1e-6)

    from dlzoo.backends import has_tensorflow

    if not has_tensorflow():  # a host without TensorFlow: SavedModel export says what it needs
        assert main(["export", str(out), "--out", str(tmp_path / "export")]) == 2
        assert "dlzoo[tf]" in capsys.readouterr().err  # what to install, named
        return
    import tensorflow as tf

    from dlzoo import load
    from dlzoo.evaluation import read_images

    assert main(["export", str(out), "--out", str(tmp_path / "export")]) == 0
    served = tf.saved_model.load(str(tmp_path / "export"))
    images, _, _ = read_images([good, str(folder / "red" / "01.jpg")], card["input_shape"])
    np.testing.assert_allclose(served.serve(tf.constant(images.astype(np.uint8))).numpy(),
                               load(out).predict(images, verbose=0), rtol=1e-5, atol=1e-6)
    # The colour photos as a deployment decodes them (RGB, and RGBA), at their own size: the
    # export converts them to gray as the training pipeline did (was: "grouped convolutions").
    from PIL import Image

    rgb = np.stack([np.asarray(Image.open(f).convert("RGB"))
                    for f in (good, str(folder / "red" / "01.jpg"))])
    rgba = np.concatenate([rgb, np.full(rgb.shape[:3] + (1,), 255, np.uint8)], -1)
    # (resized inside the export by Pillow's algorithm in Keras ops: within one level of the
    # pipeline's Pillow, probabilities within 1e-2; see tests/test_export.py)
    for photos in (rgb, rgba):
        np.testing.assert_allclose(served.serve(tf.constant(photos)).numpy(),
                                   load(out).predict(images, verbose=0), atol=1e-2)


def test_finetune_from_a_weights_file_keeps_the_frozen_layers_weights(folder, tmp_path):
    net = build("lenet5", num_classes=10, input_shape=(32, 32, 3), activation="relu")
    weights = tmp_path / "lenet5_rgb.weights.h5"
    net.save_weights(weights)
    out = tmp_path / "from-file"
    code = main(["finetune", str(folder), "--model", "lenet5", "--weights", str(weights),
                 "--image-size", "32", "--color-mode", "rgb", "--set", "activation=relu",
                 "--head-epochs", "2", "--epochs", "1", "--unfreeze", "top:1",
                 "--augment", "zoom=0.1,translate=0.1", "--out", str(out), "--cache-dir", "",
                 "--quiet"])
    assert code == 0
    card = _card(out)
    assert card["input_shape"] == [32, 32, 3] and card["model_args"]["activation"] == "relu"
    assert card["transfer"]["weights"] == str(weights)
    assert card["transfer"]["unfrozen_groups"] == ["c5"]
    assert card["transfer"]["augment"] == {"zoom": 0.1, "translate": 0.1}
    assert card["training"]["phase1"]["on"] == "images"  # augmentation: frozen network in the loop
    assert card["training"]["phase2"]["learning_rate"] == 1e-3  # a weights file: the head's rate
    saved = keras.saving.load_model(out / "model.keras")
    network = saved.get_layer("lenet5")
    # c1 was frozen in both phases, so it still holds the file's weights (they were loaded).
    np.testing.assert_array_equal(network.get_layer("c1").get_weights()[0],
                                  net.get_layer("c1").get_weights()[0])
    assert not np.array_equal(network.get_layer("c5").get_weights()[0],
                              net.get_layer("c5").get_weights()[0])


def test_finetune_errors_are_one_line(tmp_path, capsys):
    assert main(["finetune", str(tmp_path / "nope"), "--model", "lenet5"]) == 2
    assert "is not a folder" in capsys.readouterr().err
    (tmp_path / "d" / "a").mkdir(parents=True)
    assert main(["finetune", str(tmp_path / "d"), "--model", "lenet5", "--unfreeze", "top"]) == 2
    assert "unfreeze must be 'top:K'" in capsys.readouterr().err
