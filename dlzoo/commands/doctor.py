"""`dlzoo doctor DIR`: check an image folder or label file (`dlzoo.data.doctor.diagnose_folder`)
and print the report; `--show-batch` draws a training batch as the model receives it."""

from __future__ import annotations

import json
import os
import sys

from dlzoo.commands._options import CLIError, _parse_augment, _parse_image_size
from dlzoo.commands._output import _console


def run(args) -> int:
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


def add_parser(sub):
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
    p.set_defaults(func=run)
