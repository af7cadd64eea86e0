"""keras.applications' families in the zoo (dlzoo.models.applications): every constructor registered,
the zoo's checks, the same input convention and outputs as keras.applications with the same weights,
ImageNet offline-first, and `dlzoo finetune` from a keras.applications weights file (the issue's
"done when"). One family at a time is costly (deep networks), so the default run takes one or two
of each kind of test and the rest run in the slow leg."""

import os
import socket
import time

import keras
import numpy as np
import pytest

from dlzoo import build, list_models, model_info
from dlzoo.models.applications import FAMILIES, IMAGENET_WEIGHTS, KERAS_NAMES
from dlzoo.preprocessing import with_preprocessing
from dlzoo.registry import normalize_name

# One variant per keras.applications module, and its preprocess_input.
REPRESENTATIVES = {
    "mobilenet_v1": "mobilenet", "mobilenet_v2": "mobilenet_v2",
    "mobilenet_v3_small": "mobilenet_v3", "efficientnet_b0": "efficientnet",
    "efficientnet_v2_b0": "efficientnet_v2", "convnext_tiny": "convnext",
    "densenet121": "densenet", "xception": "xception", "nasnet_mobile": "nasnet",
    "inception_resnet_v2": "inception_resnet_v2",
}
DEFAULT_PREPROCESSING = {"mobilenet_v2"}  # efficientnet_b0 in the slow leg (8 CPU-s)  # inside the network / "tf" in front
DONE_WHEN = ("mobilenet_v3_small", "efficientnet_b0", "convnext_tiny", "densenet121")


def _maybe_slow(names, default):
    return [n if n in default else pytest.param(n, marks=pytest.mark.slow) for n in names]


def _small_shape(name):
    side = FAMILIES[model_info(name).family].min_size
    return (side, side, 3)


def test_every_keras_application_is_in_the_registry():
    constructors = [n for n in dir(keras.applications)
                    if n[0].isupper() and callable(getattr(keras.applications, n))]
    registered = {normalize_name(n) for n in list_models()}
    ours = set(KERAS_NAMES.values())
    missing = [c for c in constructors if c not in ours and normalize_name(c) not in registered]
    assert not missing, f"keras.applications constructors with no registry entry: {missing}"
    assert len(constructors) >= 40
    for name in KERAS_NAMES:
        info = model_info(name)
        assert info.module == "dlzoo.models.applications" and info.weights == ("imagenet",)
        assert info.family in FAMILIES and info.paper and info.feature_layers and info.unfreeze_groups
        assert name in IMAGENET_WEIGHTS, name


def test_the_zoo_checks_arguments_before_building():
    with pytest.raises(ValueError, match=r"minimum is 71x71"):
        build("xception", input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match=r"minimum is 75x75"):
        build("inception_resnet_v2", input_shape=(74, 300, 3))
    with pytest.raises(ValueError, match=r"minimum is 32x32"):
        build("efficientnet_b0", input_shape=(16, 16, 3))
    with pytest.raises(TypeError, match=r"does not take argument 'alpha'"):
        build("densenet121", alpha=0.5)
    with pytest.raises(ValueError, match="alpha"):
        build("mobilenet_v2", alpha=-1)
    with pytest.raises(ValueError, match="pooling"):
        build("convnext_tiny", include_top=False, pooling="mean")
    with pytest.raises(ValueError, match="num_classes"):
        build("mobilenet_v3_small", num_classes=0)


def _capture_keras_file(monkeypatch, constructor, **kwargs):
    """The (file name, URL, hash) keras.applications' constructor asks `get_file` for."""
    from keras.src.utils import file_utils

    seen = {}

    class Asked(Exception):
        pass

    def fake(fname=None, origin=None, *args, **kw):
        seen.update(fname=fname, origin=origin, file_hash=kw.get("file_hash"))
        raise Asked

    monkeypatch.setattr(file_utils, "get_file", fake)
    with pytest.raises(Asked):
        constructor(weights="imagenet", **kwargs)
    return seen["fname"], seen["origin"], seen["file_hash"] or ""


@pytest.mark.parametrize("name", _maybe_slow(list(KERAS_NAMES), {"mobilenet_v3_small"}))
def test_imagenet_files_are_the_ones_keras_applications_fetches(name, monkeypatch):
    constructor = getattr(keras.applications, KERAS_NAMES[name])
    top, notop = IMAGENET_WEIGHTS[name]
    small = max(75, FAMILIES[model_info(name).family].min_size)  # not a MobileNet file size
    assert _capture_keras_file(monkeypatch, constructor, include_top=False,
                               input_shape=(small, small, 3)) == _fields(notop)
    assert _capture_keras_file(monkeypatch, constructor) == _fields(top)  # at the default size


def _fields(wf):
    return (wf.file_name, wf.origin, wf.file_hash)


def _legacy_h5(model, path):
    """Writes `model`'s weights as keras.applications publishes them (the legacy HDF5 format)."""
    model.save(path)  # a `.h5` path: the legacy format, which loads by layer order
    return str(path)


@pytest.mark.parametrize("name", _maybe_slow(list(REPRESENTATIVES), DEFAULT_PREPROCESSING))
def test_raw_pixels_give_keras_applications_outputs_on_its_preprocess_input(
        name, tmp_path, monkeypatch):
    """The dlzoo model (network + the zoo's preprocessing) on raw 0-255 pixels equals
    keras.applications' model built for ImageNet weights on `preprocess_input`'s output, with the
    same weights: the convention is the family's, and applied once."""
    from keras.src.utils import file_utils

    info = model_info(name)
    shape = _small_shape(name)
    constructor = getattr(keras.applications, KERAS_NAMES[name])
    random_keras = constructor(weights=None, include_top=False, input_shape=shape)
    path = _legacy_h5(random_keras, tmp_path / f"{name}_notop.h5")
    # keras.applications' own ImageNet model (EfficientNet differs from weights=None), fed our file
    monkeypatch.setattr(file_utils, "get_file", lambda *a, **k: path)
    reference = constructor(weights="imagenet", include_top=False, input_shape=shape, pooling="avg")
    module = __import__(constructor.__module__, fromlist=["preprocess_input"])
    raw = np.random.default_rng(0).uniform(0, 255, (2, *shape)).astype("float32")
    expected = reference.predict(module.preprocess_input(raw.copy()), verbose=0)

    network = build(name, weights=path, include_top=False, pooling="avg", input_shape=shape)
    ours = with_preprocessing(network, info.preprocessing)
    got = ours.predict(raw, verbose=0)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    if info.preprocessing == "none":  # the network standardises: keras' preprocess_input is a no-op
        np.testing.assert_array_equal(module.preprocess_input(raw.copy()), raw)


def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setenv("DLZOO_OFFLINE", "1")
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: pytest.fail("network touched"))


def test_imagenet_offline_fails_fast_for_every_family(monkeypatch, tmp_path):
    _offline(monkeypatch, tmp_path)
    for name in KERAS_NAMES:
        for include_top in (True, False):
            wf = IMAGENET_WEIGHTS[name][0 if include_top else 1]
            start = time.monotonic()
            with pytest.raises(ConnectionError) as caught:
                build(name, weights="imagenet", include_top=include_top)
            assert time.monotonic() - start < 2, name
            message = str(caught.value)
            assert wf.file_name in message and wf.origin in message, name
            assert os.path.join(str(tmp_path / "keras-home"), "models", wf.file_name) in message


def test_imagenet_from_the_cache_loads_all_but_the_classifier(monkeypatch, tmp_path):
    # MobileNet v1's files carry no hash, so a file we write in the cache stands in for ImageNet's.
    _offline(monkeypatch, tmp_path)
    wf = IMAGENET_WEIGHTS["mobilenet_v1"][0]
    cache = tmp_path / "keras-home" / "models"
    cache.mkdir(parents=True)
    source = keras.applications.MobileNet(weights=None, input_shape=(32, 32, 3))
    _legacy_h5(source, cache / wf.file_name)
    with pytest.warns(UserWarning, match=r"except the classifier 'conv_preds'.*num_classes=5"):
        model = build("mobilenet_v1", weights="imagenet", num_classes=5, input_shape=(32, 32, 3))
    weighted = [layer for layer in model.layers if layer.weights]
    reference = [layer for layer in source.layers if layer.weights]
    assert weighted[-1].name == "conv_preds" and weighted[-1].get_weights()[0].shape[-1] == 5
    for ours, theirs in zip(weighted[:-1], reference[:-1]):
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_array_equal(a, b)


@pytest.mark.slow  # 12 CPU-s each; the default run is at its 12 CPU-min budget
@pytest.mark.parametrize("name", DONE_WHEN)
def test_finetune_from_a_keras_applications_weights_file(name, tmp_path):
    """`dlzoo finetune DIR --model NAME --weights FILE`, FILE written from keras.applications with
    random weights (as keras publishes them: legacy HDF5, without the top), offline."""
    import json

    from dlzoo.cli import main
    from tests.test_finetune_cli import _colour_folder

    folder = _colour_folder(tmp_path / "photos", n=6)
    constructor = getattr(keras.applications, KERAS_NAMES[name])
    source = constructor(weights=None, include_top=False, input_shape=(32, 32, 3))
    path = _legacy_h5(source, tmp_path / f"{name}_notop.h5")
    out = tmp_path / "tuned"
    code = main(["finetune", str(folder), "--model", name, "--weights", path, "--image-size", "32",
                 "--head-epochs", "1", "--epochs", "1", "--unfreeze", "top:1", "--batch-size", "8",
                 "--out", str(out), "--cache-dir", "", "--quiet"])
    assert code == 0
    card = json.loads((out / "card.json").read_text())
    info = model_info(name)
    assert card["transfer"]["weights"] == path
    assert card["transfer"]["feature_layer"] == info.feature_layers[-1]
    assert card["transfer"]["unfrozen_groups"] == [info.unfreeze_groups[-1]]
    saved = keras.saving.load_model(out / "model.keras")  # the cut network and the head, flat
    ours = [layer for layer in saved.layers if layer.weights]
    theirs = [layer for layer in source.layers if layer.weights]
    # the first layers stayed frozen, so they still hold the file's weights; BatchNormalization's
    # statistics did not move even in the unfrozen group
    for o, t in zip(ours[:3], theirs[:3]):
        for a, b in zip(o.get_weights(), t.get_weights()):
            np.testing.assert_array_equal(a, b)
    bns = [(o, t) for o, t in zip(ours, theirs) if isinstance(o, keras.layers.BatchNormalization)]
    for o, t in bns[-1:]:
        np.testing.assert_array_equal(o.get_weights()[2], t.get_weights()[2])


def test_finetune_offline_imagenet_fails_fast(monkeypatch, tmp_path, capsys):
    from dlzoo.cli import main
    from tests.test_finetune_cli import _colour_folder

    _offline(monkeypatch, tmp_path)
    folder = _colour_folder(tmp_path / "photos", n=2)
    start = time.monotonic()
    code = main(["finetune", str(folder), "--model", "efficientnet_b0", "--weights", "imagenet",
                 "--image-size", "32", "--out", str(tmp_path / "out")])
    assert code != 0 and time.monotonic() - start < 10
    err = capsys.readouterr().err
    assert "efficientnetb0_notop.h5" in err and "cannot be reached" in err


def test_efficientnet_standardises_raw_pixels_as_its_imagenet_weights_expect(tmp_path):
    """keras.applications adds EfficientNet's ImageNet stem (a Rescaling by 1/sqrt(std) after the
    Normalization) only when it loads ImageNet weights itself; the zoo always builds it, and a
    random build starts from ImageNet's statistics, so its input convention never changes."""
    model = build("efficientnet_b0", input_shape=(32, 32, 3), include_top=False)
    x = np.full((1, 32, 32, 3), 255.0, "float32")

    def stem(m):
        return keras.Model(m.input, m.get_layer("stem_imagenet_scaling").output).predict(x, verbose=0)

    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(stem(model)[0, 0, 0], (1 - mean) / std / np.sqrt(std), rtol=1e-5)
    model.save(tmp_path / "e.keras")  # the statistics survive a round trip (they are state)
    np.testing.assert_allclose(stem(keras.saving.load_model(tmp_path / "e.keras")), stem(model),
                               rtol=1e-6)
