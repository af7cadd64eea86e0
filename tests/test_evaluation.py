"""dlzoo.evaluation: metrics against hand-computed values, one-pass prediction over tf.data,
top-k, the plots, and evaluate_saved_model (what `dlzoo evaluate` does) on the shipped model."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dlzoo.evaluation import (
    classification_report,
    evaluate,
    evaluate_saved_model,
    plot_history,
    predict_files,
    top_k,
)


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
        data = Path(path).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


# --- evaluate_saved_model: `dlzoo evaluate` in Python ------------------------------------------

SHIPPED = Path(__file__).resolve().parent.parent / "saved_models" / "lenet5-digits"


def test_evaluate_saved_model_writes_what_the_cli_writes(tmp_path, capsys):
    from dlzoo.cli import main

    result = evaluate_saved_model(SHIPPED, "digits", out=tmp_path / "lib")
    assert main(["evaluate", str(SHIPPED), "digits", "--out", str(tmp_path / "cli")]) == 0
    lib = json.loads((tmp_path / "lib" / "report.json").read_text())
    cli = json.loads((tmp_path / "cli" / "report.json").read_text())
    assert lib == cli == json.loads(json.dumps(result.to_dict()))
    # the data the model was trained on: its validation split, whose accuracy the card records
    assert result.split == "val" and lib["samples"] == 332
    assert result.card_val_accuracy == pytest.approx(result.report.accuracy, abs=0.005)
    assert set(result.paths) == {"report", "confusion_matrix", "reliability", "top_losses",
                                 "grad_cam"} and result.adversarial is None
    assert Path(result.paths["confusion_matrix"]).stat().st_size > 5000
    assert f"accuracy {result.report.accuracy:.4f} on 332" in capsys.readouterr().out


def test_evaluate_saved_model_adversarial_is_in_the_report(tmp_path):
    result = evaluate_saved_model(SHIPPED, "digits", out=tmp_path, adversarial="fgsm",
                                  epsilons=(0.1,), max_samples=40)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["adversarial"] == json.loads(json.dumps(result.adversarial))
    assert report["adversarial"]["samples"] == 40
    assert report["adversarial"]["value_range"] == [0.0, 255.0]
    rows = report["adversarial"]["rows"]
    assert [r["epsilon"] for r in rows] == [0.0, 0.1] and rows[1]["accuracy"] < rows[0]["accuracy"]
    assert Path(result.paths["adversarial"]).stat().st_size > 10_000


def test_evaluate_saved_model_matches_classes_by_name(tmp_path):
    from dlzoo.data.datasets import export_digits

    folder = tmp_path / "digits"
    counts = export_digits(folder)["counts"]
    for c in "01245689":  # keep 3 and 7: the data's labels 0 and 1 are the model's 3 and 7
        shutil.rmtree(folder / c)
    result = evaluate_saved_model(SHIPPED, folder, out=tmp_path / "ev")
    assert result.split == "all" and result.source == f"folder:{folder}"
    assert result.card_val_accuracy is None  # other data: not comparable with the card
    support = dict(zip(result.report.class_names, result.report.support))
    assert support["3"] == counts["3"] and support["7"] == counts["7"]
    assert sum(support.values()) == counts["3"] + counts["7"]
    assert result.report.accuracy > 0.9  # a wrong mapping would score about 0
    # the top losses name their files: each is of its row's true class, and `predict` on that
    # file alone gives the row's prediction and probability (sample i is file i)
    rows = result.interpretation["top_losses"]
    assert len(rows) == 9
    tops = dict(predict_files(SHIPPED, [str(folder / r["file"]) for r in rows], k=1).rows)
    for r in rows:
        assert r["file"].split("/")[0] == r["true"], r
        (cls, prob), = tops[str(folder / r["file"])]
        assert cls == r["predicted"] and prob == pytest.approx(r["probability"], abs=1e-4), r

    (folder / "x").mkdir()
    Image.new("L", (32, 32)).save(folder / "x" / "blank.png")
    with pytest.raises(ValueError, match="class.es. the model does not know: x"):
        evaluate_saved_model(SHIPPED, folder, out=tmp_path / "ev2")


@pytest.mark.parametrize("kwargs,match", [
    ({"split": "test"}, "split must be one of val, train, all"),
    ({"adversarial": "pgd"}, "adversarial must be 'fgsm'"),
    ({"adversarial": "fgsm", "epsilons": (2.0,)}, "epsilon must be a number in .0, 1."),
    ({"top_losses": -1}, "top_losses must be a count, 0 or more"),
])
def test_evaluate_saved_model_rejects_bad_options_before_loading(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        evaluate_saved_model(tmp_path / "not-a-model", "digits", **kwargs)
