"""Run state under kill -9, a full disk and a second run: every file `dlzoo train`, `finetune`
and `tune` write is written whole or not at all, and a resume continues the same run.

The kills are injected at the write itself with strace (`-e inject=SYSCALL:signal=SIGKILL
-P FILE`), not between epochs. dlzoo writes each file under a temporary name
(`dlzoo.files.atomic_path`) with a random part; the process under strace fixes that part to
zeros (`KILLABLE`), so the temporary file a write goes to can be named in advance. A full disk
is the same injection with `error=ENOSPC`.
"""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml

from dlzoo.callbacks import BACKUP_ATTR, backup_path, find_backup, read_backup
from dlzoo.cli import main
from dlzoo.files import RunLock, RunLockedError, write_weights
from dlzoo.training import run_dir_for

ROOT = Path(__file__).resolve().parent.parent
ZERO = "00000000"  # the random part of a temporary name, under KILLABLE
KILLABLE = """
import sys, types, uuid
import dlzoo.files, dlzoo.saving
fixed = types.SimpleNamespace(uuid4=lambda: uuid.UUID(int=0))
dlzoo.files.uuid = dlzoo.saving.uuid = fixed
from dlzoo.cli import main
sys.exit(main(sys.argv[1:]))
"""
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
strace = pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")


def tiny_recipe(directory, epochs=3, name="tiny-run") -> Path:
    """A three-epoch run in seconds: a small CNN on digits at 8x8, with augmentation (random
    state in the model) and a shuffled pipeline (random state in tf.data)."""
    recipe = {
        "name": name, "model": "plain_cnn", "model_args": {"input_shape": [8, 8, 1]},
        "data": {"source": "digits", "image_size": [8, 8], "color_mode": "grayscale",
                 "validation_split": 0.2, "batch_size": 64, "seed": 0},
        "train": {"epochs": epochs, "augment": {"translate": 0.1}},
        "callbacks": {"early_stopping": False, "lr_schedule": "constant"},
    }
    path = Path(directory) / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def dlzoo(*args, inject=None, path=None, timeout=300):
    """Runs `dlzoo ARGS` in a new process; with `inject` ("write:signal=SIGKILL:when=1",
    "write:error=ENOSPC:when=1"), under strace, injected at that syscall on `path`."""
    cmd = [sys.executable, "-c", KILLABLE, *map(str, args)]
    if inject:
        syscall = inject.split(":", 1)[0]
        cmd = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={syscall}",
               "-e", f"inject={inject}", "-P", str(path), *cmd]
    return subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=timeout, check=False)


def killed(proc) -> bool:
    return proc.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL)


def epochs_logged(path):
    with open(path) as f:
        return [int(r["epoch"]) for r in csv.DictReader(f)]


def saved_weights(folder):
    import dlzoo

    return dlzoo.load(folder).get_weights()


def check_resumed(out, name, epochs, proc):
    assert proc.returncode == 0, proc.stderr[-2000:]
    saved = Path(out) / name
    assert epochs_logged(saved / "history.csv") == list(range(epochs)), "each epoch once"
    card = json.loads((saved / "card.json").read_text())
    assert card["training"]["epochs_run"] == epochs
    # The optimizer's step count is the witness that no epoch ran twice (issue 15, item 2).
    import dlzoo

    model = dlzoo.load(saved)
    assert int(model.optimizer.iterations) == epochs * card["training"]["steps_per_epoch"]
    assert not (Path(out) / ".runs").exists(), "run state removed once saved"
    return card


# --- dlzoo train ---------------------------------------------------------------------------------


@pytest.mark.slow  # 22 CPU-s: the slow leg runs the resume and fault tests first
@strace
def test_kill_9_in_the_middle_of_a_backup_write_resumes_from_the_one_before(tmp_path):
    recipe, out = tiny_recipe(tmp_path), tmp_path / "out"
    backup = run_dir_for(out, "tiny-run") / "backup"
    tmp = backup / f".epoch-00002.tmp-{ZERO}.weights.h5"
    proc = dlzoo("train", recipe, "--output", out, "--quiet",
                 inject="write:signal=SIGKILL:when=1", path=tmp)
    assert killed(proc), proc.stderr[-2000:]
    assert sorted(p.name for p in backup.iterdir()) == [tmp.name, "epoch-00001.weights.h5"]
    resumed = dlzoo("train", recipe, "--output", out, "--resume")
    card = check_resumed(out, "tiny-run", 3, resumed)
    assert "resuming tiny-run after epoch 1 of 3" in resumed.stdout
    assert card["training"]["resumed_from_epoch"] == 1


@pytest.mark.slow
@strace
@pytest.mark.parametrize("kill_at", [1, 2])
def test_a_run_killed_and_resumed_ends_with_the_weights_of_one_never_killed(tmp_path, kill_at):
    """Issue 15, item 4: the random-number state (augmentation's seed generators, the shuffle
    order of the pipeline, Python's and NumPy's) is saved with each backup and restored."""
    recipe, out = tiny_recipe(tmp_path), tmp_path / "out"
    reference = dlzoo("train", recipe, "--output", tmp_path / "ref", "--quiet")
    assert reference.returncode == 0, reference.stderr[-2000:]
    tmp = run_dir_for(out, "tiny-run") / "backup" / f".epoch-{kill_at + 1:05d}.tmp-{ZERO}.weights.h5"
    assert killed(dlzoo("train", recipe, "--output", out, "--quiet",
                        inject="write:signal=SIGKILL:when=1", path=tmp))
    check_resumed(out, "tiny-run", 3, dlzoo("train", recipe, "--output", out, "--resume"))
    for a, b in zip(saved_weights(tmp_path / "ref" / "tiny-run"), saved_weights(out / "tiny-run")):
        np.testing.assert_array_equal(a, b)


# Every file a run writes: where the kill lands (a path under OUTPUT, the syscall, which call).
RUN_FILES = {
    "history.csv (mid-log)": (".runs/tiny-run/history.csv", "write", 3),
    "state.json": (f".runs/tiny-run/state/.state.tmp-{ZERO}.json", "write", 1),
    "best.weights.h5": (f".runs/tiny-run/.best.tmp-{ZERO}.weights.h5", "write", 1),
    "last backup": (f".runs/tiny-run/backup/.epoch-00003.tmp-{ZERO}.weights.h5", "write", 1),
    "final.weights.h5": (f".runs/tiny-run/.final.tmp-{ZERO}.weights.h5", "write", 1),
    "saved model.keras": (".tiny-run.tmp-000000000000/model.keras", "write", 1),
    "saved card.json": (".tiny-run.tmp-000000000000/card.json", "write", 1),
}


@pytest.mark.slow
@strace
@pytest.mark.parametrize("where", list(RUN_FILES))
def test_kill_9_during_any_write_of_a_run_then_resume(tmp_path, where):
    rel, syscall, when = RUN_FILES[where]
    recipe, out = tiny_recipe(tmp_path), tmp_path / "out"
    proc = dlzoo("train", recipe, "--output", out, "--quiet",
                 inject=f"{syscall}:signal=SIGKILL:when={when}", path=out / rel)
    assert killed(proc), f"the kill did not land: {proc.stderr[-2000:]}"
    assert not (out / "tiny-run").exists()
    check_resumed(out, "tiny-run", 3, dlzoo("train", recipe, "--output", out, "--resume"))


@pytest.mark.slow
@strace
def test_kill_9_while_the_recipe_is_written_leaves_nothing_to_resume_and_a_clean_restart(
        tmp_path):
    recipe, out = tiny_recipe(tmp_path), tmp_path / "out"
    tmp = out / ".runs" / "tiny-run" / f".recipe.tmp-{ZERO}.json"
    assert killed(dlzoo("train", recipe, "--output", out, "--quiet",
                        inject="write:signal=SIGKILL:when=1", path=tmp))
    again = dlzoo("train", recipe, "--output", out, "--resume")
    assert again.returncode == 2 and "no unfinished run of 'tiny-run'" in again.stderr
    assert dlzoo("train", recipe, "--output", out, "--quiet").returncode == 0


@pytest.mark.slow
@strace
@pytest.mark.parametrize("file", ["backup", "final"])
def test_a_full_disk_is_one_line_and_the_run_resumes_once_space_is_back(tmp_path, file):
    """Issue 15, item 2: ENOSPC during a weights write (was: error, then SIGSEGV, exit 139,
    and a torn file every resume failed on)."""
    recipe, out = tiny_recipe(tmp_path), tmp_path / "out"
    run = run_dir_for(out, "tiny-run")
    tmp = (run / "backup" / f".epoch-00002.tmp-{ZERO}.weights.h5" if file == "backup"
           else run / f".final.tmp-{ZERO}.weights.h5")
    full = dlzoo("train", recipe, "--output", out, "--quiet",
                 inject="write:error=ENOSPC:when=1", path=tmp)
    assert full.returncode == 2, full.stderr[-2000:]
    last = full.stderr.strip().splitlines()[-1]
    assert last.startswith("dlzoo: error: no space left on the device while writing")
    assert "Traceback" not in full.stderr
    assert not tmp.exists(), "the partial file is removed"
    check_resumed(out, "tiny-run", 3, dlzoo("train", recipe, "--output", out, "--resume"))


def _tiny_model(steps=2):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.5),
                              keras.layers.Dense(2)])
    model.compile("adam", "mse")
    model.fit(np.ones((8 * steps, 4)), np.zeros((8 * steps, 2)), batch_size=8, verbose=0)
    return model


def test_a_backup_whose_weights_and_epoch_disagree_is_skipped_with_a_note(tmp_path):
    """Issue 15, items 1-2 at the unit level: a torn backup, or one whose optimizer step count
    is not the one recorded with its epoch, is never resumed from."""
    model = _tiny_model()
    steps = int(model.optimizer.iterations)
    for epoch in (1, 2, 3):
        meta = {"epoch": epoch, "iterations": steps if epoch != 3 else steps + 1}
        write_weights(model, backup_path(tmp_path, epoch), attrs={BACKUP_ATTR: json.dumps(meta)})
    with pytest.raises(ValueError, match="optimizer step 2, its record says 3"):
        read_backup(backup_path(tmp_path, 3))
    data = backup_path(tmp_path, 2).read_bytes()
    backup_path(tmp_path, 2).write_bytes(data[: len(data) // 3])  # torn
    notes = []
    assert find_backup(tmp_path, log=notes.append) == (1, backup_path(tmp_path, 1))
    assert len(notes) == 2 and all("falling back to the state after epoch 1" in n for n in notes)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-00001.weights.h5"]


def _hold_lock(path):
    """A process that takes the lock at `path` and waits; returns it once it holds it."""
    code = ("import sys, time; from dlzoo.files import RunLock\n"
            f"RunLock({str(path)!r}, 'test').acquire(); print('held', flush=True); "
            "time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code], env=ENV, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_run_of_the_same_name_is_refused_and_a_dead_runs_lock_taken_over(
        tmp_path, capsys):
    """Issue 15, item 3."""
    recipe, out = tiny_recipe(tmp_path), tmp_path / "out"
    lock = out / ".runs" / "tiny-run.lock"
    holder = _hold_lock(lock)
    try:
        assert main(["train", str(recipe), "--output", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err == (f"dlzoo: error: another run of tiny-run is in progress (pid {holder.pid}"
                       f"; lock {lock}); wait for it to finish, or stop it first")
        assert main(["train", str(recipe), "--output", str(out), "--resume"]) == 2
        assert f"in progress (pid {holder.pid}" in capsys.readouterr().err
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert lock.read_text().strip() == str(holder.pid), "a killed holder leaves its file"
    notes = []
    with RunLock(lock, "run of tiny-run", log=notes.append):
        assert lock.read_text().strip() == str(os.getpid())
        with pytest.raises(RunLockedError, match=f"pid {os.getpid()}"):
            RunLock(lock, "run of tiny-run").acquire()
    assert notes == [("note: taking over the lock of an earlier run of tiny-run (pid "
                      f"{holder.pid}, no longer running)")]
    assert not lock.exists(), "released and removed"


# --- dlzoo finetune ------------------------------------------------------------------------------


def _shapes(n=48, size=32):
    from dlzoo.data.datasets import load

    return load("synthetic:shapes", image_size=(size, size), color_mode="rgb", n=n,
                batch_size=16)


def test_finetune_refuses_an_existing_result_before_training(tmp_path, capsys):
    """Issue 15, item 8 (as `tune` and `datasets export`: --overwrite to replace)."""
    folder = tmp_path / "images" / "a"
    folder.mkdir(parents=True)
    out = tmp_path / "result"
    out.mkdir()
    (out / "card.json").write_text("{}")
    start = time.perf_counter()
    assert main(["finetune", str(tmp_path / "images"), "--model", "lenet5",
                 "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"dlzoo: error: {out} already holds a saved model; pass --overwrite to "
        "replace it, or choose another --out.")
    assert time.perf_counter() - start < 5, "refused before anything was loaded or trained"


def test_finetune_keeps_the_phase_that_scored_better_and_says_so(tmp_path):
    from dlzoo.transfer import fine_tune

    from dlzoo import build

    data = _shapes()
    notes = []
    # a network given as a keras.Model is taken as pretrained (random weights from a registry
    # name would train from scratch, in one phase)
    net = build("lenet5", activation="relu", input_shape=(32, 32, 3))
    # phase 2 at a learning rate that wrecks the network: phase 1's weights must be kept
    result = fine_tune(net, data, head_epochs=3,
                       epochs=1, unfreeze="all", learning_rate=5.0, early_stopping=False,
                       verbose=0, log=notes.append, out=tmp_path / "kept")
    m = result.card["metrics"]
    assert m["phase1_val_accuracy"] > m["phase2_val_accuracy"]
    kept = result.card["training"]["kept"]
    assert kept["phase"] == "phase1" and kept["reason"].startswith("better on validation")
    assert m["val_accuracy"] == pytest.approx(m["phase1_val_accuracy"], abs=1e-6)
    assert any(n.startswith("keeping phase 1's weights") for n in notes)
    card = json.loads((tmp_path / "kept" / "card.json").read_text())
    assert card["training"]["kept"]["phase"] == "phase1"


@pytest.mark.slow
@strace
def test_kill_9_while_finetune_saves_leaves_the_earlier_model_whole(tmp_path):
    from dlzoo.saving import read_card

    images = tmp_path / "images"
    for c, value in (("dark", 40), ("light", 210)):
        (images / c).mkdir(parents=True)
        for i in range(12):
            from PIL import Image

            rng = np.random.default_rng(i)
            pixels = np.clip(value + rng.normal(0, 20, (32, 32)), 0, 255).astype("uint8")
            Image.fromarray(pixels).save(images / c / f"{i}.png")
    out = tmp_path / "result"
    args = ["finetune", images, "--model", "lenet5", "--head-epochs", "1", "--epochs", "1",
            "--out", out, "--quiet", "--cache-dir", tmp_path / "cache"]
    assert dlzoo(*args).returncode == 0
    before = read_card(out)["sha256"]
    tmp = tmp_path / ".result.tmp-000000000000" / "model.keras"
    proc = dlzoo(*args, "--overwrite", "--seed", "1", inject="write:signal=SIGKILL:when=1",
                 path=tmp)
    assert killed(proc), proc.stderr[-2000:]
    assert read_card(out)["sha256"] == before
    import dlzoo as zoo

    zoo.load(out)  # the earlier model is whole (its sha256 is checked)
    again = dlzoo(*args, "--overwrite", "--seed", "1")
    assert again.returncode == 0, again.stderr[-2000:]
    assert read_card(out)["sha256"] != before
    assert not list(tmp_path.glob(".result.tmp-*")), "the killed save's folder is cleared"


def test_a_damaged_feature_cache_is_extracted_again(tmp_path, capsys):
    from dlzoo.data.datasets import load
    from dlzoo.transfer import extract_features, feature_extractor

    data = load("synthetic:shapes", image_size=(32, 32), color_mode="grayscale", n=24,
                batch_size=16)
    ext = feature_extractor("lenet5")
    first = extract_features(ext, data, cache_dir=tmp_path)
    first.path.write_bytes(first.path.read_bytes()[:100])  # torn, as by an older dlzoo
    again = extract_features(ext, data, cache_dir=tmp_path)
    assert not again.from_cache and "is unreadable" in capsys.readouterr().out
    assert again.train[0].shape == first.train[0].shape  # (the order is reshuffled)
    assert extract_features(ext, data, cache_dir=tmp_path).from_cache


# --- dlzoo tune ----------------------------------------------------------------------------------


def _search(tmp_path, trials, resume=False):
    from dlzoo.data.datasets import load_arrays
    from dlzoo.tuning import get_hypermodel, search

    data = load_arrays("digits", image_size=(8, 8), color_mode="grayscale", seed=0)
    (x, y), (xv, yv) = data.train, data.val
    hm = get_hypermodel("cnn", input_shape=x.shape[1:], num_classes=10,
                        space={"stages": [1, 2], "convs": 1, "filters": [8, 16],
                               "kernel_size": 3, "fc_units": 16, "dropout": 0.0})
    return search(hm, (x[:256], y[:256]), (xv[:64], yv[:64]), max_trials=trials, epochs=1,
                  directory=tmp_path, project_name="p", resume=resume, verbose=0,
                  log=lambda *a: None)


def test_a_search_resumes_from_an_oracle_state_it_cannot_read(tmp_path, capsys):
    """The known flake of test_tuning_resume (KeyError 'run_times': a kill between
    keras-tuner's own writes): the previous copy of oracle.json and the trials' own files
    carry the search on; no completed trial runs again."""
    from tests._tuning import trial_states

    first = _search(tmp_path, 2)
    assert first.completed == 2
    project = tmp_path / "p"
    records = {p: (project / p / "dlzoo_trial.json").read_text() for p in trial_states(project)}
    state = json.loads((project / "oracle.json").read_text())
    del state["run_times"]
    (project / "oracle.json").write_text(json.dumps(state))
    resumed = _search(tmp_path, 3, resume=True)
    assert "oracle.json is unreadable" in capsys.readouterr().out
    assert resumed.completed == 3
    for trial_dir, text in records.items():
        assert (project / trial_dir / "dlzoo_trial.json").read_text() == text, "not run again"
    oracle = json.loads((project / "oracle.json").read_text())
    assert sorted(oracle["run_times"].values()) == [1, 1, 1]


@pytest.mark.slow
@strace
@pytest.mark.parametrize("file,when", [("oracle.json", 3), ("trial.json", 2)])
def test_kill_9_while_a_search_writes_its_state_then_resume(tmp_path, file, when):
    from tests._tuning import tiny_recipe as tiny_search
    from tests._tuning import trial_states

    recipe, out = tiny_search(tmp_path, name="killed", trials=3), tmp_path / "out"
    project = out / ".tuning" / "killed"
    stem, suffix = file.split(".")
    path = (project / f".{stem}.tmp-{ZERO}.{suffix}" if file == "oracle.json"
            else project / "trial_1" / f".{stem}.tmp-{ZERO}.{suffix}")
    proc = dlzoo("tune", recipe, "--output", out, "--quiet",
                 inject=f"write:signal=SIGKILL:when={when}", path=path)
    assert killed(proc), proc.stdout[-2000:] + proc.stderr[-2000:]
    done = {k for k, v in trial_states(project).items() if v["status"] == "COMPLETED"}
    resumed = dlzoo("tune", recipe, "--output", out, "--quiet", "--resume")
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    states = trial_states(project)
    assert sorted(v["status"] for v in states.values()) == ["COMPLETED"] * 3
    oracle = json.loads((project / "oracle.json").read_text())
    assert all(oracle["run_times"][states[k]["trial_id"]] == 1 for k in done)


def test_a_second_search_or_fine_tune_into_the_same_place_is_refused(tmp_path, capsys):
    """Issue 15, item 3, for the other commands that write a run's state."""
    from tests._tuning import tiny_recipe as tiny_search

    recipe, out = tiny_search(tmp_path, name="busy"), tmp_path / "out"
    holder = _hold_lock(out / ".tuning" / "busy.lock")
    try:
        assert main(["tune", str(recipe), "--output", str(out)]) == 2
        assert (f"another search of busy is in progress (pid {holder.pid}"
                in capsys.readouterr().err)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    images, result = tmp_path / "images", tmp_path / "result"
    (images / "a").mkdir(parents=True)
    holder = _hold_lock(tmp_path / ".runs" / "result.lock")  # the lock `dlzoo train` takes too
    try:
        assert main(["finetune", str(images), "--model", "lenet5", "--out", str(result)]) == 2
        assert (f"another fine-tune into {result} is in progress (pid {holder.pid}"
                in capsys.readouterr().err)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()


@pytest.mark.parametrize("extra", [["--folds", "2"], ["--folds", "2", "--save-folds", "all"],
                                   ["--find-lr", "--use-found-lr"]])
def test_folds_and_a_found_rate_refuse_a_saved_model_before_training(tmp_path, capsys, extra):
    """`--folds` replaced a saved model without --overwrite (a plain train refuses), and
    `--find-lr --use-found-lr` ran the whole range test before refusing it."""
    out = tmp_path / "out"
    names = (["lenet5-digits-fold1", "lenet5-digits-fold2"] if "all" in extra
             else ["lenet5-digits"])
    for name in names:
        (out / name).mkdir(parents=True)
        (out / name / "card.json").write_text("{}")
        (out / name / "model.keras").write_bytes(b"a model")
    start = time.perf_counter()
    assert main(["train", "lenet5-digits", "--output", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"dlzoo: error: {out / names[0]} already holds a saved model; pass "
                          "--overwrite"), err
    assert "\n" not in err
    assert time.perf_counter() - start < 10, "refused before any fold or range test ran"
    for name in names:
        assert (out / name / "model.keras").read_bytes() == b"a model"
