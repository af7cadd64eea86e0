"""`dlzoo export --quantize int8|float16`: the quantised artifacts load in their runtimes, are
smaller, and agree with the float model's top-1 on the held-out digits; the size and accuracy
change are written in USAGE.md; what cannot be done is one line."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="export goes through TensorFlow")

import dlzoo  # noqa: E402
from dlzoo.cli import main  # noqa: E402
from dlzoo.export import usage_path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "saved_models" / "lenet5-digits"


def _held_out_digits(n=120):
    """Digits of the shipped model's validation split, uint8 at 32x32, and their labels, read
    independently of dlzoo.quantization (as `dlzoo evaluate` reads them)."""
    from dlzoo.data.datasets import load_arrays

    x, y = load_arrays("digits", image_size=(32, 32), color_mode="grayscale").val
    return np.clip(np.round(x[:n]), 0, 255).astype(np.uint8), y[:n]


def _classify(artifact):
    """`classify` from the Python block of the USAGE.md beside the artifact, as a user runs it."""
    text = usage_path(artifact).read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    here = os.getcwd()
    os.chdir(usage_path(artifact).parent)
    try:
        exec(compile(code, str(usage_path(artifact)), "exec"), namespace)  # noqa: S102
    finally:
        os.chdir(here)
    return namespace["classify"]


def _check_int8(artifact, printed):
    report = json.loads((artifact.parent / "quantization.json").read_text())
    assert report["quantize"] == "int8" and report["samples"] == 332  # the whole held-out split
    assert report["bytes"] < 0.6 * report["float_bytes"]  # int8 weights, measured
    assert "200 images drawn from the training split of digits" in report["representative"]
    usage = usage_path(artifact).read_text()
    assert "## Quantisation" in usage and f"{report['quantized_accuracy']:.4f}" in usage
    assert f"held-out accuracy {report['quantized_accuracy']:.4f}" in printed
    # independently of the report: the artifact, called as its USAGE.md says, on held-out digits
    x, y = _held_out_digits()
    probs = np.concatenate([_classify(artifact)(image[None]) for image in x])
    reference = dlzoo.load(SHIPPED).predict(x.astype("float32"), verbose=0)
    agree = (probs.argmax(1) == reference.argmax(1)).mean()
    assert agree >= 0.95, agree
    assert (probs.argmax(1) == y).mean() >= 0.95
    assert np.abs(probs - reference).max() > 0  # it is another model, not the float one
    return report


def test_litert_int8_loads_is_smaller_and_agrees_with_the_float_model(tmp_path, capsys):
    pytest.importorskip("ai_edge_litert", reason="pip install \"dlzoo[export]\"")
    from ai_edge_litert.interpreter import Interpreter

    out = tmp_path / "int8"
    assert main(["export", str(SHIPPED), "--format", "litert", "--quantize", "int8",
                 "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "fully_quantize" not in captured.err and "XNNPACK" not in captured.err
    interpreter = Interpreter(model_path=str(out / "model.tflite"))
    types = {d["dtype"] for d in interpreter.get_tensor_details()}
    assert np.int8 in types  # int8 tensors inside; the input stays uint8 images
    assert interpreter.get_input_details()[0]["dtype"] == np.uint8
    _check_int8(out / "model.tflite", captured.out)


@pytest.mark.slow  # default-run budget (12 CPU-min): an end-to-end CLI run
def test_onnx_int8_loads_in_onnxruntime_and_agrees_with_the_float_model(tmp_path, capsys):
    for module in ("tf2onnx", "onnx", "onnxruntime"):
        pytest.importorskip(module, reason="pip install \"dlzoo[export]\"")
    import onnx

    out = tmp_path / "onnx"
    assert main(["export", str(SHIPPED), "--format", "onnx", "--quantize", "int8",
                 "--out", str(out)]) == 0
    captured = capsys.readouterr()
    ops = {n.op_type for n in onnx.load(str(out / "model.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    _check_int8(out / "model.onnx", captured.out)


def test_litert_float16_halves_the_weights(tmp_path, capsys):
    pytest.importorskip("ai_edge_litert", reason="pip install \"dlzoo[export]\"")
    out = tmp_path / "f16"
    assert main(["export", str(SHIPPED), "--format", "litert", "--quantize", "float16",
                 "--out", str(out)]) == 0
    report = json.loads((out / "quantization.json").read_text())
    assert 0.4 < report["bytes"] / report["float_bytes"] < 0.7
    assert report["representative"] is None and report["top1_agreement"] >= 0.99
    x, _ = _held_out_digits(20)
    probs = np.concatenate([_classify(out / "model.tflite")(image[None]) for image in x])
    reference = dlzoo.load(SHIPPED).predict(x.astype("float32"), verbose=0)
    np.testing.assert_allclose(probs, reference, atol=1e-2)
    # replaced by a float export: no figures of the quantised one are left beside it
    assert main(["export", str(SHIPPED), "--format", "litert", "--out", str(out),
                 "--overwrite"]) == 0
    assert not (out / "quantization.json").exists()
    assert "Quantisation" not in usage_path(out / "model.tflite").read_text()


def test_quantize_flags_that_cannot_apply_are_one_line(tmp_path, capsys):
    cases = [
        (["--format", "onnx", "--quantize", "float16"], "litert: int8, float16; onnx: int8"),
        (["--format", "savedmodel", "--quantize", "int8"], "choose --format litert or onnx"),
        (["--format", "litert", "--representative", str(tmp_path)],
         "--representative only applies with --quantize int8"),
    ]
    for args, expected in cases:
        assert main(["export", str(SHIPPED), *args, "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert expected in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x").exists()


def test_int8_on_a_model_whose_training_data_is_elsewhere_takes_a_folder(tmp_path, capsys):
    pytest.importorskip("ai_edge_litert", reason="pip install \"dlzoo[export]\"")
    moved = tmp_path / "model"
    shutil.copytree(SHIPPED, moved)
    card = json.loads((moved / "card.json").read_text())
    card["data"]["source"] = f"folder:{tmp_path / 'gone'}"
    (moved / "card.json").write_text(json.dumps(card))
    args = ["export", str(moved), "--format", "litert", "--quantize", "int8"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "pass --representative FOLDER" in err and "gone" in err
    assert not (tmp_path / "a").exists()
    from PIL import Image

    (tmp_path / "photos" / "sub").mkdir(parents=True)
    x, _ = _held_out_digits(30)
    for i, image in enumerate(x):
        Image.fromarray(image[..., 0]).save(tmp_path / "photos" / "sub" / f"{i}.png")
    (tmp_path / "photos" / "notes.txt").write_text("not an image")
    assert main([*args, "--representative", str(tmp_path / "photos"),
                 "--out", str(tmp_path / "b")]) == 0
    report = json.loads((tmp_path / "b" / "quantization.json").read_text())
    assert report["representative"].startswith("30 images of")
    assert "samples" not in report and "cannot be read here" in report["held_out"]
    assert "not measured" in usage_path(tmp_path / "b" / "model.tflite").read_text()


@pytest.mark.slow  # default-run budget (12 CPU-min): an end-to-end CLI run
def test_under_another_backend_the_quantize_command_is_given_again(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(PYTHONPATH=str(ROOT), KERAS_BACKEND="jax")
    done = subprocess.run([sys.executable, "-m", "dlzoo", "export", str(SHIPPED), "--format",
                           "litert", "--quantize", "int8", "--out", str(tmp_path / "x")],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 2
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1
    assert "KERAS_BACKEND=tensorflow dlzoo export" in line and "--quantize int8" in line
