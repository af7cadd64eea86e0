"""Running a classifier over inputs: image files read as its raw input, labelled batches predicted
in one pass, outputs as class probabilities.

What `dlzoo.evaluation` (evaluate, predict), `dlzoo.explain` (Grad-CAM) and
`dlzoo.interpretation` (top losses, calibration) share, in the layer below all three, so none of
them imports another to get it.

    >>> from dlzoo.predicting import as_probabilities, read_images
    >>> images, kept, skipped = read_images(["cat.jpg", "notes.txt"], (160, 160, 3))
    >>> probs = as_probabilities(model.predict(images, verbose=0))   # (N, classes)
"""

from __future__ import annotations

import os

import numpy as np

from dlzoo.data.images import UnusableImage
from dlzoo.data.sniff import decode_bytes
from dlzoo.quiet import decoder_message, native_stderr_filtered
from dlzoo.userfiles import IMAGE_MAX_BYTES, read_bytes

__all__ = ["as_probabilities", "batch_forward", "labels_of", "predicted_batches",
           "read_images"]


def as_probabilities(outputs) -> np.ndarray:
    """A classifier's outputs as `(N, classes)` float64 probabilities: one sigmoid unit `(N, 1)`,
    P(class 1), becomes the two columns `(1 - p, p)`; anything else is returned as it is."""
    outputs = np.asarray(outputs, dtype="float64")
    if outputs.ndim == 2 and outputs.shape[1] == 1:  # one sigmoid unit: P(class 1)
        outputs = np.concatenate([1.0 - outputs, outputs], axis=1)
    return outputs


def labels_of(y) -> np.ndarray:
    """Class indices `(N,)`, or multi-hot rows `(N, labels)` as they are (multi-label data)."""
    y = np.asarray(y)
    return y if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1)


def predicted_batches(model, data):
    """Yields `(inputs, labels (B,), model outputs)` for each `(x, y)` batch of `data` (a
    `tf.data.Dataset` or any iterable of batches), in one pass.

    Raises:
        ValueError: a batch is not an `(images, labels)` pair.
    """
    forward = batch_forward(model)
    batches = data.as_numpy_iterator() if hasattr(data, "as_numpy_iterator") else data
    for batch in batches:
        if not (isinstance(batch, (tuple, list)) and len(batch) >= 2):
            raise ValueError(
                "evaluate: the data must yield (images, labels) batches; received batches of "
                f"{type(batch).__name__}. Evaluate on a labelled split such as bundle.val."
            )
        xb, yb = batch[0], batch[1]
        yield xb, labels_of(yb), forward(xb)


def batch_forward(model):
    """`fn(x) -> numpy outputs` running `model` in inference mode on one batch, the fast way for
    the backend: on JAX Keras's jitted `predict_on_batch` (one XLA program per batch shape; a
    direct `model(x)` there runs op by op, compiling every operation of the network for each
    new batch shape: LeNet-5's evaluation of the digits took 1.4 s instead of 0.2 s), elsewhere
    a direct call (on TensorFlow no `tf.function` to retrace for the last, smaller batch, and
    no retracing warnings when a process evaluates several models)."""
    import keras  # the backend: imported when a model runs, never at `dlzoo list`

    if keras.backend.backend() == "jax" and isinstance(model, keras.Model):
        return lambda x: keras.ops.convert_to_numpy(model.predict_on_batch(x))
    return lambda x: keras.ops.convert_to_numpy(model(x, training=False))


def read_images(paths, input_shape) -> tuple[np.ndarray, list, list]:
    """Reads image files as a model's raw input: `(H, W, C)` from `input_shape`, values 0-255.

    Decodes and resizes exactly as the folder pipeline does (`dlzoo.data.sniff.decode_bytes`:
    the same header routing, EXIF orientation, Pillow reference, TensorFlow decoder and the one
    resize, Pillow's), so a file predicts as it would have trained, on any host.

    Returns:
        `(images float32 (N, H, W, C), the paths read, [(path, reason)] for the files skipped)`.
    """
    # libjpeg's own lines about a damaged file: the file is reported by name in the skipped list
    with native_stderr_filtered(decoder_message):
        return _read_images(paths, input_shape)


def _read_images(paths, input_shape):
    h, w, c = (int(s) for s in input_shape)
    arrays, kept, failed = [], [], []
    for path in paths:
        path = os.fsdecode(path) if isinstance(path, bytes) else str(path)
        try:  # regular files only, at most IMAGE_MAX_BYTES (not /dev/zero, not a FIFO)
            data = read_bytes(path, max_bytes=IMAGE_MAX_BYTES, what="image")
        except OSError as e:
            failed.append((path, e.strerror or str(e)))
            continue
        except ValueError as e:
            failed.append((path, str(e).removeprefix(f"{path}: ")))
            continue
        try:
            array, _ = decode_bytes(data, channels=c, image_size=(h, w))
        except UnusableImage as e:
            failed.append((path, str(e)))
            continue
        arrays.append(array.astype("float32"))
        kept.append(path)
    images = np.stack(arrays) if arrays else np.zeros((0, h, w, c), "float32")
    return images, kept, failed
