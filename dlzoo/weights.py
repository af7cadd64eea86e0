"""Weight sources for `build(weights=...)`: a local weights file (more sources come with the deep-CNN
work: "imagenet" through the Keras cache, and dlzoo saved models)."""

from __future__ import annotations

import os

from dlzoo.registry import ModelInfo


def build_with_weights(info: ModelInfo, weights, kwargs: dict):
    """Builds `info`'s model with `kwargs` and loads `weights` into it."""
    if isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights):
        model = info.builder(**kwargs)
        model.load_weights(os.fspath(weights))
        return model
    named = ", ".join(repr(w) for w in info.weights) or "none"
    raise ValueError(
        f"weights={weights!r} for {info.name}: expected None, a path to an existing weights file, "
        f"or a named set ({named})."
    )
