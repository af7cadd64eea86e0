"""What a newcomer meets in the first hour (issue 26), run as a user runs it: `dlzoo` in a
subprocess with the environment the CLI really has (no TF_CPP_MIN_LOG_LEVEL set by the test),
on messy inputs. Outputs of the costlier commands are shared through module-scoped fixtures."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "saved_models" / "lenet5-digits"


def user_env(**extra):
    """The environment a user's shell gives `dlzoo`: this checkout on the path, and none of the
    quieter settings the test suite gives itself (conftest sets TF_CPP_MIN_LOG_LEVEL)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def dlzoo(*args, cwd=None, python=sys.executable, timeout=300, **env):
    return subprocess.run([python, "-m", "dlzoo", *map(str, args)], capture_output=True, text=True,
                          env=user_env(**env), cwd=cwd, timeout=timeout, check=False)


def foreign_lines(stderr: str) -> list[str]:
    """Lines on stderr that are not dlzoo's own: its messages start with "dlzoo", or name a file
    it skipped ("PATH: skipped: REASON")."""
    return [line for line in stderr.splitlines() if line.strip()
            and not line.startswith("dlzoo") and ": skipped: " not in line]


# --- 5. nothing but dlzoo's own words on screen -----------------------------------------------


@pytest.fixture(scope="module")
def damaged_folder(tmp_path_factory):
    """Classes a/ and b/ of small JPEGs; in a/ a JPEG cut short by a few bytes (TensorFlow's
    decoder logs "jpeg_mem.cc ... Premature end of JPEG data"), one cut in half (libjpeg's own
    "Corrupt JPEG data" lines) and an empty class c/."""
    from tests._imagefolders import _jpeg, good_image, write_good
    import numpy as np

    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for cls, label in (("a", 0), ("b", 1)):
        for i in range(4):
            write_good(str(root), cls, f"img{i}.jpg", rng, label)
    jpg = _jpeg(good_image(rng, 0, (32, 32)))
    (root / "a" / "short.jpg").write_bytes(jpg[:-30])
    (root / "a" / "half.jpg").write_bytes(jpg[: len(jpg) // 2])
    (root / "c").mkdir()
    return root


def test_import_dlzoo_and_build_print_nothing():
    """A library user: `import dlzoo; dlzoo.build(...)` imports TensorFlow (absl's notice,
    oneDNN, cuda drivers, cpu_feature_guard, cuInit: 10 lines before) and prints none of it."""
    run = subprocess.run([sys.executable, "-c", "import dlzoo; dlzoo.build('lenet5'); print('ok')"],
                         capture_output=True, text=True, env=user_env(), timeout=300, check=False)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
    assert run.stderr.strip() == "", run.stderr


def test_doctor_and_predict_print_only_dlzoo_lines_on_damaged_jpegs(damaged_folder):
    """The damaged files are named by dlzoo; libjpeg's and TensorFlow's decoder lines about them
    ("E0000 ... jpeg_mem.cc:331] Premature end of JPEG data") never reach the screen."""
    doctor = dlzoo("doctor", damaged_folder)
    assert "short.jpg" in doctor.stdout and "half.jpg" in doctor.stdout, doctor.stdout
    assert foreign_lines(doctor.stderr) == [], doctor.stderr
    predict = dlzoo("predict", SHIPPED, damaged_folder)
    assert "short.jpg: skipped" in predict.stderr and "img0.jpg" in predict.stdout
    assert foreign_lines(predict.stderr) == [], predict.stderr
