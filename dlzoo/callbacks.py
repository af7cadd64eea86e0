"""Standard callback sets, composed from `keras.callbacks` and `keras.optimizers.schedules`.

    >>> from dlzoo.callbacks import learning_rate, standard
    >>> lr = learning_rate({"type": "cosine", "warmup_epochs": 2}, learning_rate=1e-3,
    ...                    epochs=30, steps_per_epoch=100)
    >>> model.compile(optimizer=keras.optimizers.Adam(lr), loss=...)
    >>> model.fit(..., callbacks=standard(run_dir="runs/x", lr_schedule="cosine"))

Learning-rate decay comes in two kinds. `"plateau"` reacts to the validation loss and is a
callback (`ReduceLROnPlateau`, which `standard` adds). `"cosine"` (with warmup), `"step"` and
`"exponential"` are functions of the step and are Keras optimizer schedules (`learning_rate`
builds them): the optimizer evaluates them inside the compiled train step, which is the only place
a per-step change reaches on every backend (under JAX a callback cannot change the LR mid-epoch).
Keras's schedules count steps; recipes count epochs, so `learning_rate` converts with the number
of steps per epoch.

Written here because Keras lacks it: `LearningRateLogger` (the LR of each epoch in the logs and
the CSV, for any schedule) and `ResumeState` (the counters of early stopping, LR-on-plateau and
best-checkpoint callbacks, which `BackupAndRestore` does not keep, so a resumed run remembers its
patience and its best epoch's weights).
"""

from __future__ import annotations

import json
import os
from typing import ClassVar

import keras
import numpy as np

from dlzoo.files import atomic_path, to_jsonable, write_json

__all__ = [
    "LR_SCHEDULES",
    "LearningRateLogger",
    "ResumeState",
    "check_schedule",
    "learning_rate",
    "standard",
]

# Each schedule's options and their defaults.
LR_SCHEDULES = {
    "constant": {},
    "plateau": {"factor": 0.5, "patience": 3, "min_delta": 1e-4, "cooldown": 0, "min_lr": 0.0},
    "cosine": {"warmup_epochs": 0, "alpha": 0.0},
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
        if key == "every" and value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{where} must be a non-negative integer; received {value!r}.")
        if key in ("decay_epochs", "every") and value == 0:
            raise ValueError(f"{where} must be a positive integer; received {value!r}.")
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


def learning_rate(schedule, *, learning_rate: float, epochs: int, steps_per_epoch: int):
    """The value to give an optimizer's `learning_rate` for a schedule spec (see `check_schedule`).

    `"constant"` and `"plateau"` give the float `learning_rate` (plateau decay is the callback
    `standard` adds); `"cosine"`, `"step"` and `"exponential"` give a
    `keras.optimizers.schedules.LearningRateSchedule` whose epoch-based options are converted to
    steps:

    - cosine: linear warmup from 0 to `learning_rate` over `warmup_epochs`, then
      `keras.optimizers.schedules.CosineDecay` down to `alpha * learning_rate` at the last step.
    - step: multiplied by `factor` at each epoch in `boundaries` (or every `every` epochs, default
      a third of the run); `PiecewiseConstantDecay`.
    - exponential: multiplied by `decay_rate` every `decay_epochs` epochs (smoothly unless
      `staircase`); `ExponentialDecay`.

    The LR of step `t` (0-based, the value `optimizer.iterations` holds during that step) is the
    schedule at `t`, so epoch `e` starts with the schedule at `e * steps_per_epoch`.
    """
    kind, opt = check_schedule(schedule)
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or not (
        learning_rate > 0
    ):
        raise ValueError(f"learning_rate must be a positive number; received {learning_rate!r}.")
    for arg, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be a positive integer; received {value!r}.")
    lr = float(learning_rate)
    schedules = keras.optimizers.schedules
    if kind in ("constant", "plateau"):
        return lr
    if kind == "cosine":
        warmup = opt["warmup_epochs"] * steps_per_epoch
        decay = max(1, epochs * steps_per_epoch - warmup)
        if warmup == 0:
            return schedules.CosineDecay(lr, decay_steps=decay, alpha=opt["alpha"])
        return schedules.CosineDecay(
            0.0, decay_steps=decay, alpha=opt["alpha"], warmup_target=lr, warmup_steps=warmup
        )
    if kind == "step":
        epochs_at = opt["boundaries"] or list(
            range(opt["every"] or max(1, epochs // 3), epochs, opt["every"] or max(1, epochs // 3))
        )
        if not epochs_at:
            return lr
        # PiecewiseConstantDecay keeps values[i] while step <= boundaries[i]; the new value must
        # apply from the first step of epoch e, i.e. step e * steps_per_epoch.
        boundaries = [e * steps_per_epoch - 1 for e in epochs_at]
        values = [lr * opt["factor"] ** i for i in range(len(boundaries) + 1)]
        return schedules.PiecewiseConstantDecay(boundaries, values)
    return schedules.ExponentialDecay(
        lr,
        decay_steps=opt["decay_epochs"] * steps_per_epoch,
        decay_rate=opt["decay_rate"],
        staircase=opt["staircase"],
    )


# --- callbacks Keras lacks ---------------------------------------------------------------------


class LearningRateLogger(keras.callbacks.Callback):
    """Puts the learning rate each epoch started with into the logs (`learning_rate`), so the
    CSV log and the curves show it for any schedule. `ReduceLROnPlateau` logs it too; Keras logs
    nothing when the optimizer holds a schedule."""

    def __init__(self):
        super().__init__()
        self._lr = None

    def on_epoch_begin(self, epoch, logs=None):
        self._lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._lr is not None:
            logs["learning_rate"] = self._lr


class ResumeState(keras.callbacks.Callback):
    """Keeps the counters of other callbacks across a restart.

    `BackupAndRestore` restores weights, optimizer state (LR and step count included) and the
    epoch, but `EarlyStopping` resets its patience and forgets its best weights on train begin,
    and `ReduceLROnPlateau` / `ModelCheckpoint` forget their best value: a resumed run would stop
    late, decay late and restore the wrong weights. This callback writes those counters (and
    early stopping's best weights) into `state_dir` after every epoch, and puts them back into
    the callbacks when a resumed run starts its first epoch.

    List it after the callbacks it watches (it must save after they update). The last two
    epochs' states are kept, so a kill between this save and the backup's still finds the epoch
    the backup holds.
    """

    _ATTRS: ClassVar[dict] = {
        keras.callbacks.EarlyStopping: ("wait", "stopped_epoch", "best", "best_epoch"),
        keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter"),
        keras.callbacks.ModelCheckpoint: ("best",),
    }

    def __init__(self, state_dir, callbacks):
        super().__init__()
        self.state_dir = os.fspath(state_dir)
        self.watched = [c for c in callbacks if self._attrs(c)]
        self._path = os.path.join(self.state_dir, "state.json")
        self._saved: dict = {}
        self._applied = False

    @classmethod
    def _attrs(cls, callback):
        for kind, attrs in cls._ATTRS.items():
            if isinstance(callback, kind):
                return attrs
        return ()

    def on_train_begin(self, logs=None):
        self._applied = False
        self._saved = {}
        if os.path.exists(self._path):
            with open(self._path) as f:
                self._saved = json.load(f)

    def on_epoch_begin(self, epoch, logs=None):
        if not self._applied:
            self._apply(epoch)

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        os.makedirs(self.state_dir, exist_ok=True)
        entry = {"callbacks": [], "best_weights": None}
        for cb in self.watched:
            entry["callbacks"].append(
                {a: to_jsonable(getattr(cb, a, None)) for a in self._attrs(cb)}
            )
            if isinstance(cb, keras.callbacks.EarlyStopping) and cb.best_weights is not None:
                name = f"best-epoch{cb.best_epoch + 1}.npz"
                path = os.path.join(self.state_dir, name)
                if not os.path.exists(path):
                    with atomic_path(path) as tmp:
                        np.savez(tmp, *cb.best_weights)
                entry["best_weights"] = name
        self._saved = {
            k: v for k, v in self._saved.items() if int(k) in (done - 1,)
        } | {str(done): entry}
        write_json(self._path, self._saved)
        keep = {e["best_weights"] for e in self._saved.values()}
        for name in os.listdir(self.state_dir):
            if name.endswith(".npz") and name not in keep:
                os.remove(os.path.join(self.state_dir, name))

    def on_train_end(self, logs=None):
        # A resumed run whose backup already holds the last epoch runs no epoch at all; its early
        # stopping never saw the best weights, so restore them here.
        if self._applied:
            return
        initial = getattr(self.model, "_initial_epoch", None)
        if initial and self._apply(initial):
            for cb in self.watched:
                if (
                    isinstance(cb, keras.callbacks.EarlyStopping)
                    and cb.restore_best_weights
                    and cb.best_weights is not None
                ):
                    self.model.set_weights(cb.best_weights)

    def _apply(self, epochs_done: int) -> bool:
        self._applied = True
        entry = self._saved.get(str(epochs_done))
        if entry is None or len(entry["callbacks"]) != len(self.watched):
            return False
        for cb, values in zip(self.watched, entry["callbacks"]):
            for attr, value in values.items():
                setattr(cb, attr, value)
            if isinstance(cb, keras.callbacks.EarlyStopping) and entry["best_weights"]:
                with np.load(os.path.join(self.state_dir, entry["best_weights"])) as f:
                    cb.best_weights = [f[f"arr_{i}"] for i in range(len(f.files))]
        return True


# --- the standard set ------------------------------------------------------------------------


def _early_stopping(spec, monitor: str, verbose: int):
    """`EarlyStopping` that restores the best weights, with `EARLY_STOPPING_DEFAULTS` updated by
    `spec` (True or a mapping of those options)."""
    options = dict(EARLY_STOPPING_DEFAULTS)
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - set(EARLY_STOPPING_DEFAULTS))
        if unknown:
            raise ValueError(
                f"early_stopping: unknown option(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(EARLY_STOPPING_DEFAULTS)}."
            )
        options.update(spec)
    return keras.callbacks.EarlyStopping(monitor=monitor, restore_best_weights=True,
                                         verbose=verbose, **options)


def standard(
    *,
    run_dir=None,
    monitor: str = "val_loss",
    early_stopping=True,
    lr_schedule="plateau",
    checkpoint: bool | None = None,
    backup: bool | None = None,
    csv_log: bool | None = None,
    terminate_on_nan: bool = True,
    verbose: int = 0,
) -> list:
    """The callbacks a training run should have, in the order they must run.

    Args:
        run_dir: folder for the run's files: `best.weights.h5` (checkpoint of the best epoch),
            `backup/` (`BackupAndRestore`: weights, optimizer state and epoch after every epoch),
            `state/` (`ResumeState`), `history.csv` (`CSVLogger`, appended, so a resumed run
            continues its log). Without it, no file-writing callback is added.
        monitor: the quantity early stopping, plateau decay and checkpointing watch.
        early_stopping: True (patience 6), False/None, or a mapping of `EarlyStopping` options
            (`patience`, `min_delta`, `start_from_epoch`). Always restores the best weights.
        lr_schedule: a schedule spec (see `check_schedule`). Only `"plateau"` is a callback; the
            step-based schedules go into the optimizer with `learning_rate(...)`.
        checkpoint, backup, csv_log: default on when `run_dir` is given.
        terminate_on_nan: stop at the first NaN loss.
        verbose: verbosity passed to the Keras callbacks.

    Returns:
        A list of callbacks for `model.fit(callbacks=...)`.
    """
    file_flags = {"checkpoint": checkpoint, "backup": backup, "csv_log": csv_log}
    if run_dir is None:
        wanted = [k for k, v in file_flags.items() if v]
        if wanted:
            raise ValueError(
                f"standard: {', '.join(wanted)} write files and need run_dir; pass run_dir=PATH."
            )
        checkpoint = backup = csv_log = False
    else:
        run_dir = os.fspath(run_dir)
        checkpoint, backup, csv_log = (v is not False for v in file_flags.values())
    kind, plateau = check_schedule(lr_schedule)

    callbacks: list = []
    if terminate_on_nan:
        callbacks.append(keras.callbacks.TerminateOnNaN())
    callbacks.append(LearningRateLogger())
    if early_stopping:
        callbacks.append(_early_stopping(early_stopping, monitor, verbose))
    if kind == "plateau":
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(monitor=monitor, verbose=verbose, **plateau)
        )
    if checkpoint:
        callbacks.append(
            keras.callbacks.ModelCheckpoint(
                os.path.join(run_dir, "best.weights.h5"),
                monitor=monitor,
                save_best_only=True,
                save_weights_only=True,
                verbose=verbose,
            )
        )
    if csv_log:
        # Before the backup: a kill between the two leaves a log row for an epoch the backup
        # does not hold, which `training` trims on resume; the other order would lose the row.
        callbacks.append(keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=True))
    if backup:
        callbacks.append(ResumeState(os.path.join(run_dir, "state"), callbacks))
        callbacks.append(
            keras.callbacks.BackupAndRestore(
                os.path.join(run_dir, "backup"), double_checkpoint=True, delete_checkpoint=False
            )
        )
    return callbacks
