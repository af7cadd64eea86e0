"""Weight sources: ImageNet files from the Keras cache with no network, the fast offline failure,
the classifier-less load for other class counts, weights files and dlzoo saved-model directories.

The network is cut by patching the socket module (so the tests behave the same with or without
one), and the "ImageNet" files are written by the test from randomly initialised
keras.applications models, in the legacy HDF5 format keras.applications publishes them in. Their
real md5 goes into the family's table (`dlzoo.models.resnet.IMAGENET_WEIGHTS`) for the duration of
a test, since a file we write cannot have the published hash.
"""

import inspect
import os
import socket
import threading
import time

import keras
import numpy as np
import pytest

import dlzoo
import dlzoo.models.resnet as resnet_family
import dlzoo.weights as W
from dlzoo import build, list_models, model_info

SHAPE = (64, 64, 3)


def _randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "moving_variance" in w.path:
            w.assign(rng.uniform(0.5, 1.5, size=w.shape).astype("float32"))
        else:
            w.assign((rng.normal(size=w.shape) * 0.05).astype("float32"))


@pytest.fixture
def no_network(monkeypatch):
    """Every DNS lookup and connection fails at once, as on a machine with no network."""

    def refuse(*args, **kwargs):
        raise socket.gaierror(-2, "network disabled by the test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def black_hole(monkeypatch):
    """Connections hang (a firewall that drops packets): up to a minute, then fail."""
    release = threading.Event()

    def hang(*args, **kwargs):
        release.wait(60)
        raise OSError("timed out")

    monkeypatch.setattr(socket, "getaddrinfo", hang)
    monkeypatch.setattr(socket, "create_connection", hang)
    yield
    release.set()


@pytest.fixture(scope="module")
def resnet50_files(tmp_path_factory):
    """A fake Keras cache holding resnet50's two files, written from a random ResNet50."""
    cache = tmp_path_factory.mktemp("keras_home")
    (cache / "models").mkdir()
    top_file, notop_file = W.imagenet_files("resnet50")
    ref = keras.applications.ResNet50(weights=None, input_shape=SHAPE, classifier_activation=None)
    _randomize(ref)
    ref.save(cache / "models" / top_file.file_name)  # legacy HDF5, like the published files
    notop = keras.Model(ref.inputs, ref.get_layer("avg_pool").output, name="resnet50_notop")
    notop.save(cache / "models" / notop_file.file_name)
    x = np.random.default_rng(1).normal(size=(2,) + SHAPE).astype("float32")
    hashes = {f.file_name: W.file_hash(str(cache / "models" / f.file_name)) for f in (top_file, notop_file)}
    keras.backend.clear_session()
    return cache, x, ref.predict(x, verbose=0), notop.predict(x, verbose=0), hashes


@pytest.fixture
def cached_resnet50(resnet50_files, monkeypatch):
    cache, x, logits, features, hashes = resnet50_files
    monkeypatch.setenv("KERAS_HOME", str(cache))
    top, notop = W.imagenet_files("resnet50")
    monkeypatch.setitem(
        resnet_family.IMAGENET_WEIGHTS,
        "resnet50",
        tuple(W.WeightsFile(f.file_name, f.origin, hashes[f.file_name]) for f in (top, notop)),
    )
    return x, logits, features


def test_cached_imagenet_file_loads_with_no_network(cached_resnet50, no_network, monkeypatch):
    x, logits, _ = cached_resnet50
    monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: pytest.fail("get_file called"))
    model = build("resnet50", weights="imagenet", input_shape=SHAPE, classifier_activation=None)
    np.testing.assert_allclose(model.predict(x, verbose=0), logits, rtol=1e-4, atol=1e-4)


def test_include_top_false_loads_the_notop_file(cached_resnet50, no_network):
    x, _, features = cached_resnet50
    model = build("resnet50", weights="imagenet", include_top=False, pooling="avg", input_shape=SHAPE)
    assert model.output_shape == (None, 2048)
    np.testing.assert_allclose(model.predict(x, verbose=0), features, rtol=1e-4, atol=1e-4)


def test_other_class_counts_load_all_but_the_classifier(cached_resnet50, no_network):
    x, _, features = cached_resnet50
    with pytest.warns(UserWarning, match="every layer except the classifier 'predictions'.*num_classes=5"):
        model = build("resnet50", weights="imagenet", num_classes=5, input_shape=SHAPE)
    assert model.output_shape == (None, 5)
    body = keras.Model(model.inputs, model.get_layer("avg_pool").output)
    np.testing.assert_allclose(body.predict(x, verbose=0), features, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("network", ["no_network", "black_hole"])
def test_offline_without_cached_file_fails_fast_and_says_what_to_do(network, request, tmp_path, monkeypatch):
    request.getfixturevalue(network)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    top = W.imagenet_file("resnet50")
    start = time.monotonic()
    with pytest.raises(ConnectionError) as err:
        build("resnet50", weights="imagenet")
    assert time.monotonic() - start < 15
    message = str(err.value)
    assert top.file_name in message
    assert os.path.join(str(tmp_path), "models", top.file_name) in message
    assert top.origin in message
    assert not (tmp_path / "models" / top.file_name).exists()


def test_corrupt_cached_file_is_reported_offline(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    notop = W.imagenet_file("inception_v3", include_top=False)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / notop.file_name).write_bytes(b"half a download")
    with pytest.raises(ConnectionError, match="not the expected bcbd6486424b2319ff4ef7d526e38f63"):
        build("inception_v3", weights="imagenet", include_top=False)


def test_download_goes_through_get_file_with_keras_applications_url_and_hash(
    resnet50_files, tmp_path, monkeypatch
):
    cache, x, logits, _, hashes = resnet50_files
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("DLZOO_OFFLINE", raising=False)
    monkeypatch.setattr(
        W, "network_available", lambda url, timeout=None: url.startswith("https://storage.googleapis.com/")
    )
    calls = []

    def fake_get_file(fname, origin, *, cache_subdir, file_hash, cache_dir):
        calls.append((fname, origin, cache_subdir, file_hash, cache_dir))
        target = os.path.join(cache_dir, cache_subdir, fname)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(cache / "models" / fname, "rb") as src, open(target, "wb") as dst:
            dst.write(src.read())
        return target

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    model = build("resnet50", weights="imagenet", input_shape=SHAPE, classifier_activation=None)
    np.testing.assert_allclose(model.predict(x, verbose=0), logits, rtol=1e-4, atol=1e-4)
    fname = "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
    from keras.src.applications import resnet as ka_resnet

    assert calls == [
        (fname, ka_resnet.BASE_WEIGHTS_PATH + fname, "models", ka_resnet.WEIGHTS_HASHES["resnet50"][0], str(tmp_path))
    ]


def test_imagenet_tables_match_keras_applications():
    from keras.src.applications import inception_v3, resnet, vgg16, vgg19

    from dlzoo.models.applications import (
        KERAS_NAMES,  # checked in tests/models/test_applications.py
    )

    offered = [n for n in list_models() if "imagenet" in model_info(n).weights and n not in KERAS_NAMES]
    assert len(offered) == 9
    for name in offered:
        top, notop = W.imagenet_files(name)
        if name.startswith("resnet"):
            assert (top.file_hash, notop.file_hash) == resnet.WEIGHTS_HASHES[name]
            assert top.origin == resnet.BASE_WEIGHTS_PATH + top.file_name
            assert notop.origin == resnet.BASE_WEIGHTS_PATH + notop.file_name
        else:
            module = {"inception_v3": inception_v3, "vgg16": vgg16, "vgg19": vgg19}[name]
            assert (top.origin, notop.origin) == (module.WEIGHTS_PATH, module.WEIGHTS_PATH_NO_TOP)
            source = inspect.getsource(module)
            assert f'"{top.file_hash}"' in source and f'"{notop.file_hash}"' in source
    # the files sit beside the family, and only models that offer "imagenet" have them
    for name in list_models():
        files = W.imagenet_files(name)
        assert (files is not None) == (name in offered or name in KERAS_NAMES), name
        if files is not None:
            assert name in vars(__import__(model_info(name).module, fromlist=["_"]))["IMAGENET_WEIGHTS"]


def test_dlzoo_offline_fails_fast_without_touching_the_network(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("DLZOO_OFFLINE", "1")
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: pytest.fail("network touched"))
    start = time.monotonic()
    with pytest.raises(ConnectionError, match="cannot be reached"):
        W.fetch(W.imagenet_file("vgg16", include_top=False))
    assert time.monotonic() - start < 2


def test_an_image_net_file_of_another_input_size_is_a_clear_error(tmp_path):
    # VGG flattens: fc1's shape follows the input size, so only the classifier may be skipped.
    ref = build("vgg11", input_shape=(32, 32, 3), fc_units=8)
    path = tmp_path / "vgg11_legacy.h5"
    ref.save(path)  # the legacy HDF5 format
    other = build("vgg11", input_shape=(64, 64, 3), fc_units=8, num_classes=5)
    with pytest.raises(ValueError, match=r"fc1.*input size must be the one the weights were trained at"):
        W._load_legacy_h5(other, str(path), skip_classifier=True)
    same = build("vgg11", input_shape=(32, 32, 3), fc_units=8, num_classes=5)
    W._load_legacy_h5(same, str(path), skip_classifier=True)  # only the classifier differs
    np.testing.assert_array_equal(same.get_layer("fc1").get_weights()[0], ref.get_layer("fc1").get_weights()[0])


def test_imagenet_errors_before_any_download(monkeypatch):
    monkeypatch.setattr(W, "fetch", lambda *a, **k: pytest.fail("fetch called"))
    with pytest.raises(ValueError, match="3-channel"):
        build("resnet50", weights="imagenet", input_shape=(64, 64, 1))
    with pytest.raises(ValueError, match=r"publishes no ImageNet weights for resnet18"):
        build("resnet18", weights="imagenet")
    with pytest.raises(ValueError, match="no file or directory exists at that path"):
        build("resnet20", weights="/no/such/file.weights.h5")


def test_saved_model_directory_copies_matching_layers(tmp_path):
    source = build("resnet20", num_classes=10)
    _randomize(source)
    dlzoo.save(source, tmp_path / "run", {"name": "run", "model": "resnet20"})
    with pytest.warns(UserWarning, match=r"kept the initial weights of 1: predictions \(shapes"):
        model = build("resnet20", num_classes=3, weights=str(tmp_path / "run"))
    for name in ("conv1_conv", "conv4_block3_2_bn"):
        for a, b in zip(model.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="not a dlzoo saved model"):
        build("resnet20", weights=str(tmp_path))


def test_weights_file_of_another_shape_is_a_clear_error(tmp_path):
    path = tmp_path / "r20.weights.h5"
    build("resnet20").save_weights(path)
    with pytest.raises(ValueError, match="Could not load the weights file .* into resnet32"):
        build("resnet32", weights=str(path))
