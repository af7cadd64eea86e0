"""`dlzoo export`: the exported model takes raw uint8 images of any size and gives the Keras
model's probabilities, with no dlzoo at serving time."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import dlzoo
from dlzoo.cli import main
from dlzoo.export import check_format

SHIPPED = Path(__file__).resolve().parents[1] / "saved_models" / "lenet5-digits"


def _resized_like_the_pipeline(images, size):
    from dlzoo.data.images import tf_resize

    return np.stack([tf_resize(tf.constant(im), size).numpy() for im in images]).astype("float32")


def test_exported_savedmodel_matches_the_keras_model_on_raw_uint8_images(tmp_path, capsys):
    out = tmp_path / "sm"
    assert main(["export", str(SHIPPED), "--format", "savedmodel", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "uint8 images" in printed and f"class names in {out / 'labels.txt'}" in printed
    assert (out / "labels.txt").read_text().split() == [str(i) for i in range(10)]
    served = tf.saved_model.load(str(out))
    model = dlzoo.load(SHIPPED)  # has augmentation layers: the export must run them in inference

    rng = np.random.default_rng(0)
    batch = rng.integers(0, 256, (6, 32, 32, 1), dtype=np.uint8)
    np.testing.assert_allclose(served.serve(tf.constant(batch)).numpy(),
                               model.predict(batch.astype("float32"), verbose=0),
                               rtol=1e-5, atol=1e-6)
    # Any size: resized inside exactly as dlzoo's folder pipeline resizes.
    big = rng.integers(0, 256, (3, 57, 41, 1), dtype=np.uint8)
    expected = model.predict(_resized_like_the_pipeline(big, (32, 32)), verbose=0)
    np.testing.assert_allclose(served.serve(tf.constant(big)).numpy(), expected,
                               rtol=1e-5, atol=1e-6)
    sig = served.signatures["serve"].structured_input_signature[1]["image"]
    assert sig.dtype == tf.uint8 and sig.shape.as_list() == [None, None, None, 1]


def test_exported_litert_matches_the_keras_model(tmp_path, capsys):
    assert main(["export", str(SHIPPED), "--format", "litert", "--out", str(tmp_path)]) == 0
    # the class names beside the .tflite file, where the command says they are
    assert (tmp_path / "labels.txt").read_text().split() == [str(i) for i in range(10)]
    assert f"class names in {tmp_path / 'labels.txt'}" in capsys.readouterr().out
    interpreter = tf.lite.Interpreter(model_path=str(tmp_path / "model.tflite"))
    batch = np.random.default_rng(1).integers(0, 256, (4, 32, 32, 1), dtype=np.uint8)
    inp = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(inp["index"], batch.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], batch)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    expected = dlzoo.load(SHIPPED).predict(batch.astype("float32"), verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(importlib.util.find_spec("tf2onnx") is not None,
                    reason="tf2onnx is installed: the missing-package message cannot show")
def test_onnx_without_its_packages_says_what_to_install(capsys):
    with pytest.raises(ImportError, match="pip install tf2onnx"):
        check_format("onnx")
    assert main(["export", str(SHIPPED), "--format", "onnx", "--out", "x"]) == 2
    err = capsys.readouterr().err
    assert "needs the package(s) tf2onnx" in err and len(err.strip().splitlines()) == 1
