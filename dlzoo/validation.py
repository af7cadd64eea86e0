"""Argument checks shared by every builder, done before any layer is built.

keras.applications keeps these in one function (`obtain_input_shape`); so do we. Each error names
the argument, what is allowed, what was received and what to do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dlzoo.augmentation import normalize_augment

__all__ = [
    "Downsample",
    "check_choice",
    "check_flat_input",
    "check_head",
    "check_image_input",
    "check_int",
    "check_num_classes",
    "check_positive_ints",
    "check_rate",
    "check_sequence_input",
    "check_token_input",
    "head_activation",
    "unknown_arguments",
    "min_spatial_size",
]


class Downsample(tuple):
    """One spatial reduction: `(kernel, stride, padding)` with padding `"valid"` or `"same"`.

    An explicit zero-padding of `p` pixels before a `valid` op is written `Downsample(k, s, "valid", p)`.
    """

    def __new__(cls, kernel: int, stride: int = 1, padding: str = "valid", pad: int = 0):
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same'; received {padding!r}.")
        return super().__new__(cls, (int(kernel), int(stride), padding, int(pad)))


def min_spatial_size(ops: Sequence[Downsample]) -> int:
    """Smallest input side for which every op in `ops` still produces at least one pixel.

    Walks the ops backwards from a 1-pixel output: a `valid` op of kernel k and stride s needs
    `(m - 1) * s + k` inputs for m outputs (less any explicit padding), a `same` op `(m - 1) * s + 1`.
    """
    m = 1
    for kernel, stride, padding, pad in reversed(list(ops)):
        if padding == "valid":
            m = max(1, (m - 1) * stride + kernel - 2 * pad)
        else:
            m = (m - 1) * stride + 1
    return m


def check_num_classes(num_classes, *, include_top: bool = True) -> None:
    if not include_top:
        return
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"num_classes must be an integer >= 1; received {num_classes!r}. "
            "Pass the number of classes in your data, e.g. num_classes=10."
        )


def check_head(*, include_top: bool, pooling, allow_pooling: bool = True) -> None:
    if not isinstance(include_top, bool):
        raise TypeError(f"include_top must be True or False; received {include_top!r}.")
    if pooling not in (None, "avg", "max"):
        raise ValueError(
            f"pooling must be None, 'avg' or 'max'; received {pooling!r}. "
            "None keeps the feature map; 'avg'/'max' pool it to a vector."
        )
    if pooling is not None and not allow_pooling:
        raise ValueError(
            f"pooling={pooling!r} does not apply to this model: its features are already vectors. "
            "Leave pooling=None."
        )


def head_activation(classifier_activation, num_classes: int):
    """softmax over one class is constant 1.0; a single output unit gets a sigmoid instead."""
    if classifier_activation == "softmax" and num_classes == 1:
        return "sigmoid"
    return classifier_activation


def check_image_input(
    input_shape,
    *,
    name: str,
    min_size: int,
    channels: Sequence[int] | None = None,
) -> tuple:
    """Validates an image input shape `(height, width, channels)`, channels last.

    Args:
        input_shape: the shape received (a tuple or list; `None` sides allowed for fully
            convolutional use when `include_top=False`).
        name: the model's name for the messages.
        min_size: the network's minimum side, from `min_spatial_size` of its strides and pools.
        channels: allowed channel counts, or None for any positive count.

    Returns:
        The shape as a tuple of ints (or None sides).
    """
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(
            f"{name}: input_shape must be (height, width, channels), channels last; "
            f"received {input_shape!r}. For grayscale 32x32 images pass (32, 32, 1)."
        )
    shape = tuple(None if s is None else _as_int(s, name) for s in input_shape)
    h, w, c = shape
    if c is None or c < 1:
        raise ValueError(f"{name}: the channel count in input_shape must be >= 1; received {c!r}.")
    if channels is not None and c not in channels:
        raise ValueError(
            f"{name}: input_shape has {c} channels; this model takes {_or(channels)} channels. "
            "Convert the images (e.g. color_mode='rgb') or pass a matching input_shape."
        )
    for side, label in ((h, "height"), (w, "width")):
        if side is not None and side < min_size:
            raise ValueError(
                f"{name}: input {label} {side} is too small; the minimum is {min_size}x{min_size} "
                f"(set by the network's strides and pools); received input_shape={shape}. "
                f"Resize the images to at least {min_size} pixels."
            )
    return shape


def check_flat_input(input_shape, *, name: str) -> tuple:
    """Validates a flat feature-vector input shape `(features,)`."""
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 1:
        raise ValueError(
            f"{name}: input_shape must be (features,) for flat vectors; received {input_shape!r}. "
            "Flatten images first, e.g. (784,) for 28x28."
        )
    n = _as_int(input_shape[0], name)
    if n < 1:
        raise ValueError(f"{name}: input_shape must have at least 1 feature; received {n}.")
    return (n,)


def check_sequence_head(*, include_top, pooling, poolings: Sequence, num_classes, name: str) -> None:
    """The head arguments of a sequence model (text or float steps): `include_top` a bool,
    `pooling` one of `poolings` or None, `num_classes` fit for the classifier."""
    if not isinstance(include_top, bool):
        raise TypeError(f"{name}: include_top must be True or False; received {include_top!r}.")
    check_choice(pooling, arg="pooling", name=name, allowed=tuple(poolings) + (None,))
    check_num_classes(num_classes, include_top=include_top)


def check_token_input(input_shape, *, name: str, allow_variable: bool = True,
                      vocab_size=None) -> tuple:
    """Validates an integer token input shape `(sequence_length,)`; `(None,)` for any length.

    With `vocab_size`, also that the vocabulary holds at least 2 ids (padding 0 and one token).
    """
    if vocab_size is not None:
        check_int(vocab_size, arg="vocab_size", name=name, minimum=2)
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 1:
        raise ValueError(
            f"{name}: input_shape must be (sequence_length,) for token ids; received "
            f"{input_shape!r}. For sequences padded to 200 tokens pass (200,)."
        )
    if input_shape[0] is None:
        if not allow_variable:
            raise ValueError(
                f"{name}: input_shape (None,) is not allowed here; pass a fixed length, e.g. (200,)."
            )
        return (None,)
    n = _as_int(input_shape[0], name)
    if n < 1:
        raise ValueError(f"{name}: the sequence length must be >= 1; received {n}.")
    return (n,)


def check_sequence_input(input_shape, *, name: str) -> tuple:
    """Validates a float sequence input shape `(timesteps, features)`; timesteps may be None."""
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 2:
        raise ValueError(
            f"{name}: input_shape must be (timesteps, features) for sequences; received "
            f"{input_shape!r}. A univariate series of 100 steps is (100, 1)."
        )
    steps = None if input_shape[0] is None else _as_int(input_shape[0], name)
    features = _as_int(input_shape[1], name) if input_shape[1] is not None else None
    if steps is not None and steps < 1:
        raise ValueError(f"{name}: timesteps must be >= 1 (or None); received {steps}.")
    if features is None or features < 1:
        raise ValueError(f"{name}: features must be an integer >= 1; received {input_shape[1]!r}.")
    return (steps, features)


def unknown_arguments(name: str, unknown, allowed) -> TypeError:
    """The TypeError for builder arguments `name` does not take: each unknown one with the
    closest accepted name, then every accepted one (as unknown model names get their closest).

    >>> raise unknown_arguments("lenet5", ["activaton"], ["activation", "num_classes"])
    TypeError: lenet5 does not take argument 'activaton' (closest: activation). Accepted: ...
    """
    import difflib

    allowed = sorted(allowed)
    parts = []
    for arg in sorted(unknown):
        close = difflib.get_close_matches(str(arg), allowed, n=1, cutoff=0.5)
        parts.append(f"{arg!r}" + (f" (closest: {close[0]})" if close else ""))
    what = "argument" if len(parts) == 1 else "arguments"
    return TypeError(f"{name} does not take {what} {', '.join(parts)}. "
                     f"Accepted: {', '.join(allowed)}.")


def check_int(value, *, arg: str, name: str, minimum: int = 1) -> int:
    """An integer argument (not a bool) of at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: {arg} must be an integer >= {minimum}; received {value!r}.")
    return value


def check_rate(value, *, arg: str, name: str) -> float:
    """A dropout or corruption rate in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(
            f"{name}: {arg} must be a number in [0, 1); received {value!r}. "
            "It is the fraction of units dropped or corrupted."
        )
    return float(value)


def check_choice(value, *, arg: str, name: str, allowed: Sequence) -> None:
    """`value` must be one of `allowed` (same type too, so `True` is not taken for `1`)."""
    if not any(value == c and type(value) is type(c) for c in allowed):
        raise ValueError(
            f"{name}: {arg} must be {_or([repr(a) for a in allowed])}; received {value!r}."
        )


def check_positive_ints(value, *, arg: str, name: str, length: int | None = None) -> tuple:
    """A non-empty tuple/list of integers >= 1 (stage depths, widths), optionally of a given length.

    Returns:
        The values as a tuple of ints.
    """
    ok = isinstance(value, (tuple, list)) and len(value) > 0 and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value
    )
    if not ok:
        raise ValueError(
            f"{name}: {arg} must be a non-empty tuple of integers >= 1, one per stage; "
            f"received {value!r}. For example {arg}=(2, 2, 2)."
        )
    if length is not None and len(value) != length:
        raise ValueError(
            f"{name}: {arg} must have {length} entries (one per stage, like depths); "
            f"received {len(value)}: {tuple(value)!r}."
        )
    return tuple(int(v) for v in value)


def _as_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
        isinstance(value, float) and math.isfinite(value) and value == int(value)
    ):
        raise ValueError(f"{name}: input_shape entries must be integers; received {value!r}.")
    return int(value)


def _or(values) -> str:
    values = [str(v) for v in values]
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]


# --- data arguments (dlzoo.data) ---------------------------------------------------------------

def check_data_args(
    *,
    image_size=None,
    batch_size=None,
    validation_split=None,
    seed=None,
    color_mode=None,
    interpolation=None,
    allow_no_image_size: bool = True,
) -> dict:
    """Validates the arguments shared by the data loaders; returns them normalised.

    `image_size` becomes a `(height, width)` tuple of ints (an int n means (n, n)); `color_mode`
    is lower-cased. Arguments left as None are not checked (and stay None). The colour modes and
    interpolations are dlzoo.data.images' `COLOR_MODES` and `INTERPOLATIONS`.
    """
    # Imported here: dlzoo.data's loaders import this module (a top-level import would be a cycle).
    from dlzoo.data.images import COLOR_MODES, INTERPOLATIONS

    out = {}
    if image_size is None:
        if not allow_no_image_size:
            raise ValueError("image_size is required, e.g. image_size=(224, 224).")
        out["image_size"] = None
    else:
        size = (image_size, image_size) if isinstance(image_size, int) else image_size
        if (
            not isinstance(size, (tuple, list))
            or len(size) != 2
            or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in size)
        ):
            raise ValueError(
                f"image_size must be (height, width) with positive integers; received {image_size!r}. "
                "For example image_size=(160, 160)."
            )
        out["image_size"] = (int(size[0]), int(size[1]))
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
    ):
        raise ValueError(f"batch_size must be an integer >= 1; received {batch_size!r}.")
    out["batch_size"] = batch_size
    if validation_split is not None and (
        isinstance(validation_split, bool)
        or not isinstance(validation_split, (int, float))
        or not 0 <= validation_split < 1
    ):
        raise ValueError(
            f"validation_split must be a fraction in [0, 1); received {validation_split!r}. "
            "Use 0.2 to hold out a fifth of the files, 0 for no validation set."
        )
    out["validation_split"] = None if validation_split is None else float(validation_split)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed must be an integer; received {seed!r}.")
    out["seed"] = seed
    if color_mode is not None:
        if not isinstance(color_mode, str) or color_mode.lower() not in COLOR_MODES:
            raise ValueError(
                f"color_mode must be one of {', '.join(COLOR_MODES)}; received {color_mode!r}."
            )
        color_mode = color_mode.lower()
    out["color_mode"] = color_mode
    if interpolation is not None and interpolation not in INTERPOLATIONS:
        raise ValueError(
            f"interpolation must be one of {', '.join(INTERPOLATIONS)}; received {interpolation!r}."
        )
    out["interpolation"] = interpolation
    return out


# --- transfer-learning arguments (dlzoo.transfer) ------------------------------------------------

TRANSFER_POOLINGS = ("avg", "max", "flatten", None)


def parse_unfreeze(unfreeze) -> int | str:
    """`"top:K"` -> K (groups to unfreeze), `"all"` -> "all", `"none"`/0 -> 0."""
    if isinstance(unfreeze, int) and not isinstance(unfreeze, bool) and unfreeze >= 0:
        return unfreeze
    if isinstance(unfreeze, str):
        text = unfreeze.strip().lower()
        if text in ("all", "none"):
            return "all" if text == "all" else 0
        if text.startswith("top:") and text[4:].isdigit():
            return int(text[4:])
    raise ValueError(
        f"unfreeze must be 'top:K' (the K top block groups of the model's unfreeze_groups, e.g. "
        f"'top:1'), 'all' or 'none'; received {unfreeze!r}."
    )


def check_transfer_args(*, pooling="avg", head_epochs=0, epochs=0, head_learning_rate=1e-3,
                        learning_rate=1e-4, dropout=0.0, augment=None, unfreeze="top:1") -> dict:
    """Validates `dlzoo.transfer.fine_tune`'s arguments before anything is built."""
    check_choice(pooling, arg="pooling", name="fine_tune", allowed=TRANSFER_POOLINGS)
    for arg, value in (("head_epochs", head_epochs), ("epochs", epochs)):
        check_int(value, arg=arg, name="fine_tune", minimum=0)
    for arg, value in (("head_learning_rate", head_learning_rate), ("learning_rate", learning_rate)):
        if value is None and arg == "learning_rate":  # chosen from the source (fine_tune)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"fine_tune: {arg} must be a positive number; received {value!r}.")
    check_rate(dropout, arg="dropout", name="fine_tune")
    normalize_augment(augment, where="fine_tune: augment")
    return {"unfreeze": parse_unfreeze(unfreeze)}
