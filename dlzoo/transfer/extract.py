"""Where a pretrained network comes from (`Source`), its cut at a named feature layer
(`FeatureExtractor`), and features computed once and cached on disk (`extract_features`)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np

from dlzoo import saving
from dlzoo.data.manifest import array_hash
from dlzoo.files import atomic_path
from dlzoo.preprocessing import applied_mode, base_network, with_preprocessing
from dlzoo.registry import feature_layers, model_info
from dlzoo.saving import is_saved_model, saved_model_folder
from dlzoo.validation import TRANSFER_POOLINGS, check_choice
from dlzoo.weights import build
from dlzoo.tasks import Task

__all__ = ["CACHE_VERSION", "FeatureExtractor", "Features", "Source", "extract_features",
           "feature_extractor", "resolve_source"]

CACHE_VERSION = "dlzoo-features-v1"


# --- where the pretrained network comes from ----------------------------------------------------


@dataclasses.dataclass
class Source:
    """A pretrained network and what is known about it.

    Attributes:
        network: the raw network (no preprocessing wrapper), layer names as the registry's.
        info: its `ModelInfo` (None for an unregistered Keras model).
        preprocessing: the input convention its weights expect (`Preprocess` mode).
        name: registry name (or the Keras model's name).
        weights: where the weights came from ("imagenet", a file, a saved model, None).
        model_args: builder arguments (from the card for a saved model).
        card: the saved model's card, if it is one.
        class_names: the classes its `predictions` layer predicts, if known.
    """

    network: object
    info: object
    preprocessing: str
    name: str
    weights: str | None = None
    model_args: dict = dataclasses.field(default_factory=dict)
    card: dict | None = None
    class_names: list | None = None

    @property
    def input_shape(self) -> tuple:
        return tuple(self.network.input_shape[1:])


def _info_or_none(name):
    try:
        return model_info(name)
    except (ValueError, TypeError):
        return None


def _from_saved(path, expected=None) -> Source:
    card = saving.read_card(path)
    model = saving.load(path, compile=False)
    name = card.get("model") or model.name
    info = _info_or_none(name)
    if expected is not None and info is not None and info.name != expected.name:
        raise ValueError(
            f"weights={os.fspath(path)!r} is a saved {info.name} but --model is {expected.name}; "
            f"use --model {info.name} (or leave --model out with a saved model)."
        )
    mode = applied_mode(model)
    if mode == "none":
        mode = card.get("preprocessing") or (info.preprocessing if info else "none")
    return Source(network=base_network(model), info=info, preprocessing=mode, name=name,
                  weights=os.fspath(path), model_args=dict(card.get("model_args") or {}),
                  card=card, class_names=[str(c) for c in card.get("class_names") or []] or None)


def resolve_source(source, *, weights=None, input_shape=None, model_args=None,
                   preprocessing=None) -> Source:
    """Turns a registry name (with `weights`), a Keras model or a saved-model folder into a `Source`.

    A registry name is built without its top (`include_top=False`) at `input_shape` (default: the
    model's own) with `weights` (None, "imagenet", a weights file, or a dlzoo saved model of that
    model). A saved model keeps its input shape, its preprocessing and its class names.
    """
    import keras

    # a saved model's model.keras means the saved model (its card, its sha256 check)
    source = saved_model_folder(source) or source
    weights = saved_model_folder(weights) or weights

    if isinstance(source, keras.Model):
        network = base_network(source)
        info = _info_or_none(network.name)
        mode = preprocessing or applied_mode(source)
        if mode == "none" and info is not None and preprocessing is None:
            mode = info.preprocessing
        return Source(network=network, info=info, preprocessing=mode, name=network.name,
                      weights="keras model")
    if is_saved_model(source):
        if weights is not None:
            raise ValueError(
                f"source {os.fspath(source)!r} is a saved model and carries its weights; "
                f"weights={weights!r} cannot apply. Pass the registry name with weights=FOLDER."
            )
        return _from_saved(source)
    if not isinstance(source, str):
        raise TypeError(
            "source must be a registry name (e.g. 'resnet50'), a keras.Model or a dlzoo saved-model "
            f"folder; received {type(source).__name__}: {source!r}."
        )
    if os.path.isdir(source):
        raise ValueError(f"{source!r} is a folder but not a dlzoo saved model (no card.json).")
    info = model_info(source)
    if info.input_kind != "image":
        raise ValueError(
            f"{info.name} takes {info.input_kind} input; transfer learning here is for image "
            "models (dlzoo list --task image_classification)."
        )
    if is_saved_model(weights):
        return _from_saved(weights, expected=info)
    args = dict(model_args or {})
    if input_shape is not None:
        args["input_shape"] = tuple(input_shape)
    if info.task is Task.AUTOENCODER:  # the encoder is the pretrained part (no corruption layer)
        network = build(info.name, weights=weights, **args)
        if any(lyr.name == "encoder" for lyr in network.layers):
            network = network.get_layer("encoder")
    else:
        network = build(info.name, weights=weights, include_top=False, **args)
    return Source(network=network, info=info, preprocessing=preprocessing or info.preprocessing,
                  name=info.name, weights=None if weights is None else os.fspath(weights),
                  model_args={k: list(v) if isinstance(v, tuple) else v for k, v in args.items()})


# --- feature extraction ---------------------------------------------------------------------------


@dataclasses.dataclass(eq=False)
class FeatureExtractor:
    """A frozen network cut at a named layer: raw images in, (pooled) features out.

    Attributes:
        model: `image -> Preprocess -> network[:layer] -> pooling`, a Keras model.
        layer: the feature layer's name.
        pooling: "avg", "max", "flatten" or None.
        source: the `Source` it cuts.
        features: the pooled feature tensor in the network's own graph (for heads built on it).
        pool_layers: the pooling layers added after the feature layer.
    """

    model: object
    layer: str
    pooling: str | None
    source: Source
    features: object = dataclasses.field(repr=False)
    pool_layers: list = dataclasses.field(default_factory=list, repr=False)

    @property
    def preprocessing(self) -> str:
        return self.source.preprocessing

    @property
    def input_shape(self) -> tuple:
        return tuple(self.model.input_shape[1:])

    @functools.cached_property
    def weights_hash(self) -> str:
        """sha256 of every weight the extractor uses (names, shapes and values)."""
        return _weights_hash(self.model)

    def cache_key(self, manifest_hash: str) -> str:
        """What the cached features depend on: weights, layer, pooling, preprocessing, input, data."""
        parts = {"v": CACHE_VERSION, "weights": self.weights_hash, "layer": self.layer,
                 "pooling": self.pooling, "preprocessing": self.preprocessing,
                 "input_shape": list(self.input_shape), "data": manifest_hash}
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _weights_hash(model) -> str:
    import keras

    h = hashlib.sha256(b"dlzoo-weights-v1\n")
    for w in model.weights:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(w))
        h.update(f"{w.path}\t{value.dtype.str}\t{value.shape}\n".encode())
        h.update(value.tobytes())
    return h.hexdigest()


def _default_layer(source: Source) -> str:
    found = feature_layers(source.info, source.network) if source.info is not None else []
    if found:  # the deepest feature layer of the model as built (any depth override)
        return found[-1]
    if has_classifier(source.network):  # a classifier: what its classifier reads
        return classifier_input_layer(source.network)
    return source.network.name  # a headless network: its own output


def classifier_input_layer(network) -> str:
    """Name of the layer whose output the `predictions` layer reads (a classifier's features)."""
    pred = network.get_layer("predictions")
    return pred.input._keras_history.operation.name


def _cut(source: Source, layer: str, pooling):
    """The (pooled) output tensor of `layer` in the network's graph, and the pooling layers."""
    from keras import layers

    network = source.network
    try:
        tensor = network.output if layer == network.name else network.get_layer(layer).output
    except ValueError:
        known = feature_layers(source.info, network) if source.info is not None else []
        raise ValueError(
            f"{source.name} has no layer named {layer!r}"
            + (f"; its feature layers are {', '.join(known)}" if known else "")
            + ". Pick a layer name from `dlzoo info` or model.summary()."
        ) from None
    added = []
    if len(tensor.shape) == 4 and pooling is not None:
        added.append({"avg": layers.GlobalAveragePooling2D, "max": layers.GlobalMaxPooling2D,
                      "flatten": layers.Flatten}[pooling](name=f"feature_{pooling}_pool"
                                                          if pooling != "flatten"
                                                          else "feature_flatten"))
        tensor = added[-1](tensor)
    return tensor, added


def feature_extractor(source, layer: str | None = None, pooling: str | None = "avg", *,
                      weights=None, input_shape=None, model_args=None,
                      preprocessing=None) -> FeatureExtractor:
    """A frozen feature extractor that takes raw [0, 255] images.

    Args:
        source: a registry name (`"vgg16"`, with `weights=`), a `keras.Model`, a dlzoo
            saved-model folder, or a `Source`.
        layer: the layer whose output are the features; default the deepest of
            `dlzoo.registry.feature_layers(info, model)` (by name, of the model as built); for an unregistered Keras model, the
            input of its `predictions` layer, or its output when it has none.
        pooling: "avg" (default), "max", "flatten" or None for a feature map output.
        weights: with a registry name: None, "imagenet", a weights file or a saved model.
        input_shape: with a registry name: the image shape to build at.
        model_args: with a registry name: more builder arguments.
        preprocessing: override the input convention (default: the model's).

    Example:
        >>> ext = feature_extractor("lenet5", layer="s4", pooling="flatten")
        >>> ext.model.output_shape
        (None, 400)
    """
    check_choice(pooling, arg="pooling", name="feature_extractor", allowed=TRANSFER_POOLINGS)
    src = source if isinstance(source, Source) else resolve_source(
        source, weights=weights, input_shape=input_shape, model_args=model_args,
        preprocessing=preprocessing)
    import keras

    layer = layer or _default_layer(src)
    features, added = _cut(src, layer, pooling)
    cut = keras.Model(src.network.input, features, name=f"{src.network.name}_features")
    cut.trainable = False
    model = with_preprocessing(cut, src.preprocessing, name=f"{src.network.name}_extractor")
    return FeatureExtractor(model=model, layer=layer, pooling=pooling, source=src,
                            features=features, pool_layers=added)


@dataclasses.dataclass
class Features:
    """Features of a data set's splits: `train` and `val` are `(features, labels)` or None."""

    train: tuple
    val: tuple | None
    key: str | None
    path: Path | None
    from_cache: bool
    seconds: float


def _parts(data, manifest_hash):
    """Splits `data` into named parts and finds its manifest hash."""
    if hasattr(data, "train") and hasattr(data, "manifest_hash"):  # DataBundle
        return {"train": data.train, "val": data.val}, manifest_hash or data.manifest_hash
    if isinstance(data, tuple) and len(data) == 3 and hasattr(data[2], "manifest_hash"):
        return {"train": data[0], "val": data[1]}, manifest_hash or data[2].manifest_hash
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray):
        x, y = data
        return {"train": (x, np.asarray(y))}, manifest_hash or array_hash(x, np.asarray(y))
    if isinstance(data, tuple) and len(data) == 2:  # (train dataset, val dataset)
        return {"train": data[0], "val": data[1]}, manifest_hash
    return {"train": data, "val": None}, manifest_hash


def _run(model, part, batch_size):
    if part is None:
        return None
    if isinstance(part, tuple):
        x, y = part
        return np.asarray(model.predict(x, batch_size=batch_size, verbose=0)), np.asarray(y)
    feats, labels = [], []
    # One pass that keeps each batch's labels with its features, whatever the shuffling.
    for xb, yb in part.as_numpy_iterator() if hasattr(part, "as_numpy_iterator") else part:
        feats.append(np.asarray(model.predict_on_batch(xb)))
        yb = np.asarray(yb)  # class indices, or multi-hot rows (multi-label data) as they are
        labels.append(yb if yb.ndim == 2 and yb.shape[1] > 1 else yb.reshape(-1))
    if not feats:
        return None
    return np.concatenate(feats), np.concatenate(labels)


def extract_features(extractor, data, cache_dir=None, *, manifest_hash=None,
                     batch_size: int = 64) -> Features:
    """Runs the frozen extractor once over `data` and caches the features on disk.

    The cache file is `cache_dir/<key>.npz`, where the key hashes the extractor's weights, its
    layer, pooling, preprocessing and input shape, and the data's manifest hash: any change to
    the weights or to the files (added, removed, edited) gives a new key and a new extraction; the
    same inputs load the file instead of running the network.

    Args:
        extractor: a `FeatureExtractor` (or a Keras model taking raw images).
        data: a `DataBundle`, `(train, val, FolderInfo)` from `image_folder`, `(x, y)` arrays, or a
            `(train, val)` pair of `tf.data.Dataset`s of `(images, labels)` batches.
        cache_dir: folder for the cache; None runs without one.
        manifest_hash: the data's hash, when `data` does not carry one (plain datasets).
        batch_size: for array inputs.

    Returns:
        `Features` (train/val features with their labels, the key, whether it came from the cache).
    """
    if not isinstance(extractor, FeatureExtractor):
        extractor = feature_extractor(extractor, layer=None) if not hasattr(
            extractor, "predict") else _wrap_model(extractor)
    start = time.perf_counter()
    parts, digest = _parts(data, manifest_hash)
    key = extractor.cache_key(digest) if digest else None
    path = Path(cache_dir) / f"{key}.npz" if (cache_dir is not None and key) else None
    if path is not None and path.is_file():
        try:
            with np.load(path) as f:
                loaded = {p: (f[f"{p}_x"], f[f"{p}_y"]) for p in ("train", "val")
                          if f"{p}_x" in f}
            return Features(train=loaded["train"], val=loaded.get("val"), key=key, path=path,
                            from_cache=True, seconds=time.perf_counter() - start)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            print(f"note: the feature cache {path} is unreadable ({e}); extracting again")
            path.unlink(missing_ok=True)
    out = {name: _run(extractor.model, part, batch_size) for name, part in parts.items()}
    if out["train"] is None:
        raise ValueError("extract_features: the data has no training examples.")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a unique temporary name
            np.savez(f, **{f"{p}_{k}": v for p, xy in out.items() if xy is not None
                           for k, v in zip("xy", xy)})
    return Features(train=out["train"], val=out.get("val"), key=key, path=path, from_cache=False,
                    seconds=time.perf_counter() - start)


def _wrap_model(model) -> FeatureExtractor:
    src = Source(network=model, info=None, preprocessing=applied_mode(model), name=model.name)
    return FeatureExtractor(model=model, layer=model.layers[-1].name, pooling=None, source=src,
                            features=model.output)


def has_classifier(network) -> bool:
    """Whether `network` has a `predictions` layer (the zoo's name for every classifier head)."""
    try:
        network.get_layer("predictions")
        return True
    except ValueError:
        return False
