"""Local multi-process search on keras-tuner's own distributed mode: one chief, N workers.

keras-tuner runs a search in parallel when every process gets three environment variables:
`KERASTUNER_TUNER_ID` ("chief" for the process that holds the oracle, any other unique name for a
worker), `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT` (where the chief's gRPC oracle
listens). The chief hands out trials and records their results; workers build, train and report.
This module only starts those processes on one host, gives each worker its own GPU, collects their
logs, starts a dead worker again (the chief gives it back its trial, so a death costs only that
trial) and stops them all on Ctrl-C or when the chief fails. The same processes can be started by
hand on other hosts (README, "Several workers and GPUs"); `role_environment` checks and fixes up
each such process's variables, so that every step of that flow works in the shell the previous
step left (a collect step with the chief's address still exported included).

keras-tuner's workers wait for their chief on every gRPC request (`wait_for_ready`), up to one
hour, silently, and a request in flight when the chief dies fails with a gRPC traceback.
`patient_oracle_client` makes that wait configurable (`--oracle-timeout`, `DLZOO_ORACLE_TIMEOUT`),
says once that it is waiting, retries a request the chief's death interrupted, and ends with
`ChiefUnreachableError` (one line) when the chief stays away.

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

__all__ = [
    "ChiefUnreachableError",
    "WorkerError",
    "free_port",
    "gpu_ids",
    "launch",
    "listening",
    "oracle_timeout",
    "patient_oracle_client",
    "process_plan",
    "role_environment",
    "worker_env",
]

LOCALHOST = "127.0.0.1"
ORACLE_VARS = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
TIMEOUT_VAR = "DLZOO_ORACLE_TIMEOUT"
DEFAULT_TIMEOUT = 3600.0  # keras-tuner's own (keras_tuner/src/distribute/oracle_client.py)
ATTEMPT_SECONDS = 10.0  # one try of a request; after the first that times out, "waiting ..."


class WorkerError(RuntimeError):
    """A chief or worker process failed; the message names it and its log."""


class ChiefUnreachableError(WorkerError):
    """A worker's keras-tuner chief did not answer within the oracle timeout."""


# --- the environment of a chief, a worker, or neither ------------------------------------------


def listening(ip: str, port, timeout: float = 2.0) -> bool:
    """Whether a program accepts TCP connections at `ip:port` now."""
    try:
        with socket.create_connection((ip, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def oracle_timeout(value=None, environ=None) -> float:
    """Seconds a worker's request waits for its chief: `value` when given, else
    `DLZOO_ORACLE_TIMEOUT`, else keras-tuner's 3600. Raises ValueError naming the source of a
    value that is not a positive number."""
    environ = os.environ if environ is None else environ
    where = "--oracle-timeout"
    if value is None:
        value, where = environ.get(TIMEOUT_VAR), TIMEOUT_VAR
    if value is None or value == "":
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{where} must be a positive number of seconds (how long a worker waits "
                         f"for its keras-tuner chief); received {value!r}.")
    return seconds


def role_environment(role: str | None, environ=None, *, log=print) -> None:
    """Checks, and fixes up, the keras-tuner variables of a `dlzoo tune` process with `role`.

    * `"chief"`: needs `KERASTUNER_ORACLE_IP` and `KERASTUNER_ORACLE_PORT` (where it listens,
      which must be free); sets `KERASTUNER_TUNER_ID=chief` when unset (keras-tuner makes any
      other id a worker).
    * `"worker"`: needs the chief's address and its own `KERASTUNER_TUNER_ID` (not `chief`).
    * None (a search in this process, or the collect step after a search on several hosts):
      the variables are for chiefs and workers, and keras-tuner would make this process a
      client of a chief ("KERASTUNER_ORACLE_IP was set, but KERASTUNER_TUNER_ID was not", or
      worse, a second chief when the id is exported too): they are removed from this process,
      with a note. While a chief still answers at that address its search is running, and
      this is refused (two oracles would write one project).

    Raises:
        ValueError: one line naming the variable, what it needs and what to do.
    """
    env = os.environ if environ is None else environ
    ip, port = env.get("KERASTUNER_ORACLE_IP"), env.get("KERASTUNER_ORACLE_PORT")
    tuner_id = env.get("KERASTUNER_TUNER_ID")
    if role is None:
        present = [v for v in ORACLE_VARS if v in env]
        if not present:
            return
        if ip and port and listening(ip, port):
            raise ValueError(
                f"a keras-tuner chief still answers at {ip}:{port} (KERASTUNER_ORACLE_IP/PORT "
                "are set): this command runs or collects the search in this process, so it waits "
                "until that search's workers have finished and its chief has exited; for another "
                f"search, unset {' '.join(present)}."
            )
        for var in present:
            env.pop(var)
        log(f"note: {', '.join(present)} ignored: they are for --role chief and --role worker; "
            "this process runs (or collects) the search itself")
        return
    if not ip or not port:
        missing = [v for v, x in (("KERASTUNER_ORACLE_IP", ip), ("KERASTUNER_ORACLE_PORT", port))
                   if not x]
        raise ValueError(
            f"--role {role} needs {' and '.join(missing)}: the address the chief listens on "
            "(export KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 on every host).")
    try:
        port_number = int(port)
        if not 0 < port_number < 65536:
            raise ValueError
    except ValueError:
        raise ValueError(f"KERASTUNER_ORACLE_PORT must be a TCP port (1-65535); received "
                         f"{port!r}.") from None
    if role == "chief":
        if tuner_id is None:
            env["KERASTUNER_TUNER_ID"] = "chief"
        elif "chief" not in tuner_id:
            raise ValueError(
                f"--role chief with KERASTUNER_TUNER_ID={tuner_id}: keras-tuner would make this "
                "process a worker; set KERASTUNER_TUNER_ID=chief (or leave it unset).")
        _check_can_listen(ip, port_number)
        return
    if not tuner_id:
        raise ValueError(
            "--role worker needs KERASTUNER_TUNER_ID, a name of its own (tuner0, tuner1, ...; "
            "the same name again after a restart gets its unfinished trial back).")
    if "chief" in tuner_id:
        raise ValueError(
            f"--role worker with KERASTUNER_TUNER_ID={tuner_id}: keras-tuner makes any id "
            "containing 'chief' a second chief; name the worker tuner0, tuner1, ...")


def _check_can_listen(ip: str, port: int) -> None:
    # gRPC binds with SO_REUSEPORT: a second chief on the port of a live one would start and
    # share the workers' requests with it. A bind test (SO_REUSEADDR only) refuses that.
    with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET,
                       socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))  # not listen(): a waiting worker would connect to this socket
        except OSError as e:
            busy = listening(ip, port)
            raise ValueError(
                f"--role chief cannot listen on {ip}:{port} "
                f"({'a chief or another program already listens there' if busy else e.strerror}); "
                "KERASTUNER_ORACLE_IP must be an address of this host and KERASTUNER_ORACLE_PORT a "
                "free port (one chief per search).") from None


# --- a worker's requests to its chief ------------------------------------------------------------


class _PatientStub:
    """keras-tuner's gRPC stub, whose requests wait up to `timeout` seconds in all for the
    chief (tries of `ATTEMPT_SECONDS`), say once that they are waiting, and are sent again when
    the chief's death cuts them off. Every request of keras-tuner's oracle is safe to send again:
    a chief gives a tuner id the trial it already has, and `end_trial` takes a trial ended twice
    once (dlzoo's oracle)."""

    def __init__(self, stub, timeout: float, address: str, log):
        self._stub, self._timeout, self._address, self._log = stub, timeout, address, log
        self._waiting = False

    def __getattr__(self, name):
        import grpc

        method = getattr(self._stub, name)

        def cut_off(e) -> bool:  # the chief is away, or died while answering
            code = e.code()
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                        grpc.StatusCode.CANCELLED):
                return True
            # a dying server's stream ends as UNKNOWN/INTERNAL ("Stream removed", "RST_STREAM");
            # an exception in the chief's oracle is UNKNOWN too, and is not sent again
            details = (e.details() if hasattr(e, "details") else "") or ""
            return code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL) and (
                "Exception calling application" not in details)

        def call(request, **kwargs):
            deadline = time.monotonic() + self._timeout
            while True:
                left = deadline - time.monotonic()
                try:
                    response = method(request, **{**kwargs, "wait_for_ready": True,
                                                  "timeout": max(0.1, min(left, ATTEMPT_SECONDS))})
                except grpc.RpcError as e:
                    if not cut_off(e):
                        details = (e.details() if hasattr(e, "details") else "") or ""
                        raise WorkerError(
                            f"the keras-tuner chief at {self._address} refused {name} "
                            f"({e.code()}: {details.strip().splitlines()[-1][:200] if details else ''}"
                            "); its log says why") from None
                    if deadline - time.monotonic() <= 0:
                        raise ChiefUnreachableError(
                            f"no keras-tuner chief answered at {self._address} for "
                            f"{self._timeout:g} s ({name}); start the chief (the same command with "
                            "--role chief; it continues the project), then this worker again with "
                            "the same KERASTUNER_TUNER_ID; --oracle-timeout or "
                            f"{TIMEOUT_VAR} sets the wait") from None
                    if not self._waiting:
                        self._waiting = True
                        self._log(f"waiting for the keras-tuner chief at {self._address} (up to "
                                  f"{self._timeout:g} s; --oracle-timeout / {TIMEOUT_VAR})")
                    time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
                    continue
                if self._waiting:
                    self._waiting = False
                    self._log(f"the keras-tuner chief at {self._address} answers again")
                return response

        return call


def patient_oracle_client(tuner, timeout=None, *, log=print) -> bool:
    """Gives a keras-tuner worker's oracle client (`tuner.oracle`, made by keras-tuner when
    `KERASTUNER_TUNER_ID` is not a chief's) a configurable, reported wait for its chief
    (`oracle_timeout(timeout)` seconds in all per request). Returns False, changing nothing,
    for a tuner that is not a worker."""
    client = getattr(tuner, "oracle", None)
    if type(client).__name__ != "OracleClient" or not hasattr(client, "stub"):
        return False
    import grpc
    from keras_tuner.src import protos

    address = (f"{os.environ.get('KERASTUNER_ORACLE_IP')}:"
               f"{os.environ.get('KERASTUNER_ORACLE_PORT')}")
    # keras-tuner's channel has gRPC's default reconnection backoff, which grows to 2 minutes
    # while the chief is away: a worker started early, or one whose chief restarted, would
    # notice the chief that late. This channel tries again every 2 s at most.
    channel = grpc.insecure_channel(address, options=[
        ("grpc.initial_reconnect_backoff_ms", 500), ("grpc.min_reconnect_backoff_ms", 500),
        ("grpc.max_reconnect_backoff_ms", 2000)])
    client.stub = _PatientStub(protos.get_service_grpc().OracleStub(channel),
                               oracle_timeout(timeout), address, log)
    return True


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
