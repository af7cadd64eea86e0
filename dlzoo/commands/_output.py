"""What several commands print: the shell line of a follow-up command, the console, a run's
table (train, tune), the baseline lines (train, finetune) and the learning-rate range test's line
(train, finetune)."""

from __future__ import annotations

import os


def _shell(*words) -> str:
    """A command line that pastes into a shell as it is: paths with spaces or quotes quoted."""
    import shlex

    return " ".join(shlex.quote(str(w)) for w in words)


def _console():
    from rich.console import Console

    return Console()


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
    if card.get("task") == "text_generation":
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


def _print_lr_find(found, out) -> None:
    print(f"learning-rate range test ({len(found.losses)} steps): suggested learning rate "
          f"{found.suggestion:.2g} (lowest smoothed loss at {found.min_loss_lr:.2g}, steepest "
          f"descent at {found.steepest:.2g}); curve in {found.png}, figures in "
          f"{os.path.join(out, 'lr_find.json')}")
