"""The resident daemon's socket and the client side of its line-JSON protocol.

Stdlib only, and nothing heavy at import: the Claude Code hook command (``streamtts.hook``)
runs this on every hook call and must return in a few milliseconds. The socket lives at
``$STREAMTTS_SOCKET``, else ``streamtts.sock`` in ``$XDG_RUNTIME_DIR`` (a per-user tmpfs on
Linux), else in the user cache directory. Every message is one JSON object on one line,
both ways; the protocol is described in the README ("The daemon's protocol"). A socket
owned by another user is refused on both sides, so one user's text never reaches another
user's daemon.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from streamtts.errors import StreamttsError
from streamtts.paths import user_cache_dir

SOCKET_NAME = "streamtts.sock"
MAX_LINE = 1 << 20  # bytes in one protocol line at most: a sentence, or a hook's input
START_WAIT = 10.0  # seconds a client waits for a daemon it started to listen


class NoDaemon(StreamttsError):
    """No daemon answers at the socket; the message says how to start one."""


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


def encode(message: Mapping[str, Any]) -> bytes:
    """One protocol line. ASCII JSON: every character, a lone surrogate too, is escaped, so
    whatever text a hook input held reads back the same on the other side."""
    return json.dumps(message).encode("ascii") + b"\n"


def log_path(socket: Path) -> Path:
    """Where a daemon started by a client writes its output: beside its socket, ``.log``."""
    return socket.with_suffix(".log")


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


def connect(path: Path | None = None, *, timeout: float | None = 5.0) -> Connection:
    """Connect to the daemon at ``path`` (default ``socket_path()``), or raise ``NoDaemon``.

    ``timeout`` bounds each send and read (None: wait as long as the daemon takes).
    """
    path = socket_path() if path is None else path
    status = check_owner(path)
    if status is None or not stat.S_ISSOCK(status.st_mode):
        raise NoDaemon(f"no streamtts daemon runs ({path} is no socket): start `streamtts serve`")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
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
    path: Path | None = None, *, args: Sequence[str] = (), wait: float = START_WAIT
) -> Connection:
    """Connect to the daemon, starting ``streamtts serve ARGS`` in the background if none runs.

    The daemon listens before it loads any model, so this waits for the socket only (well
    under a second), not for the models: what is sent meanwhile waits in its queue. Its
    output goes to ``log_path(path)``. Two clients starting one each are fine: the second
    daemon finds the first's lock and exits.
    """
    path = socket_path() if path is None else path
    try:
        return connect(path)
    except NoDaemon:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(log_path(path), "ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "streamtts", "serve", *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # not killed with the hook's process group
            env={**os.environ, "STREAMTTS_SOCKET": str(path)},
        )
    deadline = time.monotonic() + wait
    while True:
        try:
            return connect(path)
        except NoDaemon:
            if time.monotonic() > deadline:
                raise NoDaemon(
                    f"started `streamtts serve`, but nothing listens at {path} after {wait:g} s; "
                    f"see {log_path(path)}"
                ) from None
            time.sleep(0.02)
