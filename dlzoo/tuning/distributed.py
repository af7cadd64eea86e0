"""Local multi-process search on keras-tuner's own distributed mode: one chief, N workers.

keras-tuner runs a search in parallel when every process gets three environment variables:
`KERASTUNER_TUNER_ID` ("chief" for the process that holds the oracle, any other unique name for a
worker), `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT` (where the chief's gRPC oracle
listens). The chief hands out trials and records their results; workers build, train and report.
This module only starts those processes on one host, gives each worker its own GPU, collects their
logs, starts a dead worker again (the chief gives it back its trial, so a death costs only that
trial) and stops them all on Ctrl-C or when the chief fails. The same processes can be started by
hand on other hosts (README, "Architecture search").

    >>> launch(["tune", "cnn-digits-tune"], workers=2, log_dir="saved_models/.tuning/x/logs")
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["WorkerError", "free_port", "gpu_ids", "launch", "process_plan", "worker_env"]

LOCALHOST = "127.0.0.1"


class WorkerError(RuntimeError):
    """A chief or worker process failed; the message names it and its log."""


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def gpu_ids() -> list[str]:
    """The GPUs workers may be spread over: `CUDA_VISIBLE_DEVICES` when set, else the ones
    `nvidia-smi -L` lists; empty without GPUs."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip() and d.strip() != "-1"]
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(out.splitlines()) if line.startswith("GPU ")]


def worker_env(tuner_id: str, ip: str, port: int, gpu: str | None = None, base=None) -> dict:
    """The environment of one keras-tuner process (chief: `tuner_id="chief"`)."""
    env = dict(os.environ if base is None else base)
    env.update(KERASTUNER_TUNER_ID=tuner_id, KERASTUNER_ORACLE_IP=ip,
               KERASTUNER_ORACLE_PORT=str(port), PYTHONUNBUFFERED="1")
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    return env


def process_plan(workers: int, ip: str, port: int, gpus: list[str]) -> list[tuple[str, dict]]:
    """`(id, environment)` of the chief and each worker: worker i gets GPU `gpus[i % len]`
    (round robin, so more workers than GPUs share them); the chief, which only serves the
    oracle, gets none."""
    plan = [("chief", worker_env("chief", ip, port, "" if gpus else None))]
    for i in range(workers):
        gpu = gpus[i % len(gpus)] if gpus else None
        plan.append((f"tuner{i}", worker_env(f"tuner{i}", ip, port, gpu)))
    return plan


def _die_with_parent():
    # Linux: the child gets SIGTERM if the launcher dies, even by kill -9.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _pump(proc, name: str, path: Path, echo) -> threading.Thread:
    def run():
        with open(path, "a", buffering=1) as f:
            for line in proc.stdout:
                f.write(line)
                if echo is not None:
                    echo(f"[{name}] {line.rstrip()}")

    thread = threading.Thread(target=run, name=f"log-{name}", daemon=True)
    thread.start()
    return thread


def _stop(procs: dict, grace: float = 10.0) -> None:
    """SIGTERM every live process, then SIGKILL those still alive after `grace` seconds."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text().strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def launch(dlzoo_args: list[str], *, workers: int, log_dir, ip: str = LOCALHOST,
           port: int | None = None, echo=print, chief_grace: float = 5.0, restarts: int = 2,
           command: list[str] | None = None) -> dict:
    """Runs `python -m dlzoo DLZOO_ARGS --role chief` and N `--role worker` processes.

    Each worker gets `KERASTUNER_TUNER_ID=tuner<i>` and, when GPUs exist, its own
    `CUDA_VISIBLE_DEVICES` (round robin); the chief gets no GPU. Every process's output goes to
    `log_dir/<id>.log` and, prefixed with its id, to `echo` (None: logs only). Returns when all
    workers have finished (the chief, whose oracle has saved every result, is then stopped).

    A worker that dies costs only its own trial: the others keep running, and the dead worker is
    started again (up to `restarts` times) under the same tuner id, for which keras-tuner's chief
    hands out the very trial it was running (`Oracle.create_trial` returns a tuner's ongoing
    trial). Each death is reported through `echo` and kept in the return value. The chief holds
    the oracle, so its failure stops everything at once.

    Args:
        restarts: how many times one worker is started again after dying (default 2).
        command: the program to run instead of `python -m dlzoo` (tests).

    Returns:
        `{id: exit status}` of every process, and under `"deaths"` a list of
        `(id, exit status)`, one per death (empty when none died).

    Raises:
        WorkerError: the chief failed; or a worker died more than `restarts` times (raised once
            the other workers have finished, their trials saved), or every worker did. The
            message names the process and its log, with the log's last lines.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer; received {workers!r}.")
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port(ip)
    gpus = gpu_ids()
    base = list(command or [sys.executable, "-m", "dlzoo"]) + list(dlzoo_args)
    plan = dict(process_plan(workers, ip, port, gpus))
    procs, pumps = {}, []

    def log_of(name) -> Path:
        return log_dir / f"{name}.log"

    def start(name):
        env = plan[name]
        role = "chief" if name == "chief" else "worker"
        procs[name] = subprocess.Popen(
            base + ["--role", role], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
            # the launcher starts no threads before the first one; the child must die with it
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
        pumps.append(_pump(procs[name], name, log_of(name), echo))
        gpu_note = f", CUDA_VISIBLE_DEVICES={env['CUDA_VISIBLE_DEVICES']}" if gpus else ""
        if echo is not None:
            echo(f"started {name} (pid {procs[name].pid}, oracle {ip}:{port}{gpu_note})")

    def failure(name, code) -> str:
        return f"{name} exited with status {code} (log {log_of(name)}): {_tail(log_of(name))}"

    def report(line):  # a death is reported even when the logs are not echoed
        (echo or (lambda m: print(f"dlzoo: {m}", file=sys.stderr)))(line)

    names = [n for n in plan if n != "chief"]
    left = dict.fromkeys(names, restarts)
    deaths, lost = [], []
    try:
        for name in plan:
            log_of(name).write_text("")
            start(name)
        while True:
            # The chief ends by itself (status 0) once the last worker has been told to stop,
            # possibly before that worker has exited.
            code = procs["chief"].poll()
            if code not in (None, 0):
                raise WorkerError(failure("chief", code))
            for name in names:
                code = procs[name].poll()
                if code in (None, 0) or name in lost:
                    continue
                deaths.append((name, code))
                if left[name] > 0:
                    left[name] -= 1
                    report(f"{failure(name, code)}; the other workers go on. Starting {name} "
                           "again: the chief hands it the trial it was running.")
                    start(name)
                else:
                    lost.append(name)
                    report(f"{failure(name, code)}; died {restarts + 1} times, not started "
                           "again; the other workers go on.")
            alive = [w for w in names if w not in lost]
            if not alive:
                raise WorkerError("every worker died; " + failure(lost[-1], procs[lost[-1]].returncode))
            if all(procs[w].poll() == 0 for w in alive):
                break
            time.sleep(0.5)
        if lost:
            raise WorkerError(
                f"{', '.join(lost)} died {restarts + 1} times; the other workers finished and "
                "their trials are saved in the search project; the dead worker's last trial is "
                f"unfinished. Last: {failure(lost[-1], procs[lost[-1]].returncode)}"
            )
        # Every trial has been ended and saved by the chief's oracle; it only idles now
        # (keras-tuner's chief polls for its exit every 20 s).
        try:
            procs["chief"].wait(timeout=chief_grace)
        except subprocess.TimeoutExpired:
            pass
        return {**{name: proc.returncode for name, proc in procs.items()}, "deaths": deaths}
    finally:
        _stop(procs)
        for thread in pumps:
            thread.join(timeout=5)
