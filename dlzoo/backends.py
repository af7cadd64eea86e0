"""Which Keras backend and which optional engines this process has, asked without importing them.

Importing Keras imports its backend (TensorFlow: seconds), so start-up paths (`dlzoo --version`,
the choice between the tf.data and the backend-neutral input path) ask here instead:

    >>> from dlzoo.backends import backend_name, has_tensorflow
    >>> backend_name()          # KERAS_BACKEND, else ~/.keras/keras.json, else "tensorflow"
    'jax'
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import sys

__all__ = ["LOADERS", "backend_name", "choose_backend", "compilation_cache_dir", "has_tensorflow",
           "installed_version", "processes", "resolve_loader", "use_compilation_cache"]

LOADERS = ("auto", "tf.data", "pydataset")


def backend_name() -> str:
    """The backend Keras uses (or will use once imported): Keras's own rule, read without
    importing it: `KERAS_BACKEND`, else `"backend"` in `$KERAS_HOME/keras.json` (default
    `~/.keras`, `/tmp/.keras` when home is not writable), else `"tensorflow"`."""
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        return keras.backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    if "KERAS_HOME" in os.environ:
        base = os.environ["KERAS_HOME"]
    else:
        home = os.path.expanduser("~")
        base = os.path.join(home if os.access(home, os.W_OK) else "/tmp", ".keras")
    try:
        with open(os.path.join(os.path.expanduser(base), "keras.json"), encoding="utf-8") as f:
            return str(json.load(f).get("backend", "tensorflow"))
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def choose_backend() -> str:
    """On a host without TensorFlow, makes Keras use JAX (else PyTorch) when nothing chose a
    backend that is installed; returns the backend Keras will use.

    Keras's default is TensorFlow, and it writes that into keras.json on first use, so a
    `pip install dlzoo` host without TensorFlow would otherwise fail at `import keras`. An
    explicit `KERAS_BACKEND`, a Keras already imported, or a configured backend that is
    installed are left alone. Called when `dlzoo` is imported, before any Keras import.
    """
    name = _choose_backend()
    if name == "jax":
        use_compilation_cache()
    return name


def _choose_backend() -> str:
    name = backend_name()
    if "keras" in sys.modules or os.environ.get("KERAS_BACKEND") or name != "tensorflow":
        return name
    if has_tensorflow():
        return name
    for other in ("jax", "torch"):
        if importlib.util.find_spec(other) is not None:
            os.environ["KERAS_BACKEND"] = other
            return other
    return name


def compilation_cache_dir() -> str:
    """Where JAX keeps the programs it compiled, across processes: `JAX_COMPILATION_CACHE_DIR`
    when set, else `$XDG_CACHE_HOME/dlzoo/jax` (default `~/.cache/dlzoo/jax`)."""
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return os.environ["JAX_COMPILATION_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dlzoo", "jax")


def use_compilation_cache() -> None:
    """Turns on JAX's persistent compilation cache (`jax_compilation_cache_dir`) for a JAX
    process, unless the user configured it or set `DLZOO_JAX_CACHE=0`: every `dlzoo` command
    after the first reuses the jitted training, evaluation and prediction steps instead of
    compiling them again (LeNet-5's steps: seconds on a CPU; ResNet-50's: about a minute on a
    GPU). Programs that compiled in under a second are not kept (JAX's default); delete the
    folder to reclaim its space. Before JAX is imported this goes through JAX's environment
    variable; afterwards through `jax.config`."""
    if os.environ.get("DLZOO_JAX_CACHE", "1").strip() in ("0", "false", "no"):
        return
    jax = sys.modules.get("jax")
    if jax is not None and hasattr(jax, "config"):
        if not jax.config.jax_compilation_cache_dir:
            jax.config.update("jax_compilation_cache_dir", compilation_cache_dir())
    else:
        os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", compilation_cache_dir())


@functools.cache
def has_tensorflow() -> bool:
    """True when TensorFlow is installed (found, not imported)."""
    if sys.modules.get("tensorflow") is not None:
        return True
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):  # a blocked or broken install counts as absent
        return False


def installed_version(dist: str) -> str:
    """The installed version of a distribution from its metadata, or `"not installed"`."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"



def processes() -> tuple[int, int]:
    """`(this process's index, the process count)` of a JAX multi-process run
    (`jax.distributed.initialize`, `dlzoo.distribution.join_processes`); `(0, 1)` on one process
    and on other backends. Imports no backend that is not imported already."""
    jax = sys.modules.get("jax")
    joined = getattr(getattr(jax, "distributed", None), "is_initialized", None)
    if joined is None or not joined():
        return 0, 1  # asks no backend to start (jax.process_count() would)
    return int(jax.process_index()), int(jax.process_count())


def resolve_loader(loader) -> str:
    """The input path a data loader takes: `"tf.data"` or `"pydataset"` (dlzoo.data.neutral);
    `"auto"` is tf.data where TensorFlow is installed, else the PyDataset; and the PyDataset in
    a JAX run over several processes, where each process feeds its slice of every batch
    (`dlzoo.distribution`).

    Raises:
        ValueError: an unknown loader name.
        ImportError: `"tf.data"` on a host without TensorFlow (one line naming the pip package).
    """
    if loader not in LOADERS:
        raise ValueError(f"loader must be one of {', '.join(LOADERS)}; received {loader!r}.")
    if loader == "auto":
        return "tf.data" if has_tensorflow() and processes()[1] == 1 else "pydataset"
    if loader == "tf.data" and not has_tensorflow():
        raise ImportError("loader='tf.data' needs TensorFlow (pip install tensorflow); "
                          "loader='pydataset' works on every backend without it.")
    return loader
