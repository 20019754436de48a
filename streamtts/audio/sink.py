"""Audio sinks: one sounddevice stream for the whole session, WAV files, and a null sink.

``SoundDeviceSink`` opens a single PortAudio output stream and never reopens it: ``play()``
resamples each sentence to the device rate (soxr, one streaming resampler per sentence so
its tail is flushed when the sentence ends) and appends its frames to a queue that the
stream callback drains, so consecutive sentences follow each other with no gap and no
click, and the device plays silence when the queue runs dry. Each ``Playback`` is stamped
in the callback when the device takes its first and last sample. The realtime
``NullSink`` runs the same queue from a thread paced by the clock, so overlap and lag are
testable without a sound card; ``streamtts.audio.wav.WavSink`` writes files.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from streamtts.errors import StreamttsError

_NO_DEVICE_HINT = "write the speech to a file instead with --output FILE.wav"


class AudioDeviceError(StreamttsError):
    """No usable audio output device; the message says why and points to ``--output``."""


@dataclass
class Playback:
    """One sentence handed to a sink: its length and when the device took it."""

    frames: int = 0  # at the sink's rate
    t_start: float | None = None  # time.perf_counter() when the first sample was taken
    t_end: float | None = None  # … and the last; None if it was discarded
    done: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False  # silenced by ``cancel``: nothing more of it is queued


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


def at_rate(chunks: Iterable[np.ndarray], rate: int, target: int) -> Iterator[np.ndarray]:
    """Yield ``chunks`` as 1-D float32 at ``target`` Hz, resampled with soxr if needed."""
    if rate == target:
        for chunk in chunks:
            yield np.asarray(chunk, np.float32).reshape(-1)
        return
    import soxr

    # One stream per sentence: continuous across its chunks, and flushed at its end so
    # the last milliseconds are not held back until the next sentence.
    stream = soxr.ResampleStream(rate, target, 1, dtype="float32")
    for chunk in chunks:
        yield stream.resample_chunk(np.asarray(chunk, np.float32).reshape(-1))
    yield stream.resample_chunk(np.zeros(0, np.float32), last=True)


class _FrameQueue:
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
        playback.done.set()  # a sentence still arriving when it or the sink was silenced
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
                    playback.t_start = now
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
            playback.done.set()

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
        playback.done.set()

    def discard(self) -> None:
        """Drop everything queued; its playbacks end unplayed (``t_end`` stays None)."""
        with self._lock:
            pending = {id(p): p for p, _ in self._items}
            self._closed = True
            self._items.clear()
            self._offset = 0
            self._current = None
        for playback in pending.values():
            playback.done.set()

    def wait(self, alive: threading.Event | None = None) -> None:
        """Block until the last queued sentence has been taken by the device."""
        last = self._last
        while last is not None and not last.done.wait(0.05):
            if alive is not None and not alive.is_set():
                return


class SoundDeviceSink:
    """Plays through one PortAudio output stream, opened once for the whole session."""

    realtime = True

    def __init__(self, *, device: str | int | None = None, sample_rate: int | None = None):
        sd = _sounddevice()
        device = int(device) if isinstance(device, str) and device.isdigit() else device
        try:
            info = sd.query_devices(device, "output")
        except (ValueError, sd.PortAudioError) as error:
            raise AudioDeviceError(
                f"no audio output device ({error}); {_NO_DEVICE_HINT}"
            ) from error
        rate = sample_rate or int(info["default_samplerate"])
        self.device_name: str = info["name"]
        self.underflows = 0
        self._frames = _FrameQueue(rate)
        self._alive = threading.Event()
        try:
            self._stream = sd.OutputStream(
                device=device,
                samplerate=rate,
                channels=1,
                dtype="float32",
                latency="low",
                callback=self._callback,
                finished_callback=self._alive.clear,
            )
            self._latency = self._stream.latency
            self._stream.start()
        except sd.PortAudioError as error:
            raise AudioDeviceError(
                f"cannot open {self.device_name!r} ({error}); {_NO_DEVICE_HINT}"
            ) from error
        self._alive.set()

    @property
    def sample_rate(self) -> int:
        """The device rate every sentence is resampled to."""
        return self._frames.rate

    @property
    def latency(self) -> float:
        """The stream's nominal output latency (s), used when the host gives no DAC time."""
        return self._latency

    @property
    def gap_seconds(self) -> float:
        """Silence played inside sentences because audio arrived late."""
        return self._frames.gap_frames / self._frames.rate

    def _callback(self, outdata: np.ndarray, frames: int, time_info, status) -> None:
        if status.output_underflow and self._frames.playing:
            self.underflows += 1
        # A block is heard once the device's buffer ahead of it has played: when the host
        # API reports that time (DAC time), else after the stream's nominal latency. So a
        # sentence's t_start, and TTFA, include the device's output latency.
        delay = time_info.outputBufferDacTime - time_info.currentTime
        self._frames.pull(
            outdata[:, 0], time.perf_counter() + (delay if delay > 0 else self._latency)
        )

    def play(
        self, chunks: Iterable[np.ndarray], sample_rate: int, playback: Playback | None = None
    ) -> Playback:
        """Queue one sentence (resampled to the device rate); return once it is queued."""
        return self._frames.enqueue(chunks, sample_rate, playback or Playback())

    def cancel(self, playback: Playback) -> None:
        """Silence one sentence, queued or playing."""
        self._frames.cancel(playback)

    def pause(self, paused: bool) -> None:
        """Play silence, keeping the queue, until resumed."""
        self._frames.paused = paused

    def close(self, *, discard: bool = False) -> None:
        """Close the stream after draining, or silence it at once with ``discard``."""
        if discard:
            self._frames.discard()
            self._stream.abort()
        else:  # drained: the device took every queued frame, and its buffer has played
            self._frames.wait(self._alive)
            time.sleep(self._stream.latency)
            self._stream.stop()
        self._stream.close()


class NullSink:
    """Plays nowhere. ``realtime`` consumes at the sample clock, like a device would."""

    def __init__(self, *, realtime: bool = False, sample_rate: int = 24_000):
        self.realtime = realtime
        self.frames = 0
        self.underflows = 0
        self._frames = _FrameQueue(sample_rate)
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
                playback.t_start = playback.t_start or time.perf_counter()
                playback.frames += len(chunk)
            playback.t_end = time.perf_counter()
            playback.done.set()
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


NULL_DEVICE = "null"


def _device_sink(device: str | int | None) -> AudioSink:
    if device == NULL_DEVICE:
        return NullSink(realtime=True)
    return SoundDeviceSink(device=device)


def open_sink(
    *,
    output: Path | None = None,
    device: str | int | None = None,
    play: bool = True,
) -> AudioSink:
    """The sink for these options: device, WAV file, both, or null when neither.

    Device ``null`` plays silently at the sample clock, so timing is as with a sound card;
    neither playing nor writing takes the audio at once.
    """
    from streamtts.audio.wav import WavSink  # a module of its own, which imports this one

    if play and output is not None:
        return TeeSink(_device_sink(device), WavSink(output))
    if play:
        return _device_sink(device)
    if output is not None:
        return WavSink(output)
    return NullSink()


@dataclass(frozen=True, slots=True)
class OutputDevice:
    """One output device as ``streamtts devices`` lists it."""

    index: int
    name: str
    host_api: str
    channels: int
    sample_rate: int
    default: bool


def output_devices() -> list[OutputDevice]:
    """The output devices PortAudio sees, the default one marked."""
    sd = _sounddevice()
    apis = sd.query_hostapis()
    default = sd.default.device[1]
    return [
        OutputDevice(
            index=index,
            name=info["name"],
            host_api=apis[info["hostapi"]]["name"],
            channels=info["max_output_channels"],
            sample_rate=int(info["default_samplerate"]),
            default=index == default,
        )
        for index, info in enumerate(sd.query_devices())
        if info["max_output_channels"] > 0
    ]


def _sounddevice():
    """Import sounddevice, turning a missing PortAudio into an ``AudioDeviceError``."""
    try:
        import sounddevice
    except OSError as error:  # the PortAudio shared library itself is missing
        raise AudioDeviceError(
            f"PortAudio is not installed ({error}); install libportaudio2 "
            f"(macOS: brew install portaudio) or {_NO_DEVICE_HINT}"
        ) from error
    except ImportError as error:
        raise AudioDeviceError(f"pip install sounddevice, or {_NO_DEVICE_HINT}") from error
    return sounddevice
