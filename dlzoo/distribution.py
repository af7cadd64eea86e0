"""Where a run's steps run: the devices it uses (`train.devices`, `--devices`), the
distribution strategy over them (`keras.distribution.DataParallel` on JAX, `tf.distribute` on
TensorFlow) and batches that split evenly over them. Used by `dlzoo.training` and
`dlzoo.transfer.finetune` alike.

Several hosts (JAX): every host starts the same command with the coordinator's address, the
process count and its own index (`--coordinator`, `--num-processes`, `--process-id`, or JAX's
environment; `join_processes`); `jax.distributed.initialize` joins them, the devices of every
process form one data-parallel mesh, each process feeds its own slice of every global batch
(`dlzoo.data.neutral.Batches`), and only process 0 writes (`process_output`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from dlzoo.backends import backend_name, processes

__all__ = ["divisible_batches", "join_processes", "process_output", "processes",
           "replica_count", "select_devices", "strategy_for", "strategy_scope"]

# Where `join_processes` reads what its flags leave unset: JAX reads JAX_COORDINATOR_ADDRESS
# itself; the process count and index have no variable in JAX 0.10 (its cluster detection
# reads SLURM's, Open MPI's, Kubernetes' and Cloud TPU's), so these two are the names JAX's
# own examples and most launch scripts use.
PROCESS_ENV = {"coordinator": "JAX_COORDINATOR_ADDRESS", "num_processes": "JAX_NUM_PROCESSES",
               "process_id": "JAX_PROCESS_ID"}
FLAGS = {"coordinator": "--coordinator", "num_processes": "--num-processes",
         "process_id": "--process-id"}
JOIN_TIMEOUT = 120  # seconds every process has to reach the coordinator (DLZOO_JOIN_TIMEOUT)

STRATEGIES = ("mirrored", "multi_worker", "data_parallel")  # train.strategy (dlzoo.recipes)
_STRATEGIES_MADE: dict = {}


def _env_int(name: str, key: str):
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be an integer ({FLAGS[key]} sets it too); received "
                         f"{text!r}.") from None


def join_processes(coordinator: str | None = None, num_processes: int | None = None,
                   process_id: int | None = None, *, timeout: float | None = None,
                   log=print) -> tuple[int, int]:
    """Joins this process to a multi-process JAX run (several hosts, or several processes on
    one), through JAX's own runtime: `jax.distributed.initialize`. Call it before any JAX
    computation; every process runs the same command, with its own `process_id`.

    Each setting comes from its argument, else from the environment: `JAX_COORDINATOR_ADDRESS`
    (which JAX reads itself), `JAX_NUM_PROCESSES`, `JAX_PROCESS_ID`; what is still unset JAX
    detects on SLURM, Open MPI, Kubernetes and Cloud TPU. With none of them set (or one
    process) nothing is joined. On CPUs the collectives run over gloo
    (`jax_cpu_collectives_implementation`, unless `JAX_CPU_COLLECTIVES_IMPLEMENTATION` says
    otherwise).

    Args:
        coordinator: "HOST:PORT" of process 0, which listens there (a free port on its host).
        num_processes: how many processes the run has (every process says the same).
        process_id: this process's index, 0 to num_processes - 1 (0 writes the outputs).
        timeout: seconds to wait for every process to join (default `DLZOO_JOIN_TIMEOUT`, else
            120); a process that cannot reach the coordinator fails after it.

    Returns:
        `(process index, process count)`.

    Raises:
        ValueError: a setting is malformed or out of range, the backend is not JAX, or the
            coordinator was not reached in time (one line saying what to do).
    """
    asked = {"coordinator": coordinator, "num_processes": num_processes,
             "process_id": process_id}
    given = {k: v for k, v in asked.items() if v is not None}
    if asked["coordinator"] is None and os.environ.get(PROCESS_ENV["coordinator"], "").strip():
        asked["coordinator"] = os.environ[PROCESS_ENV["coordinator"]].strip()
    for key in ("num_processes", "process_id"):
        if asked[key] is None:
            asked[key] = _env_int(PROCESS_ENV[key], key)
    if all(v is None for v in asked.values()):
        return processes()
    where = ", ".join(f"{FLAGS[k]} {v}" for k, v in given.items()) or ", ".join(
        f"{PROCESS_ENV[k]}={v}" for k, v in asked.items() if v is not None)
    def name(key):  # the flag, or the variable the value came from
        return FLAGS[key] if key in given else PROCESS_ENV[key]

    backend = backend_name()
    if backend != "jax":
        raise ValueError(
            f"{where}: a run over several processes joins through JAX's multi-process runtime, "
            f"which needs KERAS_BACKEND=jax (the backend is {backend}); on TensorFlow use "
            "train.strategy: multi_worker with TF_CONFIG, or drop these settings.")
    count, index, address = asked["num_processes"], asked["process_id"], asked["coordinator"]
    if count is not None and count < 1:
        raise ValueError(f"{name('num_processes')} must be at least 1 (the processes of the "
                         f"run, counted over every host); received {count}.")
    if count is not None and index is not None and not 0 <= index < count:
        raise ValueError(f"{name('process_id')} must be 0 to {count - 1} "
                         f"({name('num_processes')} is {count}; 0 on the coordinator's host, "
                         f"which writes the outputs); received {index}.")
    if index is not None and index < 0:
        raise ValueError(f"{name('process_id')} must be 0 or more; received {index}.")
    if address is not None:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{name('coordinator')} must be HOST:PORT (process 0's host "
                             "name or address and a free port on it, e.g. 10.0.0.1:1234); "
                             f"received {address!r}.")
    if count == 1:
        return processes()
    if processes()[1] > 1:
        return processes()  # joined already (a second command in the same process)
    if timeout is None:
        timeout = float(os.environ.get("DLZOO_JOIN_TIMEOUT", "").strip() or JOIN_TIMEOUT)
    if address is not None and index is not None:
        # JAX ends the process (a C++ check, no exception) when the coordinator cannot be
        # reached in time: find out first, and say so in one line
        _reach_coordinator(address, index, count, timeout)
        log(f"process {index} of {count}: joining the run at {address} (waiting up to "
            f"{int(timeout)} s for every process)")
    if _jax_started():
        raise ValueError(
            f"{where}: JAX is already running in this process (it computed or listed its "
            "devices before the processes joined), and jax.distributed.initialize must come "
            "first; call dlzoo.distribution.join_processes before anything else runs on JAX, "
            "or run the dlzoo command in a fresh process.")
    import jax

    if not os.environ.get("JAX_CPU_COLLECTIVES_IMPLEMENTATION"):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(address, count, index,
                                   initialization_timeout=max(1, int(timeout)))
    except Exception as e:  # JAX raises RuntimeError, ValueError or its own XlaRuntimeError
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        missing = [f"{FLAGS[k]} ({PROCESS_ENV[k]})" for k, v in
                   (("coordinator", address), ("num_processes", count), ("process_id", index))
                   if v is None]
        if missing and isinstance(e, (ValueError, TypeError)):
            raise ValueError(
                f"{where}: {' and '.join(missing)} unset, and JAX detected no cluster (SLURM, "
                f"Open MPI, Kubernetes, Cloud TPU) to take {'them' if len(missing) > 1 else 'it'}"
                f" from ({first}); give every process the same --coordinator HOST:PORT and "
                "--num-processes, and each its own --process-id.") from None
        raise ValueError(
            f"could not join the run at {address or 'the detected coordinator'} as process "
            f"{index} of {count} within {int(timeout)} s ({first}); start process 0 on the "
            "coordinator's host and every other process with the same --coordinator HOST:PORT "
            "and --num-processes, each with its own --process-id, within DLZOO_JOIN_TIMEOUT "
            "seconds of each other.") from None
    index, count = processes()
    log(f"process {index} of {count}: joined the run at {address or 'the detected coordinator'}"
        f", {jax.local_device_count()} local of {jax.device_count()} device(s)")
    return index, count


def _jax_started() -> bool:
    """Whether JAX's backends are up in this process (after which JAX refuses to join others).
    JAX's own check (`jax._src.xla_bridge.backends_are_initialized`); False where it is absent
    (then `jax.distributed.initialize` says so itself)."""
    import jax._src.xla_bridge as bridge

    started = getattr(bridge, "backends_are_initialized", None)
    return bool(started and started())


def _reach_coordinator(address: str, index: int, count, timeout: float) -> None:
    """Process 0: its port is free to listen on. The others: process 0 listens, within
    `timeout` seconds. ValueError in one line otherwise."""
    import socket
    import time

    host, _, port = address.rpartition(":")
    host, port = host.strip("[]"), int(port)
    if index == 0:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("", port))
            except OSError as e:
                raise ValueError(
                    f"--coordinator {address}: process 0 listens on port {port} and cannot "
                    f"({e.strerror or e}); choose a free port, the same on every "
                    "process.") from None
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=min(5.0, timeout)):
                return
        except OSError as e:
            if time.monotonic() >= deadline:
                raise ValueError(
                    f"--coordinator {address}: process {index} of {count} found nobody "
                    f"listening there within {int(timeout)} s ({e.strerror or e}); start "
                    f"process 0 (--process-id 0) on that host with the same --coordinator, "
                    "or check the address and that the port is open between the hosts "
                    "(DLZOO_JOIN_TIMEOUT sets the wait).") from None
            time.sleep(0.5)


@contextlib.contextmanager
def process_output(path, *, state=(), runs_in=None, resume: bool = False):
    """Where this process writes a run's outputs: `path` on process 0 (and on one process);
    on the other processes of a multi-process run a scratch folder of their own, removed
    afterwards, so that processes sharing a disk never write the same files. On a resume the
    scratch folder starts with a copy of the run's state (the backups, which process 0 keeps
    in the shared folder: every host must see the same folder, e.g. a shared disk), so every
    process resumes from the same epoch.

    Args:
        path: the output (`dlzoo train --output`, `dlzoo finetune --out`).
        state: the run's state folders, relative to `runs_in` (e.g. ".runs/NAME").
        runs_in: the folder `state` is relative to (default `path`).
        resume: copy the state into the scratch folder.

    Raises:
        ValueError: on a process other than 0, whatever stopped its run, in one line that
            points at process 0's output (which stops first when it refuses the settings).
    """
    index, count = processes()
    runs_in = Path(runs_in) if runs_in is not None else Path(path)
    if count > 1 and resume:
        _same_state_everywhere(runs_in, state, index)
    if count == 1 or index == 0:
        yield path
        return
    path = Path(path)
    scratch = Path(tempfile.mkdtemp(prefix=f"dlzoo-process{index}-"))
    try:
        for rel in state if resume else ():
            # process 0 may be trimming a log or removing a torn backup as this runs: what is
            # missed is what it leaves out as well (it writes nothing new before every
            # process has trained an epoch with it)
            if (runs_in / rel).is_dir():
                with contextlib.suppress(shutil.Error, OSError):
                    shutil.copytree(runs_in / rel, scratch / rel,
                                    ignore=shutil.ignore_patterns("*.lock"))
        try:
            yield os.fspath(scratch / path.resolve().relative_to(runs_in.resolve()))
        except Exception as e:  # most often process 0 stopped (and said why) and left this one
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise ValueError(
                f"process {index} of {count}: the run stopped ({type(e).__name__}: {first}); "
                "when process 0 stopped first, its output says why: fix that and start every "
                "process again.") from e
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _same_state_everywhere(runs_in: Path, state, index: int) -> None:
    """Every process of a resumed run must see the state process 0 resumes from (a shared
    output folder); else every process stops with the same one-line error, before any of them
    trains (a process resuming from another epoch than the others would wait for them)."""
    import numpy as np
    from jax.experimental import multihost_utils

    seen = np.asarray([int((runs_in / rel).is_dir()) for rel in state] or [0], np.int32)
    every = np.asarray(multihost_utils.process_allgather(seen)).reshape(-1, len(seen))
    if (every != every[0]).any():
        blind = [str(p) for p in range(len(every)) if (every[p] != every[0]).any()]
        where = ", ".join(os.fspath(runs_in / rel) for rel in state)
        raise ValueError(
            f"--resume: process(es) {', '.join(blind)} do not see the run's state in {where} as "
            "process 0 does; put the output folder (--output, --out) on a disk every host "
            "shares, at the same path on each, and start every process again.")


def select_devices(devices, available: list, *, where: str = "train.devices") -> list:
    """The first `devices` of `available` (all of them for "all"); ValueError when there are
    fewer than asked for. In a multi-process run `available` spans every process and
    `devices` counts over all of them: a multiple of the process count, as many from each."""
    index, count = processes()
    if count > 1:
        return _devices_of_every_process(devices, available, count, where)
    if devices in (None, "all"):
        return list(available)
    if devices > len(available):
        raise ValueError(
            f"{where} is {devices} but this host has {len(available)} device(s) "
            f"({', '.join(str(getattr(d, 'name', d)) for d in available[:8])}); ask for at "
            f"most {len(available)} "
            "or 'all'.")
    return list(available[:devices])


def _devices_of_every_process(devices, available: list, count: int, where: str) -> list:
    import jax

    # Keras names devices "platform:id" (keras.distribution.list_devices); JAX knows whose
    process_of = {f"{d.platform}:{d.id}": d.process_index for d in jax.devices()}
    by_process = [[d for d in available if process_of.get(str(d), 0) == p]
                  for p in range(count)]
    each = min(len(ds) for ds in by_process)
    if devices in (None, "all"):
        devices = each * count
    if devices % count or not count <= devices <= each * count:
        raise ValueError(
            f"{where} is {devices} but this run spans {count} processes with {each} device(s) "
            f"each: every process trains on as many, so ask for all (--devices all) or a "
            f"multiple of {count} up to {each * count}.")
    return [d for ds in by_process for d in ds[:devices // count]]


def strategy_for(name: str | None, *, devices=1, log=print):
    """The scale-out a recipe's `train.strategy` and `train.devices` ask for, made ready for use.

    * `mirrored`: `tf.distribute.MirroredStrategy` over this host's GPUs (or its CPU devices);
    * `multi_worker`: `tf.distribute.MultiWorkerMirroredStrategy`, one process per host, the
      cluster described by the `TF_CONFIG` variable;
    * `data_parallel` (JAX): `keras.distribution.DataParallel` over the local devices, set as
      Keras's global distribution.

    With no strategy, `devices` (an integer or "all") above one picks the backend's data
    parallelism: `data_parallel` on JAX, `mirrored` on TensorFlow; `devices` also limits how
    many devices `data_parallel` and `mirrored` use. `data.batch_size` stays the global batch
    (split evenly over the devices) and the learning rate is the one for that batch, so a
    recipe trains the same on one device or several.

    Returns the `tf.distribute.Strategy` (None for `data_parallel` and for no strategy): what
    `strategy_scope` builds under, and what keras-tuner's `distribution_strategy` takes.

    Raises:
        ValueError: the backend lacks the strategy, or the host has fewer devices.
    """
    import keras

    backend = keras.backend.backend()
    if processes()[1] > 1 and name not in (None, "data_parallel"):
        raise ValueError(f"train.strategy {name!r} is tf.distribute; a JAX run over several "
                         "processes uses train.strategy: data_parallel (or none).")
    if processes()[1] > 1 and name is None:
        name = "data_parallel"  # each process must feed the mesh of every process's devices
    if name is None and devices not in (1, None):
        if backend not in ("jax", "tensorflow"):
            raise ValueError(f"train.devices {devices!r} needs KERAS_BACKEND=jax or tensorflow "
                             f"(the backend is {backend}); use train.devices: 1.")
        name = "data_parallel" if backend == "jax" else "mirrored"
    if name is None:
        return None
    if name in ("mirrored", "multi_worker"):
        if backend != "tensorflow":
            raise ValueError(
                f"train.strategy {name!r} is tf.distribute, which needs KERAS_BACKEND=tensorflow "
                f"(the backend is {backend}); on JAX use train.strategy: data_parallel."
            )
        import tensorflow as tf

        # One strategy per process: a second MirroredStrategy over the same devices reuses
        # collective instance keys and fails ("Shape mismatch in the collective instance").
        key = (name, devices)
        if key not in _STRATEGIES_MADE:
            if name == "mirrored":
                local = (tf.config.list_logical_devices("GPU")
                         or tf.config.list_logical_devices("CPU"))
                chosen = None if devices in (1, None, "all") else [
                    d.name for d in select_devices(devices, local)]
                _STRATEGIES_MADE[key] = tf.distribute.MirroredStrategy(devices=chosen)
            else:
                _STRATEGIES_MADE[key] = tf.distribute.MultiWorkerMirroredStrategy()
        strategy = _STRATEGIES_MADE[key]
        log(f"strategy: {name}, {strategy.num_replicas_in_sync} replica(s)")
        return strategy
    if name == "data_parallel":
        if backend != "jax":
            raise ValueError(
                "train.strategy 'data_parallel' uses keras.distribution, which needs "
                f"KERAS_BACKEND=jax (the backend is {backend}); on TensorFlow use mirrored."
            )
        count = processes()[1]
        chosen = select_devices(None if devices == 1 and count == 1 else devices,
                                keras.distribution.list_devices())
        # several processes: each feeds its own slice of every global batch (divisible_batches),
        # so Keras's own sharding, which takes tf.data only, stays off
        keras.distribution.set_distribution(keras.distribution.DataParallel(
            devices=chosen, auto_shard_dataset=count == 1))
        log(f"strategy: data_parallel over {len(chosen)} device(s)"
            + (f" of {count} processes" if count > 1 else ""))
        return None
    raise ValueError(f"train.strategy must be one of {', '.join(STRATEGIES)} or null; "
                     f"received {name!r}.")


def divisible_batches(train, val, batch_size: int, *, log=print):
    """Under `keras.distribution.DataParallel` (JAX) every batch must split evenly over the
    devices, and Keras does not pad: the training set drops its last, partial batch (a
    different remainder each epoch, as it is reshuffled) and the validation set leaves out its
    last `len % devices` examples (fewer than the device count). Without a data-parallel
    distribution the datasets are returned as they are."""
    import keras

    dist = keras.distribution.distribution() if hasattr(keras, "distribution") else None
    if not isinstance(dist, getattr(keras.distribution, "DataParallel", ())):
        return train, val
    replicas = int(dist.device_mesh.devices.size)
    if replicas == 1:
        return train, val
    if batch_size % replicas:
        raise ValueError(
            f"data.batch_size ({batch_size}) must be a multiple of the {replicas} devices "
            "train.strategy data_parallel splits each batch over."
        )
    index, processes_ = processes()
    if hasattr(train, "divisible"):  # dlzoo.data.neutral.Batches: no tf.data to rebatch
        count = 0 if val is None else len(val.index)
        if count % replicas:
            log(f"note: data_parallel over {replicas} devices leaves out the last "
                f"{count % replicas} of {count} validation examples")
        shard = (index, processes_) if processes_ > 1 else None
        return (train.divisible(replicas, drop_remainder=True, shard=shard),
                None if val is None else val.divisible(replicas, drop_remainder=False,
                                                       shard=shard))
    if processes_ > 1:
        raise ValueError(
            "a run over several processes reads its data with the backend-neutral loader, "
            "each process its own slice of every batch; set data.loader: pydataset "
            "(--set data.loader=pydataset; loader='pydataset' in the library).")
    train = train.unbatch().batch(batch_size, drop_remainder=True)
    if val is not None:
        count = sum(1 for _ in val.unbatch())
        if count % replicas:
            log(f"note: data_parallel over {replicas} devices leaves out the last "
                f"{count % replicas} of {count} validation examples")
        val = val.unbatch().take(count - count % replicas).batch(batch_size)
    return train, val


def process_arrays(x, y, val, *, batch_size: int, shuffle: bool, seed: int):
    """In-memory arrays for a `fit` over several processes, as `(train, val)` batches.

    Given arrays, Keras batches them itself and every process would feed the whole batch as
    its own slice (each example counted once per process); here they become
    `dlzoo.data.neutral.Batches` split as `divisible_batches` splits a data set (reshuffled
    each epoch from `seed`, each process its slice of every global batch). On one process
    the arrays are returned as they are, as `(x, y), val`."""
    if processes()[1] == 1:
        return (x, y), val
    from dlzoo.data.neutral import Batches

    train = Batches(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed)
    val = None if val is None else Batches(val[0], val[1], batch_size=batch_size)
    return divisible_batches(train, val, batch_size, log=lambda *a: None)


def strategy_scope(strategy):
    """`strategy.scope()`, or a do-nothing context without a strategy."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


# --- one run: a recipe's inputs ------------------------------------------------------------------


def replica_count(strategy=None) -> int:
    """How many devices each batch is split over: the strategy's replicas, or the devices of
    Keras's data-parallel distribution (JAX), else 1."""
    if strategy is not None:
        return int(strategy.num_replicas_in_sync)
    import keras

    dist = keras.distribution.distribution() if hasattr(keras, "distribution") else None
    mesh = getattr(dist, "device_mesh", None)
    return int(mesh.devices.size) if mesh is not None else 1
