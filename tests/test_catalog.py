"""The stored registry metadata (dlzoo/models/catalog.json) that `dlzoo list`/`info` read: it matches
the live registry, and the start-up commands import no Keras, no backend and build no model.
The parameter counts are checked against a real build of every model in
tests/models/test_param_counts.py."""

import json
import os
import subprocess
import sys

import pytest

from dlzoo import catalog


def test_stored_catalog_matches_the_live_registry():
    names = catalog.stale()
    assert not names, (
        f"dlzoo/models/catalog.json is stale for {names}: run `{catalog.REGENERATE}` and commit it"
    )


def test_unknown_name_lists_close_matches_like_model_info():
    with pytest.raises(ValueError, match="Closest names: .*vgg16"):
        catalog.entry("vgg-61")
    assert catalog.entry("VGG-16")["params"] == 138_357_544


def test_list_filters_like_list_models():
    from dlzoo import list_models

    for kwargs in ({}, {"pattern": "resnet*"}, {"task": "autoencoder"}, {"family": "VGG"}):
        assert catalog.list_names(**kwargs) == list_models(**kwargs), kwargs
    with pytest.raises(ValueError, match="task must be one of"):
        catalog.list_names(task="nope")


_PROBE = """
import sys
from dlzoo.cli import main
rc = main(sys.argv[1:])
loaded = [m for m in ("keras", "tensorflow", "jax", "torch") if m in sys.modules]
print("LOADED=" + ",".join(loaded))
sys.exit(rc)
"""


@pytest.mark.parametrize("argv", [["--version"], ["list"], ["list", "resnet*"], ["info", "plain_cnn"],
                                  ["info", "vgg16", "--json"], ["datasets", "list"]])
def test_start_up_commands_import_no_backend(argv):
    out = subprocess.run([sys.executable, "-c", _PROBE, *argv], check=False, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "LOADED=\n" in out.stdout, out.stdout[-300:]
    if argv[:2] == ["info", "vgg16"]:
        shown = json.loads(out.stdout.split("LOADED=")[0])
        assert shown["params"] == 138_357_544 and shown["preprocessing"] == "caffe"
    if argv == ["--version"]:
        assert "keras 3." in out.stdout and "backend " in out.stdout


def test_version_names_the_backend_keras_would_use(tmp_path):
    env_probe = "from dlzoo.backends import backend_name; print(backend_name())"
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "torch"}))
    for env, want in (({"KERAS_BACKEND": "jax"}, "jax"), ({"KERAS_HOME": str(tmp_path)}, "torch")):
        out = subprocess.run([sys.executable, "-c", env_probe], check=False, capture_output=True, text=True,
                             env={"PATH": os.environ["PATH"], "HOME": str(tmp_path),
                                  "PYTHONPATH": os.environ.get("PYTHONPATH", ""), **env})
        assert out.stdout.strip() == want, (env, out.stderr)
