"""`dlzoo tune --workers 2`: a keras-tuner chief and two workers on 127.0.0.1 share one search;
the chief's oracle holds trials run by both workers, and every process's log is gathered."""

import json
import os
import signal

import pytest

from dlzoo.tuning.distributed import (
    WorkerError,
    gpu_ids,
    launch,
    process_plan,
    worker_env,
)
from tests._tuning import start_tune_workers, tiny_recipe, trial_states

TRIALS = 6


@pytest.mark.slow
def test_chief_and_two_workers_share_one_search(tmp_path):
    # two epochs per trial keep each trial longer than a worker's start-up skew
    recipe = tiny_recipe(tmp_path, name="spread", trials=TRIALS, epochs=2)
    out = tmp_path / "out"
    proc = start_tune_workers(recipe, out)
    try:
        output, _ = proc.communicate(timeout=420)
    finally:
        if proc.poll() is None:  # the launcher and the processes it started share its group
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, output[-3000:]
    project = out / ".tuning" / "spread"
    oracle = json.loads((project / "oracle.json").read_text())
    workers = oracle["dlzoo_trial_workers"]
    assert len(workers) == TRIALS
    assert set(workers.values()) == {"tuner0", "tuner1"}, workers
    states = trial_states(project)
    assert len(states) == TRIALS and all(s["status"] == "COMPLETED" for s in states.values())
    for name in ("chief", "tuner0", "tuner1"):
        assert (project / "logs" / f"{name}.log").exists()
    assert "[tuner1]" in output and "started chief" in output
    assert f"spread: {TRIALS} trial(s), {TRIALS} completed" in output


def test_worker_environment():
    env = worker_env("tuner3", "127.0.0.1", 8123, gpu="1", base={})
    assert env == {"KERASTUNER_TUNER_ID": "tuner3", "KERASTUNER_ORACLE_IP": "127.0.0.1",
                   "KERASTUNER_ORACLE_PORT": "8123", "PYTHONUNBUFFERED": "1",
                   "CUDA_VISIBLE_DEVICES": "1"}


def test_each_worker_gets_its_own_gpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert gpu_ids() == ["2", "3"]
    plan = dict(process_plan(3, "127.0.0.1", 8000, gpu_ids()))
    assert [plan[n]["CUDA_VISIBLE_DEVICES"] for n in ("chief", "tuner0", "tuner1", "tuner2")] \
        == ["", "2", "3", "2"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert gpu_ids() == []
    plan = dict(process_plan(2, "127.0.0.1", 8000, []))
    assert all("CUDA_VISIBLE_DEVICES" not in env or env["CUDA_VISIBLE_DEVICES"] == ""
               for env in plan.values())


def test_a_failing_worker_stops_everything_and_names_its_log(tmp_path):
    # a command line `dlzoo tune` refuses: every process exits at once with status 2
    with pytest.raises(WorkerError, match=r"exited with status 2 \(log .*\.log\)"):
        launch(["tune", "--no-such-option"], workers=2, log_dir=tmp_path / "logs", echo=None)
    assert {p.name for p in (tmp_path / "logs").iterdir()} == {"chief.log", "tuner0.log",
                                                               "tuner1.log"}
