"""The non-editable install: the wheel built from this tree carries all that dlzoo reads at run
time (the recipes as package data, py.typed), so `dlzoo quickstart` and `dlzoo list` run from an
empty folder against the installed copy, not the source tree.

The wheel is built from a copy of only what it is made of (pyproject.toml, README.md, dlzoo/), and
installed with `pip install --no-deps --target`; the commands run with PYTHONPATH pointing there
alone. This is also the quickstart's end-to-end test, as a new user runs it (offline, in an empty
folder): digits exported to a folder, LeNet-5 trained, evaluated, saved with its card and plots,
files predicted; >= 97% validation accuracy within 20 epochs (the recipe allows 60 with early
stopping: about 40 run, 99.1% in the README; 97% is passed from about epoch 14, 98% at 17 to 20).
About 30 CPU-seconds in all (it used to run twice: in-process for 20 epochs and from the wheel for
one)."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from dlzoo.recipes import list_recipes

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False,
                       timeout=600, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{r.stdout[-3000:]}\n" \
                              f"{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT / "dlzoo", src / "dlzoo", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    # Offline: the build uses this environment's setuptools (the test extra pins setuptools>=77).
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", tmp / "dist",
          src])
    (wheel,) = (tmp / "dist").glob("dlzoo-*.whl")
    site = tmp / "site"
    _run([*pip, "install", "--no-deps", "--no-index", "--target", site, wheel])
    empty = tmp / "empty"
    empty.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return SimpleNamespace(wheel=wheel, site=site, cwd=empty, env=env,
                           dlzoo=site / "bin" / "dlzoo")


def test_the_wheel_carries_the_recipes_and_py_typed(installed):
    with zipfile.ZipFile(installed.wheel) as z:
        names = set(z.namelist())
    assert "dlzoo/py.typed" in names
    assert {f"dlzoo/recipes/{r}.yaml" for r in list_recipes()} <= names
    assert list_recipes() and "dlzoo/recipes/lenet5-digits.yaml" in names
    assert not any(n.startswith(("tests/", "benchmarks/", "saved_models/")) for n in names)
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(installed.wheel) as z:
        assert "dlzoo = dlzoo.cli:main" in z.read(entry).decode()


def test_quickstart_reaches_97_percent_and_list_runs_from_an_empty_folder_on_the_installed_copy(installed):
    probe = "import dlzoo, dlzoo.recipes as r; print(dlzoo.__file__); print(len(r.list_recipes()))"
    where = _run([sys.executable, "-c", probe], cwd=installed.cwd, env=installed.env).stdout.split()
    assert Path(where[0]).resolve().is_relative_to(installed.site.resolve()), where
    assert int(where[1]) == len(list_recipes())

    listed = _run([installed.dlzoo, "list"], cwd=installed.cwd, env=installed.env).stdout
    assert "lenet5" in listed and "resnet50" in listed

    out = _run([installed.dlzoo, "quickstart", "--epochs", "20", "--quiet"], cwd=installed.cwd,
               env=installed.env).stdout
    for step in ("1/4 exporting", "2/4 training", "3/4 evaluating", "4/4 reloading"):
        assert step in out
    work = installed.cwd / "dlzoo-quickstart"
    saved = work / "saved_models" / "lenet5-digits"
    card = json.loads((saved / "card.json").read_text())
    assert card["recipe"]["name"] == "lenet5-digits" and card["recipe"]["train"]["epochs"] == 20
    assert card["metrics"]["val_accuracy"] >= 0.97
    assert f"{card['metrics']['val_accuracy']:.2%} validation accuracy" in out
    assert card["data"]["source"].startswith("folder:")
    assert len(list((work / "digits").glob("*/*.png"))) == 1797
    assert {"model.keras", "card.json", "README.md", "history.csv", "curves.png",
            "confusion_matrix.png"} <= set(os.listdir(saved))
    assert "dlzoo predict" in out and str(saved.relative_to(installed.cwd)) in out
    assert out.count(".png: ") >= 5, "predicted a few files"
    assert sorted(p.name for p in installed.cwd.iterdir()) == ["dlzoo-quickstart"]
