"""Queues between the pipeline's threads that give up when the run stops.

Each stage of ``streamtts.pipeline.core`` reads its ``Inbox`` with a plain for loop and puts
what it made into the next stage's; once the run's stop event is set, waiting on either
side raises ``Stopped``, which ends the stage quietly. No stage polls a stop flag itself.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

_END = object()  # closes an inbox: nothing follows
# Seconds between stop-event checks while a stage waits; an item wakes a stage at once.
_POLL = 0.1


class Stopped(BaseException):
    """The run stopped while a stage waited: the stage ends quietly (not an error)."""


class Inbox:
    """A queue from one stage to the next that gives up when the run stops.

    Iterating it yields items until the sender ``close()``s it; waiting in ``put`` or in
    the iteration raises ``Stopped`` once the stop event is set, so a stage is a for loop.
    """

    def __init__(self, stop: threading.Event, size: int = 0) -> None:
        self._queue: queue.Queue = queue.Queue(size)
        self._stop = stop
        self._closed = False  # the end marker was taken by take_waiting

    def put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue
        raise Stopped

    def close(self) -> None:
        self.put(_END)

    def __iter__(self) -> Iterator:
        while not self._closed:
            item = self._get()
            if item is _END:
                return
            yield item

    def take_waiting(self, limit: int) -> list:
        """Up to ``limit`` items already waiting, without blocking."""
        items: list = []
        while len(items) < limit and not self._closed:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _END:
                self._closed = True
            else:
                items.append(item)
        return items

    def _get(self) -> object:
        while not self._stop.is_set():
            try:
                return self._queue.get(timeout=_POLL)
            except queue.Empty:
                continue
        raise Stopped
