"""`dlzoo quickstart`: the main job, end to end, on data that ships with the install.

Exports scikit-learn's handwritten digits to a folder of PNGs (one subfolder per class, as a user's
own images would be), trains LeNet-5 on that folder with the `lenet5-digits` recipe and the
standard callbacks, evaluates it, saves it with its card and plots, reloads the saved model and
predicts a few files, then says what it did and where everything is. Offline; about a minute on
two CPU cores.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

from dlzoo.commands._output import _console
from dlzoo.recipes import load_recipe
from dlzoo.saving import load

__all__ = ["quickstart"]


def quickstart(workdir="dlzoo-quickstart", *, epochs: int | None = None, console=None,
               verbose: int = 2) -> dict:
    """Runs the quickstart in `workdir`; returns what it made (paths, accuracy, seconds).

    Args:
        workdir: folder for `digits/` (the exported images) and `saved_models/lenet5-digits/`.
        epochs: override the recipe's epochs (early stopping usually ends the run before).
        console: a `rich.console.Console` for the output (a new one by default).
        verbose: Keras fit verbosity.
    """
    from rich.console import Console

    from dlzoo.data.datasets import export_digits
    from dlzoo.training import run_recipe

    console = console or Console()
    start = time.perf_counter()
    work = Path(workdir)
    digits = work / "digits"
    console.rule("dlzoo quickstart")
    console.print(f"1/4 exporting scikit-learn's digits to [bold]{digits}/[/bold] "
                  "(PNG files, one folder per class)")
    exported = export_digits(digits, image_size=(32, 32), overwrite=True)
    console.print(f"    {exported['count']} images in {len(exported['counts'])} classes")

    # the recipe's own name and expected figure: the folder holds the recipe's digits
    overrides = [f"data.source=folder:{digits.as_posix()}", "name=lenet5-digits"]
    if epochs is not None:
        overrides.append(f"train.epochs={epochs}")
    recipe = load_recipe("lenet5-digits", overrides=overrides)
    console.print(f"2/4 training LeNet-5 on the folder (recipe lenet5-digits: "
                  f"{recipe['train']['optimizer']}, lr {recipe['train']['learning_rate']}, up to "
                  f"{recipe['train']['epochs']} epochs, early stopping, LR on plateau, "
                  "checkpoint, backup-and-restore, CSV log)")
    result = run_recipe(recipe, output=work / "saved_models", verbose=verbose,
                        log=lambda *a: console.print("    " + " ".join(map(str, a))))
    console.print("3/4 evaluating on the validation images")
    console.print(result.report.table(title="LeNet-5 on the digits, validation split"))

    console.print(f"4/4 reloading {result.saved_dir}/ and predicting a few held-out files")
    card = result.card
    kept = _predict_held_out(result.saved_dir, card, digits, recipe["data"], console)

    seconds = time.perf_counter() - start
    acc = card["metrics"]["val_accuracy"]
    saved = result.saved_dir
    console.rule("done")
    from rich.markup import escape

    console.print(
        f"LeNet-5 reached [bold]{acc:.2%}[/bold] validation accuracy on "
        f"{card['metrics']['val_samples']} held-out digits after {result.epochs_run} epochs "
        f"(best epoch {card['metrics'].get('best_epoch')}); {seconds:.0f} s in all.\n"
        f"  images        {digits}/\n"
        f"  model         {saved}/model.keras (takes raw 0-255 pixels; preprocessing inside)\n"
        f"  card          {saved}/card.json and {saved}/README.md\n"
        f"  curves        {saved}/curves.png, {saved}/confusion_matrix.png, {saved}/history.csv\n"
        "Next:\n"
        # shell-quoted, so they paste as they are when a path has spaces (markup-escaped: rich)
        f"  {escape(shlex.join(['dlzoo', 'predict', str(saved), str(kept[0])]))}\n"
        f"  {escape(shlex.join(['dlzoo', 'evaluate', str(saved), str(digits)]))}\n"
        f"  {escape(shlex.join(_train_hint(work)))}     (any shipped recipe, or a file)",
        soft_wrap=True,
    )
    return {
        "workdir": str(work),
        "digits": str(digits),
        "saved_dir": str(saved),
        "val_accuracy": acc,
        "epochs_run": result.epochs_run,
        "seconds": seconds,
    }


def _train_hint(work: Path) -> list[str]:
    """`dlzoo train lenet5-digits ...` into a folder of the workdir that holds no lenet5-digits
    yet: it runs as printed, wherever it is printed (./saved_models/lenet5-digits is the model
    the repository ships, which a plain `dlzoo train lenet5-digits` would refuse to replace)."""
    output, n = work / "runs", 1
    while (output / "lenet5-digits").exists() or (output / ".runs" / "lenet5-digits").exists():
        n += 1
        output = work / f"runs{n}"
    return ["dlzoo", "train", "lenet5-digits", "--set", "train.epochs=10", "--output",
            output.as_posix()]


def _predict_held_out(saved_dir, card: dict, digits: Path, data: dict, console) -> list:
    """Reloads the saved model and prints its top 2 for the first held-out file of five classes
    (images it never trained on); returns the files read."""
    from dlzoo.data.folders import in_validation
    from dlzoo.evaluation import read_images, top_k

    model = load(saved_dir)
    split, seed = data["validation_split"], data["seed"]
    samples = [
        next(p for p in sorted((digits / c).glob("*.png"))
             if in_validation(f"{c}/{p.name}", split, seed))
        for c in card["class_names"][:5]
    ]
    images, kept, _ = read_images(samples, card["input_shape"])
    ranked = top_k(model.predict(images, verbose=0), card["class_names"], k=2)
    for path, row in zip(kept, ranked):
        console.print(f"    {path}: " + ", ".join(f"{c} ({p:.3f})" for c, p in row),
                      soft_wrap=True)
    return kept


# --- dlzoo quickstart --transfer ------------------------------------------------------------------


def quickstart_transfer(workdir="dlzoo-quickstart", *, full: bool = False, console=None) -> dict:
    """A reduced transfer demonstration (`dlzoo.commands.transfer_demo`): LeNet-5 pre-trained on digits
    0-4, then pretrained vs scratch (both with augmentation) on 2 and 10 labelled images per class
    of digits 5-9, two seeds; `full=True` runs the whole experiment (about ten minutes on 2 CPU
    cores). Returns the figures."""
    from rich.console import Console
    from rich.table import Table

    from dlzoo.commands.transfer_demo import POLICIES, QUICK_POLICIES, run_demo

    console = console or Console()
    work = Path(workdir) / "transfer"
    console.rule("dlzoo quickstart --transfer")
    settings = ({"ks": (2, 5, 10, 25), "seeds": (0, 1, 2, 3), "policies": POLICIES} if full else
                {"ks": (2, 10), "seeds": (0, 1), "policies": QUICK_POLICIES})
    console.print(f"pretrained start vs scratch on digits 5-9 with k = "
                  f"{', '.join(map(str, settings['ks']))} labelled images per class, "
                  f"{len(settings['seeds'])} seeds" + ("" if full else " (reduced; --full for all)"))
    result = run_demo(work, log=lambda *a: console.print("    " + " ".join(map(str, a))),
                      **settings)
    table = Table(title="accuracy on the other 5-9 digits (mean ± std over seeds)")
    table.add_column("policy")
    for k in result["ks"]:
        table.add_column(f"k={k}", justify="right")
    for p, v in result["policies"].items():
        table.add_row(p, *(f"{m:.3f} ± {s:.3f}" for m, s in zip(v["mean"], v["std"])))
    console.print(table)
    console.print(f"{result['seconds']:.0f} s. Curves: {result['plot']}\n"
                  f"Pre-trained model with these figures in its card: {result['saved_dir']}/\n"
                  "The full experiment and what it found: benchmarks/RESULTS.md and the README "
                  "section 'Fine-tune on your own images'.", soft_wrap=True)
    return result


# --- the command ---------------------------------------------------------------------------------


def run(args) -> int:
    if args.transfer:  # --- the transfer demonstration (dlzoo.commands.transfer_demo) ---
        quickstart_transfer(workdir=args.workdir, full=args.full, console=_console())
        return 0
    quickstart(workdir=args.workdir, epochs=args.epochs, console=_console(),
               verbose=0 if args.quiet else 2)
    return 0


def add_parser(sub):
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
    p.set_defaults(func=run)
