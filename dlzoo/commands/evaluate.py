"""`dlzoo evaluate MODEL_DIR DATA`: metrics of a saved model
(`dlzoo.evaluation.evaluate_saved_model`; ratings and language models by their own engines)."""

from __future__ import annotations

import argparse

from dlzoo.commands._options import (
    EXIT_SKIPPED,
    EXIT_STATUSES,
    CLIError,
    _add_tta_flags,
    _refuse_tta,
    _saved_task,
    _tta_from,
)
from dlzoo.commands._output import _console, baseline_line
from dlzoo.tasks import Task


def _parse_epsilons(text: str) -> list[float]:
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise CLIError(f"--epsilon takes comma-separated numbers such as 0.01,0.03,0.1; "
                       f"received {text!r}") from None
    if not values:
        raise CLIError("--epsilon needs at least one value, e.g. 0.01,0.03,0.1")
    return values


def _evaluate_ratings(args) -> int:
    from dlzoo.recommendation import evaluate_ratings

    r = evaluate_ratings(args.model_dir, args.data, split=args.split)
    floor = (f", noise floor {r['noise_floor_rmse']:.4f}" if "noise_floor_rmse" in r else "")
    print(f"{args.data} ({r['split']}, {r['samples']} ratings): RMSE {r['rmse']:.4f}, MAE "
          f"{r['mae']:.4f}; predicting the mean: RMSE {r['mean_baseline_rmse']:.4f}{floor}")
    return 0


def run(args) -> int:
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
    from dlzoo.evaluation import summary_metrics

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


def add_parser(sub):
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
    p.set_defaults(func=run)
