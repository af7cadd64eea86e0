import gc
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session()  # and gc.collect(), which walks only what this test made:
    gc.freeze()                    # what is still alive now is set aside (see below)


# Garbage collection, made cheap. A full collection walks every object that can hold a reference:
# with TensorFlow, Keras and the test modules loaded, half a million objects and more, a quarter to
# a whole CPU-second, and the suite used to run one after every test (`clear_session`). Objects
# alive at the end of a test are frozen (left out of later collections), so each test's collection
# walks only what that test made; when a test module ends (its module-scoped fixtures released),
# everything is unfrozen and collected once, so nothing outlives its module uncollected.


def pytest_collection_finish(session):
    gc.collect()
    gc.freeze()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    if nextitem is None or getattr(nextitem, "module", None) is not getattr(item, "module", None):
        gc.unfreeze()
        gc.collect()
        gc.freeze()


# --- CPU time per test: `--cpu-durations=N` ------------------------------------------------------
# `--durations` shows wall time, which on a shared 2-core machine says as much about the neighbours
# as about the test; the budget (README, "Run the tests") is CPU time. This counts user + sys of the
# pytest process and of the child processes a test waited for (CLI subprocesses), setup and
# teardown included (a module-scoped fixture is charged to the first test that uses it).

_CPU_SECONDS: dict[str, float] = {}


def pytest_addoption(parser):
    parser.addoption("--cpu-durations", type=int, default=None, metavar="N",
                     help="show the N tests that used the most CPU time (user+sys, child "
                          "processes included; 0 for all)")


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = _cpu()
    yield
    _CPU_SECONDS[item.nodeid] = _cpu() - start


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    n = config.getoption("--cpu-durations")
    if n is None or not _CPU_SECONDS:
        return
    rows = sorted(_CPU_SECONDS.items(), key=lambda kv: -kv[1])
    total = _cpu()
    terminalreporter.write_sep("=", f"CPU seconds per test (user+sys, children included); "
                                    f"{total:.0f} s in all, {total / 60:.1f} min")
    for nodeid, seconds in rows[:n or None]:
        terminalreporter.write_line(f"{seconds:8.1f}s {nodeid}")
