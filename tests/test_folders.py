"""Image folders: bad files skipped with reasons, odd files converted, stable split, pipelines."""

import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from dlzoo.data import DataBundle, DataInfo, image_folder, in_validation, scan_folder
from dlzoo.data.scan import scan
from tests._imagefolders import (
    BAD_FILES,
    CONVERTED,
    PILLOW_ONLY,
    make_messy_folder,
    write_good,
)

tf = pytest.importorskip("tensorflow")


@pytest.fixture
def messy(tmp_path):
    return make_messy_folder(tmp_path / "messy")


def _all(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys)


def test_keras_crashes_mid_epoch_where_ours_trains_to_the_end(messy):
    import keras

    # Keras trusts the extension: the corrupt/truncated/empty/text ".jpg" files crash the epoch.
    kds = keras.utils.image_dataset_from_directory(messy, image_size=(24, 24), batch_size=4, verbose=False)
    with pytest.raises(tf.errors.InvalidArgumentError):
        for _ in kds:
            pass

    train, val, info = image_folder(messy, image_size=(24, 24), batch_size=4, progress=False)
    model = keras.Sequential([
        keras.Input((24, 24, 3)),
        keras.layers.Rescaling(1 / 255.0),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    n_train = len(info.train_files)
    assert sum(int(y.shape[0]) for _, y in train) == n_train

    reasons = dict(info.skipped)
    for name, why in BAD_FILES.items():
        assert why in reasons[f"a/{name}"], (name, reasons.get(f"a/{name}"))
    assert reasons["labels.csv"] == "outside any class folder (ignored)"
    assert len(info.skipped) == len(BAD_FILES) + 1
    used = set(info.train_files) | set(info.val_files)
    for name in CONVERTED:
        assert f"a/{name}" in used
    assert not any("/." in p or p.startswith(".") for p in used | set(reasons))
    assert info.class_names == ["a", "b"]
    assert info.empty_classes == ["c"]
    assert info.counts == {"a": 12 + len(CONVERTED), "b": 12}
    card = json.loads(json.dumps(info.to_dict()))
    assert card["num_train"] == n_train and card["skipped"][0][0] == "a/corrupt.png"


@pytest.mark.parametrize("color_mode,channels", [("rgb", 3), ("grayscale", 1), ("rgba", 4)])
def test_every_odd_format_is_converted_to_the_channels_asked_for(messy, color_mode, channels):
    train, val, info = image_folder(messy, image_size=(24, 24), validation_split=0, shuffle=False,
                                    color_mode=color_mode, batch_size=64, progress=False)
    assert val is None
    x, _ = _all(train)
    assert x.shape[1:] == (24, 24, channels) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 255
    rows = {p: i for i, p in enumerate(info.train_files)}
    ref = np.asarray(Image.open(os.path.join(messy, "a", "gray.png")), np.float32)
    rgb_ref = np.asarray(Image.open(os.path.join(messy, "a", "palette.png")).convert("RGB"), np.float32)
    # 16-bit grayscale scaled down to 8 bits, not clipped to white
    g16 = x[rows["a/gray16.png"]]
    assert np.abs(g16[..., 0] - np.asarray(Image.open(os.path.join(messy, "a", "rgba.png")))[..., 0]).max() <= 1
    assert g16.mean() < 250
    np.testing.assert_allclose(x[rows["a/gray16.tif"]], g16)
    if channels >= 3:
        tif = np.asarray(Image.open(os.path.join(messy, "a", "photo.tif")), np.float32)
        np.testing.assert_allclose(x[rows["a/photo.tif"]][..., :3], tif)
        np.testing.assert_allclose(x[rows["a/palette.png"]][..., :3], rgb_ref)
        rgba_rgb = np.asarray(Image.open(os.path.join(messy, "a", "rgba.png")), np.float32)[..., :3]
        np.testing.assert_allclose(x[rows["a/rgba.png"]][..., :3], rgba_rgb)
        cmyk = np.asarray(Image.open(os.path.join(messy, "a", "cmyk.jpg")).convert("RGB"), np.float32)
        assert np.abs(x[rows["a/cmyk.jpg"]][..., :3] - cmyk).mean() < 3
        np.testing.assert_allclose(x[rows["a/gray.png"]][..., 0], ref)
        np.testing.assert_allclose(x[rows["a/gray.png"]][..., 2], ref)
    else:
        np.testing.assert_allclose(x[rows["a/gray.png"]][..., 0], ref)
        lum = np.asarray(Image.open(os.path.join(messy, "a", "palette.png")).convert("L"), np.float32)
        assert np.abs(x[rows["a/palette.png"]][..., 0] - lum).max() <= 1
    if channels == 4:  # RGBA keeps its alpha; images without one are opaque
        alpha = np.asarray(Image.open(os.path.join(messy, "a", "rgba.png")))[..., 3]
        np.testing.assert_allclose(x[rows["a/rgba.png"]][..., 3], alpha)
        assert (x[rows["a/img000.jpg"]][..., 3] == 255).all()


def test_cached_and_streaming_pipelines_give_the_same_batches(messy):
    kw = {"image_size": (20, 28), "batch_size": 5, "shuffle": False, "progress": False,
          "color_mode": "grayscale"}
    t1, v1, i1 = image_folder(messy, cache=True, **kw)
    t2, v2, i2 = image_folder(messy, cache=False, **kw)
    assert sorted(i1.train_files) == sorted(i2.train_files) and i1.skipped == i2.skipped
    assert v1 is not None and v2 is not None
    # the cache replays TensorFlow's files, then Pillow's; info lists files in the order served
    for (ds1, files1, labels1), (ds2, files2, labels2) in (
        ((v1, i1.val_files, i1.val_labels), (v2, i2.val_files, i2.val_labels)),
        ((t1, i1.train_files, i1.train_labels), (t2, i2.train_files, i2.train_labels)),
    ):
        x1, y1 = _all(ds1)
        x2, y2 = _all(ds2)
        np.testing.assert_array_equal(y1, labels1)
        np.testing.assert_array_equal(y2, labels2)
        at = {f: i for i, f in enumerate(files2)}
        perm = [at[f] for f in files1]
        np.testing.assert_array_equal(y1, y2[perm])
        np.testing.assert_allclose(x1, x2[perm])
    assert x1.shape[1:] == (20, 28, 1)


def test_streaming_survives_a_file_that_breaks_after_the_scan(messy):
    train, _, info = image_folder(messy, image_size=(16, 16), validation_split=0, cache=False,
                                  batch_size=8, progress=False)
    victim = os.path.join(messy, info.train_files[0])
    with open(victim, "wb") as f:
        f.write(b"overwritten with junk")
    _, y = _all(train)
    # dropped, and made up by the next pass's first image: an epoch keeps the length tf.data
    # and Keras were told (test_cli_output: the cause of "Your input ran out of data")
    assert len(y) == len(info.train_files)


def test_files_tensorflow_does_not_decode_exactly_are_routed_to_pillow(messy):
    report = scan_folder(messy, progress=False)
    by = {r.path: r.decoder for r in report.records}
    assert {p for p, d in by.items() if d == "pillow"} == {f"a/{n}" for n in PILLOW_ONLY}


def test_pillow_engine_finds_the_same_files_and_pixels(messy):
    opts = {"interpolation": "bilinear", "crop_to_aspect_ratio": False}
    tf_rep, tf_img = scan(messy, progress=False, image_size=(24, 24), opts=opts, keep="arrays")
    pil_rep, pil_img = scan(messy, progress=False, image_size=(24, 24), opts=opts, keep="arrays",
                             engine="pillow")
    assert [r.path for r in tf_rep.records] == [r.path for r in pil_rep.records]
    assert [s[0] for s in tf_rep.skipped] == [s[0] for s in pil_rep.skipped]
    assert tf_rep.manifest_hash == pil_rep.manifest_hash
    # same size: no resize, so the two decoders must agree up to JPEG/colour rounding
    assert np.abs(tf_img.astype(int) - pil_img.astype(int)).mean() < 1.5


def test_split_is_stable_when_files_are_added(tmp_path, rng):
    root = tmp_path / "grow"
    for i in range(40):
        for cls, label in (("x", 0), ("y", 1)):
            write_good(root, cls, f"{i:03d}.png", rng, label, size=(8, 8), fmt="png")
    _, _, before = image_folder(root, image_size=(8, 8), progress=False)
    for i in range(40, 80):
        write_good(root, "x", f"{i:03d}.png", rng, 0, size=(8, 8), fmt="png")
    write_good(root, "z", "new.png", rng, 1, size=(8, 8), fmt="png")
    _, _, after = image_folder(root, image_size=(8, 8), progress=False)
    assert set(before.val_files) <= set(after.val_files)
    assert set(before.train_files) <= set(after.train_files)
    assert 0.1 < len(after.val_files) / (len(after.val_files) + len(after.train_files)) < 0.3
    assert before.manifest_hash != after.manifest_hash
    # a different seed gives a different split; the rule is a pure function of path and seed
    _, _, other = image_folder(root, image_size=(8, 8), seed=1, progress=False)
    assert set(other.val_files) != set(after.val_files)
    assert all(in_validation(p, 0.2, 1) for p in other.val_files)


def test_manifest_tracks_content_not_timestamps(tmp_path, rng):
    root = tmp_path / "m"
    for cls, label in (("p", 0), ("q", 1)):
        for i in range(3):
            write_good(root, cls, f"{i}.png", rng, label, size=(8, 8), fmt="png")
    h1 = scan_folder(root, progress=False).manifest_hash
    os.utime(root / "p" / "0.png", (1, 1))
    assert scan_folder(root, progress=False).manifest_hash == h1
    write_good(root, "p", "0.png", rng, 1, size=(8, 8), fmt="png")
    assert scan_folder(root, progress=False).manifest_hash != h1


def test_fewer_than_two_classes_is_a_clear_error(tmp_path, rng):
    root = tmp_path / "one"
    for i in range(3):
        write_good(root, "only", f"{i}.png", rng, 0, size=(8, 8), fmt="png")
    os.makedirs(root / "broken")
    (root / "broken" / "x.jpg").write_bytes(b"nope")
    with pytest.raises(ValueError, match="at least two class subfolders"):
        image_folder(root, image_size=(8, 8), progress=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        image_folder(tmp_path / "missing", image_size=(8, 8))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"image_size": (0, 8)}, "image_size"),
        ({"validation_split": 1.0}, "validation_split"),
        ({"color_mode": "cmyk"}, "color_mode"),
        ({"batch_size": 0}, "batch_size"),
        ({"interpolation": "cubic"}, "interpolation"),
    ],
)
def test_bad_arguments_name_themselves(tmp_path, kwargs, match):
    args = {"image_size": (8, 8), **kwargs}
    with pytest.raises(ValueError, match=match):
        image_folder(tmp_path, progress=False, **args)


def test_crop_to_aspect_ratio_and_shuffle(tmp_path, rng):
    root = tmp_path / "wide"
    for cls, label in (("l", 0), ("r", 1)):
        for i in range(10):
            write_good(root, cls, f"{i}.png", rng, label, size=(10, 30), fmt="png")
    train, _, info = image_folder(root, image_size=(12, 12), crop_to_aspect_ratio=True,
                                  validation_split=0, batch_size=20, progress=False, seed=3)
    y1 = next(iter(train))[1].numpy()
    y2 = next(iter(train))[1].numpy()
    assert next(iter(train))[0].shape == (20, 12, 12, 3)
    assert sorted(y1) == sorted(info.train_labels) and not np.array_equal(y1, y2)


def test_scan_reports_duplicates(tmp_path, rng):
    root = tmp_path / "d"
    for cls, label in (("u", 0), ("v", 1)):
        for i in range(4):
            write_good(root, cls, f"{i}.png", rng, label, size=(8, 8), fmt="png")
    shutil.copy(root / "u" / "0.png", root / "v" / "copy.png")
    groups = scan_folder(root, progress=False).duplicates()
    assert [sorted(r.path for r in g) for g in groups] == [["u/0.png", "v/copy.png"]]


def test_cached_pipeline_decodes_once_and_never_rereads_the_files(tmp_path, rng):
    root = tmp_path / "once"
    for cls, label in (("p", 0), ("q", 1)):
        for i in range(6):
            write_good(root, cls, f"{i}.png", rng, label, size=(8, 8), fmt="png")
    train, val, info = image_folder(root, image_size=(8, 8), batch_size=4, validation_split=0.3,
                                    progress=False)
    shutil.rmtree(root)
    # the info has the shape of every other source's DataBundle metadata
    assert isinstance(info, DataInfo) and info.input_shape == (8, 8, 3) and info.num_classes == 2
    card = DataBundle(train=train, val=val, **info.metadata()).to_dict()
    assert card["source"] == f"folder:{info.root}" and card["value_range"] == "0-255"
    assert (card["num_train"], card["num_val"]) == (len(info.train_files), len(info.val_files))
    assert card["manifest_hash"] == info.to_dict()["manifest_hash"] == info.manifest_hash
    for _ in range(2):
        assert sum(int(y.shape[0]) for _, y in train) == len(info.train_files)
        assert sum(int(y.shape[0]) for _, y in val) == len(info.val_files) > 0


def test_folder_arrays_without_tensorflow(messy, monkeypatch):
    from dlzoo.data import load_arrays
    from dlzoo.data import scan as scan_module

    monkeypatch.setattr(scan_module, "_tf_available", lambda: False)
    data = load_arrays(f"folder:{messy}", image_size=(12, 12), progress=False)
    (x, y), (xv, yv) = data.train, data.val
    assert x.shape[1:] == (12, 12, 3) and len(x) + len(xv) == 12 * 2 + len(CONVERTED)
    assert data.class_names == ["a", "b"] and len(data.skipped) == len(BAD_FILES) + 1
    assert data.source == f"folder:{messy}" and data.input_shape == (12, 12, 3)
    assert set(np.unique(np.concatenate([y, yv]))) == {0, 1}


def test_no_tf_data_function_of_ours_goes_through_autograph(messy, tmp_path, monkeypatch):
    """AutoGraph converts a function by parsing its module's source: about 1 s of a fresh
    process's first scan. Ours branch with tf.cond / switch_case themselves, so every function
    we hand to tf.data or tf.function is marked not to be converted; none may be."""
    from tensorflow.python.autograph.impl import api

    from dlzoo.data.sniff import decode_bytes
    from dlzoo.data.text import text_datasets

    converted = []
    real = api._convert_actual

    def spy(entity, program_ctx):
        converted.append(f"{getattr(entity, '__module__', '?')}.{getattr(entity, '__qualname__', entity)}")
        return real(entity, program_ctx)

    monkeypatch.setattr(api, "_convert_actual", spy)
    for kw in ({}, {"cache": False}, {"cache": str(tmp_path / "c"), "color_mode": "grayscale",
                                       "crop_to_aspect_ratio": True, "image_size": (20, 28)}):
        train, val, _ = image_folder(messy, **{"image_size": (24, 24), "batch_size": 4,
                                              "validation_split": 0.3, "progress": False, **kw})
        for ds in (train, val):
            for _ in ds:
                pass
    jpeg = next(r for r in scan_folder(messy, progress=False).records if r.decoder == "tensorflow")
    with open(os.path.join(messy, jpeg.path), "rb") as f:
        decode_bytes(f.read(), channels=3, image_size=(16, 16))
    pairs = (["a b", "c d", "e f", "g h"], [0, 1, 0, 1])
    for ds in text_datasets(pairs, pairs, max_tokens=20, sequence_length=4, batch_size=2)[:2]:
        for _ in ds:
            pass
    ours = [name for name in converted if name.startswith("dlzoo")]
    assert not ours, f"converted by AutoGraph: {ours}"
    # the spy sees conversions at all: a plain function of this test's goes through AutoGraph
    for _ in tf.data.Dataset.range(2).map(lambda x: x + 1):
        pass
    assert any(name.startswith("tests.") for name in converted), converted
