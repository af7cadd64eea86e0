"""`dlzoo explain MODEL_DIR IMAGE...`: Grad-CAM heatmaps, first-layer filters and feature maps
(`dlzoo.explain`)."""

from __future__ import annotations

import argparse
import os
import sys

from dlzoo.commands._options import EXIT_SKIPPED, EXIT_STATUSES, CLIError
from dlzoo.saving import read_card


def run(args) -> int:
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


def add_parser(sub):
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
    p.set_defaults(func=run)
