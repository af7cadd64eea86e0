"""`Preprocess`: the input convention a network's weights expect, as a layer inside the model.

keras.applications ships these conventions as `preprocess_input` functions that run outside the
model; a saved model then needs the caller to remember which one applies. As a layer, a saved
dlzoo model takes raw [0, 255] images and carries its own preprocessing. The arithmetic of the
ImageNet conventions is keras.applications' own (`imagenet_utils.preprocess_input`, which works on
tensors); the layer stays a registered class of its own so that saved models load with
`safe_mode=True` and tools can read the mode off a model (`dlzoo.preprocessing.applied_mode`).
"""

from __future__ import annotations

import keras
from keras import ops

MODES = ("caffe", "tf", "torch", "unit", "none")
IMAGENET_MODES = ("caffe", "tf", "torch")  # keras.applications' preprocess_input modes


def check_mode(mode) -> str:
    """Returns `mode` if it is one of `MODES`, else raises a `ValueError` naming them."""
    if mode not in MODES:
        raise ValueError(
            f"preprocessing mode must be one of {', '.join(repr(m) for m in MODES)}; "
            f"received {mode!r}. Use the `preprocessing` field of `dlzoo info MODEL`."
        )
    return mode


@keras.saving.register_keras_serializable(package="dlzoo")
class Preprocess(keras.layers.Layer):
    """Maps images with values in [0, 255], channels last, to a network's input convention.

    Modes (as in `keras.applications.imagenet_utils.preprocess_input`, plus two of our own):
        `"caffe"`: RGB to BGR, minus the ImageNet mean per channel, no scaling (VGG, ResNet).
        `"tf"`: scaled to [-1, 1] (Inception, MobileNet).
        `"torch"`: scaled to [0, 1], then standardised with the ImageNet mean and std per channel.
        `"unit"`: scaled to [0, 1].
        `"none"`: unchanged.

    Args:
        mode: one of the modes above.

    Example:
        >>> layer = Preprocess("unit")
        >>> float(layer(keras.ops.full((1, 2, 2, 1), 255.0))[0, 0, 0, 0])
        1.0
    """

    def __init__(self, mode: str = "none", **kwargs):
        super().__init__(**kwargs)
        self.mode = check_mode(mode)

    def build(self, input_shape):
        channels = input_shape[-1]
        if self.mode in ("caffe", "torch") and channels != 3:
            raise ValueError(
                f"Preprocess: mode {self.mode!r} expects RGB images (3 channels); the input has "
                f"{channels}. Load the images with color_mode='rgb'."
            )
        super().build(input_shape)

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode in IMAGENET_MODES:
            return keras.applications.imagenet_utils.preprocess_input(
                x, data_format="channels_last", mode=self.mode)
        if self.mode == "unit":
            return x / 255.0
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode)
        return config


# --- Pillow's resampling in Keras ops: how an export resizes ---------------------------------------
#
# dlzoo resizes every image with Pillow (`dlzoo.data.images.resize_array`); an exported model has
# to resize inside its graph, where Pillow cannot run, and neither `keras.ops.image.resize` nor
# tf.image.resize computes what Pillow does (TensorFlow's bilinear samples 4 pixels however much
# it shrinks; its antialiased variant is an op that LiteRT and ONNX lack). This is Pillow's
# algorithm (Resample.c: separable filters widened by the reduction factor, weights normalised
# over the pixels inside the image, the horizontal pass rounded to whole levels before the
# vertical one) written with matmuls, so it converts to LiteRT's and ONNX's built-in ops. Pillow
# rounds its weights to 22-bit fixed point and this keeps float32, so a pixel may differ by one
# level where the sum falls on a half.


def _sinc(x):
    px = ops.where(ops.equal(x, 0.0), 1.0, x) * 3.141592653589793
    return ops.where(ops.equal(x, 0.0), 1.0, ops.sin(px) / px)


_PILLOW_FILTERS = {  # interpolation -> (support, filter), as Pillow's Resample.c defines them
    "bilinear": (1.0, lambda x: ops.maximum(1.0 - ops.abs(x), 0.0)),
    "area": (0.5, lambda x: ops.cast((x > -0.5) & (x <= 0.5), x.dtype)),  # Pillow's BOX
    "bicubic": (2.0, lambda x: _cubic(ops.abs(x))),
    "lanczos3": (3.0, lambda x: ops.where((x >= -3.0) & (x < 3.0), _sinc(x) * _sinc(x / 3.0), 0.0)),
}


def _cubic(x, a=-0.5):
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return ops.where(x < 1.0, near, ops.where(x < 2.0, far, 0.0))


def _pillow_weights(in_size, out_size: int, interpolation: str):
    """`(out_size, in_size)` float32: row i holds Pillow's weights of output pixel i."""
    support, kernel = _PILLOW_FILTERS[interpolation]
    # Pillow computes the weights in double precision; the box filter is cut at +-0.5 exactly,
    # where float32 puts some source pixels on the other side (33 levels off, measured), so
    # its weights are computed in float64 too. The other filters are 0 at their edges: float32.
    dtype = "float64" if interpolation == "area" else "float32"
    n = ops.cast(in_size, dtype)
    scale = n / float(out_size)
    filterscale = ops.maximum(scale, 1.0)
    reach = support * filterscale
    centre = ((ops.cast(ops.arange(out_size), dtype) + 0.5) * scale)[:, None]
    j = ops.cast(ops.arange(in_size), dtype)[None, :]
    first = ops.maximum(ops.floor(centre - reach + 0.5), 0.0)
    last = ops.minimum(ops.floor(centre + reach + 0.5), n)  # exclusive
    w = ops.where((j >= first) & (j < last), ops.cast(kernel((j - centre + 0.5) / filterscale),
                                                       dtype), 0.0)
    return ops.cast(w / ops.sum(w, axis=1, keepdims=True), "float32")


def pillow_resize(images, height: int, width: int, interpolation: str = "bilinear"):
    """float `(batch, H, W, C)` whole levels in [0, 255] -> float32 `(batch, height, width, C)`,
    resized as Pillow's `Image.resize` does with the matching filter (`dlzoo.data.images.
    INTERPOLATIONS`: bilinear, nearest, bicubic, area = BOX, lanczos3 = LANCZOS), within one
    level. H and W may be unknown until run time."""
    x = ops.cast(images, "float32")
    shape = ops.shape(x)
    if interpolation == "nearest":  # Pillow: the source pixel under each output pixel's centre
        for axis, (size, out) in ((1, (shape[1], height)), (2, (shape[2], width))):
            scale = ops.cast(size, "float32") / float(out)
            index = ops.cast(ops.floor((ops.cast(ops.arange(out), "float32") + 0.5) * scale), "int32")
            x = ops.take(x, index, axis=axis)
        return x
    if interpolation not in _PILLOW_FILTERS:
        raise ValueError(f"interpolation must be one of nearest, {', '.join(_PILLOW_FILTERS)}; "
                         f"received {interpolation!r}.")
    x = ops.transpose(x, (0, 3, 1, 2))  # (batch, C, H, W): both passes are plain matmuls
    wx = _pillow_weights(shape[2], width, interpolation)
    x = ops.clip(ops.floor(ops.matmul(x, ops.transpose(wx)) + 0.5), 0.0, 255.0)  # across
    wy = _pillow_weights(shape[1], height, interpolation)
    x = ops.clip(ops.floor(ops.matmul(wy, x) + 0.5), 0.0, 255.0)  # then down, as Pillow
    return ops.transpose(x, (0, 2, 3, 1))
