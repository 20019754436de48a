"""What a sink is: where synthesized audio goes, sentence by sentence.

``AudioSink`` is the protocol every sink keeps (``device.SoundDeviceSink``, ``null.NullSink``,
``wav.WavSink``); ``Playback`` is one sentence handed to a sink, stamped when the device takes
its first and last sample; ``TeeSink`` plays on one sink and copies to another.
``output.open_sink`` picks the sink for the options.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class Playback:
    """One sentence handed to a sink: its length and when the device took it."""

    frames: int = 0  # at the sink's rate
    t_start: float | None = None  # time.perf_counter() when the first sample was taken
    t_end: float | None = None  # … and the last; None if it was discarded
    done: threading.Event = field(default_factory=threading.Event)
    # Set once t_start is stamped, or when the sentence ends without a sample played.
    started: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False  # silenced by ``cancel``: nothing more of it is queued

    def start(self, now: float) -> None:
        """Stamp the first sample taken (the first call only), waking who waits for it."""
        if self.t_start is None:
            self.t_start = now
            self.started.set()

    def finish(self) -> None:
        """The sentence is over, played or not: wake who waits for its start or its end."""
        self.done.set()
        self.started.set()


class AudioSink(Protocol):
    """Where synthesized audio goes: a device, a file, or nowhere.

    ``underflows`` counts the times the device ran dry of buffered audio inside a sentence
    (a click or gap that the listener hears), and ``gap_seconds`` the silence it played
    there because synthesis fell behind; a file never runs dry. ``realtime`` says whether
    it plays at the sample clock: only then can a sentence find it idle, and its wait be
    latency.
    """

    underflows: int
    realtime: bool

    @property
    def gap_seconds(self) -> float: ...

    def play(
        self, chunks: Iterable[np.ndarray], sample_rate: int, playback: Playback | None = None
    ) -> Playback:
        """Queue one sentence's chunks; return once the last is queued (not played).

        ``playback`` (a new one if None) is stamped and returned, so a caller that made it
        can watch the sentence start while its later chunks are still arriving.
        """
        ...

    def close(self, *, discard: bool = False) -> None:
        """Stop: play what is queued first, or with ``discard`` fall silent at once."""
        ...

    def cancel(self, playback: Playback) -> None:
        """Silence one sentence at once, queued or playing; a file keeps what it was given."""
        ...

    def pause(self, paused: bool) -> None:
        """Hold playback where it is (silence), or go on from there; a file ignores it."""
        ...


class TeeSink:
    """Plays on one sink and writes the same audio to another (a device and a WAV)."""

    def __init__(self, primary: AudioSink, copy: AudioSink):
        self.primary, self.copy = primary, copy

    @property
    def underflows(self) -> int:
        """The playing sink's underflows."""
        return self.primary.underflows

    @property
    def realtime(self) -> bool:
        """Whether the playing sink keeps the sample clock."""
        return self.primary.realtime

    def play(
        self, chunks: Iterable[np.ndarray], sample_rate: int, playback: Playback | None = None
    ) -> Playback:
        """Stream to the primary sink (stamping ``playback``), then hand the chunks to the copy."""
        seen: list[np.ndarray] = []

        def tap() -> Iterator[np.ndarray]:
            for chunk in chunks:
                seen.append(chunk)
                yield chunk

        playback = self.primary.play(tap(), sample_rate, playback)
        self.copy.play(seen, sample_rate)
        return playback

    @property
    def gap_seconds(self) -> float:
        """The playing sink's gaps."""
        return self.primary.gap_seconds

    def cancel(self, playback: Playback) -> None:
        """Silence it on the playing sink; the copy keeps what it was handed."""
        self.primary.cancel(playback)

    def pause(self, paused: bool) -> None:
        """Pause the playing sink."""
        self.primary.pause(paused)

    def close(self, *, discard: bool = False) -> None:
        """Close both; the copy keeps what was handed to it (if anything) even on discard."""
        try:
            self.primary.close(discard=discard)
        finally:
            self.copy.close(discard=discard)
