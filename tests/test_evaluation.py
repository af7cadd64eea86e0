"""dlzoo.evaluation: metrics against hand-computed values, one-pass prediction over tf.data,
top-k, and the plots."""

import numpy as np
import pytest

from dlzoo.evaluation import classification_report, evaluate, plot_history, top_k


def test_report_matches_hand_computed_figures():
    y = [0, 0, 0, 1, 1, 2]
    pred = [0, 0, 1, 1, 1, 0]
    probs = np.eye(3)[pred] * 0.8 + 0.2 / 3
    rep = classification_report(y, probs, ["a", "b", "c"])
    assert rep.accuracy == pytest.approx(4 / 6)
    assert rep.confusion.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert rep.precision == pytest.approx([2 / 3, 2 / 3, 0.0])
    assert rep.recall == pytest.approx([2 / 3, 1.0, 0.0])
    assert rep.f1 == pytest.approx([2 / 3, 0.8, 0.0])
    assert rep.support == [3, 2, 1]
    p_true = probs[np.arange(6), y]
    assert rep.loss == pytest.approx(-np.mean(np.log(p_true)))
    d = rep.to_dict()
    assert d["per_class"]["b"]["recall"] == 1.0 and d["samples"] == 6
    with pytest.raises(ValueError, match="predicts 3 classes but 2 class names"):
        classification_report(y, probs, ["a", "b"])


def test_evaluate_dataset_equals_arrays_and_sigmoid_outputs_work():
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(50, seed=1).batch(8)
    a = evaluate(model, ds)
    b = evaluate(model, (x, y))
    assert a.accuracy == pytest.approx(b.accuracy)
    np.testing.assert_array_equal(a.confusion, b.confusion)
    binary = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    rep = evaluate(binary, (x, y), class_names=["neg", "pos"])
    assert rep.confusion.sum() == 50 and len(rep.f1) == 2


def test_top_k_orders_by_probability():
    probs = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])
    assert top_k(probs, ["a", "b", "c"], k=2) == [
        [("b", 0.7), ("c", 0.2)], [("a", 0.5), ("c", 0.3)]
    ]
    assert len(top_k(probs, ["a", "b", "c"], k=10)[0]) == 3


def test_plots_are_png_files(tmp_path):
    rep = classification_report([0, 1, 1], np.eye(2)[[0, 1, 0]], ["x", "y"])
    for path in (
        rep.plot_confusion_matrix(tmp_path / "cm.png"),
        plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8],
                      "learning_rate": [1e-3, 5e-4]}, tmp_path / "curves.png"),
    ):
        data = open(path, "rb").read()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
