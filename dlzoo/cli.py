"""The `dlzoo` command.

Each subcommand is a `_add_<name>(subparsers)` function that declares its arguments and sets
`func`; `build_parser()` lists them. Errors print one line (what, where, what to do) and exit 2;
`--debug` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from dlzoo.spec.rules import FlagError, check_flags, closest
from dlzoo.tasks import Task

# TensorFlow's C++ start-up chatter (CUDA probes, oneDNN notes) hides the one line that matters.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


# Exit statuses (README "Train, evaluate, predict", and `dlzoo --help`).
EXIT_SKIPPED = 3  # done, but some of the inputs were skipped (each named on stderr with why)
EXIT_STATUSES = """exit status:
  0    done
  1    a fault nobody foresaw (the line says so; --debug shows the traceback)
  2    an error: bad arguments or inputs, nothing done (one line says what to do)
  3    done, but some input files were skipped, each named on stderr with the reason
       (predict, explain, evaluate: the files given, or the folder's files, that could not be read)
  130  interrupted (Ctrl-C)"""


def _parse_shape(text: str) -> tuple:
    try:
        shape = tuple(int(t) for t in text.replace("x", ",").split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 64,64,3; received {text!r}"
        ) from None
    if not shape:
        raise argparse.ArgumentTypeError(f"expected a shape such as 64,64,3; received {text!r}")
    return shape


def _tta_from(args):
    """The `dlzoo.tta.TTA` of --tta / --tta-crops N (None without either)."""
    from dlzoo.tta import TTA

    crops = args.tta_crops
    if crops is None:
        return TTA() if args.tta else None
    if not 1 <= crops <= 5:
        raise CLIError(f"--tta-crops takes 1 to 5 (the centre, then the four corners); "
                       f"received {crops}")
    return TTA(flip=True, crops=crops)


def _refuse_tta(args, task) -> None:
    """--tta flips and crops images: one line for a model that reads something else."""
    if (args.tta or args.tta_crops is not None) and task is not None and task.has_own_data:
        raise CLIError(f"--tta flips and crops images; {args.model_dir} is a {task} model. "
                       "Drop --tta.")


def _add_tta_flags(p, what: str) -> None:
    p.add_argument("--tta", action="store_true",
                   help="test-time augmentation: also average the probabilities over the image "
                        f"and its mirror image (left-right); {what}")
    p.add_argument("--tta-crops", type=int, default=None, metavar="N",
                   help="with --tta (implied): also N crops of 0.875 of the image (1-5: the "
                        "centre, then the corners), each mirrored too: 2 x (1 + N) views")


def _parse_weights(text: str):
    """--weights: "none" is None (random weights), as `weights=None` in Python."""
    return None if text.lower() == "none" and not os.path.exists(text) else text


def _shell(*words) -> str:
    """A command line that pastes into a shell as it is: paths with spaces or quotes quoted."""
    import shlex

    return " ".join(shlex.quote(str(w)) for w in words)


def _console():
    from rich.console import Console

    return Console()


def _fmt_params(n) -> str:
    if n is None:
        return "?"
    if n >= 1e6:
        return f"{n / 1e6:.1f}M"
    if n >= 1e3:
        return f"{n / 1e3:.1f}K"
    return str(n)


# --- dlzoo list / info / build -----------------------------------------------------------------


def _cmd_list(args) -> int:
    from rich.table import Table

    from dlzoo.catalog import entry, list_names  # stored metadata: no backend, no build

    names = list_names(args.pattern, task=args.task, family=args.family)
    if not names:
        raise CLIError(
            f"no model matches pattern={args.pattern!r} task={args.task!r} family={args.family!r}; "
            "run `dlzoo list` for every model"
        )
    from rich import box
    from rich.console import Console

    # Names whole, on one line (an 80-column terminal or a pipe used to cut them: "sequence_ls…"):
    # in a terminal a compact table whose other columns wrap; in a pipe, one line per model.
    table = Table(title=f"dlzoo models ({len(names)})", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    table.add_column("name", no_wrap=True, min_width=max(len(n) for n in names))
    for col in ("family", "task", "default input", "params", "weights"):
        table.add_column(col, justify="right" if col == "params" else "left", overflow="fold")
    for n in names:
        info = entry(n)
        table.add_row(
            info["name"],
            info["family"],
            info["task"],
            "x".join(str(s) for s in info["default_input_shape"]),
            _fmt_params(info["params"]),
            ", ".join(info["weights"]) or "-",
        )
    console = _console() if sys.stdout.isatty() else Console(width=10_000)
    console.print(table)
    return 0


def _add_list(sub):
    p = sub.add_parser("list", help="table of models with parameters and weights")
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. 'resnet*'")
    p.add_argument("--task", default=None,
                   help="only models of this task (image_classification, text_classification, ...)")
    p.add_argument("--family", default=None, help="only models of this family (resnet, vgg, ...)")
    p.set_defaults(func=_cmd_list)


def _cmd_info(args) -> int:
    from dlzoo.catalog import entry  # stored metadata: no backend, no build

    info = entry(args.name)
    info.pop("smoke_overrides", None)  # the test suite's small build, not the user's business
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    if info.get("min_input_size") == 1:  # "1" read as a fault: padded convolutions take any size
        info["min_input_size"] = "any size (every convolution and pool pads)"
    width = max(len(k) for k in info)
    for key, value in info.items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value) or "-"
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        elif key == "params":
            value = f"{value:,}"
        print(f"{key:<{width}}  {value}")
    return 0


def _add_info(sub):
    p = sub.add_parser("info", help="everything the registry knows about a model")
    p.add_argument("name", help="a registry name (see `dlzoo list`)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)


def _cmd_build(args) -> int:
    from dlzoo.weights import build

    kwargs = _parse_model_args(args.set)
    for key in ("input_shape", "num_classes", "weights"):
        if getattr(args, key) is not None:
            if key in kwargs:
                raise CLIError(f"--{key.replace('_', '-')} and --set {key}=... are both given; "
                               "pass one")
            kwargs[key] = getattr(args, key)
    model = build(args.name, **kwargs)
    if args.summary:
        model.summary()
    print(
        f"{model.name}: input {model.input_shape}, output {model.output_shape}, "
        f"{model.count_params():,} parameters"
    )
    return 0


def _add_build(sub):
    p = sub.add_parser("build", help="build a model and print its shapes (and summary)")
    p.add_argument("name", help="a registry name (see `dlzoo list`)")
    p.add_argument("--input-shape", type=_parse_shape, default=None, help="e.g. 64,64,3")
    p.add_argument("--num-classes", type=int, default=None,
                   help="classifier outputs (default: the model's own, as `dlzoo info` shows)")
    p.add_argument("--weights", type=_parse_weights, default=None,
                   help="imagenet, a weights file, a saved model, or none (random; the default)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="builder argument (e.g. --set activation=relu --set dropout=0.2); repeatable")
    p.add_argument("--summary", action="store_true", help="print model.summary()")
    p.set_defaults(func=_cmd_build)


# --- dlzoo train ------------------------------------------------------------------------------


def _print_run(result, console=None) -> None:
    from rich.table import Table

    console = console or _console()
    card = result.card
    metrics = {k: v for k, v in card.get("metrics", {}).items() if isinstance(v, (int, float))}
    table = Table(title=f"{card['name']}: {card['model']} on {card['data']['source']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("expected", justify="right")
    expect = card.get("expect") or {}
    for key, value in metrics.items():
        exp = expect.get(key)
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value),
                      f"{exp}" if exp is not None else "")
    console.print(table)
    if expect.get("source"):
        console.print(f"[dim]expected figure: {expect['source']}[/dim]")
    training = card.get("training", {})
    resumed = training.get("resumed_from_epoch")
    console.print(
        f"{training.get('epochs_run')} epoch(s) of {training.get('epochs')}"
        + (f" (resumed after epoch {resumed})" if resumed else "")
        + f", {result.seconds:.0f} s. Saved to {result.saved_dir}/"
    )
    if card.get("task") == Task.TEXT_GENERATION:
        follow = _shell("dlzoo", "generate", result.saved_dir, "--n", 3)
        console.print(f"write sentences with it: {follow}", markup=False, highlight=False)
    _print_baseline(card.get("metrics", {}), console)


def _print_baseline(metrics: dict, console) -> None:
    """Validation accuracy beside the majority-class baseline; last, a warning when the model
    does not beat it."""
    from dlzoo.evaluation import baseline_line, baseline_warning

    for line, style in ((baseline_line(metrics), None), (baseline_warning(metrics), "bold red")):
        if line:
            console.print(line, style=style, markup=False, highlight=False, soft_wrap=True)


def _cmd_train(args) -> int:
    from dlzoo.recipes import load_recipe

    # before the recipe, whose checks make an optimizer: JAX's runtime must start joined
    index = _join_processes(args, refuse=(("--find-lr", args.find_lr),
                                           ("--folds", args.folds is not None)))
    recipe = load_recipe(args.recipe, overrides=(args.set or []) + _run_overrides(args) + (
        [f"train.class_weight={args.class_weight}"] if args.class_weight else [])
        + _switch_overrides(args))
    from dlzoo.training import run_recipe  # after the recipe: a misspelt name imports no backend

    found = None
    if args.use_found_lr and not args.find_lr:
        raise CLIError("--use-found-lr goes with --find-lr")
    if args.find_lr:
        recipe, found = _find_lr_recipe(recipe, args)
        if found is None:
            return 0
    if args.folds is not None:
        return _train_folds(recipe, args)
    from dlzoo.distribution import process_output

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


def _find_lr_recipe(recipe, args):
    """--find-lr: the range test; with --use-found-lr, the recipe at the suggested rate."""
    from dlzoo.lr_finder import find_lr_for_run
    from dlzoo.spec import RunSpec

    if args.resume:
        raise CLIError("--find-lr does not apply to --resume")
    spec = RunSpec.from_recipe(recipe)
    out = os.path.join("lr_find", spec.name)
    found = find_lr_for_run(spec, out=out, output=args.output,
                            log=(lambda *a: None) if args.quiet else print)
    _print_lr_find(found, out)
    rate = f"{found.suggestion:.2g}"
    if spec.is_finetune:  # the first phase's rate, the others as they are
        import yaml

        phases = [dict(p) for p in recipe["phases"]]
        phases[0]["learning_rate"] = float(rate)
        setting = "phases=" + yaml.safe_dump(phases, default_flow_style=True).strip()
    else:
        setting = f"train.learning_rate={rate}"
    if not args.use_found_lr:
        print(f"nothing trained; train at it with: --set '{setting}'"
              " (or --find-lr --use-found-lr)")
        return recipe, None
    from dlzoo.recipes import load_recipe

    return load_recipe(args.recipe, overrides=(args.set or []) + _run_overrides(args)
                       + _switch_overrides(args) + [setting]), found


def _print_lr_find(found, out) -> None:
    print(f"learning-rate range test ({len(found.losses)} steps): suggested learning rate "
          f"{found.suggestion:.2g} (lowest smoothed loss at {found.min_loss_lr:.2g}, steepest "
          f"descent at {found.steepest:.2g}); curve in {found.png}, figures in "
          f"{os.path.join(out, 'lr_find.json')}")


def _parse_devices(text: str):
    """--devices: N or all."""
    if text == "all":
        return text
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected a positive integer or all; received {text!r}")


def _add_run_flags(p, what: str, recipe: bool = True) -> None:
    """--precision and --devices, the same words for train, finetune and tune."""
    from dlzoo.precision import PRECISIONS

    p.add_argument("--precision", choices=PRECISIONS, default=None,
                   help=f"numeric precision of {what}: auto (bfloat16 mixed on GPUs of compute "
                        "capability 8+ and TPUs, float32 elsewhere), float32, bfloat16 or "
                        "float16 (mixed, with loss scaling)"
                        + ("; the recipe's train.precision, default auto" if recipe else
                           "; default auto"))
    p.add_argument("--devices", type=_parse_devices, default=None, metavar="N|all",
                   help=f"train {what} data parallel over N local devices (or all): "
                        "keras.distribution.DataParallel on JAX, MirroredStrategy on TensorFlow; "
                        "the batch size stays the global batch, split evenly over them "
                        "(over several processes: all, or N over all their devices)"
                        + ("; the recipe's train.devices, default 1" if recipe else
                           "; default 1"))
    g = p.add_argument_group(
        "several hosts (JAX)", "every host runs the same command with its own --process-id; "
        "the devices of every process train as one data-parallel mesh (pass --devices all), "
        "process 0 writes the outputs. Unset, they come from JAX_COORDINATOR_ADDRESS, "
        "JAX_NUM_PROCESSES and JAX_PROCESS_ID, or JAX's SLURM / Open MPI / Kubernetes "
        "detection")
    g.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="process 0's host and a free port on it, the same on every host")
    g.add_argument("--num-processes", type=int, default=None, metavar="N",
                   help="processes in the run, over every host")
    g.add_argument("--process-id", type=int, default=None, metavar="I",
                   help="this process: 0 to N-1 (0 writes the outputs)")


def _join_processes(args, *, refuse=()) -> int:
    """--coordinator / --num-processes / --process-id (or JAX's environment): joins this
    process to the run's others (`dlzoo.distribution.join_processes`) before anything runs on
    JAX; returns this process's index (0 writes the outputs, the others stay quiet)."""
    from dlzoo.distribution import join_processes

    index, count = join_processes(args.coordinator, args.num_processes, args.process_id,
                                  log=(lambda *a: None) if args.quiet else print)
    for flag, used in refuse:
        if count > 1 and used:
            raise CLIError(f"{flag} does not span processes; drop it, or run on one host "
                           "without --coordinator / --num-processes / --process-id")
    return index


def _run_overrides(args) -> list[str]:
    """--precision / --devices as the recipe keys they set (train.precision, train.devices)."""
    out = []
    if getattr(args, "precision", None):
        out.append(f"train.precision={args.precision}")
    if getattr(args, "devices", None) is not None:
        out.append(f"train.devices={args.devices}")
    return out


def _add_switch_flags(p, recipe: bool = True) -> None:
    """The training switches (dlzoo.switches), the same words for train, finetune and tune."""
    from dlzoo.schedules import LR_SCHEDULES

    key = (lambda k: f" (train.{k})") if recipe else (lambda k: "")
    g = p.add_argument_group("training switches")
    g.add_argument("--optimizer", default=None, metavar="NAME",
                   help="Keras optimizer: adam (default), adamw, sgd, rmsprop, nadam..."
                        + key("optimizer"))
    g.add_argument("--lr-schedule", choices=tuple(LR_SCHEDULES), default=None,
                   help="learning-rate schedule: plateau (default), cosine, one_cycle, step, "
                        "exponential, constant" + (" (callbacks.lr_schedule)" if recipe else ""))
    g.add_argument("--warmup-epochs", type=int, default=None, metavar="N",
                   help="with --lr-schedule cosine or one_cycle: epochs of linear warm-up "
                        "(one_cycle's default: 30%% of the run)")
    g.add_argument("--label-smoothing", type=float, default=None, metavar="EPS",
                   help="cross-entropy against labels smoothed by EPS, e.g. 0.1"
                        + key("label_smoothing"))
    g.add_argument("--ema", nargs="?", type=float, const=0.99, default=None, metavar="MOMENTUM",
                   help="keep an exponential moving average of the weights (momentum 0.99, or "
                        "the one given); validation, early stopping and the saved model use it"
                        + key("ema"))
    g.add_argument("--weight-decay", type=float, default=None, metavar="RATE",
                   help="decoupled weight decay (AdamW-style; not on biases and normalisation), "
                        "e.g. 0.05" + key("weight_decay"))
    g.add_argument("--grad-accum", type=int, default=None, metavar="N",
                   help="one update per N batches: an N times larger effective batch on a small "
                        "device" + key("gradient_accumulation"))
    g.add_argument("--l1", type=float, default=None, metavar="RATE",
                   help="L1 penalty on every kernel (Dense, convolution)" + key("l1"))
    g.add_argument("--l2", type=float, default=None, metavar="RATE",
                   help="L2 penalty on every kernel, e.g. 1e-4" + key("l2"))
    g.add_argument("--activity-l1", type=float, default=None, metavar="RATE",
                   help="L1 penalty on one layer's activities (sparse codes), e.g. 1e-5"
                        + key("activity_l1"))
    g.add_argument("--activity-layer", default=None, metavar="NAME",
                   help="with --activity-l1: the layer (default: the one feeding predictions)"
                        + key("activity_layer"))
    g.add_argument("--max-norm", type=float, default=None, metavar="C",
                   help="max-norm constraint: each unit's incoming weights keep a norm of at "
                        "most C, e.g. 3" + key("max_norm"))
    g.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="write TensorBoard logs to DIR (each tune trial in its own folder, with "
                        "its hyperparameters); view with `tensorboard --logdir DIR`"
                        + (" (callbacks.tensorboard)" if recipe else ""))
    clip = g.add_mutually_exclusive_group()
    clip.add_argument("--clipnorm", type=float, default=None, metavar="C",
                      help="clip each gradient to norm C" + key("clipnorm"))
    clip.add_argument("--global-clipnorm", type=float, default=None, metavar="C",
                      help="clip all gradients together to global norm C" + key("global_clipnorm"))
    clip.add_argument("--clipvalue", type=float, default=None, metavar="V",
                      help="clip each gradient value to [-V, V]" + key("clipvalue"))


def _lr_schedule_flag(args):
    """--lr-schedule / --warmup-epochs as a schedule spec (None when neither is given)."""
    kind, warmup = getattr(args, "lr_schedule", None), getattr(args, "warmup_epochs", None)
    if warmup is None:
        return kind
    if kind not in ("cosine", "one_cycle"):
        raise CLIError(f"--warmup-epochs goes with --lr-schedule cosine or one_cycle; received "
                       f"--lr-schedule {kind or '(none)'}")
    if warmup < 0:
        raise CLIError(f"--warmup-epochs must be 0 or more; received {warmup}")
    return {"type": kind, "warmup_epochs": warmup}


# --flag (argparse dest) -> the recipe's train.KEY and fine_tune's keyword
SWITCH_FLAGS = {"optimizer": "optimizer", "label_smoothing": "label_smoothing", "ema": "ema",
                "weight_decay": "weight_decay", "grad_accum": "gradient_accumulation",
                "l1": "l1", "l2": "l2", "activity_l1": "activity_l1",
                "activity_layer": "activity_layer", "max_norm": "max_norm",
                "clipnorm": "clipnorm", "global_clipnorm": "global_clipnorm",
                "clipvalue": "clipvalue"}


def _switch_overrides(args) -> list[str]:
    """The training-switch flags as the recipe keys they set."""
    out = []
    for flag, key in SWITCH_FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            out.append(f"train.{key}={value}")
    if getattr(args, "tensorboard", None):
        out.append(f"callbacks.tensorboard={json.dumps(args.tensorboard)}")
    schedule = _lr_schedule_flag(args)
    if isinstance(schedule, dict):
        out.append("callbacks.lr_schedule={" + ", ".join(
            f"{k}: {v}" for k, v in schedule.items()) + "}")
    elif schedule is not None:
        out.append(f"callbacks.lr_schedule={schedule}")
    return out


def _switch_settings(args) -> dict:
    """The training-switch flags as `fine_tune` keywords (only those given)."""
    out = {k: getattr(args, flag) for flag, k in SWITCH_FLAGS.items()
           if getattr(args, flag, None) is not None}
    schedule = _lr_schedule_flag(args)
    if schedule is not None:
        out["lr_schedule"] = schedule
    if getattr(args, "tensorboard", None):
        out["tensorboard"] = args.tensorboard
    return out


def _add_train(sub):
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
    p.set_defaults(func=_cmd_train)


def _add_find_lr_flags(p, what: str) -> None:
    p.add_argument("--find-lr", action="store_true",
                   help="learning-rate range test (Smith 2017): loss curve and suggested rate in "
                        "lr_find/NAME/; trains nothing else unless --use-found-lr")
    p.add_argument("--use-found-lr", action="store_true",
                   help=f"with --find-lr: then train with the suggested rate as {what}")


def _train_folds(recipe, args) -> int:
    from dlzoo.training import cross_validate_recipe

    if args.resume:
        raise CLIError("--resume does not apply to --folds; run the cross-validation again")
    result = cross_validate_recipe(recipe, args.folds, output=args.output, save=args.save_folds,
                                   verbose=0, log=(lambda *a: None) if args.quiet else print)
    cv = result.cv
    print(cv.summary())
    if result.saved == "best":
        print(f"saved the best fold ({cv.best_fold + 1}) to {result.saved_dirs[0]}/")
    else:
        print("saved every fold: " + ", ".join(f"{d}/" for d in result.saved_dirs))
    print(f"{result.seconds:.0f} s")
    from dlzoo.saving import read_card

    for folder in result.saved_dirs:
        _print_baseline(read_card(folder).get("metrics", {}), _console())
    return 0


# --- dlzoo evaluate -----------------------------------------------------------------------------


def _parse_epsilons(text: str) -> list[float]:
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise CLIError(f"--epsilon takes comma-separated numbers such as 0.01,0.03,0.1; "
                       f"received {text!r}") from None
    if not values:
        raise CLIError("--epsilon needs at least one value, e.g. 0.01,0.03,0.1")
    return values


def _saved_task(model_dir):
    """The task a saved model's card names, or None (no readable card: the command's own
    checks say what is wrong)."""
    try:
        with open(os.path.join(model_dir, "card.json"), encoding="utf-8") as f:
            task = json.load(f).get("task")
        return None if task is None else Task(task)
    except (OSError, ValueError, AttributeError):
        return None


def _evaluate_ratings(args) -> int:
    from dlzoo.recommendation import evaluate_ratings

    r = evaluate_ratings(args.model_dir, args.data, split=args.split)
    floor = (f", noise floor {r['noise_floor_rmse']:.4f}" if "noise_floor_rmse" in r else "")
    print(f"{args.data} ({r['split']}, {r['samples']} ratings): RMSE {r['rmse']:.4f}, MAE "
          f"{r['mae']:.4f}; predicting the mean: RMSE {r['mean_baseline_rmse']:.4f}{floor}")
    return 0


def _cmd_evaluate(args) -> int:
    from dlzoo.evaluation import evaluate_saved_model

    task = _saved_task(args.model_dir)
    _refuse_tta(args, task)
    if task is Task.RATING_PREDICTION:  # (user, item) pairs, not images
        return _evaluate_ratings(args)
    if task is Task.TEXT_GENERATION:  # perplexity on a corpus
        from dlzoo.generation import evaluate_language_model

        r = evaluate_language_model(args.model_dir, args.data, split=args.split)
        names = {"val_unigram_perplexity": "unigram model", "grammar_perplexity_floor":
                 "grammar's floor", "val_oracle_perplexity": "grammar's own",
                 "grammatical_share": "grammatical samples"}
        print(f"{args.data} ({r['split']}, {r['sentences']} sentences, {r['val_tokens']} tokens): "
              f"perplexity {r['val_perplexity']:.4f}" + "".join(
                  f"; {label} {r[k]:.4f}" for k, label in names.items() if k in r))
        return 0

    epsilons = _parse_epsilons(args.epsilon) if args.adversarial else ()
    result = evaluate_saved_model(
        args.model_dir, args.data, split=args.split, batch_size=args.batch_size, out=args.out,
        adversarial=args.adversarial, epsilons=epsilons, max_samples=args.max_samples,
        top_losses=args.top_losses, include_training_files=args.include_training_files,
        labels=args.labels, tta=_tta_from(args),
    )
    console = _console()
    if result.training_files_left_out:
        console.print(f"left out {result.training_files_left_out} of the "
                      f"{result.samples_in_split} images: files {result.model_name} was trained "
                      "on (recognised by their content); scoring the "
                      f"{result.samples_in_split - result.training_files_left_out} held-out ones "
                      "(--include-training-files scores them too)", markup=False, highlight=False,
                      soft_wrap=True)
    if result.training_files_included:
        console.print(f"note: {result.training_files_included} of the {result.samples_in_split} "
                      f"images scored are files {result.model_name} was trained on "
                      "(--include-training-files): the figures flatter it", markup=False,
                      highlight=False, soft_wrap=True)
    console.print(result.report.table(title=result.title))
    from dlzoo.evaluation import baseline_line, summary_metrics

    line = baseline_line(summary_metrics(result.report))  # None for multi-label (no majority)
    if line is not None:
        console.print(line.replace("validation ", ""), markup=False, highlight=False,
                      soft_wrap=True)
    if result.tta is not None:
        _print_tta(result, console)
    if result.interpretation:
        _print_interpretation(result.interpretation, console)
    if result.card_val_accuracy is not None:
        console.print(f"card's validation accuracy: {result.card_val_accuracy:.4f}")
    if result.skipped:
        console.print(f"{len(result.skipped)} file(s) skipped, e.g. {result.skipped[0]}")
    if result.adversarial is not None:
        _print_adversarial(result, console)
    console.print(f"report, confusion matrix, reliability diagram and top losses in {result.out}/"
                  if result.interpretation else f"report and confusion matrix in {result.out}/")
    return EXIT_SKIPPED if result.skipped else 0


def _print_tta(result, console) -> None:
    """The figures with test-time augmentation beside the plain ones, one line."""
    from dlzoo.tta import TTA

    t, plain = result.tta, result.report.to_dict()
    spec = TTA(flip=t["flip"], crops=t["crops"], crop_fraction=t["crop_fraction"])
    names = ([("mean_average_precision", "mAP")] if "mean_average_precision" in t else []) + [
        ("accuracy", "exact match" if "mean_average_precision" in t else "accuracy"),
        ("loss", "loss"), ("macro_f1", "macro-F1")]
    console.print(f"with test-time augmentation, {spec.describe()}: " + ", ".join(
        f"{label} {t[k]:.4f} (plain {plain[k]:.4f})" for k, label in names),
        markup=False, highlight=False, soft_wrap=True)


def _print_interpretation(entries: dict, console) -> None:
    cal = entries["calibration"]
    console.print(f"expected calibration error ({cal['bins']} bins): {cal['ece']:.4f} "
                  f"(with temperature {cal['temperature']:.2f} fitted on this data: "
                  f"{cal['ece_after_temperature']:.4f})")
    pairs = entries["most_confused"][:5]
    if pairs:
        console.print("most confused (true -> predicted: count): " + ", ".join(
            f"{p['true']} -> {p['predicted']}: {p['count']}" for p in pairs),
            markup=False, highlight=False)


def _print_adversarial(result, console) -> None:
    from rich.table import Table

    adv = result.adversarial
    low, high = adv["value_range"]
    table = Table(title=f"FGSM on {adv['samples']} samples, inputs in [{low:g}, {high:g}]")
    for col in ("epsilon", "accuracy", "mean confidence"):
        table.add_column(col, justify="right")
    for r in adv["rows"]:
        table.add_row(f"{r['epsilon']:g}", f"{r['accuracy']:.4f}", f"{r['mean_confidence']:.3f}")
    console.print(table)
    if "adversarial" in result.paths:
        console.print(f"clean and adversarial examples: {result.paths['adversarial']}")


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="accuracy, per-class metrics and confusion matrix",
                       epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir", help="a saved model folder (saved_models/NAME)")
    p.add_argument("data", help="a folder of class subfolders, a CSV of file,label rows, or a "
                                "source (digits, mnist, ...)")
    p.add_argument("--labels", default=None, metavar="CSV",
                   help="label the images under the folder DATA by this CSV of file,label rows "
                        "(paths relative to DATA)")
    p.add_argument("--split", choices=("val", "train", "all"), default=None,
                   help="default: val for the data the model was trained on, else all")
    p.add_argument("--batch-size", type=int, default=64, help="images per step (default 64)")
    p.add_argument("--out", default=None,
                   help="folder for report.json and confusion_matrix.png "
                        "(default evaluations/NAME)")
    p.add_argument("--adversarial", choices=("fgsm",), default=None,
                   help="also measure accuracy under attack (fast gradient sign method)")
    p.add_argument("--epsilon", default="0.01,0.03,0.1",
                   help="attack strengths as fractions of the input range (default 0.01,0.03,0.1)")
    p.add_argument("--max-samples", type=int, default=2000,
                   help="attack at most this many samples (default 2000)")
    p.add_argument("--include-training-files", action="store_true",
                   help="also score the files the model was trained on (recognised by content "
                        "from its card; left out by default)")
    _add_tta_flags(p, "the figures reported beside the plain ones")
    p.add_argument("--top-losses", type=int, default=9, metavar="K",
                   help="list and draw the K highest-loss samples, Grad-CAM for the worst six "
                        "(default 9; 0 for none)")
    p.set_defaults(func=_cmd_evaluate)


# --- dlzoo predict ------------------------------------------------------------------------------


def _cmd_predict(args) -> int:
    if _stream_flags(args):  # --video / --camera: dlzoo.video
        return _predict_stream(args)
    from dlzoo.evaluation import predict_files

    _refuse_tta(args, _saved_task(args.model_dir))
    if _saved_task(args.model_dir) is Task.TEXT_GENERATION:
        raise CLIError(f"{args.model_dir} is a language model: write sentences with `dlzoo "
                       f"generate {args.model_dir} --start \"...\"`")
    if not args.files:  # (optional since --video and --camera take none)
        raise CLIError("give what to predict: image files or folders (dlzoo predict MODEL "
                       "FILE...), USER,ITEM pairs for a recommender, --video FILE or --camera N")
    if _saved_task(args.model_dir) is Task.RATING_PREDICTION:  # USER,ITEM pairs, not files
        from dlzoo.recommendation import predict_ratings

        rows = predict_ratings(args.model_dir, args.files)
        if args.json:
            print(json.dumps([{"user": u, "item": i, "rating": round(r, 6)} for u, i, r in rows],
                             indent=2))
        else:
            for u, i, r in rows:
                print(f"user {u}, item {i}: {r:.3f}")
        return 0

    found = predict_files(args.model_dir, args.files, k=args.top_k, tta=_tta_from(args))
    for path, reason in found.skipped:
        print(f"{path}: skipped: {reason}", file=sys.stderr)
    total = len(found.rows) + len(found.skipped)
    if not found.rows:
        raise CLIError(f"none of the {total} file(s) could be read as an image (each named above)"
                       if total else f"no files found in {' '.join(args.files)}")
    _print_predictions(found, as_json=args.json)
    print(f"read {len(found.rows)} of {total} file(s); {len(found.skipped)} could not be read"
          + (" (named above)" if found.skipped else ""), file=sys.stderr)
    return EXIT_SKIPPED if found.skipped else 0


def _print_predictions(found, *, as_json: bool) -> None:
    """predict's rows: each file's top-k; with --tta, the averaged views' figures and the plain
    ones beside them."""
    def top(row):
        return [{"class": c, "probability": round(p, 6)} for c, p in row]

    plain = dict(found.plain or ())
    key = "labels" if found.multi_label else "top"  # multi-label: each label above its threshold
    if as_json:
        out = []
        for f, row in found.rows:
            item = {"file": f, key: top(row)}
            if found.tta is not None:
                item.update({f"plain_{key}": top(plain[f]), "tta": found.tta.to_dict()})
            out.append(item)
        print(json.dumps(out, indent=2))
        return
    if found.tta is not None:
        print(f"with test-time augmentation, {found.tta.describe()}; plain figures in brackets",
              file=sys.stderr)
    def shown(row):  # a multi-label file may have no label above its threshold
        return ", ".join(f"{c} {p:.3f}" for c, p in row) or "no label above its threshold"

    for f, row in found.rows:
        line = f"{f}: " + shown(row)
        if found.tta is not None:
            line += f" (plain: {shown(plain[f])})"
        print(line)


def _add_predict(sub):
    p = sub.add_parser("predict", help="top-k classes for image files or folders",
                       epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir", help="a saved model folder (saved_models/NAME)")
    p.add_argument("files", nargs="*",
                   help="image files, or folders (their image files, recursively); for a "
                        "recommender, USER,ITEM pairs such as 3,7")
    p.add_argument("--top-k", type=int, default=3, help="classes shown per file (default 3)")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_stream_flags(p)
    _add_tta_flags(p, "the plain figures shown beside them")
    p.set_defaults(func=_cmd_predict)


# predict --video / --camera (dlzoo.video)
_STREAM_FLAGS = ("video", "camera", "out", "csv", "max_frames")


def _add_stream_flags(p):
    g = p.add_argument_group("video and camera (OpenCV: pip install opencv-python-headless)")
    g.add_argument("--video", metavar="FILE", default=None,
                   help="classify every frame of a video: writes an annotated copy (top-1 class "
                        "and probability on each frame; --out) and a CSV of each frame's top-k "
                        "with its time in seconds (--csv)")
    g.add_argument("--camera", metavar="N", type=int, default=None,
                   help="classify camera N (0 is the first) live in a window, with frames per "
                        "second; q or Esc stops. Without a display, --out writes it instead")
    g.add_argument("--out", metavar="FILE", default=None,
                   help="the annotated video (.mp4, .m4v, .mov, .avi or .mkv); for --video, "
                        "default VIDEO_STEM.annotated.mp4 beside it")
    g.add_argument("--csv", metavar="FILE", default=None,
                   help="the per-frame CSV (frame,seconds,class_1,probability_1,...); for "
                        "--video, default VIDEO_STEM.predictions.csv beside it")
    g.add_argument("--max-frames", metavar="N", type=int, default=None,
                   help="stop after N frames (default: the whole video, or until stopped)")


def _stream_flags(args) -> list:
    return [f for f in _STREAM_FLAGS if getattr(args, f, None) is not None]


def _predict_stream(args) -> int:
    given = _stream_flags(args)
    if args.video is not None and args.camera is not None:
        raise CLIError("--video and --camera contradict each other: give one")
    if args.video is None and args.camera is None:
        raise CLIError(f"--{given[0].replace('_', '-')} only applies with --video or --camera; "
                       "add one or drop it")
    source = f"--video {args.video}" if args.video is not None else f"--camera {args.camera}"
    if args.files:
        raise CLIError(f"{source} classifies frames; give image files to a separate "
                       f"`dlzoo predict MODEL FILE...` (received {' '.join(args.files)})")
    if args.json:
        raise CLIError(f"--json does not apply to {source}: the per-frame rows go to the CSV "
                       "(--csv)")
    if (_saved_task(args.model_dir) or Task.IMAGE_CLASSIFICATION).has_own_data:
        raise CLIError(f"{args.model_dir} is not an image classifier ({_saved_task(args.model_dir)}"
                       f"); {source} takes one")
    from dlzoo import video

    if args.video is not None:
        result = video.predict_video(args.model_dir, args.video, out=args.out, csv_path=args.csv,
                                     k=args.top_k, max_frames=args.max_frames)
    else:
        result = video.predict_camera(args.model_dir, args.camera, out=args.out,
                                      csv_path=args.csv, k=args.top_k,
                                      max_frames=args.max_frames)
    written = " and ".join(str(p) for p in (result.video, result.csv) if p is not None)
    rate = result.frames / result.seconds if result.seconds > 0 else 0.0
    print(f"classified {result.frames} frame(s) of {source.split(' ', 1)[1]} "
          f"({rate:.1f} frames per second)" + (f"; wrote {written}" if written else ""))
    return 0


# --- dlzoo generate -----------------------------------------------------------------------------


def _cmd_generate(args) -> int:
    from dlzoo.generation import generate

    sentences = generate(args.model_dir, start=args.start, n=args.n, temperature=args.temperature,
                         top_k=args.top_k, greedy=args.greedy, max_words=args.max_words,
                         seed=args.seed)
    if args.json:
        print(json.dumps([s.to_dict() for s in sentences], indent=2))
        return 0
    for s in sentences:
        print(s.text + ("" if s.stopped else " ..."))
    if args.seed is None:
        print(f"(seed {sentences[0].seed}: add --seed {sentences[0].seed} to draw these again)",
              file=sys.stderr)
    return 0


def _add_generate(sub):
    p = sub.add_parser("generate", help="write sentences with a language model (task "
                                        "text_generation)")
    p.add_argument("model_dir", help="a saved language model (saved_models/NAME)")
    p.add_argument("--start", default="", help='first words the sentences continue, e.g. "a dog"')
    p.add_argument("--temperature", type=float, default=1.0,
                   help="> 0; below 1 more conservative, above 1 more adventurous (default 1)")
    p.add_argument("--top-k", type=int, default=None, metavar="K",
                   help="draw from the K most probable words only (default: all)")
    p.add_argument("--greedy", action="store_true", help="always the most probable word")
    p.add_argument("--max-words", type=int, default=None, metavar="N",
                   help="most words drawn after the start (default: the model's context)")
    p.add_argument("--n", type=int, default=1, help="sentences to write (default 1)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed of the draws; the same seed writes the same sentences")
    p.add_argument("--json", action="store_true", help="print JSON (text, tokens, log_prob)")
    p.set_defaults(func=_cmd_generate)


# --- dlzoo explain ------------------------------------------------------------------------------


def _cmd_explain(args) -> int:
    from dlzoo.evaluation import image_paths
    from dlzoo.explain import explain_files, explain_layers

    given = args.images
    args.images = image_paths(args.images)  # a folder: its image files, as predict takes them
    if given and not args.images:
        raise CLIError(f"no image files in {', '.join(given)}")
    if not (args.images or args.filters):
        raise CLIError("give image files to explain, or --filters")
    if args.feature_maps and not args.images:
        raise CLIError("--feature-maps LAYER needs an image file")
    out = args.out or os.path.join(
        "explanations", os.path.basename(os.path.normpath(args.model_dir)))
    for png in explain_layers(args.model_dir, out=out, filters=args.filters,
                              feature_maps=args.feature_maps, image=(args.images or [None])[0]):
        print(f"wrote {png}")
    if not args.images:
        return 0
    done, skipped, layer = explain_files(args.model_dir, args.images, out=out,
                                         class_name=args.class_name, layer=args.layer)
    for path, reason in skipped:
        print(f"{path}: skipped: {reason}", file=sys.stderr)
    from dlzoo.evaluation import is_training_file, training_digests
    from dlzoo.saving import read_card

    seen = training_digests(read_card(args.model_dir))
    for e in done:
        print(f"{e.path}: {e.class_name} {e.probability:.3f}"
              + (f" (predicted {e.predicted})" if e.predicted != e.class_name else "")
              + (" [a file the model was trained on]" if is_training_file(e.path, seen) else "")
              + f" -> {e.png}")
    if not done:
        raise CLIError("none of the files could be read as an image")
    print(f"Grad-CAM on layer {layer}")
    return EXIT_SKIPPED if skipped else 0


def _add_explain(sub):
    p = sub.add_parser("explain", help="Grad-CAM heatmaps, first-layer filters, feature maps",
                       epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_dir", help="a saved model folder (saved_models/NAME)")
    p.add_argument("images", nargs="*",
                   help="image files, or folders (their image files, recursively)")
    p.add_argument("--class", dest="class_name", default=None, metavar="NAME",
                   help="explain this class (default: each image's predicted class)")
    p.add_argument("--layer", default=None,
                   help="convolutional layer for Grad-CAM (default: the model's last feature "
                        "layer, from the registry)")
    p.add_argument("--filters", action="store_true", help="draw the first convolution's filters")
    p.add_argument("--feature-maps", default=None, metavar="LAYER",
                   help="draw LAYER's feature maps for the first image")
    p.add_argument("--out", default=None, help="folder for the PNGs (default explanations/NAME)")
    p.set_defaults(func=_cmd_explain)


# --- dlzoo quickstart ---------------------------------------------------------------------------


def _cmd_quickstart(args) -> int:
    from dlzoo.quickstart import quickstart

    if args.transfer:  # --- the transfer demonstration (dlzoo.transfer_demo) ---
        from dlzoo.quickstart import quickstart_transfer

        quickstart_transfer(workdir=args.workdir, full=args.full, console=_console())
        return 0
    quickstart(workdir=args.workdir, epochs=args.epochs, console=_console(),
               verbose=0 if args.quiet else 2)
    return 0


def _add_quickstart(sub):
    p = sub.add_parser("quickstart", help="the main job on data that ships with the install "
                                          "(offline, about a minute on a laptop)")
    p.add_argument("--workdir", default="dlzoo-quickstart",
                   help="where the digits folder, the model and the evaluation go "
                        "(default ./dlzoo-quickstart)")
    p.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    p.add_argument("--transfer", action="store_true",
                   help="instead: the transfer demonstration, pretrained vs scratch on few "
                        "labelled digits (about a minute; with --full, about ten)")
    p.add_argument("--full", action="store_true", help="with --transfer: the whole experiment")
    p.set_defaults(func=_cmd_quickstart)
# --- dlzoo doctor ------------------------------------------------------------------------------


def _cmd_doctor(args) -> int:
    from dlzoo.data.doctor import diagnose_folder

    folder, labels = _doctor_data(args)
    report = diagnose_folder(
        folder, validation_split=args.validation_split, seed=args.seed,
        workers=args.workers, progress=not args.json, labels=labels,
    )
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        _print_doctor(report, limit=args.limit)
    if args.show_batch and report["usable_for_training"]:
        _show_batch(args)
    if not report["usable_for_training"]:
        raise CLIError(f"{report['root']}: " + "; ".join(report["problems"]))
    return 0


def _doctor_data(args) -> tuple[str | None, str | None]:
    """`(image folder, label file)` of `doctor DIRECTORY [--labels CSV]` (DIRECTORY may be the
    label file itself: paths relative to its folder)."""
    from dlzoo.data.labelfile import is_label_file

    if args.labels is not None:
        return args.directory, args.labels
    if is_label_file(args.directory):
        return None, args.directory
    return args.directory, None


def _print_doctor(r: dict, *, limit: int) -> None:
    from rich.table import Table

    con = _console()
    con.print(f"[bold]{r['root']}[/bold]: {r['usable']} usable image(s), "
              f"{len(r['skipped'])} skipped, manifest {r['manifest_hash'][:12]}")
    table = Table(title=f"classes (validation_split={r['validation_split']}, seed={r['seed']})")
    for col in ("class", "train", "val", "total"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for name, c in r["classes"].items():
        style = "red" if c["total"] == 0 else None
        table.add_row(name, str(c["train"]), str(c["val"]), str(c["total"]), style=style)
    con.print(table)
    if r["imbalance"] is not None:
        flag = "[yellow]imbalanced[/yellow]" if r["imbalanced"] else "ok"
        con.print(f"imbalance (largest / smallest class): {r['imbalance']:.2f} ({flag})")
    if r["empty_classes"]:
        con.print(f"[yellow]empty classes (left out):[/yellow] {', '.join(r['empty_classes'])}")
    sizes = r["image_sizes"]
    if sizes:
        h, w = sizes["height"], sizes["width"]
        con.print(f"image sizes: height {h['min']}-{h['max']} (median {h['median']}), "
                  f"width {w['min']}-{w['max']} (median {w['median']})")
    if r["decoded_by_pillow"]:
        con.print(f"decoded by Pillow (routed by their header): {len(r['decoded_by_pillow'])} file(s)")
    if r["skipped"]:
        con.print(f"[bold red]skipped files ({len(r['skipped'])})[/bold red]")
        for s in r["skipped"][:limit]:
            con.print(f"  {s['file']}: {s['reason']}", markup=False, highlight=False)
        if len(r["skipped"]) > limit:
            con.print(f"  ... and {len(r['skipped']) - limit} more (--limit, or --json for all)")
    dups = r["duplicates"]
    if dups:
        con.print(f"[bold]exact duplicates:[/bold] {len(dups)} group(s), "
                  f"{r['duplicates_across_splits']} shared between train and val, "
                  f"{r['duplicates_across_classes']} under different classes")
        ordered = sorted(dups, key=lambda g: (not g["across_splits"], not g["across_classes"]))
        for g in ordered[:limit]:
            tags = [t for t, on in (("train/val", g["across_splits"]),
                                    ("classes differ", g["across_classes"])) if on]
            con.print(f"  {', '.join(g['files'])}" + (f"  [{'; '.join(tags)}]" if tags else ""),
                      markup=False, highlight=False)
    else:
        con.print("exact duplicates: none")
    for p in r["problems"]:
        con.print(f"problem: {p}", style="bold red", markup=False, highlight=False)


def _show_batch(args) -> None:
    from dlzoo.data.doctor import show_batch

    out = args.out or os.path.join(
        "doctor", os.path.basename(os.path.normpath(args.directory)), "show_batch.png")
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    folder, labels = _doctor_data(args)
    shown = show_batch(folder, out, model=args.model, image_size=args.image_size,
                       color_mode=args.color_mode, augment=_parse_augment(args.augment),
                       count=args.show_batch, validation_split=args.validation_split,
                       seed=args.seed, labels=labels)
    print(f"{shown['images']} training images as the model receives them "
          f"({'x'.join(map(str, shown['image_size']))} {shown['color_mode']}, "
          f"{', '.join(shown['augmentation']) or 'no augmentation'}; from {shown['from']}): "
          f"{shown['png']}", file=sys.stderr if args.json else sys.stdout)


def _add_doctor(sub):
    p = sub.add_parser("doctor", help="check an image folder: bad files, classes, balance, duplicates")
    p.add_argument("directory", help="folder of class subfolders, or a CSV of file,label rows")
    p.add_argument("--labels", default=None, metavar="CSV",
                   help="label the images under DIRECTORY by this CSV of file,label rows (paths "
                        "relative to DIRECTORY)")
    p.add_argument("--validation-split", type=float, default=0.2,
                   help="split to check duplicates against (default 0.2, as training uses)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split checked (default 0)")
    p.add_argument("--workers", type=int, default=None,
                   help="threads decoding files with Pillow (default: up to 4)")
    p.add_argument("--limit", type=int, default=50, help="rows shown per list (default 50)")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument("--show-batch", type=int, nargs="?", const=16, default=None, metavar="N",
                   help="draw N (16) training images as the model receives them: resized, "
                        "colour-converted and augmented")
    p.add_argument("--model", default=None,
                   help="with --show-batch: a saved model (its input and augmentation) or a "
                        "registry name (its default input)")
    p.add_argument("--image-size", type=_parse_image_size, default=None,
                   help="with --show-batch: N or HxW (default the model's, else 224)")
    p.add_argument("--color-mode", choices=("rgb", "grayscale", "rgba"), default=None,
                   help="with --show-batch (default the model's, else rgb)")
    p.add_argument("--augment", nargs="?", const="default", default=None, metavar="SPEC",
                   help="with --show-batch: augmentation as finetune --augment takes it")
    p.add_argument("--out", default=None,
                   help="with --show-batch: the PNG (default doctor/FOLDER/show_batch.png)")
    p.set_defaults(func=_cmd_doctor)


# --- dlzoo datasets ----------------------------------------------------------------------------


def _cmd_datasets(args) -> int:
    if args.action == "export":
        from dlzoo.data.datasets import export_digits

        if args.name != "digits":
            raise CLIError(f"only 'digits' can be exported; received {args.name!r}")
        if not args.directory:
            raise CLIError("give the folder to write: dlzoo datasets export digits DIR")
        summary = export_digits(args.directory, image_size=args.image_size, overwrite=args.overwrite)
        print(f"wrote {summary['count']} PNG files ({summary['image_size'][0]}x"
              f"{summary['image_size'][1]}, grayscale) in 10 class folders under "
              f"{summary['directory']}; manifest {summary['manifest_hash'][:12]}")
        return 0
    from dlzoo.data.datasets import sources
    from dlzoo.data.tfds_sources import KNOWN_SPLITS

    for name, line in sources().items():
        print(f"{name:<20} {line}")
    print("tfds names (need prepared data or the network), e.g.: " + ", ".join(sorted(KNOWN_SPLITS)))
    return 0


def _add_datasets(sub):
    p = sub.add_parser("datasets", help="list data sources; export digits as a folder of PNGs")
    p.add_argument("action", choices=["list", "export"],
                   help="list the sources, or export one as a folder of PNGs")
    p.add_argument("name", nargs="?", default=None, help="for export: digits")
    p.add_argument("directory", nargs="?", default=None, help="for export: folder to write")
    p.add_argument("--image-size", type=_parse_image_size, default=(32, 32),
                   help="N or HxW (default 32x32)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty folder")
    p.set_defaults(func=_cmd_datasets)


# --- dlzoo finetune -----------------------------------------------------------------------------


def _parse_image_size(text: str) -> tuple:
    """--image-size: N (square) or HxW (also H,W)."""
    try:
        size = _parse_shape(text)
    except argparse.ArgumentTypeError:
        size = ()
    if len(size) == 1:
        return (size[0], size[0])
    if len(size) != 2:
        raise argparse.ArgumentTypeError(f"expected N or HxW such as 160 or 120x160; received {text!r}")
    return size


def _parse_model_args(items) -> dict:
    import yaml

    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CLIError(f"--set expects KEY=VALUE (e.g. --set activation=relu); received {item!r}")
        out[key.strip()] = yaml.safe_load(value)
    return out


def _parse_augment(text):
    import yaml

    if text is None:
        return False
    if text == "default":
        return True
    spec = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep:
            raise CLIError(f"--augment expects KEY=VALUE pairs such as zoom=0.1,translate=0.1; "
                           f"received {text!r}")
        spec[key.strip()] = yaml.safe_load(value)
    return spec


def finetune_settings(args) -> dict:
    """`dlzoo finetune`'s flags as `fine_tune` keywords: what the run is
    (`dlzoo.spec.RunSpec.from_finetune(source, data, **finetune_settings(args))`)."""
    return dict(
        weights=args.weights, layer=args.layer, pooling=args.pooling,
        head_epochs=args.head_epochs, epochs=args.epochs, unfreeze=args.unfreeze,
        head_learning_rate=args.head_lr, learning_rate=args.lr,
        train_batchnorm=args.train_batchnorm, augment=_parse_augment(args.augment),
        class_weight=args.class_weight, image_size=args.image_size,
        color_mode=args.color_mode, batch_size=args.batch_size,
        validation_split=args.validation_split, seed=args.seed,
        model_args=_parse_model_args(args.set), cache_dir=args.cache_dir or None,
        keep=args.keep, precision=args.precision or "auto", devices=args.devices or 1,
        **_switch_settings(args),
    )


def _cmd_finetune(args) -> int:
    from rich.table import Table

    from dlzoo.saving import (
        CARD_FILE,
        default_finetune_out,
        is_saved_model,
        saved_model_folder,
    )
    from dlzoo.transfer import fine_tune

    index = _join_processes(args, refuse=(("--find-lr", args.find_lr),))  # before any JAX
    data, images_root, data_words = _finetune_data(args)
    source = os.fspath(saved_model_folder(args.model) or args.model)  # FOLDER/model.keras: FOLDER
    saved = is_saved_model(source)
    if os.path.isdir(source) and not saved:
        raise CLIError(f"--model {source}: a folder but not a dlzoo saved model (no {CARD_FILE})")
    if args.use_found_lr and not args.find_lr:
        raise CLIError("--use-found-lr goes with --find-lr")
    if saved and args.set:
        raise CLIError(f"--set builds a registry model with other arguments; --model {source} is a "
                       "saved model, built already. Drop --set, or give a registry name")
    out = args.out or os.fspath(default_finetune_out(images_root, source))
    quiet = args.quiet
    if args.find_lr and _find_lr_finetune(source, out, args):
        return 0
    from dlzoo.distribution import process_output

    quiet = quiet or index > 0
    with process_output(out, runs_in=os.path.dirname(os.path.abspath(out)), resume=args.resume,
                        state=[f".runs/{os.path.basename(os.path.abspath(out))}"]) as out:
        settings = finetune_settings(args)
        if index:  # process 0 writes the feature cache
            settings["cache_dir"] = None
        result = fine_tune(source, data, **settings, out=out, resume=args.resume,
                           overwrite=args.overwrite, verbose=0 if quiet else 2,
                           log=(lambda *a: None) if quiet else print)
    if index:
        print(f"process {index}: done; process 0 wrote the model and its card")
        return 0
    card = result.card
    metrics = card.get("metrics", {})
    table = Table(title=f"{card['name']}: {card['model']} fine-tuned on {card['data']['source']}")
    table.add_column("phase")
    table.add_column("epochs run", justify="right")
    table.add_column("val accuracy", justify="right")
    table.add_column("val loss", justify="right")
    for phase, label in (("phase1", "1: head"), ("phase2", f"2: unfreeze {args.unfreeze}")):
        run = card["training"][phase]["epochs_run"]
        acc, loss = metrics.get(f"{phase}_val_accuracy"), metrics.get(f"{phase}_val_loss")
        table.add_row(label, str(run), "" if acc is None else f"{acc:.4f}",
                      "" if loss is None else f"{loss:.4f}")
    console = _console()
    console.print(table)
    kept = card["training"].get("kept")
    if kept:
        console.print(f"saved: {kept['phase'].replace('phase', 'phase ')}'s weights ("
                      f"{kept['reason']})", markup=False, highlight=False)
    if result.report is not None:
        console.print(result.report.table(title="held-out split, per class"))
    skipped = card["data"].get("skipped") or []
    if skipped:
        console.print(f"{len(skipped)} file(s) skipped (listed in {out}/card.json):")
        for path, reason in skipped[:10]:
            console.print(f"  {path}: {reason}", markup=False, highlight=False)
    console.print(f"saved to {out}/ (model.keras, card.json, README.md, curves.png"
                  + (", confusion_matrix.png" if result.report is not None else "") + ")\n"
                  f"  {_shell('dlzoo', 'evaluate', out, *data_words)}\n"
                  f"  {_shell('dlzoo', 'predict', out, _an_image(images_root, card))}\n"
                  f"  {_export_hint(out)}",
                  soft_wrap=True, markup=False, highlight=False)
    _print_baseline(metrics, console)
    return 0


def _finetune_data(args) -> tuple[str, str, list[str]]:
    """`(data for fine_tune, the images' folder, the data words of a follow-up command)` of
    `finetune DIRECTORY [--labels CSV]`: a folder of class subfolders, a label file (CSV of
    file,label rows, paths relative to its folder), or a folder with --labels."""
    from dlzoo.data.labelfile import csv_source, is_label_file

    given = args.directory
    labels = getattr(args, "labels", None)
    if labels is not None:
        if not os.path.isfile(labels):
            raise CLIError(f"--labels {labels}: no such file; give a CSV of file,label rows")
        if not os.path.isdir(given):
            raise CLIError(f"{given} is not a folder; with --labels give the folder the CSV's "
                           "paths are relative to")
        return csv_source(labels, given), given, [given, "--labels", labels]
    if is_label_file(given):
        return csv_source(given), os.path.dirname(os.path.abspath(given)), [given]
    if not os.path.isdir(given):
        raise CLIError(f"{given} is not a folder; give a folder with one subfolder per class, or "
                       "a CSV of file,label rows (labels.csv)")
    return given, given, [given]


def _an_image(directory, card) -> str:
    """A file of the folder the model read (the first of its first class; with a label file,
    its first usable row), for a `predict` line that runs as printed; the folder itself when
    none is found."""
    skipped = {os.path.normpath(str(s[0])) for s in card["data"].get("skipped") or []}
    labels_file = card["data"].get("labels_file")
    if labels_file:
        from dlzoo.data.labelfile import read_labels

        try:
            table = read_labels(labels_file, card["data"].get("images_root"))
        except (OSError, ValueError):
            return directory
        for rel, _, _, path in table.entries:
            if os.path.normpath(rel) not in skipped:
                return os.path.relpath(path) if not os.path.isabs(directory) else path
        return directory
    for name in card["data"].get("class_names") or []:
        folder = os.path.join(directory, name)
        try:
            files = sorted(f for f in os.listdir(folder) if not f.startswith("."))
        except OSError:
            continue
        for f in files:
            path = os.path.join(folder, f)
            if os.path.isfile(path) and os.path.normpath(path) not in skipped and not (
                    os.path.normpath(os.path.join(name, f)) in skipped):
                return path
    return directory


def _export_hint(model_dir) -> str:
    """The export line for this host: as it is under the TensorFlow backend; with
    KERAS_BACKEND=tensorflow in front where TensorFlow is installed but another backend runs;
    where TensorFlow is absent, what export needs instead of a command that would fail."""
    from dlzoo.backends import backend_name, has_tensorflow

    line = _shell("dlzoo", "export", model_dir, "--format", "savedmodel")
    if backend_name() == "tensorflow":
        return line
    if has_tensorflow():
        return "KERAS_BACKEND=tensorflow " + line
    return ("(export to SavedModel, ONNX or LiteRT needs TensorFlow, not installed here: "
            "pip install \"dlzoo[tf]\", or export on a host with it)")


def _find_lr_finetune(source, out, args) -> bool:
    """--find-lr: the range test for phase 1; True when that is all (no --use-found-lr), else
    sets --head-lr to the suggestion."""
    from dlzoo.lr_finder import find_lr_for_run
    from dlzoo.spec import RunSpec

    lr_out = os.path.join("lr_find", os.path.basename(os.path.normpath(out)))
    spec = RunSpec.from_finetune(source, _finetune_data(args)[0], **finetune_settings(args))
    found = find_lr_for_run(spec, out=lr_out, log=(lambda *a: None) if args.quiet else print)
    _print_lr_find(found, lr_out)
    if not args.use_found_lr:
        print(f"nothing trained; fine-tune at it with: --head-lr {found.suggestion:.2g} "
              "(or --find-lr --use-found-lr)")
        return True
    args.head_lr = float(f"{found.suggestion:.2g}")
    return False


def _add_finetune(sub):
    p = sub.add_parser("finetune", help="transfer learning on a folder of class subfolders")
    p.add_argument("directory", help="folder with one subfolder of images per class, or a CSV of "
                                     "file,label rows (paths relative to the CSV's folder; a "
                                     "'labels' column, a|b, trains a multi-label model)")
    p.add_argument("--labels", default=None, metavar="CSV",
                   help="label the images under DIRECTORY by this CSV of file,label rows (paths "
                        "relative to DIRECTORY) instead of by class subfolder")
    p.add_argument("--model", required=True,
                   help="a registry name (resnet50, vgg16, lenet5, ...) or a saved model folder")
    p.add_argument("--weights", type=_parse_weights, default=None,
                   help="with a registry name: imagenet, a weights file, a saved model folder, "
                        "or none (random, the default)")
    p.add_argument("--image-size", type=_parse_image_size, default=None,
                   help="N or HxW (default: a saved model's own size, else the model's default)")
    p.add_argument("--color-mode", choices=("rgb", "grayscale", "rgba"), default=None,
                   help="default: the saved model's own (from its card), else rgb")
    p.add_argument("--head-epochs", type=int, default=10, help="phase 1 epochs (default 10)")
    p.add_argument("--epochs", type=int, default=30, help="phase 2 epochs (default 30; 0 skips it)")
    p.add_argument("--unfreeze", default="all",
                   help="phase 2: all (default), top:K block groups, or none")
    p.add_argument("--head-lr", type=float, default=1e-3, help="phase 1 learning rate (1e-3)")
    p.add_argument("--lr", type=float, default=None,
                   help="phase 2 learning rate (default: the head's; a tenth of it with "
                        "--weights imagenet)")
    p.add_argument("--augment", nargs="?", const="default", default=None, metavar="SPEC",
                   help="random horizontal flips, rotations (0.05) and zooms (0.1); or your own, "
                        "e.g. --augment zoom=0.1,translate=0.1 (no flips: digits, text), with "
                        "flip, rotation, zoom, translate, contrast, rand_augment, augmix, erasing, "
                        "mixup, cutmix, mix_off_epoch (README: Training switches). Phase 1 "
                        "then runs the frozen network instead of the feature cache")
    p.add_argument("--train-batchnorm", action="store_true",
                   help="let BatchNorm update its statistics in phase 2 (default: frozen)")
    p.add_argument("--class-weight", choices=("balanced",), default=None,
                   help="balanced: weigh each class by n / (classes x its count) in the loss, "
                        "for unequal classes")
    p.add_argument("--layer", default=None, help="feature layer (default: the model's, by name)")
    p.add_argument("--pooling", choices=("avg", "max", "flatten"), default="avg",
                   help="how the feature map becomes the head's input (default avg)")
    p.add_argument("--batch-size", type=int, default=32, help="images per step (default 32)")
    p.add_argument("--validation-split", type=float, default=0.2,
                   help="fraction of each class held out for validation (default 0.2)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the split, the head's weights and the shuffling (default 0)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="builder argument for a registry name (e.g. activation=relu); repeatable")
    p.add_argument("--cache-dir", default=os.path.join(".dlzoo-cache", "features"),
                   help="feature cache folder (default .dlzoo-cache/features; '' for none)")
    p.add_argument("--out", default=None,
                   help="where to save (default saved_models/FOLDER-MODEL)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a saved model already at --out (otherwise refused)")
    p.add_argument("--keep", choices=("best", "last"), default="best",
                   help="save the phase that scored better on validation (default) or the last")
    p.add_argument("--resume", action="store_true",
                   help="continue the unfinished fine-tune into --out (killed, stopped, "
                        "preempted) in the phase and epoch it reached; the same flags")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    _add_find_lr_flags(p, "--head-lr (phase 1)")
    _add_run_flags(p, "both phases", recipe=False)
    _add_switch_flags(p, recipe=False)
    p.set_defaults(func=_cmd_finetune)


# --- dlzoo export -------------------------------------------------------------------------------


def _cmd_export(args) -> int:
    from dlzoo.export import export, labels_path, usage_path
    from dlzoo.saving import read_card

    path = export(args.model_dir, args.format, out=args.out, dynamic_size=args.dynamic_size,
                  overwrite=args.overwrite, quantize=args.quantize,
                  representative=args.representative, command=_shell(
                      "dlzoo", "export", args.model_dir, "--format", args.format,
                      *(["--out", args.out] if args.out else []),
                      *(["--dynamic-size"] if args.dynamic_size else []),
                      *(["--quantize", args.quantize] if args.quantize else []),
                      *(["--representative", args.representative] if args.representative
                        else []),
                      *(["--overwrite"] if args.overwrite else [])))
    shape = read_card(args.model_dir).get("input_shape", [])
    fixed = args.format == "litert" and not args.dynamic_size and len(shape) == 3
    size = (f"declared 1x{shape[0]}x{shape[1]}x{shape[2]} (resize_tensor_input for any other)"
            if fixed else "of any size")
    print(f"exported {args.model_dir} as {args.format} to {path}\n"
          f"  input: uint8 images (batch, height, width, 1-4 channels), {size}; converted to "
          f"{'x'.join(map(str, shape))} and preprocessed inside\n"
          f"  output: class probabilities; class names in {labels_path(path)}\n"
          f"  how to load it: {usage_path(path)}")
    if args.quantize:
        _print_quantization(path)
    return 0


def _print_quantization(path) -> None:
    from dlzoo.quantization import REPORT_FILE

    r = json.loads((path.parent / REPORT_FILE).read_text())
    kind = {"int8": "int8", "float16": "float16 weights"}[r["quantize"]]
    print(f"  {kind}: {r['bytes'] / 1e6:.3f} MB, float32 "
          f"{r['float_bytes'] / 1e6:.3f} MB ({r['size_ratio']:.2f}x)")
    if "samples" in r:
        print(f"  held-out accuracy {r['quantized_accuracy']:.4f}, float model "
              f"{r['float_accuracy']:.4f} ({r['accuracy_change']:+.4f}); top-1 agrees on "
              f"{r['top1_agreement']:.2%} ({r['held_out']})")
    else:
        print(f"  accuracy {r['held_out']}")


def _add_export(sub):
    p = sub.add_parser("export", help="export a saved model for serving (raw uint8 images in)")
    p.add_argument("model_dir", help="a saved model folder (saved_models/NAME)")
    p.add_argument("--format", choices=("savedmodel", "onnx", "litert"), default="savedmodel",
                   help="savedmodel (TensorFlow), onnx (needs tf2onnx and onnx) or litert (.tflite)")
    p.add_argument("--out", default=None, help="folder to write (default exports/NAME/FORMAT, "
                   "or exports/NAME/FORMAT-QUANTIZE)")
    p.add_argument("--dynamic-size", action="store_true",
                   help="litert: declare height and width unknown instead of the model's size")
    p.add_argument("--quantize", choices=("int8", "float16"), default=None,
                   help="litert: int8 (weights and activations) or float16 (weights); onnx: "
                        "int8. Size and held-out accuracy change go in USAGE.md")
    p.add_argument("--representative", metavar="FOLDER", default=None,
                   help="--quantize int8: images to calibrate on (default: drawn from the "
                        "training split of the data the card names)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an export already at --out (otherwise refused)")
    p.set_defaults(func=_cmd_export)


# --- dlzoo tune ---------------------------------------------------------------------------------


def _cmd_tune(args) -> int:
    from dlzoo.recipes import load_recipe

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

    from dlzoo.distribution import process_output

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


def _add_tune(sub):
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
    p.set_defaults(func=_cmd_tune)


# --- parser and entry point --------------------------------------------------------------------

SUBCOMMANDS = [_add_list, _add_info, _add_build, _add_doctor, _add_datasets, _add_train,
               _add_evaluate, _add_predict, _add_generate, _add_explain, _add_quickstart,
               _add_finetune, _add_export, _add_tune]


class _Parser(argparse.ArgumentParser):
    """argparse's parser whose errors are one line, as dlzoo's own are: what was wrong and where
    to read the options, instead of the whole usage block above the one line that matters."""

    def parse_known_args(self, args=None, namespace=None):
        self._argv = list(sys.argv[1:] if args is None else args)  # for _closest_flag
        return super().parse_known_args(args, namespace)

    def error(self, message):
        hint = self._closest_flag(message)
        self.exit(2, f"{self.prog}: error: {message}{hint} (see `{self.prog} --help`)\n")

    def _closest_flag(self, message: str) -> str:
        """' (closest: --head-epochs)' for a misspelt flag, among the command's own."""
        if not message.startswith("unrecognized arguments:"):
            return ""
        flag = next((w.split("=")[0] for w in message.split(":", 1)[1].split()
                     if w.startswith("--")), None)
        if flag is None:
            return ""
        argv = getattr(self, "_argv", [])
        options = set(self._option_string_actions)
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                command = next((a for a in argv if a in action.choices), None)
                for p in [action.choices[command]] if command else action.choices.values():
                    options |= set(p._option_string_actions)
        close = closest(flag, sorted(o for o in options if o.startswith("--")))
        return f" (closest: {close})" if close else ""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dlzoo", description="Keras 3 model zoo and transfer-learning toolkit.",
        epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--version", action="store_true", help="print versions and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    for p in sub.choices.values():  # for _refuse_conflicts: which values are the defaults
        p.set_defaults(_subparser=p)
    return parser


def _versions() -> str:
    from dlzoo.backends import backend_name, installed_version
    from dlzoo.version import __version__

    # Read from the installed metadata and Keras's own settings: importing Keras would import
    # its backend (seconds of TensorFlow or JAX start-up) to print two words.
    return f"dlzoo {__version__}, keras {installed_version('keras')}, backend {backend_name()}"


def main(argv=None) -> int:
    from dlzoo.quiet import quiet_tensorflow_import

    quiet_tensorflow_import()  # TensorFlow's absl/CUDA start-up lines, as TF_CPP_MIN_LOG_LEVEL says
    import warnings

    if warnings.formatwarning is not _warning_line:
        _PYTHON_FORMAT.append(warnings.formatwarning)
        warnings.formatwarning = _warning_line
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(_versions())
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    stop = _Interrupt(args, sys.argv[1:] if argv is None else list(argv))
    try:
        _refuse_conflicts(args)
        with stop:
            code = int(args.func(args) or 0)
        if not stop.pressed:
            return code
        raise KeyboardInterrupt  # a Ctrl-C that some library took for a failure and went on
    except KeyboardInterrupt:
        stop.handled = True
        print(f"dlzoo: interrupted; {stop.closing_line()}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `dlzoo list | head`: the reader has all it wants; say nothing more
        # Python's documented recipe: point stdout at devnull so the flush at exit cannot raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (CLIError, ValueError, TypeError, ImportError, OSError) as e:  # OSError: files, network
        if args.debug:
            raise
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"dlzoo: error: {msg}", file=sys.stderr)
        return 2
    except Exception as e:  # any other fault still ends in one line, not a traceback
        if stop.pressed:  # the Ctrl-C, raised inside C code as SystemError ("bad argument ...")
            stop.handled = True
            print(f"dlzoo: interrupted; {stop.closing_line()}", file=sys.stderr)
            return 130
        if args.debug:
            raise
        print(f"dlzoo: error: {unexpected_error_line(e)}", file=sys.stderr)
        return 1


class _Interrupt:
    """One Ctrl-C stops every command within seconds, and says how to go on.

    Python raises KeyboardInterrupt wherever the main thread is; where that is a callback run by
    the garbage collector (JAX's `_xla_gc_callback`), Python prints "Exception ignored in ..." and
    the program goes on, so a search needed three presses. Here the first SIGINT raises it as
    Python would, and a watchdog raises it again each second until the command has stopped; after
    `GRACE` seconds (or at a second Ctrl-C) the process ends at once with the same closing line.
    Training and searches keep their state on disk as they go (a kill -9 is resumable), so
    ending there leaves the run resumable."""

    GRACE = 10.0

    def __init__(self, args, argv):
        self.args, self.argv = args, argv
        self.handled, self.pressed, self.repeating, self.previous = False, False, False, None

    def __enter__(self):
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._on_sigint)
            self.previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        return self

    def __exit__(self, *exc):
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            sys.unraisablehook = self.previous_hook
        self.handled = True
        return False

    def _on_sigint(self, signum, frame):
        import threading

        if self.repeating:  # the watchdog's own: raise it again
            self.repeating = False
            raise KeyboardInterrupt
        if self.pressed:  # a second Ctrl-C: now
            self._end_now()
        from dlzoo.interrupts import mark_pressed

        self.pressed = True
        mark_pressed()
        threading.Thread(target=self._watch, daemon=True).start()
        raise KeyboardInterrupt

    def _watch(self):
        import _thread
        import time

        start = time.monotonic()
        while time.monotonic() - start < self.GRACE:
            time.sleep(1.0)
            if self.handled:
                return
            self.repeating = True
            _thread.interrupt_main()  # the first one was swallowed (a gc callback): again
        if not self.handled:
            self._end_now()

    def _end_now(self):
        try:
            sys.stderr.write(f"dlzoo: interrupted; {self.closing_line()}\n")
            sys.stderr.flush()
        finally:
            os._exit(130)

    def _unraisable(self, unraisable):
        if self.pressed and issubclass(unraisable.exc_type, KeyboardInterrupt):
            return  # the swallowed Ctrl-C: the watchdog raises it again where it counts
        self.previous_hook(unraisable)

    def closing_line(self) -> str:
        """How to go on: the exact command that resumes, where there is something to resume."""
        try:
            command = self._resume_command()
        except Exception:  # noqa: BLE001 (a closing line must not fail)
            command = None
        if command:
            return f"resume with: {command}"
        if self.args.command in ("train", "tune", "finetune"):
            return "nothing to resume yet (the run had not started); run the same command again"
        if self.args.command in ("quickstart", "export"):
            return "nothing was saved; run the same command again"
        return "run the same command again"

    def _resume_command(self) -> str | None:
        args = self.args
        if args.command == "finetune" and not getattr(args, "find_lr", False):
            return self._finetune_resume_command()
        if args.command not in ("train", "tune") or getattr(args, "folds", None) is not None \
                or getattr(args, "find_lr", False) or getattr(args, "role", None):
            return None
        from dlzoo.recipes import load_recipe

        name = load_recipe(args.recipe, overrides=args.set or [], check_registry=False)["name"]
        state = os.path.join(args.output, ".runs" if args.command == "train" else ".tuning", name)
        if not os.path.isdir(state):
            return None
        words = [w for w in self.argv if w != "--overwrite"]
        if "--resume" not in words:
            words.append("--resume")
        return _shell("dlzoo", *words)


    def _finetune_resume_command(self) -> str | None:
        from dlzoo.saving import default_finetune_out, saved_model_folder
        from dlzoo.transfer.finetune import run_folder

        args = self.args
        out = args.out or default_finetune_out(
            args.directory, os.fspath(saved_model_folder(args.model) or args.model))
        if not (run_folder(out) / "recipe.json").exists():
            return None
        words = [w for w in self.argv if w != "--overwrite"]
        if "--resume" not in words:
            words.append("--resume")
        return _shell("dlzoo", *words)


_PYTHON_FORMAT = []  # warnings.formatwarning as it was before main() replaced it


def _warning_line(message, category, filename, lineno, line=None) -> str:
    """dlzoo's own warnings as one line, "dlzoo: warning: ...", without Python's file path and
    source line; other packages' warnings as Python writes them (they are theirs to word)."""
    package = os.path.dirname(os.path.abspath(__file__))
    if os.path.abspath(filename).startswith(package + os.sep) or not _PYTHON_FORMAT:
        return f"dlzoo: warning: {message}\n"
    return _PYTHON_FORMAT[0](message, category, filename, lineno, line)


def unexpected_error_line(e: BaseException) -> str:
    """The one line for an exception no command expects: what happened and what to do."""
    text = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
    what = f"{type(e).__name__}: {text}" if text else type(e).__name__
    if isinstance(e, MemoryError):
        advice = ("out of memory: use smaller sizes (batch_size, image_size, samples) or a "
                  "machine with more memory")
    else:
        advice = "this is unexpected; check the files and values you passed"
    return f"{what} ({advice}; run again with --debug for the traceback)"


def _refuse_conflicts(args) -> None:
    """Raises CLIError for two flags that contradict each other, a flag given without the one it
    modifies (`evaluate --epsilon` without `--adversarial`), or a number out of its range: the
    rules are the run's (`dlzoo.spec.rules.check_flags`: CONFLICTS, REQUIRES, LIMITS)."""
    subparser = getattr(args, "_subparser", None)
    if subparser is None:
        return
    try:
        check_flags(getattr(args, "command", None), args, subparser.get_default)
    except FlagError as e:
        raise CLIError(str(e)) from None


if __name__ == "__main__":
    sys.exit(main())
