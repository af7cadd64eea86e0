"""Export a dlzoo saved model for serving: raw uint8 images of any size in, class probabilities out.

    >>> from dlzoo.export import export
    >>> export("saved_models/lenet5-digits", "savedmodel")        # exports/lenet5-digits/savedmodel/

The exported artifact does its own resizing and preprocessing, so a serving system (TF Serving,
TFLite / LiteRT, ONNX Runtime) needs no dlzoo and no knowledge of the weights' convention:

    uint8 (batch, any height, any width, C) -> RawImageInput (resize to the model's size, exactly as
    dlzoo's folder pipeline does: bilinear, rounded to whole pixel values) -> the saved model (whose
    first layer is its Preprocess) -> probabilities (batch, classes)

Formats are Keras's own `model.export`: `savedmodel` (`format="tf_saved_model"`, TensorFlow),
`onnx` (needs `tf2onnx` and `onnx`: `pip install "dlzoo[export]"`), `litert` (a `.tflite` file
through TensorFlow's converter). The class names go next to it in `labels.txt`, one per line.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import keras
from keras import ops

__all__ = ["FORMATS", "LABELS_FILE", "RawImageInput", "export", "labels_path", "serving_model"]

# dlzoo's name -> (Keras's format name, file name of the artifact, or None for a folder)
FORMATS = {
    "savedmodel": ("tf_saved_model", None),
    "onnx": ("onnx", "model.onnx"),
    "litert": ("litert", "model.tflite"),
}
LABELS_FILE = "labels.txt"
# The packages each format needs beyond TensorFlow and Keras.
_NEEDS = {"onnx": ("tf2onnx", "onnx")}


@keras.saving.register_keras_serializable(package="dlzoo")
class RawImageInput(keras.layers.Layer):
    """uint8 images of any size -> float32 [0, 255] at (height, width), resized as dlzoo's
    `image_folder` does (bilinear, then rounded and clipped to whole pixel values), so an exported
    model sees the pixels it was trained on.

    Args:
        height, width: the model's input size.
        interpolation: "bilinear" (default) or any `keras.ops.image.resize` method.
    """

    def __init__(self, height: int, width: int, interpolation: str = "bilinear", **kwargs):
        super().__init__(**kwargs)
        self.height, self.width, self.interpolation = int(height), int(width), interpolation

    def call(self, images):
        x = ops.cast(images, "float32")
        x = ops.image.resize(x, (self.height, self.width), interpolation=self.interpolation)
        return ops.clip(ops.round(x), 0.0, 255.0)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(height=self.height, width=self.width, interpolation=self.interpolation)
        return config


def serving_model(model_dir):
    """The saved model behind `RawImageInput` (and its `Preprocess`, if the file lacks one).

    Returns:
        `(keras.Model, card)`: the model takes uint8 `(batch, H, W, C)` of any H and W.
    """
    from dlzoo import saving
    from dlzoo.preprocessing import Preprocess, applied_mode

    card = saving.read_card(model_dir)
    model = saving.load(model_dir, compile=False)
    shape = model.input_shape[1:]
    if len(shape) != 3 or None in shape:
        raise ValueError(
            f"{model_dir}: export handles image models with a fixed input size; this one takes "
            f"{model.input_shape}."
        )
    h, w, c = shape
    inputs = keras.Input((None, None, c), dtype="uint8", name="image")
    x = RawImageInput(h, w, name="resize")(inputs)
    mode = card.get("preprocessing") or "none"
    if applied_mode(model) == "none" and mode != "none":  # a model trained outside dlzoo's wrapper
        x = Preprocess(mode, name="preprocess")(x)
    # training=False in the graph: Keras's augmentation layers default to training mode when
    # called without it, and an export traces the model without a training flag.
    outputs = model(x, training=False)
    name = str(card.get("name", model.name)).replace("-", "_").replace(".", "_")
    return keras.Model(inputs, outputs, name=f"{name}_serving"), card


def check_format(fmt: str) -> str:
    """`fmt` if dlzoo can export to it here; else a one-line error saying what to install."""
    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}; received {fmt!r}.")
    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"export to {fmt} goes through TensorFlow; run it with KERAS_BACKEND=tensorflow "
            f"(the backend now is {keras.backend.backend()})."
        )
    missing = [m for m in _NEEDS.get(fmt, ()) if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(
            f"export to {fmt} needs the package(s) {', '.join(missing)}, which are not installed: "
            f"pip install {' '.join(missing)}  (or pip install \"dlzoo[export]\")."
        )
    if fmt == "litert":
        import tensorflow as tf

        if not hasattr(getattr(tf, "lite", None), "TFLiteConverter"):
            raise ImportError("export to litert needs TensorFlow's TFLite converter (tf.lite), "
                              "which this TensorFlow build lacks.")
    return fmt


def export(model_dir, fmt: str = "savedmodel", out=None, *, verbose: bool = False) -> Path:
    """Exports the saved model at `model_dir` to `fmt`; returns the artifact's path.

    Args:
        model_dir: a dlzoo saved model (`saved_models/NAME`).
        fmt: "savedmodel" (default), "onnx" or "litert".
        out: folder to write into (default `exports/NAME/FORMAT`); the artifact is the folder
            itself for savedmodel, `model.onnx` / `model.tflite` in it otherwise, with `labels.txt`.
        verbose: let Keras print its export summary.

    Example:
        >>> path = export("saved_models/lenet5-digits", "savedmodel")
        >>> served = tf.saved_model.load(str(path)); served.serve(uint8_batch)
    """
    check_format(fmt)
    model, card = serving_model(model_dir)
    keras_format, filename = FORMATS[fmt]
    from dlzoo.saving import folder_name

    folder = Path(out) if out is not None else Path("exports") / folder_name(model_dir) / fmt
    folder.mkdir(parents=True, exist_ok=True)
    target = folder if filename is None else folder / filename
    model.export(os.fspath(target), format=keras_format, verbose=verbose)
    classes = [str(c) for c in card.get("class_names") or []]
    if classes:
        labels_path(target).write_text("\n".join(classes) + "\n")
    return target


def labels_path(artifact) -> Path:
    """Where `export` puts the class names of the artifact it returned: labels.txt inside a
    SavedModel folder, beside a model.onnx / model.tflite file."""
    artifact = Path(artifact)
    return artifact / LABELS_FILE if artifact.is_dir() else artifact.parent / LABELS_FILE
