"""The resident daemon's socket and the client side of its line-JSON protocol.

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

import contextlib
import errno
import json
import os
import socket
import stat
import struct
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from streamtts.errors import StreamttsError
from streamtts.paths import user_cache_dir

SOCKET_NAME = "streamtts.sock"
MAX_LINE = 8 << 20  # bytes in one protocol line at most: a sentence, or a hook's input
# The largest hook input (JSON) that always fits in a line: ASCII JSON writes what was valid
# JSON in three times its bytes at most (an emoji's 4 bytes as a 12-byte surrogate pair).
MAX_INPUT = MAX_LINE // 3 - 64
START_WAIT = 10.0  # seconds a client waits for a daemon it started to listen
TIMEOUT = 5.0  # seconds a connect, a send or a read waits for the daemon, by default
# Seconds after a start during which no client starts another: a daemon that did not
# listen by then failed (see its log), and starting one per hook call would fail as often.
RETRY_AFTER = 60.0


class NoDaemon(StreamttsError):
    """No daemon answers at the socket; the message says how to start one."""


class Starting(NoDaemon):
    """A daemon was started and may still come, but did not listen within the wait."""


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


class Connection:
    """One connection to the daemon: send objects, read the replies as they come."""

    def __init__(self, sock: socket.socket, path: Path) -> None:
        self.path = path
        self._sock = sock
        self._reader = sock.makefile("rb")

    def send(self, message: Mapping[str, Any]) -> None:
        """Send one message; a daemon that went away is ``NoDaemon``."""
        try:
            self._sock.sendall(encode(message))
        except TimeoutError:
            raise NoDaemon(
                f"the daemon at {self.path} took no message for {self._sock.gettimeout():g} s"
            ) from None
        except OSError as error:
            raise NoDaemon(f"the daemon at {self.path} went away ({error.strerror})") from None

    def replies(self) -> Iterator[dict[str, Any]]:
        """The daemon's messages until it closes the connection."""
        while True:
            try:
                line = self._reader.readline(MAX_LINE)
            except OSError as error:
                raise NoDaemon(f"the daemon at {self.path} went away ({error})") from None
            if not line:
                return
            yield json.loads(line)

    def settimeout(self, seconds: float | None) -> None:
        """Bound each later send and read by ``seconds`` (None: wait as long as it takes)."""
        self._sock.settimeout(seconds)

    def request(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Send ``message`` and return the reply; an error reply is a ``StreamttsError``."""
        self.send(message)
        reply = next(self.replies(), None)
        if reply is None:
            raise NoDaemon(f"the daemon at {self.path} closed the connection")
        if not reply.get("ok"):
            raise StreamttsError(f"the daemon says: {reply.get('error', 'no reason given')}")
        return reply

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._reader.close()
            self._sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(path: Path | None = None, *, timeout: float | None = TIMEOUT) -> Connection:
    """Connect to the daemon at ``path`` (default ``socket_path()``), or raise ``NoDaemon``.

    ``timeout`` bounds the connect and each later send and read (None: wait as long as the
    daemon takes). A path that is there but no socket is a ``StreamttsError``: no daemon
    could listen there, so none is worth starting.
    """
    path = socket_path() if path is None else path
    check_directory(path.parent)
    status = check_owner(path)
    if status is None:
        raise NoDaemon(f"no streamtts daemon runs ({path} is no socket): start `streamtts serve`")
    if not stat.S_ISSOCK(status.st_mode):
        raise StreamttsError(f"{path} exists and is not a socket; remove it")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # A blocking connect, so a full backlog is waited for, not refused at once
        # (EAGAIN), bounded by the send timeout, which Linux applies to a Unix connect.
        if timeout is not None:
            seconds = int(timeout)
            limit = struct.pack("ll", seconds, int((timeout - seconds) * 1e6))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)
        sock.connect(str(path))
        sock.settimeout(timeout)
    except OSError as error:
        sock.close()
        if error.errno in (errno.ECONNREFUSED, errno.ENOENT):
            raise NoDaemon(f"no streamtts daemon at {path}: start `streamtts serve`") from None
        raise StreamttsError(f"cannot connect to {path}: {error.strerror or error}") from None
    return Connection(sock, path)


def request(op: str, *, path: Path | None = None, **fields: Any) -> dict[str, Any]:
    """Send one control request (``status``, ``stop``…) and return the daemon's reply."""
    with connect(path) as connection:
        return connection.request({"op": op, **fields})


def serve_command(args: Sequence[str] = ()) -> list[str]:
    """``python -P -m streamtts serve ARGS``: ``-P`` so that a folder named ``streamtts``
    in the current directory is never imported in place of the installed package."""
    return [sys.executable, "-P", "-m", "streamtts", "serve", *args]


def connect_or_start(
    path: Path | None = None,
    *,
    args: Sequence[str] = (),
    wait: float = START_WAIT,
    retry_failed: bool = True,
) -> Connection:
    """Connect to the daemon, starting ``streamtts serve ARGS`` in the background if none runs.

    The daemon listens before it loads any model, so this waits for the socket only (well
    under a second), not for the models: what is sent meanwhile waits in its queue. Its
    output goes to ``log_path(path)``. Two clients starting one each are fine: the second
    daemon finds the first's lock and exits. ``wait`` bounds every wait here, the connects
    included. Each start leaves a stamp with the daemon's pid, which the daemon removes once
    it listens: while that process lives (for ``START_WAIT`` at most) this waits for it
    rather than start another; a stamp whose process is gone marks a start that failed, and
    with ``retry_failed`` False (the hook) none is started again for ``RETRY_AFTER`` seconds.
    """
    path = socket_path() if path is None else path
    deadline = time.monotonic() + wait

    def attempt(seconds: float) -> Connection:
        connection = connect(path, timeout=seconds)
        connection.settimeout(TIMEOUT)  # later sends and reads: as ``connect``'s
        return connection

    try:
        return attempt(wait)
    except NoDaemon:
        pass
    process = None
    age, running = _last_start(start_stamp(path))
    if age is None or (not running and (retry_failed or age >= RETRY_AFTER)):
        process = _start(path, args)
    elif not running:
        raise NoDaemon(
            f"the `streamtts serve` started {age:.0f} s ago never listened at {path}; "
            f"see {log_path(path)}"
        )
    while True:
        try:
            return attempt(max(0.001, deadline - time.monotonic()))
        except NoDaemon:
            if time.monotonic() > deadline:
                # The one it started may have found another's lock: wait for that one too.
                if process is None or process.poll() is None:
                    raise Starting(
                        f"started `streamtts serve`, but nothing listens at {path} after "
                        f"{wait:g} s; see {log_path(path)}"
                    ) from None
                raise NoDaemon(
                    f"started `streamtts serve`, but it ended; see {log_path(path)}"
                ) from None
            time.sleep(0.02)


def _last_start(stamp: Path) -> tuple[float | None, bool]:
    """Seconds since the last start (None: no stamp) and whether that daemon may still come."""
    try:
        age = max(0.0, time.time() - os.stat(stamp).st_mtime)
    except FileNotFoundError:
        return None, False
    except OSError as error:
        raise StreamttsError(f"cannot use {stamp}: {error.strerror}") from None
    try:
        pid = int(stamp.read_text() or 0)
    except (OSError, ValueError):  # not what a client wrote: no process to wait for
        return age, False
    if age >= START_WAIT:
        return age, False
    if pid <= 0:  # its starter has not written the pid yet
        return age, True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return age, False
    except OSError:  # another user's process took the pid: ours is gone
        return age, False
    return age, True


def _start(path: Path, args: Sequence[str]) -> subprocess.Popen:
    """Start ``streamtts serve`` for ``path`` in the background, its output to its log."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise StreamttsError(f"cannot create {path.parent}: {error.strerror}") from None
    stamp = start_stamp(path)
    for mine in (lock_path(path), log_path(path), stamp):
        check_owner(mine)  # another user's lock would make the daemon fail, every time
    log = open_log(log_path(path))
    output = subprocess.DEVNULL if log is None else log
    try:
        os.close(os.open(stamp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600))
        process = subprocess.Popen(
            serve_command(args),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,  # not killed with the hook's process group
            env={**os.environ, "STREAMTTS_SOCKET": str(path)},
        )
        # Not created again if the daemon, listening already, has removed it.
        with contextlib.suppress(FileNotFoundError):
            fd = os.open(stamp, os.O_WRONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "w") as f:
                f.write(str(process.pid))
    except OSError as error:
        raise StreamttsError(f"cannot start `streamtts serve`: {error.strerror}") from None
    finally:
        if log is not None:
            os.close(log)
    return process
