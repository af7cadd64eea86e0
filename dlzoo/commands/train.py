"""`dlzoo train RECIPE`: run a recipe (`dlzoo.training.run_recipe`), or its K folds
(`cross_validate_recipe`), or its learning-rate range test (`dlzoo.lr_finder`), and print the
run."""

from __future__ import annotations

import os

import yaml

from dlzoo.commands._options import (
    CLIError,
    _add_find_lr_flags,
    _add_run_flags,
    _add_switch_flags,
    _join_processes,
    _run_overrides,
    _switch_overrides,
)
from dlzoo.commands._output import _console, _print_baseline, _print_lr_find, _print_run
from dlzoo.distribution import process_output
from dlzoo.recipes import load_recipe
from dlzoo.saving import read_card
from dlzoo.spec import RunSpec


def run(args) -> int:
    if args.use_found_lr and not args.find_lr:
        raise CLIError("--use-found-lr goes with --find-lr")
    # before the recipe, whose checks make an optimizer: JAX's runtime must start joined
    index = _join_processes(args, refuse=(("--find-lr", args.find_lr),
                                           ("--folds", args.folds is not None)))
    recipe = load_recipe(args.recipe, overrides=(args.set or []) + _run_overrides(args) + (
        [f"train.class_weight={args.class_weight}"] if args.class_weight else [])
        + _switch_overrides(args))
    from dlzoo.training import run_recipe  # after the recipe: a misspelt name imports no backend

    found = None
    if args.find_lr and args.use_found_lr and not (args.overwrite or args.resume):
        from dlzoo.runs import refuse_existing  # (imports Keras: not on `dlzoo --help`'s path)

        refuse_existing(_saved_dirs(recipe["name"], args))  # before the range test, not after
    if args.find_lr:
        recipe, found = _find_lr_recipe(recipe, args)
        if found is None:
            return 0
    if args.folds is not None:
        return _train_folds(recipe, args)
    quiet = args.quiet or index > 0
    with process_output(args.output, resume=args.resume,
                        state=[f".runs/{recipe['name']}"]) as output:
        result = run_recipe(recipe, output=output, resume=args.resume,
                            overwrite=args.overwrite, verbose=0 if quiet else 2,
                            log=(lambda *a: None) if quiet else print,
                            card_extra={"lr_find": found.summary()} if found else None)
    if index:
        print(f"process {index}: done; process 0 wrote the model and its card")
        return 0
    _print_run(result)
    return 0


def _saved_dirs(name: str, args) -> list[str]:
    """The folders this command saves models to: OUTPUT/NAME, or one per fold with
    --save-folds all."""
    if args.folds is not None and args.save_folds == "all":
        return [os.path.join(args.output, f"{name}-fold{i + 1}") for i in range(args.folds)]
    return [os.path.join(args.output, name)]


def _find_lr_recipe(recipe, args):
    """--find-lr: the range test; with --use-found-lr, the recipe at the suggested rate."""
    from dlzoo.lr_finder import find_lr_for_run

    if args.resume:
        raise CLIError("--find-lr does not apply to --resume")
    spec = RunSpec.from_recipe(recipe)
    out = os.path.join("lr_find", spec.name)
    found = find_lr_for_run(spec, out=out, output=args.output,
                            log=(lambda *a: None) if args.quiet else print)
    _print_lr_find(found, out)
    rate = f"{found.suggestion:.2g}"
    if spec.is_finetune:  # the tested phase's rate, the others as they are
        phases = [dict(p) for p in recipe["phases"]]
        # random weights: fine_tune trains every layer at the last phase's rate, no head phase
        phases[-1 if found.trained == "all" else 0]["learning_rate"] = float(rate)
        setting = "phases=" + yaml.safe_dump(phases, default_flow_style=True).strip()
    else:
        setting = f"train.learning_rate={rate}"
    if not args.use_found_lr:
        print(f"nothing trained; train at it with: --set '{setting}'"
              " (or --find-lr --use-found-lr)")
        return recipe, None
    return load_recipe(args.recipe, overrides=(args.set or []) + _run_overrides(args)
                       + _switch_overrides(args) + [setting]), found


def _train_folds(recipe, args) -> int:
    from dlzoo.training import cross_validate_recipe

    if args.resume:
        raise CLIError("--resume does not apply to --folds; run the cross-validation again")
    result = cross_validate_recipe(recipe, args.folds, output=args.output, save=args.save_folds,
                                   overwrite=args.overwrite,
                                   verbose=0, log=(lambda *a: None) if args.quiet else print)
    cv = result.cv
    print(cv.summary())
    if result.saved == "best":
        print(f"saved the best fold ({cv.best_fold + 1}) to {result.saved_dirs[0]}/")
    else:
        print("saved every fold: " + ", ".join(f"{d}/" for d in result.saved_dirs))
    print(f"{result.seconds:.0f} s")
    for folder in result.saved_dirs:
        _print_baseline(read_card(folder).get("metrics", {}), _console())
    return 0


def add_parser(sub):
    p = sub.add_parser("train", help="run a recipe: train, evaluate, save saved_models/NAME")
    p.add_argument("recipe", help="a recipe file, or the name of a shipped one (lenet5-digits)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a recipe value, dotted keys (train.epochs=5); repeatable")
    p.add_argument("--resume", action="store_true",
                   help="continue the unfinished run of this recipe from its last finished epoch")
    p.add_argument("--output", default="saved_models",
                   help="folder for NAME/ and the run state .runs/NAME/ (default saved_models)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a saved model already at OUTPUT/NAME (refused without it, as "
                        "finetune, tune and export refuse)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    p.add_argument("--folds", type=int, default=None, metavar="K",
                   help="K-fold cross-validation: K models on stratified folds (forward-chaining "
                        "for sequences); prints mean and std of val_accuracy")
    p.add_argument("--save-folds", choices=("best", "all"), default="best",
                   help="with --folds: save the best fold's model (default) or every fold's")
    p.add_argument("--class-weight", choices=("balanced",), default=None,
                   help="balanced: weigh each class by n / (classes x its count) in the loss, "
                        "for unequal classes (as --set train.class_weight=balanced)")
    _add_find_lr_flags(p, "train.learning_rate")
    _add_run_flags(p, "the run")
    _add_switch_flags(p)
    p.set_defaults(func=run)
