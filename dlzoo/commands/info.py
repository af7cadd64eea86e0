"""`dlzoo info NAME`: everything the catalog knows about a model (no backend, no build)."""

from __future__ import annotations

import json

from dlzoo.catalog import entry


def run(args) -> int:
    info = entry(args.name)
    info.pop("smoke_overrides", None)  # the test suite's small build, not the user's business
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    if info.get("min_input_size") == 1:  # "1" read as a fault: padded convolutions take any size
        info["min_input_size"] = "any size (every convolution and pool pads)"
    width = max(len(k) for k in info)
    for key, value in info.items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value) or "-"
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
        elif key == "params":
            value = f"{value:,}"
        print(f"{key:<{width}}  {value}")
    return 0


def add_parser(sub):
    p = sub.add_parser("info", help="everything the registry knows about a model")
    p.add_argument("name", help="a registry name (see `dlzoo list`)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)
