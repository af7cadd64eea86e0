import subprocess
import sys

import pytest

from dlzoo.cli import main


def test_list_prints_table(capsys):
    assert main(["list", "vgg*"]) == 0
    out = capsys.readouterr().out
    assert "vgg16" in out and "138.4M" in out and "imagenet" in out
    assert "lenet5" not in out


def test_list_filters_by_family_and_task(capsys):
    assert main(["list", "--family", "mlp"]) == 0
    out = capsys.readouterr().out
    assert "perceptron" in out and "vgg16" not in out


def test_list_no_match_is_an_error(capsys):
    assert main(["list", "zzz*"]) == 2
    assert "no model matches" in capsys.readouterr().err


def test_info(capsys):
    assert main(["info", "VGG-16"]) == 0
    out = capsys.readouterr().out
    assert "138,357,544" in out and "caffe" in out and "block5_pool" in out


def test_build_with_shape(capsys):
    assert main(["build", "lenet5", "--input-shape", "48,48,1", "--num-classes", "3"]) == 0
    out = capsys.readouterr().out
    assert "(None, 48, 48, 1)" in out and "(None, 3)" in out


def test_build_summary(capsys):
    assert main(["build", "lenet5", "--summary"]) == 0
    assert "c5" in capsys.readouterr().out


def test_errors_are_one_line_and_nonzero(capsys):
    assert main(["build", "vgg16", "--input-shape", "8,8,3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dlzoo: error:") and "32x32" in err and "\n" not in err
    assert main(["info", "resnet9000"]) == 2
    assert "Closest names" in capsys.readouterr().err


def test_debug_shows_traceback():
    with pytest.raises(ValueError):
        main(["--debug", "build", "vgg16", "--input-shape", "8,8,3"])


def test_console_script_runs():
    r = subprocess.run([sys.executable, "-m", "dlzoo", "list", "lenet*"], capture_output=True,
                       text=True, check=False)
    assert r.returncode == 0, r.stderr
    assert "lenet5" in r.stdout


def test_evaluate_on_classes_the_model_lacks_is_one_line(tmp_path, capsys):
    from pathlib import Path

    from PIL import Image

    shipped = Path(__file__).resolve().parent.parent / "saved_models" / "lenet5-digits"
    for name in ("3", "cat"):
        (tmp_path / name).mkdir()
        Image.new("L", (32, 32)).save(tmp_path / name / "a.png")
    assert main(["evaluate", str(shipped), str(tmp_path), "--out", str(tmp_path / "ev")]) == 2
    err = capsys.readouterr().err.strip()  # the folder scan may leave a bare newline first
    assert err.startswith("dlzoo: error: the data has class(es) the model does not know: cat;")
    assert len(err.splitlines()) == 1
