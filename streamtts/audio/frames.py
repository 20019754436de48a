"""The frame queue between ``play()`` and a device: sentences in, blocks of frames out.

``play()`` appends each sentence's frames (resampled to the device rate) and the device's
callback, or the null sink's clock, pulls one block at a time, stamping each ``Playback``
when its first and last sample are taken. Consecutive sentences follow each other with no
gap; when the queue runs dry the device plays silence.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

import numpy as np

from streamtts.audio.resample import at_rate
from streamtts.audio.sink import Playback


class FrameQueue:
    """Frames waiting for the device, pulled block by block by its callback.

    ``gap_frames`` counts the silence the device played in the middle of a sentence
    because synthesis fell behind; silence between sentences is idle time, not a gap.
    """

    def __init__(self, rate: int):
        self.rate = rate
        self.gap_frames = 0
        self._items: deque[tuple[Playback, np.ndarray | None]] = deque()  # None ends a sentence
        self._offset = 0  # frames of the first item already played
        self._current: Playback | None = None
        self._last: Playback | None = None
        self._closed = False  # after discard() nothing more is queued
        self.paused = False  # the device plays silence and nothing is taken from the queue
        self._lock = threading.Lock()

    def enqueue(
        self, chunks: Iterable[np.ndarray], sample_rate: int, playback: Playback
    ) -> Playback:
        self._last = playback
        for data in at_rate(chunks, sample_rate, self.rate):
            with self._lock:
                if data.size and not self._closed and not playback.cancelled:
                    playback.frames += data.size
                    self._items.append((playback, data))
        with self._lock:
            if not self._closed and not playback.cancelled:
                self._items.append((playback, None))
                return playback
        playback.finish()  # a sentence still arriving when it or the sink was silenced
        return playback

    def pull(self, out: np.ndarray, now: float) -> None:
        """Fill ``out`` with the next frames (zeros when starved), stamping playbacks."""
        filled, finished = 0, []
        with self._lock:
            if self.paused:
                out[:] = 0
                return
            # End markers are taken even when ``out`` is full, so t_end is this block's time.
            while self._items and (filled < len(out) or self._items[0][1] is None):
                playback, data = self._items[0]
                if data is None:
                    self._items.popleft()
                    playback.t_end = now
                    self._current = None
                    finished.append(playback)
                    continue
                if playback.t_start is None:
                    playback.start(now)
                    self._current = playback
                n = min(len(out) - filled, len(data) - self._offset)
                out[filled : filled + n] = data[self._offset : self._offset + n]
                filled, self._offset = filled + n, self._offset + n
                if self._offset == len(data):
                    self._items.popleft()
                    self._offset = 0
            out[filled:] = 0
            if self._current is not None:
                self.gap_frames += len(out) - filled
        for playback in finished:
            playback.finish()

    @property
    def playing(self) -> bool:
        """Whether a sentence has started and not ended: running dry now is audible."""
        return self._current is not None and not self.paused

    def cancel(self, playback: Playback) -> None:
        """Drop one sentence's frames, played or not; it ends unplayed (``t_end`` None)."""
        with self._lock:
            playback.cancelled = True
            if self._items and self._items[0][0] is playback:
                self._offset = 0
            self._items = deque(item for item in self._items if item[0] is not playback)
            if self._current is playback:
                self._current = None
        playback.finish()

    def discard(self) -> None:
        """Drop everything queued; its playbacks end unplayed (``t_end`` stays None)."""
        with self._lock:
            pending = {id(p): p for p, _ in self._items}
            self._closed = True
            self._items.clear()
            self._offset = 0
            self._current = None
        for playback in pending.values():
            playback.finish()

    def wait(self, alive: threading.Event | None = None) -> None:
        """Block until the last queued sentence has been taken by the device."""
        last = self._last
        while last is not None and not last.done.wait(0.05):
            if alive is not None and not alive.is_set():
                return
