"""`dlzoo export MODEL_DIR --format F`: a saved model for serving (`dlzoo.export.export`), with
its quantization figures."""

from __future__ import annotations

import json

from dlzoo.commands._output import _shell
from dlzoo.saving import read_card


def run(args) -> int:
    from dlzoo.export import export, labels_path, usage_path
    path = export(args.model_dir, args.format, out=args.out, dynamic_size=args.dynamic_size,
                  overwrite=args.overwrite, quantize=args.quantize,
                  representative=args.representative, command=_shell(
                      "dlzoo", "export", args.model_dir, "--format", args.format,
                      *(["--out", args.out] if args.out else []),
                      *(["--dynamic-size"] if args.dynamic_size else []),
                      *(["--quantize", args.quantize] if args.quantize else []),
                      *(["--representative", args.representative] if args.representative
                        else []),
                      *(["--overwrite"] if args.overwrite else [])))
    shape = read_card(args.model_dir).get("input_shape", [])
    fixed = args.format == "litert" and not args.dynamic_size and len(shape) == 3
    size = (f"declared 1x{shape[0]}x{shape[1]}x{shape[2]} (resize_tensor_input for any other)"
            if fixed else "of any size")
    print(f"exported {args.model_dir} as {args.format} to {path}\n"
          f"  input: uint8 images (batch, height, width, 1-4 channels), {size}; converted to "
          f"{'x'.join(map(str, shape))} and preprocessed inside\n"
          f"  output: class probabilities; class names in {labels_path(path)}\n"
          f"  how to load it: {usage_path(path)}")
    if args.quantize:
        _print_quantization(path)
    return 0


def _print_quantization(path) -> None:
    from dlzoo.quantization import REPORT_FILE

    r = json.loads((path.parent / REPORT_FILE).read_text())
    kind = {"int8": "int8", "float16": "float16 weights"}[r["quantize"]]
    print(f"  {kind}: {r['bytes'] / 1e6:.3f} MB, float32 "
          f"{r['float_bytes'] / 1e6:.3f} MB ({r['size_ratio']:.2f}x)")
    if "samples" in r:
        print(f"  held-out accuracy {r['quantized_accuracy']:.4f}, float model "
              f"{r['float_accuracy']:.4f} ({r['accuracy_change']:+.4f}); top-1 agrees on "
              f"{r['top1_agreement']:.2%} ({r['held_out']})")
    else:
        print(f"  accuracy {r['held_out']}")


def add_parser(sub):
    p = sub.add_parser("export", help="export a saved model for serving (raw uint8 images in)")
    p.add_argument("model_dir", help="a saved model folder (saved_models/NAME)")
    p.add_argument("--format", choices=("savedmodel", "onnx", "litert"), default="savedmodel",
                   help="savedmodel (TensorFlow), onnx (needs tf2onnx and onnx) or litert (.tflite)")
    p.add_argument("--out", default=None, help="folder to write (default exports/NAME/FORMAT, "
                   "or exports/NAME/FORMAT-QUANTIZE)")
    p.add_argument("--dynamic-size", action="store_true",
                   help="litert: declare height and width unknown instead of the model's size")
    p.add_argument("--quantize", choices=("int8", "float16"), default=None,
                   help="litert: int8 (weights and activations) or float16 (weights); onnx: "
                        "int8. Size and held-out accuracy change go in USAGE.md")
    p.add_argument("--representative", metavar="FOLDER", default=None,
                   help="--quantize int8: images to calibrate on (default: drawn from the "
                        "training split of the data the card names)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an export already at --out (otherwise refused)")
    p.set_defaults(func=run)
