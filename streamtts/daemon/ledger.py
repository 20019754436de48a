"""The daemon's ledger: one JSON line for each sentence it took, saying what became of it.

So that a user can see why something was or was not said: spoken, or skipped and why
(``superseded`` by a newer turn, ``stale`` after waiting too long, ``stopped``, a voice that
cannot speak…), with the time, the client it came from (``hook`` or a client's source name),
its session and turn, and its text. The file lives beside the daemon's socket and log
(``streamtts.ledger.jsonl``), is the user's alone (0600, never opened through a link, see
``client.open_log``) and is bounded: past ``MAX_BYTES`` it is renamed ``.1`` (replacing the
older one) and a new one begun, so the two together never pass twice that.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from streamtts.daemon.protocol import open_log

MAX_BYTES = 1 << 20


def ledger_path(socket: Path) -> Path:
    """The ledger of the daemon listening at ``socket``: beside it, ``.ledger.jsonl``."""
    return socket.with_suffix(".ledger.jsonl")


class Ledger:
    """Appends entries to ``path``, rotating it past ``max_bytes``; a file that cannot be
    written (a read-only disk, a link planted there) loses the entries, never the speech."""

    def __init__(self, path: Path, *, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self._max = max_bytes
        self._lock = threading.Lock()
        self._fd = open_log(path)

    def write(self, **entry: Any) -> None:
        """Append one entry (JSON values), stamped with the local time."""
        line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **entry})
        data = line.encode("utf-8", "backslashreplace") + b"\n"
        with self._lock:
            try:
                if self._fd is not None and os.fstat(self._fd).st_size + len(data) > self._max:
                    self.close()
                    os.replace(self.path, self.path.with_name(self.path.name + ".1"))
                    self._fd = open_log(self.path)
                if self._fd is not None:
                    os.write(self._fd, data)
            except OSError:
                self.close()

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)
