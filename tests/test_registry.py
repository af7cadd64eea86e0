import keras
import pytest

from dlzoo import build, list_models, model_info, register_model
from dlzoo.registry import unregister_model


def test_names_are_case_and_separator_insensitive():
    assert model_info("VGG-16").name == "vgg16"
    assert model_info("vgg_16").name == "vgg16"
    assert model_info("LeNet5").name == "lenet5"
    assert model_info("VGG16-BN").name == "vgg16_bn"


def test_unknown_name_lists_three_closest():
    with pytest.raises(ValueError) as e:
        build("vgg17")
    msg = str(e.value)
    assert "vgg17" in msg
    suggested = msg.split("Closest names:")[1].split(".")[0].split(",")
    assert len(suggested) == 3
    assert any("vgg1" in s for s in suggested)


def test_list_models_filters():
    assert "vgg16" in list_models("vgg*")
    assert "lenet5" not in list_models("vgg*")
    assert set(list_models(family="vgg")) == {
        f"vgg{d}{s}" for d in (11, 13, 16, 19) for s in ("", "_bn")
    }
    flat = list_models(task="classification")
    assert "mlp" in flat and "perceptron" in flat and "vgg16" not in flat
    assert list_models("nothing-like-this*") == []
    with pytest.raises(ValueError, match="task must be one of"):
        list_models(task="bogus")


def test_model_info_fields():
    info = model_info("vgg16")
    assert info.family == "vgg"
    assert info.default_input_shape == (224, 224, 3)
    assert info.params == 138_357_544
    assert "imagenet" in info.weights
    assert info.preprocessing == "caffe"
    assert info.feature_layers[-1] == "block5_pool"
    assert info.min_input_size == 32
    assert "Simonyan" in info.paper
    assert info.module == "dlzoo.models.vgg"


def test_every_model_records_its_defining_module():
    import importlib

    for name in list_models():
        info = model_info(name)
        assert info.module.startswith("dlzoo.models."), name
        assert getattr(importlib.import_module(info.module), info.builder.__name__) is info.builder


def test_user_registered_model_gets_every_tool():
    @register_model(family="custom", default_input_shape=(16, 16, 3), default_num_classes=4)
    def tiny_user_cnn(*, num_classes=4, input_shape=(16, 16, 3), include_top=True, pooling=None):
        inputs = keras.Input(input_shape)
        x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
        return keras.Model(inputs, x)

    try:
        assert "tiny_user_cnn" in list_models()
        assert build("Tiny-User-CNN", num_classes=3).output_shape == (None, 3)
        assert model_info("tiny_user_cnn").module == __name__
        # the parameter count is measured on first request when the builder did not declare it
        assert model_info("tiny_user_cnn").params == (3 * 3 * 3 * 4 + 4) + (4 * 4 + 4)
        with pytest.raises(ValueError, match="already registered"):
            register_model("tiny_user_cnn", family="custom", default_input_shape=(1,))(lambda: None)
        with pytest.raises(TypeError, match="does not take"):
            build("tiny_user_cnn", depth=3)
    finally:
        unregister_model("tiny_user_cnn")
    assert "tiny_user_cnn" not in list_models()
