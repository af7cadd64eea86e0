"""A search killed with SIGKILL and started again with --resume loses no completed trial and
runs none of them twice; the trial that was running at the kill runs again from its start."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._tuning import tiny_recipe, trial_states

ROOT = Path(__file__).resolve().parent.parent
TRIALS = 4


def tune(recipe, out, *extra):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, "-m", "dlzoo", "tune", str(recipe), "--output", str(out), "--quiet",
         *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )


def completed(project):
    return {k: v for k, v in trial_states(project).items() if v["status"] == "COMPLETED"}


@pytest.mark.slow
def test_kill_9_then_resume_keeps_every_completed_trial(tmp_path):
    recipe = tiny_recipe(tmp_path, name="killed", trials=TRIALS, epochs=2)
    out = tmp_path / "out"
    project = out / ".tuning" / "killed"
    proc = tune(recipe, out)
    try:
        deadline = time.monotonic() + 240
        while not completed(project):
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "no trial completed within 240 s"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    before = completed(project)
    assert 1 <= len(before) < TRIALS, "the kill must land in the middle of the search"
    records = {k: (project / k / "dlzoo_trial.json").read_text() for k in before}

    resumed = tune(recipe, out, "--resume")
    try:
        output, _ = resumed.communicate(timeout=300)
    finally:
        if resumed.poll() is None:
            os.killpg(resumed.pid, signal.SIGKILL)
            resumed.wait()
    assert resumed.returncode == 0, output
    after = completed(project)
    assert len(after) == TRIALS
    for trial_dir, state in before.items():
        # same values, same score, same per-trial record (its timing too): not run again
        assert after[trial_dir] == state
        assert (project / trial_dir / "dlzoo_trial.json").read_text() == records[trial_dir]
    oracle = json.loads((project / "oracle.json").read_text())
    assert all(oracle["run_times"][state["trial_id"]] == 1 for state in before.values())
    assert sorted(oracle["end_order"]) == sorted(s["trial_id"] for s in after.values())
    with open(project / "trials.csv") as f:
        assert len(f.read().strip().splitlines()) == TRIALS + 1
