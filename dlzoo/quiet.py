"""TensorFlow's native start-up lines, filtered as `TF_CPP_MIN_LOG_LEVEL` says they should be.

TensorFlow 2.21 logs through absl before absl is initialised, so its import prints
"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR", the
oneDNN note and "Could not find cuda drivers" (twice, once per shared library) whatever
`TF_CPP_MIN_LOG_LEVEL` is, and its first device probe "failed call to cuInit" on a machine
without a GPU driver (so does the TFLite converter). Those lines are written by C++ to file descriptor 2, out of Python's reach, so the
commands capture descriptor 2 while TensorFlow loads (and while a converter runs), then write
back every line the level does not drop: 0 keeps everything, 1 drops absl INFO lines and the
InitializeLog notice, 2 (dlzoo's default) also WARNING lines and the cuInit failure of a
CPU-only host, 3 also ERROR lines. Anything else (a Python traceback, a fatal line) is written
back as it came.

    >>> from dlzoo.quiet import quiet_tensorflow_import
    >>> quiet_tensorflow_import()      # before anything imports tensorflow (the CLI does this)
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile

__all__ = ["decoder_message", "native_stderr_filtered", "noise", "quiet_tensorflow_import"]

# absl's line prefix: severity letter, MMDD, time (before InitializeLog, "00:00:<epoch seconds>"),
# thread id, file:line]
_ABSL = re.compile(r"^([IWEF])\d{4} [\d:.]+\s+\d+ [^ \]]+:\d+\] ")
_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
_CPU_FEATURES = "To enable the following instructions: "
_LEVELS = {"I": 1, "W": 2, "E": 3}  # dropped at TF_CPP_MIN_LOG_LEVEL >= this


def _level(default: int = 0) -> int:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", str(default)))
    except ValueError:
        return default


def noise(line: str, level: int | None = None) -> bool:
    """Whether TensorFlow's native `line` is dropped at `level` (default: TF_CPP_MIN_LOG_LEVEL)."""
    level = _level() if level is None else level
    if line.startswith(_NOTICE):
        return level >= 1
    if line.startswith(_CPU_FEATURES):  # the second line of cpu_feature_guard's INFO message
        return level >= 1
    m = _ABSL.match(line)
    if not m:
        return False
    if level >= 2 and "failed call to cuInit" in line:  # no GPU driver: the run is on the CPU
        return True
    return level >= _LEVELS.get(m.group(1), 99)


# What libjpeg and libpng print to stderr about a damaged file, which the scan then hands to
# Pillow and, failing that, reports by name with its reason: the lines say nothing more.
_DECODER = re.compile(
    r"^(libpng (warning|error): |Corrupt JPEG data|Premature end of JPEG (file|data)|"
    r"Unsupported marker type|Improper call to JPEG library|Invalid JPEG file structure|"
    r"Not a JPEG file|Bogus |Warning: unknown JFIF revision|Invalid SOS parameters|"
    r"Empty JPEG image|Unsupported JPEG process|Huffman table|Quantization table|"
    r"Bogus marker length|JPEG datastream contains no image)"
)


# TensorFlow's decoders pass libjpeg's/libpng's/giflib's messages on as absl lines of their own,
# ERROR lines that TF_CPP_MIN_LOG_LEVEL=2 keeps ("E0000 ... jpeg_mem.cc:331] Premature end of
# JPEG data. Stopped at line 14/24"): the sources that say nothing but that a file is damaged.
_DECODER_SOURCES = ("jpeg_mem.cc", "jpeg_handle.cc", "png_io.cc", "gif_io.cc")


def decoder_message(line: str) -> bool:
    """Whether `line` is libjpeg's or libpng's own message about a file it could not read,
    as the library prints it or as TensorFlow's decoders log it, or `noise`."""
    m = _ABSL.match(line)
    if m and m.group(0).rstrip("] ").rsplit(" ", 1)[-1].split(":")[0] in _DECODER_SOURCES:
        return True
    return bool(_DECODER.match(line)) or noise(line)


_LIVE = None  # Python's stderr on the terminal while descriptor 2 is captured


@contextlib.contextmanager
def native_stderr_filtered(drop=noise):
    """Captures what native code writes to file descriptor 2 in the block, then writes back the
    lines `drop` does not drop. Python's own `sys.stderr` (progress bars, warnings) goes on
    straight to the terminal meanwhile."""
    try:
        fd = sys.stderr.fileno() if sys.stderr is not None else -1
    except (AttributeError, ValueError, OSError):  # a replaced stderr (pytest, IDLE): leave it
        fd = -1
    if fd != 2:
        yield
        return
    global _LIVE
    sys.stderr.flush()
    saved = os.dup(2)
    python_stderr = sys.stderr
    if _LIVE is None:
        # Never closed: a logging handler made in the block (absl's, made when TensorFlow
        # imports it) keeps the stream it found, and must go on writing to the terminal.
        _LIVE = os.fdopen(os.dup(saved), "w", buffering=1, encoding=python_stderr.encoding,
                          errors="backslashreplace")
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        sys.stderr = _LIVE
        try:
            yield
        finally:
            _LIVE.flush()
            sys.stderr = python_stderr
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines(keepends=True) if not drop(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


class _Finder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as the other finders do, and loads it inside `native_stderr_filtered`."""

    def __init__(self, default_level: int = 0):
        self.default_level = default_level

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        # Stays until TensorFlow is imported: `importlib.util.find_spec("tensorflow")` (asking
        # whether it is installed, as dlzoo.backends does) comes here too and imports nothing.
        spec = None
        for finder in list(sys.meta_path):  # the others, in their order: a finder placed before
            if isinstance(finder, _Finder) or not hasattr(finder, "find_spec"):  # us still rules
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, self.default_level)
        return spec


class _Loader(importlib.abc.Loader):
    def __init__(self, loader, default_level: int = 0):
        self.loader = loader
        self.default_level = default_level

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        for finder in [f for f in sys.meta_path if isinstance(f, _Finder)]:
            sys.meta_path.remove(finder)  # once: only the first import prints
        level = _level(self.default_level)
        with native_stderr_filtered(lambda line: noise(line, level)):
            self.loader.exec_module(module)
            # The platforms are probed on first use, with "failed call to cuInit" on a host
            # without a GPU driver (an ERROR line, which level 2 keeps): probe them here.
            module.config.list_physical_devices()

    def __getattr__(self, name):  # get_filename, is_package, get_resource_reader...
        return getattr(self.loader, name)


def quiet_tensorflow_import(default_level: int = 0) -> None:
    """Makes the first `import tensorflow` (by Keras or anyone) filter its native lines at
    TF_CPP_MIN_LOG_LEVEL, or at `default_level` where that is not set (`import dlzoo` passes 2,
    the CLI's level: a library user sees no start-up lines either); does nothing once TensorFlow
    is imported, or when it is not installed. The environment is left as it is."""
    if "tensorflow" in sys.modules or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder(default_level))
