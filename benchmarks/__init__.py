"""dlzoo benchmarks: `python -m benchmarks run [--quick] [NAME ...]`.

Each benchmark is a module `benchmarks/<name>.py` with `run(quick: bool) -> dict`; the dict holds the
figures, and the runner adds the machine, versions and command, writes `benchmarks/results/<name>.json`
and regenerates `benchmarks/RESULTS.md` from every JSON file there.
"""
