"""`dlzoo list`: the table of models, read from the stored catalog (no backend, no build)."""

from __future__ import annotations

import sys

from dlzoo.catalog import entry, list_names
from dlzoo.commands._options import CLIError
from dlzoo.commands._output import _console


def _fmt_params(n) -> str:
    if n is None:
        return "?"
    if n >= 1e6:
        return f"{n / 1e6:.1f}M"
    if n >= 1e3:
        return f"{n / 1e3:.1f}K"
    return str(n)


def run(args) -> int:
    from rich.table import Table

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


def add_parser(sub):
    p = sub.add_parser("list", help="table of models with parameters and weights")
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. 'resnet*'")
    p.add_argument("--task", default=None,
                   help="only models of this task (image_classification, text_classification, ...)")
    p.add_argument("--family", default=None, help="only models of this family (resnet, vgg, ...)")
    p.set_defaults(func=run)
