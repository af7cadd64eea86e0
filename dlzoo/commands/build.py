"""`dlzoo build NAME`: build a model (`dlzoo.weights.build`) and print its shapes."""

from __future__ import annotations

from dlzoo.commands._options import CLIError, _parse_model_args, _parse_shape, _parse_weights
from dlzoo.weights import build


def run(args) -> int:
    kwargs = _parse_model_args(args.set)
    for key in ("input_shape", "num_classes", "weights"):
        if getattr(args, key) is not None:
            if key in kwargs:
                raise CLIError(f"--{key.replace('_', '-')} and --set {key}=... are both given; "
                               "pass one")
            kwargs[key] = getattr(args, key)
    model = build(args.name, **kwargs)
    if args.summary:
        model.summary()
    print(
        f"{model.name}: input {model.input_shape}, output {model.output_shape}, "
        f"{model.count_params():,} parameters"
    )
    return 0


def add_parser(sub):
    p = sub.add_parser("build", help="build a model and print its shapes (and summary)")
    p.add_argument("name", help="a registry name (see `dlzoo list`)")
    p.add_argument("--input-shape", type=_parse_shape, default=None, help="e.g. 64,64,3")
    p.add_argument("--num-classes", type=int, default=None,
                   help="classifier outputs (default: the model's own, as `dlzoo info` shows)")
    p.add_argument("--weights", type=_parse_weights, default=None,
                   help="imagenet, a weights file, a saved model, or none (random; the default)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="builder argument (e.g. --set activation=relu --set dropout=0.2); repeatable")
    p.add_argument("--summary", action="store_true", help="print model.summary()")
    p.set_defaults(func=run)
