"""`python -m benchmarks run [--quick] [NAME ...]` and `python -m benchmarks list`."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks._common import HERE, render_results_md, write_result


def available() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules([str(HERE)]) if not m.name.startswith("_")
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run benchmarks and regenerate RESULTS.md")
    run.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    run.add_argument("--quick", action="store_true", help="small sizes, a few minutes in all")
    run.add_argument("--no-write", action="store_true", help="print, do not write results")
    sub.add_parser("list", help="list benchmarks")
    sub.add_parser("render", help="regenerate RESULTS.md from results/*.json")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        print("\n".join(available()))
        return 0
    if args.cmd == "render":
        print(render_results_md())
        return 0
    names = args.names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}",
              file=sys.stderr)
        return 2
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        t0 = time.perf_counter()
        result = module.run(quick=args.quick)
        result["wall_seconds"] = round(time.perf_counter() - t0, 1)
        result["quick"] = args.quick
        cmd = "python -m benchmarks run " + ("--quick " if args.quick else "") + name
        print(f"[{name}] {result.get('summary', '')} ({result['wall_seconds']} s)")
        if not args.no_write:
            write_result(name, result, command=cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
