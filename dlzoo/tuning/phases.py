"""A search over a fine-tune: `tune:` in a recipe with `phases`, each trial a whole fine-tune.

A trial sets some of the fine-tune's own knobs (the phases' learning rates and epochs, how much
is unfrozen, BatchNorm's mode, the head's dropout and pooling, the optimizer, label smoothing;
`dlzoo.spec.rules.PHASED_SPACE`) and runs the recipe's phases through the one fine-tune engine,
`dlzoo.transfer.fine_tune`, as `dlzoo train R.yaml` would: the head on cached features (one cache
for the search, shared by the trials that cut the network the same way), then the unfrozen
network. Its score is the last phase's validation metric (`tune.objective`: val_accuracy or
val_loss). Each trial saves its model in its trial folder (`.tuning/NAME/trial_ID/model/`), with
a run folder beside it while it trains, so a search killed mid-trial resumes in that trial's
phase and epoch (`dlzoo tune R --resume`). Knobs the space does not name keep the recipe's
values.

    tune:
      tuner: random            # random or bayesian
      max_trials: 3
      space:
        head_learning_rate: {min: 0.0003, max: 0.003, sampling: log}
        unfreeze: [all, "top:1"]
        dropout: [0.0, 0.3]
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from pathlib import Path

import keras_tuner

from dlzoo.files import json_default_or_str
from dlzoo.plots import read_history
from dlzoo.saving import is_saved_model, read_card
from dlzoo.spec import RunSpec
from dlzoo.spec.rules import PHASED_SPACE, closest
from dlzoo.transfer.finetune import FineTuneConfig, fine_tune, run_folder
from dlzoo.tuning.hypermodels import (
    COMMON,
    DROPOUT,
    boolean,
    choice,
    float_range,
    int_range,
    parse_param,
)
from dlzoo.validation import parse_unfreeze

__all__ = ["PARAMS", "PhasedHyperModel", "phased_trial_recipe"]

# What each knob may be (its type and bounds; the ranges are examples for `describe`): a trial
# only varies the knobs `tune.space` names.
PARAMS = {
    "head_learning_rate": float_range(1e-4, 1e-2, 1e-3, sampling="log", low=0.0, high=10.0),
    "learning_rate": float_range(1e-5, 1e-3, 1e-4, sampling="log", low=0.0, high=10.0),
    "head_epochs": int_range(1, 10, 5, low=1, high=100_000),
    "epochs": int_range(1, 30, 10, low=1, high=100_000),
    "unfreeze": choice(("all", "top:1", "top:2"), "all", type=str),
    "train_batchnorm": boolean(False),
    "dropout": float_range(0.0, 0.5, 0.2, **DROPOUT),
    "pooling": choice(("avg", "max", "flatten"), "avg", type=str,
                      allowed=("avg", "max", "flatten")),
    "optimizer": COMMON["optimizer"],
    "label_smoothing": float_range(0.0, 0.2, 0.0, low=0.0, high=1.0, high_open=True),
}
assert set(PARAMS) == set(PHASED_SPACE), set(PARAMS) ^ set(PHASED_SPACE)


class PhasedHyperModel(keras_tuner.HyperModel):
    """The trials of a search over a fine-tune recipe: each runs the recipe's phases with one
    set of the space's values (`run_trial`, called by `dlzoo.tuning.search`'s tuner instead of
    keras-tuner's build-and-fit).

    Args:
        spec: the recipe's `RunSpec` (a fine-tune with a `tune:` section).
        source, data, cfg: what `dlzoo.transfer.finetune.recipe_config` makes of it.
        input_shape, num_classes: of the data as the fine-tune reads it (for the fingerprint).
        cache_dir: the feature cache the trials share.

    Raises:
        ValueError: a space name that is not a knob (naming the closest), or a value a knob
            cannot take (naming the knob, what it takes and what was received).
    """

    name = "finetune"

    def __init__(self, spec: RunSpec, source, data, cfg: FineTuneConfig, *, input_shape,
                 num_classes: int, cache_dir):
        super().__init__(name=self.name)
        self.run_spec, self.source, self.data, self.cfg = spec, source, data, cfg
        self.input_shape, self.num_classes = tuple(input_shape), int(num_classes)
        self.cache_dir = cache_dir
        self.where = f"recipe {spec.name}: tune.space"
        space = dict(spec.tune["space"])
        for key in space:
            if key not in PARAMS:
                close = closest(key, PARAMS)
                raise ValueError(f"{self.where}: unknown knob {key!r}"
                                 + (f" (closest: {close})" if close else "")
                                 + f"; a fine-tune search sets {', '.join(PARAMS)}.")
        self.space = {k: parse_param(k, v, PARAMS[k], self.where) for k, v in space.items()}
        unfreeze = self.space.get("unfreeze")
        for value in unfreeze.candidates() if unfreeze is not None else ():
            try:
                k = parse_unfreeze(value)
            except (ValueError, TypeError):
                k = None
            if k in (None, 0):
                raise ValueError(f"{self.where}: unfreeze: each value must be all or top:K "
                                 f"(K >= 1); received {value!r}.")

    # keras-tuner declares the space through build(); a trial is run by run_trial
    def values(self, hp) -> dict:
        return {k: p.declare(hp, k) for k, p in self.space.items()}

    def build(self, hp):
        self.values(hp)

    def spec(self, hp) -> dict:
        """The trial's settings: `{knob: value}` (`fine_tune` keywords)."""
        return {k: hp.get(k) for k in self.space}

    def describe(self) -> dict:
        """The search as plain JSON (fingerprint and card): the fine-tune and the space."""
        recipe = self.run_spec.recipe or {}
        return {
            "hypermodel": self.name,
            "model": str(self.run_spec.model.name),
            "phases": copy.deepcopy(recipe.get("phases")),
            "transfer": copy.deepcopy(recipe.get("transfer")),
            "space": {k: p.describe() for k, p in self.space.items()},
        }

    def run_trial(self, trial, trial_dir, record: dict) -> dict:
        """Runs the phases with the trial's values into `trial_dir/model` (continuing the
        trial's unfinished run, or reading the model a finished one saved before a kill);
        returns `{val_accuracy, val_loss}` of the last phase, and puts the phases and the
        per-epoch history in `record`."""
        values = self.spec(trial.hyperparameters)
        out = Path(trial_dir) / "model"
        unfinished = (run_folder(out) / "recipe.json").exists()
        if is_saved_model(out) and not unfinished:  # saved before a kill, not yet recorded
            card = read_card(out)
            history = {k: v for k, v in read_history(out / "history.csv").items()
                       if k != "epoch"} if (out / "history.csv").exists() else {}
        else:
            board = self.cfg.tensorboard  # a folder per trial: phase1/ and phase2/ in it
            cfg = dataclasses.replace(
                self.cfg, **values, out=out, overwrite=True, resume=unfinished,
                cache_dir=self.cache_dir, name=self.run_spec.name,
                recipe=phased_trial_recipe(self.run_spec.recipe, values),
                tensorboard=os.path.join(board, f"trial_{trial.trial_id}") if board else None)
            self.cfg.log(f"trial {trial.trial_id}: "
                         + ", ".join(f"{k}={v}" for k, v in values.items()))
            result = fine_tune(self.source, self.data, cfg)
            card, history = result.card, result.history
        metrics = card.get("metrics", {})
        last = "phase2" if "phase2_val_accuracy" in metrics else "phase1"
        record["phases"] = card.get("training", {}).get("phases", [])
        n = len(history.get("loss", [])) if history else 0
        record["history"] = [{"epoch": i + 1, **{k: float(v[i]) for k, v in history.items()
                                                 if i < len(v)}} for i in range(n)]
        return {"val_accuracy": float(metrics[f"{last}_val_accuracy"]),
                "val_loss": float(metrics[f"{last}_val_loss"])}


# Where each knob sits in a recipe: (section, key); "phase:head" / "phase:unfreeze" name the
# phase of that kind.
_RECIPE_KEYS = {
    "head_learning_rate": ("phase:head", "learning_rate"),
    "head_epochs": ("phase:head", "epochs"),
    "learning_rate": ("phase:unfreeze", "learning_rate"),
    "epochs": ("phase:unfreeze", "epochs"),
    "unfreeze": ("phase:unfreeze", "train"),
    "train_batchnorm": ("phase:unfreeze", "batchnorm"),
    "dropout": ("transfer", "dropout"),
    "pooling": ("transfer", "pooling"),
    "optimizer": ("train", "optimizer"),
    "label_smoothing": ("train", "label_smoothing"),
}


def phased_trial_recipe(recipe: dict, values: dict) -> dict:
    """The recipe one trial ran: `recipe` with the trial's `values` in its phases, `transfer`
    and `train`, and no `tune:` (the trial's saved model records it in its card)."""
    out = json.loads(json.dumps(recipe, default=json_default_or_str))
    out.pop("tune", None)
    for knob, value in values.items():
        section, key = _RECIPE_KEYS[knob]
        if knob == "train_batchnorm":
            value = "train" if value else "frozen"
        if section.startswith("phase:"):
            head = section == "phase:head"
            for phase in out["phases"]:
                if (phase["train"] == "head") == head:
                    phase[key] = value
        else:
            out.setdefault(section, {})[key] = value
    return out
