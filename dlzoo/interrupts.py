"""Whether the user has pressed Ctrl-C in this process.

Python raises KeyboardInterrupt where the main thread happens to be. Inside a C extension that does
not expect an error (TensorFlow's and optree's tree walks do this) it comes out as
`SystemError: ... bad argument to internal function`, an ordinary Exception, which keras-tuner then
records as a failed trial and the search goes on. Code that catches Exception asks `pressed()`
first, and lets the interrupt through.
"""

import threading

_PRESSED = threading.Event()


def mark_pressed() -> None:
    """Called by the command line's SIGINT handler."""
    _PRESSED.set()


def pressed() -> bool:
    """True once Ctrl-C was pressed in this process (never cleared: the process is ending)."""
    return _PRESSED.is_set()


def reraise_if_pressed(error: BaseException) -> None:
    """Raises KeyboardInterrupt (from `error`) when Ctrl-C was pressed; otherwise returns."""
    if pressed():
        raise KeyboardInterrupt from error
