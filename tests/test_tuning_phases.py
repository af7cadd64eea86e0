"""A tune search over a fine-tune recipe (`tune:` beside `phases:`): each trial runs the phases
through `fine_tune`; the space names the fine-tune's knobs, a wrong one named with the closest."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dlzoo.recipes import RecipeError, load_recipe

REPO = Path(__file__).resolve().parent.parent
SPACE = "tune={space: {dropout: [0.0, 0.3], head_learning_rate: [0.001, 0.003]}}"


def test_a_fine_tune_recipe_takes_a_tune_section():
    recipe = load_recipe("lenet5-shapes-finetune", check_registry=False, overrides=[SPACE])
    tune = recipe["tune"]
    assert tune["hypermodel"] == "finetune" and tune["objective"] == "val_accuracy"
    assert tune["space"] == {"dropout": [0.0, 0.3], "head_learning_rate": [0.001, 0.003]}
    assert [p["train"] for p in recipe["phases"]] == ["head", "all"]


@pytest.mark.parametrize("override, message", [
    ("tune.space={learning_rat: [0.001]}",
     "unknown key(s) tune.space.learning_rat (closest: tune.space.learning_rate)"),
    ("tune.space={drop_out: [0.1, 0.2]}",
     "unknown key(s) tune.space.drop_out (closest: tune.space.dropout)"),
    ("tune.objective=val_acuracy", "tune.objective must be val_accuracy or val_loss"),
    ("tune.tuner=hyperband", "tune.tuner must be random or bayesian in a recipe with phases"),
    ("tune.epochs=3", "tune.epochs must be absent in a recipe with phases"),
    ("tune.hypermodel=cnn", "tune.hypermodel must be finetune (or absent)"),
    ("tune.space={}", "tune.space must be a mapping naming at least one of"),
])
def test_a_fine_tune_search_refuses_what_it_cannot_do(override, message):
    with pytest.raises(RecipeError) as e:
        load_recipe("lenet5-shapes-finetune", check_registry=False,
                    overrides=[SPACE, override])
    assert message in str(e.value)
    if "closest" in message or "objective" in message:
        assert "closest: " in str(e.value)


def test_a_knob_of_a_phase_the_recipe_lacks_is_refused():
    with pytest.raises(RecipeError, match=r"tune.space.unfreeze must be absent: the recipe has no "
                                          r"unfreeze phase"):
        load_recipe("lenet5-shapes-finetune", check_registry=False, overrides=[
            "phases=[{train: head, epochs: 2}]", "tune={space: {unfreeze: [all, 'top:1']}}"])


def test_a_value_a_knob_cannot_take_is_refused_before_any_trial():
    from dlzoo.spec import RunSpec
    from dlzoo.tuning.phases import PhasedHyperModel

    recipe = load_recipe("lenet5-shapes-finetune", check_registry=False, overrides=[
        "tune={space: {unfreeze: [all, 'top:0']}}"])
    with pytest.raises(ValueError, match=r"unfreeze: each value must be all or top:K"):
        PhasedHyperModel(RunSpec.from_recipe(recipe), "lenet5", "synthetic:shapes", None,
                         input_shape=(32, 32, 1), num_classes=3, cache_dir=None)
    recipe = load_recipe("lenet5-shapes-finetune", check_registry=False, overrides=[
        "tune={space: {dropout: [0.2, 1.5]}}"])
    with pytest.raises(ValueError, match=r"dropout: each value must be a number >= 0.0 and < 1.0"):
        PhasedHyperModel(RunSpec.from_recipe(recipe), "lenet5", "synthetic:shapes", None,
                         input_shape=(32, 32, 1), num_classes=3, cache_dir=None)


def _tune(recipe, out, *extra):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "dlzoo", "tune", str(recipe), "--output",
                           str(out), *extra], cwd=recipe.parent, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _search_recipe(directory, *, epochs=2, space=None):
    """A 2-trial search over a LeNet-5 fine-tune on generated shapes, from a weights file
    written here (offline)."""
    import dlzoo

    weights = directory / "lenet5.weights.h5"
    dlzoo.build("lenet5", input_shape=(32, 32, 1), num_classes=10).save_weights(str(weights))
    recipe = directory / "shapes-search.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "shapes-search", "model": "lenet5",
        "data": {"source": "synthetic:shapes", "image_size": [32, 32],
                 "color_mode": "grayscale", "batch_size": 32, "validation_split": 0.2,
                 "seed": 0},
        "phases": [{"train": "head", "epochs": 2, "learning_rate": 0.001},
                   {"train": "all", "epochs": epochs, "learning_rate": 0.0005}],
        "transfer": {"weights": str(weights)},
        "callbacks": {"early_stopping": False, "lr_schedule": "constant"},
        "tune": {"tuner": "random", "max_trials": 2,
                 "space": space or {"head_learning_rate": [0.001, 0.003],
                                    "dropout": [0.0, 0.3], "epochs": [1, 2]}},
    }))
    return recipe


@pytest.mark.slow
def test_a_search_over_a_fine_tune_runs_both_phases_in_each_trial_and_saves_the_best(tmp_path):
    recipe = _search_recipe(tmp_path)
    out = tmp_path / "out"
    _tune(recipe, out)
    project = out / ".tuning" / "shapes-search"
    trials = {p.parent.name: (json.loads(p.read_text()),
                              json.loads((p.parent / "dlzoo_trial.json").read_text()))
              for p in project.glob("trial_*/trial.json")}
    assert len(trials) == 2
    for state, record in trials.values():
        assert state["status"] == "COMPLETED"
        hps = state["hyperparameters"]["values"]
        phases = record["phases"]
        assert [p["train"] for p in phases] == ["head", "all"]  # both phases, in each trial
        assert phases[0]["learning_rate"] == hps["head_learning_rate"]
        assert phases[1]["epochs"] == hps["epochs"] and all(p["epochs_run"] for p in phases)
        card = json.loads((project / f"trial_{state['trial_id']}" / "model" / "card.json")
                          .read_text())
        assert card["recipe"]["transfer"]["dropout"] == hps["dropout"]
        # the score is the last phase's validation accuracy
        assert state["score"] == pytest.approx(card["metrics"]["phase2_val_accuracy"])
    best = max(trials.values(), key=lambda t: t[0]["score"])[0]
    saved = json.loads((out / "shapes-search" / "card.json").read_text())
    assert saved["search"]["trial"] == best["trial_id"]
    assert saved["search"]["best_hyperparameters"] == best["hyperparameters"]["values"]
    assert [p["train"] for p in saved["training"]["phases"]] == ["head", "all"]
    trial_model = project / f"trial_{best['trial_id']}" / "model"
    model_files = [p.name for p in trial_model.iterdir() if p.suffix in (".keras", ".h5")]
    assert model_files and all((out / "shapes-search" / f).read_bytes()
                               == (trial_model / f).read_bytes() for f in model_files)

    # resumed with a larger budget: the two trials are kept, one more runs
    done = _tune(recipe, out, "--resume", "--max-trials", "3")
    assert done.stdout.count("Running Trial") == 1, done.stdout[-2000:]
    assert len(list(project.glob("trial_*/dlzoo_trial.json"))) == 3


@pytest.mark.slow
def test_a_search_killed_in_a_trials_second_phase_resumes_there(tmp_path):
    import signal
    import time

    recipe = _search_recipe(tmp_path, epochs=40, space={"dropout": [0.0, 0.3]})
    out = tmp_path / "out"
    # phase 2's log of trial 0: by its third epoch's row, a whole backup of an epoch is on disk
    log = out / ".tuning" / "shapes-search" / "trial_0" / ".runs" / "model" / "phase2" / \
        "history.csv"

    def epochs_logged():
        try:
            return len(log.read_text().splitlines()) - 1
        except OSError:
            return 0

    proc = subprocess.Popen([sys.executable, "-m", "dlzoo", "tune", str(recipe), "--output",
                             str(out)], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while epochs_logged() < 3 and proc.poll() is None:
            assert time.monotonic() < deadline, "phase 2 of trial 0 never backed up an epoch"
            time.sleep(0.05)
        assert proc.poll() is None, "the search ended before it could be killed in phase 2"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    done = _tune(recipe, out, "--resume")
    assert "phase 1: finished before the restart" in done.stdout, done.stdout[-3000:]
    assert "resuming after epoch" in done.stdout, done.stdout[-3000:]
    records = [json.loads(p.read_text()) for p in
               (out / ".tuning" / "shapes-search").glob("trial_*/dlzoo_trial.json")]
    assert len(records) == 2 and all(r["status"] == "COMPLETED" for r in records)
    card = json.loads((out / "shapes-search" / "card.json").read_text())
    assert [p["epochs_run"] for p in card["training"]["phases"]] == [2, 40]
