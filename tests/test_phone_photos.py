"""Phone photos: HEIC/HEIF (pillow-heif) and AVIF (Pillow's own plugin) are read wherever images
are read, as a viewer shows them (rotated by their orientation), or skipped by name with the line
that installs the plugin; `predict` on a folder counts what it could not read, with exit status 3.
"""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "saved_models" / "lenet5-digits"

pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif is a dependency: pip install .")


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def _photo(h=24, w=36, seed=0) -> np.ndarray:
    """A smooth picture (lossy codecs keep it) whose four corners differ: rotation shows."""
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    base = np.stack([x * 255 // w, y * 255 // h, (x + y) * 127 // (w + h)], -1)
    return np.clip(base + rng.integers(-3, 4, base.shape), 0, 255).astype(np.uint8)


def _reference(path) -> np.ndarray:
    """The plugin's own decode, as a viewer shows it (orientation applied), as RGB."""
    pillow_heif.register_heif_opener()
    with Image.open(path) as img:
        return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))


_WRITE = """
import io, sys
from pathlib import Path
import numpy as np
import pillow_heif
from PIL import Image
sys.path.insert(0, sys.argv[1])
from tests.test_phone_photos import _exif, _photo
pillow_heif.register_heif_opener()
root = Path(sys.argv[2])
for rel, fmt, orientation, seed in (("cat/IMG_0001.HEIC", "HEIF", 6, 1), ("cat/IMG_0002.avif", "AVIF", 6, 2),
                                    ("dog/IMG_0004.heic", "HEIF", 3, 4), ("dog/IMG_0005.AVIF", "AVIF", 8, 5)):
    buf = io.BytesIO()
    Image.fromarray(_photo(seed=seed)).save(buf, format=fmt, quality=95, exif=_exif(orientation))
    (root / rel).write_bytes(buf.getvalue())
"""


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """photos/cat: a HEIC and an AVIF rotated by EXIF (6: 90 degrees clockwise), a JPEG;
    photos/dog: the same kinds, orientation 3 (180 degrees) and 8, and a text file. The phone
    photos are written in another process, so that only dlzoo registers the plugin here."""
    root = tmp_path_factory.mktemp("phone") / "photos"
    (root / "cat").mkdir(parents=True)
    (root / "dog").mkdir()
    subprocess.run([sys.executable, "-c", _WRITE, str(ROOT), str(root)], check=True, timeout=120)
    Image.fromarray(_photo(seed=3)).save(root / "cat" / "IMG_0003.JPG", quality=95)
    Image.fromarray(_photo(seed=6)).save(root / "dog" / "IMG_0006.jpg", quality=95)
    (root / "dog" / "notes.txt").write_text("taken on holiday\n")
    return root


PHONE = ["cat/IMG_0001.HEIC", "cat/IMG_0002.avif", "dog/IMG_0004.heic", "dog/IMG_0005.AVIF"]


def test_heic_and_avif_read_rotated_as_the_plugin_decodes_them(photos):
    """The training scan and `predict`'s reader give the plugin's own pixels, orientation applied
    (dlzoo registers the plugin itself: the reference is taken after its reads)."""
    from dlzoo.data.scan import scan
    from dlzoo.evaluation import read_images

    orientation = {"1": 6, "2": 6, "4": 3, "5": 8}
    read = {}
    for rel in PHONE:  # shown sizes: a quarter turn swaps height and width
        h, w = (36, 24) if orientation[rel[-6]] in (6, 8) else (24, 36)
        got, kept, skipped = read_images([photos / rel], (h, w, 3))
        assert skipped == [], skipped
        read[rel] = got[0].astype(np.uint8)
    report, kept = scan(photos, progress=False, image_size=(36, 24), keep="arrays")
    assert [s[0] for s in report.skipped] == ["dog/notes.txt"]
    for rel in PHONE:
        ref = _reference(photos / rel)
        written = _photo(seed=int(rel[-6]))
        rotated = {6: np.rot90(written, -1), 3: np.rot90(written, 2), 8: np.rot90(written, 1)}[
            orientation[rel[-6]]]
        # the reference is the picture as shown: rotated, close to what was written (lossy codec)
        assert ref.shape == rotated.shape
        assert np.abs(ref.astype(int) - rotated).mean() < 6, rel
        assert np.array_equal(read[rel], ref), rel
    # the scan (training, doctor): same pixels at the same size
    by_path = {r.path: i for i, r in enumerate(report.records)}
    for rel in ("cat/IMG_0001.HEIC", "cat/IMG_0002.avif"):  # orientation 6: shown 24 wide, 36 tall
        assert (report.records[by_path[rel]].height, report.records[by_path[rel]].width) == (36, 24)
        assert np.array_equal(kept[by_path[rel]], _reference(photos / rel)), rel


_BLOCK_HEIF = """
import sys
class _NoHeif:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "pillow_heif":
            raise ModuleNotFoundError("No module named 'pillow_heif'", name=name)
sys.meta_path.insert(0, _NoHeif())
"""


def _dlzoo(*args, env_extra=None, without_heif=False, tmp=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    if without_heif:  # a host where pillow-heif is not installed
        (tmp / "sitecustomize.py").write_text(_BLOCK_HEIF)
        env["PYTHONPATH"] = os.pathsep.join([str(tmp), str(ROOT)])
    return subprocess.run([sys.executable, "-m", "dlzoo", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=300, check=False)


def test_predict_on_a_folder_of_phone_photos_reads_them_and_counts_what_it_could_not(photos):
    """`dlzoo predict MODEL photos/` reads the HEIC and AVIF files (no suffix list), names the
    text file, says how many it could not read, and exits 3 (some inputs skipped)."""
    run = _dlzoo("predict", SHIPPED, photos, "--json", "--top-k", "1")
    assert run.returncode == 3, run.stderr
    read = {os.path.relpath(r["file"], photos) for r in json.loads(run.stdout)}
    assert read == {*PHONE, "cat/IMG_0003.JPG", "dog/IMG_0006.jpg"}
    assert "notes.txt: skipped: not an image (text file)" in run.stderr
    assert "read 6 of 7 file(s); 1 could not be read" in run.stderr


def test_without_a_plugin_the_reason_names_the_format_and_the_install_line(photos, monkeypatch):
    """The reason a HEIC/AVIF file is skipped on a host without its plugin (in-process, cheap)."""
    from dlzoo.data import images

    heic, avif = (photos / "cat/IMG_0001.HEIC").read_bytes(), (photos / "cat/IMG_0002.avif").read_bytes()
    monkeypatch.setattr(images, "_module_found", lambda name: False)
    monkeypatch.setattr(images, "_pillow_has_avif", lambda: False)
    assert images._not_an_image(heic) == (
        "HEIC/HEIF photo, which this install cannot read: pip install pillow-heif")
    assert images._not_an_image(avif).startswith("AVIF image, which this Pillow cannot read: pip install")


@pytest.mark.slow  # two CLI processes (about 16 CPU-seconds)
def test_without_pillow_heif_heic_is_skipped_by_name_with_the_install_line(photos, tmp_path):
    """No pillow-heif: `doctor` names each HEIC with `pip install pillow-heif` (the AVIF files are
    still read, by Pillow); `predict` on a folder of only HEIC files reads none: exit 2, counted."""
    run = _dlzoo("doctor", photos, "--json", without_heif=True, tmp=tmp_path)
    assert run.returncode == 0, run.stderr
    skipped = {s["file"]: s["reason"] for s in json.loads(run.stdout)["skipped"]}
    assert set(skipped) == {"cat/IMG_0001.HEIC", "dog/IMG_0004.heic", "dog/notes.txt"}
    assert "pip install pillow-heif" in skipped["cat/IMG_0001.HEIC"]
    assert "HEIC" in skipped["dog/IMG_0004.heic"]
    only_heic = tmp_path / "heic"
    only_heic.mkdir()
    for rel in ("cat/IMG_0001.HEIC", "dog/IMG_0004.heic"):
        (only_heic / os.path.basename(rel)).write_bytes((photos / rel).read_bytes())
    run = _dlzoo("predict", SHIPPED, only_heic, without_heif=True, tmp=tmp_path)
    assert run.returncode == 2
    assert run.stderr.count("pip install pillow-heif") == 2  # each file, by name
    assert "none of the 2 file(s) could be read as an image" in run.stderr


def test_the_exit_statuses_are_listed_in_help():
    from dlzoo.cli import build_parser
    from dlzoo.commands._options import EXIT_SKIPPED

    text = build_parser().format_help()
    assert f"  {EXIT_SKIPPED}    done, but some input files were skipped" in text
    sub = build_parser()._subparsers._group_actions[0].choices
    for name in ("predict", "explain", "evaluate"):
        assert "exit status:" in sub[name].format_help(), name
    readme = (ROOT / "README.md").read_text()
    assert f"| {EXIT_SKIPPED} |" in readme
