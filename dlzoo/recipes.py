"""Recipes: one YAML file per model x dataset, validated with errors that name the key.

    name: lenet5-digits
    model: lenet5
    model_args: {input_shape: [32, 32, 1], num_classes: 10}
    data: {source: digits, image_size: [32, 32], validation_split: 0.2, batch_size: 64, seed: 0}
    train: {optimizer: adam, learning_rate: 0.001, epochs: 40}
    callbacks: {early_stopping: {patience: 6}, lr_schedule: plateau}
    expect: {val_accuracy: 0.98, source: "where the figure comes from"}

    >>> from dlzoo.recipes import load_recipe
    >>> recipe = load_recipe("lenet5-digits", overrides=["train.epochs=5"])
    >>> recipe["train"]["epochs"]
    5

`load_recipe` finds a file by path or by name among the shipped recipes (`dlzoo/recipes/*.yaml`,
package data, so an installed dlzoo has them too), applies `--set key=value` overrides (dotted
keys, values parsed as YAML) and returns the recipe with every default filled in, so the card
records exactly what ran.
"""

from __future__ import annotations

import copy
import inspect
import os
import re
from pathlib import Path

import yaml

from dlzoo import catalog
from dlzoo.registry import _REGISTRY, check_model_args, normalize_name
from dlzoo.spec import rules
from dlzoo.spec.rules import (  # noqa: F401 (importable from here, as before)
    _DATA_KEYS,
    DEFAULTS,
    MAX_BATCH_SIZE,
    MAX_DEPTH,
    MAX_EPOCHS,
    MAX_EXECUTIONS,
    MAX_IMAGE_SIDE,
    MAX_SEED,
    MAX_TRIALS,
    PHASE_KEYS,
    PHASED_TRAIN_KEYS,
    SOURCE_FORMS,
    TOP_KEYS,
    TRANSFER_KEYS,
    TUNE_DEFAULTS,
    TUNERS,
    RecipeError,
    is_phased,
)
from dlzoo.userfiles import RECIPE_MAX_BYTES, read_text

__all__ = [
    "DEFAULTS",
    "RECIPES_DIR",
    "apply_overrides",
    "check_model",
    "find_recipe",
    "is_phased",
    "list_recipes",
    "load_recipe",
    "validate",
]

# The shipped recipes: package data beside this module (installed with the wheel).
RECIPES_DIR = Path(__file__).resolve().parent / "recipes"



class _NoAliasLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses anchors and aliases (`&x`, `*x`): a recipe never needs
    them, and nested aliases expand exponentially ("billion laughs": 784 bytes became a 66 MB
    card)."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            kind = "alias *" if isinstance(event, yaml.AliasEvent) else "anchor &"
            raise yaml.composer.ComposerError(
                None, None, f"YAML {kind}{event.anchor} at line {event.start_mark.line + 1}: "
                "recipes may not use anchors or aliases; write the values out", event.start_mark)
        return super().compose_node(parent, index)


# YAML 1.1 (PyYAML) reads `1e-4` as a string (its floats need a dot: `1.0e-4`); YAML 1.2, and
# everyone writing a learning rate, read a number. The resolver below makes it one.
_NoAliasLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def parse_yaml(text: str):
    """`yaml.safe_load` without anchors or aliases (raises `yaml.YAMLError` on them)."""
    return yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader subclass


def list_recipes(directory=RECIPES_DIR) -> list[str]:
    """Names of the recipes shipped in `directory` (file stems)."""
    return sorted(p.stem for p in Path(directory).glob("*.yaml"))


def recipes_with(section: str, directory=RECIPES_DIR) -> list[str]:
    """Names of the shipped recipes (in `directory`) whose file has a `section:` key, e.g.
    `recipes_with("tune")`; a file that does not parse is left out."""
    out = []
    for name in list_recipes(directory):
        try:
            raw = parse_yaml(read_text(Path(directory) / f"{name}.yaml",
                                       max_bytes=RECIPE_MAX_BYTES, what="recipe"))
        except (OSError, ValueError, yaml.YAMLError):
            continue
        if isinstance(raw, dict) and raw.get(section) is not None:
            out.append(name)
    return out


def no_tune_section(name: str) -> str:
    """The line for a recipe `name` without a `tune:` section given to `dlzoo tune`: which
    shipped recipes have one."""
    having = recipes_with("tune")
    return (f"recipe {name} has no tune: section, so there is nothing to search; shipped "
            f"recipes with one: {', '.join(having) or 'none'} (or add a tune: section, or run "
            "it with `dlzoo train`)")


def _yaml_error(e) -> str:
    """PyYAML's error in one line, with where it is: `line L, column C: problem (context at
    line L, column C)`, 1-based, from the error's `problem_mark` and `context_mark`."""
    def at(mark):
        return f"line {mark.line + 1}, column {mark.column + 1}"

    def words(text):
        return " ".join(str(text).split())

    problem, mark = getattr(e, "problem", None), getattr(e, "problem_mark", None)
    context, cmark = getattr(e, "context", None), getattr(e, "context_mark", None)
    if not problem or mark is None:
        return words(e)
    out = f"{at(mark)}: {words(problem)}"
    if context:
        out += f" ({words(context)}" + (f" at {at(cmark)})" if cmark is not None else ")")
    return out


def find_recipe(name_or_path) -> Path:
    """A recipe file by path, or by the name of a shipped recipe (`"lenet5-digits"`).

    Raises:
        FileNotFoundError: neither a file nor a shipped name; the message lists the shipped names.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    for candidate in (RECIPES_DIR / f"{name_or_path}.yaml", RECIPES_DIR / str(name_or_path)):
        if candidate.is_file():
            return candidate
    import difflib

    names = list_recipes()
    text = str(name_or_path)
    if os.sep in text or text.endswith((".yaml", ".yml")):  # meant as a file
        raise FileNotFoundError(f"recipe {text}: no such file; give a recipe file or the name of "
                                "a shipped recipe")
    close = difflib.get_close_matches(text.lower(), names, n=3, cutoff=0.5)
    hint = (f"closest: {', '.join(close)}" if close
            else f"shipped recipes: {', '.join(names) or 'none'}")
    raise FileNotFoundError(
        f"recipe {text!r} not found: no such file here, and no shipped recipe of that name "
        f"({hint}); give a recipe file or a shipped name")


def load_recipe(name_or_path, overrides=(), *, check_registry: bool = True) -> dict:
    """Reads, overrides and validates a recipe; returns it with defaults filled in.

    Args:
        name_or_path: a YAML file, or the name of a shipped recipe.
        overrides: `"key=value"` strings with dotted keys (`"train.epochs=5"`); values are
            parsed as YAML (`5` is an int, `false` a bool, `[32, 32]` a list).
        check_registry: also check that the model is registered and takes `model_args`.
    """
    path = find_recipe(name_or_path)
    try:
        raw = parse_yaml(read_text(path, max_bytes=RECIPE_MAX_BYTES, what="recipe"))
    except yaml.YAMLError as e:
        raise RecipeError(f"recipe {path.name}: not valid YAML: {_yaml_error(e)}") from None
    given = raw
    raw = _another_source(raw, apply_overrides(raw, overrides, where=path.name), overrides)
    if _tune_only_from_overrides(given, raw):  # `dlzoo tune R --max-trials 1`, R with no tune:
        raise RecipeError(no_tune_section(path.stem))
    # a fine-tune's network may be a saved model (a folder, run:NAME), not a registry name: a
    # recipe with phases or transfer (even empty or wrong ones, which validate then names)
    phased = isinstance(raw, dict) and (raw.get("phases") is not None
                                        or raw.get("transfer") is not None)
    check_registry = check_registry and not (phased and (
        str(raw.get("model", "")).startswith("run:") or os.sep in str(raw.get("model", ""))
        or "/" in str(raw.get("model", ""))))
    if check_registry and isinstance(raw, dict):  # before validate's last, Keras-bound checks
        check_model_name(raw.get("model"), where=path.name)
    recipe = validate(raw, where=path.name)
    if check_registry:
        check_model(recipe, where=path.name)
    return recipe


def _tune_only_from_overrides(before, after) -> bool:
    """Whether the recipe's `tune:` section exists only through overrides (`--max-trials`,
    `--set tune.x=...`) and does not say what to search (a hypermodel; in a recipe with phases,
    a space): a recipe with no search to run, rather than a search missing a key."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return False
    tune = after.get("tune")
    phased = after.get("phases") is not None or after.get("transfer") is not None
    return (before.get("tune") is None and isinstance(tune, dict)
            and ("space" if phased else "hypermodel") not in tune)


def _another_source(before, after, overrides) -> dict:
    """A recipe run on another data source (`--set data.source=folder:photos`) is another run:
    named NAME-SOURCE (so it neither resumes nor replaces the recipe's own model) and without
    the recipe's expected figure, which was measured on its own data. `--set name=...` keeps
    the expectation: the user says it is the same job."""
    def source(r):
        data = r.get("data") if isinstance(r, dict) else None
        return data.get("source") if isinstance(data, dict) else None

    keys = {str(o).split("=", 1)[0].strip() for o in overrides or ()}
    if source(after) == source(before) or "name" in keys or not isinstance(after, dict):
        return after
    new = str(source(after))
    kind, _, arg = new.partition(":")
    tag = os.path.basename(os.path.normpath(arg)) if kind == "folder" else (arg or kind)
    if kind == "csv" or new.lower().endswith(".csv"):  # a label file: its name, no extension
        path = arg if kind == "csv" else new
        tag = os.path.splitext(os.path.basename(path.rpartition("?root=")[0] or path))[0]
    tag = re.sub(r"[^A-Za-z0-9_.-]+", "-", tag).strip("-.") or "data"
    out = dict(after)
    out["name"] = f"{after.get('name')}-{tag}"
    if not any(k == "expect" or k.startswith("expect.") for k in keys):
        out.pop("expect", None)
    return out


def apply_overrides(recipe, overrides, where: str = "recipe") -> dict:
    """Applies `key=value` overrides with dotted keys; returns a new dict."""
    out = copy.deepcopy(recipe) if isinstance(recipe, dict) else recipe
    for item in overrides or ():
        if not isinstance(item, str) or "=" not in item:
            raise RecipeError(
                f"recipe {where}: --set expects key=value, e.g. train.epochs=5; received {item!r}."
            )
        key, text = item.split("=", 1)
        key = key.strip()
        try:
            value = parse_yaml(text)
        except yaml.YAMLError:  # not YAML (or an alias): the text itself
            value = text
        if not re.fullmatch(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*", key):
            raise RecipeError(_list_item_key(out, key, value, where)
                              or f"recipe {where}: --set key {key!r} is not a dotted name.")
        if not isinstance(out, dict):
            raise RecipeError(f"recipe {where}: the file is not a mapping; cannot set {key}.")
        node = out
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None or child is False or child is True:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise RecipeError(
                    f"recipe {where}: cannot set {key}: {'.'.join(parts[: i + 1])} is "
                    f"{child!r}, not a mapping."
                )
            node = child
        node[parts[-1]] = value
    return out


def _list_item_key(recipe, key: str, value, where: str) -> str | None:
    """The message for a --set key that reaches into a list (`phases.0.epochs`,
    `phases[0].epochs`): --set replaces whole values, so it shows the list to set, with this
    item changed where the recipe has it (ready to paste); None for a key of another kind."""
    parts = re.sub(r"\[(\d+)\]", r".\1", key).split(".")
    if not all(re.fullmatch(r"[A-Za-z_][\w-]*|\d+", p) for p in parts) or not any(
            p.isdigit() for p in parts):
        return None
    first = next(i for i, p in enumerate(parts) if p.isdigit())
    if first == 0:
        return None
    at = ".".join(parts[:first])
    node = recipe
    for part in parts[:first]:
        node = node.get(part) if isinstance(node, dict) else None
    if node is not None and not isinstance(node, list):
        return None  # a mapping or a value: a misspelt key, not a list's item
    example = "[{train: head, epochs: 1}, {train: all, epochs: 3}]" if at == "phases" else \
        "[...]"
    if isinstance(node, list) and at:
        changed = copy.deepcopy(node)
        try:  # the list with this item set, where the path runs through the recipe's values
            holder, rest = changed, parts[first:]
            for part in rest[:-1]:
                holder = holder[int(part)] if part.isdigit() else holder[part]
            last = rest[-1]
            if last.isdigit():
                holder[int(last)] = value
            elif isinstance(holder, dict):
                holder[last] = value
            else:
                raise TypeError
            example = yaml.safe_dump(changed, default_flow_style=True, sort_keys=False,
                                     width=10_000).strip()
        except (IndexError, KeyError, TypeError, ValueError, yaml.YAMLError):
            pass
    import shlex

    return (f"recipe {where}: --set key {key!r} sets one item of the list {at or parts[0]}; "
            f"--set cannot set list items one by one: set the whole list, e.g. --set "
            f"{shlex.quote(f'{at or parts[0]}={example}')}")


# --- validation: dlzoo.spec.rules, with the data loader's keys -----------------------------------


def data_keys() -> tuple[tuple, bool]:
    """The keys `data:` accepts: the named arguments of `dlzoo.data.datasets.load`, and whether
    it takes source-specific options as well (`**kwargs`, checked by `load` itself)."""
    try:
        from dlzoo.data.datasets import load
    except ImportError:
        return _DATA_KEYS, False
    params = inspect.signature(load).parameters.values()
    named = tuple(p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))
    return named, any(p.kind == p.VAR_KEYWORD for p in params)


def data_options(source) -> tuple | None:
    """The `data:` keys a recipe reading `source` may set, or None where the source's own
    options cannot be told without a backend (`load` checks them itself)."""
    named, more = data_keys()
    if not more:
        return named
    from dlzoo.data.datasets import source_options

    extra = source_options(source)
    return None if extra is None else (*named, *extra)


def validate(recipe, where: str = "recipe") -> dict:
    """Checks a recipe's structure and values; returns a copy with defaults filled in
    (`dlzoo.spec.rules.validate`, told the data loader's keys).

    Raises `RecipeError` (a `ValueError`) naming the file and the key, e.g.
    `recipe lenet5-digits.yaml: train.epochs must be a positive integer; received 'ten'.`
    """
    out = rules.validate(recipe, where, data_options)
    check_source(out["data"]["source"], where)
    return out


def check_source(source, where: str = "recipe") -> None:
    """Refuses a bare `data.source` that misspells one of dlzoo's own sources (`digitz` for
    `digits`, `shapes` for `synthetic:shapes`), which would otherwise be looked up as a tfds
    dataset when the run starts; without a backend. `tfds:NAME` is always let through."""
    try:
        from dlzoo.data.datasets import misspelt_source
    except ImportError:
        return
    meant = misspelt_source(source)
    if meant is not None:
        raise RecipeError(
            f"recipe {where}: data.source {source!r} is no dataset dlzoo knows (closest: "
            f"{meant}); set data.source: {meant}, or tfds:{source} for a tfds dataset of exactly "
            "that name.")


def check_model_name(model, where: str = "recipe") -> None:
    """Refuses a model name that is neither in the stored catalog (`dlzoo.catalog`) nor registered
    in this process, naming the closest ones, without importing Keras or a backend."""
    if not isinstance(model, str) or normalize_name(model) in _REGISTRY:
        return  # a non-string is validate's to refuse; a model registered by user code is known
    try:
        catalog.entry(model)
    except ValueError as e:
        raise RecipeError(f"recipe {where}: model: {e}") from None


def check_model(recipe: dict, where: str = "recipe") -> None:
    """Checks that the recipe's model is registered and accepts its `model_args`.

    The name is checked first (`check_model_name`: no backend); only the argument names need
    the builder itself (its module imports Keras)."""
    check_model_name(recipe["model"], where)
    args = {k: v for k, v in recipe["model_args"].items() if k != "weights"}
    if "input_shape" in args:
        args["input_shape"] = tuple(args["input_shape"])
    try:
        check_model_args(recipe["model"], args)
    except ValueError as e:
        raise RecipeError(f"recipe {where}: model: {e}") from None
    except TypeError as e:
        raise RecipeError(f"recipe {where}: model_args: {e}") from None
