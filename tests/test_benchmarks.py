"""The benchmark runner: `python -m benchmarks run --quick NAME` writes JSON with the figures, the
machine, versions and command, and regenerates RESULTS.md from every JSON file."""

import json
import subprocess
import sys

import pytest

from benchmarks import _common


def test_runner_writes_json_and_results_md(tmp_path, monkeypatch):
    monkeypatch.setattr(_common, "RESULTS_DIR", tmp_path / "results")
    monkeypatch.setattr(_common, "RESULTS_MD", tmp_path / "RESULTS.md")
    from benchmarks import gpu_throughput
    from benchmarks.__main__ import main

    device, why = gpu_throughput._gpu()  # this host's answer: a device, or the reason for none
    assert (device is None) == bool(why)
    # The runner is under test, not this host: as if no GPU were visible (on a GPU host the real
    # benchmark would time ResNet-50 for minutes), it records that instead of timing the CPU.
    monkeypatch.setattr(gpu_throughput, "_gpu", lambda: (None, "no GPU visible to JAX"))
    assert main(["run", "--quick", "gpu_throughput"]) == 0
    data = json.loads((tmp_path / "results" / "gpu_throughput.json").read_text())
    assert data["command"] == "python -m benchmarks run --quick gpu_throughput"
    assert data["machine"]["cpus"] >= 1 and "keras" in data["versions"]
    assert data["measured"] is False and data["rows"] == []
    md = (tmp_path / "RESULTS.md").read_text()
    assert "## GPU figures" in md and "Not measured: no GPU visible to JAX" in md


def test_interleaved_ratio():
    calls = []
    times = _common.interleaved_timings({"a": lambda: calls.append("a"),
                                         "b": lambda: calls.append("b")}, rounds=3, warmup=1)
    # warm-up round, then A B, B A, A B: the first in a round is not always the same one
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]
    assert len(times["a"]) == len(times["b"]) == 3
    r = _common.paired_ratio([2.0, 4.0, 6.0], [1.0, 2.0, 2.0])
    assert r["median"] == 2.0 and r["min"] == 2.0 and r["max"] == 3.0


def test_unknown_benchmark_is_refused():
    r = subprocess.run([sys.executable, "-m", "benchmarks", "run", "nope"], check=False,
                       capture_output=True, text=True)
    assert r.returncode == 2 and "available:" in r.stderr


@pytest.mark.slow
def test_quick_suite_runs_every_benchmark(tmp_path, monkeypatch):
    """The whole `--quick` suite (a few minutes on 2 cores)."""
    monkeypatch.setattr(_common, "RESULTS_DIR", tmp_path / "results")
    monkeypatch.setattr(_common, "RESULTS_MD", tmp_path / "RESULTS.md")
    from benchmarks.__main__ import available, main

    shipped = {p: p.stat().st_mtime_ns for p in (_common.HERE / "results").iterdir()}
    assert main(["run", "--quick"]) == 0
    written = sorted(p.stem for p in (tmp_path / "results").glob("*.json"))
    assert written == available()
    # the tracked results (JSON and plots) are left as they were: a quick run writes only under tmp
    assert {p: p.stat().st_mtime_ns for p in (_common.HERE / "results").iterdir()} == shipped
