"""`search()`: a keras-tuner search over a zoo hypermodel that survives kill -9 and refuses stale
projects (`dlzoo.tuning.runner.tune_recipe` runs it from a recipe).

    >>> from dlzoo.tuning import get_hypermodel, search
    >>> hm = get_hypermodel("cnn", input_shape=(16, 16, 1), num_classes=10)
    >>> result = search(hm, (x, y), (xv, yv), tuner="hyperband", epochs=9, directory="tuning",
    ...                 project_name="digits-cnn")
    >>> result.best_hyperparameters, result.csv_path

What keras-tuner does and we only wire up: the oracles (random, hyperband, bayesian), trial
checkpoints (each trial keeps its best epoch's weights), reloading a project's oracle, and the
chief/worker gRPC mode. What it lacks, and this module adds:

* **Crash safety.** Its JSON state is written in place, so a kill during a write leaves a
  truncated `oracle.json` that cannot be reloaded; and a kill between a trial's `trial.json`
  (COMPLETED) and `oracle.json` makes the reload run that finished trial again. Our oracles write
  every state file atomically (temporary file + rename) and drop finished trials from the retry
  queue on reload. The trial that was running at the kill is run again from its start.
* **Stale projects** (keras-tuner#290: change the model or the data, rerun, and it silently
  reloads the old trials). `dlzoo_search.json` in the project holds a fingerprint of the search
  space, the tuner, the budget per trial and the data; resuming with a different one is an error
  naming what changed, unless `overwrite=True` starts again.
* **Bookkeeping.** Which worker ran each trial (kept in the oracle's state), epochs run and
  seconds per trial, a results table and `trials.csv`; a failed trial's reason (one line, not
  keras-tuner's traceback).
* **An objective checked before anything trains** (`verify_objective`): keras-tuner only finds a
  misspelt one (`val_acc`) after each trial has trained, and then gives up after three.
* **Failures that end a search cleanly.** A trial that fails (NaN loss, out of memory, any
  exception) is recorded as FAILED with its reason and the search goes on; after keras-tuner's
  limit of consecutive failures (`max_consecutive_failed_trials`, 3) the oracle hands out no more
  trials (keras-tuner raises in the middle of saving instead, leaving the last trial unrecorded
  and, with a chief, the workers without an answer) and `search` raises `SearchFailedError`.
* **Continued trials restore their optimizer.** Hyperband continues a trial from an earlier one's
  checkpoint, which holds the optimizer's state; the hypermodel builds the optimizer's variables
  first, so the state is restored (Keras otherwise skips it with a warning).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import difflib
import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path

import keras_tuner as kt
from keras_tuner.src.engine import trial as trial_module

from dlzoo.data.manifest import array_hash
from dlzoo.files import atomic_path, json_default_or_str, write_json, write_text
from dlzoo.interrupts import reraise_if_pressed
from dlzoo.tensorboard_logs import configure_trial
from dlzoo.tuning.distributed import patient_oracle_client
from dlzoo.tuning.hypermodels import TrialSpec, ZooHyperModel

__all__ = [
    "TUNERS",
    "ObjectiveError",
    "SearchFailedError",
    "SearchResult",
    "StaleProjectError",
    "failure_reason",
    "logged_metrics",
    "read_trials",
    "search",
    "search_fingerprint",
    "trials_table",
    "verify_objective",
]

TUNERS = ("random", "hyperband", "bayesian")
SEARCH_FILE = "dlzoo_search.json"
TRIAL_FILE = "dlzoo_trial.json"
COMPLETED = trial_module.TrialStatus.COMPLETED
RUNNING = trial_module.TrialStatus.RUNNING
IDLE = trial_module.TrialStatus.IDLE
FAILED = trial_module.TrialStatus.FAILED
STOPPED = trial_module.TrialStatus.STOPPED


class StaleProjectError(ValueError):
    """A search project was made for another search space or other data."""


class ObjectiveError(ValueError):
    """The objective is not a metric the model logs (checked before the first trial)."""


class SearchFailedError(RuntimeError):
    """keras-tuner's limit of consecutive failed trials stopped the search; `result` holds
    every trial recorded (`SearchResult`), the failed ones with their reasons."""

    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = result


def failure_reason(message) -> str | None:
    """One line out of keras-tuner's record of a failed trial (a traceback): its last line,
    without the exception's module path (`FailedTrialError: ...`, `KeyError: 'val_acc'`)."""
    lines = [line.strip() for line in str(message or "").strip().splitlines() if line.strip()]
    if not lines:
        return None
    last = re.sub(r"^(?:[A-Za-z_][\w]*\.)+(?=\w+(?::|$))", "", lines[-1])
    return last[:300]


def write_record(path, data) -> None:
    """A search's JSON state or record, written whole or not at all (unknown values as text)."""
    write_json(path, data, default=json_default_or_str)


# --- oracles and tuners: keras-tuner's, made crash-safe and recording ---------------------------


class _RecordingOracle:
    """Mixed into keras-tuner's oracles: atomic state files, no rerun of finished trials after a
    crash, and the id of the worker that ran each trial (`trial_workers`, kept in oracle.json)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trial_workers = {}
        # Set when the limit of consecutive failures stopped the search: the failed trials and
        # the last reason (kept in oracle.json, so the process that collects the results knows).
        self.stopped_by_failures = None
        self._stop_handing_out = False  # in this session: every request gets STOPPED
        self._session_start = 0  # trials ended before this index ended in an earlier session
        self._ongoing_at_reload = {}

    @kt.synchronized
    def create_trial(self, tuner_id):
        if self._stop_handing_out and tuner_id not in self.ongoing_trials:
            # as keras-tuner does when the budget is spent: the tuner is told to stop and forgotten
            self.tuner_ids.discard(tuner_id)
            return trial_module.Trial(self.get_space(), status=STOPPED)
        trial = super().create_trial(tuner_id)
        if trial.status == trial_module.TrialStatus.RUNNING:
            self.trial_workers[trial.trial_id] = tuner_id
            self.save()
        return trial

    @kt.synchronized
    def end_trial(self, trial):
        known = self.trials.get(trial.trial_id)
        if known is not None and trial.trial_id in self.end_order and (
                known.status in (COMPLETED, FAILED)):
            # Reported again: a worker whose first report reached a chief that then died before
            # answering. The first report is the record; only the bookkeeping is cleared.
            for tuner_id, ongoing in list(self.ongoing_trials.items()):
                if ongoing.trial_id == trial.trial_id:
                    self.ongoing_trials.pop(tuner_id)
            return
        if trial.trial_id in self._retry_queue:  # a restarted chief queued it; a worker ended it
            self._retry_queue.remove(trial.trial_id)
        super().end_trial(trial)

    def _check_consecutive_failures(self):
        # keras-tuner's own check raises in the middle of end_trial (before the trial and the
        # oracle are saved) and counts the whole history, so a resumed search that once had
        # three failures in a row could never end another trial. Here: the failures in a row at
        # the end of this session's trials; at the limit, no more trials are handed out.
        ended = self.end_order[self._session_start:]
        run = []
        for trial_id in reversed(ended):
            if self.trials[trial_id].status != FAILED:
                break
            run.append(trial_id)
        limit = self.max_consecutive_failed_trials
        if limit and len(run) >= limit:
            self._stop_handing_out = True
            self.stopped_by_failures = {
                "limit": limit, "trials": run[::-1],
                "reason": failure_reason(self.trials[run[0]].message)}
        elif ended:
            self.stopped_by_failures = None

    def get_state(self):
        return {**super().get_state(), "dlzoo_trial_workers": dict(self.trial_workers),
                "dlzoo_stopped_by_failures": self.stopped_by_failures}

    def set_state(self, state):
        super().set_state(state)
        self.trial_workers = dict(state.get("dlzoo_trial_workers", {}))
        self.stopped_by_failures = state.get("dlzoo_stopped_by_failures")
        self._ongoing_at_reload = dict(state.get("ongoing_trials", {}))

    _reload_from = None  # while reloading from the previous copy of oracle.json

    def _get_oracle_fname(self):
        return self._reload_from or super()._get_oracle_fname()

    def save(self):
        # The state it replaces is kept as oracle.json.prev (both written whole), so a reload
        # that cannot use oracle.json has the state one save before.
        fname = self._get_oracle_fname()
        with contextlib.suppress(OSError):
            write_text(fname + ".prev", Path(fname).read_text())
        write_record(fname, self.get_state())

    def _save_trial(self, trial):
        write_record(os.path.join(self._get_trial_dir(trial.trial_id), "trial.json"),
                     trial.get_state())

    def reload(self):
        try:
            super().reload()
        except (RuntimeError, ValueError, KeyError, TypeError, OSError) as e:
            # oracle.json is written whole, but keras-tuner's other files and older dlzoo
            # versions were not; an oracle state it cannot read falls back one save.
            fname = self._get_oracle_fname()
            prev = fname + ".prev"
            reason = str(e.__cause__ or e).splitlines()[0][:200]
            if not os.path.exists(prev):
                raise RuntimeError(
                    f"{fname} is unreadable ({reason}) and there is no earlier copy; start the "
                    "search again with --overwrite") from e
            print(f"note: {fname} is unreadable ({reason}); continuing from its previous copy "
                  f"({prev}) and the trials' own files")
            self.trials = {}
            self._reload_from = prev
            try:
                super().reload()
            finally:
                self._reload_from = None
        self._repair_after_reload()

    def _repair_after_reload(self):
        """Makes the oracle's bookkeeping agree with the trials' own files (trial.json), which
        are written after each trial and are the record of what finished.

        A kill between a trial's trial.json (COMPLETED) and oracle.json leaves the finished
        trial among the "ongoing" ones, which keras-tuner's reload sends for a rerun; a state
        one save old (oracle.json.prev) may also not know a trial at all."""
        for trial_id in list(self._retry_queue):
            if self.trials[trial_id].status == COMPLETED:
                self._retry_queue.remove(trial_id)
        for trial_id, trial in self.trials.items():
            if trial.status == COMPLETED:
                if trial_id not in self.end_order:
                    self.end_order.append(trial_id)
                self._run_times[trial_id] = max(self._run_times[trial_id], 1)
            elif trial.status in (RUNNING, IDLE) and trial_id not in self.end_order and (
                    trial_id not in self._retry_queue):
                self._retry_queue.append(trial_id)  # was running at the kill: run it again
            if trial_id not in self.start_order:
                self.start_order.append(trial_id)
        from keras_tuner.src.distribute import utils as dist_utils

        if dist_utils.is_chief_oracle():
            # A chief started again: its workers may still be running the trials it had handed
            # out and will report them (their gRPC calls wait for it). keras-tuner would queue
            # those trials for a retry, so another worker ran them a second time; they stay with
            # the worker that has them (a worker that died gets its trial back when started
            # again under its id, as with one chief).
            for tuner_id, trial_id in self._ongoing_at_reload.items():
                trial = self.trials.get(trial_id)
                if trial is None or trial.status in (COMPLETED, FAILED):
                    continue
                if trial_id in self._retry_queue:
                    self._retry_queue.remove(trial_id)
                trial.status = RUNNING
                self.ongoing_trials[tuner_id] = trial
                self.tuner_ids.add(tuner_id)
        self._ongoing_at_reload = {}
        self._session_start = len(self.end_order)


def _oracle_class(base):
    return type(f"Zoo{base.__name__}", (_RecordingOracle, base), {})


ORACLES = {
    "random": _oracle_class(kt.oracles.RandomSearchOracle),
    "hyperband": _oracle_class(kt.oracles.HyperbandOracle),
    "bayesian": _oracle_class(kt.oracles.BayesianOptimizationOracle),
}


class _ZooTuner:
    """Mixed into keras-tuner's tuners: per-trial records (worker, epochs, seconds, history),
    atomic tuner files, and an optional target that ends the search once reached."""

    def __init__(self, oracle, hypermodel, *, target=None, **kwargs):
        # keras-tuner's tuner classes only build their own oracle in __init__; ours is given.
        kt.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)
        self.target = target
        self._records = {}

    def save(self):
        if not self._is_worker():
            self.oracle.save()
        write_record(self._get_tuner_fname(), self.get_state())

    def run_trial(self, trial, *args, **kwargs):
        self._records[trial.trial_id] = {"start": time.time(), "history": []}
        try:
            whole = getattr(self.hypermodel, "run_trial", None)
            if whole is not None:  # a trial that is a whole run (a fine-tune's phases)
                return whole(trial, self.get_trial_dir(trial.trial_id),
                             self._records[trial.trial_id])
            return super().run_trial(trial, *args, **kwargs)
        except Exception as e:  # keras-tuner would record it FAILED and go on
            reraise_if_pressed(e)  # a Ctrl-C: the trial stays unfinished, to be run on resume
            raise

    def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
        # keras-tuner gives each trial its TensorBoard folder and HParams on the TensorFlow
        # backend only; dlzoo.tensorboard_logs does it on every backend
        configure_trial(callbacks, trial, execution, self._get_tensorboard_dir)

    def on_epoch_end(self, trial, model, epoch, logs=None):
        record = self._records.get(trial.trial_id)
        if record is not None:
            record["history"].append(
                {"epoch": int(epoch) + 1, **{k: float(v) for k, v in (logs or {}).items()}})
        super().on_epoch_end(trial, model, epoch, logs=logs)

    def on_trial_end(self, trial):
        record = self._records.pop(trial.trial_id, None)
        if record is not None:
            write_record(os.path.join(self.get_trial_dir(trial.trial_id), TRIAL_FILE), {
                "trial_id": trial.trial_id,
                "worker": self.tuner_id,
                "status": trial.status,
                "reason": None if trial.status == COMPLETED else failure_reason(trial.message),
                "epochs_run": len(record["history"]),
                "seconds": round(time.time() - record["start"], 3),
                "history": record["history"],
                **({"phases": record["phases"]} if "phases" in record else {}),
            })
        super().on_trial_end(trial)
        if self.target is not None and isinstance(self.oracle, kt.Oracle):
            ended = self.oracle.get_trial(trial.trial_id)
            direction = self.oracle.objective.direction
            if ended.status == COMPLETED and ended.score is not None and (
                ended.score >= self.target if direction == "max" else ended.score <= self.target
            ):
                self.oracle.max_trials = len(self.oracle.trials)  # the next request stops


def _tuner_class(base):
    return type(f"Zoo{base.__name__}", (_ZooTuner, base), {})


TUNER_CLASSES = {
    "random": _tuner_class(kt.RandomSearch),
    "hyperband": _tuner_class(kt.Hyperband),
    "bayesian": _tuner_class(kt.BayesianOptimization),
}


# --- fingerprints ---------------------------------------------------------------------------------


def fingerprint_data(train, val=None) -> str:
    """A hash of the training data: the bytes of numpy arrays; for other inputs (tf.data,
    PyDataset) only their structure and length, so pass `data_fingerprint=` (a manifest hash)
    to `search` for a strict check."""
    import numpy as np

    def leaves(data):
        if isinstance(data, (tuple, list)):
            return [a for d in data for a in leaves(d)]
        if isinstance(data, dict):
            return [a for k in sorted(data) for a in leaves(data[k])]
        return [data]

    items = leaves(train) + leaves(val)
    if all(isinstance(a, np.ndarray) or a is None for a in items):
        return array_hash(*[a for a in items if a is not None])
    described = []
    for a in items:
        spec = getattr(a, "element_spec", None)
        length = None
        try:
            length = int(a.cardinality()) if hasattr(a, "cardinality") else len(a)
        except TypeError:
            pass
        described.append(f"{type(a).__name__}:{spec}:{length}")
    return hashlib.sha256("\n".join(described).encode()).hexdigest()


def search_fingerprint(hypermodel: ZooHyperModel, *, tuner: str, objective: str, epochs: int,
                       executions_per_trial: int, data: str, hyperband: dict | None = None) -> dict:
    """What makes two searches comparable: space, tuner, objective, budget per trial and data
    (not `max_trials`, which a resumed search may raise)."""
    components = {
        "search_space": hypermodel.describe(),
        "input_shape": list(hypermodel.input_shape),
        "num_classes": hypermodel.num_classes,
        "tuner": tuner,
        "objective": objective,
        "epochs": epochs,
        "executions_per_trial": executions_per_trial,
        "hyperband": hyperband if tuner == "hyperband" else None,
        "data": data,
    }
    text = json.dumps(components, sort_keys=True, default=json_default_or_str)
    return {"sha256": hashlib.sha256(text.encode()).hexdigest(), "components":
            json.loads(text)}


def _changed(old, new, prefix="") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            out += _changed(old.get(k), new.get(k), f"{prefix}{k}.")
        return out
    return [prefix.rstrip(".")] if old != new else []


def guard_project(project_dir: Path, fingerprint: dict, *, resume: bool, overwrite: bool,
                  log=print) -> None:
    """Starts, continues or refuses a project folder (see the module docstring)."""
    record = project_dir / SEARCH_FILE
    has_state = (project_dir / "oracle.json").exists() or record.exists()
    if overwrite and project_dir.exists():
        log(f"note: --overwrite: removing the search in {project_dir}")
        shutil.rmtree(project_dir)
        has_state = False
    if has_state and not resume:
        done = sum(1 for t in read_trials(project_dir) if t["status"] == COMPLETED)
        raise FileExistsError(
            f"{project_dir} already holds a search ({done} completed trial(s)); pass --resume "
            "(resume=True) to continue it or --overwrite (overwrite=True) to start again."
        )
    if has_state:
        if not record.exists():
            raise StaleProjectError(
                f"{project_dir} holds a keras-tuner project without a dlzoo fingerprint "
                f"({SEARCH_FILE}), so it cannot be checked against this search space and data; "
                "start again with --overwrite or choose another project."
            )
        previous = json.loads(record.read_text())
        if previous.get("sha256") != fingerprint["sha256"]:
            changed = _changed(previous.get("components", {}), fingerprint["components"])
            raise StaleProjectError(
                f"{project_dir} was made for another search: {', '.join(changed) or 'fingerprint'}"
                " changed since it started (keras-tuner would silently reuse its trials). Resume "
                "with the same search space and data, or pass --overwrite (overwrite=True) to "
                "discard it and start again."
            )
        return
    project_dir.mkdir(parents=True, exist_ok=True)
    write_record(record, fingerprint)


# --- results --------------------------------------------------------------------------------------


def read_trials(project_dir) -> list[dict]:
    """Every trial of a project, in trial order: id, status, score, hyperparameters, worker,
    epochs run and seconds (from the oracle's files and our per-trial records)."""
    project_dir = Path(project_dir)
    workers = {}
    oracle_file = project_dir / "oracle.json"
    if oracle_file.exists():
        workers = json.loads(oracle_file.read_text()).get("dlzoo_trial_workers", {})
    rows = []
    for path in sorted(project_dir.glob("trial_*/trial.json")):
        state = json.loads(path.read_text())
        record_path = path.parent / TRIAL_FILE
        record = json.loads(record_path.read_text()) if record_path.exists() else {}
        metrics = state.get("metrics", {}).get("metrics", {})
        best = {}
        for name, data in metrics.items():
            values = [o["value"][0] for o in data.get("observations", []) if o.get("value")]
            if values:
                best[name] = max(values) if data.get("direction") == "max" else min(values)
        failed = state["status"] not in (COMPLETED, RUNNING, IDLE)
        rows.append({
            "trial_id": state["trial_id"],
            "status": state["status"],
            "reason": (record.get("reason") or failure_reason(state.get("message"))) if failed
            else None,
            "score": state.get("score"),
            "best_step": state.get("best_step"),
            "hyperparameters": state["hyperparameters"]["values"],
            "metrics": best,
            "worker": workers.get(state["trial_id"], record.get("worker")),
            "epochs_run": record.get("epochs_run"),
            "seconds": record.get("seconds"),
            "history": record.get("history", []),
            **({"phases": record["phases"]} if "phases" in record else {}),
        })
    return rows


def trials_table(rows: list[dict]) -> tuple[list[str], list[list]]:
    """Columns and rows of the results table (and of trials.csv)."""
    hp_names = []
    for r in rows:
        hp_names += [k for k in r["hyperparameters"] if k not in hp_names]
    columns = ["trial", "status", "score", "epochs_run", "seconds", "worker"] + hp_names
    out = []
    for r in rows:
        out.append([r["trial_id"], r["status"], r["score"], r["epochs_run"], r["seconds"],
                    r["worker"]] + [r["hyperparameters"].get(k, "") for k in hp_names])
    return columns, out


def write_csv(rows: list[dict], path) -> Path:
    """`trials.csv`: the results table and, last, why each failed trial failed."""
    columns, table = trials_table(rows)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*columns, "reason"])
        writer.writerows([*line, row.get("reason") or ""] for line, row in zip(table, rows))
    return path


def failed_trials(rows: list[dict]) -> list[dict]:
    """The trials of `rows` (`read_trials`) that failed, each with its `reason`."""
    return [r for r in rows if r["status"] not in (COMPLETED, RUNNING, IDLE)]


@dataclasses.dataclass
class SearchResult:
    """What a search found; `tuner` is the keras-tuner object (`tuner.get_best_models()` loads
    the best trial's checkpoint)."""

    project_dir: Path
    tuner: object
    trials: list
    best_hyperparameters: dict | None
    best_spec: TrialSpec | None
    best_score: float | None
    csv_path: Path
    fingerprint: dict
    seconds: float
    best_trial_id: str | None = None  # the trial `best_*` come from (highlighted in tables)

    @property
    def completed(self) -> int:
        return sum(1 for t in self.trials if t["status"] == COMPLETED)

    @property
    def failed(self) -> list[dict]:
        """The trials that failed, each with its `reason` (one line)."""
        return failed_trials(self.trials)


# --- search -----------------------------------------------------------------------------------------


def resolve_objective(objective, hypermodel, has_val: bool):
    if objective is None:
        objective = hypermodel.info.task.default_objective
        objective = f"val_{objective}" if has_val else objective
    if not isinstance(objective, str):
        raise TypeError(f"objective must be a logged metric name such as val_accuracy; "
                        f"received {objective!r}.")
    direction = "max" if any(k in objective for k in ("acc", "auc", "precision", "recall",
                                                      "f1")) else "min"
    return kt.Objective(objective, direction)


def _first_examples(data, n: int = 2):
    """`n` examples of `data` (`(x, y)` arrays, a `tf.data.Dataset` or a `PyDataset` of
    batches) as NumPy `(x, y)`."""
    import keras
    import numpy as np

    if isinstance(data, tuple):
        x, y = data[0], data[1]
    else:
        batch = next(iter(data.take(1))) if hasattr(data, "element_spec") else data[0]
        x, y = batch[0], batch[1]
    return keras.tree.map_structure(lambda a: np.asarray(a)[:n], (x, y))


def logged_metrics(hypermodel: ZooHyperModel, train_data, val_data=None) -> list[str] | None:
    """The names `fit` logs for the trials of `hypermodel` (`loss`, `accuracy`, ... and their
    `val_` twins when there is validation data), read off its default configuration, built and
    compiled as every trial is, after one forward pass on two examples of `train_data` (so every
    compiled metric, whatever adds it, has its name). None when that cannot be done (a model with
    its own `train_step`): keras-tuner's check after each trial is then all there is."""
    try:
        model = hypermodel.build(kt.HyperParameters())
        x, y = _first_examples(train_data)
        y_pred = model(x, training=False)
        with contextlib.suppress(Exception):  # builds per-output losses' trackers, if any
            model.compute_loss(x=x, y=y, y_pred=y_pred)
        names = list(model.compute_metrics(x, y, y_pred, sample_weight=None))
    except Exception:  # noqa: BLE001 - a check that cannot be made is left to keras-tuner
        return None
    if "loss" not in names:
        names.insert(0, "loss")
    return names + ([f"val_{n}" for n in names] if val_data is not None else [])


def verify_objective(objective, hypermodel: ZooHyperModel, train_data, val_data=None, *,
                     where: str = "objective") -> None:
    """Raises `ObjectiveError`, naming the closest logged names, when `objective` (a name or a
    `keras_tuner.Objective`) is not among the metrics the trials will log (`logged_metrics`).
    `where` names the setting in the message (`tune.objective` for a recipe)."""
    name = getattr(objective, "name", objective)
    names = logged_metrics(hypermodel, train_data, val_data)
    if names is None or name in names:
        return
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    if not close and val_data is not None and f"val_{name}" in names:
        close = [f"val_{name}"]
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    no_val = (" (there is no validation data, so no val_ metric is logged)"
              if val_data is None and name.startswith("val_") else "")
    raise ObjectiveError(
        f"{where} {name!r} is not a metric this search logs{no_val}; {hint}The trials log: "
        f"{', '.join(names)}."
    )


def _check_budget(tuner, max_trials, epochs, executions_per_trial):
    if tuner not in TUNERS:
        raise ValueError(f"tuner must be one of {', '.join(TUNERS)}; received {tuner!r}.")
    for name, value in (("max_trials", max_trials), ("epochs", epochs),
                        ("executions_per_trial", executions_per_trial)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer; received {value!r}.")


def search(
    hypermodel: ZooHyperModel,
    train_data,
    val_data=None,
    *,
    tuner: str = "random",
    objective: str | None = None,
    max_trials: int = 10,
    epochs: int = 10,
    executions_per_trial: int = 1,
    early_stopping: int | None = 3,
    hyperband_factor: int = 3,
    hyperband_iterations: int = 1,
    directory="tuning",
    project_name: str = "search",
    seed: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    data_fingerprint: str | None = None,
    distribution_strategy=None,
    target: float | None = None,
    guard: bool = True,
    callbacks=(),
    verbose: int = 1,
    log=print,
    check_objective: bool = True,
    run_trials: bool = True,
    oracle_timeout: float | None = None,
) -> SearchResult:
    """Searches `hypermodel`'s space with a keras-tuner oracle; resumable after kill -9.

    Args:
        hypermodel: a `ZooHyperModel` (`dlzoo.tuning.get_hypermodel(...)`).
        train_data: an `(x, y)` tuple of arrays, a `tf.data.Dataset` or a
            `keras.utils.PyDataset` of batches.
        val_data: validation data in the same form (the objective is measured on it).
        tuner: "random", "hyperband" or "bayesian".
        objective: metric to optimise (default `val_accuracy` for classifiers, `val_loss`
            otherwise); its direction follows its name.
        max_trials: trials to run (random, bayesian); hyperband's count follows from `epochs`,
            `hyperband_factor` and `hyperband_iterations`.
        epochs: epochs per trial (hyperband: the most any trial gets).
        executions_per_trial: models trained per trial (the score is their mean).
        early_stopping: patience in epochs on the objective inside each trial; None for none.
        hyperband_factor, hyperband_iterations: hyperband's reduction factor and brackets.
        directory, project_name: the project is `directory/project_name`.
        seed: the oracle's seed.
        resume: continue the project's search (its completed trials are kept; the trial
            running at a crash runs again).
        overwrite: discard an existing project and start again.
        data_fingerprint: a hash of the data (a manifest hash) for the stale-project check;
            default: computed from arrays, or from the structure of other inputs.
        distribution_strategy: a `tf.distribute.Strategy` each trial trains under.
        target: end the search once a trial's objective reaches this value.
        guard: check and record the fingerprint (off in processes that a launcher that has
            already done it starts, such as `dlzoo tune --workers` chief and workers).
        callbacks: more Keras callbacks for every trial (they must be deep-copyable).
        verbose: keras-tuner / fit verbosity.
        log: where dlzoo's own progress lines go.
        check_objective: check `objective` against the metrics the model logs before the first
            trial (`verify_objective`); off where the caller has already checked it.
        run_trials: False only collects an existing project's results (no trial runs).
        oracle_timeout: in a keras-tuner worker (`KERASTUNER_TUNER_ID` and the chief's address
            set): how long, in seconds, each request waits for the chief, which may be starting
            or restarting (default: `DLZOO_ORACLE_TIMEOUT`, else keras-tuner's 3600).

    Returns:
        A `SearchResult`; `trials.csv` in the project holds every trial (a failed one with its
        reason). A trial that fails (NaN loss, out of memory, an exception) is recorded as
        FAILED and the search goes on.

    Raises:
        ObjectiveError: `objective` is not a metric the trials log (before anything trains).
        SearchFailedError: keras-tuner's limit of consecutive failed trials (3) stopped the
            search; its `result` holds the trials.
        StaleProjectError, FileExistsError: see `resume` and `overwrite`.
        dlzoo.tuning.distributed.ChiefUnreachableError: a worker's chief did not answer within
            `oracle_timeout`.
    """
    import keras

    _check_budget(tuner, max_trials, epochs, executions_per_trial)
    start = time.perf_counter()
    objective = resolve_objective(objective, hypermodel, val_data is not None)
    if check_objective:
        verify_objective(objective, hypermodel, train_data, val_data)
    project_dir = Path(directory) / project_name
    fingerprint = search_fingerprint(
        hypermodel, tuner=tuner, objective=objective.name, epochs=epochs,
        executions_per_trial=executions_per_trial,
        data=data_fingerprint or fingerprint_data(train_data, val_data),
        hyperband={"factor": hyperband_factor, "iterations": hyperband_iterations},
    )
    if guard:
        guard_project(project_dir, fingerprint, resume=resume, overwrite=overwrite, log=log)
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "tuner0")
    if (project_dir / "oracle.json").exists() and not (project_dir / f"{tuner_id}.json").exists():
        # keras-tuner reloads a project only when this tuner id saved it; a search resumed under
        # another id (a chief after a single-process run) must still see the trials.
        write_record(project_dir / f"{tuner_id}.json", {})

    tuner_obj = _make_tuner(
        tuner, hypermodel, objective, max_trials=max_trials, epochs=epochs, seed=seed,
        hyperband_factor=hyperband_factor, hyperband_iterations=hyperband_iterations,
        target=target, directory=directory, project_name=project_name,
        executions_per_trial=executions_per_trial, distribution_strategy=distribution_strategy)
    patient_oracle_client(tuner_obj, oracle_timeout, log=log)  # a worker: waits for its chief
    # A NaN loss fails the trial with that reason (Keras's TerminateOnNaN only stops the fit,
    # and the trial would then be scored on its diverged weights).
    fit_callbacks = [*callbacks, keras.callbacks.TerminateOnNaN(raise_error=True)]
    if early_stopping is not None:
        fit_callbacks.append(keras.callbacks.EarlyStopping(
            monitor=objective.name, mode=objective.direction, patience=early_stopping))
    # (x, y) arrays are fit's first two arguments; a dataset or PyDataset is its only one
    arrays = isinstance(train_data, tuple)
    fit_args = tuple(train_data) if arrays else (train_data,)
    if run_trials:
        tuner_obj.search(*fit_args, validation_data=val_data, epochs=epochs,
                         callbacks=fit_callbacks, verbose=verbose,
                         **({} if arrays else {"shuffle": False}))  # pipelines shuffle themselves

    rows = read_trials(project_dir)
    csv_path = write_csv(rows, project_dir / "trials.csv")
    result = SearchResult(project_dir=project_dir, tuner=tuner_obj, trials=rows,
                          csv_path=csv_path, fingerprint=fingerprint,
                          seconds=time.perf_counter() - start,
                          **best_trial(rows, objective.direction, hypermodel))
    stopped = getattr(tuner_obj.oracle, "stopped_by_failures", None)  # None on a worker
    if stopped:
        raise SearchFailedError(
            f"the search stopped: trials {', '.join(stopped['trials'])} failed one after the "
            f"other, keras-tuner's limit of {stopped['limit']} (max_consecutive_failed_trials); "
            f"the last: {stopped['reason']}. {result.completed} trial(s) completed; every trial "
            f"and why it failed: {csv_path}. Fix the cause, then continue with --resume "
            "(resume=True): completed trials are kept.", result)
    return result


def oracle_seed(seed: int) -> int:
    """The seed dlzoo gives keras-tuner's oracle for a search's `seed` (0 to 2**32 - 1): never 0,
    which keras-tuner's `Oracle` takes for "no seed" and replaces by a random one (`seed or
    random.randint(1, 10000)`), so a search with the default seed 0 drew other trials on every
    run."""
    return int(seed) % (2**32 - 1) + 1


def _make_tuner(tuner, hypermodel, objective, *, max_trials, epochs, seed, hyperband_factor,
                hyperband_iterations, target, directory, project_name, executions_per_trial,
                distribution_strategy):
    """The keras-tuner oracle and tuner for `search` (an existing project is reloaded)."""
    oracle_args = {"objective": objective, "seed": oracle_seed(seed)}
    if tuner == "hyperband":
        oracle = ORACLES[tuner](max_epochs=epochs, factor=hyperband_factor,
                                hyperband_iterations=hyperband_iterations, **oracle_args)
    else:
        oracle = ORACLES[tuner](max_trials=max_trials, **oracle_args)
    tuner_obj = TUNER_CLASSES[tuner](
        oracle, hypermodel, target=target, directory=str(directory), project_name=project_name,
        overwrite=False, executions_per_trial=executions_per_trial,
        distribution_strategy=distribution_strategy,
    )
    if tuner != "hyperband":
        tuner_obj.oracle.max_trials = max_trials  # a resumed search may raise the budget
    return tuner_obj


def best_trial(rows: list[dict], direction: str, hypermodel: ZooHyperModel) -> dict:
    """The best completed trial of `rows` (`read_trials`) for an objective to `direction`
    ("max" or "min"): `SearchResult`'s `best_trial_id`, `best_score`, `best_hyperparameters`
    (without keras-tuner's own `tuner/` entries) and `best_spec`; all None when no trial
    completed. The one place the winner is chosen (the CLI prints it)."""
    done = [r for r in rows if r["status"] == COMPLETED and r["score"] is not None]
    if not done:
        return {"best_trial_id": None, "best_score": None, "best_hyperparameters": None,
                "best_spec": None}
    pick = max if direction == "max" else min
    best = pick(done, key=lambda r: r["score"])
    hp = hypermodel_hp(hypermodel, best["hyperparameters"])
    return {"best_trial_id": best["trial_id"], "best_score": best["score"],
            "best_hyperparameters": {k: v for k, v in best["hyperparameters"].items()
                                     if not k.startswith("tuner/")},
            "best_spec": hypermodel.spec(hp)}


def hypermodel_hp(hypermodel: ZooHyperModel, values: dict):
    """A `HyperParameters` holding `values` for `hypermodel`'s space."""
    hp = kt.HyperParameters()
    hypermodel.values(hp)
    hp.values.update({k: v for k, v in values.items() if k in hp.values})
    return hp
