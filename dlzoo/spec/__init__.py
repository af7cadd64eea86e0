"""One typed description of a run: `RunSpec`, for `dlzoo train`, `finetune`, `--folds` and tune.

A run is a model, data, a list of **phases** (what trains, on what, for how long, at which
rate), callbacks, training switches, precision, devices and a seed. A plain training recipe is
a run of one phase (`train: all` on images); a fine-tune is a run of two (a head on the frozen
network's cached features, then the unfrozen network on images). Three ways in, one value out:

    >>> from dlzoo.recipes import load_recipe
    >>> spec = RunSpec.from_recipe(load_recipe("lenet5-shapes-finetune"))  # a YAML recipe
    >>> spec = RunSpec.from_finetune("lenet5", "digits", head_epochs=5)     # fine_tune(**kwargs)
    >>> [p.train for p in spec.phases]
    ['head', 'all']

`dlzoo finetune`'s flags become `fine_tune`'s keywords, so they parse through `from_finetune`
too. The rules (limits, contradictions, unknown keys naming the closest) are
`dlzoo.spec.rules`, checked once: a recipe by `rules.validate` (through `load_recipe`), the
keywords by `from_finetune` (names) and `FineTuneConfig.check` (values), flags by
`rules.check_flags`. The values are frozen dataclasses; mappings inside them (model arguments,
augmentation, schedules) are plain dicts, as Keras and the builders take them. The recipe a
spec was read from stays in `RunSpec.recipe`: run folders store it for resume, and cards record
it, unchanged.

Core layer: imports no engine and no backend.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

from dlzoo.spec.rules import RecipeError, closest, is_phased
from dlzoo.switches import SWITCH_DEFAULTS

__all__ = [
    "FINETUNE_DEFAULTS",
    "FINETUNE_RUN_OPTIONS",
    "Callbacks",
    "DataSpec",
    "ModelSpec",
    "Phase",
    "RecipeError",
    "RunSpec",
    "Switches",
    "Transfer",
    "as_spec",
    "check_finetune_keywords",
]


@dataclass(frozen=True)
class ModelSpec:
    """The network: a registry name (built with `args`, `weights` loaded), or for a fine-tune
    also a saved-model folder, `run:NAME` or a `keras.Model`."""

    name: object
    args: dict | None = None  # builder arguments (model_args); None: the builder's defaults
    weights: object = None  # None, "imagenet", a weights file or a saved model


@dataclass(frozen=True)
class DataSpec:
    """Where the examples come from and how they are read (`dlzoo.data.load`'s arguments)."""

    source: object  # a tfds name, digits, folder:PATH, csv:FILE, synthetic:NAME, a folder or bundle
    image_size: object = None  # [height, width]; None: the model's (or the source's)
    color_mode: str | None = None  # grayscale | rgb | rgba; None: the model's
    batch_size: int = 32
    validation_split: float = 0.2
    seed: int = 0  # the split's and the shuffle's
    options: dict = field(default_factory=dict)  # the source's own options (data_dir, ...)

    def load_arguments(self) -> dict:
        """The mapping `dlzoo.data.load` (and a recipe's `data:`) takes."""
        out = {"source": self.source, "batch_size": self.batch_size,
               "validation_split": self.validation_split, "seed": self.seed, **self.options}
        if self.image_size is not None:
            out["image_size"] = self.image_size
        if self.color_mode is not None:
            out["color_mode"] = self.color_mode
        return out


@dataclass(frozen=True)
class Phase:
    """One fit of the run: what trains, on what, for how long, how fast.

    train: "head" (a new head on the frozen network), "all", "top:K" (the top K block groups
        of `dlzoo.registry.unfreeze_groups`) or "none" (a phase that trains nothing: skipped).
    on: "features" (a head phase on features extracted once and cached) or "images".
    epochs: at most this many (early stopping may end it before); 0 skips the phase.
    learning_rate: the optimizer's starting rate; None in an unfreeze phase: the source's
        default (`dlzoo.transfer.phase2_learning_rate`).
    batchnorm: "frozen" (BatchNormalization in inference mode) or "train".
    """

    train: object = "all"
    epochs: int = 10
    learning_rate: float | None = 1e-3
    on: str = "images"
    batchnorm: str = "train"
    optimizer: str = "adam"
    optimizer_args: dict = field(default_factory=dict)

    @property
    def trains_head_only(self) -> bool:
        return self.train == "head"


@dataclass(frozen=True)
class Callbacks:
    """`dlzoo.callbacks.standard`'s settings (a recipe's `callbacks:`)."""

    monitor: str = "val_loss"
    early_stopping: object = True  # True, False or {patience, min_delta, start_from_epoch}
    lr_schedule: object = "plateau"  # a name or {type: ..., options}
    checkpoint: bool = True
    backup: bool = True
    csv_log: bool = True
    terminate_on_nan: bool = True
    tensorboard: object = None  # a folder for TensorBoard logs


@dataclass(frozen=True)
class Switches:
    """The training switches (`dlzoo.switches`), one field each."""

    label_smoothing: float = 0.0
    ema: object = None
    weight_decay: float | None = None
    gradient_accumulation: int = 1
    l1: float | None = None
    l2: float | None = None
    activity_l1: float | None = None
    activity_layer: str | None = None
    max_norm: float | None = None
    clipnorm: float | None = None
    global_clipnorm: float | None = None
    clipvalue: float | None = None

    @classmethod
    def from_mapping(cls, values: dict) -> Switches:
        return cls(**{k: values.get(k, default) for k, default in SWITCH_DEFAULTS.items()})

    def as_dict(self) -> dict:
        """`{key: value}` as `dlzoo.switches` and a recipe's `train:` spell them."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Transfer:
    """How a fine-tune cuts the pretrained network and what it keeps (a recipe's `transfer:`)."""

    layer: str | None = None  # the feature layer; None: the deepest of feature_layers
    pooling: str | None = "avg"
    dropout: float = 0.2
    keep: str = "best"  # best: the better phase's weights; last: the last phase's
    cache_dir: object = None  # the feature cache's folder


@dataclass(frozen=True)
class RunSpec:
    """A run: model, data, phases, callbacks, switches, precision, devices, seed.

    `transfer` is None for a plain training run (one phase: all layers on images) and set for
    a fine-tune. `recipe` is the validated recipe the spec was read from (None for keywords):
    stored in run folders and cards as it is, and not part of the spec's equality.
    """

    name: str | None
    model: ModelSpec
    data: DataSpec
    phases: tuple
    callbacks: Callbacks = Callbacks()
    switches: Switches = Switches()
    loss: str | None = None
    metrics: tuple | None = None
    augment: object = None  # {flip, rotation, ...} or False
    adversarial: dict | None = None
    class_weight: str | None = None
    strategy: str | None = None
    precision: str = "auto"
    devices: object = 1
    seed: int = 0  # the run's random seed (weights, shuffles); the data's split is data.seed
    transfer: Transfer | None = None
    description: str = ""
    expect: dict = field(default_factory=dict)
    tune: dict | None = None
    recipe: dict | None = field(default=None, compare=False, repr=False)

    # --- what a run needs to know --------------------------------------------------------------

    @property
    def is_finetune(self) -> bool:
        return self.transfer is not None

    @property
    def epochs(self) -> int:
        """Epochs over all phases."""
        return sum(p.epochs for p in self.phases)

    @property
    def optimizer(self) -> str:
        return self.phases[0].optimizer

    @property
    def optimizer_args(self) -> dict:
        return self.phases[0].optimizer_args

    @property
    def learning_rate(self) -> float | None:
        """The first phase's rate (a plain run has one phase)."""
        return self.phases[0].learning_rate

    # --- three ways in -------------------------------------------------------------------------

    @classmethod
    def from_recipe(cls, recipe: dict) -> RunSpec:
        """The spec of a validated recipe (`dlzoo.recipes.load_recipe` / `validate`: every
        default filled in). Raises `RecipeError` for a mapping that was not validated."""
        try:
            return _from_recipe(recipe)
        except (KeyError, TypeError, AttributeError) as e:
            name = recipe.get("name") if isinstance(recipe, dict) else None
            raise RecipeError(f"recipe {name or '?'}: not a validated recipe ({e!r}); read it "
                              "with dlzoo.recipes.load_recipe or validate") from None

    @classmethod
    def from_finetune(cls, source, data, **settings) -> RunSpec:
        """The spec of `fine_tune(source, data, **settings)` (and of `dlzoo finetune`'s flags,
        which become those keywords): two phases, the head's on cached features (on images when
        `augment` is on) and the unfrozen network's.

        Raises:
            TypeError: a keyword `fine_tune` does not take, naming the closest one.
        """
        check_finetune_keywords(settings)
        s = {**FINETUNE_DEFAULTS, **{k: v for k, v in settings.items()
                                     if k not in FINETUNE_RUN_OPTIONS}}
        optimizer = s["optimizer"]
        head = Phase(train="head", epochs=s["head_epochs"], learning_rate=s["head_learning_rate"],
                     on="images" if s["augment"] else "features", batchnorm="frozen",
                     optimizer=optimizer)
        body = Phase(train=s["unfreeze"], epochs=s["epochs"], learning_rate=s["learning_rate"],
                     on="images", batchnorm="train" if s["train_batchnorm"] else "frozen",
                     optimizer=optimizer)
        return cls(
            name=s["name"],
            model=ModelSpec(name=source, args=s["model_args"], weights=s["weights"]),
            data=DataSpec(source=data, image_size=s["image_size"], color_mode=s["color_mode"],
                          batch_size=s["batch_size"], validation_split=s["validation_split"],
                          seed=s["seed"]),
            phases=(head, body),
            callbacks=Callbacks(early_stopping=s["early_stopping"], lr_schedule=s["lr_schedule"],
                                tensorboard=s["tensorboard"]),
            switches=Switches.from_mapping(s),
            augment=s["augment"], class_weight=s["class_weight"], precision=s["precision"],
            devices=s["devices"], seed=s["seed"],
            transfer=Transfer(layer=s["layer"], pooling=s["pooling"], dropout=s["dropout"],
                              keep=s["keep"], cache_dir=s["cache_dir"]),
        )

    def finetune_settings(self) -> dict:
        """The `fine_tune` keywords this spec says (`FINETUNE_DEFAULTS`' keys): the inverse of
        `from_finetune`, and what `dlzoo.transfer.finetune.config_from_spec` builds its config
        from. A spec without a head phase trains its head for 0 epochs; one with only a head
        phase unfreezes nothing after it."""
        if self.transfer is None:
            raise ValueError(f"run {self.name}: not a fine-tune (no transfer settings)")
        head = next((p for p in self.phases if p.train == "head"), None)
        body = next((p for p in self.phases if p.train != "head"), None)
        out = {
            "weights": self.model.weights, "model_args": self.model.args,
            "layer": self.transfer.layer, "pooling": self.transfer.pooling,
            "dropout": self.transfer.dropout, "keep": self.transfer.keep,
            "cache_dir": self.transfer.cache_dir,
            "head_epochs": head.epochs if head else 0,
            "head_learning_rate": head.learning_rate if head else FINETUNE_DEFAULTS[
                "head_learning_rate"],
            "epochs": body.epochs if body else 0,
            "unfreeze": body.train if body else "none",
            "learning_rate": body.learning_rate if body else None,
            "train_batchnorm": body is not None and body.batchnorm == "train",
            "class_weight": self.class_weight, "augment": self.augment,
            "early_stopping": self.callbacks.early_stopping,
            "lr_schedule": self.callbacks.lr_schedule,
            "tensorboard": self.callbacks.tensorboard,
            "image_size": self.data.image_size, "color_mode": self.data.color_mode,
            "batch_size": self.data.batch_size, "validation_split": self.data.validation_split,
            "seed": self.seed, "precision": self.precision, "devices": self.devices,
            "optimizer": self.optimizer, "name": self.name,
            **self.switches.as_dict(),
        }
        assert set(out) == set(FINETUNE_DEFAULTS), set(out) ^ set(FINETUNE_DEFAULTS)
        return out

    def switch_values(self) -> dict:
        """The switches and `augment`, as `dlzoo.compiling.compile_for_task`,
        `dlzoo.regularization.regularize_from` and the card's record read them."""
        return {**self.switches.as_dict(), "augment": self.augment}

    def replace(self, **changes) -> RunSpec:
        """A copy with `changes` (`dataclasses.replace`)."""
        return dataclasses.replace(self, **changes)


# `fine_tune`'s keywords that describe the run, with their defaults (the spec's), and those that
# say where and how it runs (kept out of the spec: `dlzoo.transfer.FineTuneConfig` has both).
FINETUNE_DEFAULTS = {
    "weights": None, "model_args": None, "layer": None, "pooling": "avg", "dropout": 0.2,
    "head_epochs": 10, "epochs": 30, "unfreeze": "all", "head_learning_rate": 1e-3,
    "learning_rate": None, "train_batchnorm": False, "class_weight": None, "augment": False,
    "early_stopping": True, "lr_schedule": "plateau", "keep": "best", "image_size": None,
    "color_mode": None, "batch_size": 32, "validation_split": 0.2, "seed": 0, "cache_dir": None,
    "name": None, "precision": "auto", "devices": 1, "optimizer": "adam", "tensorboard": None,
    **SWITCH_DEFAULTS,
}
FINETUNE_RUN_OPTIONS = ("out", "overwrite", "verbose", "log", "resume", "recipe")


def as_spec(run) -> RunSpec:
    """`run` as a `RunSpec`: a spec as it is; a validated recipe (a dict) through
    `RunSpec.from_recipe`."""
    return run if isinstance(run, RunSpec) else RunSpec.from_recipe(run)


def check_finetune_keywords(settings) -> None:
    """Raises TypeError for a `fine_tune` keyword that does not exist, naming the closest."""
    known = (*FINETUNE_DEFAULTS, *FINETUNE_RUN_OPTIONS)
    unknown = sorted(set(settings) - set(known))
    if unknown:
        close = closest(unknown[0], known)
        hint = f"; closest: {close}" if close else f"; known: {', '.join(sorted(known))}"
        raise TypeError(f"fine_tune() got an unexpected keyword argument {unknown[0]!r}{hint}")


def _from_recipe(recipe: dict) -> RunSpec:
    train, cbs, data = recipe["train"], recipe["callbacks"], recipe["data"]
    data_fields = ("source", "image_size", "color_mode", "batch_size", "validation_split", "seed")
    data_spec = DataSpec(**{k: data.get(k) for k in data_fields if k in data},
                         options={k: v for k, v in data.items() if k not in data_fields})
    callbacks = Callbacks(**{f.name: cbs[f.name] for f in dataclasses.fields(Callbacks)
                             if f.name in cbs})
    optimizer = train.get("optimizer", "adam")
    optimizer_args = dict(train.get("optimizer_args") or {})
    common = dict(
        name=recipe["name"], description=recipe.get("description", ""), data=data_spec,
        callbacks=callbacks, switches=Switches.from_mapping(train),
        augment=train.get("augment"), class_weight=train.get("class_weight"),
        precision=train.get("precision", "auto"), devices=train.get("devices", 1),
        seed=train["seed"], expect=dict(recipe.get("expect") or {}),
        tune=recipe.get("tune"), recipe=recipe,
    )
    if is_phased(recipe):
        transfer = recipe.get("transfer") or {}
        phases = tuple(
            Phase(train=p["train"], epochs=p["epochs"],
                  learning_rate=p.get("learning_rate", 1e-3 if p["train"] == "head" else None),
                  on=("images" if train.get("augment") else "features")
                  if p["train"] == "head" else "images",
                  batchnorm=p.get("batchnorm", "frozen"), optimizer=optimizer,
                  optimizer_args=optimizer_args)
            for p in recipe["phases"])
        common["augment"] = train.get("augment") or False  # as fine_tune's keyword says "off"
        return RunSpec(
            model=ModelSpec(name=recipe["model"], args=dict(recipe.get("model_args") or {}) or None,
                            weights=transfer.get("weights")),
            phases=phases,
            transfer=Transfer(layer=transfer.get("layer"), pooling=transfer.get("pooling", "avg"),
                              dropout=transfer.get("dropout", 0.2),
                              keep=transfer.get("keep", "best"),
                              cache_dir=transfer.get("cache_dir")),
            **common)
    args = copy.deepcopy(recipe["model_args"])
    return RunSpec(
        model=ModelSpec(name=recipe["model"], args=args, weights=args.get("weights")),
        phases=(Phase(train="all", epochs=train["epochs"], learning_rate=train["learning_rate"],
                      on="images", batchnorm="train", optimizer=optimizer,
                      optimizer_args=optimizer_args),),
        loss=train.get("loss"),
        metrics=tuple(train["metrics"]) if train.get("metrics") is not None else None,
        adversarial=train.get("adversarial"), strategy=train.get("strategy"), **common)
