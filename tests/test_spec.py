"""One run description (`dlzoo.spec.RunSpec`): a recipe, `dlzoo finetune`'s flags and
`fine_tune(**kwargs)` give the same spec; an unknown key or keyword is refused naming the
closest; the command line's rules are the spec's. No training here: a few CPU-seconds."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlzoo import cli
from dlzoo.commands.finetune import finetune_settings
from dlzoo.recipes import RecipeError, load_recipe, validate
from dlzoo.spec import FINETUNE_DEFAULTS, FINETUNE_RUN_OPTIONS, Phase, RunSpec
from dlzoo.spec.rules import FlagError, check_flags

ROOT = Path(__file__).resolve().parents[1]


def _finetune_recipe(model: str, **changes) -> dict:
    recipe = {
        "name": "shapes-ft", "model": model,
        "data": {"source": "synthetic:shapes", "image_size": [32, 32], "color_mode": "grayscale",
                 "batch_size": 16, "validation_split": 0.25, "seed": 3},
        "phases": [{"train": "head", "epochs": 4, "learning_rate": 0.002},
                   {"train": "top:2", "epochs": 6, "learning_rate": 0.0003,
                    "batchnorm": "train"}],
        "transfer": {"pooling": "max", "keep": "last"},
        "train": {"label_smoothing": 0.1, "optimizer": "adamw"},
        "callbacks": {"lr_schedule": "cosine"},
    }
    recipe.update(changes)
    return validate(recipe, "shapes-ft.yaml")


FLAGS = ["--head-epochs", "4", "--epochs", "6", "--head-lr", "0.002", "--lr", "0.0003",
         "--unfreeze", "top:2", "--train-batchnorm", "--pooling", "max",
         "--keep", "last", "--image-size", "32", "--color-mode", "grayscale",
         "--batch-size", "16", "--validation-split", "0.25", "--seed", "3",
         "--label-smoothing", "0.1", "--optimizer", "adamw", "--lr-schedule", "cosine"]


def _what(spec: RunSpec):
    """What the run does, whichever way it was described: the phases, the network's cut and
    head, the data as read, the switches."""
    phases = tuple(dataclasses.replace(p, optimizer_args={}) for p in spec.phases)
    return (phases, spec.model.name, spec.transfer.pooling, spec.transfer.dropout,
            spec.transfer.keep, list(spec.data.image_size), spec.data.color_mode,
            spec.data.batch_size, spec.data.validation_split, spec.seed,
            spec.switches, spec.optimizer, spec.precision, spec.devices)


def test_a_recipe_the_finetune_flags_and_fine_tune_keywords_give_one_spec():
    from_recipe = RunSpec.from_recipe(_finetune_recipe("lenet5"))
    args = cli.build_parser().parse_args(["finetune", "photos", "--model", "lenet5", *FLAGS])
    from_flags = RunSpec.from_finetune("lenet5", "synthetic:shapes", **finetune_settings(args))
    from_keywords = RunSpec.from_finetune(
        "lenet5", "synthetic:shapes", head_epochs=4, epochs=6, head_learning_rate=0.002,
        learning_rate=0.0003, unfreeze="top:2", train_batchnorm=True, pooling="max", keep="last",
        image_size=(32, 32), color_mode="grayscale", batch_size=16,
        validation_split=0.25, seed=3, label_smoothing=0.1, optimizer="adamw",
        lr_schedule="cosine")
    assert _what(from_recipe) == _what(from_flags) == _what(from_keywords)
    assert [p.train for p in from_recipe.phases] == ["head", "top:2"]
    assert from_recipe.phases[0] == Phase(train="head", epochs=4, learning_rate=0.002,
                                          on="features", batchnorm="frozen", optimizer="adamw")
    assert from_recipe.phases[1].batchnorm == "train" and from_recipe.phases[1].on == "images"


def test_a_plain_recipe_is_one_phase_training_everything_on_images():
    spec = RunSpec.from_recipe(load_recipe("lenet5-digits", ["train.epochs=7",
                                                             "train.learning_rate=0.01"]))
    assert spec.phases == (Phase(train="all", epochs=7, learning_rate=0.01, on="images",
                                 batchnorm="train", optimizer="adam"),)
    assert spec.transfer is None and not spec.is_finetune
    assert spec.recipe["train"]["epochs"] == 7  # the dict run folders store, kept as it was
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.seed = 1


@pytest.mark.parametrize("settings", [
    {},
    {"head_epochs": 0, "unfreeze": "top:1", "model_args": {}, "augment": True},
    {"epochs": 0, "learning_rate": 0.01, "train_batchnorm": True, "early_stopping": False,
     "image_size": [20, 24], "devices": "all", "ema": True, "clipnorm": 1.0, "name": "x"},
    {"unfreeze": "none", "augment": {"flip": "horizontal"}, "weights": "w.weights.h5",
     "lr_schedule": {"type": "cosine", "warmup_epochs": 1}, "cache_dir": "c"},
])
def test_fine_tune_keywords_round_trip_through_the_spec_unchanged(settings):
    # the config a fine-tune runs (and fingerprints for --resume) is built back from its spec:
    # a run started before the spec existed resumes, as every setting comes back as it was
    from dlzoo.transfer.finetune import FineTuneConfig, config_from_spec, finetune_spec

    cfg = FineTuneConfig(**settings, out="o", resume=True)
    back = config_from_spec(finetune_spec("lenet5", "digits", cfg),
                            **{k: getattr(cfg, k) for k in FINETUNE_RUN_OPTIONS})
    assert back == cfg
    assert {f.name for f in dataclasses.fields(FineTuneConfig)} == {
        *FINETUNE_DEFAULTS, *FINETUNE_RUN_OPTIONS}


def test_an_unknown_keyword_names_the_closest():
    from dlzoo.transfer import fine_tune

    with pytest.raises(TypeError, match="'head_epoch'; closest: head_epochs"):
        fine_tune("lenet5", "digits", head_epoch=3)
    with pytest.raises(TypeError, match="'lables_smoothing'; closest: label_smoothing"):
        RunSpec.from_finetune("lenet5", "digits", lables_smoothing=0.1)
    with pytest.raises(RecipeError, match=r"unknown key\(s\) phases\[0\]\.epoch \(closest: "
                                          r"phases\[0\]\.epochs\); allowed:"):
        _finetune_recipe("lenet5", phases=[{"train": "head", "epoch": 2}])


def test_an_unknown_recipe_key_names_the_closest_on_the_command_line(tmp_path):
    (tmp_path / "r.yaml").write_text("name: r\nmodel: lenet5\ndata: {source: digits}\n"
                                     "train: {epoch: 3}\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "dlzoo", "train", "r.yaml"], cwd=tmp_path,
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 2
    assert ("dlzoo: error: recipe r.yaml: unknown key(s) train.epoch (closest: train.epochs); "
            "allowed: train.optimizer") in run.stderr


def test_the_command_line_rules_are_the_specs():
    import argparse

    args = argparse.Namespace(epochs=0, lr=0.1, head_epochs=None)
    with pytest.raises(FlagError, match="--lr and --epochs 0 contradict each other"):
        check_flags("finetune", args)
    from dlzoo.spec.rules import LIMITS, MAX_EPOCHS, MAX_SEED

    # a flag stops where the recipe key does
    assert LIMITS["finetune"]["epochs"][1] == LIMITS["finetune"]["head_epochs"][1] == MAX_EPOCHS
    assert LIMITS["finetune"]["seed"][1] == MAX_SEED
    with pytest.raises(FlagError, match=f"--epochs must be from 0 to {MAX_EPOCHS:g}"):
        check_flags("finetune", argparse.Namespace(epochs=MAX_EPOCHS + 1))


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """Three classes of 32x32 grayscale images, 8 each (dark, mid, light with noise)."""
    import numpy as np
    from PIL import Image

    root = tmp_path_factory.mktemp("shapes")
    for c, value in (("dark", 40), ("mid", 128), ("light", 215)):
        (root / c).mkdir()
        for i in range(8):
            rng = np.random.default_rng(100 * value + i)
            pixels = np.clip(value + rng.normal(0, 30, (32, 32)), 0, 255).astype("uint8")
            Image.fromarray(pixels).save(root / c / f"{i}.png")
    return root


def test_folds_over_a_finetune_recipe_run_each_folds_phases(shapes, tmp_path, capsys):
    import json

    import yaml

    recipe = {"name": "shapes-ft", "model": str(ROOT / "saved_models" / "lenet5-digits"),
              "data": {"source": f"folder:{shapes}", "batch_size": 8, "seed": 0},
              "phases": [{"train": "head", "epochs": 1}, {"train": "all", "epochs": 1}],
              "transfer": {"keep": "last"}}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    out = tmp_path / "models"
    assert cli.main(["train", str(tmp_path / "r.yaml"), "--folds", "2", "--output", str(out),
                     "--save-folds", "all"]) == 0
    printed = capsys.readouterr().out
    assert "fold 1/2: 12 train, 12 val" in printed and "fold 2/2" in printed, printed
    for i in (1, 2):
        card = json.loads((out / f"shapes-ft-fold{i}" / "card.json").read_text())
        assert card["training"]["phase1"]["epochs_run"] == 1  # the head on frozen features
        assert card["training"]["phase2"]["epochs_run"] == 1  # then every layer
        assert card["metrics"]["fold"] == i and card["data"]["folds"] == 2
        assert len(card["metrics"]["cross_validation"]["folds"]) == 2
    assert not (out / ".runs").exists()


def test_find_lr_has_one_entry_and_runs_on_a_finetune_recipes_first_phase(shapes, tmp_path,
                                                                          monkeypatch, capsys):
    import json

    import yaml

    from dlzoo import lr_finder

    # one entry: train --find-lr, finetune --find-lr and a phased recipe all call it
    assert [n for n in dir(lr_finder) if n.startswith("find_lr_for")] == ["find_lr_for_run"]
    recipe = {"name": "shapes-ft", "model": str(ROOT / "saved_models" / "lenet5-digits"),
              "data": {"source": f"folder:{shapes}", "batch_size": 8, "seed": 0},
              "phases": [{"train": "head", "epochs": 3, "learning_rate": 0.001},
                         {"train": "all", "epochs": 2}]}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    monkeypatch.chdir(tmp_path)
    calls = []
    real = lr_finder.find_lr_for_run
    monkeypatch.setattr(lr_finder, "find_lr_for_run",
                        lambda spec, **kw: calls.append(spec) or real(spec, **kw, steps=20))
    assert cli.main(["train", "r.yaml", "--find-lr"]) == 0
    printed = capsys.readouterr().out
    record = json.loads((tmp_path / "lr_find" / "shapes-ft" / "lr_find.json").read_text())
    suggestion = record["suggestion"]
    assert f"learning_rate: {float(f'{suggestion:.2g}')}" in printed, printed  # phase 1's rate
    assert "{epochs: 2, train: all}" in printed  # the other phase as it was
    assert calls[0].phases[0].train == "head" and calls[0].is_finetune
    assert not (tmp_path / "saved_models").exists()  # nothing trained


def test_a_misspelt_flag_names_the_closest_of_its_commands_flags(capsys):
    for argv, closest in ((["finetune", "photos", "--model", "lenet5", "--head-epocs", "3"],
                           "--head-epochs"),
                          (["train", "r.yaml", "--lable-smoothing", "0.1"], "--label-smoothing")):
        with pytest.raises(SystemExit) as done:
            cli.main(argv)
        assert done.value.code == 2
        err = capsys.readouterr().err
        assert f"unrecognized arguments: {argv[-2]} {argv[-1]} (closest: {closest})" in err, err


# --- what a user is told about a recipe's sections, sources and --set keys -----------------------


def _one_line_error(capsys, argv) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("dlzoo: error: recipe "), err
    return err


def test_tune_on_a_recipe_without_tune_names_the_shipped_recipes_with_one(tmp_path, capsys):
    import yaml

    from dlzoo.recipes import RECIPES_DIR

    having = sorted(p.stem for p in RECIPES_DIR.glob("*.yaml")
                    if (yaml.safe_load(p.read_text()) or {}).get("tune") is not None)
    assert having, "the shipped recipes include searches"
    err = _one_line_error(capsys, ["tune", "lenet5-digits", "--max-trials", "1",
                                   "--output", str(tmp_path)])
    assert "lenet5-digits has no tune: section" in err and "hypermodel" not in err, err
    assert f"shipped recipes with one: {', '.join(having)}" in err, err
    err = _one_line_error(capsys, ["tune", "lenet5-shapes-finetune", "--max-trials", "1",
                                   "--output", str(tmp_path)])  # a fine-tune: it needs a space
    assert "lenet5-shapes-finetune has no tune: section" in err and "tune.space" not in err, err


@pytest.mark.parametrize("phases", [
    "[]", "{}", "foo", "null",
    "[{train: head, epochs: 1}, {train: all, epochs: 1}, {train: all, epochs: 1}]"])
def test_an_empty_or_wrong_phases_is_named_before_the_model_it_decides_on(phases):
    """The shipped fine-tune's model is `run:lenet5-digits`, a model only a recipe with phases
    may name: a wrong `phases` is reported as itself, not as an unknown model."""
    with pytest.raises(RecipeError) as e:
        load_recipe("lenet5-shapes-finetune", [f"phases={phases}"])
    assert "phases must be a list of one or two phases" in str(e.value), str(e.value)


@pytest.mark.parametrize("key", ["phases.0.epochs", "phases[0].epochs"])
def test_set_on_a_list_item_prints_the_whole_list_ready_to_paste(key, tmp_path, capsys):
    import shlex

    import yaml

    from dlzoo.recipes import find_recipe

    err = _one_line_error(capsys, ["train", "lenet5-shapes-finetune", "--set", f"{key}=1",
                                   "--output", str(tmp_path)])
    assert "cannot set list items one by one" in err, err
    pasted = shlex.split(err.split("e.g. ", 1)[1])
    assert pasted[0] == "--set" and pasted[1].startswith("phases=["), err
    given = yaml.safe_load(find_recipe("lenet5-shapes-finetune").read_text())["phases"]
    expected = [{**given[0], "epochs": 1}, *given[1:]]
    assert yaml.safe_load(pasted[1].split("=", 1)[1]) == expected
    recipe = load_recipe("lenet5-shapes-finetune", [pasted[1]])
    assert recipe["phases"][0]["epochs"] == 1 and recipe["phases"][1] == given[1]


def test_run_name_of_no_shipped_recipe_names_the_closest_or_says_there_is_none(tmp_path, capsys):
    out = str(tmp_path / "models")
    err = _one_line_error(capsys, ["train", "lenet5-shapes-finetune", "--set",
                                   "model=run:lenet5-digit", "--output", out])
    assert "no shipped recipe is named lenet5-digit (closest: lenet5-digits)" in err, err
    assert f"train it first: dlzoo train lenet5-digits --output {out}" in err, err
    assert "dlzoo train lenet5-digit " not in err, err
    err = _one_line_error(capsys, ["train", "lenet5-shapes-finetune", "--set",
                                   "model=run:qqqzzz", "--output", out])
    assert "no shipped recipe is named qqqzzz" in err and "dlzoo train qqqzzz" not in err, err


def test_a_misspelt_data_source_names_the_recipe_the_key_and_the_closest():
    for source, meant in (("digitz", "digits"), ("shapes", "synthetic:shapes")):
        with pytest.raises(RecipeError) as e:
            load_recipe("lenet5-digits", [f"data.source={source}"])
        assert str(e.value).startswith(f"recipe lenet5-digits.yaml: data.source {source!r} "), \
            str(e.value)
        assert f"(closest: {meant})" in str(e.value) and f"tfds:{source}" in str(e.value)
    for source in ("tfds:digitz", "cifar10_1", "mnist"):  # a tfds name, or said to be one
        assert load_recipe("lenet5-digits", [f"data.source={source}"],
                           check_registry=False)["data"]["source"] == source


def test_a_broken_yaml_recipe_says_the_line_and_column(tmp_path, capsys):
    lines = ["name: r", "model: lenet5", "data: {source: digits", "train: {epochs: 1}"]
    (tmp_path / "r.yaml").write_text("\n".join(lines) + "\n")
    err = _one_line_error(capsys, ["train", str(tmp_path / "r.yaml")])
    column = lines[3].index(":") + 1  # where the unclosed flow mapping meets the next key
    assert f"not valid YAML: line 4, column {column}: " in err, err
    assert f"(while parsing a flow mapping at line 3, column {lines[2].index('{') + 1})" in err


def test_the_switches_are_the_same_list_in_the_spec_the_fine_tune_config_and_dlzoo_switches():
    """The training switches are spelt three times, for typed fields: `dlzoo.switches`'
    SWITCH_DEFAULTS (what recipes and flags accept), `RunSpec.switches` and `FineTuneConfig`
    (`fine_tune`'s keywords). A switch added to one and not the others would be dropped
    silently on its way to the run."""
    from dlzoo.spec import Switches
    from dlzoo.switches import SWITCH_DEFAULTS
    from dlzoo.transfer.finetune import FineTuneConfig

    spec_fields = {f.name: f.default for f in dataclasses.fields(Switches)}
    assert spec_fields == SWITCH_DEFAULTS
    config = {f.name: f.default for f in dataclasses.fields(FineTuneConfig)}
    assert {k: config.get(k, "missing") for k in SWITCH_DEFAULTS} == SWITCH_DEFAULTS
