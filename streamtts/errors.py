"""The one base of every error a user can act on.

Its ``str()`` is one line that says what went wrong and what to do about it; the command
line prints it as ``streamtts: <line>`` and exits 1. I/O edges turn an ``OSError`` into
one with ``from_os_error``, so a missing directory or a full disk is never a traceback.
"""

from __future__ import annotations

from pathlib import Path


class StreamttsError(Exception):
    """An error the user can fix; ``str()`` is one line saying what to do."""


def from_os_error(action: str, path: Path | str, error: OSError) -> StreamttsError:
    """``cannot <action> <path>: <reason>`` as a StreamttsError, e.g. for a read-only dir."""
    reason = error.strerror or str(error)
    return StreamttsError(f"cannot {action} {path}: {reason}")
