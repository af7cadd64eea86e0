"""dlzoo.explain: Grad-CAM finds the patch that decides the class (TensorFlow and JAX agree),
the default layer comes from the registry, and `dlzoo explain` writes its PNGs."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dlzoo.explain import default_layer, grad_cam, spatial_layers
from tests._patch_task import patch_images, peak_inside, trained_patch_classifier

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "saved_models" / "lenet5-digits"


@pytest.fixture(scope="module")
def patch_model(tmp_path_factory):
    """The patch classifier, trained, saved, with its validation images and Grad-CAM maps."""
    model = trained_patch_classifier()
    x, y, boxes = patch_images(300, seed=1)
    path = tmp_path_factory.mktemp("patch") / "patch.keras"
    model.save(path)
    return model, path, x, y, boxes


def test_grad_cam_peak_lies_in_the_deciding_patch(patch_model):
    model, _, x, y, boxes = patch_model
    accuracy = float((model.predict(x, verbose=0).argmax(-1) == y).mean())
    assert accuracy >= 0.95
    heat = grad_cam(model, x)
    assert heat.shape == (300, 16, 16) and heat.dtype == np.float32
    assert heat.min() >= 0 and np.allclose(heat.max(axis=(1, 2)), 1.0)
    inside = float(peak_inside(heat, boxes).mean())
    # the other class's map: the patch is evidence against it, so ReLU leaves it dark there
    other = float(peak_inside(grad_cam(model, x, class_index=1 - y), boxes).mean())
    print(f"patch task: val accuracy {accuracy:.3f}, Grad-CAM peak inside the patch on "
          f"{inside:.1%} of {len(x)} images for the predicted class, {other:.1%} for the other")
    assert inside >= 0.8  # a peak placed at random lands in the 8x8 patch 6% of the time
    assert other <= 0.2  # class-discriminative, as Grad-CAM should be


def test_grad_cam_class_index_and_errors(patch_model):
    model, _, x, y, _ = patch_model
    x, y = x[:8], y[:8]
    assert np.allclose(grad_cam(model, x, class_index=y), grad_cam(model, x))
    with pytest.raises(ValueError, match="layer 'nope' is not in patchnet.*last_conv"):
        grad_cam(model, x, layer="nope")
    with pytest.raises(ValueError, match=r"class_index must lie in 0..1"):
        grad_cam(model, x, class_index=2)
    with pytest.raises(ValueError, match="one per image"):
        grad_cam(model, x, class_index=[0, 1])


JAX_SCRIPT = """
import sys, numpy as np, keras
import dlzoo.layers
from dlzoo.explain import grad_cam
assert keras.backend.backend() == "jax"
model = keras.saving.load_model(sys.argv[1])
np.save(sys.argv[3], grad_cam(model, np.load(sys.argv[2])))
"""


def test_grad_cam_on_jax_equals_tensorflow(patch_model, tmp_path):
    model, path, x, _, _ = patch_model
    np.save(tmp_path / "x.npy", x[:32])
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", JAX_SCRIPT, str(path), str(tmp_path / "x.npy"),
                    str(tmp_path / "jax.npy")], check=True, env=env, timeout=300)
    np.testing.assert_allclose(np.load(tmp_path / "jax.npy"), grad_cam(model, x[:32]), atol=1e-4)


def test_default_layer_is_the_deepest_registry_feature_layer_with_room_to_localise():
    from dlzoo import build

    lenet = build("lenet5", num_classes=10, input_shape=(32, 32, 1))
    # its feature layers are s2, s4, c5; c5 is 1x1
    assert default_layer(lenet, "lenet5") == "s4"
    assert "c5" not in spatial_layers(lenet)
    resnet = build("resnet20", num_classes=10, input_shape=(32, 32, 3), depths=(1, 1, 1))
    assert default_layer(resnet, "resnet20") == "conv4_block1_out"
    assert grad_cam(resnet, np.zeros((2, 32, 32, 3)) + 100, model_name="resnet20").shape == (
        2, 8, 8)


def test_cli_explain_writes_overlays_filters_and_feature_maps(tmp_path, capsys):
    from PIL import Image
    from sklearn.datasets import load_digits

    from dlzoo.cli import main

    digits = load_digits()
    files = []
    for i in (0, 3):
        img = Image.fromarray((digits.images[i] * 255 / 16).astype("uint8")).resize((32, 32))
        files.append(str(tmp_path / f"d{digits.target[i]}.png"))
        img.save(files[-1])
    (tmp_path / "junk.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    code = main(["explain", str(SHIPPED), *files, str(tmp_path / "junk.png"), "--filters",
                 "--feature-maps", "c3", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 3 and "junk.png: skipped" in captured.err  # a file skipped: named, exit 3
    assert f"{files[0]}: 0 " in captured.out and f"{files[1]}: 3 " in captured.out
    assert "Grad-CAM on layer s4" in captured.out
    for name in ("d0.gradcam.png", "d3.gradcam.png", "filters.png", "c3.feature_maps.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    assert main(["explain", str(SHIPPED), files[0], "--class", "8", "--out", str(out)]) == 0
    assert f"{files[0]}: 8 0." in (line := capsys.readouterr().out) and "(predicted 0)" in line
    assert main(["explain", str(SHIPPED), files[0], "--class", "x"]) == 2
    assert "--class 'x' is not one of the model's classes" in capsys.readouterr().err


def _half_white_folder(root):
    """Two classes of 48x24 RGB images whose right half is white and left half black."""
    from PIL import Image

    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(10):
            img = np.zeros((24, 48, 3), "uint8")
            img[:, 24:] = 255
            img[0, 0] = (i, 0, 0)  # no two files alike
            Image.fromarray(img).save(root / c / f"{i}.png")
    return root


def test_training_batch_is_what_the_model_receives(tmp_path):
    from dlzoo.data.doctor import training_batch

    folder = _half_white_folder(tmp_path / "data")
    x, y, classes, settings = training_batch(folder, model="lenet5", count=8)
    # lenet5's default input: 32x32 grayscale; the 48x24 images resized, not cropped
    assert x.shape == (8, 32, 32, 1) and classes == ["a", "b"] and set(y) <= {0, 1}
    assert settings == {"image_size": [32, 32], "color_mode": "grayscale", "augmentation": [],
                        "from": "lenet5's default input"}
    assert x[:, :, :12].max() < 10 and x[:, :, 20:].min() > 245
    flipped, *_ = training_batch(folder, model="lenet5", count=8,
                                 augment={"flip": "horizontal"})
    mirrored = flipped[:, :, :12].mean(axis=(1, 2, 3)) > 128
    assert 0 < mirrored.sum() < 8  # some flipped, some not: augmentation in training mode
    # a saved model: its card's input and the augmentation layers inside it
    _, _, _, saved = training_batch(folder, model=str(SHIPPED), count=4)
    assert saved["augmentation"] == ["augment_translate", "augment_zoom"]
    assert saved["image_size"] == [32, 32] and saved["color_mode"] == "grayscale"


def test_cli_doctor_show_batch_writes_the_grid(tmp_path, capsys):
    from dlzoo.cli import main

    folder = _half_white_folder(tmp_path / "data")
    out = tmp_path / "batch.png"
    assert main(["doctor", str(folder), "--show-batch", "6", "--image-size", "40x20",
                 "--out", str(out)]) == 0
    assert "6 training images as the model receives them (40x20 rgb, no augmentation" in (
        capsys.readouterr().out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
