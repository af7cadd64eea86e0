"""Training switches: label smoothing, weight EMA, weight decay and gradient accumulation.

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
  batches, from their mean gradient: the effective batch is N x data.batch_size).

    >>> from dlzoo.switches import check_switches
    >>> check_switches({"label_smoothing": 0.1, "ema": True}, "train.")
    {'label_smoothing': 0.1, 'ema': 0.99, 'weight_decay': None, 'gradient_accumulation': 1}
"""

from __future__ import annotations

import math

__all__ = [
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
}
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
    names = {"use_ema": "ema", "ema_momentum": "ema", "weight_decay": "weight_decay",
             "gradient_accumulation_steps": "gradient_accumulation"}
    for key, value in wanted.items():
        if key in args and args[key] != value:
            raise ValueError(f"{where}.{key} ({args[key]!r}) contradicts the switch "
                             f"{names[key]} ({value!r}); set it in one place.")
        args[key] = value
    return args


def card_record(switches: dict, *, batch_size: int | None = None) -> dict:
    """The switches that are on, for the card's `training` section (nothing for those off)."""
    out = {}
    if switches.get("label_smoothing"):
        out["label_smoothing"] = switches["label_smoothing"]
    if switches.get("ema"):
        out["ema"] = {"momentum": switches["ema"],
                      "weights": "the saved weights and the card's metrics are the averaged ones"}
    if switches.get("weight_decay"):
        out["weight_decay"] = {"rate": switches["weight_decay"], "decoupled": True,
                               "excluded": "biases and normalisation parameters"}
    steps = switches.get("gradient_accumulation") or 1
    if steps > 1:
        out["gradient_accumulation"] = {
            "steps": steps, **({"effective_batch_size": steps * batch_size}
                               if batch_size else {})}
    return out
