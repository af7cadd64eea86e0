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
the CSV, for any schedule), `ResumeState` (the counters of early stopping, LR-on-plateau and
best-checkpoint callbacks, which `BackupAndRestore` does not keep, so a resumed run remembers its
patience and its best epoch's weights) and `RunBackup`, Keras's `BackupAndRestore` made safe
against kill -9 and a full disk: Keras writes the weights and then, in place, the JSON naming
their epoch, so a kill between (or during) the two writes resumes the wrong epoch or nothing at
all; and it keeps no random-number state, so a resumed run is not the run it continues.
`RunBackup` writes weights, optimizer state, epoch, the optimizer's step count (the witness that
they belong together) and the random-number state as one file, under a temporary name, renamed
into place.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import ClassVar

import keras
import numpy as np

from dlzoo.files import atomic_path, to_jsonable, write_json, write_weights
from dlzoo.tensorboard_logs import tensorboard_callback

__all__ = [
    "LR_SCHEDULES",
    "AtomicModelCheckpoint",
    "EMAWeights",
    "LearningRateLogger",
    "MixingSchedule",
    "ResumeState",
    "RunBackup",
    "check_schedule",
    "find_backup",
    "learning_rate",
    "standard",
]

# The schedule specs and early-stopping defaults are checked where recipes are validated, before
# any backend is imported (dlzoo.schedules); re-exported here, where they are used.
from dlzoo.schedules import EARLY_STOPPING_DEFAULTS, LR_SCHEDULES, check_schedule  # noqa: E402


def learning_rate(schedule, *, learning_rate: float, epochs: int, steps_per_epoch: int):
    """The value to give an optimizer's `learning_rate` for a schedule spec (see `check_schedule`).

    `"constant"` and `"plateau"` give the float `learning_rate` (plateau decay is the callback
    `standard` adds); `"cosine"`, `"step"` and `"exponential"` give a
    `keras.optimizers.schedules.LearningRateSchedule` whose epoch-based options are converted to
    steps:

    - cosine: linear warmup from 0 to `learning_rate` over `warmup_epochs`, then
      `keras.optimizers.schedules.CosineDecay` down to `alpha * learning_rate` at the last step.
    - one_cycle: linear warmup from `learning_rate / div_factor` to `learning_rate` over
      `warmup_epochs` (default 30% of the steps), then cosine down to
      `learning_rate / (div_factor * final_div_factor)` at the last step (Smith 2018; the
      momentum is not cycled).
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
        warmup = (opt["warmup_epochs"] or 0) * steps_per_epoch
        decay = max(1, epochs * steps_per_epoch - warmup)
        if warmup == 0:
            return schedules.CosineDecay(lr, decay_steps=decay, alpha=opt["alpha"])
        return schedules.CosineDecay(
            0.0, decay_steps=decay, alpha=opt["alpha"], warmup_target=lr, warmup_steps=warmup
        )
    if kind == "one_cycle":
        # Keras's CosineDecay is the one-cycle shape: a linear warm-up from its initial rate to
        # `warmup_target`, then a cosine down to `alpha * warmup_target`.
        total = epochs * steps_per_epoch
        warmup_epochs = opt["warmup_epochs"]
        warmup = (round(0.3 * total) if warmup_epochs is None
                  else min(total - 1, warmup_epochs * steps_per_epoch))
        return schedules.CosineDecay(
            lr / opt["div_factor"], decay_steps=max(1, total - warmup),
            alpha=1.0 / (opt["div_factor"] * opt["final_div_factor"]), warmup_target=lr,
            warmup_steps=max(0, warmup))
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
            try:
                with open(self._path) as f:
                    self._saved = json.load(f)
            except (OSError, ValueError) as e:  # written atomically; a damaged disk, then
                print(f"note: {self._path} is unreadable ({e}); the early-stopping and "
                      "LR-on-plateau counters start over")
                self._saved = {}

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


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """`keras.callbacks.ModelCheckpoint` whose file is written under a temporary name and renamed
    into place, so a kill during the write leaves the previous best file, never a torn one."""

    def _save_model(self, epoch, batch, logs):
        # Keras's own `_save_model` writes `filepath` in place; the decision (and the update of
        # `self.best`) stays Keras's.
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, batch, logs, filepath):
            return
        os.makedirs(os.path.dirname(filepath) or ".", exist_ok=True)
        if self.save_weights_only:
            write_weights(self.model, filepath)
            return
        with atomic_path(filepath) as tmp:
            self.model.save(tmp, overwrite=True)


# --- the run's backup: weights, optimizer, epoch and random state as one file -------------------

BACKUP_ATTR = "dlzoo_backup"  # the root attribute of a backup file: its JSON metadata
BACKUP_GLOB = "epoch-*.weights.h5"


def _step_count(optimizer) -> int:
    """The optimizer's stored step counter (its first variable): `optimizer.iterations` is that
    divided by `gradient_accumulation_steps` when gradients are accumulated."""
    return int(keras.ops.convert_to_numpy(getattr(optimizer, "_iterations",
                                                  optimizer.iterations)))


def backup_path(backup_dir, epoch: int) -> Path:
    """The backup file of the state after `epoch` finished epochs."""
    return Path(backup_dir) / f"epoch-{epoch:05d}.weights.h5"


def _seed_variables(model) -> list:
    """The model's `SeedGenerator` states (dropout, noise, augmentation layers): Keras keeps them
    out of `save_weights`, so a resumed run would draw other masks than the run it continues."""
    if model is None:
        return []
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables
            if id(v) not in weights and "seed_generator" in getattr(v, "path", "")]


def _global_seed_generator(create: bool = False):
    from keras.src.backend.common import global_state

    gen = global_state.get_global_attribute("global_seed_generator")
    if gen is None and create:
        from keras.src.random.seed_generator import global_seed_generator

        gen = global_seed_generator()
    return gen


def rng_state(model=None) -> dict:
    """The random-number state a resumed run needs to continue the same run: Python's `random`,
    NumPy's global generator, Keras's global `SeedGenerator` and the model's seed generators.
    (A `tf.data` pipeline's shuffle order has no state to save: `RunBackup` replays it, see
    `replay_shuffles`.)"""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    gen = _global_seed_generator()
    return {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "keras_global": None if gen is None else
        keras.ops.convert_to_numpy(gen.state).tolist(),
        "seed_generators": [[v.path, keras.ops.convert_to_numpy(v).tolist()]
                            for v in _seed_variables(model)],
    }


def set_rng_state(state: dict, model=None) -> None:
    """Puts back what `rng_state` saved (ValueError when the model's seed generators differ)."""
    seeds = _seed_variables(model)
    saved = state.get("seed_generators", [])
    # in order, not by path: Keras numbers seed generators per process (seed_generator_3 ...)
    if [np.shape(v) for _, v in saved] != [tuple(v.shape) for v in seeds]:
        raise ValueError("the backup's random state was saved for other layers "
                         f"({len(saved)} seed generator(s); the model has {len(seeds)})")
    for v, (_, value) in zip(seeds, saved):
        v.assign(np.asarray(value, dtype=keras.backend.standardize_dtype(v.dtype)))
    if state.get("keras_global") is not None:
        gen = _global_seed_generator(create=True)  # (creating it draws from Python's random)
        gen.state.assign(np.asarray(state["keras_global"],
                                    dtype=keras.backend.standardize_dtype(gen.state.dtype)))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def read_backup(path) -> dict:
    """The metadata of a backup file, after checking that the file is whole and that its
    weights belong to its epoch: the optimizer's step count stored in the weights equals the
    one recorded beside the epoch.

    Raises:
        ValueError: the file is unreadable, torn, or its parts disagree (the reason).
    """
    import h5py

    try:
        with h5py.File(path, "r") as f:
            meta = json.loads(f.attrs[BACKUP_ATTR])
            stored = f["optimizer/vars/0"][()] if "optimizer/vars/0" in f else None
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise ValueError(f"{Path(path).name} is unreadable ({str(e).splitlines()[0]})") from None
    epoch = meta.get("epoch") if isinstance(meta, dict) else None
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise ValueError(f"{Path(path).name} names no epoch")
    if stored is not None and meta.get("iterations") is not None and int(stored) != int(
            meta["iterations"]):
        raise ValueError(f"{Path(path).name}: its weights are at optimizer step {int(stored)}, "
                         f"its record says {meta['iterations']}")
    return meta


def find_backup(backup_dir, *, log=print, remove_bad: bool = True) -> tuple[int, Path | None]:
    """`(epochs done, file)` of the newest whole backup in `backup_dir` (`(0, None)`: none).

    A newer file that is unreadable or inconsistent (`read_backup`) is reported through `log`
    ("falling back to epoch N") and removed (when `remove_bad`), so the run continues from the
    last good state instead of failing on every resume."""
    backup_dir = Path(backup_dir)
    files = sorted(backup_dir.glob(BACKUP_GLOB), reverse=True) if backup_dir.is_dir() else []
    bad = []
    for path in files:
        try:
            meta = read_backup(path)
        except ValueError as e:
            bad.append((path, str(e)))
            continue
        for b, reason in bad:
            log(f"note: backup {reason}; falling back to the state after epoch {meta['epoch']}")
            if remove_bad:
                b.unlink(missing_ok=True)
        return meta["epoch"], path
    for b, reason in bad:
        log(f"note: backup {reason}; no earlier state is whole, so the epochs start over")
        if remove_bad:
            b.unlink(missing_ok=True)
    return 0, None


def replay_shuffles(dataset, epochs: int) -> int:
    """Moves a `tf.data` pipeline's reshuffling on to where it was after `epochs` epochs of
    `model.fit`, without reading it; returns the number of iterators made.

    A pipeline with `shuffle(seed=..., reshuffle_each_iteration=True)` draws each new iterator's
    order from a generator that advances once per iterator, so a resumed run would start over
    with the first epoch's order. Keras 3's `EpochIterator` (fit without `steps_per_epoch`)
    makes, on TensorFlow, two iterators per epoch when the pipeline's length is known (one to
    run the epoch, one it makes at the epoch's end and drops) and one in the first epoch when it
    is not; on JAX its iterators are generators that make the tf.data iterator when first read,
    so one per epoch. Making (and dropping) as many first gives the order the uninterrupted run
    had. Anything but a `tf.data.Dataset` (arrays, a PyDataset) is left alone.
    """
    if dataset is None or epochs < 1 or not hasattr(dataset, "cardinality") or (
            type(dataset).__module__.split(".")[0] != "tensorflow"):
        return 0
    if keras.backend.backend() == "jax":
        count = epochs
    else:
        count = 2 * epochs if int(dataset.cardinality()) >= 0 else 2 * epochs - 1
    for _ in range(count):
        iterator = iter(dataset)
        del iterator
    return count


def _data_generators(data) -> list:
    """The NumPy generators a training-data object draws from: a `PyDataset` such as
    `dlzoo.robustness.AdversarialBatches` (which examples it attacks) and its base batches."""
    found = []
    for obj in (data, getattr(data, "base", None)):
        rng = getattr(obj, "rng", None)
        if isinstance(rng, np.random.Generator):
            found.append(rng)
    return found


def set_data_epoch(data, epoch: int) -> bool:
    """Puts a backend-neutral `Batches` (`dlzoo.data.neutral`, whose order is drawn from its
    seed and epoch), or one under a `PyDataset` that maps it, at epoch `epoch`; False for
    anything else."""
    for obj in (data, getattr(data, "base", None)):
        if callable(getattr(obj, "set_epoch", None)):
            obj.set_epoch(epoch)
            return True
    return False


def _replay_data(data, epochs: int) -> None:
    """`replay_shuffles` for the pipeline itself, or for the `tf.data` pipeline under a
    `PyDataset` that reads it once per epoch (`AdversarialBatches.from_dataset`); a
    backend-neutral `Batches` is set to the epoch (`set_data_epoch`)."""
    if set_data_epoch(data, epochs) or replay_shuffles(data, epochs):
        return
    inner = getattr(getattr(data, "base", None), "dataset", None)
    if inner is not None and type(inner).__module__.split(".")[0] == "tensorflow":
        for _ in range(epochs):  # one pass (one iterator) per epoch
            iterator = iter(inner)
            del iterator


class RunBackup(keras.callbacks.Callback):
    """Backs up the training state after every epoch and restores it when a run starts again:
    what `keras.callbacks.BackupAndRestore` does, written as one unit.

    Each backup is one file, `backup_dir/epoch-NNNNN.weights.h5`: the weights and optimizer
    state (`model.save_weights`) with a root attribute holding the epoch, the optimizer's step
    count and the random-number state (`rng_state`). It is written under a temporary name and
    renamed into place (`dlzoo.files.atomic_path`), so a kill -9 at any moment leaves the
    previous backups whole; the newest `keep` are kept. On train begin the newest backup that
    passes `read_backup` is loaded (a torn or inconsistent one is reported and skipped), its
    step count is checked against the loaded optimizer, and fit continues after its epoch.

    A full disk during a backup raises `dlzoo.files.DiskFullError` and leaves the earlier
    backups as they were, so `--resume` works once space is back.

    Args:
        backup_dir: folder for the backups (it holds nothing else).
        keep: how many of the newest backups to keep (2).
        log: where "falling back" notes go.
        replay: the training data: a `tf.data` pipeline, whose shuffle order is moved on to the
            restored epoch (`replay_shuffles`), so a resumed run sees the batches the
            uninterrupted one saw; or a `PyDataset` over one (`AdversarialBatches`), whose
            NumPy generators are saved and restored too.
    """

    def __init__(self, backup_dir, *, keep: int = 2, log=print, replay=None):
        super().__init__()
        self.backup_dir = Path(backup_dir)
        self.keep = max(1, int(keep))
        self.log = log
        self.replay = replay
        self.restored_epoch = 0

    def on_train_begin(self, logs=None):
        self.restored_epoch = 0
        while True:
            epoch, path = find_backup(self.backup_dir, log=self.log)
            if path is None:
                return
            try:
                self._restore(path)
            except ValueError as e:
                self.log(f"note: backup {path.name} could not be restored ({e}); trying the "
                         "one before it")
                path.unlink(missing_ok=True)
                continue
            self.restored_epoch = epoch
            self.model._initial_epoch = epoch  # what BackupAndRestore sets; fit reads it
            _replay_data(self.replay, epoch)
            return

    def _restore(self, path: Path) -> None:
        meta = read_backup(path)
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)  # its variables must exist to load
        self.model.load_weights(path)
        if optimizer is not None and meta.get("iterations") is not None:
            loaded = _step_count(optimizer)
            if loaded != int(meta["iterations"]):
                raise ValueError(f"the optimizer is at step {loaded} after loading, the backup "
                                 f"says {meta['iterations']}")
        if meta.get("rng"):
            set_rng_state(meta["rng"], self.model)
            for gen, state in zip(_data_generators(self.replay), meta["rng"].get("data", [])):
                gen.bit_generator.state = state

    def on_epoch_begin(self, epoch, logs=None):
        # before Keras reads the epoch's first batch: epoch e reads order e, resumed or not
        set_data_epoch(self.replay, epoch)

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        optimizer = self.model.optimizer
        meta = {
            "epoch": done,
            "iterations": None if optimizer is None else _step_count(optimizer),
            "rng": {**rng_state(self.model),
                    "data": [g.bit_generator.state for g in _data_generators(self.replay)]},
        }
        write_weights(self.model, backup_path(self.backup_dir, done),
                      attrs={BACKUP_ATTR: json.dumps(meta)})
        for old in sorted(self.backup_dir.glob(BACKUP_GLOB), reverse=True)[self.keep:]:
            old.unlink(missing_ok=True)


class EMAWeights(keras.callbacks.SwapEMAWeights):
    """Makes an optimizer's weight EMA (`use_ema=True`) the weights that are validated,
    checkpointed, kept by early stopping and saved; does nothing when the optimizer keeps no EMA.

    Keras swaps the averages in only at the end of `fit` (`finalize_variable_values`), after
    the last epoch; `EarlyStopping(restore_best_weights=True)` then puts back the *raw* weights
    of the best epoch, and `ModelCheckpoint` saves raw ones. `SwapEMAWeights(swap_on_epoch=True)`
    loses the raw weights when early stopping ends a run before its last epoch, and hands the
    swapped weights to a backup. So: Keras's swap around validation, plus a swap in at the end of
    each epoch, before early stopping and the checkpoint see the weights, and a swap back
    (`self.swap_back`, a callback to place after them and before the run's backup, which must
    hold the raw weights beside the optimizer's averages).
    """

    def __init__(self):
        super().__init__(swap_on_epoch=False)
        self.swap_back = _EMASwapBack(self)
        self.active = False

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
        self.active = bool(getattr(inner, "use_ema", False))

    def on_epoch_end(self, epoch, logs=None):
        if self.active and not self._ema_weights_in_model:
            self._swap_variables()
            self._ema_weights_in_model = True

    def on_test_begin(self, logs=None):
        if self.active:
            super().on_test_begin(logs)

    def on_test_end(self, logs=None):
        if self.active:
            super().on_test_end(logs)

    def on_predict_begin(self, logs=None):
        if self.active:
            super().on_predict_begin(logs)

    def on_predict_end(self, logs=None):
        if self.active:
            super().on_predict_end(logs)


class _EMASwapBack(keras.callbacks.Callback):
    """The second half of `EMAWeights`: the raw weights back in the model at the end of an
    epoch, after the callbacks that should see the averages."""

    def __init__(self, ema: EMAWeights):
        super().__init__()
        self.ema = ema

    def on_epoch_end(self, epoch, logs=None):
        if self.ema.active and self.ema._ema_weights_in_model:
            self.ema._swap_variables()
            self.ema._ema_weights_in_model = False


class MixingSchedule(keras.callbacks.Callback):
    """Tells a `BatchMixer` (`mixer`, else the model's `dlzoo_batch_mixer`, set by the run that
    mixes its training batches: `dlzoo.augmentation`) the epoch, so mixing stops at
    `mix_off_epoch`. Does nothing without one."""

    def __init__(self, mixer=None):
        super().__init__()
        self.mixer = mixer

    def __deepcopy__(self, memo):  # keras-tuner copies callbacks per trial: the same mixer
        return MixingSchedule(self.mixer)

    def on_epoch_begin(self, epoch, logs=None):
        mixer = self.mixer or getattr(self.model, "dlzoo_batch_mixer", None)
        if mixer is not None:
            mixer.set_epoch(epoch)


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
    log=print,
    tensorboard=None,
) -> list:
    """The callbacks a training run should have, in the order they must run.

    Args:
        run_dir: folder for the run's files: `best.weights.h5` (checkpoint of the best epoch),
            `backup/` (`RunBackup`: weights, optimizer state, epoch and random state after
            every epoch, as one file),
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
        log: where the backup's notes go (a damaged backup skipped on resume).
        tensorboard: a folder for TensorBoard logs (`dlzoo.tensorboard_logs`), or None.

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
    ema = EMAWeights()  # inert unless the optimizer keeps a weight EMA (train.ema)
    callbacks += [MixingSchedule(), ema]  # the first inert without mixup / cutmix
    if early_stopping:
        callbacks.append(_early_stopping(early_stopping, monitor, verbose))
    if kind == "plateau":
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(monitor=monitor, verbose=verbose, **plateau)
        )
    if checkpoint:
        callbacks.append(
            AtomicModelCheckpoint(
                os.path.join(run_dir, "best.weights.h5"),
                monitor=monitor,
                save_best_only=True,
                save_weights_only=True,
                verbose=verbose,
            )
        )
    callbacks.append(ema.swap_back)  # early stopping and the checkpoint saw the averages
    if csv_log:
        # Before the backup: a kill between the two leaves a log row for an epoch the backup
        # does not hold, which `training` trims on resume; the other order would lose the row.
        callbacks.append(keras.callbacks.CSVLogger(os.path.join(run_dir, "history.csv"), append=True))
    if backup:
        callbacks.append(ResumeState(os.path.join(run_dir, "state"), callbacks))
        callbacks.append(RunBackup(os.path.join(run_dir, "backup"), log=log))
    if tensorboard:
        callbacks.append(tensorboard_callback(tensorboard, log=log))
    return callbacks
