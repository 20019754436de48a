"""The one base of every error a user can act on.

Its ``str()`` is one line that says what went wrong and what to do about it; the command
line prints it as ``streamtts: <line>`` and exits 1. I/O edges turn an ``OSError`` into
one with ``from_os_error``, so a missing directory or a full disk is never a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO


class StreamttsError(Exception):
    """An error the user can fix; ``str()`` is one line saying what to do."""


def from_os_error(action: str, path: Path | str, error: OSError) -> StreamttsError:
    """``cannot <action> <path>: <reason>`` as a StreamttsError, e.g. for a read-only dir."""
    reason = error.strerror or str(error)
    return StreamttsError(f"cannot {action} {path}: {reason}")


def detach_output(stream: TextIO) -> None:
    """Point ``stream``'s descriptor at /dev/null after writing to it failed for good.

    A closed pipe or a full device fails again at the interpreter's exit-time flush; on
    /dev/null that flush succeeds, as the Python docs advise for SIGPIPE:
    https://docs.python.org/3/library/signal.html#note-on-sigpipe
    """
    try:
        fileno = stream.fileno()
    except (AttributeError, OSError, ValueError):  # a test runner's stream has no descriptor
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fileno)
    os.close(devnull)
