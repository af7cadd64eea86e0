"""dlzoo.tuning.search and `dlzoo tune`: a search records every trial (CSV, worker, epochs),
refuses a stale project (keras-tuner#290) unless told to overwrite, and retrains and saves the
winner with a card that holds the search space and the chosen hyperparameters. An objective the
model does not log is refused before anything trains; a failed trial is recorded with its reason
and the search goes on, up to keras-tuner's limit of failures in a row."""

import csv
import json
import warnings

import keras
import numpy as np
import pytest

import dlzoo
from dlzoo.cli import main
from dlzoo.data.datasets import load_arrays
from dlzoo.tuning import get_hypermodel, search
from dlzoo.tuning.search import (
    ObjectiveError,
    SearchFailedError,
    StaleProjectError,
    read_trials,
    verify_objective,
)
from tests._tuning import tiny_recipe

SPACE = {"stages": [1, 2], "convs": 1, "filters": [8, 16], "kernel_size": 3, "fc_units": 16,
         "dropout": 0.0}


def quiet(*args):
    pass


@pytest.fixture(scope="module")
def digits():
    data = load_arrays("digits", image_size=(8, 8), color_mode="grayscale", seed=0)
    return data.train, data.val


def run(digits, tmp_path, space=SPACE, loss=None, **kwargs):
    (x, y), (xv, yv) = digits
    hm = get_hypermodel("cnn", input_shape=x.shape[1:], num_classes=10, space=space, loss=loss)
    args = {"max_trials": 2, "epochs": 1, "directory": tmp_path, "project_name": "p",
            "verbose": 0, "log": quiet}
    args.update(kwargs)
    return search(hm, (x, y), (xv, yv), **args)


def test_search_records_every_trial_and_the_best(digits, tmp_path):
    result = run(digits, tmp_path, max_trials=3)
    assert result.completed == 3 and len(result.trials) == 3
    with open(result.csv_path) as f:
        rows = list(csv.DictReader(f))
    assert [r["trial"] for r in rows] == ["0", "1", "2"]
    assert {r["status"] for r in rows} == {"COMPLETED"}
    assert {r["worker"] for r in rows} == {"tuner0"}
    assert all(r["epochs_run"] == "1" and float(r["seconds"]) > 0 for r in rows)
    assert {"stages", "filters", "learning_rate", "optimizer"} <= set(rows[0])
    scores = [float(r["score"]) for r in rows]
    assert result.best_score == max(scores) > 0.1  # better than chance after one epoch
    assert result.best_trial_id == rows[scores.index(max(scores))]["trial"]
    assert result.best_spec.model == "plain_cnn"
    assert result.best_spec.model_args["stages"] == (1,) * result.best_hyperparameters["stages"]


def test_hyperband_spends_fewer_epochs_on_most_trials(digits, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run(digits, tmp_path, tuner="hyperband", epochs=2, hyperband_factor=2)
    # a continued trial restores its optimizer from the checkpoint (keras-tuner's load of a
    # compiled model whose optimizer had no variables yet skipped it, with this warning)
    assert any(t["hyperparameters"].get("tuner/trial_id") for t in result.trials)
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    budgets = [t["hyperparameters"]["tuner/epochs"] for t in result.trials]
    assert max(budgets) == 2 and min(budgets) == 1
    # trials continued from a lower rung only run the epochs they add
    for t in result.trials:
        hp = t["hyperparameters"]
        assert t["epochs_run"] == hp["tuner/epochs"] - hp["tuner/initial_epoch"]


def test_an_existing_project_needs_resume_or_overwrite(digits, tmp_path):
    run(digits, tmp_path, max_trials=1)
    with pytest.raises(FileExistsError, match="1 completed trial"):
        run(digits, tmp_path, max_trials=1)
    again = run(digits, tmp_path, resume=True, max_trials=2)  # one more trial, one kept
    assert again.completed == 2
    fresh = run(digits, tmp_path, overwrite=True, max_trials=1)
    assert fresh.completed == 1


def test_a_changed_search_space_or_data_is_a_stale_project(digits, tmp_path):
    run(digits, tmp_path, max_trials=1)
    with pytest.raises(StaleProjectError, match=r"search_space\.space\.filters"):
        run(digits, tmp_path, space={**SPACE, "filters": [8, 32]}, resume=True)
    (x, y), val = digits
    shifted = ((x[::-1].copy(), y[::-1].copy()), val)
    with pytest.raises(StaleProjectError, match="data changed"):
        run(shifted, tmp_path, resume=True)
    with pytest.raises(StaleProjectError, match="tuner"):
        run(digits, tmp_path, tuner="bayesian", resume=True)
    result = run(digits, tmp_path, space={**SPACE, "filters": [8, 32]}, overwrite=True)
    assert {t["hyperparameters"]["filters"] for t in result.trials} <= {8, 32}


def test_target_ends_the_search_early(digits, tmp_path):
    result = run(digits, tmp_path, max_trials=5, target=0.0)
    assert len(result.trials) == 1


def test_cli_tune_retrains_and_saves_the_best_with_its_search_card(tmp_path, capsys):
    recipe = tiny_recipe(tmp_path, trials=2, retrain=True)
    out = tmp_path / "out"
    assert main(["tune", str(recipe), "--output", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "tiny-tune: 2 trial(s), 2 completed" in printed
    card = json.loads((out / "tiny-tune" / "card.json").read_text())
    search_card = card["search"]
    assert search_card["final"] == "retrained" and search_card["tuner"] == "random"
    assert search_card["search_space"]["space"]["filters"] == {"choice": [8, 16], "default": 8}
    best = search_card["best_hyperparameters"]
    trials = read_trials(out / ".tuning" / "tiny-tune")
    assert best == {k: v for k, v in max(trials, key=lambda t: t["score"])[
        "hyperparameters"].items()}
    assert card["model"] == "plain_cnn"
    assert card["model_args"]["filters"] == [best["filters"] * 2 ** i
                                             for i in range(best["stages"])]
    model = dlzoo.load(out / "tiny-tune")
    assert model.predict(np.zeros((1, 8, 8, 1), "float32"), verbose=0).shape == (1, 10)
    # --tuner / --max-trials override the recipe; a second run without --resume is refused
    assert main(["tune", str(recipe), "--output", str(out), "--quiet", "--max-trials", "3"]) == 2
    assert "--resume" in capsys.readouterr().err


def test_cli_tune_needs_a_tune_section(capsys):
    assert main(["tune", "lenet5-digits"]) == 2
    assert "has no tune: section" in capsys.readouterr().err


def test_best_trial_picks_by_direction_and_skips_unfinished():
    from dlzoo.tuning import get_hypermodel
    from dlzoo.tuning.search import best_trial

    hm = get_hypermodel("cnn", input_shape=(16, 16, 1), num_classes=10)
    hps = {"optimizer": "adam", "learning_rate": 1e-3}
    rows = [{"trial_id": "0", "status": "COMPLETED", "score": 0.5, "hyperparameters": hps},
            {"trial_id": "1", "status": "FAILED", "score": 0.9, "hyperparameters": hps},
            {"trial_id": "2", "status": "COMPLETED", "score": 0.7,
             "hyperparameters": {**hps, "tuner/epochs": 1}}]
    best = best_trial(rows, "max", hm)
    assert best["best_trial_id"] == "2" and best["best_score"] == 0.7
    assert "tuner/epochs" not in best["best_hyperparameters"]
    assert best_trial(rows, "min", hm)["best_trial_id"] == "0"
    assert best_trial(rows[1:2], "max", hm)["best_trial_id"] is None


# --- the objective, checked before anything trains ----------------------------------------------


def test_a_misspelt_objective_is_refused_before_any_trial(digits, tmp_path):
    with pytest.raises(ObjectiveError) as e:
        run(digits, tmp_path, objective="val_acc")
    message = str(e.value)
    assert "'val_acc'" in message and "did you mean val_accuracy" in message
    assert "\n" not in message
    assert not list(tmp_path.rglob("trial_*"))  # nothing trained, no project made
    # without validation data nothing val_ is logged; the message says so
    (x, y), _ = digits
    hm = get_hypermodel("cnn", input_shape=x.shape[1:], num_classes=10, space=SPACE)
    with pytest.raises(ObjectiveError, match="no validation data.*did you mean accuracy"):
        verify_objective("val_accuracy", hm, (x, y), None)


def test_the_logged_names_come_from_the_compiled_model(digits):
    # no list of known names: whatever metrics the hypermodel compiles are what may be chosen
    (x, y), val = digits
    hm = get_hypermodel("cnn", input_shape=x.shape[1:], num_classes=10, space=SPACE, metrics=[
        keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="top3"),
        keras.metrics.SparseCategoricalAccuracy(name="acc")])
    verify_objective("val_top3", hm, (x, y), val)
    verify_objective("acc", hm, (x, y), val)
    with pytest.raises(ObjectiveError, match="did you mean val_acc.*log: loss, top3, acc"):
        verify_objective("val_accuracy", hm, (x, y), val)


def test_cli_refuses_a_misspelt_objective_in_one_line(tmp_path, capsys):
    recipe = tiny_recipe(tmp_path, trials=2, objective="val_acc")
    out = tmp_path / "out"
    assert main(["tune", str(recipe), "--output", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "tune.objective 'val_acc'" in captured.err
    assert "val_accuracy" in captured.err and "Epoch" not in captured.out
    assert not list(out.rglob("trial_*"))


# --- failed trials ---------------------------------------------------------------------------------


class FailWide(keras.callbacks.Callback):
    """Fails a trial whose first stage has 16 filters (hyperparameter `filters`), as running out
    of memory would."""

    def on_train_batch_end(self, batch, logs=None):
        if min(la.filters for la in self.model._flatten_layers() if hasattr(la, "filters")) == 16:
            raise RuntimeError("RESOURCE_EXHAUSTED: out of memory while trying to allocate "
                               "1.00GiB")


def test_a_failed_trial_is_recorded_with_its_reason_and_the_search_goes_on(digits, tmp_path):
    from dlzoo.commands._output import _console
    from dlzoo.commands.tune import _print_search

    # four configurations, two of them with 16 filters: never three failures in a row
    space = {**SPACE, "batch_norm": False, "optimizer": "adam", "learning_rate": 1e-3}
    result = run(digits, tmp_path, space=space, max_trials=4, callbacks=[FailWide()])
    assert len(result.trials) == 4
    wide = {t["trial_id"] for t in result.trials if t["hyperparameters"]["filters"] == 16}
    assert wide and {t["trial_id"] for t in result.failed} == wide  # the others completed
    assert result.completed == 4 - len(wide) and result.best_trial_id not in wide
    for trial in result.failed:
        assert trial["status"] == "FAILED"
        assert trial["reason"] == ("RuntimeError: RESOURCE_EXHAUSTED: out of memory while "
                                   "trying to allocate 1.00GiB")
    with open(result.csv_path) as f:
        rows = {r["trial"]: r for r in csv.DictReader(f)}
    assert {t for t, r in rows.items() if r["reason"]} == wide
    # the summary `dlzoo tune` prints lists the failed trials and why
    console = _console()
    with console.capture() as cap:
        _print_search(result, "p", console)
    printed = cap.get()
    assert f"{len(wide)} failed" in printed
    for trial_id in wide:
        assert f"trial {trial_id} failed: RuntimeError: RESOURCE_EXHAUSTED" in printed


def test_nan_losses_fail_trials_until_keras_tuners_limit_stops_the_search(digits, tmp_path):
    def diverging(y_true, y_pred):  # log of a negative number: NaN from the first batch
        return keras.ops.mean(keras.ops.log(y_pred - 2.0), axis=-1)

    with pytest.raises(SearchFailedError) as e:
        run(digits, tmp_path, loss=diverging, max_trials=5)
    message = str(e.value)
    assert "trials 0, 1, 2 failed one after the other" in message and "limit of 3" in message
    assert "NaN or Inf loss" in message and "\n" not in message
    result = e.value.result
    assert [t["trial_id"] for t in result.failed] == ["0", "1", "2"]
    assert len(result.trials) == 3  # no trial handed out after the limit
    assert all("NaN or Inf loss" in t["reason"] and t["epochs_run"] == 0 for t in result.failed)
    # every trial's state was saved (keras-tuner raised before saving the last one)
    states = [json.loads(p.read_text()) for p in (tmp_path / "p").glob("trial_*/trial.json")]
    assert len(states) == 3 and {s["status"] for s in states} == {"FAILED"}
    # the cause fixed, --resume goes on (keras-tuner counted the old failures again and stopped
    # at the first trial that ended)
    resumed = run(digits, tmp_path, max_trials=5, resume=True)
    assert [t["status"] for t in resumed.trials] == ["FAILED"] * 3 + ["COMPLETED"] * 2


@pytest.mark.slow
def test_a_hyperband_tune_continues_trials_without_optimizer_warnings(tmp_path):
    # The CLI as a user runs it, with its own environment (its own TF_CPP_MIN_LOG_LEVEL), on
    # JAX: there (and in `search()` on TensorFlow, tested above) Keras printed "Skipping variable
    # loading for optimizer" for every continued trial.
    import importlib.util
    import os
    import subprocess
    import sys
    from pathlib import Path

    if importlib.util.find_spec("jax") is None:
        pytest.skip("JAX is not installed")
    recipe = tiny_recipe(tmp_path, name="hb", tuner="hyperband", epochs=2,
                         hyperband={"factor": 2, "iterations": 1})
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["KERAS_BACKEND"] = "jax"
    proc = subprocess.run(
        [sys.executable, "-m", "dlzoo", "tune", str(recipe), "--output", str(tmp_path / "out")],
        cwd=Path(__file__).resolve().parent.parent, env=env, capture_output=True, text=True,
        timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    trials = read_trials(tmp_path / "out" / ".tuning" / "hb")
    assert any(t["hyperparameters"].get("tuner/trial_id") for t in trials)  # some continued
    assert "Skipping variable loading" not in output and "UserWarning" not in output


def test_a_search_with_seed_0_draws_the_same_trials_every_time():
    """keras-tuner's Oracle takes seed 0 for "no seed" (a random one): dlzoo's default seed is 0,
    so without the mapping every `dlzoo tune` drew other hyperparameters on each run."""
    import keras_tuner as kt

    from dlzoo.tuning.search import oracle_seed

    def drawn(seed):
        hp = kt.HyperParameters()
        hp.Float("learning_rate", 1e-5, 1e-1, sampling="log")
        hp.Int("filters", 8, 256)
        oracle = kt.oracles.RandomSearchOracle(objective="val_loss", max_trials=5,
                                               seed=oracle_seed(seed), hyperparameters=hp)
        return [oracle._random_values() for _ in range(3)]

    assert drawn(0) == drawn(0)
    assert drawn(0) != drawn(1)
    assert {oracle_seed(s) for s in (0, 1, 2**32 - 2)} == {1, 2, 2**32 - 1}
