"""What a newcomer meets in the first hour (issue 26), run as a user runs it: `dlzoo` in a
subprocess with the environment the CLI really has (no TF_CPP_MIN_LOG_LEVEL set by the test),
on messy inputs. Outputs of the costlier commands are shared through module-scoped fixtures."""

import json
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


# Lines other programs write: absl's (TensorFlow, XLA: "E0000 00:00:... jpeg_mem.cc:331] ..."),
# absl's InitializeLog notice and cpu_feature_guard's second line, libjpeg's and libpng's own,
# Python's warnings with their file:line, and tracebacks.
FOREIGN = re.compile(
    r"^([IWEF]\d{4} \S+\s+\d+ \S+:\d+\]|WARNING: All log messages before absl|To enable the "
    r"following instructions|Corrupt JPEG|Premature end of JPEG|Unsupported marker|Improper call "
    r"to JPEG|Invalid JPEG|Not a JPEG|libpng |Traceback |Exception ignored)|\.py:\d+: \w*Warning")


def foreign_lines(stderr: str) -> list[str]:
    """Lines on stderr that are not dlzoo's own but another program's."""
    return [line for line in stderr.splitlines() if FOREIGN.search(line)]


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
    """A library user: `import dlzoo` then Keras (as `dlzoo.build` does) imports TensorFlow (absl's notice,
    oneDNN, cuda drivers, cpu_feature_guard, cuInit: 10 lines before) and prints none of it."""
    run = subprocess.run([sys.executable, "-c", "import dlzoo, keras; print('ok')"],
                         capture_output=True, text=True, env=user_env(), timeout=300, check=False)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
    assert run.stderr.strip() == "", run.stderr


@pytest.mark.slow  # 11 CPU-s; the default run keeps the other damaged-input tests
def test_doctor_and_predict_print_only_dlzoo_lines_on_damaged_jpegs(damaged_folder):
    """The damaged files are named by dlzoo; libjpeg's and TensorFlow's decoder lines about them
    ("E0000 ... jpeg_mem.cc:331] Premature end of JPEG data") never reach the screen."""
    doctor = dlzoo("doctor", damaged_folder)
    assert "short.jpg" in doctor.stdout and "half.jpg" in doctor.stdout, doctor.stdout
    assert foreign_lines(doctor.stderr) == [], doctor.stderr
    predict = dlzoo("predict", SHIPPED, damaged_folder)
    assert "short.jpg: skipped" in predict.stderr and "img0.jpg" in predict.stdout
    assert foreign_lines(predict.stderr) == [], predict.stderr


# --- 3. wrong paths and words get dlzoo's words, with the closest valid one -------------------


def _error(run) -> str:
    """The one error line of a failed command (exit 2), with no usage block or traceback."""
    assert run.returncode == 2, (run.returncode, run.stdout, run.stderr)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    return lines[0]


def test_a_misspelt_builder_argument_gets_the_closest_and_the_accepted_ones():
    line = _error(dlzoo("build", "lenet5", "--set", "activaton=relu"))
    assert "unexpected keyword" not in line and "LeNet()" not in line
    assert "'activaton' (closest: activation)" in line and "subsampling" in line, line


@pytest.mark.parametrize("name", ["lenet5", "resnet50", "vgg16", "text_gru", "mobilenet_v2",
                                  "transformer_encoder"])
def test_every_family_names_the_closest_argument(name):
    """build() reads the accepted arguments from the builder's signature, following a variant's
    **kwargs to its family builder (LeNet, ResNet, VGG, ...); keras.applications families check
    their own with the same message."""
    from dlzoo import build

    with pytest.raises(TypeError, match=r"does not take argument 'num_clases' \(closest: "
                                        r"num_classes\)\. Accepted: .*input_shape"):
        build(name, num_clases=3)


def test_a_misspelt_recipe_gets_the_closest_shipped_name():
    line = _error(dlzoo("train", "lenet5-digit"))
    assert "closest: lenet5-digits" in line and "site-packages" not in line, line
    assert str(ROOT) not in line and "perceptron-xor" not in line, line


def test_image_size_errors_match_the_help_in_one_line():
    line = _error(dlzoo("finetune", ROOT, "--model", "lenet5", "--image-size", "abc"))
    assert "N or HxW" in line and "64,64,3" not in line and "usage:" not in line, line


@pytest.mark.slow  # the default run is at its 12 CPU-min budget
def test_a_mistyped_folder_is_called_a_missing_folder(tmp_path, monkeypatch):
    line = _error(dlzoo("evaluate", SHIPPED, "./photoss", cwd=tmp_path))
    assert "Parsing builder name" not in line and "./photoss: no such folder" in line, line
    # a bare word: a tfds name to tfds, or (without tensorflow-datasets) no tfds at all
    from dlzoo.data import load

    monkeypatch.chdir(tmp_path)
    with pytest.raises((ValueError, ImportError), match="[Nn]o folder.*'photoss'|'photoss' is no "
                                                        "folder"):
        load("photoss")


# --- 4. every follow-up command dlzoo prints works where it is printed -------------------------


def printed_commands(text: str) -> list[tuple[dict, list[str]]]:
    """The command lines in dlzoo's output ("  dlzoo ...", "  KERAS_BACKEND=x dlzoo ..."), as
    (environment assignments, argv after `dlzoo`)."""
    import shlex

    out = []
    for line in text.splitlines():
        words = shlex.split(line.split("     (")[0]) if "dlzoo " in line else []
        env = {}
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            key, _, value = words.pop(0).partition("=")
            env[key] = value
        if words[:1] == ["dlzoo"]:
            out.append((env, words[1:]))
    return out


def run_printed(env: dict, argv: list[str], cwd):
    return dlzoo(*argv, cwd=cwd, **env)


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
    """A tiny fine-tune (lenet5 on 2 classes of small images, one head epoch) and its output."""
    from tests._imagefolders import write_good
    import numpy as np

    root = tmp_path_factory.mktemp("ft")
    rng = np.random.default_rng(1)
    for cls, label in (("cats", 0), ("dogs", 1)):
        for i in range(6):
            write_good(str(root / "my photos"), cls, f"{i}.jpg", rng, label)
    (root / "my photos" / "empty").mkdir()  # warned about, in one line of dlzoo's
    run = dlzoo("finetune", "my photos", "--model", "lenet5", "--image-size", "32",
                "--head-epochs", "1", "--epochs", "0", "--cache-dir", "", "--quiet",
                "--out", "out model", cwd=root)
    assert run.returncode == 0, run.stderr
    return root, run


@pytest.mark.slow
def test_finetunes_closing_hints_run_as_printed(finetuned):
    """evaluate, predict (a real file, not IMAGE...) and export: each exits 0 here. Without
    TensorFlow (the JAX leg) the export line says what it needs instead of a failing command."""
    root, run = finetuned
    assert foreign_lines(run.stderr) == [], run.stderr  # warnings too: no Python file:line
    commands = printed_commands(run.stdout)
    verbs = [argv[0] for _, argv in commands]
    assert verbs[:2] == ["evaluate", "predict"], run.stdout
    from dlzoo.backends import has_tensorflow

    assert ("export" in verbs) == has_tensorflow(), run.stdout
    for env, argv in commands:
        done = run_printed(env, argv, root)
        assert done.returncode == 0, (argv, done.stderr)


@pytest.mark.slow  # default-run budget (12 CPU-min): an end-to-end CLI run
def test_exports_advice_runs_where_it_is_printed(tmp_path):
    """Export under a backend that is not TensorFlow: where TensorFlow is installed, the error
    gives the command again with KERAS_BACKEND=tensorflow, and it works; where it is not, the
    error does not send the user to a backend that cannot load."""
    from dlzoo.backends import has_tensorflow

    line = _error(dlzoo("export", SHIPPED, "--out", tmp_path / "sm", cwd=tmp_path,
                        KERAS_BACKEND="jax"))
    if not has_tensorflow():
        assert "KERAS_BACKEND=tensorflow" not in line and "not installed here" in line, line
        return
    [(env, argv)] = printed_commands(line.split("run it again as: ", 1)[1])
    assert env == {"KERAS_BACKEND": "tensorflow"}, line
    done = run_printed(env, argv, tmp_path)
    assert done.returncode == 0 and (tmp_path / "sm" / "saved_model.pb").is_file(), done.stderr
    # 7. USAGE.md holds no absolute path (the export is copied elsewhere) and says to decode
    # photos upright; the same command again does not replace the export silently
    usage = (tmp_path / "sm" / "USAGE.md").read_text()
    assert str(tmp_path) not in usage and "EXIF" in usage, usage
    line = _error(run_printed(env, argv, tmp_path))
    assert "already holds an export" in line and "--overwrite" in line, line


# --- 2. one Ctrl-C stops every command within seconds and says how to resume -----------------


def interrupted(argv, cwd, *, when: str | None, python=sys.executable, limit=25.0):
    """Starts `dlzoo ARGV`, sends it one SIGINT once `when` is in its output (None: at once,
    during start-up), and returns (exit status, seconds it took to stop, stdout, stderr)."""
    import signal
    import time

    out, err = Path(cwd) / "stdout.txt", Path(cwd) / "stderr.txt"
    with open(out, "w") as fo, open(err, "w") as fe:
        proc = subprocess.Popen([python, "-m", "dlzoo", *map(str, argv)], stdout=fo, stderr=fe,
                                env=user_env(), cwd=cwd)
        deadline = time.monotonic() + 600
        while when is not None and when not in out.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.2)
        if when is None:
            time.sleep(3)
        assert proc.poll() is None, (out.read_text(), err.read_text())  # still running
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        try:
            code = proc.wait(timeout=limit + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        seconds = time.monotonic() - start
    return code, seconds, out.read_text(), err.read_text()


def resume_command(stderr: str):
    """The command the closing line gives, as (env, argv)."""
    line = [x for x in stderr.splitlines() if x.startswith("dlzoo: interrupted")][-1]
    assert "resume with: " in line, line
    [(env, argv)] = printed_commands(line.split("resume with: ", 1)[1])
    return env, argv


TRAIN = ["train", "lenet5-digits", "--set", "train.epochs=2", "--output", "runs"]


def test_one_ctrl_c_stops_train_and_says_how_to_resume(tmp_path):
    """SIGINT during the first epoch: `dlzoo train` ends within seconds (exit 130) with one line
    naming the exact command that resumes it, and that run's state is on disk."""
    code, seconds, _, err = interrupted(TRAIN, tmp_path, when="Epoch 1/")
    assert code == 130 and seconds < 20, (code, seconds, err)
    env, argv = resume_command(err)
    assert argv[:2] == ["train", "lenet5-digits"] and argv[-1] == "--resume", argv
    assert (tmp_path / "runs" / ".runs" / "lenet5-digits" / "recipe.json").is_file()
    assert "Traceback" not in err and "Exception ignored" not in err, err


@pytest.mark.slow
@pytest.mark.parametrize("when", [None, "Epoch 1/", "Epoch 2/"])
def test_ctrl_c_at_several_moments_of_train_then_resume(tmp_path, when):
    """Start-up (nothing to resume yet: it says so), the first and the second epoch: each stops
    within seconds; the printed resume command then finishes the run."""
    code, seconds, _, err = interrupted(TRAIN, tmp_path, when=when)
    assert code == 130 and seconds < 20, (code, seconds, err)
    if when is None and "nothing to resume yet" in err:
        return
    env, argv = resume_command(err)
    done = run_printed(env, argv, tmp_path)
    assert done.returncode == 0 and "Saved to runs/lenet5-digits/" in done.stdout, done.stderr


@pytest.mark.slow
def test_ctrl_c_during_folds_says_they_do_not_resume_and_leaves_no_state(tmp_path):
    """`train --folds`: a Ctrl-C after the first fold said "the run had not started" and left
    the second fold's run folder behind, which nothing resumes or removes."""
    code, seconds, _, err = interrupted(["train", "lenet5-digits", "--folds", "3", "--set",
                                         "train.epochs=3", "--output", "runs"], tmp_path,
                                        when="fold 1/3")
    assert code == 130 and seconds < 20, (code, seconds, err)
    line = [x for x in err.splitlines() if x.startswith("dlzoo: interrupted")][-1]
    assert "(--folds) does not resume; run the same command again" in line, line
    assert not list((tmp_path / "runs").glob(".runs/*-fold*")), "a fold's state was left"


TUNE = ["tune", "cnn-digits-tune", "--tuner", "random", "--max-trials", "2", "--set",
        "tune.epochs=2", "--set", "train.epochs=1", "--output", "runs"]


@pytest.mark.slow
@pytest.mark.parametrize("when", ["search: ", "Epoch 1/"], ids=["at-search", "in-epoch-1"])
def test_one_ctrl_c_stops_tune_then_resume(tmp_path, when):
    """`dlzoo tune`: one SIGINT (JAX's gc callback used to swallow the first) ends the search
    within seconds; the printed command resumes it to the end."""
    code, seconds, _, err = interrupted(TUNE, tmp_path, when=when)
    assert code == 130 and seconds < 20, (code, seconds, err)
    assert "Exception ignored" not in err, err
    env, argv = resume_command(err)
    done = run_printed(env, argv, tmp_path)
    assert done.returncode == 0 and "Saved to runs/cnn-digits-tune/" in done.stdout, done.stderr


@pytest.mark.slow
def test_one_ctrl_c_stops_finetune_then_the_printed_resume_finishes_it(finetuned, tmp_path):
    """`dlzoo finetune` (issue 24): Ctrl-C in phase 2 ends it within seconds (exit 130) with the
    command that resumes it; that command, run as printed, ends the run with both phases."""
    import shutil

    root, _ = finetuned
    shutil.copytree(root / "my photos", tmp_path / "my photos")
    argv = ["finetune", "my photos", "--model", SHIPPED, "--head-epochs", "2", "--epochs", "40",
            "--cache-dir", "", "--out", "resumable"]
    code, seconds, _, err = interrupted(argv, tmp_path, when="phase 2:")
    assert code == 130 and seconds < 20, (code, seconds, err)
    env, resume = resume_command(err)
    assert resume[-1] == "--resume", resume
    done = run_printed(env, resume, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "phase 1: finished before the restart (2 epochs)" in done.stdout, done.stdout
    card = json.loads((tmp_path / "resumable" / "card.json").read_text())
    assert card["training"]["phase1"]["epochs_run"] == 2 and card["training"]["resumed"]


@pytest.fixture
def ctrl_c_state():
    import dlzoo.interrupts

    yield dlzoo.interrupts
    dlzoo.interrupts._PRESSED.clear()  # the flag never clears in a real process; here it must


@pytest.mark.parametrize("after", ["returns", "raises-SystemError"])
def test_a_ctrl_c_taken_for_a_failure_still_ends_the_command(monkeypatch, ctrl_c_state, after):
    """A Ctrl-C raised inside C code comes out as SystemError ("listobject.c: bad argument to
    internal function"), which keras-tuner records as a failed trial and goes on: the command
    then returned 0 with a traceback (CI, stop 29). Whatever a command does with it, exit 130."""
    import signal

    from dlzoo import cli
    from dlzoo.commands import list as list_command

    def command(args):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(100):  # the handler runs between bytecodes
                pass
        except KeyboardInterrupt as e:
            if after == "raises-SystemError":
                raise SystemError("bad argument to internal function") from e
        return 0

    monkeypatch.setattr(list_command, "run", command)
    assert cli.main(["list"]) == 130
    assert ctrl_c_state.pressed()


def test_a_trial_stopped_by_ctrl_c_is_not_recorded_as_failed(tmp_path, ctrl_c_state):
    """The tuner lets the interrupt through (the trial stays unfinished, to run on resume)
    instead of keras-tuner's FAILED-and-go-on."""
    import keras
    import keras_tuner as kt

    from dlzoo.tuning.search import ORACLES, TUNER_CLASSES

    class Interrupted(kt.HyperModel):
        def build(self, hp):
            hp.Int("units", 1, 2)
            return keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])

        def fit(self, hp, model, *args, **kwargs):
            ctrl_c_state.mark_pressed()
            raise SystemError("Objects/listobject.c:338: bad argument to internal function")

    oracle = ORACLES["random"](objective="loss", max_trials=1, seed=0)
    tuner = TUNER_CLASSES["random"](oracle, Interrupted(), directory=str(tmp_path),
                                    project_name="p")
    with pytest.raises(KeyboardInterrupt):
        tuner.search()
    assert [t.status for t in oracle.trials.values()] == ["RUNNING"]


# --- 7. small things a newcomer trips on ------------------------------------------------------


@pytest.mark.parametrize("command, options", [
    ("list", ["--task", "--family"]), ("build", ["--num-classes"]), ("predict", ["--top-k"]),
    ("finetune", ["--batch-size", "--seed", "--validation-split", "--pooling"]),
    ("doctor", ["--seed", "--workers"]), ("evaluate", ["--batch-size"]),
])
def test_every_option_has_a_help_line(command, options):
    run = dlzoo(command, "--help")
    assert run.returncode == 0, run.stderr
    for option in options:
        # "  --option METAVAR  description", or the description on the next line, indented
        line = re.compile(r"^  " + re.escape(option) + r"(?: \S+)?(?: {2,}| *\n {10,})[^-\s]",
                          re.M)
        assert line.search(run.stdout), (option, run.stdout)


def test_info_shows_what_a_user_can_use():
    run = dlzoo("info", "resnet50")
    assert run.returncode == 0, run.stderr
    assert "smoke_overrides" not in run.stdout
    assert not re.search(r"min_input_size\s+1\s*$", run.stdout, re.M), run.stdout
    assert re.search(r"min_input_size\s+any size", run.stdout), run.stdout


@pytest.mark.slow  # the default run is at its 12 CPU-min budget
def test_explain_takes_a_folder_as_predict_does(damaged_folder, tmp_path):
    run = dlzoo("explain", SHIPPED, damaged_folder, "--out", tmp_path / "x")
    assert run.returncode in (0, 1, 3), run.stderr  # some files skipped, named on stderr
    pngs = sorted(p.name for p in (tmp_path / "x").glob("*.gradcam.png"))
    assert "img0.gradcam.png" in pngs and len(pngs) >= 8, (pngs, run.stdout, run.stderr)


def test_a_recipe_on_another_source_gets_its_own_name_and_no_expectation():
    from dlzoo.recipes import load_recipe

    other = load_recipe("lenet5-digits", ["data.source=folder:my photos/"], check_registry=False)
    assert other["name"] == "lenet5-digits-my-photos" and not other.get("expect"), other
    same = load_recipe("lenet5-digits", ["data.source=folder:d", "name=lenet5-digits"],
                       check_registry=False)
    assert same["name"] == "lenet5-digits" and same["expect"]["val_accuracy"] == 0.98


@pytest.mark.slow
def test_a_recipe_on_another_source_is_another_run(finetuned):
    """`--set data.source=folder:...` on lenet5-digits: saved under its own name, and the
    digits' expected figure is not shown against a figure measured on other data."""
    root, _ = finetuned
    run = dlzoo("train", "lenet5-digits", "--set", "data.source=folder:my photos",
                "--set", "train.epochs=1", "--quiet", cwd=root)
    assert run.returncode == 0, run.stderr
    assert "Saved to saved_models/lenet5-digits-my-photos/" in run.stdout, run.stdout
    assert "0.98" not in run.stdout.split("expected", 1)[-1].split("epoch(s)")[0], run.stdout
    assert not (root / "saved_models" / "lenet5-digits").exists()


def _figures(monkeypatch):
    """The matplotlib figures dlzoo saves in this test (their objects, to read what is drawn)."""
    from matplotlib.figure import Figure

    saved = []
    original = Figure.savefig

    def savefig(self, *args, **kwargs):
        saved.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return saved


def test_fine_tune_curves_mark_phase_two(tmp_path, monkeypatch):
    from dlzoo.plots import phase_marks, plot_history

    saved = _figures(monkeypatch)
    card = {"training": {"phase1": {"epochs_run": 3}, "phase2": {"epochs_run": 2}}}
    history = {"loss": [1.0, 0.8, 0.7, 0.5, 0.4], "val_loss": [1.1, 0.9, 0.8, 0.6, 0.5]}
    plot_history(history, tmp_path / "c.png", marks=phase_marks(card))
    ax = saved[0].axes[0]
    assert "phase 2: unfrozen" in ax.get_legend_handles_labels()[1]
    assert any(list(line.get_xdata()) == [3.5, 3.5] for line in ax.lines)


def test_top_loss_titles_say_what_the_numbers_are(tmp_path, monkeypatch):
    import numpy as np

    from dlzoo.interpretation import plot_top_losses, top_losses_table

    saved = _figures(monkeypatch)
    probs = np.array([[1.0, 0.0], [0.3, 0.7]])
    rows = top_losses_table([0, 0], probs, ["cat", "dog"], k=2)
    plot_top_losses(np.zeros((2, 8, 8, 1)), rows, tmp_path / "t.png")
    titles = [ax.get_title() for ax in saved[0].axes]
    assert not any("-0.00" in t for t in titles), titles
    assert "predicted dog (0.70)" in titles[0] and "loss 1.20" in titles[0], titles
    assert "loss = -log p(true)" in saved[0]._suptitle.get_text()


def test_grad_cam_captions_fit_the_picture(tmp_path, monkeypatch):
    import numpy as np

    from dlzoo.explain import plot_grad_cam

    saved = _figures(monkeypatch)
    title = ("a_very_long_class_name_for_a_photo_of_something (0.41); "
             "predicted another_quite_long_class_name (0.52)")
    plot_grad_cam(np.zeros((16, 16, 3)), np.zeros((16, 16)), tmp_path / "g.png", title=title)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = saved[0]
    box = fig._suptitle.get_window_extent(FigureCanvasAgg(fig).get_renderer())
    assert box.x0 >= 0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height, (box, fig.bbox)


@pytest.mark.slow
def test_quickstarts_next_commands_run_in_the_repositorys_own_folder(tmp_path):
    """In a folder that holds the shipped saved_models/lenet5-digits (the repository's own), each
    "Next:" command runs as printed, and none touches the shipped model."""
    import shutil

    shutil.copytree(SHIPPED, tmp_path / "saved_models" / "lenet5-digits")
    before = sorted(p.name for p in (tmp_path / "saved_models" / "lenet5-digits").iterdir())
    run = dlzoo("quickstart", "--epochs", "2", "--quiet", cwd=tmp_path, timeout=900)
    assert run.returncode == 0, run.stderr
    commands = printed_commands(run.stdout.split("Next:", 1)[1])
    assert [argv[0] for _, argv in commands] == ["predict", "evaluate", "train"], run.stdout
    for env, argv in commands:
        done = run_printed(env, argv, tmp_path)
        assert done.returncode == 0, (argv, done.stderr)
    after = sorted(p.name for p in (tmp_path / "saved_models" / "lenet5-digits").iterdir())
    assert after == before
