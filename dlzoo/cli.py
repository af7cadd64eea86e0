"""The `dlzoo` command: the parser, built from the command modules, and `main()`.

Each subcommand is a module of `dlzoo.commands` (COMMANDS names them) with `add_parser(subparsers)`,
which declares its arguments and sets `func`, and `run(args) -> int`, which calls one library
function and prints. This module builds the parser from them and runs one: errors print one line
(what, where, what to do) and exit 2; `--debug` shows the traceback; Ctrl-C exits 130 with the
command that resumes.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys

from dlzoo.backends import backend_name, installed_version
from dlzoo.commands._options import (
    EXIT_STATUSES,
    RECIPE_COMMANDS,
    RECIPE_FLAGS,
    CLIError,
    _refuse_conflicts,
)
from dlzoo.commands._output import _shell
from dlzoo.interrupts import mark_pressed
from dlzoo.quiet import quiet_tensorflow_import
from dlzoo.recipes import load_recipe
from dlzoo.saving import default_finetune_out, saved_model_folder
from dlzoo.spec.rules import closest
from dlzoo.version import __version__

# TensorFlow's C++ start-up chatter (CUDA probes, oneDNN notes) hides the one line that matters.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Each subcommand's module, in the order `dlzoo --help` lists them. The modules import at their
# top only what builds their parser (no Keras, no NumPy: `dlzoo --help` and `dlzoo list` start at
# once); each `run` imports the engine it calls.
COMMANDS = {
    name: f"dlzoo.commands.{name}"
    for name in ("list", "info", "build", "doctor", "datasets", "train", "evaluate", "predict",
                 "generate", "explain", "quickstart", "finetune", "export", "tune")
}


def command(name: str):
    """The module of the subcommand `name` (a key of COMMANDS): the one place a command module
    is imported."""
    return importlib.import_module(COMMANDS[name])


class _Parser(argparse.ArgumentParser):
    """argparse's parser whose errors are one line, as dlzoo's own are: what was wrong and where
    to read the options, instead of the whole usage block above the one line that matters.

    Flags are never abbreviated (`allow_abbrev=False`): `--epoch` is refused with its closest
    flag rather than silently taken for `--epochs`. An unrecognized flag is named with the
    command's closest flag, or, for `train` / `tune`, with the `--set KEY=VALUE` that sets the
    recipe value it names (`--epochs 1`: `--set train.epochs=1`); errors point at the help of
    the command that was run (`dlzoo train --help`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)  # subparsers are made by this class too
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        self._argv = list(sys.argv[1:] if args is None else args)  # for _closest_flag
        return super().parse_known_args(args, namespace)

    def parse_args(self, args=None, namespace=None):
        # argparse reports a subcommand's unrecognized arguments from the top-level parser
        # (`see dlzoo --help`); report them from the subcommand's own, which knows its flags.
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            sub = getattr(namespace, "_subparser", None)
            parser = sub if sub is not None and all(
                w in getattr(sub, "_argv", ()) for w in extras) else self
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace

    def error(self, message):
        unknown = self._unknown_flags()
        if unknown and message.startswith("the following arguments are required"):
            # argparse reports the missing required argument first, though a misspelt flag
            # (`--modle`) is most often why it is missing: name that flag instead
            message = f"unrecognized arguments: {' '.join(unknown)}"
        hint = self._closest_flag(message)
        self.exit(2, f"{self.prog}: error: {message}{hint} (see `{self.prog} --help`)\n")

    def _known_options(self) -> set:
        """This parser's option strings, and those of the subcommand in argv (or of all)."""
        argv = getattr(self, "_argv", [])
        options = set(self._option_string_actions)
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                command = next((a for a in argv if a in action.choices), None)
                for p in [action.choices[command]] if command else action.choices.values():
                    options |= set(p._option_string_actions)
        return options

    def _unknown_flags(self) -> list:
        """The --flags in argv that this parser does not know (before any `--`)."""
        argv = getattr(self, "_argv", [])
        words = argv[:argv.index("--")] if "--" in argv else argv
        known = self._known_options()
        return [w for w in words if w.startswith("--") and w.split("=")[0] not in known]

    def _closest_flag(self, message: str) -> str:
        """' (closest: --head-epochs)' for a misspelt flag, among the command's own; for a flag
        that names a recipe value of train / tune, ' (a recipe value: --set train.epochs=1)'."""
        if not message.startswith("unrecognized arguments:"):
            return ""
        flags = [w.split("=")[0] for w in message.split(":", 1)[1].split() if w.startswith("--")]
        if not flags:
            return ""
        if self.prog.split()[-1] in RECIPE_COMMANDS:
            keys = {f: RECIPE_FLAGS.get(f[2:].replace("-", "_")) for f in flags}
            sets = [f"--set {k}={self._flag_value(f)}" for f, k in keys.items() if k]
            if sets:
                what = "a recipe value" if len(sets) == 1 else "recipe values"
                return f" ({what}: use {' '.join(sets)})"
        flag = flags[0]
        close = closest(flag, sorted(o for o in self._known_options() if o.startswith("--")))
        return f" (closest: {close})" if close else ""

    def _flag_value(self, flag: str) -> str:
        """The value given with `flag` in argv (`--epochs 1`, `--epochs=1`), else VALUE."""
        argv = getattr(self, "_argv", [])
        for i, word in enumerate(argv):
            if word.startswith(flag + "="):
                return word.split("=", 1)[1] or "VALUE"
            if word == flag and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                return argv[i + 1]
        return "VALUE"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dlzoo", description="Keras 3 model zoo and transfer-learning toolkit.",
        epilog=EXIT_STATUSES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--version", action="store_true", help="print versions and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        command(name).add_parser(sub)
    for p in sub.choices.values():  # for _refuse_conflicts: which values are the defaults
        p.set_defaults(_subparser=p)
    return parser


def _versions() -> str:
    # Read from the installed metadata and Keras's own settings: importing Keras would import
    # its backend (seconds of TensorFlow or JAX start-up) to print two words.
    return f"dlzoo {__version__}, keras {installed_version('keras')}, backend {backend_name()}"


def main(argv=None) -> int:
    quiet_tensorflow_import()  # TensorFlow's absl/CUDA start-up lines, as TF_CPP_MIN_LOG_LEVEL says
    import warnings

    if warnings.formatwarning is not _warning_line:
        _PYTHON_FORMAT.append(warnings.formatwarning)
        warnings.formatwarning = _warning_line
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(_versions())
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    stop = _Interrupt(args, sys.argv[1:] if argv is None else list(argv))
    try:
        _refuse_conflicts(args)
        with stop:
            code = int(args.func(args) or 0)
        if not stop.pressed:
            return code
        raise KeyboardInterrupt  # a Ctrl-C that some library took for a failure and went on
    except KeyboardInterrupt:
        stop.handled = True
        print(f"dlzoo: interrupted; {stop.closing_line()}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `dlzoo list | head`: the reader has all it wants; say nothing more
        # Python's documented recipe: point stdout at devnull so the flush at exit cannot raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (CLIError, ValueError, TypeError, ImportError, OSError) as e:  # OSError: files, network
        if args.debug:
            raise
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"dlzoo: error: {cli_words(msg)}", file=sys.stderr)
        return 2
    except Exception as e:  # any other fault still ends in one line, not a traceback
        if stop.pressed:  # the Ctrl-C, raised inside C code as SystemError ("bad argument ...")
            stop.handled = True
            print(f"dlzoo: interrupted; {stop.closing_line()}", file=sys.stderr)
            return 130
        if args.debug:
            raise
        print(f"dlzoo: error: {unexpected_error_line(e)}", file=sys.stderr)
        return 1


class _Interrupt:
    """One Ctrl-C stops every command within seconds, and says how to go on.

    Python raises KeyboardInterrupt wherever the main thread is; where that is a callback run by
    the garbage collector (JAX's `_xla_gc_callback`), Python prints "Exception ignored in ..." and
    the program goes on, so a search needed three presses. Here the first SIGINT raises it as
    Python would, and a watchdog raises it again each second until the command has stopped; after
    `GRACE` seconds (or at a second Ctrl-C) the process ends at once with the same closing line.
    Training and searches keep their state on disk as they go (a kill -9 is resumable), so
    ending there leaves the run resumable."""

    GRACE = 10.0

    def __init__(self, args, argv):
        self.args, self.argv = args, argv
        self.handled, self.pressed, self.repeating, self.previous = False, False, False, None

    def __enter__(self):
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._on_sigint)
            self.previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        return self

    def __exit__(self, *exc):
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            sys.unraisablehook = self.previous_hook
        self.handled = True
        return False

    def _on_sigint(self, signum, frame):
        import threading

        if self.repeating:  # the watchdog's own: raise it again
            self.repeating = False
            raise KeyboardInterrupt
        if self.pressed:  # a second Ctrl-C: now
            self._end_now()
        self.pressed = True
        mark_pressed()
        threading.Thread(target=self._watch, daemon=True).start()
        raise KeyboardInterrupt

    def _watch(self):
        import _thread
        import time

        start = time.monotonic()
        while time.monotonic() - start < self.GRACE:
            time.sleep(1.0)
            if self.handled:
                return
            self.repeating = True
            _thread.interrupt_main()  # the first one was swallowed (a gc callback): again
        if not self.handled:
            self._end_now()

    def _end_now(self):
        try:
            sys.stderr.write(f"dlzoo: interrupted; {self.closing_line()}\n")
            sys.stderr.flush()
        finally:
            os._exit(130)

    def _unraisable(self, unraisable):
        if self.pressed and issubclass(unraisable.exc_type, KeyboardInterrupt):
            return  # the swallowed Ctrl-C: the watchdog raises it again where it counts
        self.previous_hook(unraisable)

    def closing_line(self) -> str:
        """How to go on: the exact command that resumes, where there is something to resume."""
        try:
            command = self._resume_command()
        except Exception:  # noqa: BLE001 (a closing line must not fail)
            command = None
        if command:
            return f"resume with: {command}"
        if getattr(self.args, "folds", None) is not None:
            return ("a cross-validation (--folds) does not resume; run the same command again "
                    "for every fold")
        if getattr(self.args, "find_lr", False):
            return "nothing was trained (--find-lr); run the same command again"
        if self.args.command in ("train", "tune", "finetune"):
            return "nothing to resume yet (the run had not started); run the same command again"
        if self.args.command in ("quickstart", "export"):
            return "nothing was saved; run the same command again"
        return "run the same command again"

    def _resume_command(self) -> str | None:
        args = self.args
        if args.command == "finetune" and not getattr(args, "find_lr", False):
            return self._finetune_resume_command()
        if args.command not in ("train", "tune") or getattr(args, "folds", None) is not None \
                or getattr(args, "find_lr", False) or getattr(args, "role", None):
            return None
        name = load_recipe(args.recipe, overrides=args.set or [], check_registry=False)["name"]
        state = os.path.join(args.output, ".runs" if args.command == "train" else ".tuning", name)
        if not os.path.isdir(state):
            return None
        words = [w for w in self.argv if w != "--overwrite"]
        if "--resume" not in words:
            words.append("--resume")
        return _shell("dlzoo", *words)

    def _finetune_resume_command(self) -> str | None:
        from dlzoo.transfer.finetune import run_folder  # imports Keras: only after a Ctrl-C

        args = self.args
        out = args.out or default_finetune_out(
            args.directory, os.fspath(saved_model_folder(args.model) or args.model))
        if not (run_folder(out) / "recipe.json").exists():
            return None
        words = [w for w in self.argv if w != "--overwrite"]
        if "--resume" not in words:
            words.append("--resume")
        return _shell("dlzoo", *words)


_PYTHON_FORMAT = []  # warnings.formatwarning as it was before main() replaced it


def _warning_line(message, category, filename, lineno, line=None) -> str:
    """dlzoo's own warnings as one line, "dlzoo: warning: ...", without Python's file path and
    source line; other packages' warnings as Python writes them (they are theirs to word)."""
    package = os.path.dirname(os.path.abspath(__file__))
    if os.path.abspath(filename).startswith(package + os.sep) or not _PYTHON_FORMAT:
        return f"dlzoo: warning: {message}\n"
    return _PYTHON_FORMAT[0](message, category, filename, lineno, line)


# The engines' messages name the flag and, for Python callers, the keyword beside it:
# "pass --overwrite (overwrite=True)", "(overwrite=True in Python)". The command line has no
# keywords: its line keeps the flag alone.
_PYTHON_KEYWORD = re.compile(r" \(\w+=(?:True|False|None)(?: in Python)?\)")


def cli_words(message: str) -> str:
    """An engine's error message as the CLI prints it: without the Python keyword that the
    message gives beside a flag ("pass --overwrite (overwrite=True)" -> "pass --overwrite")."""
    return _PYTHON_KEYWORD.sub("", message)


def unexpected_error_line(e: BaseException) -> str:
    """The one line for an exception no command expects: what happened and what to do."""
    text = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
    what = f"{type(e).__name__}: {text}" if text else type(e).__name__
    if isinstance(e, MemoryError):
        advice = ("out of memory: use smaller sizes (batch_size, image_size, samples) or a "
                  "machine with more memory")
    else:
        advice = "this is unexpected; check the files and values you passed"
    return f"{what} ({advice}; run again with --debug for the traceback)"


if __name__ == "__main__":
    sys.exit(main())
