"""The rules a run must keep: a recipe's keys, types, limits and contradictions, and the
command line's, checked in one place for `dlzoo train`, `finetune`, `tune` and the Python API.

`validate(recipe)` checks a recipe mapping (after `--set` overrides) and returns it with every
default filled in, or raises `RecipeError` naming the file, the key, what is allowed and what was
received; an unknown key names the closest known one. `check_flags(command, args)` refuses two
flags that contradict each other, a flag without the one it modifies, and a number out of its
range (`FlagError`, the CLI's one-line error). The limits (`MAX_EPOCHS`, ...) are shared by both,
so `--epochs` and `train.epochs` stop at the same figure.

Core layer: imports no engine (data, models, training) and no backend until the last,
Keras-bound check of the optimizer's name; `dlzoo.recipes` passes the data loader's keys in
(`data_options`).
"""

from __future__ import annotations

import copy
import difflib
import inspect
import math
import re

from dlzoo.augmentation import normalize_augment
from dlzoo.precision import PRECISIONS
from dlzoo.schedules import EARLY_STOPPING_DEFAULTS, check_schedule
from dlzoo.switches import SWITCH_DEFAULTS, check_switches, optimizer_arguments
from dlzoo.validation import parse_unfreeze

__all__ = [
    "CONFLICTS",
    "DEFAULTS",
    "LIMITS",
    "PHASED_SPACE",
    "REQUIRES",
    "FlagError",
    "RecipeError",
    "check_flags",
    "closest",
    "is_phased",
    "validate",
]

DEFAULTS = {
    "description": "",
    "model_args": {},
    "data": {"batch_size": 32, "validation_split": 0.2, "seed": 0},
    "train": {
        "optimizer": "adam",
        "optimizer_args": {},
        "learning_rate": 1e-3,
        "epochs": 10,
        "loss": None,
        "metrics": None,
        "augment": {},
        "adversarial": None,  # {method: fgsm, epsilon: 0.1, ratio: 0.5}: see dlzoo.robustness
        "seed": None,  # None: data.seed
        "strategy": None,  # mirrored | multi_worker (TensorFlow) | data_parallel (JAX)
        "precision": "auto",  # auto | float32 | bfloat16 | float16 (dlzoo.precision)
        "devices": 1,  # N or "all": data parallel over this many local devices
        "class_weight": None,  # balanced: weigh each class n / (k * n_c) in the loss
        # training switches (dlzoo.switches): label_smoothing, ema, weight_decay,
        # gradient_accumulation, l1, l2, activity_l1, activity_layer, max_norm, clipnorm,
        # global_clipnorm, clipvalue
        **SWITCH_DEFAULTS,
    },
    "callbacks": {
        "monitor": "val_loss",
        "early_stopping": dict(EARLY_STOPPING_DEFAULTS),
        "lr_schedule": "plateau",
        "checkpoint": True,
        "backup": True,
        "csv_log": True,
        "terminate_on_nan": True,
        "tensorboard": None,  # a folder for TensorBoard logs (dlzoo.tensorboard_logs)
    },
    "expect": {},
}
TOP_KEYS = ("name", "description", "model", "model_args", "data", "train", "callbacks", "expect",
            "tune", "phases", "transfer")
# A fine-tune recipe (`phases`): what each phase trains, and the transfer options.
PHASE_KEYS = ("train", "epochs", "learning_rate", "batchnorm")
TRANSFER_KEYS = ("weights", "layer", "pooling", "dropout", "keep", "cache_dir")
# train.* keys a recipe with phases takes: the epochs and rates are the phases'.
PHASED_TRAIN_KEYS = ("augment", "seed", "precision", "devices", "class_weight", "optimizer",
                     *SWITCH_DEFAULTS)  # and the training switches (dlzoo.switches)
# The arguments `dlzoo.data.datasets.load` takes, when that module cannot be imported.
_DATA_KEYS = ("source", "image_size", "color_mode", "batch_size", "validation_split", "seed",
              "data_dir")
SOURCE_FORMS = ("a tfds name (mnist, cifar10, ...), digits, folder:PATH, csv:LABELS.csv or "
                "synthetic:NAME")


# Upper limits on counts, so a typo (`epochs: 1000000000000`) is an error naming the key rather
# than a run that never ends or an allocation that takes the machine down.
MAX_EPOCHS = 100_000
MAX_BATCH_SIZE = 1 << 16
MAX_IMAGE_SIDE = 16_384
MAX_SEED = 2**32 - 1
MAX_TRIALS = 100_000
MAX_EXECUTIONS = 100
# Free-form sections (model_args, optimizer_args, tune.space, source options) hold plain YAML
# values: strings, numbers, booleans, null, lists and mappings, nested at most this deep.
MAX_DEPTH = 6


class RecipeError(ValueError):
    """A recipe that cannot run; the message names the file and the key."""


def closest(name: str, allowed) -> str | None:
    """The allowed name closest to `name` (difflib), or None when none is close."""
    close = difflib.get_close_matches(str(name).lower(), [str(a) for a in allowed], n=1,
                                      cutoff=0.6)
    return close[0] if close else None



# --- validation ----------------------------------------------------------------------------------


def _fail(where, key, what, value):
    raise RecipeError(f"recipe {where}: {key} must be {what}; received {value!r}.")


def _mapping(value, where, key) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(where, key, "a mapping", value)
    return value


def _int(value, where, key, minimum=1, maximum=MAX_EPOCHS):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        _fail(where, key, what, value)
    if value > maximum:
        _fail(where, key, f"at most {maximum:,}", value)
    return value


def _number(value, where, key, ok, what):
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or not ok(value)):
        _fail(where, key, what, value)
    return float(value)


def _plain(value, where, key, depth=0):
    """Checks that a free-form value is plain YAML data (no dates, binary, sets; finite
    numbers; nested at most MAX_DEPTH deep)."""
    if depth > MAX_DEPTH:
        _fail(where, key, f"nested at most {MAX_DEPTH} levels deep", "...")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            _fail(where, key, "a finite number", value)
        return value
    if isinstance(value, list):
        for i, v in enumerate(value):
            _plain(v, where, f"{key}[{i}]", depth + 1)
        return value
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                _fail(where, f"{key} key", "a string", k)
            _plain(v, where, f"{key}.{k}", depth + 1)
        return value
    _fail(where, key, "a string, number, boolean, null, list or mapping", value)


def _unknown(given: dict, allowed, where, section):
    unknown = sorted(set(given) - set(allowed), key=str)
    if unknown:
        close = closest(str(unknown[0]), [str(k) for k in allowed])
        hint = f" (closest: {section}{close})" if close else ""
        raise RecipeError(
            f"recipe {where}: unknown key(s) {', '.join(f'{section}{k}' for k in unknown)}{hint}; "
            f"allowed: {', '.join(f'{section}{k}' for k in allowed)}."
        )


def validate(recipe, where: str = "recipe", data_options=None) -> dict:
    """Checks a recipe's structure and values; returns a copy with defaults filled in.

    Raises `RecipeError` (a `ValueError`) naming the file and the key, e.g.
    `recipe lenet5-digits.yaml: train.epochs must be a positive integer; received 'ten'.`
    """
    if not isinstance(recipe, dict):
        raise RecipeError(f"recipe {where}: must be a YAML mapping; received {recipe!r}.")
    _unknown(recipe, TOP_KEYS, where, "")
    for key in ("name", "model", "data"):
        if key not in recipe or recipe[key] in (None, ""):
            raise RecipeError(f"recipe {where}: the key {key!r} is required.")
    out = copy.deepcopy(DEFAULTS)
    name = recipe["name"]
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        _fail(where, "name", "a folder-safe name (letters, digits, '-', '_', '.')", name)
    out["name"] = name
    if not isinstance(recipe["model"], str):
        _fail(where, "model", "a registered model name (see `dlzoo list`)", recipe["model"])
    out["model"] = recipe["model"]
    desc = recipe.get("description") or ""
    if not isinstance(desc, str):
        _fail(where, "description", "a string", desc)
    out["description"] = desc
    out["model_args"] = dict(_plain(_mapping(recipe.get("model_args"), where, "model_args"),
                                    where, "model_args"))
    out["data"] = _validate_data(_mapping(recipe["data"], where, "data"), where, data_options)
    out["train"] = _validate_train(_mapping(recipe.get("train"), where, "train"), where,
                                   out["data"]["seed"])
    out["callbacks"] = _validate_callbacks(
        _mapping(recipe.get("callbacks"), where, "callbacks"), where
    )
    out["expect"] = _validate_expect(_mapping(recipe.get("expect"), where, "expect"), where)
    phased = recipe.get("phases") is not None or recipe.get("transfer") is not None
    if recipe.get("tune") is not None and not phased:
        out["tune"] = _validate_tune(_mapping(recipe["tune"], where, "tune"), where,
                                     out["train"]["seed"])
    if phased:
        _validate_phased(recipe, out, where)
    _log_monitored_metrics(out)
    # Last, once everything a recipe says was checked without a backend: the optimizer's name and
    # arguments need Keras (its optimizer classes), which imports TensorFlow or JAX.
    _check_optimizer(out["train"]["optimizer"], out["train"]["optimizer_args"], where)
    return out


def _validate_phased(recipe: dict, out: dict, where: str) -> None:
    """A fine-tune as a recipe: `phases` (a head on the frozen network, then the unfrozen
    network; or either alone) and `transfer` options; fills `out["phases"]`, `out["transfer"]`.

    `model` is then the pretrained network: a registry name (its weights in
    `transfer.weights`), a saved-model folder, or `run:NAME` (the model the recipe NAME saved
    in the same --output folder)."""

    phases = recipe.get("phases")
    if not isinstance(phases, list) or not 1 <= len(phases) <= 2:
        _fail(where, "phases", "a list of one or two phases ({train: head, epochs: N}, then "
              "{train: all | top:K, epochs: N})", phases)
    train = _mapping(recipe.get("train"), where, "train")
    _unknown(train, PHASED_TRAIN_KEYS, where, "train.")
    checked = []
    for i, phase in enumerate(phases):
        key = f"phases[{i}]"
        phase = _mapping(phase, where, key)
        _unknown(phase, PHASE_KEYS, where, f"{key}.")
        what = phase.get("train")
        head = what == "head"
        if not head:
            try:
                unfreeze = parse_unfreeze(what)
            except (ValueError, TypeError):
                unfreeze = None
            if unfreeze in (None, 0):
                _fail(where, f"{key}.train", "head, all or top:K (the block groups to unfreeze)",
                      what)
        if head and i == 1 or not head and len(phases) == 2 and i == 0:
            _fail(where, f"{key}.train", "head first, then the unfrozen network (all or top:K)",
                  what)
        entry = {"train": what, "epochs": _int(phase.get("epochs"), where, f"{key}.epochs")}
        if phase.get("learning_rate") is not None:
            entry["learning_rate"] = _number(phase["learning_rate"], where,
                                             f"{key}.learning_rate", lambda v: v > 0,
                                             "a positive number")
        if "batchnorm" in phase:
            if head or phase["batchnorm"] not in ("frozen", "train"):
                _fail(where, f"{key}.batchnorm", "frozen or train, in an unfreeze phase",
                      phase["batchnorm"])
            entry["batchnorm"] = phase["batchnorm"]
        checked.append(entry)
    out["phases"] = checked
    transfer = _mapping(recipe.get("transfer"), where, "transfer")
    _unknown(transfer, TRANSFER_KEYS, where, "transfer.")
    for key, value in transfer.items():
        _plain(value, where, f"transfer.{key}")
    if transfer.get("pooling", "avg") not in ("avg", "max", "flatten", None):
        _fail(where, "transfer.pooling", "avg, max, flatten or null", transfer["pooling"])
    if transfer.get("keep", "best") not in ("best", "last"):
        _fail(where, "transfer.keep", "best or last", transfer["keep"])
    if "dropout" in transfer:
        _number(transfer["dropout"], where, "transfer.dropout", lambda v: 0 <= v < 1,
                "a number in [0, 1)")
    out["transfer"] = dict(transfer)
    if recipe.get("tune") is not None:
        out["tune"] = _validate_phased_tune(_mapping(recipe["tune"], where, "tune"), checked,
                                            where, out["train"]["seed"])


# A search over a fine-tune (`tune:` in a recipe with `phases`): the knobs a trial may set, named
# as `fine_tune`'s keywords, and the phase each one needs ("head", "unfreeze" or None: any).
PHASED_SPACE = {
    "head_learning_rate": "head", "head_epochs": "head",
    "learning_rate": "unfreeze", "epochs": "unfreeze", "unfreeze": "unfreeze",
    "train_batchnorm": "unfreeze",
    "dropout": None, "pooling": None, "optimizer": None, "label_smoothing": None,
}
PHASED_OBJECTIVES = ("val_accuracy", "val_loss")  # what each phase measures on validation
# tune: keys that mean one fit per trial, which a trial of phases is not: why each is refused.
_NOT_PHASED = {
    "epochs": "each trial runs the phases' own epochs; search them with tune.space.head_epochs "
              "or tune.space.epochs",
    "early_stopping": "callbacks.early_stopping ends each phase of a trial",
    "hyperband": "hyperband grows one fit's epochs; use tuner random or bayesian",
    "executions_per_trial": "each trial runs the phases once",
}


def _validate_phased_tune(tune: dict, phases: list, where: str, train_seed: int) -> dict:
    """`tune:` in a recipe with phases: a random or bayesian search over `PHASED_SPACE`, each
    trial running the phases (`dlzoo.tuning.phases`); the space's values are checked when the
    search starts."""
    _unknown(tune, TUNE_DEFAULTS, where, "tune.")
    for key, why in _NOT_PHASED.items():
        if key in tune:
            _fail(where, f"tune.{key}", f"absent in a recipe with phases ({why})", tune[key])
    if tune.get("hypermodel", "finetune") != "finetune":
        _fail(where, "tune.hypermodel", "finetune (or absent) in a recipe with phases",
              tune["hypermodel"])
    out = _validate_tune({**tune, "hypermodel": "finetune"}, where, train_seed)
    if out["tuner"] == "hyperband":
        _fail(where, "tune.tuner", f"random or bayesian in a recipe with phases "
              f"({_NOT_PHASED['hyperband']})", out["tuner"])
    if out["objective"] is None:
        out["objective"] = "val_accuracy"
    if out["objective"] not in PHASED_OBJECTIVES:
        close = closest(out["objective"], PHASED_OBJECTIVES)
        _fail(where, "tune.objective", " or ".join(PHASED_OBJECTIVES) + " (the last phase's, on "
              "the validation split)" + (f"; closest: {close}" if close else ""),
              out["objective"])
    space = out["space"]
    if not space:
        _fail(where, "tune.space", f"a mapping naming at least one of {', '.join(PHASED_SPACE)}",
              space)
    _unknown(space, PHASED_SPACE, where, "tune.space.")
    kinds = {"head" if p["train"] == "head" else "unfreeze" for p in phases}
    for key in space:
        needs = PHASED_SPACE[key]
        if needs is not None and needs not in kinds:
            what = "head phase ({train: head})" if needs == "head" else \
                "unfreeze phase ({train: all | top:K})"
            _fail(where, f"tune.space.{key}", f"absent: the recipe has no {what} for it to set",
                  space[key])
    return out


def is_phased(recipe: dict) -> bool:
    """Whether a validated recipe is a fine-tune (has `phases`)."""
    return bool(recipe.get("phases"))


def _validate_data(data: dict, where: str, data_options=None) -> dict:
    allowed = data_options(data.get("source")) if data_options is not None else _DATA_KEYS
    if allowed is not None:  # None: the source's own options cannot be told without a backend
        _unknown(data, allowed, where, "data.")
    out = {**DEFAULTS["data"], **data}
    for key, value in out.items():
        _plain(value, where, f"data.{key}")
    source = out.get("source")
    if not isinstance(source, str) or not source.strip():
        _fail(where, "data.source", SOURCE_FORMS, source)
    for prefix in ("folder:", "synthetic:", "csv:"):
        if source.startswith(prefix) and not source[len(prefix):].strip():
            _fail(where, "data.source", f"{prefix}NAME with a name after the colon", source)
    _int(out["batch_size"], where, "data.batch_size", maximum=MAX_BATCH_SIZE)
    _number(out["validation_split"], where, "data.validation_split", lambda v: 0 < v < 1,
            "a fraction between 0 and 1 (exclusive)")
    _int(out["seed"], where, "data.seed", minimum=0, maximum=MAX_SEED)
    size = out.get("image_size")
    if size is not None and (
        not isinstance(size, (list, tuple))
        or len(size) != 2
        or any(isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= MAX_IMAGE_SIDE
               for s in size)
    ):
        _fail(where, "data.image_size", f"[height, width] of integers from 1 to {MAX_IMAGE_SIDE}",
              size)
    if size is not None:
        out["image_size"] = list(size)
    mode = out.get("color_mode")
    if mode is not None and mode not in ("grayscale", "rgb", "rgba"):
        _fail(where, "data.color_mode", "grayscale, rgb or rgba", mode)
    return out


def _validate_train(train: dict, where: str, data_seed: int) -> dict:
    _unknown(train, DEFAULTS["train"], where, "train.")
    out = {**copy.deepcopy(DEFAULTS["train"]), **train}
    _int(out["epochs"], where, "train.epochs")
    _number(out["learning_rate"], where, "train.learning_rate", lambda v: 0 < v <= 10,
            "a positive number of at most 10")
    out["learning_rate"] = float(out["learning_rate"])
    _mapping(out["optimizer_args"], where, "train.optimizer_args")  # its keys: _check_optimizer
    out["optimizer_args"] = dict(_plain(out["optimizer_args"] or {}, where,
                                        "train.optimizer_args"))
    if out["loss"] is not None and not isinstance(out["loss"], str):
        _fail(where, "train.loss", "a Keras loss name", out["loss"])
    metrics = out["metrics"]
    if metrics is not None and (
        not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics)
    ):
        _fail(where, "train.metrics", "a list of Keras metric names", metrics)
    try:  # one spelling for every caller (`rotate` reads as `rotation`)
        out["augment"] = normalize_augment(_mapping(out["augment"], where, "train.augment"),
                                           f"recipe {where}: train.augment")
    except (TypeError, ValueError) as e:
        raise RecipeError(str(e)) from None
    out["adversarial"] = _validate_adversarial(out["adversarial"], where)
    if out["seed"] is None:
        out["seed"] = data_seed
    _int(out["seed"], where, "train.seed", minimum=0, maximum=MAX_SEED)
    _validate_strategy(out["strategy"], where)

    if out["precision"] not in PRECISIONS:
        _fail(where, "train.precision", f"one of {', '.join(PRECISIONS)}", out["precision"])
    out["devices"] = _validate_devices(out["devices"], where)
    if out["class_weight"] not in (None, "balanced"):
        _fail(where, "train.class_weight", "balanced or null", out["class_weight"])

    try:
        out.update(check_switches(out, f"recipe {where}: train."))
        optimizer_arguments(out, out["optimizer_args"], f"recipe {where}: train.optimizer_args")
    except ValueError as e:
        raise RecipeError(str(e)) from None
    return out


def _validate_devices(devices, where: str):
    """`train.devices`: a positive integer or "all"."""
    if devices == "all":
        return devices
    if isinstance(devices, str) and devices.strip().isdigit():
        devices = int(devices)
    if isinstance(devices, bool) or not isinstance(devices, int) or not 1 <= devices <= 4096:
        _fail(where, "train.devices", "a positive integer or all", devices)
    return devices


# Metrics dlzoo adds to Keras's names (dlzoo.metrics.METRICS), logged as NAME and val_NAME.
DLZOO_METRICS = ("balanced_accuracy", "macro_f1")


def _log_monitored_metrics(out: dict) -> None:
    """A dlzoo metric named by `callbacks.monitor` or `tune.objective` (val_balanced_accuracy,
    macro_f1, ...) is added to `train.metrics`, so the compiled model logs it."""
    wanted = [out["callbacks"].get("monitor"), (out.get("tune") or {}).get("objective")]
    names = [w.removeprefix("val_") for w in wanted if isinstance(w, str)]
    missing = [n for n in DLZOO_METRICS if n in names and n not in (out["train"]["metrics"] or [])]
    if missing:
        out["train"]["metrics"] = list(out["train"]["metrics"] or ["accuracy"]) + missing


STRATEGIES = ("mirrored", "multi_worker", "data_parallel")


def _validate_strategy(strategy, where: str) -> None:
    if strategy is not None and strategy not in STRATEGIES:
        _fail(where, "train.strategy", f"null or one of {', '.join(STRATEGIES)}", strategy)


# --- tune: (dlzoo tune) ---------------------------------------------------------------------------

TUNE_DEFAULTS = {
    "hypermodel": None,  # cnn | rnn | transformer (dlzoo.tuning.HYPERMODELS); finetune (phases)
    "space": {},  # {hyperparameter: [choices] | {min, max, step, sampling, default} | value}
    "tuner": "random",  # random | hyperband | bayesian
    "objective": None,  # default: val_accuracy for classifiers, val_loss otherwise
    "max_trials": 10,  # random and bayesian
    "epochs": 10,  # per trial (hyperband: the most a trial gets)
    "executions_per_trial": 1,
    "early_stopping": 3,  # patience inside each trial; false for none
    "hyperband": {"factor": 3, "iterations": 1},
    "seed": None,  # None: train.seed
    "target": None,  # stop the search once a trial reaches this objective value
    "retrain": True,  # retrain the best configuration with train: and save it
}
TUNERS = ("random", "hyperband", "bayesian")


def _validate_tune(tune: dict, where: str, train_seed: int) -> dict:
    """The `tune:` section's structure; the search space itself is checked against the
    hypermodel and the data's shape when the search starts (dlzoo.tuning.hypermodels)."""
    _unknown(tune, TUNE_DEFAULTS, where, "tune.")
    out = {**copy.deepcopy(TUNE_DEFAULTS), **tune}
    if not isinstance(out["hypermodel"], str) or not out["hypermodel"]:
        _fail(where, "tune.hypermodel", "a hypermodel name (cnn, rnn, transformer)",
              out["hypermodel"])
    out["space"] = dict(_plain(_mapping(out["space"], where, "tune.space"), where, "tune.space"))
    if out["tuner"] not in TUNERS:
        _fail(where, "tune.tuner", " or ".join(TUNERS), out["tuner"])
    if out["objective"] is not None and not isinstance(out["objective"], str):
        _fail(where, "tune.objective", "a logged metric such as val_accuracy", out["objective"])
    for key, most in (("max_trials", MAX_TRIALS), ("epochs", MAX_EPOCHS),
                      ("executions_per_trial", MAX_EXECUTIONS)):
        _int(out[key], where, f"tune.{key}", maximum=most)
    es = out["early_stopping"]
    if es is False or es is None:
        out["early_stopping"] = None
    else:
        _int(es, where, "tune.early_stopping", minimum=0)
    hb = _mapping(out["hyperband"], where, "tune.hyperband")
    _unknown(hb, TUNE_DEFAULTS["hyperband"], where, "tune.hyperband.")
    out["hyperband"] = {**TUNE_DEFAULTS["hyperband"], **hb}
    _int(out["hyperband"]["factor"], where, "tune.hyperband.factor", minimum=2, maximum=100)
    _int(out["hyperband"]["iterations"], where, "tune.hyperband.iterations", maximum=1000)
    if out["seed"] is None:
        out["seed"] = train_seed
    _int(out["seed"], where, "tune.seed", minimum=0, maximum=MAX_SEED)
    if out["target"] is not None:
        _number(out["target"], where, "tune.target", lambda v: True, "a number")
    if not isinstance(out["retrain"], bool):
        _fail(where, "tune.retrain", "true or false", out["retrain"])
    return out


ADVERSARIAL_DEFAULTS = {"method": "fgsm", "epsilon": 0.1, "ratio": 0.5}


def _validate_adversarial(adv, where: str):
    """`train.adversarial`: None, or FGSM adversarial training (each batch mixes clean and FGSM
    examples; epsilon is a fraction of the input range)."""
    if adv is None or adv is False:
        return None
    adv = _mapping(adv, where, "train.adversarial")
    _unknown(adv, ADVERSARIAL_DEFAULTS, where, "train.adversarial.")
    out = {**ADVERSARIAL_DEFAULTS, **adv}
    if out["method"] != "fgsm":
        _fail(where, "train.adversarial.method", "fgsm", out["method"])
    _number(out["epsilon"], where, "train.adversarial.epsilon", lambda v: 0 < v <= 1,
            "a fraction of the input range in (0, 1]")
    _number(out["ratio"], where, "train.adversarial.ratio", lambda v: 0 < v <= 1,
            "the share of each batch replaced by adversarial examples, in (0, 1]")
    return {"method": "fgsm", "epsilon": float(out["epsilon"]), "ratio": float(out["ratio"])}


def _check_optimizer(name, args: dict, where: str) -> None:
    import keras

    if not isinstance(name, str):
        _fail(where, "train.optimizer", "an optimizer name such as adam, sgd, rmsprop, adamw",
              name)
    try:
        cls = type(keras.optimizers.get(name))
    except ValueError:
        _fail(where, "train.optimizer", "a Keras optimizer name (adam, adamw, sgd, rmsprop, "
              "nadam, ...)", name)
    allowed = [p for p in inspect.signature(cls.__init__).parameters
               if p not in ("self", "learning_rate", "name", "kwargs")]
    _unknown(args, allowed, where, "train.optimizer_args.")


def _validate_callbacks(cbs: dict, where: str) -> dict:
    _unknown(cbs, DEFAULTS["callbacks"], where, "callbacks.")
    out = {**copy.deepcopy(DEFAULTS["callbacks"]), **cbs}
    if not isinstance(out["monitor"], str):
        _fail(where, "callbacks.monitor", "a logged quantity such as val_loss", out["monitor"])
    es = out["early_stopping"]
    if es is True:
        out["early_stopping"] = dict(EARLY_STOPPING_DEFAULTS)
    elif es in (False, None):
        out["early_stopping"] = False
    elif isinstance(es, dict):
        _unknown(es, EARLY_STOPPING_DEFAULTS, where, "callbacks.early_stopping.")
        merged = {**EARLY_STOPPING_DEFAULTS, **es}
        _int(merged["patience"], where, "callbacks.early_stopping.patience", minimum=0)
        _int(merged["start_from_epoch"], where, "callbacks.early_stopping.start_from_epoch",
             minimum=0)
        _number(merged["min_delta"], where, "callbacks.early_stopping.min_delta",
                lambda v: v >= 0, "a non-negative number")
        out["early_stopping"] = merged
    else:
        _fail(where, "callbacks.early_stopping", "true, false or a mapping of options", es)
    try:
        kind, options = check_schedule(out["lr_schedule"], "callbacks.lr_schedule")
    except (ValueError, TypeError) as e:
        raise RecipeError(f"recipe {where}: {e}") from None
    out["lr_schedule"] = {"type": kind, **{k: v for k, v in options.items()}}
    for key in ("checkpoint", "backup", "csv_log", "terminate_on_nan"):
        if not isinstance(out[key], bool):
            _fail(where, f"callbacks.{key}", "true or false", out[key])
    if out["tensorboard"] is not None and (not isinstance(out["tensorboard"], str)
                                           or not out["tensorboard"].strip()):
        _fail(where, "callbacks.tensorboard", "a folder for TensorBoard logs, or null",
              out["tensorboard"])
    return out


def _validate_expect(expect: dict, where: str) -> dict:
    figures = {k: v for k, v in expect.items() if k not in ("source", "note")}
    for key, value in figures.items():
        if not isinstance(key, str):
            _fail(where, "expect key", "a metric name", key)
        _number(value, where, f"expect.{key}", lambda v: True, "a number (the expected figure)")
    if (figures or "source" in expect) and not isinstance(expect.get("source"), str):
        _fail(where, "expect.source", "a string saying where the expected figure comes from",
              expect.get("source"))
    if "note" in expect and not isinstance(expect["note"], str):
        _fail(where, "expect.note", "a string", expect["note"])
    return dict(expect)




# --- the command line's rules ----------------------------------------------------------------------


class FlagError(ValueError):
    """Two flags that contradict each other, a flag without the one it modifies, or a number out
    of its range; the message is the CLI's one line."""


# Flags that contradict each other, per command: (flag, flag, why); "dest=value" means that
# value. Checked before a command runs, so `tune --resume --overwrite` is refused instead of one
# silently winning.
CONFLICTS = {
    "train": [("resume", "folds", "--resume does not apply to --folds; run it again")],
    "tune": [("resume", "overwrite", "--resume keeps the trials, --overwrite discards them")],
    "finetune": [(dest, "epochs=0", "--epochs 0 skips phase 2, which that flag configures")
                 for dest in ("lr", "unfreeze", "train_batchnorm")]
                + [("augment", "cache_dir", "--augment runs phase 1 without the feature cache"),
                   ("resume", "find_lr", "--find-lr runs a range test, which has nothing to "
                    "resume")],
    "quickstart": [(dest, "transfer", "the transfer demonstration has its own epochs and output")
                   for dest in ("epochs", "quiet")],
    "doctor": [("json", "limit", "--json prints every row; --limit shortens the table")],
    "generate": [("temperature", "greedy", "--greedy takes the most probable word; it draws "
                  "nothing to reshape"), ("top_k", "greedy", "--greedy keeps only the top word")],
}
# Flags that only mean something with another one: (flag, needs).
REQUIRES = {
    "train": [("save_folds", "folds")],
    "evaluate": [("epsilon", "adversarial"), ("max_samples", "adversarial")],
    "quickstart": [("full", "transfer")],
    "datasets": [(dest, "action=export") for dest in ("overwrite", "image_size", "name",
                                                       "directory")],
}
# Limits on numeric flags, (lowest, highest) inclusive: a typo (`--epochs 1000000000000`,
# `--workers 5000`) is refused before anything starts. Counts of epochs, batches, seeds and
# trials are the recipes' (MAX_EPOCHS, MAX_BATCH_SIZE, MAX_SEED, MAX_TRIALS above).
_EPOCHS, _BATCH, _SEED = (0, MAX_EPOCHS), (1, MAX_BATCH_SIZE), (0, MAX_SEED)
LIMITS = {
    "build": {"num_classes": (1, 1_000_000)},
    "train": {"folds": (2, 100)},
    "evaluate": {"batch_size": _BATCH, "max_samples": (0, 10_000_000)},
    "predict": {"top_k": (1, 1000), "camera": (0, 10_000), "max_frames": (1, 10**9)},
    "generate": {"n": (1, 100_000), "max_words": (1, 100_000), "top_k": (1, 10_000_000),
                 "seed": _SEED},
    "quickstart": {"epochs": (1, MAX_EPOCHS)},
    "doctor": {"seed": _SEED, "workers": (1, 256), "limit": (0, 10**9),
               "validation_split": (0.0, 0.95)},
    "finetune": {"head_epochs": _EPOCHS, "epochs": _EPOCHS, "batch_size": _BATCH,
                 "seed": _SEED, "validation_split": (0.0, 0.95), "head_lr": (1e-12, 10.0),
                 "lr": (1e-12, 10.0)},
    "tune": {"max_trials": (1, MAX_TRIALS), "workers": (1, 256), "oracle_timeout": (1, 604_800)},
}


def check_flags(command: str | None, args, default_of=lambda dest: None) -> None:
    """Checks a command's parsed flags against `LIMITS`, `CONFLICTS` and `REQUIRES`, and image
    sizes and shapes against `MAX_IMAGE_SIDE`.

    Args:
        command: the subcommand (`"finetune"`).
        args: the parsed flags (an `argparse.Namespace`: attributes named by dest).
        default_of: the parser's default for a dest (a flag left at it was not given).

    Raises:
        FlagError: one line naming the flag(s), what is allowed and what was received.
    """
    for dest, (low, high) in LIMITS.get(command, {}).items():
        value = getattr(args, dest, None)
        if value is not None and not low <= value <= high:
            raise FlagError(f"--{dest.replace('_', '-')} must be from {low:g} to {high:g}; "
                            f"received {value:g}")
    for dest in ("input_shape", "image_size"):
        shape = getattr(args, dest, None)
        if shape is not None and any(not 1 <= int(s) <= MAX_IMAGE_SIDE for s in shape):
            raise FlagError(f"--{dest.replace('_', '-')}: every size must be from 1 to "
                            f"{MAX_IMAGE_SIDE}; received {','.join(map(str, shape))}")

    def given(spec) -> bool:
        dest, _, value = spec.partition("=")
        have = getattr(args, dest, None)
        if value:
            return str(have) == value
        return (have is not None and have is not False and have != ""  # '': "none" (--cache-dir '')
                and have != default_of(dest))

    def flag(spec) -> str:
        dest, _, value = spec.partition("=")
        if dest == "action":
            return f"the {value} action"
        if dest in ("name", "directory"):  # positional arguments
            return dest.upper()
        return "--" + dest.replace("_", "-") + (f" {value}" if value else "")

    for a, b, why in CONFLICTS.get(command, []):
        if given(a) and given(b):
            raise FlagError(f"{flag(a)} and {flag(b)} contradict each other: {why}")
    for dest, needs in REQUIRES.get(command, []):
        if given(dest) and not given(needs):
            raise FlagError(f"{flag(dest)} only applies with {flag(needs)}; add it or drop "
                            f"{flag(dest)}")
