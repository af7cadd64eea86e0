"""`dlzoo finetune DIR --model M`: transfer learning on a folder or label file
(`dlzoo.transfer.fine_tune`), or its head's learning-rate range test; prints the phases and the
follow-up commands that run on this host."""

from __future__ import annotations

import os

from dlzoo.backends import backend_name, has_tensorflow
from dlzoo.commands._options import (
    CLIError,
    _add_find_lr_flags,
    _add_run_flags,
    _add_switch_flags,
    _join_processes,
    _parse_augment,
    _parse_image_size,
    _parse_model_args,
    _parse_weights,
    _switch_settings,
)
from dlzoo.commands._output import _console, _print_baseline, _print_lr_find, _shell
from dlzoo.distribution import process_output
from dlzoo.saving import CARD_FILE, default_finetune_out, is_saved_model, saved_model_folder
from dlzoo.spec import RunSpec


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


def run(args) -> int:
    from rich.table import Table

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
    line = _shell("dlzoo", "export", model_dir, "--format", "savedmodel")
    if backend_name() == "tensorflow":
        return line
    if has_tensorflow():
        return "KERAS_BACKEND=tensorflow " + line
    return ("(export to SavedModel, ONNX or LiteRT needs TensorFlow, not installed here: "
            "pip install \"dlzoo[tf]\", or export on a host with it)")


def _find_lr_finetune(source, out, args) -> bool:
    """--find-lr: the range test of what trains first (the head; every layer for a network with
    random weights); True when that is all (no --use-found-lr), else sets --head-lr (--lr) to
    the suggestion."""
    from dlzoo.lr_finder import find_lr_for_run

    lr_out = os.path.join("lr_find", os.path.basename(os.path.normpath(out)))
    spec = RunSpec.from_finetune(source, _finetune_data(args)[0], **finetune_settings(args))
    found = find_lr_for_run(spec, out=lr_out, log=(lambda *a: None) if args.quiet else print)
    _print_lr_find(found, lr_out)
    # random weights train every layer at --lr (fine_tune's "from scratch"); else the head
    flag = "--lr" if found.trained == "all" else "--head-lr"
    if not args.use_found_lr:
        print(f"nothing trained; fine-tune at it with: {flag} {found.suggestion:.2g} "
              "(or --find-lr --use-found-lr)")
        return True
    setattr(args, "lr" if flag == "--lr" else "head_lr", float(f"{found.suggestion:.2g}"))
    return False


def add_parser(sub):
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
    p.set_defaults(func=run)
