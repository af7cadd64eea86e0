"""The backend-neutral input path (dlzoo.data.neutral, a keras.utils.PyDataset) gives what the
tf.data path gives: the same scan and skip list, split, info and manifest hash, the same batches
(float32 in [0, 255], int32 labels), a seeded reshuffle each epoch; and `fit` takes it. The
no-TensorFlow CLI runs are in CI's second leg (.ci/run), in a venv without TensorFlow."""

import sys
import warnings

import numpy as np
import pytest

from dlzoo.backends import has_tensorflow, resolve_loader
from dlzoo.data import image_folder, load
from dlzoo.data.neutral import Batches
from tests._imagefolders import make_messy_folder

needs_tf = pytest.mark.skipif(not has_tensorflow(), reason="compares with the tf.data path")


def _by_file(batches, files):
    """{relative path: (image, label)} from an unshuffled side, in `files` order."""
    xs, ys = [], []
    for x, y in batches.as_numpy_iterator():
        xs.append(np.asarray(x))
        ys.append(np.asarray(y))
    x, y = np.concatenate(xs), np.concatenate(ys)
    # decoded images travel as uint8 (the model casts them on the device), tf.data's as float32
    assert x.dtype in (np.uint8, np.float32) and y.dtype == np.int32
    assert len(x) == len(files)
    return {f: (x[i].astype(np.float32), int(y[i])) for i, f in enumerate(files)}


@needs_tf
def test_one_folder_through_both_paths_gives_the_same_batches(tmp_path):
    root = make_messy_folder(tmp_path / "messy", n_good=10)
    kw = {"image_size": (20, 20), "batch_size": 4, "validation_split": 0.25, "seed": 3, "progress": False,
          "shuffle": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the empty class: said by both
        tf_train, tf_val, tf_info = image_folder(root, loader="tf.data", **kw)
        py_train, py_val, py_info = image_folder(root, loader="pydataset", **kw)
    assert isinstance(py_train, Batches) and not isinstance(tf_train, Batches)
    assert py_info.skipped == tf_info.skipped and py_info.skipped
    assert py_info.manifest_hash == tf_info.manifest_hash
    assert py_info.class_names == tf_info.class_names
    for side in ("train", "val"):
        assert sorted(getattr(py_info, f"{side}_files")) == sorted(getattr(tf_info, f"{side}_files"))
    for tfb, pyb, info_tf, info_py in ((tf_train, py_train, tf_info.train_files, py_info.train_files),
                                       (tf_val, py_val, tf_info.val_files, py_info.val_files)):
        a, b = _by_file(tfb, info_tf), _by_file(pyb, info_py)
        assert a.keys() == b.keys()
        for f in a:
            assert a[f][1] == b[f][1], f
            np.testing.assert_array_equal(a[f][0], b[f][0], err_msg=f)
        assert max(float(v[0].max()) for v in b.values()) > 1.0  # [0, 255], not rescaled


def test_streaming_from_files_matches_the_in_memory_images(tmp_path):
    root = make_messy_folder(tmp_path / "messy", n_good=6)
    # at the files' own size: no resize, whose filters differ between TensorFlow and Pillow
    kw = {"image_size": (24, 24), "batch_size": 5, "seed": 1, "progress": False, "shuffle": False,
              "loader": "pydataset"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mem, _, info = image_folder(root, **kw)
        disk, _, info2 = image_folder(root, cache=False, **kw)
    assert info.train_files == info2.train_files
    a, b = _by_file(mem, info.train_files), _by_file(disk, info2.train_files)
    for f in a:
        assert a[f][1] == b[f][1]
        # the scan may decode with TensorFlow, the stream decodes with Pillow
        assert np.abs(a[f][0] - b[f][0]).mean() < 1.0, f


def test_training_side_is_reshuffled_each_epoch_from_the_seed():
    x = np.arange(20, dtype=np.float32)[:, None]
    y = np.arange(20)
    one, two = (Batches(x, y, batch_size=8, shuffle=True, seed=5) for _ in range(2))
    first = np.concatenate([b[1] for b in one])
    assert sorted(first) == list(range(20)) and list(first) != list(range(20))
    assert list(first) == list(np.concatenate([b[1] for b in two]))  # same seed, same order
    one.on_epoch_end()
    again = np.concatenate([b[1] for b in one])
    assert sorted(again) == list(range(20)) and list(again) != list(first)
    val = Batches(x, y, batch_size=8)
    assert list(np.concatenate([b[1] for b in val])) == list(range(20))
    assert val.cardinality() == len(val) == 3
    with pytest.raises(IndexError):
        val[3]


def test_digits_bundle_on_the_pydataset_path_matches_tf_data_and_fits():
    import keras

    data = load("digits", image_size=(8, 8), batch_size=64, loader="pydataset", shuffle=False)
    assert isinstance(data.train, Batches)
    if has_tensorflow():
        ref = load("digits", image_size=(8, 8), batch_size=64, loader="tf.data", shuffle=False)
        assert ref.manifest_hash == data.manifest_hash
        for (xa, ya), (xb, yb) in zip(ref.train.as_numpy_iterator(), data.train):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    shuffled = load("digits", image_size=(8, 8), batch_size=64, loader="pydataset")
    hist = model.fit(shuffled.train, validation_data=shuffled.val, epochs=4, verbose=0)
    assert hist.history["val_accuracy"][-1] > 0.5


def test_loader_names_are_checked():
    with pytest.raises(ValueError, match="loader must be one of"):
        resolve_loader("grain")
    with pytest.raises(ValueError, match="tfds dataset"):
        load("mnist", loader="pydataset")
    assert resolve_loader("auto") == ("tf.data" if has_tensorflow() else "pydataset")


@pytest.mark.skipif(has_tensorflow(), reason="only where TensorFlow is absent")
def test_without_tensorflow_auto_is_the_pydataset_and_tf_data_says_what_to_install():
    assert "tensorflow" not in sys.modules
    with pytest.raises(ImportError, match="pip install tensorflow"):
        resolve_loader("tf.data")


def test_map_and_the_data_parallel_copies():
    x = np.arange(10, dtype=np.float32)[:, None]
    base = Batches(x, np.arange(10), batch_size=4)
    mapped = base.map(lambda a, b: (a, a / 10))
    assert len(mapped) == 3 and mapped.cardinality() == 3
    xa, ta = mapped[2]
    np.testing.assert_allclose(ta, xa / 10)
    train = base.divisible(2, drop_remainder=True)
    assert [len(b[1]) for b in train] == [4, 4]
    val = Batches(x[:7], np.arange(7), batch_size=4).divisible(2, drop_remainder=False)
    assert [len(b[1]) for b in val] == [4, 2]


# --- saved models move between backends -----------------------------------------------------------

_SAVE = """
import sys, numpy as np, keras, dlzoo
from dlzoo.augmentation import augmentation_layers
from dlzoo.preprocessing import with_preprocessing
keras.utils.set_random_seed(0)
net = dlzoo.build("resnet20", depths=(2, 1), widths=(4, 8), input_shape=(16, 16, 3), num_classes=3)
model = with_preprocessing(net, "unit", augment=augmentation_layers(True), name="moved")
x = np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 3)).astype("float32")
dlzoo.save(model, sys.argv[1], {"model": "resnet20", "class_names": ["a", "b", "c"]})
np.save(sys.argv[1] + ".npy", x)
np.save(sys.argv[1] + ".pred.npy", np.asarray(model.predict(x, verbose=0)))
"""

_LOAD = """
import sys, numpy as np, keras, dlzoo
from dlzoo.saving import read_card
model = dlzoo.load(sys.argv[1])
x = np.load(sys.argv[1] + ".npy")
np.testing.assert_allclose(model.predict(x, verbose=0), np.load(sys.argv[1] + ".pred.npy"),
                           rtol=1e-5, atol=1e-5)
card = read_card(sys.argv[1])
print(card["versions"]["backend"], "->", keras.backend.backend(), card["class_names"])
"""


def _backend_available(name):
    import importlib.util

    return importlib.util.find_spec({"tensorflow": "tensorflow", "jax": "jax"}[name]) is not None


@pytest.mark.parametrize("saved_on, loaded_on", [
    ("jax", "tensorflow"),
    pytest.param("tensorflow", "jax", marks=pytest.mark.slow)])  # one direction by default
def test_a_saved_model_and_its_card_load_on_the_other_backend(saved_on, loaded_on, tmp_path):
    import os
    import subprocess

    if not (_backend_available(saved_on) and _backend_available(loaded_on)):
        pytest.skip(f"needs both {saved_on} and {loaded_on}")
    folder = str(tmp_path / "moved")
    for code, backend in ((_SAVE, saved_on), (_LOAD, loaded_on)):
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        out = subprocess.run([sys.executable, "-c", code, folder], env=env, capture_output=True,
                             text=True, timeout=300, check=False)
        assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [saved_on, "->", loaded_on, "['a',", "'b',", "'c']"]


_NO_TF = """
import importlib.abc, os, sys
class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tensorflow_datasets"):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, NoTensorFlow())
os.environ.pop("KERAS_BACKEND", None)
import dlzoo, keras
from dlzoo.data import load
print(keras.backend.backend(), type(load("synthetic:blobs", n=60).train).__name__)
"""


def test_a_host_without_tensorflow_gets_jax_and_the_pydataset_path(tmp_path):
    import json
    import os
    import subprocess

    (tmp_path / "keras.json").write_text(json.dumps({"backend": "tensorflow"}))  # Keras's default
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", _NO_TF], env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["jax", "Batches"]


def test_autoencoder_targets_on_the_pydataset_path_are_scaled_as_the_model_input_is():
    import types

    import keras

    from dlzoo.tasks import Task
    from dlzoo.training import training_data

    x = np.array([[[[0.0]], [[255.0]]]], dtype="float32")  # one 2x1x1 image: black and white
    bundle = types.SimpleNamespace(train=Batches(x, np.zeros(1), batch_size=1), val=None)
    info = types.SimpleNamespace(task=Task.AUTOENCODER, preprocessing="tf", name="conv_dae")
    train, val = training_data(bundle, info)
    inputs, targets = (keras.ops.convert_to_numpy(t) for t in train[0])  # torch: a tensor
    assert val is None and float(np.max(inputs)) == 255.0
    assert (float(np.min(targets)), float(np.max(targets))) == pytest.approx((-1.0, 1.0))


def test_uint8_images_travel_as_uint8_and_train_as_float32_would():
    """A quarter of the bytes per batch (benchmarks/input_rate.py): uint8 batches, cast by the
    model's input on the device, give the losses the float32 batches gave."""
    import keras

    from dlzoo.data.neutral import Batches

    images = np.random.default_rng(0).integers(0, 256, (32, 8, 8, 1), dtype=np.uint8)
    labels = np.arange(32) % 2
    assert Batches(images, labels, batch_size=8)[0][0].dtype == np.uint8
    assert Batches(images.astype(np.float32), labels, batch_size=8)[0][0].dtype == np.float32
    losses = []
    for source in (images, images.astype(np.float32)):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255),
                                  keras.layers.Flatten(), keras.layers.Dense(2, "softmax")])
        model.compile("adam", "sparse_categorical_crossentropy")
        losses.append(model.fit(Batches(source, labels, batch_size=8), epochs=2,
                                verbose=0).history["loss"])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)


# --- one resize: the same pixels on a host with TensorFlow and on one without ----------------------


def _host_files(root):
    """Files that take every route: a 128-px JPEG of 1-pixel stripes (decoded at 1/4 scale, then
    nothing left to resize), a 200x150 PNG (TensorFlow's decoder, downscaled), a 20x20 PNG
    (upscaled), one at the size, an EXIF-rotated JPEG and a palette GIF (Pillow's decoder)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:150, 0:200]
    photo = np.stack([xx * 255 // 200, yy * 255 // 150, (xx + yy) % 256], -1).astype(np.uint8)
    photo = np.clip(photo + rng.integers(-25, 26, photo.shape), 0, 255).astype(np.uint8)
    stripes = np.clip(photo[:128, :128] // 2 + (np.indices((128, 128))[1] % 2)[..., None] * 90,
                      0, 255).astype(np.uint8)
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    Image.fromarray(stripes).save(root / "a" / "stripes_128.jpg", quality=97)
    Image.fromarray(photo).save(root / "a" / "photo_200x150.png")
    Image.fromarray(photo[:20, :20]).save(root / "a" / "small_20.png")
    Image.fromarray(photo[:32, 40:72]).save(root / "b" / "native_32.png")
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(photo[:90, :60]).save(root / "b" / "rotated.jpg", quality=95, exif=exif)
    Image.fromarray(photo[30:100, 50:150]).convert("P", palette=Image.ADAPTIVE).save(
        root / "b" / "palette.gif")
    return sorted(str(p) for p in root.rglob("*.*"))


def _reference_pixels(path, size, channels):
    """What every host must feed a model, written from the definition: Pillow decodes (a plain
    upright JPEG at least twice the target at libjpeg's 1/2, 1/4 or 1/8 scale, the largest not
    below the target, as tf.io.decode_jpeg's `ratio` does), the orientation is applied, the
    channels converted, then Pillow's antialiased bilinear resize."""
    from PIL import Image, ImageOps

    th, tw = size
    img = Image.open(path)
    if img.format == "JPEG" and img.mode in ("L", "RGB") and img.getexif().get(0x0112, 1) == 1:
        k = max(k for k in (1, 2, 4, 8) if -(-img.height // k) >= th and -(-img.width // k) >= tw)
        img.draft(img.mode, (img.width // k, img.height // k))
    img = ImageOps.exif_transpose(img).convert({1: "L", 3: "RGB"}[channels])
    if img.size != (tw, th):
        img = img.resize((tw, th), Image.BILINEAR)
    return np.asarray(img, np.float32).reshape(th, tw, channels)


@pytest.fixture(scope="module")
def host_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("hosts")
    return root, _host_files(root)


@pytest.mark.parametrize("channels", [1, 3])
def test_every_reader_on_this_host_gives_the_reference_pixels(host_files, channels):
    """predict/evaluate/explain's reader and training's loaders (tf.data where TensorFlow is,
    the PyDataset path everywhere) give exactly the reference pixels: so do the other CI leg's."""
    from dlzoo.evaluation import read_images

    root, paths = host_files
    size = (32, 32) if channels == 1 else (24, 40)
    want = {p: _reference_pixels(p, size, channels) for p in paths}
    got, kept, skipped = read_images(paths, (*size, channels))
    assert skipped == [] and kept == paths
    for p, x in zip(kept, got):
        np.testing.assert_array_equal(x, want[p], err_msg=p)
    loaders = ["pydataset"] + (["tf.data"] if has_tensorflow() else [])
    for loader in loaders:
        for cache in (True, False):
            train, _, info = image_folder(root, image_size=size, validation_split=0, shuffle=False,
                                          progress=False, loader=loader, cache=cache,
                                          color_mode={1: "grayscale", 3: "rgb"}[channels])
            for rel, (x, _) in _by_file(train, info.train_files).items():
                np.testing.assert_array_equal(x, want[str(root / rel)], err_msg=f"{loader} {rel}")


_OTHER_HOST = """
import importlib.abc, json, sys
if sys.argv[1] == "no-tf":  # a host without TensorFlow: JAX
    class NoTensorFlow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "tensorflow_datasets"):
                raise ModuleNotFoundError(f"No module named {name!r}")
    sys.meta_path.insert(0, NoTensorFlow())
import keras
from dlzoo.evaluation import predict_files, read_images
paths = sys.argv[3:]
x, kept, _ = read_images(paths, (32, 32, 1))
rows = predict_files(sys.argv[2], paths, k=10).rows
print(json.dumps({"backend": keras.backend.backend(), "pixels": x.tolist(),
                  "probabilities": [dict(top) for _, top in rows]}))
"""


def _tensorflow_python():
    """A Python with TensorFlow for the other host: this one, or on the no-TensorFlow leg the
    repository's TensorFlow venv where CI made one (.venv) or DLZOO_TF_PYTHON names one."""
    import os
    import subprocess
    from pathlib import Path

    if has_tensorflow():
        return sys.executable
    root = Path(__file__).resolve().parents[1]
    for python in (os.environ.get("DLZOO_TF_PYTHON"), str(root / ".venv" / "bin" / "python")):
        if python and os.path.exists(python) and subprocess.run(
                [python, "-c", "import tensorflow"], capture_output=True, check=False).returncode == 0:
            return python
    return None


def test_a_jax_host_and_a_tensorflow_host_feed_the_model_the_same_pixels(host_files):
    """The shipped model, the same files: a host without TensorFlow (JAX) and a TensorFlow host
    read the same pixels (within 1 level) and predict the same probabilities (within 1e-5)."""
    import json
    import os
    import subprocess
    from pathlib import Path

    tf_python = _tensorflow_python()
    if tf_python is None:
        pytest.skip("no Python with TensorFlow here to be the other host (DLZOO_TF_PYTHON)")
    root = Path(__file__).resolve().parents[1]
    shipped = str(root / "saved_models" / "lenet5-digits")
    _, paths = host_files
    out = {}
    hosts = [("no-tf", sys.executable, "jax")]
    import keras

    if tf_python == sys.executable and keras.backend.backend() == "tensorflow":  # this process
        from dlzoo.evaluation import predict_files, read_images

        x, _, _ = read_images(paths, (32, 32, 1))
        out["tensorflow"] = {"backend": "tensorflow", "pixels": x.tolist(), "probabilities": [
            dict(top) for _, top in predict_files(shipped, paths, k=10).rows]}
    else:
        hosts.append(("tensorflow", tf_python, "tensorflow"))
    for host, python, backend in hosts:
        env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(root)}
        run = subprocess.run([python, "-c", _OTHER_HOST, host, shipped, *paths], env=env,
                             capture_output=True, text=True, timeout=300, check=False)
        assert run.returncode == 0, run.stderr[-2000:]
        out[host] = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["tensorflow"]["backend"] == "tensorflow" and out["no-tf"]["backend"] == "jax"
    a, b = (np.asarray(out[h]["pixels"]) for h in ("tensorflow", "no-tf"))
    assert a.shape == b.shape == (len(paths), 32, 32, 1)
    assert np.abs(a - b).max() <= 1
    for pa, pb in zip(out["tensorflow"]["probabilities"], out["no-tf"]["probabilities"]):
        assert set(pa) == set(pb)
        assert max(abs(pa[c] - pb[c]) for c in pa) <= 1e-5


def test_iterating_a_pydataset_gives_what_indexing_gives_for_every_kind_of_batches():
    """dlzoo's own evaluation iterates the batches while Keras's fit indexes them: both must see
    the same arrays, for images and for the targets of a corpus or ratings (TargetBatches),
    sharded or not (a multi-process run gives each process a slice when indexed)."""
    from dlzoo.data.batching import TargetBatches
    from dlzoo.data.neutral import Batches

    x = np.arange(10 * 3, dtype=np.int32).reshape(10, 3)
    tokens = x + 100  # sequence targets (n, length)
    for batches in (Batches(x.astype(np.float32), np.arange(10, dtype=np.int32), batch_size=4),
                    TargetBatches(x, tokens, batch_size=4, shuffle=True, seed=3)):
        for i, (bx, by) in enumerate(batches):
            ix, iy = batches[i]
            np.testing.assert_array_equal(bx, ix)
            np.testing.assert_array_equal(by, iy)
        shard = batches.divisible(2, drop_remainder=True, shard=(1, 2))
        whole_x, whole_y = next(iter(shard))
        part_x, part_y = shard[0]
        np.testing.assert_array_equal(part_x, whole_x[2:])
        np.testing.assert_array_equal(part_y, whole_y[2:])
    np.testing.assert_array_equal(next(iter(batches))[1], batches[0][0] + 100)
