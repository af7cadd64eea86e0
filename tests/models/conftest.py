"""The registry-driven suites build every registered model; keras.applications' networks are deep
(a training step of EfficientNet-B0 traces ~240 layers: ~20 CPU-seconds even at 32x32), so only
one of them runs in the default run and the rest are marked `slow` (CI's slow leg runs them).
tests/models/test_applications.py checks every family's preprocessing and weights separately."""

import pytest

from dlzoo.models.applications import KERAS_NAMES

DEFAULT_RUN = {"mobilenet_v3_small"}  # the cheapest keras.applications network
REGISTRY_DRIVEN = {"test_registry_suite", "test_layer_names", "test_param_counts"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] not in REGISTRY_DRIVEN:
            continue
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("name") if callspec is not None else None
        if name in KERAS_NAMES and name not in DEFAULT_RUN:
            item.add_marker(pytest.mark.slow)
