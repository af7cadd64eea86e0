"""Training over several processes (several hosts) through JAX's own multi-process runtime:
`--coordinator HOST:PORT --num-processes N --process-id I` on `train`, `finetune` and `tune`
(dlzoo.distribution.join_processes, `jax.distributed.initialize`).

The slow test starts two real processes on 127.0.0.1 (JAX's CPU collectives over gloo, one CPU
device each) and checks their losses against one process with two local devices
(`XLA_FLAGS=--xla_force_host_platform_device_count=2`) at the same global batch, and that only
process 0 wrote a model. The default tests check the settings' errors in-process, before any
JAX runtime starts.
"""

import csv
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from dlzoo import distribution
from dlzoo.data.neutral import Batches
from dlzoo.distribution import join_processes

ROOT = Path(__file__).resolve().parents[1]


# --- the settings' errors: one line, before JAX starts (cheap, both CI legs) ----------------


@pytest.fixture
def on_jax(monkeypatch):
    """join_processes reads the backend as the CLI does; JAX here, whatever the leg."""
    monkeypatch.setattr(distribution, "backend_name", lambda: "jax")
    for name in distribution.PROCESS_ENV.values():
        monkeypatch.delenv(name, raising=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("kwargs, message", [
    ({"coordinator": "127.0.0.1:1234", "num_processes": 2, "process_id": 2},
     r"--process-id must be 0 to 1 \(--num-processes is 2; 0 on the coordinator's host, which "
     r"writes the outputs\); received 2\."),
    ({"coordinator": "127.0.0.1:1234", "num_processes": 2, "process_id": -1},
     r"--process-id must be 0 to 1 .*; received -1\."),
    ({"coordinator": "127.0.0.1:1234", "num_processes": 0, "process_id": 0},
     r"--num-processes must be at least 1 .*; received 0\."),
    ({"coordinator": "localhost", "num_processes": 2, "process_id": 1},
     r"--coordinator must be HOST:PORT .*e\.g\. 10\.0\.0\.1:1234\); received 'localhost'\."),
    ({"coordinator": "10.0.0.1:99999", "num_processes": 2, "process_id": 1},
     r"--coordinator must be HOST:PORT .*received '10\.0\.0\.1:99999'\."),
])
def test_bad_settings_are_one_line_naming_the_flag(on_jax, kwargs, message):
    with pytest.raises(ValueError, match=message):
        join_processes(**kwargs, log=lambda *a: None)


def test_settings_from_the_environment_are_named_by_their_variable(on_jax, monkeypatch):
    monkeypatch.setenv("JAX_NUM_PROCESSES", "two")
    with pytest.raises(ValueError, match=r"JAX_NUM_PROCESSES must be an integer "
                                         r"\(--num-processes sets it too\); received 'two'"):
        join_processes(log=lambda *a: None)
    monkeypatch.setenv("JAX_NUM_PROCESSES", "2")
    monkeypatch.setenv("JAX_PROCESS_ID", "3")
    with pytest.raises(ValueError, match=r"JAX_PROCESS_ID must be 0 to 1 \(JAX_NUM_PROCESSES "
                                         r"is 2;.*received 3\."):
        join_processes(log=lambda *a: None)


def test_settings_jax_cannot_find_are_named(tmp_path):
    """In a fresh process (JAX joins only before it has started: the suite's other tests start
    it), as the CLI runs it."""
    code = ("from dlzoo.distribution import join_processes\n"
            "try:\n    join_processes(log=lambda *a: None)\n"
            "except ValueError as e:\n    print(e)\n")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_COORDINATOR_ADDRESS": "127.0.0.1:1234",
           "PYTHONPATH": str(ROOT)}
    for name in ("JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        env.pop(name, None)
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert re.match(r"^JAX_COORDINATOR_ADDRESS=127\.0\.0\.1:1234: --num-processes "
                    r"\(JAX_NUM_PROCESSES\) and --process-id \(JAX_PROCESS_ID\) unset, and JAX "
                    r"detected no cluster \(SLURM", run.stdout), (run.stdout, run.stderr[-2000:])


def test_a_process_where_jax_already_ran_is_told_to_join_first(on_jax):
    import jax

    jax.devices()  # JAX has started in this process
    port = _free_port()
    with pytest.raises(ValueError, match=rf"--coordinator 127\.0\.0\.1:{port}, --num-processes "
                                         r"2, --process-id 0: JAX is already running in this "
                                         r"process .* or run the dlzoo command in a fresh"):
        join_processes(f"127.0.0.1:{port}", 2, 0, timeout=1, log=lambda *a: None)


def test_nothing_is_joined_without_settings_or_with_one_process(on_jax):
    assert join_processes(log=lambda *a: None) == (0, 1)
    assert join_processes("127.0.0.1:1234", 1, 0, log=lambda *a: None) == (0, 1)


def test_an_unreachable_coordinator_fails_within_the_timeout(on_jax):
    port = _free_port()  # nobody listens there
    with pytest.raises(ValueError, match=rf"--coordinator 127\.0\.0\.1:{port}: process 1 of 2 "
                                         r"found nobody listening there within 1 s .*start "
                                         r"process 0 \(--process-id 0\) on that host"):
        join_processes(f"127.0.0.1:{port}", 2, 1, timeout=1, log=lambda *a: None)


def test_process_0_says_when_its_port_is_taken(on_jax):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        port = taken.getsockname()[1]
        with pytest.raises(ValueError, match=rf"--coordinator 127\.0\.0\.1:{port}: process 0 "
                                             rf"listens on port {port} and cannot .*; choose a "
                                             "free port"):
            join_processes(f"127.0.0.1:{port}", 2, 0, timeout=1, log=lambda *a: None)


def test_the_cli_refuses_other_backends_and_bad_ids_in_one_line(monkeypatch, capsys):
    from dlzoo.cli import main

    for name in distribution.PROCESS_ENV.values():
        monkeypatch.delenv(name, raising=False)
    backend = keras.backend.backend()
    for command in (["train", "mlp-xor"], ["tune", "mlp-xor"], ["finetune", "photos/",
                                                                "--model", "lenet5"]):
        code = main([*command, "--coordinator", "127.0.0.1:1234", "--num-processes", "2",
                     "--process-id", "5"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1, err
        if backend == "jax":
            assert "--process-id must be 0 to 1" in err and "received 5" in err, err
        else:
            assert (f"needs KERAS_BACKEND=jax (the backend is {backend})" in err
                    and "--coordinator 127.0.0.1:1234" in err), err


def test_each_process_reads_its_slice_of_every_global_batch():
    x = np.arange(30, dtype=np.float32).reshape(15, 2)
    y = np.arange(15)
    whole = Batches(x, y, batch_size=4, shuffle=True, seed=3).divisible(2, drop_remainder=True)
    parts = [Batches(x, y, batch_size=4, shuffle=True, seed=3).divisible(
        2, drop_remainder=True, shard=(p, 2)) for p in range(2)]
    assert len(whole) == len(parts[0]) == len(parts[1]) == 3
    for i in range(3):
        joined = np.concatenate([parts[0][i][1], parts[1][i][1]])
        np.testing.assert_array_equal(joined, whole[i][1])  # process 0 first, as JAX's mesh
        assert len(parts[0][i][1]) == 2
    # iteration (dlzoo's own evaluation) still yields whole batches
    np.testing.assert_array_equal(np.concatenate([b[1] for b in parts[1]]),
                                  np.concatenate([b[1] for b in whole]))
    val = Batches(x, y, batch_size=4).divisible(2, drop_remainder=False, shard=(1, 2))
    assert [len(val[i][1]) for i in range(len(val))] == [2, 2, 2, 1]  # 14 of 15, in halves


# --- two real processes on 127.0.0.1 ------------------------------------------------------


def _env(tmp_path, **extra):
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT),
           "TMPDIR": str(tmp_path / "tmp"), **extra}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLI's own environment
    for name in distribution.PROCESS_ENV.values():
        env.pop(name, None)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return env


def _history(path: Path) -> dict:
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in ("loss", "val_loss")}


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX's multi-process runtime")
def test_two_processes_train_as_one_process_on_two_devices(tmp_path):
    # lenet5-digits (its shifts and zooms drawn per sample on the global batch), 2 epochs of 11
    # global batches of 128: 64 per device in both runs
    common = [sys.executable, "-m", "dlzoo", "train", "lenet5-digits", "--set",
              "train.epochs=2", "--set", "data.batch_size=128", "--devices", "all"]
    port = _free_port()
    env = _env(tmp_path)
    procs = [subprocess.Popen(
        [*common, "--output", str(tmp_path / "two"), "--coordinator", f"127.0.0.1:{port}",
         "--num-processes", "2", "--process-id", str(i)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in range(2)]
    try:
        outs = [p.communicate(timeout=600)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], outs[0][-3000:] + outs[1][-3000:]
    assert "strategy: data_parallel over 2 device(s) of 2 processes" in outs[0], outs[0]
    assert "process 1: done; process 0 wrote the model and its card" in outs[1], outs[1]
    assert "Epoch" not in outs[1], outs[1]  # the others stay quiet
    one = subprocess.run([*common, "--output", str(tmp_path / "one"), "--quiet"],
                         env=_env(tmp_path, XLA_FLAGS="--xla_force_host_platform_device_count=2"),
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stdout[-2000:] + one.stderr[-2000:]
    two, single = (_history(tmp_path / d / "lenet5-digits" / "history.csv")
                   for d in ("two", "one"))
    assert len(two["loss"]) == 2
    # The same mesh of two devices computes the same per-device gradients in both runs; only
    # the all-reduce differs (gloo between processes, in-process otherwise), and a sum of two
    # float32 terms does not depend on their order: equal up to float32 rounding (measured:
    # bit-identical), and far from what another batch split or learning rate gives (~1e-2).
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(two[key], single[key], rtol=1e-5)
    card = json.loads((tmp_path / "two" / "lenet5-digits" / "card.json").read_text())
    assert card["training"]["devices"] == 2 and card["training"]["global_batch_size"] == 128
    # one model, one card, written by process 0; process 1's scratch folder is gone
    cards = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("card.json"))
    assert cards == [Path("one/lenet5-digits/card.json"), Path("two/lenet5-digits/card.json")]
    assert len(list(tmp_path.rglob("model.keras"))) == 2
    assert not list((tmp_path / "two").glob(".runs/lenet5-digits*"))
    assert not list((tmp_path / "tmp").glob("dlzoo-process*")), os.listdir(tmp_path / "tmp")


def _start_two(args, tmp_path, env, **popen):
    port = _free_port()
    return [subprocess.Popen(
        [sys.executable, "-m", "dlzoo", *args, "--coordinator", f"127.0.0.1:{port}",
         "--num-processes", "2", "--process-id", str(i)],
        env=env, cwd=tmp_path, text=True, **popen) for i in range(2)]


def _finish(procs, timeout=600) -> list[str]:
    try:
        outs = [p.communicate(timeout=timeout)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], outs[0][-3000:] + outs[1][-3000:]
    return outs


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX's multi-process runtime")
def test_two_processes_killed_and_restarted_with_resume_run_every_epoch_once(tmp_path):
    import signal
    import time

    from dlzoo.runs import run_dir_for

    epochs, kill_after = 8, 2
    args = ["train", "mlp-xor", "--set", "data.n=398", "--set", "data.batch_size=10",
            "--set", f"train.epochs={epochs}", "--set", "callbacks.early_stopping=false",
            "--devices", "all", "--output", str(tmp_path / "out")]
    env = _env(tmp_path)
    log = run_dir_for(tmp_path / "out", "mlp-xor") / "history.csv"
    procs = _start_two([*args, "--quiet"], tmp_path, env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and all(p.poll() is None for p in procs):
            if log.exists() and len(log.read_text().splitlines()) - 1 >= kill_after:
                break
            time.sleep(0.05)
        assert all(p.poll() is None for p in procs), "training ended before the kill"
        for p in procs:
            p.send_signal(signal.SIGKILL)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert not (tmp_path / "out" / "mlp-xor").exists(), "nothing saved by the killed run"
    outs = _finish(_start_two([*args, "--resume"], tmp_path, env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT))
    saved = tmp_path / "out" / "mlp-xor"
    with open(saved / "history.csv") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == list(range(epochs)), outs[0]
    card = json.loads((saved / "card.json").read_text())
    assert card["training"]["epochs_run"] == epochs
    assert card["training"]["resumed_from_epoch"] >= kill_after - 1, outs[0]
    assert f"resuming mlp-xor after epoch {card['training']['resumed_from_epoch']}" in outs[0]


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX's multi-process runtime")
def test_two_processes_finetune_as_one_process_on_two_devices(tmp_path):
    from tests._imagefolders import write_good

    rng = np.random.default_rng(0)
    for label, cls in enumerate(["a", "b"]):
        for i in range(20):
            write_good(tmp_path / "data", cls, f"{i:02d}", rng, label, size=(32, 32))
    common = ["finetune", str(tmp_path / "data"), "--model", "lenet5", "--head-epochs", "1",
              "--epochs", "1", "--batch-size", "8", "--cache-dir", "", "--devices", "all"]
    outs = _finish(_start_two([*common, "--out", str(tmp_path / "two")], tmp_path,
                              _env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    assert "process 1: done; process 0 wrote the model and its card" in outs[1], outs[1]
    one = subprocess.run([sys.executable, "-m", "dlzoo", *common, "--out", str(tmp_path / "one"),
                          "--quiet"],
                         env=_env(tmp_path, XLA_FLAGS="--xla_force_host_platform_device_count=2"),
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stdout[-2000:] + one.stderr[-2000:]
    two, single = (_history(tmp_path / d / "history.csv") for d in ("two", "one"))
    assert len(two["loss"]) == 2  # from scratch (random weights): both epochs train every layer
    for key in ("loss", "val_loss"):  # as for train, above
        np.testing.assert_allclose(two[key], single[key], rtol=1e-5)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("card.json")) == [
        Path("one/card.json"), Path("two/card.json")]
    assert not list((tmp_path / "tmp").glob("dlzoo-process*"))


def test_devices_count_over_every_process(monkeypatch):
    import types

    import jax

    fake = [types.SimpleNamespace(platform="gpu", id=i, process_index=i // 2) for i in range(4)]
    monkeypatch.setattr(jax, "devices", lambda *a, **k: fake)
    monkeypatch.setattr(distribution, "processes", lambda: (1, 2))
    names = [f"gpu:{i}" for i in range(4)]  # keras.distribution.list_devices()
    assert distribution.select_devices("all", names) == names
    assert distribution.select_devices(2, names) == ["gpu:0", "gpu:2"]  # one of each process
    for devices in (1, 3, 6):
        with pytest.raises(ValueError, match=rf"train.devices is {devices} but this run spans 2 "
                                             r"processes with 2 device\(s\) each: .*ask for all "
                                             r"\(--devices all\) or a multiple of 2 up to 4\."):
            distribution.select_devices(devices, names)


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX's multi-process runtime")
def test_a_resume_whose_state_only_process_0_sees_stops_every_process_in_one_line(tmp_path):
    # two hosts without a shared output folder: process 0 sees the run's backups, process 1
    # (another --output here) does not; resuming would leave them on different epochs
    (tmp_path / "a" / ".runs" / "mlp-xor").mkdir(parents=True)
    port = _free_port()
    procs = [subprocess.Popen(
        [sys.executable, "-m", "dlzoo", "train", "mlp-xor", "--devices", "all", "--resume",
         "--output", str(tmp_path / out), "--coordinator", f"127.0.0.1:{port}",
         "--num-processes", "2", "--process-id", str(i)],
        env=_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True) for i, out in enumerate("ab")]
    try:
        errs = [p.communicate(timeout=300)[1] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [2, 2], errs
    for err in errs:
        last = err.strip().splitlines()[-1]
        assert last.startswith("dlzoo: error: --resume: process(es) 1 do not see the run's "
                               "state in "), err
        assert "put the output folder (--output, --out) on a disk every host shares" in last
