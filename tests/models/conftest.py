"""The registry-driven suites build every registered model; keras.applications' networks are deep
(a training step of EfficientNet-B0 traces ~240 layers: ~20 CPU-seconds even at 32x32), so only
one of them runs in the default run and the rest are marked `slow` (CI's slow leg runs them).
tests/models/test_applications.py checks every family's preprocessing and weights separately.

The slow ones run cheapest first (by parameter count, from the stored catalog): CI's slow leg is
time-capped, and one large variant (ConvNeXt-XLarge, 350 M parameters) takes minutes a test, so
the families' small variants are all covered before the large ones start."""

import json
from pathlib import Path

import pytest

from dlzoo.models.applications import KERAS_NAMES

DEFAULT_RUN = {"mobilenet_v3_small"}  # the cheapest keras.applications network
REGISTRY_DRIVEN = {"test_registry_suite", "test_layer_names", "test_param_counts"}
_CATALOG = Path(__file__).resolve().parents[2] / "dlzoo" / "models" / "catalog.json"


def _name(item):
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("name") if callspec is not None else None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] not in REGISTRY_DRIVEN:
            continue
        name = _name(item)
        if name in KERAS_NAMES and name not in DEFAULT_RUN:
            item.add_marker(pytest.mark.slow)
    params = {n: m["params"] for n, m in json.loads(_CATALOG.read_text())["models"].items()}

    def cost(pair):  # keras.applications variants after everything else, smallest first
        index, item = pair
        name = _name(item) if "/models/" in str(item.path).replace("\\", "/") else None
        if name in KERAS_NAMES and name not in DEFAULT_RUN:
            return (1, params.get(name, 0), index)
        return (0, 0, index)

    items[:] = [item for _, item in sorted(enumerate(items), key=cost)]
