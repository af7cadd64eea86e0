"""Issue 9 through the user's door: `dlzoo evaluate --adversarial`, `train.adversarial`,
`dlzoo train --folds`, and the perceptron / XOR teaching recipes."""

import json

import numpy as np
import pytest

from dlzoo.cli import main
from dlzoo.recipes import RecipeError, load_recipe
from dlzoo.training import cross_validate_recipe, run_recipe

SHIPPED = "saved_models/lenet5-digits"


def test_evaluate_adversarial_on_shipped_model(tmp_path, capsys):
    out = tmp_path / "ev"
    assert main(["evaluate", SHIPPED, "digits", "--adversarial", "fgsm", "--epsilon", "0.03,0.1",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "FGSM on 332 samples, inputs in [0, 255]" in text
    report = json.loads((out / "report.json").read_text())
    rows = report["adversarial"]["rows"]
    assert [r["epsilon"] for r in rows] == [0.0, 0.03, 0.1]
    acc = [r["accuracy"] for r in rows]
    assert acc[0] == pytest.approx(report["accuracy"])  # epsilon 0 is the clean accuracy
    assert acc[0] > acc[1] > acc[2]
    assert (out / "adversarial.png").stat().st_size > 10_000


def test_evaluate_bad_epsilon(capsys):
    assert main(["evaluate", SHIPPED, "digits", "--adversarial", "fgsm", "--epsilon", "big"]) == 2
    assert "--epsilon takes comma-separated numbers" in capsys.readouterr().err


@pytest.mark.parametrize("value,match", [
    ({"epsilon": 2}, "train.adversarial.epsilon"),
    ({"ratio": 0}, "train.adversarial.ratio"),
    ({"method": "pgd"}, "train.adversarial.method"),
    ({"eps": 0.1}, "train.adversarial.eps"),
])
def test_adversarial_recipe_validation(value, match):
    sets = [f"train.adversarial={json.dumps(value)}"]
    with pytest.raises(RecipeError, match=match):
        load_recipe("lenet5-digits", overrides=sets)


def test_adversarial_training_run_records_robustness_in_card(tmp_path):
    recipe = load_recipe("mlp-xor", overrides=[
        "train.epochs=3", "train.adversarial={epsilon: 0.05, ratio: 0.5}"])
    result = run_recipe(recipe, output=tmp_path, verbose=0, log=lambda *a: None)
    adv = result.card["metrics"]["adversarial"]
    assert adv["epsilon"] == 0.05 and adv["ratio"] == 0.5 and adv["method"] == "fgsm"
    assert 0 <= adv["val_accuracy_under_attack"] <= 1
    assert adv["val_accuracy_clean"] == pytest.approx(result.card["metrics"]["val_accuracy"], abs=1e-6)


def test_folds_on_blobs(tmp_path, capsys):
    recipe_file = tmp_path / "blobs.yaml"
    recipe_file.write_text(
        "name: mlp-blobs\nmodel: mlp\nmodel_args: {hidden_units: [16]}\n"
        "data: {source: 'synthetic:blobs', n: 120, batch_size: 32}\n"
        "train: {epochs: 5, learning_rate: 0.01}\ncallbacks: {backup: false, checkpoint: false}\n")
    assert main(["train", str(recipe_file), "--folds", "3", "--output", str(tmp_path / "out"),
                 "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "3-fold stratified val_accuracy:" in text
    card = json.loads((tmp_path / "out" / "mlp-blobs" / "card.json").read_text())
    cv = card["metrics"]["cross_validation"]
    assert len(cv["folds"]) == 3 and sum(f["val_size"] for f in cv["folds"]) == 120
    assert cv["mean"] == pytest.approx(np.mean([f["metrics"]["val_accuracy"] for f in cv["folds"]]))
    assert card["training"]["saved"] == f"best fold ({cv['best_fold'] + 1})"
    assert not (tmp_path / "out" / ".runs").exists()


def test_folds_save_all(tmp_path):
    recipe = load_recipe("perceptron-separable", overrides=["train.epochs=2"])
    result = cross_validate_recipe(recipe, 2, output=tmp_path, save="all", log=lambda *a: None)
    assert sorted(p.name for p in result.saved_dirs) == ["perceptron-separable-fold1",
                                                         "perceptron-separable-fold2"]


def test_folds_need_in_memory_data(tmp_path):
    recipe = load_recipe("lenet5-mnist", check_registry=False)
    with pytest.raises(ValueError, match="--folds needs data held in memory"):
        cross_validate_recipe(recipe, 3, output=tmp_path)


@pytest.mark.parametrize("name,check", [
    ("perceptron-xor", lambda acc: acc <= 0.75),
    ("mlp-xor", lambda acc: acc == 1.0),
    ("perceptron-separable", lambda acc: acc == 1.0),
])
def test_teaching_recipes_reach_their_expected_results(name, check, tmp_path):
    # 25 epochs: the MLP solves XOR by epoch 11, the perceptron stops on XOR by about 27 (early
    # stopping); the checkpoint, backup and CSV log change nothing learnt and cost half the time.
    sets = ["train.epochs=25", "callbacks.checkpoint=false", "callbacks.backup=false",
            "callbacks.csv_log=false"]
    result = run_recipe(load_recipe(name, overrides=sets), output=tmp_path, verbose=0,
                        log=lambda *a: None)
    acc = result.card["metrics"]["val_accuracy"]
    assert check(acc), (name, acc)


def test_shipped_adversarial_model_beats_standard_under_attack():
    from dlzoo.data.datasets import load
    from dlzoo.robustness import accuracy_under_attack
    from dlzoo.saving import load as load_saved
    from dlzoo.saving import read_card

    bundle = load("digits", image_size=(32, 32), color_mode="grayscale", batch_size=256)
    xs, ys = zip(*[(np.asarray(x), np.asarray(y)) for x, y in bundle.val])
    x, y = np.concatenate(xs), np.concatenate(ys)
    acc = {}
    for name in ("lenet5-digits", "lenet5-digits-adversarial"):
        model = load_saved(f"saved_models/{name}", compile=False)
        acc[name] = [r["accuracy"] for r in accuracy_under_attack(model, x, y, [0.0, 0.1])]
    card = read_card("saved_models/lenet5-digits-adversarial")["metrics"]["adversarial"]
    assert acc["lenet5-digits-adversarial"][1] == pytest.approx(card["val_accuracy_under_attack"], abs=0.005)
    assert acc["lenet5-digits-adversarial"][1] > acc["lenet5-digits"][1] + 0.2
    assert acc["lenet5-digits-adversarial"][0] > acc["lenet5-digits"][0] - 0.01  # clean cost is small
