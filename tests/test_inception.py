"""Inception: v3 layer for layer with keras.applications (count, order, shapes, `mixed*` names,
weight parity from both file formats), GoogLeNet's count, auxiliary heads and batch-norm version."""

import keras
import numpy as np
import pytest

from dlzoo import build, model_info
from dlzoo.models.inception import GoogLeNet


def _weights_table(model):
    return [(type(l).__name__, [tuple(w.shape) for w in l.weights]) for l in model.layers if l.weights]


def _randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "moving_variance" in w.path:
            w.assign(rng.uniform(0.5, 1.5, size=w.shape).astype("float32"))
        else:
            w.assign((rng.normal(size=w.shape) * 0.05).astype("float32"))


def test_inception_v3_is_keras_applications_layer_for_layer():
    ref = keras.applications.InceptionV3(weights=None)
    ours = build("inception_v3")
    assert ours.count_params() == ref.count_params() == 23_851_784 == model_info("inception_v3").params
    assert _weights_table(ours) == _weights_table(ref)
    ref_mixed = [l.name for l in ref.layers if l.name.startswith("mixed")]
    our_mixed = [l.name for l in ours.layers if l.name in ref_mixed]
    assert our_mixed == ref_mixed and len(ref_mixed) == 13  # mixed0..mixed10, mixed9_0, mixed9_1
    assert model_info("inception_v3").feature_layers == tuple(f"mixed{i}" for i in range(11))


@pytest.fixture(scope="module")
def random_v3():
    """keras.applications.InceptionV3 at its minimum size with every variable randomised."""
    ref = keras.applications.InceptionV3(weights=None, input_shape=(75, 75, 3), classifier_activation=None)
    _randomize(ref)
    x = np.random.default_rng(1).normal(size=(2, 75, 75, 3)).astype("float32")
    return ref, x, ref.predict(x, verbose=0)


@pytest.mark.slow  # resnet50's parity test keeps the kind in the default run
def test_inception_v3_weight_parity(random_v3, tmp_path):
    ref, x, expected = random_v3
    path = tmp_path / "v3.weights.h5"
    ref.save_weights(path)
    ours = build("inception_v3", input_shape=(75, 75, 3), classifier_activation=None, weights=str(path))
    assert np.std(expected) > 1e-3
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.slow  # legacy .h5 loading is also covered by tests/test_weights.py (ResNet-50)
def test_inception_v3_loads_a_legacy_h5_by_layer_order(random_v3, tmp_path):
    # keras.applications' ImageNet files are legacy .h5 whose convolutions are named conv2d_1 ...;
    # they load by layer order, which this checks with a file written in that format.
    ref, x, expected = random_v3
    path = tmp_path / "v3_legacy.h5"
    ref.save(path)  # the legacy HDF5 format
    ours = build("inception_v3", input_shape=(75, 75, 3), classifier_activation=None)
    ours.load_weights(str(path))  # Keras's legacy loader, as build(weights="imagenet") uses
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-4)


def test_inception_v3_minimum_input_is_75():
    assert model_info("inception_v3").min_input_size == 75
    with pytest.raises(ValueError, match="minimum is 75x75"):
        build("inception_v3", input_shape=(74, 74, 3))
    assert build("inception_v3", include_top=False, input_shape=(75, 75, 3)).output_shape == (None, 1, 1, 2048)


def test_googlenet_parameter_counts():
    # The paper's network has about 6.8M weights; with biases and the 5x5 convolutions kept it is
    # 7.0M, torchvision's batch-normalised 3x3 variant 6.6M: the 6.6 to 7.0M.
    plain = build("googlenet")
    assert plain.count_params() == model_info("googlenet").params == 6_998_552
    bn = build("googlenet", batch_norm=True)
    trainable = sum(int(np.prod(w.shape)) for w in bn.trainable_weights)
    for count in (plain.count_params(), trainable):
        assert 6.6 <= round(count / 1e6, 1) <= 7.0
    assert not [l for l in bn.layers if "norm" in type(l).__name__.lower() and "Batch" not in type(l).__name__]
    assert [l.name for l in plain.layers if type(l).__name__ == "LocalResponseNormalization"] == [
        "pool1_norm1", "conv2_norm2",
    ]


def test_googlenet_auxiliary_classifiers_train():
    paper = build("googlenet", aux_classifiers=True)
    assert paper.output_shape == [(None, 1000)] * 3
    # section 5: a 5x5/3 average pool gives 4x4x512 on 4a, a 1x1 convolution 4x4x128, then fc 1024
    assert paper.get_layer("aux1_pool").output.shape[1:] == (4, 4, 512)
    assert paper.get_layer("aux1_fc").kernel.shape == (2048, 1024)
    assert paper.get_layer("aux2_pool").output.shape[1:] == (4, 4, 528)
    # train a narrow one (the aux heads sit on 4a and 4d)
    narrow = tuple((label, (8, 8, 8, 4, 4, 4)) for label in ("3a", "4a", "4d", "5a"))
    model = build("googlenet", aux_classifiers=True, modules=narrow, input_shape=(96, 96, 3), num_classes=4)
    assert model.output_shape == [(None, 4)] * 3
    model.compile(optimizer="adam", loss=["sparse_categorical_crossentropy"] * 3, loss_weights=[1.0, 0.3, 0.3])
    model.optimizer.build(model.trainable_variables)  # one trace of the train step, not two
    x = np.random.default_rng(0).normal(size=(4, 96, 96, 3)).astype("float32")
    y = np.array([0, 1, 2, 3])
    before = model.get_layer("aux2_fc").kernel.numpy().copy()
    model.train_on_batch(x, [y, y, y])
    assert not np.array_equal(model.get_layer("aux2_fc").kernel.numpy(), before)
    # without the top there are no auxiliary heads
    assert len(build("googlenet", aux_classifiers=True, include_top=False, modules=narrow,
                     input_shape=(96, 96, 3)).outputs) == 1


def test_googlenet_auxiliary_heads_need_65_pixels():
    build("googlenet", input_shape=(32, 32, 3))  # fine without them
    with pytest.raises(ValueError, match="minimum is 65x65"):
        build("googlenet", aux_classifiers=True, input_shape=(64, 64, 3))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(modules=()), "modules must be a non-empty sequence"),
        (dict(modules=(("3a", (1, 2, 3)),)), "modules must be"),
        (dict(modules=(("a", (1, 2, 3, 4, 5, 6)),)), "modules must be"),
        (dict(modules=(("3a", (8,) * 6),), aux_classifiers=True), "attaches to modules 4a and 4d"),
        (dict(dropout=1.0), "dropout must be a number in"),
        (dict(batch_norm=1), "batch_norm must be False or True"),
    ],
)
def test_googlenet_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GoogLeNet(**kwargs)


def test_inception_v3_width_and_module_counts_are_configurable():
    thin = build("inception_v3", depth_multiplier=0.5, include_top=False, input_shape=(75, 75, 3))
    assert thin.get_layer("mixed10").output.shape[-1] == 1024
    short = build("inception_v3", modules=(1, 2, 1), include_top=False, input_shape=(75, 75, 3))
    mixed = [l.name for l in short.layers if l.name.startswith("mixed") and "_" not in l.name]
    assert mixed == ["mixed0", "mixed1", "mixed2", "mixed3", "mixed4", "mixed5"]
    assert short.get_layer("mixed5_0").output.shape[-1] == 768  # the split 3x3 branch of mixed5
    assert short.output_shape == (None, 1, 1, 2048)
    with pytest.raises(ValueError, match="depth_multiplier must be a number > 0"):
        build("inception_v3", depth_multiplier=0)
    with pytest.raises(ValueError, match="modules must have 3 entries"):
        build("inception_v3", modules=(3, 4))
