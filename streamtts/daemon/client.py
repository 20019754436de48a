"""The client side of the daemon's protocol: connect (or start a daemon and wait for it),
send lines, read replies.

Stdlib only, and nothing heavy at import: the Claude Code hook command (``streamtts.hook``)
runs this on every hook call and must return in a few milliseconds. What the socket is and
whose it may be, and how a line is written, are in ``streamtts.daemon.protocol``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import struct
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from streamtts.daemon.protocol import (
    MAX_LINE,
    OptionsConflict,
    check_directory,
    check_owner,
    decode,
    encode,
    lock_path,
    log_path,
    open_log,
    serve_command,
    socket_path,
    start_stamp,
)
from streamtts.errors import StreamttsError

START_WAIT = 10.0  # seconds a client waits for a daemon it started to listen
TIMEOUT = 5.0  # seconds a connect, a send or a read waits for the daemon, by default
# Seconds after a start during which no client starts another: a daemon that did not
# listen by then failed (see its log), and starting one per hook call would fail as often.
RETRY_AFTER = 60.0


class NoDaemon(StreamttsError):
    """No daemon answers at the socket; the message says how to start one."""


class Starting(NoDaemon):
    """A daemon was started and may still come, but did not listen within the wait."""


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
            yield decode(line)

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
            if "conflict" in reply:  # a ``speak`` with other speech options than the daemon's
                raise OptionsConflict(reply["conflict"])
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
