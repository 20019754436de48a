"""The daemon's protocol, which both ends import: where the socket is and whose it may be,
how a message is written, how long a line may be, what a client may ask, the policies, the
speech options a client and a daemon must share, and the command line that starts a daemon.

Stdlib only, and nothing heavy at import: the Claude Code hook command (``streamtts.hook``)
runs this on every hook call and must return in a few milliseconds. The socket lives at
``$STREAMTTS_SOCKET``, else ``streamtts.sock`` in ``$XDG_RUNTIME_DIR`` (a per-user tmpfs on
Linux), else in the user cache directory. Every message is one JSON object on one line,
both ways; the protocol is described in the README ("The daemon's protocol"). A socket
owned by another user is refused on both sides, so one user's text never reaches another
user's daemon, and so is a directory where another user could remove or replace our files
(writable by others without the sticky bit, or another user's): there a second daemon
could be split off, or our log redirected. The files beside the socket (its lock, its log,
the stamp of a start) are ours or refused, and the log is never followed through a link.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamtts.errors import StreamttsError
from streamtts.paths import user_cache_dir

if TYPE_CHECKING:
    from streamtts.config import SpeakOptions

SOCKET_NAME = "streamtts.sock"


MAX_LINE = 8 << 20  # bytes in one protocol line at most: a sentence, or a hook's input


# The largest hook input (JSON) that always fits in a line: ASCII JSON writes what was valid
# JSON in three times its bytes at most (an emoji's 4 bytes as a 12-byte surrogate pair).
MAX_INPUT = MAX_LINE // 3 - 64


def socket_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$STREAMTTS_SOCKET``, else ``$XDG_RUNTIME_DIR/streamtts.sock``, else in the cache dir."""
    environ = os.environ if environ is None else environ
    if environ.get("STREAMTTS_SOCKET"):
        return Path(environ["STREAMTTS_SOCKET"]).expanduser()
    if environ.get("XDG_RUNTIME_DIR"):
        return Path(environ["XDG_RUNTIME_DIR"]) / SOCKET_NAME
    return user_cache_dir() / SOCKET_NAME


def check_owner(path: Path) -> os.stat_result | None:
    """``path``'s status (None if it does not exist); refused if another user owns it."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StreamttsError(f"cannot use the socket {path}: {error.strerror}") from None
    if status.st_uid != os.getuid():
        raise StreamttsError(
            f"{path} belongs to another user (uid {status.st_uid}); "
            "set STREAMTTS_SOCKET to a path of your own"
        )
    return status


def check_directory(directory: Path) -> None:
    """Refuse a directory where another user could remove or replace our socket and files:
    one not ours (or root's), or one others may write to without the sticky bit."""
    try:
        status = os.stat(directory)
    except FileNotFoundError:
        return
    except OSError as error:
        raise StreamttsError(f"cannot use {directory}: {error.strerror}") from None
    writable_by_others = status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if status.st_uid not in (os.getuid(), 0) or (
        writable_by_others and not status.st_mode & stat.S_ISVTX
    ):
        raise StreamttsError(
            f"{directory} is not a private directory (other users may replace files there); "
            "set STREAMTTS_SOCKET to a path in a directory of your own"
        )


def encode(message: Mapping[str, Any]) -> bytes:
    """One protocol line. ASCII JSON: every character, a lone surrogate too, is escaped, so
    whatever text a hook input held reads back the same on the other side."""
    return json.dumps(message).encode("ascii") + b"\n"


def decode(line: bytes) -> Any:
    """One protocol line back to its JSON value (ValueError if it is not JSON)."""
    return json.loads(line)


def log_path(socket: Path) -> Path:
    """Where a daemon started by a client writes its output: beside its socket, ``.log``."""
    return socket.with_suffix(".log")


def lock_path(socket: Path) -> Path:
    """The lock a daemon holds for its whole life: beside its socket, ``.lock``."""
    return socket.with_name(socket.name + ".lock")


def start_stamp(socket: Path) -> Path:
    """The file a client touches when it starts a daemon; the daemon removes it once it
    listens, so one older than ``START_WAIT`` marks a start that failed."""
    return socket.with_name(socket.name + ".starting")


def open_log(path: Path) -> int | None:
    """``path`` opened to append, or None: never through a symlink, never another user's or
    anything but a plain file (a daemon's output is the user's text)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags | os.O_NONBLOCK, 0o600)  # a FIFO planted there: no wait
    except OSError:
        return None
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode) or status.st_uid != os.getuid():
        os.close(fd)
        return None
    os.set_blocking(fd, True)
    return fd


def serve_command(args: Sequence[str] = ()) -> list[str]:
    """``python -P -m streamtts serve ARGS``: ``-P`` so that a folder named ``streamtts``
    in the current directory is never imported in place of the installed package."""
    return [sys.executable, "-P", "-m", "streamtts", "serve", *args]


# The options that decide what a sentence sounds like and where it plays: a client that
# asks for other ones than a running daemon's is not served by it.
SPEECH_OPTIONS = ("translate", "model_dir", "tts", "voice", "speed", "device")


class OptionsConflict(StreamttsError):
    """A daemon runs with other speech options than the command line asked for.

    The daemon decides, answering ``speak``: its error reply then carries ``conflict``,
    which says how its options differ (``conflicts``).
    """


def speech_options(options: SpeakOptions) -> dict[str, Any]:
    """The options a client's speech must share with the daemon's, as JSON values."""
    values = {key: getattr(options, key) for key in SPEECH_OPTIONS}
    return {key: str(value) if isinstance(value, Path) else value for key, value in values.items()}


def requested(options: SpeakOptions) -> dict[str, Any]:
    """The speech options the command line gave: what a daemon must speak with to serve it.

    The config file, the environment and the defaults describe a run of our own (or the
    daemon ``watch`` starts), not a request: without options, any daemon will do.
    """
    return {key: value for key, value in speech_options(options).items() if key in options.given}


def conflicts(wanted: dict[str, Any], ours: dict[str, Any]) -> str | None:
    """How a daemon speaking with ``ours`` differs from ``wanted`` (None: it does not)."""
    differ = [key for key in SPEECH_OPTIONS if key in wanted and wanted[key] != ours.get(key)]
    return ", ".join(f"{key}={ours.get(key)!r} (asked {wanted[key]!r})" for key in differ) or None


def serve_args(options: SpeakOptions) -> list[str]:
    """``serve``'s command-line options for a daemon that speaks as ``options`` say."""
    args = []
    for key, value in speech_options(options).items():
        if value is not None:
            args += [f"--{key.replace('_', '-')}", str(value)]
    return args


POLICIES = ("queue", "latest")


@dataclass(frozen=True)
class Control:
    """A control of the daemon: what its command does (its help), and the line it prints."""

    help: str
    said: str


# The daemon's controls: each is a command of ``streamtts`` and an op of the daemon (its
# method ``_op_<name>``); a new control is one entry here and that method.
CONTROLS: dict[str, Control] = {
    "stop": Control("Silence the daemon now and drop everything queued.", "stopped"),
    "skip": Control("Skip the sentence playing now.", "skipped"),
    "pause": Control("Hold the speech where it is, keeping the queue.", "paused"),
    "resume": Control("Go on speaking after `pause`.", "resumed"),
    "shutdown": Control("Silence the daemon and end it.", "the daemon is shutting down"),
}
# What a client can ask (README, "The daemon's protocol"); each is a method ``_op_<name>``.
OPS = ("ping", "status", *CONTROLS, "hook", "speak", "sentence", "end")


MAX_AGE = 60.0  # seconds a sentence may wait under ``queue`` before it is stale
