"""The sound device: one PortAudio output stream (sounddevice) for the whole session.

``SoundDeviceSink`` opens a single stream and never reopens it; its callback drains a
``FrameQueue``, so sentences play gaplessly and without a click. A missing PortAudio or
device is one ``AudioDeviceError`` that points to ``--output``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from streamtts.audio.frames import FrameQueue
from streamtts.audio.sink import Playback
from streamtts.errors import StreamttsError

_NO_DEVICE_HINT = "write the speech to a file instead with --output FILE.wav"


class AudioDeviceError(StreamttsError):
    """No usable audio output device; the message says why and points to ``--output``."""


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
        self._frames = FrameQueue(rate)
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
