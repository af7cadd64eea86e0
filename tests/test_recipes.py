"""dlzoo.recipes: every shipped recipe validates and names a registered model that takes its
model_args; a recipe given by path works; errors name the key; --set overrides."""

from pathlib import Path

import pytest
import yaml

from dlzoo.recipes import (
    RECIPES_DIR,
    RecipeError,
    apply_overrides,
    check_model,
    find_recipe,
    list_recipes,
    load_recipe,
    validate,
)
from dlzoo.registry import list_models, normalize_name

SHIPPED = list_recipes()
REQUIRED = {
    "lenet5-digits", "lenet5-mnist", "alexnet-cifar10", "vgg16-cifar10", "resnet20-cifar10",
    "googlenet-flowers", "inception_v3-flowers", "text_lstm-imdb", "text_gru-imdb",
    "transformer_encoder-imdb", "dae-mnist", "dcgan-mnist",
}


def test_every_family_of_the_issue_has_a_recipe():
    assert REQUIRED <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_recipe_is_valid_and_says_what_to_expect(name):
    recipe = load_recipe(name, check_registry=False)
    assert recipe["name"] == name, "the file is named after the recipe"
    figures = {k: v for k, v in recipe["expect"].items() if k not in ("source", "note")}
    assert figures and len(recipe["expect"]["source"]) > 40, "a figure and where it comes from"
    if recipe["model"].startswith("run:"):  # a fine-tune of the model another recipe saves
        recipe = load_recipe(recipe["model"][len("run:"):], check_registry=False)
    assert normalize_name(recipe["model"]) in {normalize_name(n) for n in list_models()}, \
        f"recipe {name}: model {recipe['model']!r} is not registered"
    check_model(recipe, where=name)  # and it takes the recipe's model_args


def base():
    return yaml.safe_load((RECIPES_DIR / "lenet5-digits.yaml").read_text())


@pytest.mark.parametrize(
    "change, message",
    [
        ({"train": {"epochs": "ten"}},
         "recipe r.yaml: train.epochs must be a positive integer; received 'ten'."),
        ({"train": {"learning_rate": -1}}, "train.learning_rate must be a positive number"),
        ({"train": {"optimizer": "adamm"}}, "train.optimizer must be a Keras optimizer name"),
        ({"train": {"optimizer_args": {"momentun": 0.9}}}, "train.optimizer_args.momentun"),
        ({"data": {"batch_size": 0}}, "data.batch_size must be a positive integer"),
        ({"data": {"validation_split": 1.5}}, "data.validation_split must be a fraction"),
        ({"data": {"image_size": [32]}}, "data.image_size must be [height, width]"),
        ({"data": {"source": ""}}, "data.source must be a tfds name"),
        ({"callbacks": {"lr_schedule": "linear"}}, "callbacks.lr_schedule must be one of"),
        ({"callbacks": {"early_stopping": {"patience": "x"}}},
         "callbacks.early_stopping.patience must be"),
        ({"expect": {"val_accuracy": 0.9, "source": None}}, "expect.source must be a string"),
        ({"trian": {}}, "unknown key(s) trian"),
        ({"train": {"augment": {"flip": "diagonal"}}}, "train.augment.flip must be"),
    ],
)
def test_errors_name_the_key(change, message):
    raw = base()
    for section, value in change.items():
        if isinstance(value, dict) and isinstance(raw.get(section), dict):
            raw[section] = {**raw[section], **value}
        else:
            raw[section] = value
    with pytest.raises(RecipeError) as err:
        validate(raw, where="r.yaml")
    assert message in str(err.value)


def test_missing_required_keys_and_unknown_model():
    raw = base()
    del raw["model"]
    with pytest.raises(RecipeError, match="the key 'model' is required"):
        validate(raw, where="r.yaml")
    raw = base() | {"model": "lenet6"}
    with pytest.raises(RecipeError, match="Unknown model 'lenet6'. Closest names: lenet5"):
        check_model(validate(raw, where="r.yaml"), where="r.yaml")


def test_overrides_parse_values_as_yaml_and_create_keys():
    out = apply_overrides(base(), ["train.epochs=5", "callbacks.early_stopping=false",
                                   "data.image_size=[28, 28]", "train.optimizer_args.beta_1=0.8",
                                   "description=hello world"])
    assert out["train"]["epochs"] == 5
    assert out["callbacks"]["early_stopping"] is False
    assert out["data"]["image_size"] == [28, 28]
    assert out["train"]["optimizer_args"] == {"beta_1": 0.8}
    assert out["description"] == "hello world"
    with pytest.raises(RecipeError, match="expects key=value"):
        apply_overrides(base(), ["train.epochs"])
    with pytest.raises(RecipeError, match="cannot set model.x: model is 'lenet5'"):
        apply_overrides(base(), ["model.x=1"])


def test_defaults_are_filled_in_and_recorded():
    r = load_recipe("lenet5-digits", overrides=["callbacks.lr_schedule=cosine"])
    assert r["callbacks"]["lr_schedule"] == {"type": "cosine", "warmup_epochs": 0, "alpha": 0.0}
    assert r["train"]["seed"] == r["data"]["seed"] == 0
    assert r["callbacks"]["backup"] is True
    with pytest.raises(FileNotFoundError, match="shipped recipes: .*lenet5-digits"):
        load_recipe("no-such-recipe")


def test_recipes_ship_inside_the_package_and_a_path_works_too(tmp_path):
    import dlzoo

    assert RECIPES_DIR.parent == Path(dlzoo.__file__).resolve().parent  # package data
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump(base() | {"name": "mine"}))
    assert find_recipe(mine) == mine and find_recipe("lenet5-digits").parent == RECIPES_DIR
    assert load_recipe(str(mine), overrides=["train.epochs=2"])["train"]["epochs"] == 2
