"""`build()`, and the weight sources it loads: "imagenet", a weights file, or a dlzoo saved model.

`build(name, ..., weights=...)` (exported as `dlzoo.build`) looks the model up in the registry
(`dlzoo.registry`, the layer below), builds it and loads the weights:

- `"imagenet"`: keras.applications' published files, fetched with `keras.utils.get_file` (same
  URL, file name and hash) into the Keras cache (`$KERAS_HOME/models`, by default
  `~/.keras/models`). A cached file whose hash matches loads with no network. When the file is
  missing and the download host cannot be reached (`dlzoo.network.network_available`, which
  honours `DLZOO_OFFLINE`), a `ConnectionError` comes within seconds (`get_file` itself would
  wait on the operating system's timeouts) naming the file, the place to put it and its URL.
  With `num_classes` other than 1,000 every layer but the classifier loads. The files, URLs and
  hashes live beside each family, in its module's `IMAGENET_WEIGHTS` table
  (`dlzoo/models/resnet.py`, ...); this module is the mechanism.
- a path to a weights file (`.weights.h5`, `.keras`, or a legacy `.h5`): `model.load_weights`.
- a path to a dlzoo saved model (a directory with `model.keras` and `card.json`, or that
  `model.keras` itself): loaded by `dlzoo.saving.load` (the card's sha256 check), then weights are
  copied layer by layer where names and shapes match; the rest are reported.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import os
import re
import warnings

from dlzoo import saving
from dlzoo.network import network_available
from dlzoo.registry import ModelInfo, check_model_args, list_models, model_info
from dlzoo.saving import all_layers, saved_model_folder
from dlzoo.userfiles import check_regular_file

__all__ = [
    "WeightsFile",
    "all_layers",
    "build",
    "build_with_weights",
    "copy_weights_by_name",
    "fetch",
    "imagenet_file",
    "imagenet_files",
    "keras_applications_files",
    "keras_cache_dir",
]

PROBE_TIMEOUT = 4.0  # seconds to wait for the download host to answer


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """One downloadable weights file: its name in the cache, its URL and its md5 (or sha256)."""

    file_name: str
    origin: str
    file_hash: str


KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
IMAGENET_CLASSES = 1000


def keras_applications_files(folder: str, stem: str, top_hash: str, notop_hash: str) -> tuple:
    """keras.applications' two published files of one network: (with the classifier, without).

    Args:
        folder: the folder under `KERAS_APPLICATIONS_URL` (`"resnet"`, `"vgg16"`, ...).
        stem: the file names' start (`"resnet50"`).
        top_hash, notop_hash: their md5 digests, as keras.applications lists them.
    """
    top = f"{stem}_weights_tf_dim_ordering_tf_kernels.h5"
    notop = f"{stem}_weights_tf_dim_ordering_tf_kernels_notop.h5"
    return (
        WeightsFile(top, f"{KERAS_APPLICATIONS_URL}{folder}/{top}", top_hash),
        WeightsFile(notop, f"{KERAS_APPLICATIONS_URL}{folder}/{notop}", notop_hash),
    )


def imagenet_files(name: str) -> tuple | None:
    """The (top, no-top) ImageNet files of a registered model, from its family module's
    `IMAGENET_WEIGHTS` table (`ModelInfo.module`); None when the family publishes none."""
    info = model_info(name)
    table = getattr(importlib.import_module(info.module), "IMAGENET_WEIGHTS", {}) if info.module else {}
    return table.get(info.name)


def _with_imagenet() -> list:
    return [n for n in list_models() if "imagenet" in model_info(n).weights]


def build(
    name: str,
    *,
    num_classes: int | None = None,
    input_shape: tuple | None = None,
    weights: str | None = None,
    include_top: bool = True,
    pooling: str | None = None,
    **overrides,
):
    """Builds a registered model, uncompiled.

    Args:
        name: registry name, case-insensitive, `-`/`_` ignored (`"VGG-16"` is `vgg16`).
        num_classes: output classes; the model's default when None.
        input_shape: input shape without the batch axis; the model's default when None.
        weights: None (random), a named set from `model_info(name).weights` such as
            `"imagenet"`, a path to a weights file, or a path to a dlzoo saved model.
        include_top: keep the classifier head.
        pooling: with `include_top=False`: None (feature map), `"avg"` or `"max"`.
        **overrides: family-specific arguments (`classifier_activation`, `dropout`, ...).

    Returns:
        An uncompiled `keras.Model`.

    Raises:
        ValueError: unknown model (the closest names listed), an impossible input shape, or
            weights that do not fit. TypeError: an argument the builder does not take.
        ConnectionError: ImageNet weights not in the Keras cache and no network (within seconds).

    Example:
        >>> from dlzoo import build
        >>> model = build("lenet5")
        >>> model.output_shape
        (None, 10)
    """
    kwargs = dict(overrides)
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    if input_shape is not None:
        kwargs["input_shape"] = tuple(input_shape)
    if not include_top:
        kwargs["include_top"] = False
    if pooling is not None:
        kwargs["pooling"] = pooling
    info = check_model_args(name, kwargs)
    if weights is None:
        return info.builder(**kwargs)
    return build_with_weights(info, weights, kwargs)


def build_with_weights(info: ModelInfo, weights, kwargs: dict):
    """Builds `info`'s model with `kwargs` and loads `weights` into it."""
    if isinstance(weights, str) and weights.lower() in {w.lower() for w in info.weights}:
        if weights.lower() != "imagenet":
            raise ValueError(f"{info.name}: no loader for the weights set {weights!r}.")
        return _build_imagenet(info, kwargs)
    if isinstance(weights, (str, os.PathLike)):
        path = os.fspath(weights)
        folder = saved_model_folder(path)  # a saved model, or its model.keras: checked against its card
        if folder is not None:
            model = info.builder(**kwargs)
            load_saved_model_weights(model, os.fspath(folder))
            return model
        if os.path.isfile(path):
            check_regular_file(path, what="weights file")
            model = info.builder(**kwargs)
            try:
                model.load_weights(path)
            except Exception as e:  # ValueError, or BadZipFile/OSError from a damaged file
                first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                raise ValueError(
                    f"Could not load the weights file {path} into {info.name} (built with "
                    f"{kwargs or 'its defaults'}): {type(e).__name__}: {first} Build with the "
                    "arguments the file was saved from, or check that the file is whole."
                ) from e
            return model
        if os.path.isdir(path):
            model = info.builder(**kwargs)
            load_saved_model_weights(model, path)
            return model
    if isinstance(weights, str) and weights.lower() == "imagenet" and not os.path.exists(weights):
        have = ", ".join(_with_imagenet())
        raise ValueError(
            f"weights='imagenet': keras.applications publishes no ImageNet weights for "
            f"{info.name} (named set: none for this model). Models that have them: {have}. "
            "Pass weights=None (--weights none on the command line), a weights file or a "
            "saved-model directory."
        )
    named = " or ".join(repr(w) for w in info.weights) or "none for this model"
    missing = isinstance(weights, (str, os.PathLike)) and not os.path.exists(os.fspath(weights))
    raise ValueError(
        f"weights={weights!r} for {info.name}: expected None (random), a named set ({named}), a "
        "path to a weights file (.weights.h5, .keras, .h5) or a dlzoo saved-model directory"
        + ("; no file or directory exists at that path." if missing else ".")
    )


# --- ImageNet -------------------------------------------------------------------------------


def imagenet_file(name: str, *, include_top: bool = True) -> WeightsFile:
    """The keras.applications file holding `name`'s ImageNet weights (with or without the top)."""
    files = imagenet_files(name)
    if files is None:
        have = ", ".join(_with_imagenet())
        raise ValueError(f"No ImageNet weights are published for {name!r}; models that have them: {have}.")
    return files[0 if include_top else 1]


def _build_imagenet(info: ModelInfo, kwargs: dict):
    include_top = kwargs.get("include_top", True)
    num_classes = kwargs.get("num_classes", info.default_num_classes)
    input_shape = tuple(kwargs.get("input_shape", info.default_input_shape))
    if input_shape[-1] != 3:
        raise ValueError(
            f"{info.name}: ImageNet weights need 3-channel (RGB) input; received "
            f"input_shape={input_shape}. Convert the images to RGB or use weights=None "
            "(--weights none on the command line)."
        )
    wf = imagenet_file(info.name, include_top=include_top)
    path = fetch(wf)
    model = info.builder(**kwargs)
    if include_top and num_classes != IMAGENET_CLASSES:
        _load_legacy_h5(model, path, skip_classifier=True)
        warnings.warn(
            f"{info.name}: loaded ImageNet weights into every layer except the classifier "
            f"{classifier_layer(model)!r}, which has num_classes={num_classes} outputs instead of "
            f"{IMAGENET_CLASSES} and starts from random weights: train it before predicting.",
            stacklevel=4,  # the caller of build()
        )
    else:
        _load_legacy_h5(model, path)
    return model


def keras_cache_dir() -> str:
    """The Keras cache root (`$KERAS_HOME`, else `~/.keras`), read now rather than at import.

    Like `keras.utils.get_file`, falls back to `/tmp/.keras` when the root is not writable.
    """
    root = os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))
    try:
        os.makedirs(root, exist_ok=True)
    except OSError:
        pass
    if not os.access(root, os.W_OK):
        root = os.path.join("/tmp", ".keras")
    return root


def cached_path(wf: WeightsFile) -> str:
    """Where `keras.utils.get_file` keeps `wf`: `<cache>/models/<file name>`."""
    return os.path.join(keras_cache_dir(), "models", wf.file_name)


def file_hash(path: str, algorithm: str = "md5") -> str:
    """The hex digest keras.utils.get_file checks (md5 for 32-digit hashes, else sha256)."""
    h = hashlib.md5() if algorithm == "md5" else hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(wf: WeightsFile, *, probe_timeout: float = PROBE_TIMEOUT) -> str:
    """Returns the local path of `wf`, downloading it into the Keras cache when needed.

    A cached file with the right hash is used as is. Otherwise the download host is probed with a
    short timeout first, so that with no network this fails in seconds with a `ConnectionError`
    naming the file, the cache path to put it in and its URL.
    """
    target = cached_path(wf)
    algorithm = "md5" if len(wf.file_hash) == 32 else "sha256"
    problem = f"{wf.file_name} is not in the Keras cache"
    if os.path.exists(target) and not wf.file_hash:
        return target  # published without a hash (MobileNet v1/v2): keras checks none either
    if os.path.exists(target):
        actual = file_hash(target, algorithm)
        if actual == wf.file_hash:
            return target
        problem = (
            f"the cached {target} has {algorithm} {actual}, not the expected {wf.file_hash} "
            "(an incomplete or different file)"
        )
    if not network_available(wf.origin, timeout=probe_timeout):
        host = wf.origin.split("/")[2]
        raise ConnectionError(_offline_message(wf, target, problem, f"{host} cannot be reached"))
    import keras

    try:
        return keras.utils.get_file(
            wf.file_name,
            wf.origin,
            cache_subdir="models",
            file_hash=wf.file_hash or None,
            cache_dir=os.path.dirname(os.path.dirname(target)),
        )
    except Exception as e:  # get_file raises a bare Exception on URL errors
        raise ConnectionError(_offline_message(wf, target, problem, f"the download failed ({e})")) from e


def _offline_message(wf: WeightsFile, target: str, problem: str, reason: str) -> str:
    """How to put the weights file in place first (file name, folder, URL, hash), then why it
    is needed now, then what training without it (`--weights none`) means."""
    check = (f"; its {'md5' if len(wf.file_hash) == 32 else 'sha256'} must be {wf.file_hash}"
             if wf.file_hash else "")
    return (
        f"ImageNet weights: put the file {wf.file_name} at {target} (download it from "
        f"{wf.origin} on a machine with network access and copy it into "
        f"{os.path.dirname(target)}, the Keras cache: $KERAS_HOME/models, by default "
        f"~/.keras/models{check}), then run the same command again. It is needed because "
        f"{problem}, and {reason}. Otherwise --weights none (weights=None) starts from random "
        "weights: nothing is pretrained, so the whole network is trained from scratch, which "
        "needs far more images and epochs than fine-tuning."
    )


# --- loading --------------------------------------------------------------------------------


def _load_legacy_h5(model, path: str, *, skip_classifier: bool = False) -> None:
    """Loads a keras.applications `.h5` file with Keras's legacy loader (by layer order: the
    files' layer names, e.g. Inception v3's `conv2d_1`, need not match ours).

    With `skip_classifier`, the classifier's shape mismatch is skipped (`skip_mismatch=True`);
    any other skipped layer is an error, as is any mismatch without it.
    """
    name = os.path.basename(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(path, skip_mismatch=skip_classifier)
        except ValueError as e:
            raise ValueError(
                f"{name} does not fit {model.name}: {e} With include_top=True the input size must "
                "be the one the weights were trained at for networks that flatten (VGG); otherwise "
                "the file is for another architecture."
            ) from e
    skipped = set()
    for w in caught:
        found = re.search(r"Skipping loading weights for layer #\d+ \(named (\S+)\)", str(w.message))
        if found:
            skipped.add(found.group(1))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    head = {classifier_layer(model)}
    if skipped - head:
        raise ValueError(
            f"{name} does not fit {model.name}: the weights of {sorted(skipped - head)} "
            "have other shapes. With include_top=True the input size must be the one the weights "
            "were trained at for networks that flatten (VGG)."
        )


def classifier_layer(model) -> str:
    """Name of the classifier of a model built with its top: its last layer with weights
    (`predictions` in most families; `conv_preds` in MobileNet v1, `logits` in MobileNetV3)."""
    return [layer.name for layer in model.layers if layer.weights][-1]


def copy_weights_by_name(source, target) -> tuple:
    """Copies weights from `source` into `target` for layers with the same name and shapes.

    Nested models in `source` (a fine-tuned base inside a wrapper) are searched too.

    Returns:
        `(copied, skipped)`: names of the layers of `target` that received weights, and
        `(name, reason)` for those that did not.
    """
    by_name = {layer.name: layer for layer in all_layers(source) if layer.weights}
    copied, skipped = [], []
    for layer in all_layers(target):
        if not layer.weights or hasattr(layer, "layers"):
            continue
        src = by_name.get(layer.name)
        if src is None:
            skipped.append((layer.name, "no layer of that name in the source"))
            continue
        want = [tuple(w.shape) for w in layer.weights]
        have = [tuple(w.shape) for w in src.weights]
        if want != have:
            skipped.append((layer.name, f"shapes {have} in the source, {want} here"))
            continue
        layer.set_weights(src.get_weights())
        copied.append(layer.name)
    return copied, skipped


def load_saved_model_weights(model, directory: str) -> tuple:
    """Copies weights from the dlzoo saved model in `directory` (its `model.keras`) into `model`.

    Loads through `dlzoo.saving.load` (the card's sha256 check, `safe_mode=True`). Layers whose
    names or shapes differ (a new classifier, say) keep their initial weights and are listed in a
    warning.

    Returns:
        `(copied, skipped)` as `copy_weights_by_name`.
    """
    if saving.saved_model_folder(directory) is None:
        raise ValueError(
            f"weights={directory!r} is a directory but not a dlzoo saved model (no "
            f"{saving.CARD_FILE}); pass a saved-model directory, or the path of a weights file."
        )
    source = saving.load(directory, compile=False)
    copied, skipped = copy_weights_by_name(source, model)
    if not copied:
        raise ValueError(
            f"No layer of {model.name} matches a layer of the saved model in {directory} by name and "
            "shape; it was saved from a different architecture."
        )
    if skipped:
        listed = "; ".join(f"{n} ({why})" for n, why in skipped[:10])
        more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
        warnings.warn(
            f"Loaded {len(copied)} layers from {directory}; kept the initial weights of "
            f"{len(skipped)}: {listed}{more}.",
            stacklevel=4,  # the caller of build()
        )
    return copied, skipped
