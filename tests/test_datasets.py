"""Named sources: digits, synthetic tasks, folders, tfds (mocked) and the fast offline failure."""

import os
import time

import numpy as np
import pytest

from dlzoo.data import export_digits, image_folder, load, load_arrays, tfds_sources

tf = pytest.importorskip("tensorflow")

# data.manifest_hash of saved_models/lenet5-digits/card.json: digits at 32x32 (any colour mode)
DIGITS_32_HASH = "15f3e93052440402811d385f645ca5d48719a9e455f4654fa3282553fd72aba2"


def test_digits_resized_scaled_and_split_stably():
    data = load_arrays("digits", image_size=(16, 16))
    (x, y), (xv, _) = data.train, data.val
    assert x.shape[1:] == (16, 16, 1) and x.dtype == np.float32
    assert len(x) + len(xv) == 1797 and 0.15 < len(xv) / 1797 < 0.25
    assert x.min() == 0 and x.max() == 255
    assert data.num_classes == 10 and data.class_names[3] == "3"
    assert data.input_shape == (16, 16, 1) and data.source == "digits"
    assert data.details == {"num_train": len(x), "num_val": len(xv), "color_mode": "grayscale",
                            "image_size": (16, 16)}
    assert set(np.unique(y)) == set(range(10))
    # same call, same arrays and hash; a different seed moves files between the sides
    again = load_arrays("digits", image_size=(16, 16))
    np.testing.assert_array_equal(x, again.train[0])
    assert again.manifest_hash == data.manifest_hash and len(data.manifest_hash) == 64
    xv3 = load_arrays("digits", image_size=(16, 16), seed=1).val[0]
    assert len(xv3) != len(xv) or not np.array_equal(xv3, xv)
    assert load_arrays("digits", image_size=(16, 16), validation_split=0).val is None
    rgb_data = load_arrays("digits", color_mode="rgb")
    rgb = rgb_data.train[0]
    # the hash the shipped lenet5-digits card records (32x32 digits): it must never drift
    assert rgb_data.manifest_hash == DIGITS_32_HASH
    assert rgb.shape[1:] == (32, 32, 3)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])


def test_exported_digits_folder_matches_load_digits(tmp_path):
    summary = export_digits(tmp_path / "digits")
    assert summary["count"] == 1797 and sorted(summary["counts"]) == [str(i) for i in range(10)]
    assert sorted(os.listdir(tmp_path / "digits")) == [str(i) for i in range(10)]
    train, val, info = image_folder(tmp_path / "digits", image_size=(32, 32), color_mode="grayscale",
                                    shuffle=False, batch_size=512, progress=False)
    assert info.manifest_hash == summary["manifest_hash"] and not info.skipped
    digits = load_arrays("digits")
    x, yv = digits.train[0], digits.val[1]
    got = np.concatenate([b.numpy() for b, _ in train])
    np.testing.assert_array_equal(got, x)
    np.testing.assert_array_equal(np.concatenate([b.numpy() for _, b in val]), yv)
    with pytest.raises(ValueError, match="not empty"):
        export_digits(tmp_path / "digits")


def test_load_digits_bundle_feeds_keras():
    import keras

    data = load("digits", image_size=(8, 8), batch_size=128)
    assert data.input_shape == (8, 8, 1) and data.num_classes == 10 and data.value_range == "0-255"
    xb, yb = next(iter(data.train))
    assert xb.shape == (128, 8, 8, 1) and xb.dtype == tf.float32 and yb.dtype == tf.int32
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255.0),
                              keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(data.train, validation_data=data.val, epochs=5, verbose=0)
    assert hist.history["val_accuracy"][-1] > 0.85
    card = data.to_dict()
    assert card["source"] == "digits" and len(card["manifest_hash"]) == 64


@pytest.mark.parametrize("name,shape,classes", [
    ("shapes", (32, 32, 3), 3), ("stripes", (32, 32, 3), 4), ("blobs", (16,), 3),
])
def test_synthetic_tasks_are_deterministic_and_balanced(name, shape, classes):
    data = load_arrays(f"synthetic:{name}", n=120)
    (x, y), (xv, yv) = data.train, data.val
    assert x.shape[1:] == shape and data.num_classes == classes and data.input_shape == shape
    assert len(x) + len(xv) == 120
    counts = np.bincount(np.concatenate([y, yv]))
    assert counts.max() - counts.min() <= 1
    again = load_arrays(f"synthetic:{name}", n=120).train[0]
    np.testing.assert_array_equal(x, again)
    other = load_arrays(f"synthetic:{name}", n=120, data_seed=1).train[0]
    assert not np.array_equal(x[: len(other)], other[: len(x)])


def test_synthetic_image_tasks_are_learnable():
    from sklearn.linear_model import LogisticRegression

    # A linear model on the magnitude spectrum separates the stripe orientations; shapes need a
    # few conv layers, which tests/test_training exercises.
    data = load_arrays("synthetic:stripes", n=200, color_mode="grayscale")
    (x, y), (xv, yv) = data.train, data.val
    feats = lambda a: np.abs(np.fft.fft2(a[..., 0] - a[..., 0].mean((1, 2), keepdims=True))).reshape(len(a), -1)
    clf = LogisticRegression(max_iter=2000).fit(feats(x), y)
    assert clf.score(feats(xv), yv) > 0.9
    data = load_arrays("synthetic:blobs", n=300)
    (x, y), (xv, yv) = data.train, data.val
    assert data.value_range == "raw" and data.details["image_size"] is None
    assert LogisticRegression(max_iter=500).fit(x, y).score(xv, yv) > 0.9


def test_unknown_sources_are_clear_errors():
    with pytest.raises(ValueError, match="unknown synthetic task 'nope'.*shapes"):
        load_arrays("synthetic:nope")
    with pytest.raises(ValueError, match="Close matches: mnist"):
        load("mnsit")
    with pytest.raises(ValueError, match="load_arrays handles"):
        load_arrays("mnist")
    with pytest.raises(ValueError, match="unknown source kind"):
        load("ftp:somewhere")


# --- tensorflow-datasets ---------------------------------------------------------------------------


@pytest.fixture
def online(monkeypatch):
    monkeypatch.setattr(tfds_sources, "network_available", lambda *a, **k: True)


def test_tfds_mnist_resized_to_rgb(online):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=10):
        data = load("mnist", image_size=(32, 32), color_mode="rgb", batch_size=4)
    assert data.input_shape == (32, 32, 3) and data.num_classes == 10
    assert data.class_names[:3] == ["0", "1", "2"] and data.details["splits"] == ["train", "test"]
    x, y = next(iter(data.train))
    assert x.shape == (4, 32, 32, 3) and x.dtype == tf.float32 and y.dtype == tf.int32
    np.testing.assert_array_equal(x[..., 0].numpy(), x[..., 1].numpy())
    assert sum(int(b.shape[0]) for b, _ in data.val) == 10


def test_tfds_flowers_holds_out_a_slice_of_train(online):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=6):
        data = load("tf_flowers", image_size=(40, 48), validation_split=0.25, batch_size=3)
    assert data.details["splits"] == ["train[:75%]", "train[75%:]"]
    assert data.input_shape == (40, 48, 3) and data.num_classes == 5
    x, _ = next(iter(data.val))
    assert x.shape[1:] == (40, 48, 3) and float(tf.reduce_max(x)) <= 255


def test_tfds_text_dataset_is_raw_strings(online):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=4):
        data = load("imdb_reviews", batch_size=2)
    x, y = next(iter(data.train))
    assert data.value_range == "raw" and x.dtype == tf.string and data.num_classes == 2
    assert y.dtype == tf.int32


def test_tfds_offline_fails_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("DLZOO_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(ConnectionError, match="tfds build mnist") as e:
        load("mnist", data_dir=str(tmp_path))
    assert time.perf_counter() - t0 < 15
    assert str(tmp_path) in str(e.value) and "digits" in str(e.value)


def test_tfds_asks_the_shared_network_probe_for_its_download_host(tmp_path, monkeypatch):
    asked = []

    def unreachable(url, timeout=None):
        asked.append((url, timeout))
        return False

    monkeypatch.delenv("DLZOO_OFFLINE", raising=False)
    monkeypatch.setattr(tfds_sources, "network_available", unreachable)
    with pytest.raises(ConnectionError, match=r"\(storage\.googleapis\.com\) cannot be reached"):
        load("mnist", data_dir=str(tmp_path))
    assert asked == [(tfds_sources.NETWORK_PROBE_URL, 5.0)]


def test_network_probe_gives_up_within_its_timeout():
    from dlzoo.network import network_available

    # TEST-NET-3 (RFC 5737) never answers; the probe must not wait past its timeout.
    t0 = time.perf_counter()
    assert network_available("https://203.0.113.1/", timeout=1.0) is False
    assert time.perf_counter() - t0 < 3
