"""dlzoo.transfer: feature layers by name, the feature cache, staged fine-tuning, BatchNorm frozen."""

import os

import keras
import numpy as np
import pytest

from dlzoo import build, model_info
from dlzoo.data import image_folder, load
from dlzoo.transfer import (
    extract_features,
    feature_extractor,
    fine_tune,
    set_trainable,
    unfreeze_layers,
)
from tests._imagefolders import write_good


def _shapes(n=48, batch_size=16, size=32):
    return load("synthetic:shapes", image_size=(size, size), color_mode="rgb", n=n,
                batch_size=batch_size)


def test_feature_layer_comes_from_model_info_by_name():
    ext = feature_extractor("lenet5")
    assert ext.layer == model_info("lenet5").feature_layers[-1] == "c5"
    assert ext.model.output_shape == (None, 120)
    assert ext.preprocessing == "unit"
    flat = feature_extractor("lenet5", layer="s4", pooling="flatten")
    assert flat.model.output_shape == (None, 5 * 5 * 16)
    vgg = feature_extractor("vgg11_bn", input_shape=(32, 32, 3))
    assert vgg.layer == "block5_pool" and vgg.model.output_shape == (None, 512)
    with pytest.raises(ValueError, match="feature layers are s2, s4, c5"):
        feature_extractor("lenet5", layer="conv9")


def test_extractor_takes_raw_pixels_and_applies_the_weights_preprocessing():
    net = build("lenet5", include_top=False)
    ext = feature_extractor(net, layer="c5", preprocessing="unit")
    x = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 1)).astype("float32")
    expected = keras.ops.convert_to_numpy(net(x / 255.0)).reshape(3, -1)
    np.testing.assert_allclose(ext.model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)


def _folder(root, n=6, seed=0):
    rng = np.random.default_rng(seed)
    for cls, label in (("bright", 0), ("dark", 1)):
        for i in range(n):
            write_good(root, cls, f"{i:02d}.jpg", rng, label, size=(32, 32))
    return root


def test_feature_cache_reused_when_unchanged_and_invalidated_when_data_or_weights_change(
        tmp_path, monkeypatch):
    import dlzoo.transfer.extract as transfer

    calls = []
    real_run = transfer._run
    monkeypatch.setattr(transfer, "_run", lambda *a: calls.append(1) or real_run(*a))
    root = _folder(str(tmp_path / "imgs"))
    cache = tmp_path / "cache"
    ext = feature_extractor("lenet5", input_shape=(32, 32, 3))

    data = image_folder(root, image_size=(32, 32), batch_size=4, progress=False)
    first = extract_features(ext, data, cache_dir=cache)
    assert not first.from_cache and len(calls) == 2  # train and val parts ran
    again = extract_features(ext, image_folder(root, image_size=(32, 32), batch_size=4,
                                               progress=False), cache_dir=cache)
    assert again.from_cache and again.key == first.key and len(calls) == 2
    # The labels travel with their features (the train set is reshuffled on every pass).
    order = np.argsort(first.train[0][:, 0])
    order2 = np.argsort(again.train[0][:, 0])
    np.testing.assert_array_equal(first.train[1][order], again.train[1][order2])
    np.testing.assert_allclose(first.train[0], again.train[0])

    write_good(root, "dark", "new.jpg", np.random.default_rng(9), 1, size=(32, 32))  # changed input
    changed = extract_features(ext, image_folder(root, image_size=(32, 32), batch_size=4,
                                                 progress=False), cache_dir=cache)
    assert not changed.from_cache and changed.key != first.key and len(calls) == 4
    assert len(changed.train[1]) + len(changed.val[1]) == len(first.train[1]) + len(first.val[1]) + 1

    other = feature_extractor("lenet5", input_shape=(32, 32, 3))  # other (random) weights
    keyed = extract_features(other, data, cache_dir=cache)
    assert not keyed.from_cache and keyed.key != first.key
    other_layer = feature_extractor(ext.source, layer="s4")
    assert other_layer.cache_key("m") != ext.cache_key("m")
    assert len(os.listdir(cache)) == 3


def _bn_stats(model):
    return {w.path: keras.ops.convert_to_numpy(w).copy() for layer in model.layers
            if isinstance(layer, keras.layers.BatchNormalization)
            for w in (layer.moving_mean, layer.moving_variance)}


def _changed(before, after):
    return [k for k in before if not np.allclose(before[k], after[k])]


def _tiny_bn_net():
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="conv1_bn")(x)
    x = keras.layers.Conv2D(4, 3, name="conv2")(keras.layers.ReLU(name="conv1_relu")(x))
    x = keras.layers.BatchNormalization(name="conv2_bn")(x)
    return keras.Model(inputs, keras.layers.ReLU(name="conv2_relu")(x), name="tiny_bn")


def test_batchnorm_statistics_unchanged_in_both_phases_by_default():
    # A two-block BN network stands in for vgg11_bn (14 CPU-s before): what is checked is
    # fine_tune's handling of every BatchNormalization layer, not VGG.
    data = _shapes()
    net = _tiny_bn_net()
    before = _bn_stats(net)
    assert len(before) == 4
    kernel = keras.ops.convert_to_numpy(net.get_layer("conv1").kernel).copy()

    # Phase 1 with the frozen network in the loop (augmentation on): images go through BN.
    fine_tune(net, data, layer="conv2_relu", head_epochs=2, epochs=0, augment={"zoom": 0.1},
              verbose=0, log=lambda *a: None)
    assert _changed(before, _bn_stats(net)) == [], "phase 1 moved BatchNorm statistics"

    # Phase 1 on cached features, then phase 2 with every block unfrozen.
    result = fine_tune(net, data, layer="conv2_relu", head_epochs=1, epochs=2, unfreeze="all",
                       verbose=0, log=lambda *a: None)
    assert _changed(before, _bn_stats(net)) == [], "phase 2 moved BatchNorm statistics"
    # ... while the unfrozen convolutions did train.
    assert not np.allclose(kernel, keras.ops.convert_to_numpy(net.get_layer("conv1").kernel))
    assert result.card["transfer"]["train_batchnorm"] is False


def test_train_batchnorm_lets_the_statistics_move():
    net = _tiny_bn_net()
    before = _bn_stats(net)
    fine_tune(net, _shapes(), layer="conv2_relu", head_epochs=1, epochs=1, unfreeze="all",
              train_batchnorm=True, keep="last", verbose=0, log=lambda *a: None)
    assert len(_changed(before, _bn_stats(net))) == len(before)


def test_unfreeze_counts_block_groups_from_model_info():
    info = model_info("vgg11_bn")
    net = build("vgg11_bn", include_top=False, input_shape=(32, 32, 3))
    layers, groups = unfreeze_layers(net, info, "top:2")
    assert groups == ["block4_", "block5_"]  # fc1 / fc2 are not in a headless network
    assert {lyr.name for lyr in layers} >= {"block5_conv2", "block4_conv1", "block4_conv1_bn"}
    assert not any(lyr.name.startswith("block3") for lyr in layers)
    set_trainable(net, layers)
    trainable = {lyr.name for lyr in net.layers if lyr.trainable}
    assert "block5_conv2" in trainable and "block5_conv2_bn" not in trainable  # BN stays frozen
    assert "block3_conv1" not in trainable
    with pytest.raises(ValueError, match="top:K"):
        unfreeze_layers(net, info, "top")


def test_fine_tune_replaces_the_head_when_classes_differ_and_keeps_it_when_they_match(tmp_path):
    data = _shapes(n=40)
    first = fine_tune("lenet5", data, head_epochs=2, epochs=1, verbose=0, log=lambda *a: None,
                      model_args={"activation": "relu"}, out=tmp_path / "shapes")
    assert first.card["transfer"]["head"] == "new"
    assert first.model.output_shape == (None, data.num_classes)
    assert first.card["class_names"] == [str(c) for c in data.class_names]
    # random weights: trained from scratch, the head's epochs included, in one phase
    assert first.card["training"]["from_scratch"] is True
    assert first.card["metrics"]["phase2_val_accuracy"] is not None
    assert first.card["training"]["phase1"]["epochs_run"] == 0
    # Same classes again: the saved model's own predictions layer is kept and trained on.
    again = fine_tune(tmp_path / "shapes", _shapes(n=40, size=32), head_epochs=1, epochs=0,
                      verbose=0, log=lambda *a: None)
    assert again.card["transfer"]["head"] == "kept"
    assert again.card["metrics"]["phase1_val_accuracy"] is not None
    assert again.card["training"]["phase1"]["on"] == "cached features"
    # Other classes: the head is replaced.
    digits = fine_tune(str(tmp_path / "shapes"), "digits", color_mode="rgb", head_epochs=1,
                       epochs=0, verbose=0, log=lambda *a: None)
    assert digits.card["transfer"]["head"] == "new" and digits.model.output_shape == (None, 10)


def test_fine_tune_rejects_bad_arguments_before_building():
    with pytest.raises(ValueError, match="unfreeze must be 'top:K'"):
        fine_tune("lenet5", "digits", unfreeze="some")
    with pytest.raises(ValueError, match="head_learning_rate must be a positive number"):
        fine_tune("lenet5", "digits", head_learning_rate=0)
    with pytest.raises(ValueError, match="unknown augment key"):
        fine_tune("lenet5", "digits", augment={"shear": 0.1})
    with pytest.raises(ValueError, match="nothing to train"):
        fine_tune("lenet5", "digits", head_epochs=0, epochs=0)


def test_a_saved_model_as_weights_must_be_of_the_named_model():
    from pathlib import Path

    from dlzoo.transfer import resolve_source

    shipped = Path(__file__).resolve().parents[1] / "saved_models" / "lenet5-digits"
    src = resolve_source("lenet5", weights=str(shipped))
    assert src.card["name"] == "lenet5-digits" and src.input_shape == (32, 32, 1)
    assert src.class_names == [str(i) for i in range(10)] and src.preprocessing == "unit"
    with pytest.raises(ValueError, match="is a saved lenet5 but --model is vgg11"):
        resolve_source("vgg11", weights=str(shipped))


def test_fine_tune_settings_are_one_config_with_its_defaults():
    from dlzoo.transfer.finetune import FineTuneConfig

    cfg = FineTuneConfig()
    assert (cfg.head_epochs, cfg.epochs, cfg.unfreeze, cfg.head_learning_rate, cfg.learning_rate,
            cfg.pooling, cfg.dropout, cfg.augment, cfg.train_batchnorm, cfg.batch_size) == (
        10, 30, "all", 1e-3, None, "avg", 0.2, False, False, 32)
    with pytest.raises(TypeError, match="unexpected keyword argument 'epoch'"):
        fine_tune("lenet5", "digits", epoch=3)
    with pytest.raises(ValueError, match="nothing to train"):
        fine_tune("lenet5", "digits", FineTuneConfig(head_epochs=5), head_epochs=0, epochs=0)
