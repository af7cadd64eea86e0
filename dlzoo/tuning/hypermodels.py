"""Hypermodels: keras-tuner search spaces over the zoo's registered builders.

A hypermodel turns a set of hyperparameter values into a registry call (`dlzoo.build(name,
**args)`) plus an optimizer and a learning rate; it never holds layers of its own, so what a search
finds is exactly what `dlzoo train` rebuilds (keras-tuner's own `HyperResNet`, a copy of the blocks
that drifted from keras.applications, is what this avoids).

    hypermodel   builds              searches (default, in brackets)
    cnn          plain_cnn           stages [2], convs per stage [2], filters [32], kernel_size [3],
                                     batch_norm [False], dropout [0.3], fc_units [128]
    resnet       resnet20 (any       stages [3], blocks per stage [2], width [16, doubling],
                 ResNet variant)     block [basic], version [v1], stem [cifar, fixed]
    rnn          text_/sequence_     cell [lstm], bidirectional [False], layers [1], units [64],
                 lstm/gru            dropout [0.0] (+ embedding_dim [128] on tokens)
    transformer  transformer_        layers [2], heads [4], key_dim [32], ff_dim [256],
                 encoder / vit_tiny  dropout [0.1] (+ patch_size [4] on images)
    every one    optimizer [adam], learning_rate [1e-3, log-uniform 1e-4..1e-2]

A search space is a mapping from these names to: a list (a choice), `{min, max, step, sampling,
default}` (a range), or a single value (fixed). Spaces are checked when the hypermodel is made,
against the data's shape, so a combination that cannot be built (4 pooling stages on 8x8 digits,
a ViT patch that does not divide the image) is a `ValueError` before any trial runs.

    >>> from dlzoo.tuning import get_hypermodel
    >>> hm = get_hypermodel("cnn", input_shape=(16, 16, 1), num_classes=10,
    ...                     space={"stages": [1, 2], "filters": [16, 32]})
    >>> model = hm.build(keras_tuner.HyperParameters())   # the defaults: a compiled plain_cnn
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import ClassVar

import keras_tuner

from dlzoo.augmentation import augmentation_layers
from dlzoo.compiling import compile_for_task
from dlzoo.models.resnet import resnet_min_size
from dlzoo.precision import check_precision, float32_outputs, precision_scope
from dlzoo.preprocessing import with_preprocessing
from dlzoo.registry import model_info
from dlzoo.weights import build
from dlzoo.tasks import Task

__all__ = [
    "HYPERMODELS",
    "CNNHyperModel",
    "Param",
    "RNNHyperModel",
    "ResNetHyperModel",
    "TransformerHyperModel",
    "TrialSpec",
    "ZooHyperModel",
    "get_hypermodel",
]

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd", "nadam")


@dataclasses.dataclass(frozen=True)
class Param:
    """One hyperparameter: its kind, its range or choices, and its default.

    kind: "choice", "int", "float", "bool" or "fixed". `type` is the Python type of its values
    (int, float, str, bool); `low`/`high` bound what a user may ask for (inclusive; `high_open`
    makes `high` exclusive); `allowed` lists the only legal values of a string parameter.
    """

    kind: str
    default: object
    values: tuple = ()
    min: float | None = None
    max: float | None = None
    step: float | None = None
    sampling: str = "linear"
    type: type = int
    low: float | None = None
    high: float | None = None
    high_open: bool = False
    allowed: tuple = ()

    def candidates(self) -> list:
        """Every value the parameter can take (the two ends for a continuous range)."""
        if self.kind in ("choice",):
            return list(self.values)
        if self.kind == "bool":
            return [False, True]
        if self.kind == "fixed":
            return [self.default]
        if self.kind == "int":
            return list(range(int(self.min), int(self.max) + 1, int(self.step or 1)))
        return [self.min, self.max]

    def declare(self, hp, name: str):
        """Registers the parameter on a keras-tuner `HyperParameters`; returns its value."""
        if self.kind == "choice":
            return hp.Choice(name, list(self.values), default=self.default)
        if self.kind == "bool":
            return hp.Boolean(name, default=self.default)
        if self.kind == "fixed":
            return hp.Fixed(name, self.default)
        if self.kind == "int":
            return hp.Int(name, int(self.min), int(self.max), step=int(self.step or 1),
                          default=self.default)
        return hp.Float(name, self.min, self.max, step=self.step, sampling=self.sampling,
                        default=self.default)

    def describe(self):
        """The parameter as plain JSON (for fingerprints, cards and `dlzoo tune --show`)."""
        if self.kind == "fixed":
            return self.default
        if self.kind in ("choice", "bool"):
            return {"choice": list(self.candidates()), "default": self.default}
        out = {"min": self.min, "max": self.max, "default": self.default}
        if self.step is not None:
            out["step"] = self.step
        if self.sampling != "linear":
            out["sampling"] = self.sampling
        return out


def choice(values, default, *, type=int, low=None, high=None, allowed=()) -> Param:
    return Param("choice", default, values=tuple(values), type=type, low=low, high=high,
                 allowed=tuple(allowed))


def int_range(lo, hi, default, *, step=1, low=1, high=None) -> Param:
    return Param("int", default, min=lo, max=hi, step=step, type=int, low=low, high=high)


def float_range(lo, hi, default, *, step=None, sampling="linear", low=0.0, high=None,
                high_open=False) -> Param:
    return Param("float", default, min=lo, max=hi, step=step, sampling=sampling, type=float,
                 low=low, high=high, high_open=high_open)


def boolean(default=False) -> Param:
    return Param("bool", default, type=bool)


COMMON = {
    "optimizer": choice(OPTIMIZERS[:1] + ("rmsprop", "sgd"), "adam", type=str, allowed=OPTIMIZERS),
    "learning_rate": float_range(1e-4, 1e-2, 1e-3, sampling="log", low=0.0, high=1.0),
}
DROPOUT = {"low": 0.0, "high": 1.0, "high_open": True}


@dataclasses.dataclass
class TrialSpec:
    """What one set of hyperparameter values means: a registry call and how to train it."""

    model: str
    model_args: dict
    optimizer: str
    learning_rate: float


# --- parsing a user's search space ---------------------------------------------------------------


def _type_ok(value, param: Param) -> bool:
    if param.type is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if param.type is int:
        return isinstance(value, int)
    if param.type is float:
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, param.type)


def _expected(param: Param) -> str:
    if param.allowed:
        return "one of " + ", ".join(map(str, param.allowed))
    what = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[param.type]
    bounds = []
    if param.low is not None:
        bounds.append(f">= {param.low}")
    if param.high is not None:
        bounds.append(f"{'<' if param.high_open else '<='} {param.high}")
    return what + (f" {' and '.join(bounds)}" if bounds else "")


def _check_value(value, param: Param, where: str) -> None:
    ok = _type_ok(value, param)
    if ok and param.allowed and value not in param.allowed:
        ok = False
    if ok and param.type in (int, float):
        if param.low is not None and value < param.low:
            ok = False
        if param.high is not None and (value >= param.high if param.high_open
                                       else value > param.high):
            ok = False
    if not ok:
        raise ValueError(f"{where}: each value must be {_expected(param)}; received {value!r}.")


def parse_param(name: str, spec, base: Param, where: str) -> Param:
    """A user's setting for one hyperparameter (list, range mapping or single value) as a `Param`
    checked against the hypermodel's own definition `base`."""
    where = f"{where}: {name}"
    if isinstance(spec, Param):
        return spec
    if isinstance(spec, (list, tuple)):
        values = list(spec)
        if not values:
            raise ValueError(f"{where}: the list of choices is empty; give at least one value.")
        for v in values:
            _check_value(v, base, where)
        if len(set(map(repr, values))) != len(values):
            raise ValueError(f"{where}: the choices {values!r} repeat a value.")
        if len(values) == 1:
            return dataclasses.replace(base, kind="fixed", default=values[0], values=())
        if base.type is bool:
            default = base.default if base.default in values else values[0]
            return dataclasses.replace(base, kind="bool" if set(values) == {False, True}
                                       else "choice", values=tuple(values), default=default)
        default = base.default if base.default in values else values[0]
        return dataclasses.replace(base, kind="choice", values=tuple(values), default=default)
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - {"min", "max", "step", "sampling", "default"})
        if unknown or "min" not in spec or "max" not in spec:
            raise ValueError(
                f"{where}: a range is a mapping with min and max (and optionally step, sampling, "
                f"default); received {spec!r}."
            )
        if base.type not in (int, float):
            raise ValueError(f"{where}: is not numeric; give a list of choices, e.g. "
                             f"{list(base.candidates())!r}.")
        lo, hi = spec["min"], spec["max"]
        for v in (lo, hi):
            _check_value(v, base, where)
        if lo >= hi:
            raise ValueError(f"{where}: min ({lo}) must be below max ({hi}).")
        sampling = spec.get("sampling", "linear")
        if sampling not in ("linear", "log", "reverse_log"):
            raise ValueError(f"{where}: sampling must be linear, log or reverse_log; "
                             f"received {sampling!r}.")
        if sampling != "linear" and lo <= 0:
            raise ValueError(f"{where}: {sampling} sampling needs min > 0; received {lo}.")
        step = spec.get("step")
        if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float))
                                 or step <= 0):
            raise ValueError(f"{where}: step must be a positive number; received {step!r}.")
        default = spec.get("default", base.default if lo <= base.default <= hi else lo)
        _check_value(default, base, where)
        if not lo <= default <= hi:
            raise ValueError(f"{where}: default {default} is outside [{lo}, {hi}].")
        if base.type is int:
            if step is not None and not isinstance(step, int):
                raise ValueError(f"{where}: step must be an integer; received {step!r}.")
            return dataclasses.replace(base, kind="int", min=lo, max=hi, step=step or 1,
                                       sampling=sampling, default=default, values=())
        return dataclasses.replace(base, kind="float", min=float(lo), max=float(hi),
                                   step=None if step is None else float(step),
                                   sampling=sampling, default=float(default), values=())
    _check_value(spec, base, where)
    return dataclasses.replace(base, kind="fixed", default=spec, values=())


# --- the hypermodels ----------------------------------------------------------------------------


class ZooHyperModel(keras_tuner.HyperModel):
    """Base of the zoo's hypermodels: a search space of `Param`s over one family's builder.

    Args:
        input_shape: one example's shape (from the data).
        num_classes: output classes (from the data).
        space: overrides of the default space, `{name: list | range mapping | value}`; names not
            given keep their defaults (`PARAMS`).
        model: the registered model the hypermodel starts from (its input kind and task decide
            loss and variants); default `DEFAULT_MODEL`.
        model_args: fixed builder arguments added to every trial (e.g. `vocab_size`); they may
            not name a searched parameter.
        preprocessing: wrap image models behind their `Preprocess` layer, so they take raw
            [0, 255] pixels like every zoo model trained by a recipe (default True).
        augment: the recipe's `train.augment` mapping (random flips, shifts...) for images.
        loss, metrics: override the task's defaults (sparse categorical cross-entropy and
            accuracy for classifiers, mean squared error otherwise).
        precision: `auto`, `float32`, `bfloat16` or `float16` (`dlzoo.precision`): the dtype
            policy each trial's model is built under.
        switches: the recipe's training switches (`dlzoo.switches`: label smoothing, EMA,
            weight decay, gradient accumulation), applied to every trial.
    """

    name = "zoo"
    DEFAULT_MODEL = ""
    PARAMS: ClassVar[dict] = {}

    def __init__(self, *, input_shape, num_classes, space=None, model=None, model_args=None,
                 preprocessing: bool = True, augment=None, loss=None, metrics=None,
                 precision: str = "auto", switches: dict | None = None):
        super().__init__(name=self.name)
        self.precision = check_precision(precision, f"{self.name} hypermodel: precision")
        self.info = model_info(model or self.DEFAULT_MODEL)
        self.input_shape = tuple(input_shape)
        self.num_classes = int(num_classes)
        self.model_args = dict(model_args or {})
        self.preprocessing = preprocessing
        self.augment = dict(augment or {})
        self.loss, self.metrics = loss, metrics
        self.switches = dict(switches or {})
        self.where = f"{self.name} hypermodel"
        self._check_model()
        params = {**self.params_for(self.info), **COMMON}
        space = dict(space or {})
        unknown = sorted(set(space) - set(params))
        if unknown:
            raise ValueError(
                f"{self.where}: unknown hyperparameter(s) {', '.join(unknown)}; this hypermodel "
                f"searches {', '.join(params)}."
            )
        clash = sorted(set(self.model_args) & (set(params) | set(self.renamed_args())))
        if clash:
            raise ValueError(
                f"{self.where}: model_args {', '.join(clash)} name searched hyperparameters; "
                "fix them in the search space instead (a single value)."
            )
        self.space = {k: parse_param(k, space[k], p, self.where) if k in space else p
                      for k, p in params.items()}
        self.check_space()

    # Subclasses: the parameters for the base model, the model a value set builds, the checks.
    def params_for(self, info) -> dict:
        return dict(self.PARAMS)

    def renamed_args(self) -> tuple:
        """Builder arguments that searched parameters set under another name."""
        return ()

    def _check_model(self) -> None:
        pass

    def model_for(self, values: dict) -> tuple[str, dict]:
        raise NotImplementedError

    def check_values(self, values: dict) -> None:
        """Raises ValueError if this combination cannot be built (before any layer is made)."""

    def check_space(self) -> None:
        """Raises ValueError, naming the parameter, if some combination the space allows cannot
        be built. The default checks every parameter's extreme values one at a time against the
        defaults of the others."""
        defaults = {k: p.default for k, p in self.space.items()}
        for key, param in self.space.items():
            for value in param.candidates():
                try:
                    self.check_values({**defaults, key: value})
                except ValueError as e:
                    raise ValueError(
                        f"{self.where}: {key}={value!r} cannot be built for input "
                        f"{list(self.input_shape)}: {e} Remove that value from the search space."
                    ) from None

    # keras-tuner's interface
    def values(self, hp) -> dict:
        """Declares every parameter on `hp` and returns the values of this trial."""
        return {k: p.declare(hp, k) for k, p in self.space.items()}

    def spec(self, hp) -> TrialSpec:
        values = self.values(hp)
        self.check_values(values)
        model, args = self.model_for(values)
        return TrialSpec(model=model, model_args={**self.model_args, **args},
                         optimizer=values["optimizer"], learning_rate=float(values["learning_rate"]))

    def build(self, hp):
        try:
            spec = self.spec(hp)
            with precision_scope(self.precision):
                model = float32_outputs(self._network(spec))
        except (ValueError, TypeError) as e:
            # Fail the trial at once, without retries: the values cannot make a model.
            raise keras_tuner.errors.FailedTrialError(f"{self.where}: {e}") from None
        model = compile_for_task(model, self.info.task, optimizer=spec.optimizer,
                                 learning_rate=spec.learning_rate, loss=self.loss,
                                 metrics=self.metrics,
                                 switches={**self.switches, "augment": self.augment})
        # A trial that continues another (hyperband) loads that trial's checkpoint, which holds
        # the optimizer's state too. An optimizer without its variables yet cannot take it:
        # Keras warns "Skipping variable loading for optimizer" and the continued trial would
        # start again with fresh moments and step count. Its variables are made now (fit would
        # make the same ones first thing).
        if model.built and model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        return model

    def _network(self, spec: TrialSpec):
        info = model_info(spec.model)
        network = build(spec.model, input_shape=self.input_shape, num_classes=self.num_classes,
                        **spec.model_args)
        if not (self.preprocessing and info.input_kind == "image"):
            return network
        return with_preprocessing(network, info.preprocessing,
                                  augment=augmentation_layers(self.augment),
                                  name=f"{self.name}_trial")

    def describe(self) -> dict:
        """The search space as plain JSON: what the fingerprint and the model card record."""
        return {
            "hypermodel": self.name,
            "model": self.info.name,
            "model_args": copy.deepcopy(self.model_args),
            "space": {k: p.describe() for k, p in self.space.items()},
        }

    def defaults(self) -> dict:
        return {k: p.default for k, p in self.space.items()}


def _image_side(shape) -> int | None:
    sides = [s for s in shape[:2] if s is not None]
    return min(sides) if sides else None


class CNNHyperModel(ZooHyperModel):
    """LeNet/VGG-like plain CNNs through `plain_cnn`: stages, convolutions per stage, filters
    (doubling each stage), kernel size, batch norm, dropout and the dense layer's width."""

    name = "cnn"
    DEFAULT_MODEL = "plain_cnn"
    PARAMS: ClassVar[dict] = {
        "stages": int_range(1, 3, 2),
        "convs": int_range(1, 3, 2),
        "filters": choice((16, 32, 64), 32, low=1),
        "kernel_size": choice((3, 5), 3, low=1),
        "batch_norm": boolean(False),
        "dropout": float_range(0.0, 0.5, 0.3, step=0.1, **DROPOUT),
        "fc_units": choice((64, 128, 256), 128, low=1),
    }
    MAX_FILTERS = 512

    def renamed_args(self):
        return ("stages", "filters", "kernel_size", "batch_norm", "dropout", "fc_units")

    def _check_model(self):
        if self.info.name != "plain_cnn":
            raise ValueError(f"{self.where}: builds through plain_cnn; received model "
                             f"{self.info.name!r}.")

    def check_values(self, v):
        side = _image_side(self.input_shape)
        if side is not None and 2 ** v["stages"] > side:
            raise ValueError(
                f"{v['stages']} stages halve the image {v['stages']} times, which needs at least "
                f"{2 ** v['stages']}x{2 ** v['stages']} pixels; the data is "
                f"{self.input_shape[0]}x{self.input_shape[1]}."
            )
        if v["kernel_size"] % 2 == 0:
            raise ValueError(f"kernel_size must be odd; received {v['kernel_size']}.")

    def model_for(self, v):
        filters = tuple(min(v["filters"] * 2 ** i, self.MAX_FILTERS) for i in range(v["stages"]))
        return self.info.name, {
            "stages": (v["convs"],) * v["stages"],
            "filters": filters,
            "kernel_size": v["kernel_size"],
            "batch_norm": v["batch_norm"],
            "dropout": v["dropout"],
            "fc_units": (v["fc_units"],),
        }


class RNNHyperModel(ZooHyperModel):
    """Recurrent classifiers through `text_lstm`/`text_gru` (token ids) or
    `sequence_lstm`/`sequence_gru` (float sequences): cell, bidirectional, layers, units, dropout."""

    name = "rnn"
    DEFAULT_MODEL = "text_lstm"
    PARAMS: ClassVar[dict] = {
        "cell": choice(("lstm", "gru"), "lstm", type=str, allowed=("lstm", "gru")),
        "bidirectional": boolean(False),
        "layers": int_range(1, 2, 1),
        "units": choice((32, 64, 128), 64, low=1),
        "dropout": float_range(0.0, 0.5, 0.0, step=0.1, **DROPOUT),
    }

    def params_for(self, info):
        params = dict(self.PARAMS)
        if info.input_kind == "tokens":
            params["embedding_dim"] = choice((64, 128), 128, low=1)
        return params

    def renamed_args(self):
        return ("cell", "depth")

    def _check_model(self):
        if self.info.family != "text_rnn" or self.info.input_kind not in ("tokens", "sequence") \
                or not self.info.task.is_classification:
            raise ValueError(
                f"{self.where}: builds recurrent classifiers (text_lstm, sequence_lstm, ...); "
                f"received model {self.info.name!r}."
            )

    def model_for(self, v):
        prefix = "text" if self.info.input_kind == "tokens" else "sequence"
        args = {"bidirectional": v["bidirectional"], "depth": v["layers"], "units": v["units"],
                "dropout": v["dropout"]}
        if "embedding_dim" in v:
            args["embedding_dim"] = v["embedding_dim"]
        return f"{prefix}_{v['cell']}", args


class TransformerHyperModel(ZooHyperModel):
    """Transformer encoders through `transformer_encoder` (token ids) or `vit_tiny` (images):
    layers, heads, key dimension per head (the width is heads x key_dim), feed-forward size,
    dropout, and the patch size on images."""

    name = "transformer"
    DEFAULT_MODEL = "transformer_encoder"
    PARAMS: ClassVar[dict] = {
        "layers": int_range(1, 4, 2),
        "heads": choice((2, 4, 8), 4, low=1),
        "key_dim": choice((16, 32, 64), 32, low=1),
        "ff_dim": choice((128, 256, 512), 256, low=1),
        "dropout": float_range(0.0, 0.3, 0.1, step=0.1, **DROPOUT),
    }

    def params_for(self, info):
        params = dict(self.PARAMS)
        if info.input_kind == "image":
            params["patch_size"] = choice((2, 4, 8), 4, low=1)
        return params

    def renamed_args(self):
        return ("depth", "num_heads", "embed_dim")

    def _check_model(self):
        if self.info.family != "transformer" or self.info.task is Task.GENERATIVE:
            raise ValueError(f"{self.where}: builds transformer_encoder or vit_tiny; received "
                             f"model {self.info.name!r}.")

    def check_values(self, v):
        if "patch_size" in v:
            h, w = self.input_shape[:2]
            if (h is not None and h % v["patch_size"]) or (w is not None and w % v["patch_size"]):
                raise ValueError(
                    f"patch_size {v['patch_size']} does not divide the image ({h}x{w}); the "
                    "patches must tile it exactly."
                )

    def model_for(self, v):
        args = {"depth": v["layers"], "num_heads": v["heads"],
                "embed_dim": v["heads"] * v["key_dim"], "ff_dim": v["ff_dim"],
                "dropout": v["dropout"]}
        if "patch_size" in v:
            args["patch_size"] = v["patch_size"]
        return self.info.name, args


class ResNetHyperModel(ZooHyperModel):
    """Residual networks through the registry's ResNet variants (default `resnet20`, whose every
    `ResNet` argument can be overridden): stage count, blocks per stage (the stage depths), base
    width (doubling per stage), basic or bottleneck blocks, v1 or v2 (pre-activation), and the
    stem (CIFAR's 3x3, or ImageNet's 7x7/2 + max pool)."""

    name = "resnet"
    DEFAULT_MODEL = "resnet20"
    PARAMS: ClassVar[dict] = {
        "stages": int_range(2, 4, 3),
        "blocks": int_range(1, 3, 2),
        "width": choice((16, 32, 64), 16, low=1),
        "block": choice(("basic", "bottleneck"), "basic", type=str,
                        allowed=("basic", "bottleneck")),
        "version": choice(("v1", "v2"), "v1", type=str, allowed=("v1", "v2")),
        "stem": Param("fixed", "cifar", type=str, allowed=("cifar", "imagenet")),
    }
    MAX_WIDTH = 512

    def renamed_args(self):
        return ("depths", "widths", "block", "preact", "stem")

    def _check_model(self):
        if self.info.family != "resnet":
            raise ValueError(f"{self.where}: builds through a ResNet variant (resnet20, resnet18, "
                             f"...); received model {self.info.name!r}.")

    def check_values(self, v):
        # The builder's own rule (its padded strided convolutions accept small inputs)
        side = _image_side(self.input_shape)
        need = resnet_min_size(num_stages=v["stages"], stem=v["stem"], block=v["block"],
                               preact=v["version"] == "v2")
        if side is not None and side < need:
            raise ValueError(
                f"{v['stages']} stages with the {v['stem']} stem need at least {need}x{need} "
                f"pixels; the data is {self.input_shape[0]}x{self.input_shape[1]}."
            )

    def model_for(self, v):
        widths = tuple(min(v["width"] * 2 ** i, self.MAX_WIDTH) for i in range(v["stages"]))
        return self.info.name, {
            "depths": (v["blocks"],) * v["stages"],
            "widths": widths,
            "block": v["block"],
            "preact": v["version"] == "v2",
            "stem": v["stem"],
        }


HYPERMODELS = {
    "cnn": CNNHyperModel,
    "resnet": ResNetHyperModel,
    "rnn": RNNHyperModel,
    "transformer": TransformerHyperModel,
}


def get_hypermodel(name: str, **kwargs) -> ZooHyperModel:
    """Makes a hypermodel by name (`cnn`, `resnet`, `rnn`, `transformer`); see `ZooHyperModel`."""
    if name not in HYPERMODELS:
        raise ValueError(f"unknown hypermodel {name!r}; choose one of {', '.join(HYPERMODELS)}.")
    return HYPERMODELS[name](**kwargs)
