"""dlzoo.lr_finder: the range test finds the stability limit of a problem whose limit is known,
leaves the model as it was, and on LeNet-5 / digits suggests a rate that trains to >= 97%."""

import json

import numpy as np
import pytest

from dlzoo.lr_finder import find_lr


def _regression(seed=0):
    import keras

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4096, 1)).astype("float32")
    y = (3.0 * x[:, 0] + 0.1 * rng.normal(size=4096)).astype("float32")
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model, x, y


def test_range_test_finds_the_stability_limit_and_leaves_the_model_alone(tmp_path):
    # least squares on x ~ N(0, 1) with plain SGD: the loss's curvature is 2 E[x^2] = 2, so steps
    # shrink the error for rates below 1 and blow it up above 1
    model, x, y = _regression()
    before = [w.copy() for w in model.get_weights()]
    found = find_lr(model, (x, y), batch_size=256, start_lr=1e-4, end_lr=100.0, steps=60,
                    png=tmp_path / "lr.png")
    assert found.diverged and found.learning_rates[-1] > 1.0  # it ran past the limit and stopped
    assert 0.1 <= found.min_loss_lr <= 1.0  # the lowest loss lies just below the limit
    assert found.suggestion == pytest.approx(found.min_loss_lr / 10)
    assert found.learning_rates == pytest.approx(
        [1e-4 * (1e6 ** (1 / 59)) ** i for i in range(len(found.learning_rates))])
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # the model's own weights are as they were
    assert int(model.optimizer.iterations.numpy()) == 0
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.01)
    assert (tmp_path / "lr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_range_test_rejects_bad_arguments():
    import keras

    model, x, y = _regression()
    with pytest.raises(ValueError, match="end_lr must exceed start_lr"):
        find_lr(model, (x, y), start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="steps must be an integer of at least 10"):
        find_lr(model, (x, y), steps=3)
    with pytest.raises(ValueError, match="needs a compiled model"):
        find_lr(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]), (x, y))


def test_cli_find_lr_on_lenet5_digits_suggests_a_rate_and_trains_nothing(tmp_path, monkeypatch,
                                                                         capsys):
    from dlzoo.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "lenet5-digits", "--find-lr", "--output", "models"]) == 0
    out = capsys.readouterr().out
    record = json.loads((tmp_path / "lr_find" / "lenet5-digits" / "lr_find.json").read_text())
    print(f"lenet5-digits: suggested learning rate {record['suggestion']:.3g}")
    assert 1e-4 <= record["suggestion"] <= 1e-1
    assert f"suggested learning rate {record['suggestion']:.2g}" in out and "nothing trained" in out
    assert len(record["losses"]) == len(record["learning_rates"]) == record["steps"]
    assert (tmp_path / "lr_find" / "lenet5-digits" / "lr_find.png").stat().st_size > 10_000
    assert not (tmp_path / "models").exists()
    assert main(["train", "lenet5-digits", "--use-found-lr"]) == 2
    assert "--use-found-lr goes with --find-lr" in capsys.readouterr().err


def test_cli_finetune_find_lr_tests_what_the_fine_tune_trains(tmp_path, monkeypatch, capsys):
    """LeNet-5 has random weights, so `finetune` trains every layer from the first epoch at --lr
    (no frozen head phase): the range test must sweep that, not a head on frozen random
    features, whose suggestion (about 0.1) ruined the real run (0.19 accuracy against 0.92)."""
    from dlzoo.cli import main
    from dlzoo.data.datasets import export_digits

    export_digits(tmp_path / "digits")
    monkeypatch.chdir(tmp_path)
    assert main(["finetune", "digits", "--model", "lenet5", "--find-lr", "--out", "ft"]) == 0
    record = json.loads((tmp_path / "lr_find" / "ft" / "lr_find.json").read_text())
    assert record["trained"] == "all"
    # the whole network from scratch: as `dlzoo train lenet5-digits --find-lr` finds (~1e-3)
    assert 1e-5 <= record["suggestion"] <= 3e-2, record["suggestion"]
    assert f"fine-tune at it with: --lr {record['suggestion']:.2g}" in capsys.readouterr().out
    assert not (tmp_path / "ft").exists()


@pytest.mark.slow
def test_training_at_the_suggested_rate_reaches_97_percent(tmp_path, monkeypatch):
    from dlzoo.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["train", "lenet5-digits", "--find-lr", "--use-found-lr", "--quiet",
                 "--output", "models"]) == 0
    card = json.loads((tmp_path / "models" / "lenet5-digits" / "card.json").read_text())
    suggestion = card["lr_find"]["suggestion"]
    assert 1e-4 <= suggestion <= 1e-1
    assert card["training"]["learning_rate"] == pytest.approx(float(f"{suggestion:.2g}"))
    print(f"lenet5-digits at the suggested rate {suggestion:.2g}: val accuracy "
          f"{card['metrics']['val_accuracy']:.4f} in {card['training']['epochs_run']} epochs")
    assert card["metrics"]["val_accuracy"] >= 0.97
