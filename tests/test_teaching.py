"""The perceptron converges on separable points, cannot pass 75% on XOR; one hidden layer solves XOR."""

import numpy as np
import pytest

from dlzoo.commands.teaching import (
    compare_learning_rules,
    perceptron_rule,
    separable_points,
    xor_points,
)


def test_perceptron_rule_converges_on_separable_points():
    x, y = separable_points(seed=1)
    r = perceptron_rule(x, y, epochs=100)
    assert r.converged_epoch is not None
    assert r.errors_per_epoch[-1] == 0
    assert r.accuracy(x, y) == 1.0


def test_perceptron_rule_never_settles_on_xor():
    x, y = xor_points(seed=1)
    r = perceptron_rule(x, y, epochs=50)
    assert r.converged_epoch is None
    assert min(r.errors_per_epoch) > 0
    assert r.accuracy(x, y) <= 0.75


@pytest.fixture(scope="module")
def table():
    return {(r["task"], r["method"].split(",")[0].split(" (")[0]): r for r in compare_learning_rules(epochs=40)}


@pytest.mark.slow
def test_lecture_table(table):
    assert table[("separable", "perceptron rule")]["accuracy"] == 1.0
    assert table[("separable", "logistic unit")]["accuracy"] >= 0.98
    assert table[("xor", "perceptron rule")]["accuracy"] <= 0.75
    assert table[("xor", "logistic unit")]["accuracy"] <= 0.75
    mlp = table[("xor", "MLP")]
    assert mlp["accuracy"] == 1.0 and mlp["converged_epoch"] is not None


def test_bad_labels():
    with pytest.raises(ValueError, match="labels 0/1"):
        perceptron_rule(np.zeros((3, 2)), np.array([0, 1, 2]))
