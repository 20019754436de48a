"""Where streamtts keeps its settings, models and caches: the platform's per-user directories."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from streamtts.errors import StreamttsError, from_os_error


def user_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``~/Library/Application Support/streamtts`` on macOS, else ``$XDG_CONFIG_HOME/streamtts``.

    ``$XDG_CONFIG_HOME`` defaults to ``~/.config``.
    """
    environ = os.environ if environ is None else environ
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "streamtts"


def user_cache_dir() -> Path:
    """``~/Library/Caches/streamtts`` on macOS; ``$XDG_CACHE_HOME/streamtts`` elsewhere.

    ``$XDG_CACHE_HOME`` defaults to ``~/.cache``.
    """
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "streamtts"


def claude_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Claude Code's own directory (settings, transcripts): ``$CLAUDE_CONFIG_DIR`` or ~/.claude."""
    environ = os.environ if environ is None else environ
    root = environ.get("CLAUDE_CONFIG_DIR")
    return Path(root) if root else Path.home() / ".claude"


def check_writable(path: Path) -> None:
    """Raise a one-line ``StreamttsError`` unless a file can be written at ``path``.

    Checked by creating (and at once removing) a file beside it, so a missing directory,
    a read-only one or a read-only mount is found before any work, even for root.
    """
    if path.is_dir():
        raise StreamttsError(f"cannot write {path}: it is a directory")
    try:
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as error:
        raise from_os_error("write", path, error) from None


def write_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` by ``data`` in one step: a reader, or a crash, sees the old file or the
    new one, never half of one. ``mode`` None gives a new file's mode (as the umask says).

    The data is written to a hidden file beside ``path``, synced, renamed over it, and the
    directory synced so that the rename itself survives a crash. An ``OSError`` propagates
    for the caller to word (``from_os_error``); the temporary file is removed.
    """
    temp = path.with_name(f".{path.name}.{os.urandom(4).hex()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else mode)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)  # exactly ``mode``, whatever the umask
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    try:
        directory = os.open(path.parent, os.O_RDONLY)
    except OSError:  # some systems cannot open a directory: the rename is done all the same
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(directory)
    finally:
        os.close(directory)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 8 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()
