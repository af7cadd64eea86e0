"""Training switches: label smoothing, weight EMA, weight decay, gradient accumulation,
weight and activity penalties, max-norm constraints and gradient clipping.

One vocabulary for the recipe keys (`train.label_smoothing`, `train.ema`, `train.weight_decay`,
`train.gradient_accumulation`), `fine_tune(...)`'s keywords of the same names and the CLI flags
(`--label-smoothing`, `--ema`, `--weight-decay`, `--grad-accum`). Checked here without importing
Keras or a backend (a bad recipe is refused before TensorFlow or JAX loads); applied with Keras's
own parts:

- label smoothing: `keras.losses.CategoricalCrossentropy(label_smoothing=...)`; the zoo's labels
  are class indices, so `dlzoo.losses.SmoothedCrossEntropy` one-hots them first (Keras's sparse
  loss has no `label_smoothing`);
- EMA: the optimizer's `use_ema` / `ema_momentum`; `dlzoo.callbacks.EMAWeights` makes the
  averaged weights the ones validated, checkpointed, restored by early stopping and saved;
- weight decay: the optimizer's `weight_decay` (decoupled from the gradient, as AdamW, on every
  Keras 3 optimizer), not applied to biases and normalisation scales (as timm and fastai);
- gradient accumulation: the optimizer's `gradient_accumulation_steps` (an update every N
  batches, from their mean gradient: the effective batch is N x data.batch_size);
- `l1` / `l2` / `max_norm` on every kernel and `activity_l1` on one layer's outputs: Keras's
  regularizers and `MaxNorm` set on the built model's layers (`dlzoo.regularization`), so they
  are in the saved model's config;
- gradient clipping: the optimizer's `clipnorm`, `global_clipnorm` or `clipvalue` (one of them).

    >>> from dlzoo.switches import check_switches
    >>> check_switches({"label_smoothing": 0.1, "ema": True}, "train.")
    {'label_smoothing': 0.1, 'ema': 0.99, 'weight_decay': None, 'gradient_accumulation': 1, ...}
"""

from __future__ import annotations

import math

__all__ = [
    "CLIP_KEYS",
    "EMA_MOMENTUM",
    "SWITCH_DEFAULTS",
    "card_record",
    "check_switches",
    "optimizer_arguments",
]

# key -> value when off. `ema` is the EMA momentum when on (True means EMA_MOMENTUM).
SWITCH_DEFAULTS = {
    "label_smoothing": 0.0,
    "ema": None,
    "weight_decay": None,
    "gradient_accumulation": 1,
    # regularisation (dlzoo.regularization) and clipping (the optimizer's own arguments)
    "l1": None,  # L1 penalty on every kernel (Dense, Conv...)
    "l2": None,  # L2 penalty on every kernel
    "activity_l1": None,  # L1 penalty on the activities of `activity_layer`
    "activity_layer": None,  # a layer name; None: the layer feeding `predictions`
    "max_norm": None,  # MaxNorm constraint on every kernel (each unit's incoming weights)
    "clipnorm": None,  # gradient clipping: by each variable's norm
    "global_clipnorm": None,  # by the norm of all gradients together
    "clipvalue": None,  # by value
}
CLIP_KEYS = ("clipnorm", "global_clipnorm", "clipvalue")
# Keras's own default `ema_momentum`: the average's horizon is about 1 / (1 - m) = 100 updates.
EMA_MOMENTUM = 0.99
MAX_ACCUMULATION = 1024


def _number(value) -> bool:
    return (not isinstance(value, bool) and isinstance(value, (int, float))
            and math.isfinite(value))


def check_switches(values: dict, prefix: str = "") -> dict:
    """Checks the switches in `values` (other keys are ignored) and returns all four in
    canonical form (`SWITCH_DEFAULTS` for those not given).

    Args:
        values: a mapping that may hold `label_smoothing` (a number in [0, 1)), `ema` (None /
            False, True for momentum 0.99, or the momentum in (0, 1)), `weight_decay` (None or a
            number >= 0) and `gradient_accumulation` (an integer >= 1).
        prefix: how errors name a key: `"recipe x.yaml: train."`, `"fine_tune: "`.

    Raises:
        ValueError: a value out of range or of the wrong type, naming the key, what is allowed
            and what was received.
    """
    out = dict(SWITCH_DEFAULTS)

    def fail(key, what):
        raise ValueError(f"{prefix}{key} must be {what}; received {values[key]!r}.")

    if values.get("label_smoothing") is not None:
        v = values["label_smoothing"]
        if not _number(v) or not 0 <= v < 1:
            fail("label_smoothing", "a number in [0, 1) (0.1 is usual)")
        out["label_smoothing"] = float(v)
    ema = values.get("ema")
    if ema is True:
        out["ema"] = EMA_MOMENTUM
    elif ema is not None and ema is not False:
        if not _number(ema) or not 0 < ema < 1:
            fail("ema", "true, false or the EMA momentum in (0, 1) (0.99, 0.999)")
        out["ema"] = float(ema)
    if values.get("weight_decay") is not None:
        v = values["weight_decay"]
        if not _number(v) or not 0 <= v <= 1:
            fail("weight_decay", "a number from 0 to 1 (0.05 is usual with adamw) or null")
        out["weight_decay"] = float(v) if v else None
    if values.get("gradient_accumulation") is not None:
        v = values["gradient_accumulation"]
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_ACCUMULATION:
            fail("gradient_accumulation",
                 f"an integer from 1 to {MAX_ACCUMULATION} (batches per update)")
        out["gradient_accumulation"] = v
    for key, what in (("l1", "a penalty from 0 to 1 (1e-4 is usual)"),
                      ("l2", "a penalty from 0 to 1 (1e-4 is usual)"),
                      ("activity_l1", "a penalty from 0 to 1 (1e-5 is usual)")):
        v = values.get(key)
        if v is not None:
            if not _number(v) or not 0 <= v <= 1:
                fail(key, what)
            out[key] = float(v) or None
    for key, what in (("max_norm", "a positive number (3 is usual)"),
                      ("clipnorm", "a positive number (1.0 is usual)"),
                      ("global_clipnorm", "a positive number (1.0 is usual)"),
                      ("clipvalue", "a positive number (0.5 is usual)")):
        v = values.get(key)
        if v is not None:
            if not _number(v) or not v > 0:
                fail(key, what)
            out[key] = float(v)
    layer = values.get("activity_layer")
    if layer is not None:
        if not isinstance(layer, str) or not layer:
            fail("activity_layer", "a layer name (dlzoo build NAME --summary lists them)")
        if out["activity_l1"] is None:
            raise ValueError(f"{prefix}activity_layer goes with activity_l1; set the penalty.")
        out["activity_layer"] = layer
    clips = [k for k in CLIP_KEYS if out[k] is not None]
    if len(clips) > 1:
        raise ValueError(f"{prefix}{clips[0]} and {prefix.rsplit(' ', 1)[-1]}{clips[1]}: Keras "
                         "clips gradients one way at a time; keep one of "
                         f"{', '.join(CLIP_KEYS)}.")
    return out


def optimizer_arguments(switches: dict, optimizer_args: dict | None = None,
                        where: str = "train.optimizer_args") -> dict:
    """The Keras optimizer arguments the switches set (`use_ema`, `ema_momentum`,
    `weight_decay`, `gradient_accumulation_steps`), merged into `optimizer_args`.

    Raises:
        ValueError: `optimizer_args` sets one of them too, to another value (say it once).
    """
    args = dict(optimizer_args or {})
    wanted = {}
    if switches.get("ema"):
        wanted.update(use_ema=True, ema_momentum=switches["ema"])
    if switches.get("weight_decay"):
        wanted["weight_decay"] = switches["weight_decay"]
    if (switches.get("gradient_accumulation") or 1) > 1:
        wanted["gradient_accumulation_steps"] = switches["gradient_accumulation"]
    for key in CLIP_KEYS:
        if switches.get(key) is not None:
            wanted[key] = switches[key]
    names = {"use_ema": "ema", "ema_momentum": "ema", "weight_decay": "weight_decay",
             "gradient_accumulation_steps": "gradient_accumulation",
             **{k: k for k in CLIP_KEYS}}
    for key, value in wanted.items():
        if key in args and args[key] != value:
            raise ValueError(f"{where}.{key} ({args[key]!r}) contradicts the switch "
                             f"{names[key]} ({value!r}); set it in one place.")
        args[key] = value
    return args


def card_record(switches: dict, *, batch_size: int | None = None) -> dict:
    """The switches that are on, for the card's `training` section (nothing for those off)."""
    out = {}
    if switches.get("augment"):  # a recipe's train.augment (fine-tunes record it in transfer)
        out["augment"] = switches["augment"]
    if switches.get("label_smoothing"):
        out["label_smoothing"] = switches["label_smoothing"]
    if switches.get("ema"):
        out["ema"] = {"momentum": switches["ema"],
                      "weights": "the saved weights and the card's metrics are the averaged ones"}
    if switches.get("weight_decay"):
        out["weight_decay"] = {"rate": switches["weight_decay"], "decoupled": True,
                               "excluded": "biases and normalisation parameters"}
    for key in ("l1", "l2", "max_norm"):
        if switches.get(key):
            out[key] = {"value": switches[key], "on": "every kernel (Dense, convolution)"}
    if switches.get("activity_l1"):
        out["activity_l1"] = {"value": switches["activity_l1"],
                              "layer": switches.get("activity_layer") or "(the layer feeding "
                              "predictions)"}
    for key in CLIP_KEYS:
        if switches.get(key) is not None:
            out["gradient_clipping"] = {"by": key, "value": switches[key]}
    steps = switches.get("gradient_accumulation") or 1
    if steps > 1:
        out["gradient_accumulation"] = {
            "steps": steps, **({"effective_batch_size": steps * batch_size}
                               if batch_size else {})}
    return out
