"""Every odd image file reads as a photo viewer shows it, through every reader, and none can crash."""

import os
import subprocess
import sys

import numpy as np
import pytest

from dlzoo.data.sniff import PILLOW, TF_JPEG, TF_PNG, decode_bytes, sniff
from tests._imagefolders import write_good
from tests._oddities import SHOWN, picture, reference, write_corpus

tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """root/odd/ (the corpus) and root/plain/ (two plain PNGs, so there are two classes)."""
    root = tmp_path_factory.mktemp("corpus")
    names = write_corpus(root / "odd")
    rng = np.random.default_rng(0)
    for i in range(2):
        write_good(root, "plain", f"{i}.png", rng, 0, size=SHOWN, fmt="png")
    return str(root), names


def _read_folder(root, color_mode, cache=True):
    from dlzoo.data import image_folder

    train, val, info = image_folder(root, image_size=SHOWN, validation_split=0, shuffle=False,
                                    color_mode=color_mode, batch_size=64, progress=False,
                                    cache=cache)
    assert val is None and info.skipped == []
    x = np.concatenate([b.numpy() for b, _ in train]).astype(np.uint8)
    return {f: x[i] for i, f in enumerate(info.train_files)}


@pytest.mark.parametrize("color_mode", ["rgb", "grayscale", "rgba"])
def test_every_odd_file_matches_the_pillow_reference_in_training_and_predict(corpus, color_mode):
    from dlzoo.evaluation import read_images

    root, names = corpus
    assert len(names) >= 25
    folder = _read_folder(root, color_mode)
    paths = [os.path.join(root, "odd", n) for n in names]
    channels = {"grayscale": 1, "rgb": 3, "rgba": 4}[color_mode]
    predicted, kept, failed = read_images(paths, (*SHOWN, channels))
    assert failed == [] and kept == paths
    wrong = []
    for name, path, seen in zip(names, paths, predicted.astype(np.uint8)):
        want = reference(path, color_mode)
        for reader, got in (("image_folder", folder[f"odd/{name}"]), ("predict", seen)):
            if got.shape != want.shape or not np.array_equal(got, want):
                wrong.append((reader, name))
    assert wrong == []


def test_streaming_reads_the_same_pixels(corpus):
    root, names = corpus
    folder = _read_folder(root, "grayscale", cache=False)
    for name in names:
        np.testing.assert_array_equal(folder[f"odd/{name}"],
                                      reference(os.path.join(root, "odd", name), "grayscale"))


def test_phone_photos_are_upright_in_every_format(corpus):
    root, _ = corpus
    folder = _read_folder(root, "rgb")
    quadrants = [(slice(0, 6), slice(0, 8)), (slice(0, 6), slice(8, 16)),
                 (slice(6, 12), slice(0, 8)), (slice(6, 12), slice(8, 16))]

    def colours(a):  # mean colour of each quadrant: red, green / blue, yellow when upright
        return np.array([a[q].reshape(-1, 3).mean(0) for q in quadrants])

    upright = colours(picture().astype(float))
    names = [f"orient{o}.jpg" for o in range(2, 9)] + ["orient3.tif", "orient8.webp", "orient6.png"]
    for name in names:
        assert np.abs(colours(folder[f"odd/{name}"].astype(float)) - upright).max() < 20, name


def test_files_are_routed_by_their_header(corpus):
    root, names = corpus

    def route(name):
        with open(os.path.join(root, "odd", name), "rb") as f:
            return sniff(f.read()).route

    tf_decoded = {"plain.jpg": TF_JPEG, "gray.jpg": TF_JPEG, "progressive.jpg": TF_JPEG,
                  "subsampled444.jpg": TF_JPEG, "orient1.jpg": TF_JPEG, "rgb.png": TF_PNG,
                  "rgba.png": TF_PNG, "gray.png": TF_PNG, "gray_alpha.png": TF_PNG}
    for name in names:
        assert route(name) == tf_decoded.get(name, PILLOW), name
    # the animated WebP that makes TensorFlow's decode_image(channels=0) corrupt the heap
    assert route("animated.webp") == PILLOW


def test_declared_size_is_checked_before_decoding(tmp_path):
    from PIL import Image

    from dlzoo.data.images import UnusableImage

    big = tmp_path / "big.png"
    Image.new("L", (3000, 2000)).save(big)  # a few KB on disk, 6 million pixels declared
    data = big.read_bytes()
    with pytest.raises(UnusableImage, match="declares 3000x2000 pixels, over the limit of 1,000,000"):
        sniff(data, max_pixels=1_000_000)
    with pytest.raises(UnusableImage, match="over the limit"):
        decode_bytes(data, channels=1, max_pixels=1_000_000)


@pytest.mark.slow  # the corpus in subprocesses: 7 CPU-s
def test_no_corpus_file_can_end_the_process(corpus):
    """Every reader on every file, in every mode, in a child process that must exit normally."""
    root, _ = corpus
    code = f"""
import os, sys
sys.path.insert(0, {os.getcwd()!r})
from dlzoo.data import image_folder
from dlzoo.data.sniff import decode_bytes
root = {root!r}
for mode, c in (("grayscale", 1), ("rgb", 3), ("rgba", 4)):
    for cache in (True, False):
        train, _, info = image_folder(root, image_size=(8, 8), validation_split=0, color_mode=mode,
                                      progress=False, cache=cache)
        assert sum(int(y.shape[0]) for _, y in train) == len(info.train_files)
    for name in sorted(os.listdir(os.path.join(root, "odd"))):
        with open(os.path.join(root, "odd", name), "rb") as f:
            decode_bytes(f.read(), channels=c, image_size=(8, 8))
print("survived")
"""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "survived" in done.stdout


def test_the_quick_header_reader_agrees_with_pillow(corpus):
    from PIL import Image

    root, names = corpus
    for name in names:
        path = os.path.join(root, "odd", name)
        with open(path, "rb") as f:
            header = sniff(f.read())
        shown = Image.open(path)
        assert (header.width, header.height) == shown.size, name
        assert header.mode == shown.mode, name


def test_a_large_jpeg_is_decoded_at_reduced_scale_the_same_way_everywhere(tmp_path):
    from PIL import Image

    from dlzoo.data import image_folder
    from dlzoo.data.images import tf_resize
    from dlzoo.data.sniff import plan
    from dlzoo.evaluation import read_images

    big = np.kron(picture(), np.ones((8, 8, 1), np.uint8))  # 96x128, smooth
    for cls in ("a", "b"):
        os.makedirs(tmp_path / cls)
        Image.fromarray(big).save(tmp_path / cls / "big.jpg", quality=95)
    data = (tmp_path / "a" / "big.jpg").read_bytes()
    assert plan(sniff(data), (24, 32)) == (TF_JPEG + 2, False)  # 1/4 scale: 24x32, no resize left
    assert plan(sniff(data), (30, 32)) == (TF_JPEG + 1, True)  # never below the target
    train, _, info = image_folder(tmp_path, image_size=(24, 32), validation_split=0,
                                  shuffle=False, progress=False)
    x = next(iter(train))[0].numpy()[info.train_files.index("a/big.jpg")]
    predicted, _, _ = read_images([str(tmp_path / "a" / "big.jpg")], (24, 32, 3))
    np.testing.assert_array_equal(x, predicted[0])
    streamed, _, info2 = image_folder(tmp_path, image_size=(24, 32), validation_split=0,
                                      shuffle=False, progress=False, cache=False)
    np.testing.assert_array_equal(next(iter(streamed))[0].numpy()[info2.train_files.index("a/big.jpg")], x)
    full = tf_resize(reference(tmp_path / "a" / "big.jpg", "rgb"), (24, 32)).numpy()
    # what a full decode + resize gives (Pillow's antialiased bilinear spans 8 source pixels
    # at 1/4, libjpeg's scaled IDCT one 8x8 block's 2x2: they part at the blocks' edges)
    assert np.abs(x - full.astype(np.float32)).mean() < 5
    assert info.train_files and (info.counts == {"a": 1, "b": 1})


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic", "area", "lanczos3"])
def test_every_interpolation_resizes_like_pillow_on_every_route(tmp_path, interpolation):
    """Resized pixels are Pillow's own `Image.resize` with the matching filter, whether
    TensorFlow (PNG) or Pillow (TIFF) decoded the file: one resize on every path."""
    from PIL import Image

    from dlzoo.data import image_folder
    from dlzoo.data.images import INTERPOLATIONS

    rng = np.random.default_rng(1)
    want = {}
    for cls, name in (("a", "x.png"), ("b", "x.tif")):  # decoded by TensorFlow, by Pillow
        os.makedirs(tmp_path / cls)
        arr = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
        arr[::3] = 255  # sharp edges: bicubic and lanczos overshoot [0, 255] and must be clipped
        Image.fromarray(arr).save(tmp_path / cls / name)
        filt = getattr(Image.Resampling, INTERPOLATIONS[interpolation])
        want[f"{cls}/{name}"] = np.asarray(Image.fromarray(arr).resize((14, 9), filt))
    train, _, info = image_folder(tmp_path, image_size=(9, 14), validation_split=0, shuffle=False,
                                  progress=False, interpolation=interpolation)
    got = np.concatenate([x.numpy() for x, _ in train]).astype(np.uint8)
    assert info.skipped == [] and sorted(info.train_files) == sorted(want)
    for i, name in enumerate(info.train_files):
        np.testing.assert_array_equal(got[i], want[name])
