"""Learning-rate schedule specs and early-stopping defaults: what a recipe may say, checked without
importing Keras or a backend (a bad recipe is refused before TensorFlow or JAX loads).

`dlzoo.callbacks` turns a checked spec into Keras schedules and callbacks.
"""

from __future__ import annotations

__all__ = ["EARLY_STOPPING_DEFAULTS", "LR_SCHEDULES", "check_schedule"]

# Each schedule's options and their defaults.
LR_SCHEDULES = {
    "constant": {},
    "plateau": {"factor": 0.5, "patience": 3, "min_delta": 1e-4, "cooldown": 0, "min_lr": 0.0},
    "cosine": {"warmup_epochs": 0, "alpha": 0.0},
    # Smith's one-cycle (fastai's fit_one_cycle, PyTorch's OneCycleLR): up from
    # lr / div_factor to lr over warmup_epochs (default 30% of the run), then cosine down to
    # lr / (div_factor * final_div_factor).
    "one_cycle": {"warmup_epochs": None, "div_factor": 25.0, "final_div_factor": 1e4},
    "step": {"every": None, "boundaries": None, "factor": 0.1},
    "exponential": {"decay_rate": 0.9, "decay_epochs": 1, "staircase": False},
}
EARLY_STOPPING_DEFAULTS = {"patience": 6, "min_delta": 0.0, "start_from_epoch": 0}


# --- learning-rate schedules ---------------------------------------------------------------------


def check_schedule(spec, where: str = "lr_schedule") -> tuple[str, dict]:
    """Validates a schedule spec and returns `(type, options with defaults filled in)`.

    A spec is None (constant), a type name (`"cosine"`), or a mapping with `type` and options
    (`{"type": "cosine", "warmup_epochs": 2}`). Errors name the key (`where`).
    """
    if spec is None or spec is False:
        return "constant", {}
    if isinstance(spec, str):
        kind, given = spec, {}
    elif isinstance(spec, dict):
        if "type" not in spec:
            raise ValueError(
                f"{where} needs a 'type', one of {', '.join(LR_SCHEDULES)}; received {spec!r}."
            )
        kind, given = spec["type"], {k: v for k, v in spec.items() if k != "type"}
    else:
        raise TypeError(
            f"{where} must be a schedule name or a mapping with 'type'; received {spec!r}."
        )
    if kind not in LR_SCHEDULES:
        raise ValueError(
            f"{where} must be one of {', '.join(LR_SCHEDULES)}; received {kind!r}."
        )
    allowed = LR_SCHEDULES[kind]
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(
            f"{where}: unknown option(s) {', '.join(unknown)} for schedule {kind!r}; "
            f"allowed: {', '.join(allowed) or 'none'}."
        )
    options = {**allowed, **given}
    for key, value in given.items():
        _check_option(kind, key, value, f"{where}.{key}")
    return kind, options


def _check_option(kind: str, key: str, value, where: str) -> None:
    def number(ok, what):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value):
            raise ValueError(f"{where} must be {what}; received {value!r}.")

    if key in ("patience", "cooldown", "warmup_epochs", "decay_epochs", "every"):
        if key in ("every", "warmup_epochs") and value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{where} must be a non-negative integer; received {value!r}.")
        if key in ("decay_epochs", "every") and value == 0:
            raise ValueError(f"{where} must be a positive integer; received {value!r}.")
    elif key in ("div_factor", "final_div_factor"):
        number(lambda v: v >= 1, "a number >= 1")
    elif key in ("factor",):
        number(lambda v: 0 < v < 1, "a number between 0 and 1 (exclusive)")
    elif key == "decay_rate":
        number(lambda v: 0 < v <= 1, "a number in (0, 1]")
    elif key in ("min_delta", "min_lr", "alpha"):
        number(lambda v: v >= 0, "a non-negative number")
    elif key == "staircase" and not isinstance(value, bool):
        raise ValueError(f"{where} must be true or false; received {value!r}.")
    elif key == "boundaries" and value is not None and (
        not isinstance(value, list)
        or not value
        or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value)
        or value != sorted(set(value))
    ):
        raise ValueError(
            f"{where} must be an increasing list of epoch numbers >= 1; received {value!r}."
        )
