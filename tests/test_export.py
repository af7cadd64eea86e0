"""`dlzoo export`: the exported model takes raw uint8 images of any size and 1-4 channels and gives
the Keras model's probabilities, with no dlzoo at serving time; each format is loaded the way the
USAGE.md beside it says."""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import dlzoo
from dlzoo.cli import main
from dlzoo.export import check_format, export, usage_path

SHIPPED = Path(__file__).resolve().parents[1] / "saved_models" / "lenet5-digits"
MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def _as_the_pipeline_reads(images, shape):
    """What dlzoo's folder pipeline gives the model for these decoded photos: Pillow's channel
    conversion to the model's mode, then its resize (Pillow's, `resize_array`)."""
    from dlzoo.data.images import resize_array

    h, w, c = shape
    out = []
    for im in images:
        pil = Image.fromarray(im[..., 0] if im.shape[-1] == 1 else im, MODES[im.shape[-1]])
        arr = np.asarray(pil.convert(MODES[c])).reshape(*im.shape[:2], c)
        out.append(resize_array(arr, (h, w)))
    return np.stack(out).astype("float32")


def _photos(seed, channels, size=(45, 37), n=3):
    """Smooth uint8 photos (gradients and noise) with `channels` channels, not at the model's size."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: size[0], : size[1]] / max(size)
    base = np.stack([yy, xx, 1 - yy * xx, (yy + xx) / 2][:channels], -1) * 255
    return np.clip(base[None] + rng.normal(0, 40, (n, *size, channels)), 0, 255).astype(np.uint8)


def _classify_as_usage_says(artifact):
    """Runs the Python block of the USAGE.md beside `artifact`; returns its `classify`."""
    text = usage_path(artifact).read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    here = os.getcwd()
    os.chdir(usage_path(artifact).parent)  # as USAGE.md says: run from its folder
    try:
        exec(compile(code, str(usage_path(artifact)), "exec"), namespace)  # noqa: S102 (our file)
    finally:
        os.chdir(here)
    return namespace


# An export resizes in its graph with Pillow's algorithm in Keras ops (float32), dlzoo's hosts
# with Pillow itself: a pixel may differ by one level (measured here: up to a quarter of the
# pixels of a 45x37 photo at 32x32, never more than one level), which moves lenet5-digits'
# probabilities by up to 5e-3; hence the pixels are checked to one level and the probabilities
# to 1e-2 (at the model's own size the export is exact: see the first test).


def _check_every_channel_count(artifact, model_dir):
    from dlzoo.export import RawImageInput

    usage = _classify_as_usage_says(artifact)
    model = dlzoo.load(model_dir)
    shape = model.input_shape[1:]
    for channels, seed in ((3, 0), (1, 1), (4, 2)):  # RGB, grayscale, RGBA photos
        photos = _photos(seed, channels)
        pixels = _as_the_pipeline_reads(photos, shape)
        inside = np.asarray(RawImageInput(*shape)(photos))  # what the exported graph computes
        assert np.abs(inside - pixels).max() <= 1, f"{channels}-channel photos"
        expected = model.predict(pixels, verbose=0)
        np.testing.assert_allclose(usage["classify"](photos), expected, atol=1e-2,
                                   err_msg=f"{channels}-channel photos")


def test_exported_savedmodel_matches_the_keras_model_on_raw_uint8_images(tmp_path, capsys):
    out = tmp_path / "sm"
    assert main(["export", str(SHIPPED), "--format", "savedmodel", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "uint8 images" in printed and f"class names in {out / 'labels.txt'}" in printed
    assert f"how to load it: {out / 'USAGE.md'}" in printed
    assert (out / "labels.txt").read_text().split() == [str(i) for i in range(10)]
    served = tf.saved_model.load(str(out))
    model = dlzoo.load(SHIPPED)  # has augmentation layers: the export must run them in inference

    batch = np.random.default_rng(0).integers(0, 256, (6, 32, 32, 1), dtype=np.uint8)
    np.testing.assert_allclose(served.serve(tf.constant(batch)).numpy(),
                               model.predict(batch.astype("float32"), verbose=0),
                               rtol=1e-5, atol=1e-6)
    sig = served.signatures["serve"].structured_input_signature[1]["image"]
    assert sig.dtype == tf.uint8 and sig.shape.as_list() == [None, None, None, None]
    # Grayscale lenet5-digits given colour photos (the fault: "grouped convolutions" on RGB)
    _check_every_channel_count(out, SHIPPED)
    with pytest.raises(tf.errors.InvalidArgumentError, match="raw_image_1_to_4_channels"):
        served.serve(tf.zeros((1, 8, 8, 5), tf.uint8))


def test_litert_has_the_cards_size_and_loads_with_ai_edge_litert(tmp_path, capsys):
    pytest.importorskip("ai_edge_litert", reason="pip install \"dlzoo[export]\"")
    from ai_edge_litert.interpreter import Interpreter

    assert main(["export", str(SHIPPED), "--format", "litert", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "labels.txt").read_text().split() == [str(i) for i in range(10)]
    assert f"class names in {tmp_path / 'labels.txt'}" in capsys.readouterr().out
    detail = Interpreter(model_path=str(tmp_path / "model.tflite")).get_input_details()[0]
    # the card's size, fixed (was [1, 1, 1, 1]); the channels left free for conversion inside
    assert list(detail["shape"]) == [1, 32, 32, 1]
    assert list(detail["shape_signature"]) == [1, 32, 32, -1]
    _check_every_channel_count(tmp_path / "model.tflite", SHIPPED)


def test_litert_dynamic_size_on_request(tmp_path):
    pytest.importorskip("ai_edge_litert", reason="pip install \"dlzoo[export]\"")
    from ai_edge_litert.interpreter import Interpreter

    path = export(SHIPPED, "litert", tmp_path, dynamic_size=True)
    detail = Interpreter(model_path=str(path)).get_input_details()[0]
    assert list(detail["shape_signature"]) == [1, -1, -1, -1]
    assert "declared unknown" in usage_path(path).read_text()
    usage = _classify_as_usage_says(path)
    photos = _photos(3, 3, size=(64, 50), n=1)
    np.testing.assert_allclose(
        usage["classify"](photos),
        dlzoo.load(SHIPPED).predict(_as_the_pipeline_reads(photos, (32, 32, 1)), verbose=0),
        atol=1e-2)  # see _check_every_channel_count
    with pytest.raises(ValueError, match="litert only"):
        export(SHIPPED, "onnx", tmp_path / "x", dynamic_size=True)


def test_onnx_export_matches_keras_through_onnxruntime(tmp_path):
    for module in ("tf2onnx", "onnx", "onnxruntime"):
        pytest.importorskip(module, reason="pip install \"dlzoo[export]\"")
    assert main(["export", str(SHIPPED), "--format", "onnx", "--out", str(tmp_path)]) == 0
    assert "onnxruntime" in usage_path(tmp_path / "model.onnx").read_text()
    _check_every_channel_count(tmp_path / "model.onnx", SHIPPED)


def test_an_rgb_model_takes_grayscale_and_rgba_photos(tmp_path):
    """The other direction: a colour model given grayscale (tiled) or RGBA (alpha dropped)."""
    import keras

    inputs = keras.Input((20, 24, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="predictions")(x))
    dlzoo.save(model, tmp_path / "rgb", {"name": "rgb-toy", "task": "image_classification",
                                         "class_names": ["a", "b", "c"]})
    path = export(tmp_path / "rgb", "savedmodel", tmp_path / "sm")
    assert _classify_as_usage_says(path)["labels"] == ["a", "b", "c"]
    _check_every_channel_count(path, tmp_path / "rgb")


@pytest.mark.skipif(importlib.util.find_spec("tf2onnx") is not None,
                    reason="tf2onnx is installed: the missing-package message cannot show")
def test_onnx_without_its_packages_says_what_to_install(capsys):
    with pytest.raises(ImportError, match="pip install tf2onnx"):
        check_format("onnx")
    assert main(["export", str(SHIPPED), "--format", "onnx", "--out", "x"]) == 2
    err = capsys.readouterr().err
    assert "needs the package(s) tf2onnx" in err and len(err.strip().splitlines()) == 1
