"""`dlzoo tune RECIPE`: architecture search on a recipe's tune: section
(`dlzoo.tuning.runner.tune_recipe`); prints every trial and the retrained model."""

from __future__ import annotations

from dlzoo.commands._options import (
    CLIError,
    _add_run_flags,
    _add_switch_flags,
    _join_processes,
    _run_overrides,
    _switch_overrides,
)
from dlzoo.commands._output import _console, _print_run
from dlzoo.distribution import process_output
from dlzoo.recipes import load_recipe


def run(args) -> int:
    # before the recipe, whose checks make an optimizer: JAX's runtime must start joined
    index = _join_processes(args, refuse=(("--workers", args.workers), ("--role", args.role)))
    overrides = list(args.set or [])
    if args.tuner is not None:
        overrides.append(f"tune.tuner={args.tuner}")
    if args.max_trials is not None:
        overrides.append(f"tune.max_trials={args.max_trials}")
    recipe = load_recipe(args.recipe, overrides=overrides + _run_overrides(args)
                         + _switch_overrides(args))
    if args.workers is not None and args.workers < 1:
        raise CLIError(f"--workers must be at least 1; received {args.workers}")
    if args.role is not None and args.workers:
        raise CLIError("--role is set by `dlzoo tune --workers` for the processes it starts")
    from dlzoo.tuning.distributed import WorkerError
    from dlzoo.tuning.runner import tune_recipe  # keras-tuner: imports Keras, after the recipe
    from dlzoo.tuning.search import SearchFailedError

    quiet = args.quiet or index > 0
    try:
        with process_output(args.output, resume=args.resume, state=[
                f".runs/{recipe['name']}", f".tuning/{recipe['name']}"]) as output:
            result, run = tune_recipe(
                recipe, output=output, resume=args.resume, overwrite=args.overwrite,
                workers=args.workers or 0, role=args.role, verbose=0 if quiet else 2,
                log=(lambda *a: None) if quiet else print, oracle_timeout=args.oracle_timeout,
            )
    except WorkerError as e:
        raise CLIError(str(e)) from None
    except SearchFailedError as e:  # every trial so far, the failed ones with their reasons
        if e.result is not None and args.role is None:
            _print_search(e.result, recipe["name"], _console())
        raise CLIError(str(e)) from None
    if args.role is not None:
        return 0
    if index:
        print(f"process {index}: done; process 0 wrote the search and the model")
        return 0
    console = _console()
    _print_search(result, recipe["name"], console)
    if run is not None:
        _print_run(run, console)
    elif result.best_hyperparameters is not None:
        console.print(f"best: trial {result.best_trial_id}, {result.best_hyperparameters}")
    return 0


def _print_search(result, name: str, console) -> None:
    """Every trial of a `SearchResult` as a table, the best one highlighted."""
    from rich.table import Table

    from dlzoo.tuning.search import trials_table

    failed = result.failed
    table = Table(title=f"{name}: {len(result.trials)} trial(s), {result.completed} completed, "
                        f"{f'{len(failed)} failed, ' if failed else ''}{result.seconds:.0f} s")
    columns, rows = trials_table(result.trials)
    for col in ("trial", "status", "score", "epochs", "seconds", "worker", "hyperparameters"):
        table.add_column(col, justify="right" if col in ("score", "epochs", "seconds") else "left",
                         overflow="fold")
    for row in rows:
        hps = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in zip(columns[6:], row[6:]) if v != "")
        cells = ["" if c is None else f"{c:.4f}" if isinstance(c, float) and i == 2 else str(c)
                 for i, c in enumerate(row[:6])]
        table.add_row(*cells, hps, style="bold green" if row[0] == result.best_trial_id else None)
    console.print(table)
    for trial in failed:
        console.print(f"trial {trial['trial_id']} failed: {trial['reason']}", markup=False)
    console.print(f"every trial: {result.csv_path}")


def add_parser(sub):
    p = sub.add_parser("tune", help="architecture search with keras-tuner on a recipe's tune: section")
    p.add_argument("recipe", help="a recipe file with a tune: section, or the name of a shipped one")
    p.add_argument("--tuner", choices=("random", "hyperband", "bayesian"), default=None,
                   help="override tune.tuner")
    p.add_argument("--max-trials", type=int, default=None, help="override tune.max_trials")
    p.add_argument("--workers", type=int, default=None,
                   help="run the trials in N local worker processes under a keras-tuner chief "
                        "(one GPU each when there are GPUs)")
    p.add_argument("--resume", action="store_true",
                   help="continue this recipe's search; completed trials are kept")
    p.add_argument("--overwrite", action="store_true",
                   help="discard this recipe's existing search and start again")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a recipe value, dotted keys (tune.epochs=3); repeatable")
    p.add_argument("--output", default="saved_models",
                   help="folder for NAME/ and the search project .tuning/NAME/ (default saved_models)")
    p.add_argument("--quiet", action="store_true", help="no per-trial output")
    p.add_argument("--role", choices=("chief", "worker"), default=None,
                   help="one process of a search on several hosts (README, 'Several workers'): "
                        "the keras-tuner chief, or a worker (KERASTUNER_TUNER_ID names it)")
    p.add_argument("--oracle-timeout", type=float, default=None, metavar="SECONDS",
                   help="how long a worker's request waits for its chief, which may be starting "
                        "or restarting (default: DLZOO_ORACLE_TIMEOUT, else 3600)")
    _add_run_flags(p, "each trial and the retrained model")
    _add_switch_flags(p)
    p.set_defaults(func=run)
