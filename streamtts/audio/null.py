"""The null sink: plays nowhere. Realtime, it consumes at the sample clock from a thread, as
a device would, so overlap and lag are testable without a sound card.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import numpy as np

from streamtts.audio.frames import FrameQueue
from streamtts.audio.sink import Playback


class NullSink:
    """Plays nowhere. ``realtime`` consumes at the sample clock, like a device would."""

    def __init__(self, *, realtime: bool = False, sample_rate: int = 24_000):
        self.realtime = realtime
        self.frames = 0
        self.underflows = 0
        self._frames = FrameQueue(sample_rate)
        self._stop = threading.Event()
        if realtime:
            self._thread = threading.Thread(target=self._clock, name="streamtts-null", daemon=True)
            self._thread.start()

    def _clock(self) -> None:
        block = np.empty(self._frames.rate // 100, np.float32)  # 10 ms, a typical device block
        period = len(block) / self._frames.rate
        deadline = time.perf_counter()
        while not self._stop.is_set():
            now = time.perf_counter()
            self._frames.pull(block, now)
            # Woken a block late (a loaded machine): a device would have underrun. Resume
            # from now rather than catch up, so audio is never taken faster than real time.
            if now - deadline > period and self._frames.playing:
                self.underflows += 1
            deadline = max(deadline + period, now)
            self._stop.wait(max(0.0, deadline - time.perf_counter()))

    def play(
        self, chunks: Iterable[np.ndarray], sample_rate: int, playback: Playback | None = None
    ) -> Playback:
        """Realtime: queue like a device. Otherwise: take every chunk now."""
        playback = playback or Playback()
        if self.realtime:
            self._frames.enqueue(chunks, sample_rate, playback)
        else:
            for chunk in chunks:
                playback.start(time.perf_counter())
                playback.frames += len(chunk)
            playback.t_end = time.perf_counter()
            playback.finish()
        self.frames += playback.frames
        return playback

    def cancel(self, playback: Playback) -> None:
        """Realtime: silence one sentence. Otherwise it was taken already."""
        self._frames.cancel(playback)

    def pause(self, paused: bool) -> None:
        """Realtime: consume silence, keeping the queue, until resumed."""
        self._frames.paused = paused

    @property
    def gap_seconds(self) -> float:
        """Realtime: silence played inside sentences because audio arrived late."""
        return self._frames.gap_frames / self._frames.rate

    def close(self, *, discard: bool = False) -> None:
        """Stop the clock, after it has consumed everything queued unless ``discard``."""
        if discard:
            self._frames.discard()
        else:
            self._frames.wait()
        self._stop.set()
