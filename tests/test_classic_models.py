"""LeNet-5, AlexNet, VGG, MLP, perceptron: paper/keras.applications parameter counts, weight parity
with keras.applications.VGG16, LRN against TensorFlow's, and the bad-input errors."""

import keras
import numpy as np
import pytest

from dlzoo import build, model_info


# The counts at the defaults are checked for every model in tests/models/test_param_counts.py;
# here only what a non-default argument changes.
def test_single_tower_alexnet_parameter_count():
    assert build("alexnet", towers=1).count_params() == 62_378_344


def test_vgg_bn_trainable_count_matches_torchvision():
    model = build("vgg16_bn")
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == 138_365_992


@pytest.mark.parametrize("app,name", [("VGG16", "vgg16"), ("VGG19", "vgg19")])
def test_vgg_layer_names_and_shapes_match_keras_applications(app, name):
    ref = getattr(keras.applications, app)(weights=None)
    ours = build(name)
    ref_w = [(l.name, [tuple(w.shape) for w in l.weights]) for l in ref.layers if l.weights]
    our_w = [(l.name, [tuple(w.shape) for w in l.weights]) for l in ours.layers if l.weights]
    assert our_w == ref_w


def test_vgg16_weight_parity_with_keras_applications(tmp_path):
    # The whole network, classifier included, at 64x64: fc1 then reads a 2x2x512 map, so a
    # flatten in another order would still show, and the weights file is 33M parameters, not 138M.
    shape = (64, 64, 3)
    ref = keras.applications.VGG16(weights=None, input_shape=shape)
    path = tmp_path / "vgg16.weights.h5"
    ref.save_weights(path)
    ours = build("vgg16", input_shape=shape, weights=str(path))
    x = np.random.default_rng(0).uniform(0, 255, size=(2,) + shape).astype("float32")
    x = keras.applications.vgg16.preprocess_input(x)
    np.testing.assert_allclose(ours.predict(x, verbose=0), ref.predict(x, verbose=0), rtol=1e-4, atol=1e-6)


def test_vgg16_feature_extractor_parity(tmp_path):
    ref = keras.applications.VGG16(weights=None, include_top=False, pooling="avg", input_shape=(64, 64, 3))
    path = tmp_path / "notop.weights.h5"
    ref.save_weights(path)
    ours = build("vgg16", include_top=False, pooling="avg", input_shape=(64, 64, 3), weights=str(path))
    x = np.random.default_rng(1).normal(size=(2, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), ref.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_lrn_matches_tensorflow():
    tf = pytest.importorskip("tensorflow")
    from dlzoo.layers import LocalResponseNormalization

    x = np.random.default_rng(0).normal(scale=20.0, size=(2, 5, 5, 16)).astype("float32")
    ours = keras.ops.convert_to_numpy(LocalResponseNormalization()(x))
    ref = tf.nn.local_response_normalization(x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


def test_alexnet_towers_are_grouped():
    two = build("alexnet")
    assert two.get_layer("conv2").groups == 2
    assert two.get_layer("conv3").groups == 1
    assert two.get_layer("conv4").groups == 2
    assert build("alexnet", towers=1).get_layer("conv5").groups == 1


def test_lenet_options():
    relu = build("lenet5", activation="relu", subsampling="max")
    assert relu.get_layer("c1").activation.__name__ == "relu"
    assert type(relu.get_layer("s2")).__name__ == "MaxPooling2D"
    assert type(build("lenet5").get_layer("s2")).__name__ == "AveragePooling2D"
    assert build("lenet5").count_params() == relu.count_params() == 61_706


def test_classifier_activation_none_gives_logits():
    model = build("lenet5", classifier_activation=None)
    y = model.predict(np.random.default_rng(0).normal(size=(3, 32, 32, 1)), verbose=0)
    assert not np.allclose(y.sum(axis=1), 1.0)


def test_single_class_gets_sigmoid():
    model = build("perceptron")
    assert model.output_shape == (None, 1)
    assert model.get_layer("predictions").activation.__name__ == "sigmoid"
    softmax_regression = build("perceptron", num_classes=3, input_shape=(4,))
    assert softmax_regression.count_params() == 4 * 3 + 3


# --- bad input: one clear ValueError, before any layer is built ---------------------------------


@pytest.mark.parametrize(
    "name,minimum", [("lenet5", 32), ("alexnet", 67), ("vgg16", 32), ("vgg11_bn", 32)]
)
def test_minimum_input_size_is_computed_and_enforced(name, minimum):
    info = model_info(name)
    assert info.min_input_size == minimum
    c = info.default_input_shape[-1]
    # the minimum itself builds...
    kwargs = {"include_top": False}
    build(name, input_shape=(minimum, minimum, c), **kwargs)
    # ...one pixel less is refused, naming the minimum
    with pytest.raises(ValueError, match=f"minimum is {minimum}x{minimum}"):
        build(name, input_shape=(minimum - 1, minimum, c))


def test_minimum_matches_the_network_arithmetic():
    # At the minimum the last pooling layer outputs exactly 1x1: the computed minimum is tight.
    for name in ("alexnet", "vgg16", "lenet5"):
        m = model_info(name).min_input_size
        c = model_info(name).default_input_shape[-1]
        model = build(name, include_top=False, input_shape=(m, m, c))
        assert model.output_shape[1:3] == (1, 1), name


def test_vgg_8x8_error_names_minimum():
    with pytest.raises(ValueError) as e:
        build("vgg16", input_shape=(8, 8, 3))
    assert "32x32" in str(e.value) and "input_shape" in str(e.value)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"num_classes": 0}, "num_classes must be an integer >= 1"),
        ({"num_classes": 2.5}, "num_classes must be an integer >= 1"),
        ({"pooling": "mean"}, "pooling must be None, 'avg' or 'max'"),
        ({"input_shape": (32, 32)}, r"input_shape must be \(height, width, channels\)"),
        ({"input_shape": (32, 32, 0)}, "channel count"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build("lenet5", **kwargs)


def test_flat_models_reject_image_shapes_and_pooling():
    with pytest.raises(ValueError, match=r"\(features,\)"):
        build("mlp", input_shape=(28, 28, 1))
    with pytest.raises(ValueError, match="does not apply"):
        build("mlp", include_top=False, pooling="avg")


def test_alexnet_towers_validated():
    with pytest.raises(ValueError, match="towers must be 1 or 2"):
        build("alexnet", towers=3)


def test_bad_weights_argument():
    with pytest.raises(ValueError, match="weights="):
        build("lenet5", weights="/no/such/file.weights.h5")
