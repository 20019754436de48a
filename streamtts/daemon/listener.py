"""The daemon's socket and the lock that says a daemon runs.

The socket is bound before any model loads (a client started the daemon and waits for it),
under an exclusive lock on ``<socket>.lock`` held for the daemon's life: the lock, not the
socket file, says whether a daemon runs, so a socket left by a killed daemon is known to be
stale and replaced, and two daemons starting at once cannot both listen.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import stat
from pathlib import Path

from streamtts.daemon.protocol import check_directory, check_owner, lock_path, start_stamp
from streamtts.errors import StreamttsError, from_os_error
from streamtts.paths import user_cache_dir


class Listener:
    """The daemon's socket, its lock, and their removal at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        lock = lock_path(path)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if path.parent == user_cache_dir():  # ours, and it may be older than any socket
                path.parent.chmod(0o700)
            check_directory(path.parent)
            check_owner(lock)
            self._lock = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as error:
            raise from_os_error("create", lock, error) from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            raise StreamttsError(f"a streamtts daemon already runs at {path}") from None
        try:
            self.socket = self._bind()
        except BaseException:
            os.close(self._lock)
            raise

    def _bind(self) -> socket.socket:
        status = check_owner(self.path)
        if status is not None:
            if not stat.S_ISSOCK(status.st_mode):
                raise StreamttsError(f"{self.path} exists and is not a socket; remove it")
            os.unlink(self.path)  # ours, and no daemon holds the lock: a killed one's
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        umask = os.umask(0o177)  # born 0600: never a moment readable by others
        try:
            sock.bind(str(self.path))
        except OSError as error:
            sock.close()
            raise from_os_error("listen at", self.path, error) from None
        finally:
            os.umask(umask)
        os.chmod(self.path, 0o600)
        # Room for every hook of a busy machine calling at once (the kernel caps it).
        sock.listen(socket.SOMAXCONN)
        start_stamp(self.path).unlink(missing_ok=True)  # a client's start has succeeded
        return sock

    def close(self) -> None:
        """Stop listening, remove the socket (if still ours) and release the lock."""
        self.socket.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self._lock)
