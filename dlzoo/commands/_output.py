"""What several commands print: the shell line of a follow-up command, the console, a run's
table (train, tune), the baseline lines (train, finetune) and the learning-rate range test's line
(train, finetune)."""

from __future__ import annotations

import os

from dlzoo.tasks import Task


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
    if card.get("task") == Task.TEXT_GENERATION:
        follow = _shell("dlzoo", "generate", result.saved_dir, "--n", 3)
        console.print(f"write sentences with it: {follow}", markup=False, highlight=False)
    _print_baseline(card.get("metrics", {}), console)


def _print_baseline(metrics: dict, console) -> None:
    """Validation accuracy beside the majority-class baseline; last, a warning when the model
    does not beat it."""
    for line, style in ((baseline_line(metrics), None), (baseline_warning(metrics), "bold red")):
        if line:
            console.print(line, style=style, markup=False, highlight=False, soft_wrap=True)


def _print_lr_find(found, out) -> None:
    print(f"learning-rate range test ({len(found.losses)} steps): suggested learning rate "
          f"{found.suggestion:.2g} (lowest smoothed loss at {found.min_loss_lr:.2g}, steepest "
          f"descent at {found.steepest:.2g}); curve in {found.png}, figures in "
          f"{os.path.join(out, 'lr_find.json')}")


def baseline_line(metrics: dict, prefix: str = "val_") -> str | None:
    """One line setting validation accuracy beside the majority-class baseline, balanced
    accuracy and macro-F1 (None when `metrics` has no baseline, e.g. an older card)."""
    base = metrics.get(f"{prefix}majority_baseline")
    if base is None or metrics.get(f"{prefix}accuracy") is None:
        return None
    return (f"validation accuracy {metrics[f'{prefix}accuracy']:.4f} against a majority-class "
            f"baseline of {base:.4f} (always {metrics.get(f'{prefix}majority_class')!r}); "
            f"balanced accuracy {metrics.get(f'{prefix}balanced_accuracy', float('nan')):.4f}, "
            f"macro-F1 {metrics.get(f'{prefix}macro_f1', float('nan')):.4f}")


def baseline_warning(metrics: dict, prefix: str = "val_") -> str | None:
    """The warning for a model that does not beat the majority-class baseline on validation
    (None when it does, or when `metrics` has no baseline)."""
    if metrics.get(f"{prefix}beats_majority_baseline", True):
        return None
    acc, base = metrics[f"{prefix}accuracy"], metrics[f"{prefix}majority_baseline"]
    return (f"warning: the model does not beat the majority-class baseline: validation accuracy "
            f"{acc:.4f} <= {base:.4f}, what always answering "
            f"{metrics.get(f'{prefix}majority_class')!r} scores (balanced accuracy "
            f"{metrics.get(f'{prefix}balanced_accuracy', float('nan')):.4f}): no better than "
            "ignoring the images. Try --class-weight balanced (train.class_weight: balanced in a "
            "recipe) for unequal classes, more epochs or data, pretrained weights, or another "
            "learning rate.")
