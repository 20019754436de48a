"""One client as the daemon sees it: its connection, its queued replies, its open sentences."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import deque
from typing import Any

from streamtts.daemon.protocol import encode

OUTBOX = 4 << 20  # bytes of replies a client may leave unread before it is dropped


class Peer:
    """One client's connection: its replies (queued from several threads) and its open sentences.

    Its replies go out on a thread of its own (``write_out``), so a client that stops
    reading (a ``speak`` stopped with Ctrl-Z) never blocks the thread that speaks for every
    client; one that leaves more than ``OUTBOX`` bytes unread is dropped.
    """

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.open: set[int] = set()  # daemon seqs of its sentences not finished yet
        self.speaking: str | None = None  # turn of its ``speak`` stream, once begun
        self.sink_base = (0, 0.0)  # the sink's underflows and gap seconds when it began
        self.ended = False  # it sent ``end``: close after its last sentence
        self.gone = False
        self._done = False
        self._lock = threading.Lock()
        self._outbox: deque[bytes] = deque()
        self._unsent = 0  # bytes in the outbox
        self._closing = False  # the reader has ended: send what is queued, then close
        self._wake = threading.Condition(self._lock)

    def finish_once(self) -> bool:
        """True the first time only: its ``done`` is sent once."""
        with self._lock:
            first, self._done = not self._done, True
        return first

    def send(self, message: dict[str, Any]) -> None:
        """Queue one message for the client; never waits for the client to read."""
        data = encode(message)
        with self._lock:
            if self.gone or self._closing:
                return
            if self._unsent + len(data) > OUTBOX:  # it stopped reading: drop it
                self._drop()
                return
            self._outbox.append(data)
            self._unsent += len(data)
            self._wake.notify()

    def close(self) -> None:
        """The reader is done: the writer sends what is queued, then closes the connection."""
        with self._lock:
            self._closing = True
            self._wake.notify()

    def write_out(self) -> None:
        """The client's writing thread: its queued messages, in order, until it is closed."""
        while True:
            with self._lock:
                while not self._outbox and not self._closing and not self.gone:
                    self._wake.wait()
                if self.gone or not self._outbox:
                    break
                data = self._outbox.popleft()
                self._unsent -= len(data)
            try:
                self.conn.sendall(data)
            except OSError:  # it went away; the reading thread notices too
                with self._lock:
                    self._drop()
        with contextlib.suppress(OSError):
            self.conn.close()

    def _drop(self) -> None:
        # Called holding the lock. shutdown() wakes the reader and writer threads at once.
        self.gone = True
        self._outbox.clear()
        self._wake.notify()
        with contextlib.suppress(OSError):
            self.conn.shutdown(socket.SHUT_RDWR)
