"""Quantised exports (`dlzoo export MODEL --format litert|onnx --quantize int8|float16`): the
representative images the converters calibrate on, the conversion, and what it costs, measured
on the held-out split and written beside the artifact.

    >>> from dlzoo.export import export
    >>> export("saved_models/lenet5-digits", "litert", quantize="int8")   # exports/.../litert-int8/

- LiteRT `float16`: weights stored as float16 (TensorFlow's converter, `supported_types`), the
  graph computes in float32; no data needed.
- LiteRT `int8`: TensorFlow's full-integer post-training quantisation (`Optimize.DEFAULT` with a
  representative dataset): weights and activations int8 where TFLite has int8 kernels, float
  elsewhere; input stays uint8 images, output float32 probabilities, as the float export.
- ONNX `int8`: onnxruntime's static quantisation (`quantize_static`, QDQ format, per-channel
  int8 weights, uint8 activations calibrated on the representative images) of the float ONNX
  export; the raw-image conversion at its input is left in float, so the pixels stay exact.

The representative images are drawn (seeded) from the training split of the data named in the
card (`digits`, `synthetic:NAME`, `folder:PATH`), or read from `representative=FOLDER` (image
files, any layout), each read as `dlzoo predict` reads a file. The held-out split is the card's
validation split of the same data; where that data cannot be read here, the figures say so.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from dlzoo.data.datasets import load, load_arrays
from dlzoo.data.images import color_mode_for
from dlzoo.evaluation import image_paths, read_images
from dlzoo.quiet import native_stderr_filtered, noise

__all__ = ["QUANTIZE", "REPORT_FILE", "check_packages", "check_quantize", "converter_noise",
           "held_out", "measure", "quantize_onnx", "representative_images", "usage_section"]

# format -> the quantisations dlzoo makes for it
QUANTIZE = {"litert": ("int8", "float16"), "onnx": ("int8",)}
REPORT_FILE = "quantization.json"
REPRESENTATIVE = 200  # images the converters calibrate on (TensorFlow's guide: 100 to 500)
HELD_OUT = 2000  # held-out images measured at most (a seeded draw beyond that)


def check_quantize(fmt: str, quantize: str | None) -> str | None:
    """`quantize` if `fmt` takes it; ValueError naming what each format takes."""
    if quantize is None:
        return None
    allowed = QUANTIZE.get(fmt, ())
    if quantize not in allowed:
        takes = "; ".join(f"{f}: {', '.join(q)}" for f, q in QUANTIZE.items())
        raise ValueError(f"--quantize {quantize} does not apply to --format {fmt} ({takes}); "
                         + (f"use one of {', '.join(allowed)}" if allowed
                            else "choose --format litert or onnx"))
    return quantize


def check_packages(fmt: str, quantize: str | None) -> None:
    """ImportError naming what to install when the quantiser `fmt` needs is missing (after
    `dlzoo.export.check_format` has checked the export itself)."""
    import importlib.util

    if quantize and fmt == "onnx" and importlib.util.find_spec("onnxruntime") is None:
        raise ImportError("--quantize int8 for onnx uses onnxruntime's quantisation, which is "
                          "not installed: pip install onnxruntime  (or pip install "
                          "\"dlzoo[export]\")")


def _card_data(card: dict):
    """(source, validation_split, seed) of the data the card's model trained on."""
    data = card.get("data") or {}
    recipe = data.get("recipe") or {}
    return (data.get("source"), recipe.get("validation_split", 0.2), recipe.get("seed", 0))


def _split(card: dict, side: str, limit: int, seed: int = 0):
    """`(uint8 images (N, H, W, C), labels as the model's class indices)` of the card's data,
    side "train" or "val", at most `limit` drawn with `seed`; ValueError saying why not."""
    source, validation_split, data_seed = _card_data(card)
    h, w, c = card["input_shape"]
    if not source:
        raise ValueError("the card names no training data")
    kind = str(source).split(":", 1)[0]
    options = {"image_size": (h, w), "color_mode": color_mode_for(c),
               "validation_split": validation_split, "seed": data_seed}
    classes = [str(n) for n in card.get("class_names") or []]
    rng = np.random.default_rng(seed)
    if kind in ("digits", "synthetic"):
        bundle = load_arrays(source, **options)
        pair = bundle.train if side == "train" else bundle.val
        if pair is None:
            raise ValueError(f"{source} has no {side} split")
        x, y = pair
        to_model = np.array([classes.index(str(n)) if str(n) in classes else -1
                             for n in bundle.class_names])
        pick = np.sort(rng.choice(len(x), min(limit, len(x)), replace=False))
        return np.clip(np.round(x[pick]), 0, 255).astype(np.uint8), to_model[y[pick]]
    if kind == "folder":
        root = Path(str(source).split(":", 1)[1])
        if not root.is_dir():
            raise ValueError(f"{root}: no such folder here")
        bundle = load(source, batch_size=64, shuffle=False, **options)
        files = (bundle.files or {}).get(side) or []
        if not files:
            raise ValueError(f"{source} has no {side} split")
        pick = sorted(rng.choice(len(files), min(limit, len(files)), replace=False))
        paths = [os.path.join(root, files[i]) for i in pick]
        x, kept, _ = read_images(paths, (h, w, c))
        labels = [Path(p).relative_to(root).parts[0] for p in kept]
        return x.astype(np.uint8), np.array([classes.index(n) if n in classes else -1
                                             for n in labels])
    raise ValueError(f"dlzoo reads digits, synthetic:NAME and folder:PATH for this; the card's "
                     f"data is {source!r}")


def representative_images(card: dict, folder=None, limit: int = REPRESENTATIVE):
    """uint8 `(N, H, W, C)` images at the model's size to calibrate int8 on, and where they came
    from (words). From `folder` (its image files, recursively, as `dlzoo predict` reads them)
    or else a seeded draw from the training split of the card's data.

    Raises:
        ValueError: no image can be read (the message says to pass --representative).
    """
    shape = tuple(int(s) for s in card["input_shape"])
    if folder is not None:
        if not Path(folder).is_dir():
            raise ValueError(f"--representative {folder}: no such folder")
        paths = image_paths([folder])
        if len(paths) > limit:
            rng = np.random.default_rng(0)
            paths = [paths[i] for i in sorted(rng.choice(len(paths), limit, replace=False))]
        x, kept, _ = read_images(paths, shape)
        if not kept:
            raise ValueError(f"--representative {folder}: no image could be read there")
        return x.astype(np.uint8), f"{len(kept)} images of {folder}"
    source = _card_data(card)[0]
    try:
        x, _ = _split(card, "train", limit)
    except (ValueError, OSError) as e:
        raise ValueError(
            f"int8 calibrates on images like the training ones, and the card's training data "
            f"({source}) cannot be read here ({str(e).splitlines()[0]}); pass --representative "
            "FOLDER (a folder of such images)") from None
    return x, f"{len(x)} images drawn from the training split of {source}"


def held_out(card: dict, limit: int = HELD_OUT):
    """`(uint8 images, model class indices, words)` of the card's validation split, or
    `(None, None, why not)`."""
    source = _card_data(card)[0]
    try:
        x, y = _split(card, "val", limit, seed=1)
    except (ValueError, OSError) as e:
        return None, None, f"not measured: the held-out split of {source} cannot be read here " \
                           f"({str(e).splitlines()[0]})"
    keep = y >= 0
    return x[keep], y[keep], f"{int(keep.sum())} images of the validation split of {source}"


# What TensorFlow's quantiser and LiteRT's interpreter print on stderr with nothing to act on:
# the quantiser's settings ("fully_quantize: 0, inference_type: 6, ...") and the CPU delegate.
_CONVERTER_LINES = ("fully_quantize: ", "INFO: Created TensorFlow Lite XNNPACK delegate")


def converter_noise(line: str) -> bool:
    """Whether a native stderr `line` of a conversion or an interpreter is dropped: TensorFlow's
    absl lines at the CLI's log level (`dlzoo.quiet.noise`) and `_CONVERTER_LINES`."""
    return line.startswith(_CONVERTER_LINES) or noise(line)


def _run_artifact(fmt: str, path, images: np.ndarray) -> np.ndarray:
    with native_stderr_filtered(converter_noise):
        return _artifact_probabilities(fmt, path, images)


def _artifact_probabilities(fmt: str, path, images: np.ndarray) -> np.ndarray:
    """Probabilities from the artifact itself, in its runtime: LiteRT's interpreter (or
    TensorFlow's where ai-edge-litert is absent), onnxruntime."""
    if fmt == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return np.concatenate([session.run(None, {name: images[i:i + 256]})[0]
                               for i in range(0, len(images), 256)])
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    interpreter = Interpreter(model_path=os.fspath(path))
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    if tuple(detail["shape"]) != (1, *images.shape[1:]):
        interpreter.resize_tensor_input(detail["index"], (1, *images.shape[1:]))
        interpreter.allocate_tensors()
    out = interpreter.get_output_details()[0]["index"]
    probs = []
    for image in images:
        interpreter.set_tensor(detail["index"], image[None])
        interpreter.invoke()
        probs.append(interpreter.get_tensor(out)[0].copy())
    return np.stack(probs)


def measure(fmt: str, quantize: str, artifact, float_artifact, serving, card: dict,
            representative_from: str) -> dict:
    """Size of the quantised and the float artifact, and accuracy on the held-out split of the
    float model (Keras) and of the quantised artifact (in its runtime), with how often their
    top-1 agree. Written to `REPORT_FILE` beside the artifact; returned."""
    from keras import ops

    x, y, where = held_out(card)
    report = {
        "format": fmt, "quantize": quantize, "artifact": Path(artifact).name,
        "bytes": Path(artifact).stat().st_size, "float_bytes": Path(float_artifact).stat().st_size,
        "representative": representative_from if quantize == "int8" else None,
        "held_out": where,
    }
    report["size_ratio"] = round(report["bytes"] / report["float_bytes"], 4)
    if x is not None and len(x):
        start = time.monotonic()
        quantized = _run_artifact(fmt, artifact, x)
        report["seconds"] = round(time.monotonic() - start, 2)
        # called directly, batch by batch: `predict` would trace a function per export
        reference = np.concatenate([ops.convert_to_numpy(serving(x[i:i + 64], training=False))
                                    for i in range(0, len(x), 64)])
        top_q, top_f = quantized.argmax(1), reference.argmax(1)
        report.update(
            samples=int(len(x)),
            float_accuracy=round(float((top_f == y).mean()), 4),
            quantized_accuracy=round(float((top_q == y).mean()), 4),
            top1_agreement=round(float((top_q == top_f).mean()), 4),
            max_probability_change=round(float(np.abs(quantized - reference).max()), 4),
        )
        report["accuracy_change"] = round(report["quantized_accuracy"]
                                          - report["float_accuracy"], 4)
    path = Path(artifact).parent / REPORT_FILE
    path.write_text(json.dumps(report, indent=2) + "\n")
    return report


def usage_section(report: dict) -> str:
    """The USAGE.md section on what the quantisation costs, from `measure`'s report."""
    kind = {"int8": "int8 (weights and activations, calibrated on "
                    f"{report.get('representative')})",
            "float16": "float16 weights (computed in float32)"}[report["quantize"]]
    lines = [
        "## Quantisation", "",
        f"{kind}. Size: {report['bytes'] / 1e6:.3f} MB, against {report['float_bytes'] / 1e6:.3f} "
        f"MB for the float32 export ({report['size_ratio']:.2f}x).",
    ]
    if "samples" in report:
        lines.append(
            f"On the held-out split ({report['held_out']}): accuracy "
            f"{report['quantized_accuracy']:.4f} against {report['float_accuracy']:.4f} for the "
            f"float model ({report['accuracy_change']:+.4f}); the top-1 class agrees with the "
            f"float model's on {report['top1_agreement']:.2%} of the images; probabilities move "
            f"by at most {report['max_probability_change']:.4f}.")
    else:
        lines.append(f"Accuracy {report['held_out']}.")
    lines.append(f"The figures are in `{REPORT_FILE}`.")
    return "\n".join(lines) + "\n"


def quantize_onnx(float_path, target, samples: np.ndarray, *, exclude: str) -> None:
    """onnxruntime's static int8 quantisation of the ONNX file at `float_path` into `target`,
    calibrated on `samples` (uint8 images at the model's size). Only the network's Conv,
    MatMul and Gemm are quantised; nodes whose name holds `exclude` (the raw-image conversion,
    whose exact integer arithmetic int8 would break) stay float."""
    import tempfile

    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        # onnxruntime's recommended step before quantising: ONNX shape inference and graph
        # optimisation (the symbolic shape inference it skips needs sympy, which dlzoo lacks)
        prepared = os.path.join(tmp, "prepared.onnx")
        quant_pre_process(os.fspath(float_path), prepared, skip_symbolic_shape=True)
        graph = onnx.load(prepared)
    name = graph.graph.input[0].name
    skip = [n.name for n in graph.graph.node if exclude in n.name]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.rest = iter(samples)

        def get_next(self):
            image = next(self.rest, None)
            return None if image is None else {name: image[None]}

    quantize_static(graph, os.fspath(target), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, op_types_to_quantize=["Conv", "MatMul", "Gemm"],
                    nodes_to_exclude=skip)
