"""Registry-driven: the feature layers and unfreeze groups of every registered model name layers of
the model as built, at its defaults (where cheap) and at its small smoke build, so transfer
learning and fine-tuning work after any depth override. At the defaults they are the declared
`ModelInfo.feature_layers` / `unfreeze_groups`, which `dlzoo info` shows."""

import keras
import pytest

from dlzoo import build, list_models, model_info
from dlzoo.registry import feature_layers, unfreeze_groups

ALL = list_models()
# Building at the defaults costs seconds per ten million parameters; the big ones are checked at
# their defaults by their family tests (test_resnet, test_inception, test_classic_models).
CHEAP = [n for n in ALL if model_info(n).params < 8_000_000]


def _check(name, model):
    info = model_info(name)
    names = [layer.name for layer in model.layers]
    features = feature_layers(info, model)
    groups = unfreeze_groups(info, model)
    missing = [f for f in features if f not in names]
    assert not missing, f"{name}: feature layers {missing} are not layers of the model"
    empty = [g for g in groups if not any(n.startswith(g) for n in names)]
    assert not empty, f"{name}: unfreeze groups {empty} match no layer of the model"
    assert bool(features) == bool(info.feature_layers), name
    assert bool(groups) == bool(info.unfreeze_groups), name
    return features, groups


@pytest.mark.parametrize("name", ALL)
def test_smoke_build_has_every_feature_layer_and_unfreeze_group(name):
    _check(name, build(name, **model_info(name).smoke_overrides))
    keras.backend.clear_session()


@pytest.mark.parametrize("name", CHEAP)
def test_defaults_give_the_declared_feature_layers_and_groups(name):
    features, groups = _check(name, build(name))
    info = model_info(name)
    assert features == list(info.feature_layers)
    assert groups == list(info.unfreeze_groups)
    keras.backend.clear_session()


def test_rules_follow_a_depth_override():
    model = build("resnet20", depths=(1, 2, 1))
    assert feature_layers("resnet20", model) == ["conv2_block1_out", "conv3_block2_out", "conv4_block1_out"]
    assert unfreeze_groups("resnet20", model) == ["conv1_", "conv2_", "conv3_", "conv4_"]
    v2 = build("resnet50v2", depths=(1, 1), widths=(8, 16), input_shape=(32, 32, 3))
    assert feature_layers("resnet50v2", v2) == ["conv2_block1_out", "post_relu"]
    assert unfreeze_groups("resnet50v2", v2)[-1] == "post_"
    text = build("text_gru", depth=3, vocab_size=20, input_shape=(6,))
    assert feature_layers("text_gru", text) == ["embedding", "gru1", "gru2", "gru3"]
    assert unfreeze_groups("text_gru", text) == ["embedding", "gru1", "gru2", "gru3", "predictions"]


def test_googlenet_auxiliary_heads_are_groups_only_when_built():
    small = dict(model_info("googlenet").smoke_overrides)
    small.pop("modules")
    small["input_shape"] = (65, 65, 3)
    aux = build("googlenet", aux_classifiers=True, **small)
    groups = unfreeze_groups("googlenet", aux)
    assert "aux1_" in groups and "aux2_" in groups
    assert "aux1_" not in unfreeze_groups("googlenet", build("googlenet", **small))


def test_transfer_tools_use_the_built_models_layers():
    from dlzoo.transfer import feature_extractor, unfreeze_layers

    ext = feature_extractor("resnet20", model_args={"depths": (1, 1, 1)})
    assert ext.layer == "conv4_block1_out"  # the declared default, conv4_block3_out, is not built
    small = dict(model_info("googlenet").smoke_overrides, input_shape=(65, 65, 3), aux_classifiers=True)
    small.pop("modules")
    net = build("googlenet", **small)
    layers, groups = unfreeze_layers(net, model_info("googlenet"), "top:2")
    assert groups == ["aux1_", "aux2_"]  # the auxiliary heads come last, as they were declared
    assert layers and all(any(layer.name.startswith(g) for g in groups) for layer in layers)
