"""dlzoo.interpretation: ECE against a hand computation, temperature scaling on a deliberately
over-confident model, top losses and most-confused pairs, and what `dlzoo evaluate` adds."""

import json
from pathlib import Path

import numpy as np
import pytest

from dlzoo.interpretation import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    most_confused,
    plot_reliability_diagram,
    predict_keeping_worst,
    reliability_bins,
    top_losses,
)

SHIPPED = Path(__file__).resolve().parent.parent / "saved_models" / "lenet5-digits"


def test_ece_equals_the_hand_computed_value():
    # four predictions at confidence 0.95 (bin 14 of 15), three right: gap |0.75 - 0.95| = 0.2;
    # two at 0.62 (bin 9), both right: gap |1 - 0.62| = 0.38; ECE = 4/6 * 0.2 + 2/6 * 0.38 = 0.26
    probs = np.array([[0.95, 0.05]] * 3 + [[0.05, 0.95]] + [[0.62, 0.38], [0.38, 0.62]])
    labels = np.array([0, 0, 0, 0, 0, 1])
    assert expected_calibration_error(labels, probs) == pytest.approx(0.26, abs=1e-12)
    rows = reliability_bins(labels, probs)
    assert [r["count"] for r in rows] == [0] * 9 + [2] + [0] * 4 + [4]
    assert rows[14]["accuracy"] == 0.75 and rows[14]["confidence"] == pytest.approx(0.95)
    assert rows[0]["accuracy"] is None
    # one bin: |accuracy - mean confidence| = |5/6 - (3 * .95 + .95 + 2 * .62) / 6|
    assert expected_calibration_error(labels, probs, bins=1) == pytest.approx(
        abs(5 / 6 - (4 * 0.95 + 2 * 0.62) / 6))
    # a confidence of exactly 1 falls in the last bin; right and sure is perfectly calibrated
    assert expected_calibration_error([1], [[0.0, 1.0]]) == 0.0
    with pytest.raises(ValueError, match="bins must be a positive integer"):
        expected_calibration_error(labels, probs, bins=0)
    with pytest.raises(ValueError, match="labels must lie in 0..1"):
        expected_calibration_error([2], [[0.5, 0.5]])


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_temperature_scaling_lowers_the_ece_of_an_over_confident_model():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1.5, size=(6000, 5))
    calibrated = _softmax(logits)  # labels are drawn from these, so they are calibrated
    labels = np.array([rng.choice(5, p=p) for p in calibrated])
    over = _softmax(3.0 * logits)  # the same model, logits tripled: over-confident
    fit, held = slice(0, 3000), slice(3000, None)
    t = fit_temperature(labels[fit], over[fit])
    assert 2.6 < t < 3.4  # it recovers the factor the logits were scaled by
    before = expected_calibration_error(labels[held], over[held])
    after = expected_calibration_error(labels[held], apply_temperature(over[held], t))
    print(f"over-confident model: ECE {before:.4f}, after temperature {t:.2f}: {after:.4f}")
    assert before > 0.1 and after < before / 4
    assert after == pytest.approx(expected_calibration_error(labels[held], calibrated[held]),
                                  abs=0.02)
    np.testing.assert_allclose(apply_temperature(over, 3.0), calibrated, atol=1e-9)


def test_top_losses_and_most_confused():
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.7, 0.25, 0.05], [0.1, 0.1, 0.8]])
    idx, losses = top_losses([0, 0, 1, 2], probs, k=2)
    assert idx.tolist() == [1, 2] and losses == pytest.approx([-np.log(0.2), -np.log(0.25)])
    assert top_losses([0, 0], [[0.5, 0.5], [0.5, 0.5]], k=2)[0].tolist() == [0, 1]  # ties: order
    cm = np.array([[5, 3, 0], [1, 4, 3], [0, 7, 2]])
    assert most_confused(cm, ["a", "b", "c"]) == [("c", "b", 7), ("a", "b", 3), ("b", "c", 3),
                                                  ("b", "a", 1)]
    assert most_confused(cm, ["a", "b", "c"], min_count=3, limit=2) == [("c", "b", 7),
                                                                         ("a", "b", 3)]


def test_worst_kept_in_one_pass_are_the_top_losses():
    import keras

    rng = np.random.default_rng(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    x = rng.normal(size=(50, 4)).astype("float32")
    y = rng.integers(0, 3, size=50)
    batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 50, 16)]
    to_model = np.array([2, 0, 1])  # the data's classes in the model's order
    labels, probs, (idx, kept) = predict_keeping_worst(model, [batches[:2], batches[2:]],
                                                       to_model, keep=5)
    np.testing.assert_array_equal(labels, to_model[y])
    np.testing.assert_allclose(probs, model.predict(x, verbose=0), atol=1e-6)
    assert idx.tolist() == top_losses(labels, probs, k=5)[0].tolist()
    np.testing.assert_array_equal(kept, x[idx])


def test_reliability_diagram_is_a_png(tmp_path):
    probs = np.array([[0.95, 0.05]] * 3 + [[0.05, 0.95]] + [[0.62, 0.38], [0.38, 0.62]])
    data = Path(plot_reliability_diagram([0, 0, 0, 0, 0, 1], probs, tmp_path / "r.png")
                ).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_evaluate_report_holds_calibration_confusions_and_top_losses(tmp_path):
    from dlzoo.evaluation import evaluate_saved_model

    result = evaluate_saved_model(SHIPPED, "digits", out=tmp_path, top_losses=4)
    report = json.loads((tmp_path / "report.json").read_text())
    cal = report["calibration"]
    assert cal["bins"] == 15 and sum(r["count"] for r in cal["reliability"]) == 332
    assert 0 <= cal["ece"] < 0.1  # the shipped model is 99% right and about as sure
    cm = np.array(report["confusion_matrix"])
    pairs = report["most_confused"]
    assert pairs and [p["count"] for p in pairs] == sorted(
        cm[~np.eye(10, dtype=bool)], reverse=True)[:len(pairs)]
    assert all(cm[int(p["true"]), int(p["predicted"])] == p["count"] for p in pairs)
    losses = [r["loss"] for r in report["top_losses"]]
    assert len(losses) == 4 and losses == sorted(losses, reverse=True)
    wrong = int(cm.sum() - np.trace(cm))  # every mistake costs more than any right answer
    assert all(r["predicted"] != r["true"] for r in report["top_losses"][:min(wrong, 4)])
    assert report["grad_cam"] == {"layer": "s4", "samples": 4, "class": "predicted",
                                  "png": "gradcam_worst.png"}
    for key in ("reliability", "top_losses", "grad_cam"):
        assert Path(result.paths[key]).stat().st_size > 10_000


def test_interpret_without_images_or_convolutions(tmp_path):
    import keras

    from dlzoo.evaluation import classification_report
    from dlzoo.interpretation import interpret

    rng = np.random.default_rng(2)
    x = rng.uniform(0, 255, size=(12, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, size=12)
    mlp = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                            keras.layers.Dense(3, activation="softmax")])
    probs = mlp.predict(x, verbose=0)
    report = classification_report(y, probs, ["a", "b", "c"])
    idx, _ = top_losses(y, probs, k=3)
    entries, paths = interpret(mlp, y, probs, (idx, x[idx]), report, folder=tmp_path, title="t",
                               top_k=3)
    assert set(paths) == {"reliability", "top_losses"}  # images, but nothing to localise
    assert "no layer with a spatial output" in entries["grad_cam"]["skipped"]
    entries, paths = interpret(mlp, y, probs, (np.zeros(0, "int64"), None), report,
                               folder=tmp_path, title="t", top_k=3)
    assert set(paths) == {"reliability"} and "grad_cam" not in entries  # e.g. a text model
    assert len(entries["top_losses"]) == 3 and entries["calibration"]["bins"] == 15
