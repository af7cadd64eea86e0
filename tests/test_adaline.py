"""ADALINE (Widrow-Hoff LMS) learns separable points and cannot learn XOR; MADALINE (three ADALINEs
under a majority vote, rule II) learns XOR; the `adaline` model and its recipes do the same with
`dlzoo train`, and the recipes carry their expected figures."""

import numpy as np
import pytest

from dlzoo.recipes import load_recipe
from dlzoo.commands.teaching import adaline_lms, madaline_rule, separable_points, xor_points
from dlzoo.training import run_recipe


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lms_learns_separable_points_and_its_error_falls(seed):
    x, y = separable_points(seed=seed)
    r = adaline_lms(x, y, epochs=30, seed=seed)
    assert r.accuracy(x, y) == 1.0
    assert r.mse_per_epoch[-1] < r.mse_per_epoch[0] < 1.0  # below predicting 0 for +-1 targets


def test_lms_settles_near_the_least_squares_line():
    x, y = separable_points(seed=4)
    r = adaline_lms(x, y, epochs=200, lr=0.005, seed=0)
    design = np.hstack([x, np.ones((len(x), 1))])
    w = np.linalg.lstsq(design, 2.0 * y - 1.0, rcond=None)[0]
    np.testing.assert_allclose(np.append(r.weights, r.bias), w, atol=0.05)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_adaline_cannot_learn_xor_but_madaline_can(seed):
    x, y = xor_points(seed=seed)
    assert adaline_lms(x, y, seed=seed).accuracy(x, y) <= 0.75
    m = madaline_rule(x, y, hidden=3, epochs=100, seed=seed)
    assert m.accuracy(x, y) == 1.0 and m.converged_epoch is not None


def test_bad_arguments():
    with pytest.raises(ValueError, match="labels 0/1"):
        adaline_lms(np.zeros((3, 2)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="odd number"):
        madaline_rule(np.zeros((3, 2)), np.array([0, 1, 1]), hidden=2)
    from dlzoo import build

    with pytest.raises(ValueError, match="two classes"):
        build("adaline", num_classes=3)


@pytest.mark.parametrize("name,check", [
    ("adaline-separable", lambda acc: acc == 1.0),
    ("adaline-xor", lambda acc: acc <= 0.75),
])
def test_adaline_recipes_reach_their_expected_results(name, check, tmp_path):
    recipe = load_recipe(name, overrides=["train.epochs=3", "callbacks.checkpoint=false",
                                          "callbacks.backup=false", "callbacks.csv_log=false"])
    assert "val_accuracy" in recipe["expect"] and recipe["expect"]["source"]
    result = run_recipe(recipe, output=tmp_path, verbose=0, log=lambda *a: None)
    acc = result.card["metrics"]["val_accuracy"]
    assert check(acc), (name, acc)
    assert result.card["model"] == "adaline" and result.card["params"] == 3
