"""dlzoo.save / dlzoo.load: the saved_models format, sha256 check, safe loading, and a crash in
the middle of a save that leaves the previous model whole."""

import json
import os

import keras
import numpy as np
import pytest

import dlzoo
from dlzoo import saving
from dlzoo.evaluation import classification_report
from dlzoo.preprocessing import Preprocess, base_network, preprocess, with_preprocessing


def small_model():
    base = dlzoo.build("lenet5", num_classes=3)
    return with_preprocessing(base, "unit", name="lenet5_test")


def images(n=4):
    return np.random.default_rng(0).uniform(0, 255, size=(n, 32, 32, 1)).astype("float32")


def test_round_trip_with_card_plots_and_preprocessing(tmp_path):
    model = small_model()
    x = images()
    expected = model.predict(x, verbose=0)
    rep = classification_report([0, 1, 2, 1], expected, ["a", "b", "c"])
    out = dlzoo.save(model, tmp_path / "m", {"name": "m", "model": "lenet5", "class_names":
                                               ["a", "b", "c"], "metrics": {"val_accuracy": 0.5}},
                     history={"loss": [2.0, 1.0], "val_loss": [2.1, 1.5]}, report=rep)
    names = sorted(os.listdir(out))
    assert names == ["README.md", "card.json", "confusion_matrix.png", "curves.png",
                     "history.csv", "model.keras"]
    card = json.loads((out / "card.json").read_text())
    assert card["sha256"] == saving.sha256(out / "model.keras")
    assert card["input_shape"] == [32, 32, 1] and card["preprocessing_applied"] == "unit"
    assert card["versions"]["keras"] == keras.__version__
    assert "| val_accuracy | 0.5000 |" in (out / "README.md").read_text()
    loaded = dlzoo.load(out)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert base_network(loaded).name == "lenet5"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")], "no temporary folder left"


def test_changed_model_file_is_refused(tmp_path):
    out = dlzoo.save(small_model(), tmp_path / "m", {"name": "m"})
    with open(out / "model.keras", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ValueError, match="does not match its card: sha256"):
        dlzoo.load(out)
    with pytest.raises(FileNotFoundError, match="not a dlzoo saved model"):
        dlzoo.load(tmp_path / "nothing-here")


def test_crash_during_save_keeps_the_previous_model(tmp_path, monkeypatch):
    out = dlzoo.save(small_model(), tmp_path / "m", {"name": "m", "run": 1})
    before = (out / "card.json").read_text()

    def boom(card):
        raise RuntimeError("disk full")

    monkeypatch.setattr(saving, "render_readme", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        dlzoo.save(small_model(), out, {"name": "m", "run": 2})
    assert (out / "card.json").read_text() == before
    dlzoo.load(out)  # still whole
    assert sorted(os.listdir(tmp_path)) == ["m"]
    monkeypatch.undo()
    dlzoo.save(small_model(), out, {"name": "m", "run": 2})
    assert saving.read_card(out)["run"] == 2
    assert sorted(os.listdir(tmp_path)) == ["m"]


def test_refuses_to_replace_a_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="not a dlzoo saved model"):
        dlzoo.save(small_model(), tmp_path / "photos", {})


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_preprocess_layer_matches_keras_applications(mode):
    from keras.applications import imagenet_utils

    x = np.random.default_rng(1).uniform(0, 255, size=(2, 5, 5, 3)).astype("float32")
    want = imagenet_utils.preprocess_input(x.copy(), mode=mode)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(Preprocess(mode)(x)), want, rtol=1e-5,
                               atol=1e-4)
    np.testing.assert_allclose(preprocess(x, mode), want, rtol=1e-5, atol=1e-4)


def test_preprocess_unit_none_and_channel_check():
    x = np.full((1, 2, 2, 1), 255.0, "float32")
    assert float(keras.ops.convert_to_numpy(Preprocess("unit")(x)).max()) == 1.0
    assert float(keras.ops.convert_to_numpy(Preprocess("none")(x)).max()) == 255.0
    with pytest.raises(ValueError, match="expects RGB images"):
        Preprocess("caffe")(x)
    with pytest.raises(ValueError, match="must be one of"):
        Preprocess("imagenet")


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in
                                          (saving.Path(__file__).parents[1] / "saved_models")
                                          .glob("*/card.json")))
def test_shipped_cards_read_as_model_cards_and_write_the_same_keys(folder):
    path = saving.Path(__file__).parents[1] / "saved_models" / folder
    old = saving.read_card(path)
    card = saving.load_card(path)
    assert card.name == old["name"] and card.model == old["model"]
    assert card.sha256 == old["sha256"] and card.class_names == old["class_names"]
    written = card.to_dict()
    assert written.pop("schema_version") == saving.CARD_SCHEMA_VERSION
    assert written == old  # an old card (no schema_version) loses and renames nothing


def test_model_card_round_trip_and_unknown_keys(tmp_path):
    card = saving.ModelCard(name="m", model="lenet5", task="image_classification",
                            class_names=["a", "b", "c"], extra={"transfer": {"head": "new"}})
    d = card.to_dict()
    assert "recipe" not in d and d["transfer"] == {"head": "new"}  # unset fields are not written
    assert saving.ModelCard.from_dict(d) == card
    out = dlzoo.save(small_model(), tmp_path / "m", card)
    loaded = saving.load_card(out)
    assert loaded.extra["transfer"] == {"head": "new"}
    assert loaded.input_shape == [32, 32, 1] and loaded.sha256 == saving.sha256(out / "model.keras")
    with pytest.raises(ValueError, match="newer than this dlzoo reads"):
        saving.ModelCard.from_dict({"name": "m", "schema_version": 99})
