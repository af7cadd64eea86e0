"""The recipe schema's `tune:` section: defaults filled in, mistakes named by their key."""

import pytest

from dlzoo.recipes import RecipeError, load_recipe
from tests._tuning import tiny_recipe


def test_shipped_search_recipe_runs_offline_on_the_digits():
    recipe = load_recipe("cnn-digits-tune")
    assert recipe["data"]["source"] == "digits"
    tune = recipe["tune"]
    assert tune["hypermodel"] == "cnn" and tune["tuner"] == "hyperband"
    assert tune["seed"] == recipe["train"]["seed"] and tune["retrain"] is True
    assert tune["hyperband"] == {"factor": 3, "iterations": 1}


def test_tune_defaults(tmp_path):
    path = tiny_recipe(tmp_path)
    recipe = load_recipe(path, overrides=["tune={hypermodel: cnn}"])
    assert recipe["tune"] == {
        "hypermodel": "cnn", "space": {}, "tuner": "random", "objective": None,
        "max_trials": 10, "epochs": 10, "executions_per_trial": 1, "early_stopping": 3,
        "hyperband": {"factor": 3, "iterations": 1}, "seed": 0, "target": None,
        "retrain": True,
    }


@pytest.mark.parametrize("override, message", [
    ("tune.tuner=grid", "tune.tuner must be random or hyperband or bayesian; received 'grid'"),
    ("tune.max_trials=0", "tune.max_trials must be a positive integer"),
    ("tune.hyperband.factor=1", "tune.hyperband.factor must be an integer >= 2"),
    ("tune.budget=3", "unknown key(s) tune.budget"),
    ("tune.space=[1, 2]", "tune.space must be a mapping"),
    ("tune.retrain=maybe", "tune.retrain must be true or false"),
    ("tune.hypermodel=null", "tune.hypermodel must be a hypermodel name"),
])
def test_tune_mistakes_name_the_key(tmp_path, override, message):
    with pytest.raises(RecipeError) as e:
        load_recipe(tiny_recipe(tmp_path), overrides=[override])
    assert message in str(e.value)
