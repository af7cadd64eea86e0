"""Export a dlzoo saved model for serving: raw uint8 images of any size in, class probabilities out.

    >>> from dlzoo.export import export
    >>> export("saved_models/lenet5-digits", "savedmodel")        # exports/lenet5-digits/savedmodel/

The exported artifact does its own resizing and preprocessing, so a serving system (TF Serving,
TFLite / LiteRT, ONNX Runtime) needs no dlzoo and no knowledge of the weights' convention:

    uint8 (batch, any height, any width, 1-4 channels) -> RawImageInput (to the model's channels
    and size as dlzoo's folder pipeline does: Pillow's grayscale/RGB/RGBA conversion, Pillow's
    antialiased resampling written in Keras ops, within one level) -> the saved model (whose first layer is its
    Preprocess) -> probabilities (batch, classes)

Formats are Keras's own `model.export`: `savedmodel` (`format="tf_saved_model"`, TensorFlow),
`onnx` (needs `tf2onnx` and `onnx`: `pip install "dlzoo[export]"`), `litert` (a `.tflite` file
through TensorFlow's converter, built-in ops only, at the model's own size unless
`dynamic_size`). Beside the artifact: the class names in `labels.txt`, one per line, and
`USAGE.md`, which loads and calls it without dlzoo (TensorFlow; `ai-edge-litert`'s interpreter,
since `tf.lite.Interpreter` is deprecated; onnxruntime).

`quantize="int8"` (litert, onnx) or `"float16"` (litert) makes a quantised artifact with the
same input and output, and measures its size and accuracy change on the card's held-out split
(`dlzoo.quantization`).
"""

from __future__ import annotations

import importlib.util
import os
import re
import warnings
from pathlib import Path

import keras
from keras import ops

from dlzoo import saving
from dlzoo.backends import has_tensorflow
from dlzoo.layers.preprocessing import pillow_resize
from dlzoo.preprocessing import Preprocess, applied_mode
from dlzoo.quantization import (
    REPORT_FILE,
    check_packages,
    check_quantize,
    converter_noise,
    measure,
    quantize_onnx,
    representative_images,
    usage_section,
)
from dlzoo.quiet import native_stderr_filtered
from dlzoo.saving import folder_name

__all__ = ["FORMATS", "LABELS_FILE", "USAGE_FILE", "RawImageInput", "export", "labels_path",
           "serving_model", "usage_path", "usage_text"]

# dlzoo's name -> (Keras's format name, file name of the artifact, or None for a folder)
FORMATS = {
    "savedmodel": ("tf_saved_model", None),
    "onnx": ("onnx", "model.onnx"),
    "litert": ("litert", "model.tflite"),
}
LABELS_FILE = "labels.txt"
_RAW_INPUT = "raw_image_1_to_4_channels"
# The packages each format needs beyond TensorFlow and Keras.
_NEEDS = {"onnx": ("tf2onnx", "onnx")}


# Channel conversion as dlzoo's decoders make it (`data.images.tf_to_channels`, Pillow's modes),
# as one product with a table picked by the input's channel count: no branches, so TensorFlow,
# LiteRT and ONNX run the same graph whatever the count. Entries are scaled by 2**16 so that
# grayscale is Pillow's fixed-point luma, (19595 R + 38470 G + 7471 B + 2**15) >> 16, exactly:
# every sum is an integer below 2**24, exact in float32 in any order.
_ONE = 65536.0
_LUMA = (19595.0, 38470.0, 7471.0)


def _channel_tables(channels: int):
    """`(weights (4, 4, channels), bias (4, channels))`: row k converts a (k+1)-channel image
    (L, LA, RGB, RGBA), zero-padded to 4 channels, to `channels` channels (1, 3 or 4)."""
    import numpy as np

    w = np.zeros((4, 4, channels), "float32")
    b = np.zeros((4, channels), "float32")
    if channels == 1:
        w[0, 0, 0] = w[1, 0, 0] = _ONE            # L, LA -> L (alpha dropped)
        w[2, :3, 0] = w[3, :3, 0] = _LUMA         # RGB, RGBA -> Pillow's luma
        b[2, 0] = b[3, 0] = _ONE / 2
    else:
        w[0, 0, :3] = w[1, 0, :3] = _ONE          # L, LA -> L, L, L
        for k in (2, 3):                          # RGB, RGBA -> R, G, B
            w[k, :3, :3] = _ONE * np.eye(3)
        if channels == 4:
            b[0, 3] = b[2, 3] = 255.0 * _ONE      # opaque when there is no alpha
            w[1, 1, 3] = w[3, 3, 3] = _ONE        # alpha kept
    return w, b


@keras.saving.register_keras_serializable(package="dlzoo")
class RawImageInput(keras.layers.Layer):
    """uint8 images of any size and 1-4 channels -> float32 [0, 255] at (height, width, channels),
    converted and resized as dlzoo's `image_folder` does (grayscale, RGB, RGBA as Pillow converts
    them; then Pillow's resampling, `dlzoo.layers.preprocessing.pillow_resize`, within one level
    of it), so an exported model sees the pixels it was trained on, whatever the photo's size
    and channels.

    Args:
        height, width: the model's input size.
        channels: the model's channels (1, 3 or 4); None (default) keeps the input's own.
        interpolation: "bilinear" (default), "nearest", "bicubic", "area" or "lanczos3" (the
            Pillow filter of the same name; see `dlzoo.data.images.INTERPOLATIONS`).

    An image of 0 or more than 4 channels fails at run time (an index out of range in the
    conversion table), with the check `serving_model` adds for TensorFlow.
    """

    def __init__(self, height: int, width: int, channels: int | None = None,
                 interpolation: str = "bilinear", **kwargs):
        super().__init__(**kwargs)
        self.height, self.width, self.interpolation = int(height), int(width), interpolation
        if channels is not None and channels not in (1, 3, 4):
            raise ValueError(f"channels must be 1, 3, 4 or None; received {channels!r}.")
        self.channels = channels

    def call(self, images):
        x = ops.cast(images, "float32")
        if self.channels is not None:
            weights, bias = _channel_tables(self.channels)
            k = ops.shape(x)[-1] - 1
            # zero-padded to 4 channels by a constant pad, so no shape is folded into the graph
            x4 = ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, 4]])[..., :4]
            x = ops.matmul(x4, ops.take(ops.convert_to_tensor(weights), k, axis=0))
            x = ops.floor((x + ops.take(ops.convert_to_tensor(bias), k, axis=0)) / _ONE)
        if tuple(x.shape[1:3]) == (self.height, self.width):  # declared at the size (LiteRT)
            return x
        # Pillow's resampling, within one level (at the model's size its weights are the identity)
        return pillow_resize(x, self.height, self.width, self.interpolation)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, self.channels or input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(height=self.height, width=self.width, channels=self.channels,
                      interpolation=self.interpolation)
        return config


def serving_model(model_dir):
    """The saved model behind `RawImageInput` (and its `Preprocess`, if the file lacks one).

    Returns:
        `(keras.Model, card)`: the model takes uint8 `(batch, H, W, C)` of any H and W and
        C of 1 (grayscale), 2 (grayscale and alpha), 3 (RGB) or 4 (RGBA).
    """
    card = saving.read_card(model_dir)
    model = saving.load(model_dir, compile=False)
    shape = model.input_shape[1:]
    if len(shape) != 3 or None in shape:
        raise ValueError(
            f"{model_dir}: export handles image models with a fixed input size; this one takes "
            f"{model.input_shape}."
        )
    h, w, c = shape
    if c not in (1, 3, 4):
        raise ValueError(f"{model_dir}: export handles images of 1, 3 or 4 channels; this model "
                         f"takes {c}.")
    # Any channel count: converted inside as the training pipeline converted the photos.
    inputs = keras.Input((None, None, None), dtype="uint8", name="image")
    # named so that the error a 5-channel image meets (an index out of range) says what it takes
    x = RawImageInput(h, w, c, name=_RAW_INPUT)(inputs)
    mode = card.get("preprocessing") or "none"
    if applied_mode(model) == "none" and mode != "none":  # a model trained outside dlzoo's wrapper
        x = Preprocess(mode, name="preprocess")(x)
    # training=False in the graph: Keras's augmentation layers default to training mode when
    # called without it, and an export traces the model without a training flag.
    outputs = model(x, training=False)
    # a TensorFlow scope name: letters, digits and _ only (a card named "my model" is fine)
    name = re.sub(r"[^A-Za-z0-9_]", "_", str(card.get("name", model.name)))
    return keras.Model(inputs, outputs, name=f"{name}_serving"), card


def check_format(fmt: str, command: str | None = None) -> str:
    """`fmt` if dlzoo can export to it here; else a one-line error saying what to install, or
    the `command` to run again under the TensorFlow backend where TensorFlow is installed."""
    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}; received {fmt!r}.")
    if keras.backend.backend() != "tensorflow":
        if not has_tensorflow():  # KERAS_BACKEND=tensorflow would fail too: say what works
            raise ImportError(
                f"export to {fmt} goes through TensorFlow, which is not installed here (the "
                f"backend is {keras.backend.backend()}): pip install \"dlzoo[tf]\" on this host, "
                "or copy the saved model folder to a host with TensorFlow and export it there.")
        again = f"KERAS_BACKEND=tensorflow {command}" if command else "KERAS_BACKEND=tensorflow"
        raise ValueError(
            f"export to {fmt} goes through TensorFlow (the backend now is "
            f"{keras.backend.backend()}); run it again as: {again}"
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


def export(model_dir, fmt: str = "savedmodel", out=None, *, dynamic_size: bool = False,
           overwrite: bool = False, verbose: bool = False, command: str | None = None,
           quantize: str | None = None, representative=None) -> Path:
    """Exports the saved model at `model_dir` to `fmt`; returns the artifact's path.

    The artifact takes uint8 images `(batch, height, width, channels)`, 1-4 channels, and gives
    class probabilities `(batch, classes)`. SavedModel and ONNX take any batch and size. LiteRT
    declares `(1, H, W, C)` at the model's own size and channels (what mobile delegates want)
    unless `dynamic_size`; any other shape is set with `resize_tensor_input` before
    `allocate_tensors`, as the usage file beside it shows.

    Args:
        model_dir: a dlzoo saved model (`saved_models/NAME`).
        fmt: "savedmodel" (default), "onnx" or "litert".
        out: folder to write into (default `exports/NAME/FORMAT`); the artifact is the folder
            itself for savedmodel, `model.onnx` / `model.tflite` in it otherwise, with
            `labels.txt` and `USAGE.md` (how to load and call it, without dlzoo).
        dynamic_size: LiteRT only: declare height and width unknown (`-1`) instead of fixed.
        overwrite: replace an export already in `out` (otherwise FileExistsError).
        verbose: let Keras print its export summary.
        command: the command line that called this, named in the error that asks to run it
            again under the TensorFlow backend.
        quantize: None (default, float32), "int8" (litert, onnx) or "float16" (litert): see
            `dlzoo.quantization`. The default folder is then `exports/NAME/FORMAT-QUANTIZE`;
            the size and the accuracy change on the card's held-out split are measured and
            written in USAGE.md and `quantization.json` beside the artifact.
        representative: int8 only: a folder of images to calibrate on (default: drawn from
            the training split of the data the card names).

    Raises:
        ValueError: an unknown format, a model that is not a fixed-size 1/3/4-channel image
            model, `dynamic_size` with a format other than litert, a quantisation the format
            does not take, or int8 without images to calibrate on.
        ImportError: a package the format needs is missing (the message says what to install).
        FileExistsError: `out` already holds an export and `overwrite` is False.

    Example:
        >>> path = export("saved_models/lenet5-digits", "savedmodel")
        >>> served = tf.saved_model.load(str(path)); served.serve(uint8_batch)
    """
    check_quantize(fmt, quantize)
    check_format(fmt, command)
    check_packages(fmt, quantize)
    if dynamic_size and fmt != "litert":
        raise ValueError(f"dynamic_size applies to litert only; {fmt} always takes any size.")
    if representative is not None and quantize != "int8":
        raise ValueError("--representative only applies with --quantize int8 (the images int8 "
                         "calibrates on); add it or drop --representative")
    keras_format, filename = FORMATS[fmt]
    folder = Path(out) if out is not None else (
        Path("exports") / folder_name(model_dir) / (f"{fmt}-{quantize}" if quantize else fmt))
    target = folder if filename is None else folder / filename
    if filename is None:  # a SavedModel is a folder: refuse one with anything in it
        taken = target.is_dir() and any(target.iterdir())
        if taken and overwrite and not (target / "saved_model.pb").is_file():
            raise FileExistsError(f"{target} is a folder with files that are no SavedModel; "
                                  "give --out a new or empty folder")
    else:  # beside the file: its USAGE.md and labels.txt, which another format's would replace
        taken = target.exists() or usage_path(target).exists()
    if taken and not overwrite:
        raise FileExistsError(f"{folder} already holds an export; pass --overwrite to replace it "
                              "(overwrite=True in Python), or --out for another folder")
    model, card = serving_model(model_dir)
    samples = None
    if quantize == "int8":  # before converting anything: a missing data set is one line
        samples, samples_from = representative_images(card, representative)
    if taken and filename is None:
        import shutil

        shutil.rmtree(target)  # the old SavedModel: no file of it left beside the new one
    folder.mkdir(parents=True, exist_ok=True)
    raw = model.get_layer(_RAW_INPUT)
    h, w, c = raw.height, raw.width, raw.channels
    import tensorflow as tf

    # The channels stay unknown (-1) in every format, so the conversion table is not folded into
    # the graph for one count: an RGB photo given to a grayscale model is converted, not misread.
    kwargs = {"input_signature": [tf.TensorSpec((None, None, None, None), tf.uint8, name="image")]}
    if fmt == "litert":
        size = (None, None) if dynamic_size else (h, w)
        # TFLite's built-in ops only: no Flex delegate for ai-edge-litert to miss.
        kwargs = {"input_signature": [tf.TensorSpec((1, *size, None), tf.uint8, name="image")],
                  "target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}}
    def convert(path, **extra):
        # the converters' absl lines (and the quantiser's settings line)
        with native_stderr_filtered(converter_noise), warnings.catch_warnings():
            # Keras's tf2onnx shim probes `np.object`, which NumPy 2 warns about (nothing to do)
            warnings.filterwarnings("ignore", message=".*np.object", category=FutureWarning)
            model.export(os.fspath(path), format=keras_format, verbose=verbose,
                         **{**kwargs, **extra})

    if quantize is None:
        convert(target)
        (folder / REPORT_FILE).unlink(missing_ok=True)  # a quantised export's, now replaced
    else:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:  # the float32 export: to compare sizes
            float_artifact = Path(tmp) / filename
            convert(float_artifact)
            if fmt == "onnx":
                quantize_onnx(float_artifact, target, samples, exclude=_RAW_INPUT)
            elif quantize == "float16":
                convert(target, optimizations=[tf.lite.Optimize.DEFAULT],
                        target_spec={**kwargs["target_spec"], "supported_types": [tf.float16]})
            else:
                convert(target, optimizations=[tf.lite.Optimize.DEFAULT],
                        representative_dataset=lambda: ([s[None]] for s in samples))
            report = measure(fmt, quantize, target, float_artifact, model, card,
                             samples_from if samples is not None else None)
    classes = [str(c) for c in card.get("class_names") or []]
    if classes:
        labels_path(target).write_text("\n".join(classes) + "\n")
    text = usage_text(fmt, target, (h, w, c), dynamic_size=dynamic_size, labels=bool(classes))
    if quantize is not None:
        text += "\n" + usage_section(report)
    usage_path(target).write_text(text)
    return target


USAGE_FILE = "USAGE.md"

# How each format is loaded and called without dlzoo; {path} is the artifact, {labels} labels.txt.
_LOAD = {
    "savedmodel": """\
import numpy as np
import tensorflow as tf

model = tf.saved_model.load({path})


def classify(images):
    \"\"\"uint8 (batch, height, width, channels) -> probabilities (batch, classes).\"\"\"
    return model.serve(tf.constant(np.asarray(images, np.uint8))).numpy()
""",
    "litert": """\
import numpy as np
from ai_edge_litert.interpreter import Interpreter  # pip install ai-edge-litert

interpreter = Interpreter(model_path={path})
interpreter.allocate_tensors()


def _fit(images, h, w):
    \"\"\"A fixed-size model's input: other sizes resized with Pillow's bilinear filter, as
    dlzoo resizes (its graph was built for this size only).\"\"\"
    from PIL import Image  # pip install pillow

    if h <= 0 or images.shape[1:3] == (h, w):
        return images
    mode = {{1: "L", 2: "La", 3: "RGB", 4: "RGBa"}}[images.shape[-1]]  # bands resampled as they are
    out = [Image.frombytes(mode, im.shape[1::-1], im.tobytes()).resize((w, h), Image.BILINEAR)
           for im in images]
    return np.stack([np.frombuffer(o.tobytes(), np.uint8).reshape(h, w, -1) for o in out])


def classify(images):
    \"\"\"uint8 (batch, height, width, channels) -> probabilities (batch, classes).\"\"\"
    images = np.asarray(images, np.uint8)
    index = interpreter.get_input_details()[0]["index"]
    images = _fit(images, *interpreter.get_input_details()[0]["shape_signature"][1:3])
    if tuple(interpreter.get_input_details()[0]["shape"]) != images.shape:
        interpreter.resize_tensor_input(index, images.shape)  # another size, batch or channels
        interpreter.allocate_tensors()
    interpreter.set_tensor(index, images)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
""",
    "onnx": """\
import numpy as np
import onnxruntime as ort  # pip install onnxruntime

session = ort.InferenceSession({path}, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name


def classify(images):
    \"\"\"uint8 (batch, height, width, channels) -> probabilities (batch, classes).\"\"\"
    return session.run(None, {{name: np.asarray(images, np.uint8)}})[0]
""",
}

_SHAPES = {
    "savedmodel": "any batch and size",
    "onnx": "any batch and size",
    "litert": "declared (1, {h}, {w}, {c}); its graph is built for {h}x{w}, so `classify` "
              "resizes images of another size with Pillow first (as dlzoo does; `--dynamic-size` "
              "resizes inside instead), and the input tensor for another batch or channel count",
    "litert-dynamic": "height and width declared unknown; `classify` sets the shape of each batch",
}


def usage_text(fmt: str, artifact, shape, *, dynamic_size: bool = False,
               labels: bool = True) -> str:
    """The USAGE.md `export` writes beside an artifact: what goes in and out, and a Python block
    that loads it and defines `classify(images) -> probabilities` (the tests run that block)."""
    h, w, c = shape
    key = "litert-dynamic" if fmt == "litert" and dynamic_size else fmt
    artifact = Path(artifact)
    # Paths relative to this file's folder, not absolute: the export is copied to a server or
    # a phone, where the folder it was written in does not exist.
    inside = FORMATS[fmt][1] is None  # a SavedModel folder holds its USAGE.md
    code = ("from pathlib import Path\n\n"
            "HERE = Path(\".\")  # the folder of this USAGE.md: run from it, or put its path here\n"
            + _LOAD[fmt].format(path="str(HERE)" if inside else f"str(HERE / {artifact.name!r})"))
    if labels:
        code += f"\n\nlabels = (HERE / {LABELS_FILE!r}).read_text().splitlines()\n"
    return (
        f"# {artifact.name} ({fmt})\n\n"
        f"Input: uint8 images `(batch, height, width, channels)`, {_SHAPES[key].format(h=h, w=w, c=c)}. "
        "1 channel (grayscale), 2 (grayscale, alpha), 3 (RGB) or 4 (RGBA): converted to the "
        f"model's {c} channel(s) and resized to {h}x{w} inside, exactly as dlzoo's training pipeline "
        "does, so give it the decoded image as it is.\n"
        "Decode photos upright: dlzoo applied each file's EXIF orientation in training (as a "
        "photo viewer shows it); TensorFlow's decoders do not (`tf.io.decode_jpeg`, "
        "`tf.io.decode_image`). With Pillow: "
        "`np.asarray(PIL.ImageOps.exif_transpose(PIL.Image.open(path)))`.\n"
        "Output: class probabilities `(batch, classes)`"
        + (f", in the order of `{LABELS_FILE}`" if labels else "") + ".\n\n"
        f"```python\n{code}```\n"
    )


def usage_path(artifact) -> Path:
    """Where `export` writes the usage file of the artifact it returned (beside labels.txt)."""
    return labels_path(artifact).with_name(USAGE_FILE)


def labels_path(artifact) -> Path:
    """Where `export` puts the class names of the artifact it returned: labels.txt inside a
    SavedModel folder, beside a model.onnx / model.tflite file."""
    artifact = Path(artifact)
    return artifact / LABELS_FILE if artifact.is_dir() else artifact.parent / LABELS_FILE
