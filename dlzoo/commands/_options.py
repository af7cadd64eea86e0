"""The flags and argument parsers several commands share, and the check `main()` runs on every
command's arguments before it starts (contradicting flags, flags that need another, numeric
limits: the rules in `dlzoo.spec.rules`)."""

from __future__ import annotations

import argparse
import json
import os

from dlzoo.distribution import join_processes
from dlzoo.precision import PRECISIONS
from dlzoo.schedules import LR_SCHEDULES
from dlzoo.spec.rules import FlagError, check_flags
from dlzoo.tasks import Task, with_article


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


# Flags people try on `train` / `tune` that are recipe values there, which `--set KEY=VALUE`
# sets (dlzoo.spec.rules.DEFAULTS names the keys): --flag's dest -> the recipe key, for the
# parser's error line (`--epochs 1`: use --set train.epochs=1).
RECIPE_COMMANDS = ("train", "tune")
RECIPE_FLAGS = {
    "epochs": "train.epochs", "epoch": "train.epochs",
    "learning_rate": "train.learning_rate", "lr": "train.learning_rate",
    "loss": "train.loss", "metrics": "train.metrics", "augment": "train.augment",
    "strategy": "train.strategy", "adversarial": "train.adversarial",
    "batch_size": "data.batch_size", "batch": "data.batch_size",
    "seed": "data.seed", "validation_split": "data.validation_split",
    "val_split": "data.validation_split", "image_size": "data.image_size",
    "color_mode": "data.color_mode", "source": "data.source", "data": "data.source",
    "data_dir": "data.data_dir", "model": "model", "name": "name",
    "monitor": "callbacks.monitor", "patience": "callbacks.early_stopping.patience",
    "early_stopping": "callbacks.early_stopping", "checkpoint": "callbacks.checkpoint",
}


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


def _parse_weights(text: str):
    """--weights: "none" is None (random weights), as `weights=None` in Python."""
    return None if text.lower() == "none" and not os.path.exists(text) else text


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


def _parse_devices(text: str):
    """--devices: N or all."""
    if text == "all":
        return text
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected a positive integer or all; received {text!r}")


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
        raise CLIError(f"--tta flips and crops images; {args.model_dir} is "
                       f"{with_article(task)} model. Drop --tta.")


def _add_tta_flags(p, what: str) -> None:
    p.add_argument("--tta", action="store_true",
                   help="test-time augmentation: also average the probabilities over the image "
                        f"and its mirror image (left-right); {what}")
    p.add_argument("--tta-crops", type=int, default=None, metavar="N",
                   help="with --tta (implied): also N crops of 0.875 of the image (1-5: the "
                        "centre, then the corners), each mirrored too: 2 x (1 + N) views")


def _add_run_flags(p, what: str, recipe: bool = True) -> None:
    """--precision and --devices, the same words for train, finetune and tune."""
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


def _add_find_lr_flags(p, what: str) -> None:
    p.add_argument("--find-lr", action="store_true",
                   help="learning-rate range test (Smith 2017): loss curve and suggested rate in "
                        "lr_find/NAME/; trains nothing else unless --use-found-lr")
    p.add_argument("--use-found-lr", action="store_true",
                   help=f"with --find-lr: then train with the suggested rate as {what}")


def _saved_task(model_dir):
    """The task a saved model's card names, or None (no readable card: the command's own
    checks say what is wrong)."""
    try:
        with open(os.path.join(model_dir, "card.json"), encoding="utf-8") as f:
            task = json.load(f).get("task")
        return None if task is None else Task(task)
    except (OSError, ValueError, AttributeError):
        return None


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
