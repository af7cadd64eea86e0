"""The embedding recommender (issue 28): ratings made from known factors, a model that learns them
to near the noise floor, and `predict` / `evaluate` on (user, item) pairs from the CLI, with
one-line errors for pairs the model cannot score."""

import json
import subprocess
import sys

import numpy as np
import pytest

from dlzoo.data.ratings import factor_ratings, load_ratings
from dlzoo.recipes import load_recipe
from dlzoo.recommendation import evaluate_ratings, predict_ratings
from dlzoo.training import run_recipe

SMALL = ["data.num_users=60", "data.num_items=40", "data.n=2000", "train.epochs=30",
         "callbacks.backup=false", "callbacks.checkpoint=false"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    recipe = load_recipe("recommender-ratings", SMALL)
    return run_recipe(recipe, output=tmp_path_factory.mktemp("rec"), verbose=0,
                      log=lambda *a: None)


def test_factor_ratings_know_their_noise():
    r = factor_ratings(num_users=50, num_items=40, n=1500, noise=0.3, data_seed=1)
    assert r["pairs"].shape == (1500, 2) and len({tuple(p) for p in r["pairs"]}) == 1500
    assert abs(r["noise"].std() - 0.3) < 0.03
    data = load_ratings("ratings:synthetic", num_users=50, num_items=40, n=1500, noise=0.3,
                        data_seed=1)
    assert data.details["model_args"] == {"num_users": 50, "num_items": 40}
    assert 0.25 < data.details["noise_floor_rmse"] < 0.35
    assert data.details["mean_baseline_rmse"] > data.details["noise_floor_rmse"]
    with pytest.raises(ValueError, match="more than the 20"):
        factor_ratings(num_users=4, num_items=5, n=21)


def test_recommender_learns_close_to_the_noise_floor(trained):
    m = trained.card["metrics"]
    assert m["val_rmse"] < 0.75 * m["val_mean_baseline_rmse"], m
    assert m["val_rmse"] >= 0.9 * m["val_noise_floor_rmse"], m  # nothing beats the noise
    assert trained.card["task"] == "rating_prediction"


@pytest.mark.slow  # default-run budget (12 CPU-min): an end-to-end CLI run
def test_predict_and_evaluate_take_user_item_pairs(trained, capsys):
    from dlzoo.cli import main

    folder = str(trained.saved_dir)
    r = subprocess.run([sys.executable, "-m", "dlzoo", "predict", folder, "3,7", "4,1", "--json"],
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stderr[-600:]
    shown = json.loads(r.stdout)
    here = predict_ratings(folder, [(3, 7), "4,1"])
    assert [(s["user"], s["item"]) for s in shown] == [("3", "7"), ("4", "1")]
    np.testing.assert_allclose([s["rating"] for s in shown], [h[2] for h in here], atol=1e-4)
    ev = evaluate_ratings(folder, "ratings:synthetic")
    assert ev["split"] == "val" and ev["rmse"] == pytest.approx(
        trained.card["metrics"]["val_rmse"], abs=1e-4)
    assert main(["evaluate", folder, "ratings:synthetic"]) == 0
    assert f"RMSE {ev['rmse']:.4f}" in capsys.readouterr().out


@pytest.mark.parametrize("pair, words", [("3,700", "out of range"), ("3", "USER,ITEM"),
                                         ("x,1", "not an id")])
def test_pairs_the_model_cannot_score_get_one_line(trained, pair, words, capsys):
    from dlzoo.cli import main

    assert main(["predict", str(trained.saved_dir), pair]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


def test_ratings_from_a_csv_file_with_names(tmp_path):
    rng = np.random.default_rng(0)
    users, items = [f"user{i}" for i in range(12)], ["matrix", "alien", "up", "heat", "jaws"]
    rows = ["user,item,rating"] + [f"{u},{i},{3 + (k % 3) - (j % 2) + rng.normal(0, .1):.2f}"
                                   for k, u in enumerate(users) for j, i in enumerate(items)]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    data = f"data={{source: 'ratings:{tmp_path / 'r.csv'}', batch_size: 8}}"  # no factor options
    recipe = load_recipe("recommender-ratings", [data, "train.epochs=2", "callbacks.backup=false"])
    result = run_recipe(recipe, output=tmp_path / "out", verbose=0, log=lambda *a: None)
    assert result.card["data"]["users"] == sorted(users)
    (u, i, r), = predict_ratings(result.saved_dir, ["user3,jaws"])
    assert (u, i) == ("user3", "jaws") and np.isfinite(r)
    with pytest.raises(ValueError, match="unknown item 'titanic'"):
        predict_ratings(result.saved_dir, ["user3,titanic"])
    (tmp_path / "bad.csv").write_text("a,b,5\nc,d,lots\n")
    with pytest.raises(ValueError, match="line 2: rating 'lots' is not a number"):
        load_ratings(f"ratings:{tmp_path / 'bad.csv'}")
