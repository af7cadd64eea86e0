"""Weight sources for `build(weights=...)`: "imagenet", a weights file, or a dlzoo saved model.

- `"imagenet"`: keras.applications' published files, fetched with `keras.utils.get_file` (same
  URL, file name and hash) into the Keras cache (`$KERAS_HOME/models`, by default
  `~/.keras/models`). A cached file whose hash matches loads with no network. When the file is
  missing and the download host cannot be reached, a `ConnectionError` comes within seconds
  (`get_file` itself would wait on the operating system's timeouts) naming the file, the place to
  put it and its URL. With `num_classes` other than 1,000 every layer but the classifier loads.
- a path to a weights file (`.weights.h5`, `.keras`, or a legacy `.h5`): `model.load_weights`.
- a path to a dlzoo saved model (a directory with `model.keras`): weights are copied layer by
  layer where names and shapes match; the rest are reported.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import threading
import urllib.parse
import urllib.request
import warnings

import numpy as np

from dlzoo.registry import ModelInfo

__all__ = [
    "WeightsFile",
    "IMAGENET",
    "build_with_weights",
    "imagenet_file",
    "fetch",
    "keras_cache_dir",
    "load_h5_by_order",
    "copy_weights_by_name",
]

PROBE_TIMEOUT = 4.0  # seconds to wait for a TCP connection to the download host


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """One downloadable weights file: its name in the cache, its URL and its md5 (or sha256)."""

    file_name: str
    origin: str
    file_hash: str


_KA = "https://storage.googleapis.com/tensorflow/keras-applications/"


def _pair(folder: str, stem: str, top_hash: str, notop_hash: str) -> tuple:
    top = f"{stem}_weights_tf_dim_ordering_tf_kernels.h5"
    notop = f"{stem}_weights_tf_dim_ordering_tf_kernels_notop.h5"
    return (
        WeightsFile(top, f"{_KA}{folder}/{top}", top_hash),
        WeightsFile(notop, f"{_KA}{folder}/{notop}", notop_hash),
    )


# (with the classifier, without it) per registry name: keras.applications' files and hashes
# (keras/src/applications/resnet.py, inception_v3.py, vgg16.py, vgg19.py).
IMAGENET = {
    "resnet50": _pair("resnet", "resnet50", "2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626"),
    "resnet101": _pair("resnet", "resnet101", "f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21"),
    "resnet152": _pair("resnet", "resnet152", "100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c"),
    "resnet50v2": _pair("resnet", "resnet50v2", "3ef43a0b657b3be2300d5770ece849e0", "fac2f116257151a9d068a22e544a4917"),
    "resnet101v2": _pair("resnet", "resnet101v2", "6343647c601c52e1368623803854d971", "c0ed64b8031c3730f411d2eb4eea35b5"),
    "resnet152v2": _pair("resnet", "resnet152v2", "a49b44d1979771252814e80f8ec446f9", "ed17cf2e0169df9d443503ef94b23b33"),
    "inception_v3": _pair("inception_v3", "inception_v3", "9a0d58056eeedaa3f26cb7ebd46da564", "bcbd6486424b2319ff4ef7d526e38f63"),
    "vgg16": _pair("vgg16", "vgg16", "64373286793e3c8b2b4e3219cbf3544b", "6d6bbae143d832006294945121d1f1fc"),
    "vgg19": _pair("vgg19", "vgg19", "cbe5617147190e668d6c5d5026f83318", "253f8cb515780f3b799900260a226db6"),
}
IMAGENET_CLASSES = 1000


def build_with_weights(info: ModelInfo, weights, kwargs: dict):
    """Builds `info`'s model with `kwargs` and loads `weights` into it."""
    if isinstance(weights, str) and weights.lower() in {w.lower() for w in info.weights}:
        if weights.lower() != "imagenet":
            raise ValueError(f"{info.name}: no loader for the weights set {weights!r}.")
        return _build_imagenet(info, kwargs)
    if isinstance(weights, (str, os.PathLike)):
        path = os.fspath(weights)
        if os.path.isfile(path):
            model = info.builder(**kwargs)
            try:
                model.load_weights(path)
            except ValueError as e:
                raise ValueError(
                    f"Could not load the weights file {path} into {info.name} (built with "
                    f"{kwargs or 'its defaults'}): {e} Build with the arguments the file was "
                    "saved from."
                ) from e
            return model
        if os.path.isdir(path):
            model = info.builder(**kwargs)
            load_saved_model_weights(model, path)
            return model
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
    if name not in IMAGENET:
        have = ", ".join(sorted(IMAGENET))
        raise ValueError(f"No ImageNet weights are published for {name!r}; models that have them: {have}.")
    return IMAGENET[name][0 if include_top else 1]


def _build_imagenet(info: ModelInfo, kwargs: dict):
    include_top = kwargs.get("include_top", True)
    num_classes = kwargs.get("num_classes", info.default_num_classes)
    input_shape = tuple(kwargs.get("input_shape", info.default_input_shape))
    if input_shape[-1] != 3:
        raise ValueError(
            f"{info.name}: ImageNet weights need 3-channel (RGB) input; received "
            f"input_shape={input_shape}. Convert the images to RGB or use weights=None."
        )
    wf = imagenet_file(info.name, include_top=include_top)
    path = fetch(wf)
    model = info.builder(**kwargs)
    if include_top and num_classes != IMAGENET_CLASSES:
        load_h5_by_order(model, path, skip_classifier=True)
        warnings.warn(
            f"{info.name}: loaded ImageNet weights into every layer except the classifier "
            f"'predictions', which has num_classes={num_classes} outputs instead of "
            f"{IMAGENET_CLASSES} and starts from random weights: train it before predicting.",
            stacklevel=4,  # the caller of build()
        )
    else:
        load_h5_by_order(model, path)
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
    if os.path.exists(target):
        actual = file_hash(target, algorithm)
        if actual == wf.file_hash:
            return target
        problem = (
            f"the cached {target} has {algorithm} {actual}, not the expected {wf.file_hash} "
            "(an incomplete or different file)"
        )
    host, port = _download_host(wf.origin)
    if not _reachable(host, port, probe_timeout):
        raise ConnectionError(_offline_message(wf, target, problem, f"{host}:{port} cannot be reached"))
    import keras

    try:
        return keras.utils.get_file(
            wf.file_name,
            wf.origin,
            cache_subdir="models",
            file_hash=wf.file_hash,
            cache_dir=os.path.dirname(os.path.dirname(target)),
        )
    except Exception as e:  # get_file raises a bare Exception on URL errors
        raise ConnectionError(_offline_message(wf, target, problem, f"the download failed ({e})")) from e


def _offline_message(wf: WeightsFile, target: str, problem: str, reason: str) -> str:
    return (
        f"Cannot get ImageNet weights: {problem}, and {reason}. Download {wf.file_name} from "
        f"{wf.origin} on a machine with network access and put it at {target} "
        f"(the Keras cache: $KERAS_HOME/models, by default ~/.keras/models; its md5 must be "
        f"{wf.file_hash}), then build again; or pass weights=None."
    )


def _download_host(url: str) -> tuple:
    """The host a download of `url` connects to first: the https proxy when one is configured."""
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname):
        p = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return p.hostname, p.port or (443 if p.scheme == "https" else 80)
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def _reachable(host: str, port: int, timeout: float) -> bool:
    """Whether a TCP connection to host:port opens within `timeout` seconds.

    The attempt runs in a daemon thread: `socket.create_connection`'s timeout does not cover the
    DNS lookup, which on a machine without network can itself take many seconds.
    """
    result = []

    def attempt():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=attempt, name="dlzoo-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


# --- loading --------------------------------------------------------------------------------


def _strings(values) -> list:
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def load_h5_by_order(model, path: str, *, skip_classifier: bool = False) -> None:
    """Loads a legacy Keras `.h5` weights file (keras.applications' format) layer by layer in order.

    Layers are matched by position among the layers that hold weights, as `model.load_weights`
    does for these files (their layer names, e.g. Inception v3's `conv2d_1`, need not match).

    Args:
        model: the model to load into.
        path: the `.h5` file.
        skip_classifier: leave the model's `predictions` layer and the file's last layer out.
    """
    import h5py

    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
        saved = []
        for layer_name in _strings(group.attrs["layer_names"]):
            names = _strings(group[layer_name].attrs["weight_names"])
            if names:
                saved.append((layer_name, [np.asarray(group[layer_name][n]) for n in names]))
    targets = [layer for layer in model.layers if layer.weights]
    if skip_classifier:
        saved = saved[:-1]
        targets = [layer for layer in targets if layer.name != "predictions"]
    if len(saved) != len(targets):
        raise ValueError(
            f"{os.path.basename(path)} holds weights for {len(saved)} layers; {model.name} has "
            f"{len(targets)}. The file was saved from a different architecture."
        )
    for layer, (saved_name, values) in zip(targets, saved):
        expected = [tuple(w.shape) for w in layer.weights]
        got = [tuple(v.shape) for v in values]
        if expected != got:
            raise ValueError(
                f"Layer {layer.name!r} of {model.name} has weight shapes {expected}, but the "
                f"matching layer {saved_name!r} in {os.path.basename(path)} has {got}. With "
                "include_top=True the input size must be the one the weights were trained at "
                "for networks that flatten (VGG); otherwise the file is for another architecture."
            )
        layer.set_weights(values)


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def copy_weights_by_name(source, target) -> tuple:
    """Copies weights from `source` into `target` for layers with the same name and shapes.

    Nested models in `source` (a fine-tuned base inside a wrapper) are searched too.

    Returns:
        `(copied, skipped)`: names of the layers of `target` that received weights, and
        `(name, reason)` for those that did not.
    """
    by_name = {layer.name: layer for layer in _all_layers(source) if layer.weights}
    copied, skipped = [], []
    for layer in _all_layers(target):
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

    Loads with `safe_mode=True`. Layers whose names or shapes differ (a new classifier, say) keep
    their initial weights and are listed in a warning.

    Returns:
        `(copied, skipped)` as `copy_weights_by_name`.
    """
    import keras

    path = os.path.join(directory, "model.keras")
    if not os.path.isfile(path):
        raise ValueError(
            f"weights={directory!r} is a directory but holds no model.keras; pass a dlzoo saved-model "
            "directory, or the path of a weights file."
        )
    source = keras.saving.load_model(path, compile=False, safe_mode=True)
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
