"""Faults found by trying dlzoo as users (and adversaries) would (issue 15, items 5-7 and 9-16):
one checked loader for saved models, saves that load back, paths never built from file contents,
refused classes named, hostile recipes, contradictory flags, files that are not files, one error
line for everything, tfds's offline instructions, and a dead tuner worker."""

import json
import os
import re
import shutil
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

import dlzoo
from dlzoo import cli, saving
from dlzoo.commands import list as list_command
from dlzoo.recipes import RecipeError, load_recipe

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "saved_models" / "lenet5-digits"


@pytest.fixture
def shipped(tmp_path):
    """A copy of the shipped lenet5-digits saved model."""
    return Path(shutil.copytree(SHIPPED, tmp_path / "good"))


def _rehash(folder):
    card = json.loads((folder / "card.json").read_text())
    card["sha256"] = saving.sha256(folder / "model.keras")
    (folder / "card.json").write_text(json.dumps(card))


@pytest.fixture
def memory_cap():
    """Caps this process's address space at its present size plus 2 GiB while the test runs
    (soft limit only, restored after), so a regression that reads /dev/zero or allocates a
    huge array fails with MemoryError instead of taking the machine's memory."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as f:
        size = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    cap = size + (2 << 30)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dlzoo: error: "), err
    assert "Traceback" not in err[0]
    return err[0]


# --- 5: one loader, one check, one error line -------------------------------------------------


def test_weights_from_an_altered_saved_model_are_refused(shipped, tmp_path):
    altered = Path(shutil.copytree(shipped, tmp_path / "altered"))
    model = dlzoo.load(shipped)
    inner = model.get_layer("lenet5")
    w = inner.get_weights()
    inner.set_weights([-w[0]] + w[1:])
    model.save(altered / "model.keras")  # card.json keeps the old sha256
    with pytest.raises(ValueError, match="does not match its card: sha256"):
        dlzoo.build("lenet5", input_shape=(32, 32, 1), weights=str(altered))


def test_a_damaged_model_file_is_one_line_everywhere(shipped, capsys):
    data = bytearray((shipped / "model.keras").read_bytes())
    data[len(data) // 2] ^= 1
    (shipped / "model.keras").write_bytes(data)
    _rehash(shipped)  # the card agrees, so the archive itself must be judged
    with pytest.raises(ValueError, match="could not be loaded|not a Keras model archive"):
        dlzoo.load(shipped)
    assert cli.main(["build", "lenet5", "--input-shape", "32,32,1", "--weights",
                     str(shipped)]) == 2
    assert "model.keras" in _one_error_line(capsys)


def test_a_damaged_keras_weights_file_is_a_value_error(tmp_path):
    path = tmp_path / "w.keras"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"Could not load the weights file .*w.keras.*BadZipFile"):
        dlzoo.build("lenet5", input_shape=(32, 32, 1), weights=str(path))


def test_no_module_but_saving_calls_keras_load_model():
    """Every reader of a saved model goes through dlzoo.saving (the sha256 check)."""
    call = re.compile(r"^[^`#]*keras\.(saving|models)\.load_model\(", re.MULTILINE)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "dlzoo").rglob("*.py")
                 if p.name != "saving.py" and call.search(p.read_text())]
    assert offenders == []


# --- 6: save refuses what load cannot read ------------------------------------------------------


class Doubler(keras.layers.Layer):  # deliberately not registered
    def call(self, x):
        return x * 2


def test_save_refuses_a_lambda_layer_and_writes_nothing(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2, name="twice")(inputs))
    with pytest.raises(ValueError, match="'twice' is a Lambda layer"):
        dlzoo.save(model, tmp_path / "m", {"name": "m"})
    assert not (tmp_path / "m").exists() and list(tmp_path.iterdir()) == []


def test_save_refuses_an_unregistered_layer_unless_given_custom_objects(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, Doubler(name="doubler")(inputs))
    with pytest.raises(ValueError, match=r"class Doubler \(module tests.test_faults\).*not registered"):
        dlzoo.save(model, tmp_path / "m", {"name": "m"})
    assert not (tmp_path / "m").exists()
    dlzoo.save(model, tmp_path / "m", {"name": "m"}, custom_objects={"Doubler": Doubler})
    with pytest.raises(ValueError, match=r"Doubler \(module tests.test_faults\)"):
        dlzoo.load(tmp_path / "m")
    loaded = dlzoo.load(tmp_path / "m", custom_objects={"Doubler": Doubler})
    np.testing.assert_allclose(loaded.predict(np.ones((1, 4)), verbose=0), 2.0)


# --- 7: weights=<saved model>/model.keras ------------------------------------------------------


def test_model_keras_of_a_saved_model_is_taken_as_the_saved_model(shipped):
    by_file = dlzoo.build("lenet5", input_shape=(32, 32, 1), weights=str(shipped / "model.keras"))
    by_folder = dlzoo.build("lenet5", input_shape=(32, 32, 1), weights=str(shipped))
    for a, b in zip(by_file.get_weights(), by_folder.get_weights()):
        np.testing.assert_array_equal(a, b)
    from dlzoo.transfer.extract import resolve_source

    src = resolve_source("lenet5", weights=str(shipped / "model.keras"))
    assert src.card is not None and src.card["sha256"] == saving.sha256(shipped / "model.keras")
    loaded = dlzoo.load(shipped / "model.keras")  # the file of a saved model: its card is checked
    assert loaded.count_params() == dlzoo.load(shipped).count_params()


# --- 9: output paths never come from file contents ----------------------------------------------


@pytest.mark.parametrize("model_field", ["../../../../escaped", "/etc/x", "a/b", "..", "", 7,
                                         "lenet5"])
def test_finetune_default_output_stays_in_saved_models(shipped, tmp_path, model_field,
                                                       monkeypatch, capsys):
    card = json.loads((shipped / "card.json").read_text())
    card["model"] = model_field
    (shipped / "card.json").write_text(json.dumps(card))
    (tmp_path / "photos").mkdir()
    seen = []

    def fake_fine_tune(source, directory, *, out, **kwargs):
        seen.append(out)
        raise ValueError("stop here")

    import dlzoo.transfer

    monkeypatch.setattr(dlzoo.transfer, "fine_tune", fake_fine_tune)
    assert cli.main(["finetune", str(tmp_path / "photos"), "--model", str(shipped)]) == 2
    out = Path(seen[0])
    assert out.parent == Path("saved_models") and not out.name.startswith(".")
    assert out.name == ("photos-lenet5" if model_field == "lenet5" else "photos-good")
    assert saving.default_finetune_out("../..", "lenet5").parent == Path("saved_models")


@pytest.mark.parametrize("given", ["..", ".", "../..", "/", "a/b/"])
def test_folder_names_are_one_safe_component(given):
    name = saving.folder_name(given)
    assert name and os.sep not in name and not name.startswith(".")


def test_evaluate_of_dotdot_writes_inside_evaluations(shipped, monkeypatch):
    from dlzoo.evaluation import evaluate_saved_model

    (shipped / "sub").mkdir()
    monkeypatch.chdir(shipped / "sub")
    result = evaluate_saved_model("..", "digits", split="val")
    assert Path(result.out) == Path("evaluations") / "good"
    assert (shipped / "sub" / "evaluations" / "good" / "report.json").is_file()
    assert not (shipped / "sub" / "report.json").exists()


# --- 10: a refused class is named ----------------------------------------------------------------


def test_an_unknown_class_in_a_model_file_is_named_with_its_module(shipped):
    plain = shipped / "model.keras"
    evil = shipped / "evil.keras"
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(evil, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                text = data.decode()
                config = json.loads(text)
                layer = config["config"]["layers"][-1]
                layer.update(class_name="EvilLayer", module="evil_pkg.layers",
                             registered_name="evil>EvilLayer")
                data = json.dumps(config).encode()
            zout.writestr(item, data)
    os.replace(evil, plain)
    _rehash(shipped)
    with pytest.raises(ValueError, match=r"evil>EvilLayer \(module evil_pkg.layers\); refusing"):
        dlzoo.load(shipped)


# --- 11: recipes: no aliases, every key typed, limits -------------------------------------------


def _recipe(tmp_path, text):
    path = tmp_path / "r.yaml"
    base = (ROOT / "dlzoo" / "recipes" / "mlp-xor.yaml").read_text().split("expect:")[0]
    path.write_text(base + text)
    return path


def test_recipe_anchors_and_aliases_are_refused(tmp_path):
    laughs = "expect:\n  source:\n    - &l0 [lol, lol]\n    - &l1 [*l0, *l0]\n"
    with pytest.raises(RecipeError, match="anchors or aliases"):
        load_recipe(_recipe(tmp_path, laughs), check_registry=False)
    with pytest.raises(RecipeError, match="anchors or aliases"):
        load_recipe(_recipe(tmp_path, "x: &a 1\n"), check_registry=False)


@pytest.mark.parametrize("text,key", [
    ("expect:\n  source: [a, b]\n", "expect.source"),
    ("expect:\n  source: {x: 1}\n", "expect.source"),
])
def test_expect_source_must_be_a_string(tmp_path, text, key):
    with pytest.raises(RecipeError, match=re.escape(key)):
        load_recipe(_recipe(tmp_path, text), check_registry=False)


@pytest.mark.parametrize("override,key", [
    ("train.epochs=1000000000000", "train.epochs"),
    ("data.batch_size=100000000", "data.batch_size"),
    ("data.seed=99999999999", "data.seed"),
    ("train.learning_rate=.inf", "train.learning_rate"),
    ("model_args.when=2020-01-01", "model_args.when"),
    ("data.n=.nan", "data.n"),
])
def test_recipe_numbers_have_limits_and_values_have_types(tmp_path, override, key):
    with pytest.raises(RecipeError, match=re.escape(key)):
        load_recipe(_recipe(tmp_path, ""), overrides=[override], check_registry=False)


def test_shipped_recipes_still_load():
    from dlzoo.recipes import list_recipes

    for name in list_recipes():
        load_recipe(name, check_registry=False)


# --- 12: contradictory flags ---------------------------------------------------------------------


@pytest.mark.parametrize("argv,words", [
    (["tune", "nowhere.yaml", "--resume", "--overwrite"], "--resume and --overwrite contradict"),
    (["train", "nowhere.yaml", "--resume", "--folds", "3"], "--resume and --folds contradict"),
    (["train", "nowhere.yaml", "--save-folds", "all"], "--save-folds only applies with --folds"),
    (["evaluate", "m", "d", "--epsilon", "0.1"], "--epsilon only applies with --adversarial"),
    (["quickstart", "--full"], "--full only applies with --transfer"),
    (["datasets", "list", "--overwrite"], "--overwrite only applies with the export action"),
    (["finetune", "d", "--model", "lenet5", "--epochs", "0", "--lr", "0.1"],
     "--lr and --epochs 0 contradict"),
    (["doctor", "d", "--json", "--limit", "5"], "--json and --limit contradict"),
    (["quickstart", "--transfer", "--epochs", "3"], "--epochs and --transfer contradict"),
    (["datasets", "list", "digits"], "NAME only applies with the export action"),
    (["finetune", "d", "--model", "lenet5", "--augment", "--cache-dir", "c"],
     "--augment and --cache-dir contradict"),
])
def test_contradictory_flags_are_refused_before_anything_runs(argv, words, capsys):
    assert cli.main(argv) == 2
    assert words in _one_error_line(capsys)


def test_builder_arguments_with_a_saved_model_are_refused(shipped, tmp_path, capsys):
    (tmp_path / "photos").mkdir()
    argv = ["finetune", str(tmp_path / "photos"), "--model", str(shipped), "--set", "activation=relu"]
    assert cli.main(argv) == 2
    assert "--set builds a registry model" in _one_error_line(capsys)


@pytest.mark.parametrize("argv,words", [
    (["finetune", "d", "--model", "lenet5", "--epochs", "1000000000000"], "--epochs must be from 0"),
    (["tune", "r.yaml", "--workers", "5000"], "--workers must be from 1 to 256"),
    (["tune", "r.yaml", "--max-trials", "0"], "--max-trials must be from 1"),
    (["predict", "m", "f.png", "--top-k", "-1"], "--top-k must be from 1 to 1000"),
    (["evaluate", "m", "d", "--batch-size", "0"], "--batch-size must be from 1"),
    (["build", "lenet5", "--input-shape", "100000,32,1"], "every size must be from 1 to 16384"),
    (["finetune", "d", "--model", "lenet5", "--image-size", "0"], "every size must be from 1"),
    (["doctor", "d", "--validation-split", "3"], "--validation-split must be from 0 to 0.95"),
])
def test_numeric_flags_have_limits(argv, words, capsys):
    assert cli.main(argv) == 2
    assert words in _one_error_line(capsys)


# --- 13: tfds offline instructions ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["imdb_reviews", "imdb_reviews/plain_text:1.0.0", "mnist"])
def test_offline_instructions_name_the_data_dir_tfds_reads(name, tmp_path, monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    from dlzoo.data import tfds_sources

    builder = tfds.builder(name, data_dir=str(tmp_path / "tfds"))  # no download
    monkeypatch.setattr(tfds_sources, "network_available", lambda *a, **k: False)
    with pytest.raises(ConnectionError) as caught:
        tfds_sources._ensure_prepared(builder, name, None)
    root = re.search(r"--data_dir (\S+)`", str(caught.value)).group(1)
    assert os.path.join(root, builder.info.full_name) == os.fspath(builder.data_dir)
    assert tfds_sources.data_dir_root(builder) == root == str(tmp_path / "tfds")


# --- 14: regular files only, with a size cap -----------------------------------------------------


def test_user_files_must_be_regular_and_small(tmp_path):
    from dlzoo.userfiles import check_regular_file, read_bytes

    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="FIFO"):
        read_bytes(fifo, max_bytes=100, what="image")  # returns at once: no writer needed
    with pytest.raises(ValueError, match="device"):
        read_bytes("/dev/zero", max_bytes=100, what="image")
    big = tmp_path / "big.png"
    big.write_bytes(b"x" * 101)
    with pytest.raises(ValueError, match="more than the 100 bytes"):
        check_regular_file(big, max_bytes=100, what="image")
    assert read_bytes(big, max_bytes=101) == b"x" * 101


def test_predict_skips_dev_zero_and_fifos_by_name(tmp_path, capsys, memory_cap):
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    assert cli.main(["predict", str(SHIPPED), "/dev/zero", str(fifo)]) == 2
    err = capsys.readouterr().err
    assert "/dev/zero: skipped: the image is a device" in err
    assert f"{fifo}: skipped: the image is a FIFO" in err


def test_an_oversized_file_in_an_image_folder_is_skipped_by_name(tmp_path):
    from dlzoo.data.listing import list_files
    from dlzoo.userfiles import IMAGE_MAX_BYTES

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "ok.png").write_bytes(b"png")
    with open(tmp_path / "a" / "huge.png", "wb") as f:
        f.truncate(IMAGE_MAX_BYTES + 1)  # sparse: no disk used
    _, entries, skipped = list_files(str(tmp_path))
    assert [e[0] for e in entries] == ["a/ok.png"]
    why = f"{IMAGE_MAX_BYTES + 1:,} bytes, more than the 256 MiB an image may have"
    assert skipped == [("a/huge.png", why)]


def test_an_oversized_card_is_refused_before_reading(shipped, monkeypatch):
    import dlzoo.userfiles

    card = json.loads((shipped / "card.json").read_text())
    card["description"] = "x" * 5000
    (shipped / "card.json").write_text(json.dumps(card))
    monkeypatch.setattr(dlzoo.userfiles, "CARD_MAX_BYTES", 4096)
    with pytest.raises(ValueError, match="the card is .* more than the 4 KiB"):
        saving.read_card(shipped)


# --- 15: one line for any exception --------------------------------------------------------------


@pytest.mark.parametrize("error", [MemoryError(), zipfile.BadZipFile("File is not a zip file"),
                                   RuntimeError("boom\nsecond line")])
def test_any_exception_ends_in_one_line_with_the_debug_hint(error, monkeypatch, capsys):
    def fail(args):
        raise error

    monkeypatch.setattr(list_command, "run", fail)
    assert cli.main(["list"]) == 1
    line = _one_error_line(capsys)
    assert type(error).__name__ in line and "--debug" in line
    with pytest.raises(type(error)):
        cli.main(["--debug", "list"])


def test_synthetic_sizes_are_refused_before_allocating(memory_cap):
    from dlzoo.data import synthetic

    with pytest.raises(ValueError, match="n \\(number of samples\\)"):
        synthetic.generate("shapes", n=100_000_000_000)
    with pytest.raises(ValueError, match="GiB"):
        synthetic.generate("shapes", n=1_000_000, image_size=(512, 512))


# --- 16: a dead worker costs only its own trial --------------------------------------------------

FAKE_TUNER = r"""
import os, sys, time
from pathlib import Path
me, work = os.environ["KERASTUNER_TUNER_ID"], Path(sys.argv[1])
if me == "chief":
    time.sleep(60)
if me == "tuner1" and ((work / "die-always").exists() or not (work / "tuner1-died").exists()):
    (work / "tuner1-died").touch()
    sys.exit(3)
time.sleep(1.5)
(work / f"{me}-done").write_text(os.environ["KERASTUNER_TUNER_ID"])
"""


def test_a_dead_worker_is_started_again_and_the_others_keep_running(tmp_path):
    from dlzoo.tuning.distributed import launch

    script = tmp_path / "fake.py"
    script.write_text(FAKE_TUNER)
    lines = []
    result = launch([str(tmp_path)], workers=2, log_dir=tmp_path / "logs", echo=lines.append,
                    command=[sys.executable, str(script)], chief_grace=0.1)
    assert result["deaths"] == [("tuner1", 3)]
    assert result["tuner0"] == 0 and result["tuner1"] == 0
    assert (tmp_path / "tuner0-done").exists() and (tmp_path / "tuner1-done").exists()
    assert sum(line.startswith("started tuner0") for line in lines) == 1
    assert sum(line.startswith("started tuner1") for line in lines) == 2
    assert any("tuner1 exited with status 3" in line and "Starting tuner1 again" in line
               for line in lines)


def test_a_worker_that_keeps_dying_is_reported_after_the_others_finish(tmp_path):
    from dlzoo.tuning.distributed import WorkerError, launch

    script = tmp_path / "fake.py"
    script.write_text(FAKE_TUNER)
    (tmp_path / "die-always").touch()
    with pytest.raises(WorkerError, match="tuner1 died 2 times; the other workers finished"):
        launch([str(tmp_path)], workers=2, log_dir=tmp_path / "logs", echo=None, restarts=1,
               command=[sys.executable, str(script)], chief_grace=0.1)
    assert (tmp_path / "tuner0-done").exists()



@pytest.mark.slow
def test_a_worker_killed_mid_trial_loses_no_trial(tmp_path):
    """kill -9 one of two real keras-tuner workers in the middle of its trial: the other keeps
    going, the dead one is started again and finishes the same trial; every trial completes."""
    import signal

    from tests._tuning import start_tune_workers, tiny_recipe, trial_states

    trials = 4
    recipe = tiny_recipe(tmp_path, name="killed", trials=trials, epochs=3, retrain=True)
    out = tmp_path / "out"
    proc = start_tune_workers(recipe, out)
    lines, pid, killed = [], None, False
    try:
        for line in proc.stdout:
            lines.append(line)
            found = re.match(r"started tuner1 \(pid (\d+)", line)
            if found and pid is None:
                pid = int(found.group(1))
            if not killed and pid and line.startswith("[tuner1]") and "Epoch 2/" in line:
                os.kill(pid, signal.SIGKILL)  # in the middle of its trial
                killed = True
        proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    output = "".join(lines)
    assert killed, output[-3000:]
    assert proc.returncode == 0, output[-3000:]
    assert "tuner1 exited with status -9" in output and "Starting tuner1 again" in output
    states = trial_states(out / ".tuning" / "killed")
    assert len(states) == trials, states.keys()
    assert all(s["status"] == "COMPLETED" for s in states.values()), states
    card = json.loads((out / "killed" / "card.json").read_text())
    assert card["search"]["workers"] == 2
    assert card["search"]["worker_deaths"] == [{"worker": "tuner1", "exit_status": -9}]
