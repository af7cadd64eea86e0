"""`dlzoo tune --workers 2`: a keras-tuner chief and two workers on 127.0.0.1 share one search;
the chief's oracle holds trials run by both workers, and every process's log is gathered."""

import json
import os
import signal
import socket

import pytest

from dlzoo.tuning import distributed
from dlzoo.tuning.distributed import (
    ChiefUnreachableError,
    WorkerError,
    free_port,
    gpu_ids,
    launch,
    oracle_timeout,
    process_plan,
    role_environment,
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


# --- the variables of a chief, a worker, and the collect step (README, "Several workers") --------


@pytest.fixture
def chief_socket():
    """Something listening on 127.0.0.1, as a running chief does."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        yield s.getsockname()[1]


def test_the_collect_step_runs_in_the_shell_the_chief_and_workers_left():
    # README's flow exports the chief's address on every host; the collect step has no role
    env = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(free_port()),
           "KERASTUNER_TUNER_ID": "chief", "PATH": "/bin"}
    notes = []
    role_environment(None, env, log=notes.append)
    assert env == {"PATH": "/bin"}  # keras-tuner would make this process a client or a chief
    assert len(notes) == 1 and "KERASTUNER_ORACLE_IP" in notes[0] and "ignored" in notes[0]
    role_environment(None, env, log=notes.append)  # nothing set: nothing said
    assert len(notes) == 1


def test_the_collect_step_waits_for_a_chief_that_still_runs(chief_socket):
    env = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(chief_socket)}
    with pytest.raises(ValueError, match=f"chief still answers at 127.0.0.1:{chief_socket}.*"
                                         "unset KERASTUNER_ORACLE_IP KERASTUNER_ORACLE_PORT"):
        role_environment(None, env)
    assert "KERASTUNER_ORACLE_IP" in env  # refused, not changed


def test_chief_and_worker_variables_are_checked(chief_socket):
    port = str(free_port())
    env = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": port}
    role_environment("chief", env)
    assert env["KERASTUNER_TUNER_ID"] == "chief"  # keras-tuner makes any other id a worker
    with pytest.raises(ValueError, match="KERASTUNER_TUNER_ID=tuner0: keras-tuner would make "
                                         "this process a worker"):
        role_environment("chief", {**env, "KERASTUNER_TUNER_ID": "tuner0"})
    # a second chief on a live one's port (gRPC's SO_REUSEPORT would let it start)
    with pytest.raises(ValueError, match=f"cannot listen on 127.0.0.1:{chief_socket} \\(a chief"):
        role_environment("chief", {**env, "KERASTUNER_ORACLE_PORT": str(chief_socket)})
    with pytest.raises(ValueError, match="--role worker needs KERASTUNER_ORACLE_IP: the address"):
        role_environment("worker", {"KERASTUNER_ORACLE_PORT": port, "KERASTUNER_TUNER_ID": "w"})
    with pytest.raises(ValueError, match="--role worker needs KERASTUNER_TUNER_ID"):
        role_environment("worker", dict(env, KERASTUNER_TUNER_ID=""))
    with pytest.raises(ValueError, match="containing 'chief' a second chief"):
        role_environment("worker", {**env, "KERASTUNER_TUNER_ID": "chief"})
    with pytest.raises(ValueError, match="KERASTUNER_ORACLE_PORT must be a TCP port"):
        role_environment("worker", {**env, "KERASTUNER_ORACLE_PORT": "http",
                                    "KERASTUNER_TUNER_ID": "tuner0"})
    worker = {**env, "KERASTUNER_TUNER_ID": "tuner0"}
    role_environment("worker", worker)  # a worker may start before its chief
    assert worker["KERASTUNER_TUNER_ID"] == "tuner0"


def test_the_oracle_timeout_comes_from_the_flag_or_the_environment():
    assert oracle_timeout(None, {}) == 3600.0  # keras-tuner's own
    assert oracle_timeout(None, {"DLZOO_ORACLE_TIMEOUT": "90"}) == 90.0
    assert oracle_timeout(30, {"DLZOO_ORACLE_TIMEOUT": "90"}) == 30.0
    for bad in ("soon", "0", "-5", "nan", "inf"):
        with pytest.raises(ValueError, match=f"DLZOO_ORACLE_TIMEOUT must be a positive number.*"
                                             f"received '{bad}'"):
            oracle_timeout(None, {"DLZOO_ORACLE_TIMEOUT": bad})


class _Rpc:
    """A gRPC method that fails with `codes` (one per call; a code or (code, details)) before it
    answers."""

    def __init__(self, codes):
        import grpc

        self.codes, self.calls = list(codes), []

        class Error(grpc.RpcError):
            def __init__(self, code, details=""):
                self._code, self._details = code, details

            def code(self):
                return self._code

            def details(self):
                return self._details

        self.error = Error

    def __call__(self, request, **kwargs):
        self.calls.append(kwargs)
        if self.codes:
            code = self.codes.pop(0)
            raise self.error(*code) if isinstance(code, tuple) else self.error(code)
        return "answer"


def test_a_worker_request_waits_for_its_chief_and_says_so(monkeypatch):
    import grpc

    monkeypatch.setattr(distributed, "ATTEMPT_SECONDS", 0.05)
    monkeypatch.setattr(distributed.time, "sleep", lambda s: None)
    # not started yet; then killed while answering
    codes = [grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE,
             (grpc.StatusCode.UNKNOWN, "Stream removed")]
    method, lines = _Rpc(codes), []
    stub = distributed._PatientStub(type("Stub", (), {"CreateTrial": method})(), 60,
                                    "127.0.0.1:8000", lines.append)
    assert stub.CreateTrial("request", wait_for_ready=True, timeout=3600) == "answer"
    assert len(method.calls) == 4 and all(c["wait_for_ready"] for c in method.calls)
    assert all(c["timeout"] <= 0.1 for c in method.calls)  # tries, not keras-tuner's hour
    assert lines == ["waiting for the keras-tuner chief at 127.0.0.1:8000 (up to 60 s; "
                     "--oracle-timeout / DLZOO_ORACLE_TIMEOUT)",
                     "the keras-tuner chief at 127.0.0.1:8000 answers again"]
    # an error in the chief is not a missing chief: one line, not sent again
    failing = _Rpc([(grpc.StatusCode.UNKNOWN, "Exception calling application: KeyError: '7'")])
    stub = distributed._PatientStub(type("Stub", (), {"EndTrial": failing})(), 60, "a:1", print)
    with pytest.raises(WorkerError, match=r"chief at a:1 refused EndTrial \(StatusCode.UNKNOWN: "
                                          r"Exception calling application: KeyError: '7'\)"):
        stub.EndTrial("request")
    assert len(failing.calls) == 1


def test_a_worker_whose_chief_stays_away_ends_with_one_line(monkeypatch):
    import grpc

    monkeypatch.setattr(distributed, "ATTEMPT_SECONDS", 0.01)
    method = _Rpc([grpc.StatusCode.UNAVAILABLE] * 1000)
    stub = distributed._PatientStub(type("Stub", (), {"EndTrial": method})(), 0.05,
                                    "127.0.0.1:8000", lambda line: None)
    with pytest.raises(ChiefUnreachableError) as e:
        stub.EndTrial("request")
    assert "no keras-tuner chief answered at 127.0.0.1:8000 for 0.05 s" in str(e.value)
    assert "same KERASTUNER_TUNER_ID" in str(e.value) and "\n" not in str(e.value)


# --- README's several-hosts flow, end to end: separate processes on 127.0.0.1 ----------------------


def _dlzoo_tune(recipe, out, log, env, *args):
    """`dlzoo tune RECIPE --output OUT ARGS` as a shell would start it (its own process group,
    the CLI's own environment otherwise), its output in the file `log`."""
    import subprocess
    import sys
    from pathlib import Path

    with open(log, "a") as f:
        return subprocess.Popen(
            [sys.executable, "-m", "dlzoo", "tune", str(recipe), "--output", str(out), *args],
            cwd=Path(__file__).resolve().parent.parent, env=env, stdout=f,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _wait_for(what, condition, procs, timeout):
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        for name, proc in procs.items():
            assert proc.poll() is None, f"{name} exited ({proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.1)


def _kill(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _shell(port):
    """The environment README's exports leave: the chief's address on every host."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("KERASTUNER_TUNER_ID", "DLZOO_ORACLE_TIMEOUT")}
    env.update(KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT=str(port))
    return env


@pytest.mark.slow
def test_several_hosts_flow_with_an_early_worker_and_a_restarted_chief(tmp_path):
    recipe = tiny_recipe(tmp_path, name="hosts", trials=TRIALS, epochs=2, retrain=True)
    out, logs = tmp_path / "runs", tmp_path
    project = out / ".tuning" / "hosts"
    shell = _shell(free_port())
    procs = {}

    def start(name, *args, tuner_id=None):
        env = dict(shell, **({"KERASTUNER_TUNER_ID": tuner_id} if tuner_id else {}))
        procs[name] = _dlzoo_tune(recipe, out, logs / f"{name}.log", env, *args)

    def log(name):
        return (logs / f"{name}.log").read_text()

    def completed():
        return {k: v for k, v in trial_states(project).items() if v["status"] == "COMPLETED"}

    try:
        # a worker that starts before its chief waits for it, and says so
        start("tuner0", "--role", "worker", "--oracle-timeout", "600", tuner_id="tuner0")
        _wait_for("waiting line", lambda: "waiting for the keras-tuner chief" in log("tuner0"),
                  procs, 240)
        start("chief", "--role", "chief", tuner_id="chief")
        start("tuner1", "--role", "worker", tuner_id="tuner1")
        # the chief dies (kill -9) once a trial has completed, and is started again
        _wait_for("completed trial", lambda: completed(), procs, 300)
        _kill(procs.pop("chief"))
        before = completed()
        assert len(before) < TRIALS, "the kill must land in the middle of the search"
        start("chief-again", "--role", "chief", tuner_id="chief")
        for name in ("tuner0", "tuner1", "chief-again"):
            assert procs[name].wait(timeout=420) == 0, log(name)[-3000:]
    finally:
        for proc in procs.values():
            _kill(proc)

    after = trial_states(project)
    assert len(after) == TRIALS and {s["status"] for s in after.values()} == {"COMPLETED"}
    for trial_dir, state in before.items():  # nothing completed is lost or run again
        assert after[trial_dir] == state
    oracle = json.loads((project / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == sorted(s["trial_id"] for s in after.values())
    workers = oracle["dlzoo_trial_workers"]
    # the early worker noticed its chief (within seconds, not gRPC's growing backoff)
    assert set(workers.values()) == {"tuner0", "tuner1"}, workers
    for name in ("tuner0", "tuner1", "chief", "chief-again"):
        assert "Traceback" not in log(name), log(name)[-3000:]

    # the collect step, in the shell the exports left (keras-tuner refused it before)
    collect = _dlzoo_tune(recipe, out, logs / "collect.log", shell, "--resume")
    try:
        assert collect.wait(timeout=300) == 0, log("collect")[-3000:]
    finally:
        _kill(collect)
    printed = log("collect")
    assert "KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT ignored" in printed
    assert f"hosts: {TRIALS} trial(s), {TRIALS} completed" in printed
    assert json.loads((out / "hosts" / "card.json").read_text())["search"]["trials"] == TRIALS
    assert trial_states(project) == after  # collected, nothing run again


@pytest.mark.slow
def test_a_worker_without_a_chief_ends_with_one_line(tmp_path):
    recipe = tiny_recipe(tmp_path, name="alone", trials=1)
    env = dict(_shell(free_port()), KERASTUNER_TUNER_ID="tuner0", DLZOO_ORACLE_TIMEOUT="5")
    proc = _dlzoo_tune(recipe, tmp_path / "runs", tmp_path / "worker.log", env, "--role",
                       "worker")
    try:
        assert proc.wait(timeout=240) == 2
    finally:
        _kill(proc)
    lines = (tmp_path / "worker.log").read_text().strip().splitlines()
    assert lines[-1].startswith("dlzoo: error: no keras-tuner chief answered at 127.0.0.1:")
    assert "for 5 s" in lines[-1] and "Traceback" not in "\n".join(lines)
