"""Replace a model directory atomically: stage it beside the target, then swap by renames.

Both converters (``nllb.py``, ``xtts.py``) write through :func:`replace_directory`. The new
directory is written into a hidden sibling ``.NAME.staging-PID-XXXX`` (same filesystem,
so renames are atomic); an existing directory is first renamed to ``.NAME.old-PID-XXXX``,
the staged one renamed into place, and only then the old one deleted. If the second rename
fails the old directory is renamed back, so a failure leaves the previous model loadable.
A run killed outright (SIGKILL, power loss) cannot clean up after itself: the next run
removes staging directories whose PID is no longer alive, and renames back an ``.old-``
directory whose target is missing. Failures of the disk (read-only, full) become one
:class:`~streamtts.errors.StreamttsError` line.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from streamtts.errors import StreamttsError, from_os_error


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def clean_stale(out: Path) -> list[Path]:
    """Remove what killed runs left beside ``out``; returns the paths removed or restored."""
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.(staging|old)-(\d+)-")
    touched = []
    try:
        siblings = list(out.parent.iterdir())
    except OSError:
        return touched
    for path in sorted(siblings):
        match = pattern.match(path.name)
        if not match or not path.is_dir() or _alive(int(match[2])):
            continue
        kept = path / out.name
        if match[1] == "old" and kept.is_dir() and not out.exists():
            kept.rename(out)  # killed between the two renames: the old model comes back
        shutil.rmtree(path, ignore_errors=True)
        touched.append(path)
    return touched


def check_directory_writable(out: Path) -> None:
    """Raise a one-line error unless ``out`` could be created or replaced (checked early)."""
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if out.exists() and not out.is_dir():
        raise StreamttsError(f"cannot write {out}: it exists and is not a directory")
    if not parent.is_dir():
        raise StreamttsError(f"cannot write {out}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StreamttsError(f"cannot write {out}: {parent} is not writable")


def replace_directory(out: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(staging)`` to fill a new directory, then make it ``out``, atomically."""
    clean_stale(out)
    tag = f"{os.getpid()}-"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-{tag}", dir=out.parent))
    except OSError as error:
        raise from_os_error("write", out, error) from None
    try:
        write(staging)
        if not out.exists():
            staging.rename(out)
            return
        retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-{tag}", dir=out.parent))
        out.rename(retired / out.name)
        try:
            staging.rename(out)
        except BaseException:
            (retired / out.name).rename(out)
            retired.rmdir()
            raise
        shutil.rmtree(retired, ignore_errors=True)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise from_os_error("write", out, error) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
