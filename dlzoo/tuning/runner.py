"""`tune_recipe()`: a recipe's `tune:` section searched (in this process, or by a chief and N
workers) and the best configuration retrained with the recipe's `train:` settings and saved.

    >>> from dlzoo.recipes import load_recipe
    >>> from dlzoo.tuning import tune_recipe
    >>> result, run = tune_recipe(load_recipe("cnn-digits-tune"))
    >>> run.saved_dir, run.card["search"]["best_hyperparameters"]
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

from dlzoo.callbacks import MixingSchedule
from dlzoo.files import RunLock, json_default_or_str
from dlzoo.recipes import no_tune_section
from dlzoo.saving import CARD_FILE, is_saved_model, read_card
from dlzoo.spec import RunSpec, as_spec
from dlzoo.tensorboard_logs import tensorboard_callback
from dlzoo.training import RunResult, prepare_run, run_recipe
from dlzoo.transfer.finetune import recipe_config, recipe_data
from dlzoo.tuning.distributed import launch, oracle_timeout as check_timeout, role_environment
from dlzoo.tuning.hypermodels import TrialSpec, ZooHyperModel, get_hypermodel
from dlzoo.tuning.phases import PhasedHyperModel
from dlzoo.tuning.search import (
    guard_project,
    resolve_objective,
    search,
    search_fingerprint,
    verify_objective,
    write_record,
)

__all__ = ["project_dir_for", "recipe_hypermodel", "trial_recipe", "tune_recipe"]


def project_dir_for(output, name: str) -> Path:
    """Where a recipe's search lives: `OUTPUT/.tuning/NAME` (kept after the search: it is the
    record of every trial, and what `--resume` continues)."""
    return Path(output) / ".tuning" / name


def recipe_hypermodel(recipe: dict | RunSpec, bundle, info) -> ZooHyperModel:
    """The hypermodel of a recipe's `tune:` section, sized for the loaded data (`bundle`)."""

    spec = as_spec(recipe)
    tune = spec.tune
    fixed = {k: v for k, v in (spec.model.args or {}).items()
             if k not in ("input_shape", "num_classes")}
    if info.input_kind == "tokens" and "vocab_size" not in fixed:
        vocab = getattr(bundle, "details", {}).get("vocab_size")
        if vocab:
            fixed["vocab_size"] = vocab
    return get_hypermodel(
        tune["hypermodel"], input_shape=bundle.input_shape, num_classes=bundle.num_classes,
        space=tune["space"], model=spec.model.name, model_args=fixed,
        preprocessing=getattr(bundle, "value_range", "0-255") == "0-255",
        augment=spec.augment, precision=spec.precision,
        loss=spec.loss, metrics=None if spec.metrics is None else list(spec.metrics),  # logged
        switches=spec.switches.as_dict(),
    )


def _trial_callbacks(spec: dict | RunSpec, log, mixer=None) -> list:
    """Every trial's extra callbacks: `mix_off_epoch` for mixed batches (`mixer`, a
    `dlzoo.augmentation.BatchMixer`), and `callbacks.tensorboard`'s callback (keras-tuner copies
    it per trial; `dlzoo.tensorboard_logs.configure_trial` gives each its folder and HParams)."""

    out = [MixingSchedule(mixer)] if mixer is not None else []
    folder = as_spec(spec).callbacks.tensorboard
    if folder:
        out.append(tensorboard_callback(folder, log=log))
    return out


def trial_recipe(recipe: dict, spec: TrialSpec) -> dict:
    """The recipe that retrains one trial's configuration with `dlzoo train`."""
    out = json.loads(json.dumps(recipe, default=json_default_or_str))
    out["model"] = spec.model
    out["model_args"] = {**{k: v for k, v in out["model_args"].items()},
                         **json.loads(json.dumps(spec.model_args, default=json_default_or_str))}
    out["train"]["optimizer"] = spec.optimizer
    out["train"]["learning_rate"] = spec.learning_rate
    out.pop("tune", None)
    return out


def search_record(result, tune: dict, hypermodel, project: Path, *, final: str,
                  **extra) -> dict:
    """The `search` section of the saved model's card: how the model was chosen (`final`), the
    tuner, objective, best score and hyperparameters, the space, the trials and the project."""
    return {"final": final, **extra, "tuner": tune["tuner"],
            "objective": result.tuner.oracle.objective.name, "best_score": result.best_score,
            "best_hyperparameters": result.best_hyperparameters,
            "search_space": hypermodel.describe(), "trials": result.completed,
            "project": project.as_posix(), "fingerprint": result.fingerprint["sha256"]}


def tune_recipe(recipe: dict, *, output="saved_models", resume: bool = False,
                overwrite: bool = False, workers: int = 0, role: str | None = None,
                verbose: int = 1, log=print, oracle_timeout: float | None = None):
    """Runs a recipe's `tune:` search and retrains the best configuration into `OUTPUT/NAME`.

    With `workers=N` the trials run in N worker processes under a keras-tuner chief on this
    host (`dlzoo.tuning.distributed.launch`); this process checks the project first and
    retrains the winner at the end. `role` is "chief" or "worker" inside such a launch, or on other
    hosts (search only, no retraining; a chief checks and records the fingerprint, a worker
    leaves that to it). The keras-tuner variables are checked first
    (`dlzoo.tuning.distributed.role_environment`): without a role they are ignored, so the
    collect step after a search on several hosts runs in the shell the workers ran in.
    `oracle_timeout`: seconds a worker waits for its chief (`DLZOO_ORACLE_TIMEOUT`, 3600).
    A recipe with `phases` (a fine-tune) is searched over its own knobs, each trial running the
    phases through `fine_tune` (`dlzoo.tuning.phases`), in this process only; the best trial's
    model is saved as it is, not retrained.

    Returns:
        `(SearchResult, RunResult or None)`; `SearchResult.best_trial_id` names the winner.

    Raises:
        ValueError: the recipe has no `tune:` section; the role's variables are missing or
            wrong; `ObjectiveError` (a ValueError): `tune.objective` is not logged.
        SearchFailedError: too many trials failed in a row (`dlzoo.tuning.search.search`).
    """

    spec = as_spec(recipe)
    if spec.tune is None:
        raise ValueError(no_tune_section(spec.name))
    timeout = check_timeout(oracle_timeout)
    role_environment(role, log=log)
    args = {"output": output, "resume": resume, "overwrite": overwrite, "workers": workers,
            "role": role, "verbose": verbose, "log": log, "oracle_timeout": timeout}
    if role is not None:  # a chief or worker of a launch: the launcher holds the project
        return _tune_recipe(spec, **args)
    project = project_dir_for(output, spec.name)
    # one search per project at a time; a lock left by a killed search is taken over
    with RunLock(project.parent / f"{project.name}.lock", f"search of {spec.name}", log=log):
        return _tune_recipe(spec, **args)


def _tune_recipe(spec: RunSpec, *, output, resume: bool, overwrite: bool, workers: int,
                 role: str | None, verbose: int, log, oracle_timeout: float):
    if spec.is_finetune:
        return _tune_phases(spec, output=output, resume=resume, overwrite=overwrite,
                            workers=workers, role=role, verbose=verbose, log=log)
    tune = spec.tune
    run = prepare_run(spec, build=False, log=log)  # the hypermodel builds each trial's model
    info, bundle, train_data, val_data = run.info, run.bundle, run.train, run.val
    hypermodel = recipe_hypermodel(spec, bundle, info)
    project = project_dir_for(output, spec.name)
    # before anything trains: keras-tuner finds a misspelt objective only after each trial
    verify_objective(resolve_objective(tune["objective"], hypermodel, val_data is not None),
                     hypermodel, train_data, val_data, where="tune.objective")
    log(f"search: {tune['tuner']} over the {hypermodel.name} hypermodel ({info.name}), "
        f"{tune['max_trials'] if tune['tuner'] != 'hyperband' else 'hyperband'} trials x "
        f"{tune['epochs']} epochs, project {project}")
    budget = {
        "tuner": tune["tuner"], "objective": tune["objective"], "max_trials": tune["max_trials"],
        "epochs": tune["epochs"], "executions_per_trial": tune["executions_per_trial"],
        "hyperband_factor": tune["hyperband"]["factor"],
        "hyperband_iterations": tune["hyperband"]["iterations"],
    }
    launched, deaths = 0.0, []
    if workers:
        start = time.perf_counter()
        deaths = _launch_workers(spec, hypermodel, run, project, output=output, workers=workers,
                                 resume=resume, overwrite=overwrite, verbose=verbose, log=log,
                                 oracle_timeout=oracle_timeout)
        launched = time.perf_counter() - start
        resume, guard = True, False  # below: collect the finished project's results
    elif role == "chief":
        # A chief continues the project it finds (the launcher, or a person starting processes
        # by hand on several hosts, decides about starting again); it still refuses a stale one.
        resume, overwrite, guard = True, False, True
    else:
        guard = role is None
    result = search(
        hypermodel, train_data, val_data, **budget,
        early_stopping=tune["early_stopping"], directory=project.parent,
        project_name=project.name, seed=tune["seed"], resume=resume, overwrite=overwrite,
        data_fingerprint=bundle.manifest_hash, distribution_strategy=run.strategy,
        target=tune["target"], guard=guard, verbose=verbose, log=log,
        check_objective=False, run_trials=not workers,  # with workers, they ran every trial
        oracle_timeout=oracle_timeout,
        callbacks=_trial_callbacks(spec, log, getattr(run, "mixer", None)),
    )
    if launched:  # the trials ran in the workers; `search` above only collected them
        result = dataclasses.replace(result, seconds=result.seconds + launched)
    if role is not None or not tune["retrain"] or result.best_spec is None:
        return result, None
    retrain = trial_recipe(spec.recipe, result.best_spec)
    if spec.callbacks.tensorboard:  # beside the trials' folders
        retrain["callbacks"]["tensorboard"] = os.path.join(spec.callbacks.tensorboard, "retrain")
    log(f"retraining the best configuration (trial score {result.best_score:.4f}): "
        f"{result.best_spec.model} {result.best_spec.model_args}")
    card_search = {
        # the best configuration trained again from scratch
        "search": search_record(result, tune, hypermodel, project, final="retrained"),
    }
    if workers:  # each death of a worker process, restarted under its tuner id (launch)
        card_search["search"]["workers"] = workers
        card_search["search"]["worker_deaths"] = [{"worker": name, "exit_status": code}
                                                  for name, code in deaths]
    run = run_recipe(retrain, output=output, verbose=0 if verbose < 2 else 2, log=log,
                     card_extra=card_search)
    return result, run


def _tune_phases(spec: RunSpec, *, output, resume: bool, overwrite: bool, workers: int,
                 role: str | None, verbose: int, log):
    """A search over a fine-tune recipe (`dlzoo.tuning.phases`): each trial runs the phases
    through `fine_tune` and saves its model in its trial folder; the best trial's model is
    copied to `OUTPUT/NAME` with the search in its card (not retrained: a trial is the whole
    run)."""

    if workers or role is not None:
        raise ValueError(f"recipe {spec.name}: a search over a fine-tune (a recipe with phases) "
                         "runs its trials in this process; drop --workers / --role")
    tune = spec.tune
    project = project_dir_for(output, spec.name)
    source, data, cfg = recipe_config(spec, output=output, verbose=0 if verbose < 2 else 2,
                                      log=log)
    bundle = recipe_data(source, data, cfg)
    hypermodel = PhasedHyperModel(
        spec, source, data, cfg, input_shape=bundle.input_shape,
        num_classes=bundle.num_classes,
        cache_dir=spec.transfer.cache_dir or project / "features")
    log(f"search: {tune['tuner']} over the fine-tune {spec.name} ({len(spec.phases)} phase(s) "
        f"a trial), {tune['max_trials']} trials, {tune['objective']} of the last phase, "
        f"project {project}")
    result = search(
        hypermodel, (), None, tuner=tune["tuner"], objective=tune["objective"],
        max_trials=tune["max_trials"], epochs=tune["epochs"], executions_per_trial=1,
        early_stopping=None, directory=project.parent, project_name=project.name,
        seed=tune["seed"], resume=resume, overwrite=overwrite,
        data_fingerprint=bundle.manifest_hash, target=tune["target"], verbose=verbose, log=log,
        check_objective=False)
    if not tune["retrain"] or result.best_trial_id is None:
        return result, None
    best = Path(result.tuner.get_trial_dir(result.best_trial_id)) / "model"
    target = Path(output) / spec.name
    log(f"saving the best trial's model (trial {result.best_trial_id}, {tune['objective']} "
        f"{result.best_score:.4f}): {result.best_hyperparameters}")
    if target.exists() and not is_saved_model(target) and (
            not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(f"{target} exists and is not a dlzoo saved model (no {CARD_FILE}); "
                              "refusing to replace it: move it away or choose another --output. "
                              f"The search is kept in {project} (--resume saves its best).")
    with RunLock(Path(output) / ".runs" / f"{spec.name}.lock", f"saving {target}", log=log):
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(best, tmp)
        card = json.loads((tmp / CARD_FILE).read_text())
        # the best trial's own model: a trial is the whole run
        card["search"] = search_record(result, tune, hypermodel, project, final="best trial",
                                       trial=result.best_trial_id)
        card["path"] = target.as_posix()
        write_record(tmp / CARD_FILE, card)
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)  # the model it replaces goes once the new one is in place
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    card = read_card(target)
    training = card.get("training", {})
    run = RunResult(model=None, card=card, report=None, history={}, saved_dir=target,
                    epochs_run=training.get("epochs_run", 0), resumed_from=0,
                    seconds=result.seconds)
    return result, run


def _launch_workers(spec: RunSpec, hypermodel, run, project: Path, *, output, workers: int,
                    resume: bool, overwrite: bool, verbose: int, log,
                    oracle_timeout: float) -> list[tuple[str, int]]:
    """Checks the project, writes the recipe the processes read, and runs a keras-tuner chief
    and `workers` workers on this host until the search ends; returns the workers' deaths,
    `(tuner id, exit status)` each (`launch` started each dead worker again)."""

    tune = spec.tune
    objective = resolve_objective(tune["objective"], hypermodel, run.val is not None)
    fingerprint = search_fingerprint(
        hypermodel, tuner=tune["tuner"], objective=objective.name, epochs=tune["epochs"],
        executions_per_trial=tune["executions_per_trial"], data=run.bundle.manifest_hash,
        hyperband=dict(tune["hyperband"]),
    )
    guard_project(project, fingerprint, resume=resume, overwrite=overwrite, log=log)
    # The chief and the workers read exactly this (validated, overridden) recipe.
    recipe_file = project / "recipe.json"
    write_record(recipe_file, spec.recipe)
    log(f"starting a keras-tuner chief and {workers} worker(s); logs in {project / 'logs'}")
    statuses = launch(["tune", str(recipe_file), "--output", str(output),
                       "--oracle-timeout", f"{oracle_timeout:g}"], workers=workers,
                      log_dir=project / "logs", echo=log if verbose else None)
    return list(statuses["deaths"])
