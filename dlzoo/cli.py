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

# TensorFlow's C++ start-up chatter (CUDA probes, oneDNN notes) hides the one line that matters.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


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

    from dlzoo.registry import list_models, model_info

    names = list_models(args.pattern, task=args.task, family=args.family)
    if not names:
        raise CLIError(
            f"no model matches pattern={args.pattern!r} task={args.task!r} family={args.family!r}; "
            "run `dlzoo list` for every model"
        )
    table = Table(title=f"dlzoo models ({len(names)})")
    for col in ("name", "family", "task", "default input", "params", "weights"):
        table.add_column(col, justify="right" if col == "params" else "left")
    for n in names:
        info = model_info(n)
        table.add_row(
            info.name,
            info.family,
            info.task,
            "x".join(str(s) for s in info.default_input_shape),
            _fmt_params(info.params),
            ", ".join(info.weights) or "-",
        )
    _console().print(table)
    return 0


def _add_list(sub):
    p = sub.add_parser("list", help="table of models with parameters and weights")
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. 'resnet*'")
    p.add_argument("--task", default=None)
    p.add_argument("--family", default=None)
    p.set_defaults(func=_cmd_list)


def _cmd_info(args) -> int:
    from dlzoo.registry import model_info

    info = model_info(args.name).as_dict()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
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
    p.add_argument("name")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)


def _cmd_build(args) -> int:
    from dlzoo.registry import build

    kwargs = {}
    if args.input_shape is not None:
        kwargs["input_shape"] = args.input_shape
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    if args.weights is not None:
        kwargs["weights"] = args.weights
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
    p.add_argument("name")
    p.add_argument("--input-shape", type=_parse_shape, default=None, help="e.g. 64,64,3")
    p.add_argument("--num-classes", type=int, default=None)
    p.add_argument("--weights", default=None, help="imagenet, a weights file or a saved model")
    p.add_argument("--summary", action="store_true", help="print model.summary()")
    p.set_defaults(func=_cmd_build)


# --- parser and entry point --------------------------------------------------------------------

SUBCOMMANDS = [_add_list, _add_info, _add_build]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlzoo", description="Keras 3 model zoo and transfer-learning toolkit."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--version", action="store_true", help="print versions and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def _versions() -> str:
    import keras

    import dlzoo

    return f"dlzoo {dlzoo.__version__}, keras {keras.__version__}, backend {keras.backend.backend()}"


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(_versions())
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("dlzoo: interrupted", file=sys.stderr)
        return 130
    except (CLIError, ValueError, TypeError, FileNotFoundError, NotADirectoryError,
            PermissionError, ConnectionError, ImportError, OSError) as e:
        if args.debug:
            raise
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"dlzoo: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
