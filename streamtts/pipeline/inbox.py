"""Queues between the pipeline's threads (and into the pipeline) that give up when the run
stops.

Each stage of ``streamtts.pipeline.core`` reads its ``Inbox`` with a plain for loop and puts
what it made into the next stage's; once the run's stop event is set, waiting on either
side raises ``Stopped``, which ends the stage quietly. No stage polls a stop flag itself.
The daemon feeds its pipeline through one too (without a stop event: it closes it), taking
back the sentences of a client that went away before the pipeline read them (``remove``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator

_END = object()  # closes an inbox: nothing follows
# Seconds between stop-event checks while a stage waits; an item wakes a stage at once.
_POLL = 0.1


class Stopped(BaseException):
    """The run stopped while a stage waited: the stage ends quietly (not an error)."""


class Inbox:
    """A queue from one stage to the next that gives up when the run stops.

    Iterating it yields items until the sender ``close()``s it; waiting in ``put`` or in
    the iteration raises ``Stopped`` once the stop event is set, so a stage is a for loop.
    ``size`` bounds it (0: unbounded); without a ``stop`` event it waits until closed.
    """

    def __init__(self, stop: threading.Event | None = None, size: int = 0) -> None:
        self._items: deque = deque()
        self._size = size
        self._stop = stop
        self._changed = threading.Condition()
        self._closed = False  # the end marker was taken by take_waiting

    def put(self, item: object) -> None:
        with self._changed:
            while True:
                self._check_stop()
                if not self._size or len(self._items) < self._size:
                    self._items.append(item)
                    self._changed.notify_all()
                    return
                self._wait()

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
        with self._changed:
            while len(items) < limit and not self._closed and self._items:
                item = self._items.popleft()
                if item is _END:
                    self._closed = True
                else:
                    items.append(item)
            self._changed.notify_all()
        return items

    def remove(self, which: Callable[[object], bool]) -> list:
        """Take out, and return, the items still waiting that ``which`` accepts."""
        with self._changed:
            taken = [item for item in self._items if item is not _END and which(item)]
            if taken:
                self._items = deque(item for item in self._items if item is _END or not which(item))
                self._changed.notify_all()
        return taken

    def _get(self) -> object:
        with self._changed:
            while True:
                self._check_stop()
                if self._items:
                    item = self._items.popleft()
                    self._changed.notify_all()
                    return item
                self._wait()

    def _check_stop(self) -> None:
        if self._stop is not None and self._stop.is_set():
            raise Stopped

    def _wait(self) -> None:
        # Holding the condition. With a stop event, wake to check it every _POLL seconds.
        self._changed.wait(None if self._stop is None else _POLL)
