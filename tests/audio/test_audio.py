"""Audio sinks: real PortAudio playback into ALSA devices from tests/data/asound.conf.

The default ALSA device there is a null sink that also writes every frame to the FIFO
named by STREAMTTS_ALSA_CAPTURE. A thread reads that FIFO at the sample clock, which paces
the device like real hardware and hands the test exactly the samples PortAudio played.
"""

from __future__ import annotations

import itertools
import os
import struct
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from streamtts.audio.device import AudioDeviceError, SoundDeviceSink, output_devices
from streamtts.audio.null import NullSink
from streamtts.audio.output import open_sink
from streamtts.audio.sink import Playback, TeeSink
from streamtts.audio.wav import WavSink
from streamtts.errors import StreamttsError

# PortAudio must start before STREAMTTS_ALSA_CAPTURE names a FIFO: it probes every device
# when it starts, and a probe would open (and close) the FIFO.
sd = pytest.importorskip("sounddevice") if sys.platform == "linux" else None
alsa = pytest.mark.skipif(sd is None, reason="the ALSA test devices exist on Linux only")

DEVICE_RATE = 48_000
ENGINE_RATE = 24_000


def tone(seconds: float, hz: float = 440.0, rate: int = ENGINE_RATE) -> np.ndarray:
    """A sine that starts at a non-zero phase, so no sample of it is exactly silent."""
    t = np.arange(round(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t + 0.3)).astype(np.float32)


def chunked(audio: np.ndarray, parts: int) -> list[np.ndarray]:
    return np.array_split(audio, parts)


class Capture:
    """Reads the ALSA capture FIFO at ``rate`` float32 frames per second until EOF."""

    def __init__(self, path: Path, rate: int):
        os.mkfifo(path)
        self.path, self.rate, self.data = path, rate, bytearray()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        block = self.rate // 100 * 4  # 10 ms of float32 frames
        with open(self.path, "rb", buffering=0) as fifo:
            deadline = time.perf_counter()
            while chunk := fifo.read(block):
                self.data.extend(chunk)
                deadline += len(chunk) / 4 / self.rate
                time.sleep(max(0.0, deadline - time.perf_counter()))

    def samples(self) -> np.ndarray:
        self.thread.join(timeout=10)
        return np.frombuffer(bytes(self.data[: len(self.data) // 4 * 4]), np.float32)


@pytest.fixture
def capture(tmp_path, monkeypatch) -> Capture:
    fifo = tmp_path / "device.raw"
    monkeypatch.setenv("STREAMTTS_ALSA_CAPTURE", str(fifo))
    return Capture(fifo, DEVICE_RATE)


def longest_silence(audio: np.ndarray) -> int:
    """Longest run of near-zero samples strictly inside the sounding part of ``audio``."""
    loud = np.flatnonzero(np.abs(audio) > 1e-4)
    return int(np.diff(loud).max()) - 1 if loud.size > 1 else 0


def trimmed(audio: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > 1e-4)
    return audio[loud[0] : loud[-1] + 1]


@alsa
def test_device_plays_every_frame_gaplessly_across_sentences_with_resampling(capture):
    sentences = [tone(0.3), tone(0.2), tone(0.25)]
    sink = SoundDeviceSink(sample_rate=DEVICE_RATE)
    playbacks = [sink.play(chunked(audio, 5), ENGINE_RATE) for audio in sentences]
    sink.close()
    played = trimmed(capture.samples())

    # Every sentence was resampled 24 -> 48 kHz (soxr keeps the length exact) …
    assert [p.frames for p in playbacks] == [2 * len(audio) for audio in sentences]
    # … and the device took each of those frames, back to back. The only silence between
    # them is what the sink counted as a gap: on a starved CPU the callback can drain the
    # queue before play() has resampled the next chunk (on a quiet machine, none).
    gap = round(sink.gap_seconds * DEVICE_RATE)
    assert abs(len(played) - sum(p.frames for p in playbacks) - gap) <= 2
    assert longest_silence(played) <= gap
    # Resampled, a 440 Hz tone stays 440 Hz (played raw at 48 kHz it would be 880 Hz).
    spectrum = np.abs(np.fft.rfft(played))
    assert round(np.argmax(spectrum) * DEVICE_RATE / len(played)) in range(435, 446)
    # Stamped in the callback, in order: a sentence starts once the previous one ended.
    for before, after in itertools.pairwise(playbacks):
        assert before.done.is_set()
        assert before.t_start <= before.t_end <= after.t_start <= after.t_end


@alsa
def test_device_stamps_include_its_output_latency(capture):
    sink = SoundDeviceSink(sample_rate=DEVICE_RATE)
    called = time.perf_counter()
    playback = sink.play([tone(0.2)], ENGINE_RATE)
    sink.close()
    # The ALSA null device reports no DAC time, so the stream's own latency is added.
    assert sink.latency > 0
    assert playback.t_start >= called + sink.latency
    assert sink.underflows == 0


@alsa
def test_device_close_with_discard_stops_at_once(capture):
    sink = SoundDeviceSink(sample_rate=DEVICE_RATE)
    playback = sink.play([tone(3.0)], ENGINE_RATE)
    while playback.t_start is None:
        time.sleep(0.01)
    sink.close(discard=True)
    played = trimmed(capture.samples())

    assert playback.done.is_set()
    assert playback.t_end is None
    assert len(played) < playback.frames / 2


@alsa
def test_device_cancel_silences_one_sentence_at_once_and_the_next_plays_whole(capture):
    sink = SoundDeviceSink(sample_rate=DEVICE_RATE)
    cut = sink.play([tone(3.0)], ENGINE_RATE)
    kept = sink.play([tone(0.3, hz=880.0)], ENGINE_RATE)
    while cut.t_start is None:
        time.sleep(0.01)
    time.sleep(0.2)
    sink.cancel(cut)
    sink.close()
    played = trimmed(capture.samples())

    assert cut.done.is_set() and cut.t_end is None
    assert kept.t_end is not None and kept.t_start >= cut.t_start
    # Far less than the 3 s sentence, then all of the next one, with no hole between them.
    assert len(played) < kept.frames + cut.frames / 3
    assert abs(len(played) - kept.frames) < cut.frames / 3
    assert longest_silence(played) < DEVICE_RATE * sink.latency + 1


@alsa
def test_device_pause_plays_silence_and_resume_goes_on_where_it_was(capture):
    sink = SoundDeviceSink(sample_rate=DEVICE_RATE)
    playback = sink.play([tone(0.6)], ENGINE_RATE)
    while playback.t_start is None:
        time.sleep(0.01)
    sink.pause(True)
    time.sleep(0.8)
    assert not playback.done.is_set()  # paused: the 0.6 s sentence still waits
    sink.pause(False)
    sink.close()
    played = trimmed(capture.samples())

    assert playback.t_end is not None
    # Every frame of the sentence played, around one stretch of silence.
    assert longest_silence(played) > 0
    assert abs(len(played) - longest_silence(played) - playback.frames) <= 4
    assert sink.gap_seconds == 0.0  # a pause is not a gap


def test_wav_sink_cancel_writes_no_more_of_that_sentence(tmp_path):
    sink = WavSink(tmp_path / "out.wav")

    def chunks():
        yield tone(0.1)
        sink.cancel(playback)
        yield tone(0.1)

    playback = Playback()
    sink.play(chunks(), ENGINE_RATE, playback)
    sink.close()
    with wave.open(str(tmp_path / "out.wav")) as wav:
        assert wav.getnframes() == len(tone(0.1))
    assert playback.done.is_set() and playback.t_end is None


@alsa
def test_devices_are_listed_and_chosen_by_name_or_index():
    devices = output_devices()
    names = [d.name for d in devices]
    assert "default" in names and "streamtts_null" in names
    assert [d.name for d in devices if d.default] == ["default"]

    null = next(d for d in devices if d.name == "streamtts_null")
    for choice in ("streamtts_null", str(null.index)):
        sink = SoundDeviceSink(device=choice)
        assert sink.device_name == "streamtts_null"
        sink.play([tone(0.05)], ENGINE_RATE)
        sink.close()


@alsa
def test_a_missing_device_is_one_error_pointing_to_output():
    with pytest.raises(AudioDeviceError, match=r"--output FILE\.wav"):
        open_sink(device="no such device")


def test_wav_sink_writes_at_the_first_rate_and_resamples_the_rest(tmp_path):
    first, second = tone(0.2), tone(0.1, rate=48_000)
    sink = open_sink(output=tmp_path / "out.wav", play=False)
    assert isinstance(sink, WavSink)
    playbacks = [sink.play(chunked(first, 3), ENGINE_RATE), sink.play([second], 48_000)]
    sink.close()

    with wave.open(str(tmp_path / "out.wav")) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (ENGINE_RATE, 1, 2)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    assert [p.frames for p in playbacks] == [len(first), len(second) // 2]
    assert len(pcm) == len(first) + len(second) // 2
    assert np.array_equal(pcm[: len(first)], (first * 32767).astype("<i2"))


def test_wav_sink_with_nothing_played_is_an_empty_valid_wav(tmp_path):
    WavSink(tmp_path / "empty.wav").close()
    with wave.open(str(tmp_path / "empty.wav")) as wav:
        assert (wav.getnframes(), wav.getframerate()) == (0, 24_000)


def test_wav_sink_in_a_missing_directory_fails_before_any_work(tmp_path):
    path = tmp_path / "nowhere" / "out.wav"
    with pytest.raises(StreamttsError) as caught:
        WavSink(path)
    assert str(caught.value) == f"cannot write {path}: No such file or directory"


def test_wav_sink_replaces_a_file_only_when_closed(tmp_path):
    path = tmp_path / "out.wav"
    path.write_bytes(b"the last run's speech")
    sink = WavSink(path)
    sink.play([tone(0.1)], ENGINE_RATE)
    assert path.read_bytes() == b"the last run's speech"
    sink.close()
    with wave.open(str(path)) as wav:
        assert wav.getnframes() == len(tone(0.1))
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]


def test_wav_sink_through_a_symlink_replaces_the_file_it_points_to(tmp_path):
    target, link = tmp_path / "speech.wav", tmp_path / "latest.wav"
    target.write_bytes(b"the last run")
    link.symlink_to(target)
    sink = WavSink(link)
    sink.play([tone(0.1)], ENGINE_RATE)
    sink.close()
    assert link.is_symlink() and link.resolve() == target
    with wave.open(str(target)) as wav:
        assert wav.getnframes() == len(tone(0.1))


def test_wav_sink_discarded_before_any_speech_leaves_the_old_file(tmp_path):
    path = tmp_path / "out.wav"
    path.write_bytes(b"the last run's speech")
    WavSink(path).close(discard=True)  # as when start-up fails, or Ctrl-C before speech
    assert path.read_bytes() == b"the last run's speech"
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]
    sink = WavSink(path)
    sink.play([tone(0.1)], ENGINE_RATE)
    sink.close(discard=True)  # Ctrl-C after some speech keeps it
    with wave.open(str(path)) as wav:
        assert wav.getnframes() == len(tone(0.1))


def test_wav_sink_on_a_full_device_is_one_error_and_renames_nothing():
    sink = WavSink(Path("/dev/full"))
    with pytest.raises(StreamttsError) as caught:
        sink.play([tone(1.0)], ENGINE_RATE)  # more than the file's buffer
    assert str(caught.value) == "cannot write /dev/full: No space left on device"
    sink.close(discard=True)
    assert Path("/dev/full").is_char_device()


def test_wav_sink_turns_rf64_past_the_riff_limit(tmp_path):
    audio = tone(0.1)
    small, large = tmp_path / "small.wav", tmp_path / "large.wav"
    for path, limit in ((small, 72 + 2 * len(audio)), (large, 72 + 2 * len(audio) - 1)):
        sink = WavSink(path, rf64_above=limit)
        sink.play([audio], ENGINE_RATE)
        sink.close()
    with wave.open(str(small)) as wav:  # at the limit: a plain WAV
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
    assert np.array_equal(pcm, (audio * 32767).astype("<i2"))
    data = large.read_bytes()
    assert data[:4] == b"RF64" and data[12:16] == b"ds64"
    riff, data_bytes, frames = struct.unpack("<QQQ", data[20:44])
    assert (riff, data_bytes, frames) == (len(data) - 8, 2 * len(audio), len(audio))
    assert data[72:80] == b"data\xff\xff\xff\xff" and data[80:] == pcm.tobytes()


def test_realtime_null_sink_consumes_at_the_sample_clock():
    sentences = [tone(0.2), tone(0.1), tone(0.15)]
    sink = open_sink(device="null")
    playbacks = [sink.play(chunked(audio, 4), ENGINE_RATE) for audio in sentences]
    sink.close()

    assert sink.frames == sum(len(audio) for audio in sentences)
    for playback, audio in zip(playbacks, sentences, strict=True):
        # It cannot take a sentence faster than it lasts: the first and the last 10 ms
        # block are stamped when taken, hence two blocks of slack.
        assert playback.t_end - playback.t_start >= len(audio) / ENGINE_RATE - 0.021
    for before, after in itertools.pairwise(playbacks):
        assert before.t_end <= after.t_start


def test_null_sink_discard_ends_queued_sentences_unplayed():
    sink = NullSink(realtime=True)
    playback = sink.play([tone(2.0)], ENGINE_RATE)
    sink.close(discard=True)
    assert playback.done.is_set() and playback.t_end is None


def test_tee_sink_plays_and_writes_the_same_audio(tmp_path):
    audio = tone(0.2)
    null = NullSink()
    sink = TeeSink(null, WavSink(tmp_path / "tee.wav"))
    playback = sink.play(chunked(audio, 4), ENGINE_RATE)
    sink.close()

    assert playback.frames == null.frames == len(audio)
    with wave.open(str(tmp_path / "tee.wav")) as wav:
        assert wav.getnframes() == len(audio)
