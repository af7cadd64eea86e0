"""Each variant's facts once: a ResNet variant is one decorator holding its `ResNet` arguments and a
def, and a keras.applications variant one decorator naming its constructor (and size) and a def;
everything the registry shows follows from that (or from the family's tables), so a new variant is
two lines and cannot disagree with itself."""

import keras
import pytest

from dlzoo import build, model_info
from dlzoo.models import applications, resnet
from dlzoo.registry import feature_layers, unfreeze_groups, unregister_model


@pytest.fixture
def resnet8():
    @resnet._variant(depths=(1, 1, 1), **resnet._CIFAR)
    def resnet8(**kwargs):
        """CIFAR ResNet-8 (3x1 basic blocks), 32x32x3"""
        return resnet.ResNet(**kwargs)

    yield "resnet8"
    unregister_model("resnet8")


def test_a_resnet_variant_is_its_config_once(resnet8):
    info = model_info(resnet8)
    # the facts follow from the config given once, over ResNet's defaults
    assert info.default_input_shape == (32, 32, 3) and info.default_num_classes == 10
    assert info.preprocessing == "tf" and info.weights == ()  # CIFAR stem; no ImageNet files
    assert info.feature_layers == ("conv2_block1_out", "conv3_block1_out", "conv4_block1_out")
    assert info.description == "CIFAR ResNet-8 (3x1 basic blocks), 32x32x3"
    model = build(resnet8)
    assert model.name == "resnet8" and model.output_shape == (None, 10)
    assert info.params == model.count_params()  # no row in PARAMS: counted on a build
    assert feature_layers(info, model) == list(info.feature_layers)
    assert unfreeze_groups(info, model) == ["conv1_", "conv2_", "conv3_", "conv4_"]
    with pytest.raises(ValueError, match="minimum"):
        build(resnet8, input_shape=(info.min_input_size - 1,) * 2 + (3,))
    # any ResNet argument still overrides the config
    assert build(resnet8, depths=(2, 1, 1)).get_layer("conv2_block2_out") is not None


def test_the_shipped_variants_agree_with_their_family_tables():
    for name, params in resnet.PARAMS.items():
        info = model_info(name)
        assert info.params == params
        assert (info.weights == ("imagenet",)) == (name in resnet.IMAGENET_WEIGHTS), name
    assert set(applications.KERAS_NAMES) == set(applications.PARAMS) == set(applications.IMAGENET_WEIGHTS)
    for name, keras_name in applications.KERAS_NAMES.items():
        info = model_info(name)
        constructor = getattr(keras.applications, keras_name)
        assert info.family == constructor.__module__.rsplit(".", 1)[-1], name
        assert f"keras.applications.{keras_name}," in info.description, name


def test_an_application_variant_refuses_to_be_another_network():
    """What a variant is (its constructor, family, default size) is not an argument: refused by name
    before anything is built, instead of Python's 'got multiple values' from inside the builder."""
    with pytest.raises(TypeError, match=r"keras_name.*num_classes"):
        build("mobilenet_v3_small", keras_name="MobileNetV3Large")
