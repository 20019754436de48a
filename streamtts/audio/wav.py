"""The WAV file sink: 16-bit mono PCM, renamed into place when done, RF64 past 4 GiB."""

from __future__ import annotations

import contextlib
import os
import struct
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from streamtts.audio.resample import at_rate
from streamtts.audio.sink import Playback
from streamtts.errors import from_os_error

# The rate a WAV gets when nothing was ever played into it (Kokoro's rate).
_EMPTY_WAV_RATE = 24_000
RIFF_LIMIT = 0xFFFFFFFF  # the largest RIFF size a WAV header holds: 4 GiB - 1
# RIFF/RF64 header, ds64 (or JUNK) chunk with three 64-bit sizes, fmt chunk, data header.
_WAV_HEADER = struct.Struct("<4sI4s4sIQQQI4sIHHIIHH4sI")


class WavSink:
    """Writes 16-bit mono PCM; later sentences at another rate are resampled to the first's.

    Nothing at ``path`` is replaced until the end: the WAV grows in a hidden file beside it
    that ``close()`` renames into place, so a run that fails before speaking (no model)
    leaves an existing file as it was, and one silenced by ``close(discard=True)`` (Ctrl-C)
    keeps what was spoken. A path that exists and is not a regular file (``/dev/full``, a
    FIFO) is written in place. The header is written by hand: a WAV's 32-bit sizes end at
    4 GiB, so a longer file becomes RF64 (EBU Tech 3306), the ``JUNK`` chunk reserved in
    every header turning into the ``ds64`` chunk that holds 64-bit sizes.
    """

    underflows = 0  # a file never runs dry
    gap_seconds = 0.0
    realtime = False

    def __init__(self, path: Path, *, rf64_above: int = RIFF_LIMIT):
        """Open the file now, so a bad path fails before any work is done.

        ``rf64_above`` is the RIFF size (file size - 8) past which the file is RF64.
        """
        self.path = path
        self.sample_rate: int | None = None
        self._rf64_above = rf64_above
        self._data_bytes = 0
        self._failed = False
        self._closed = False
        # A symlink stays one: the file it points to is the one replaced.
        self._target = path.resolve() if path.is_symlink() else path
        in_place = path.exists() and not path.is_file()
        part = self._target.with_name(f".{self._target.name}.{os.getpid()}.part")
        self._part = None if in_place else part
        try:
            self._file = open(self._part or path, "wb")  # noqa: SIM115 (closed in close())
            self._file.write(_wav_header(_EMPTY_WAV_RATE, 0, rf64_above))
        except OSError as error:
            raise from_os_error("write", path, error) from None

    def play(
        self, chunks: Iterable[np.ndarray], sample_rate: int, playback: Playback | None = None
    ) -> Playback:
        """Write the sentence; it counts as played when written."""
        if self.sample_rate is None:
            self.sample_rate = sample_rate
        playback = playback or Playback()
        try:
            for data in at_rate(chunks, sample_rate, self.sample_rate):
                if playback.cancelled:  # the rest of a silenced sentence is not written
                    break
                playback.start(time.perf_counter())
                pcm = (np.clip(data, -1.0, 1.0) * 32767).astype("<i2").tobytes()
                self._file.write(pcm)
                self._data_bytes += len(pcm)
                playback.frames += data.size
        except OSError as error:  # a full disk
            self._failed = True
            raise from_os_error("write", self.path, error) from None
        if not playback.cancelled:
            playback.t_end = time.perf_counter()
        playback.finish()
        return playback

    def cancel(self, playback: Playback) -> None:
        """Write no more of this sentence; what was written stays."""
        playback.cancelled = True

    def pause(self, paused: bool) -> None:
        """A file is not played in real time: nothing to hold."""

    def close(self, *, discard: bool = False) -> None:
        """Finish the header and rename the file into place; a second call does nothing.

        A file nothing was played into is a valid empty WAV, except after ``discard``: then
        the file at ``path`` is left as it was. After a write error nothing is renamed.
        """
        if self._closed:
            return
        self._closed = True
        keep = not self._failed and (not discard or self._data_bytes > 0)
        failure = None
        try:
            if keep:
                self._file.seek(0)
                self._file.write(
                    _wav_header(
                        self.sample_rate or _EMPTY_WAV_RATE, self._data_bytes, self._rf64_above
                    )
                )
            self._file.close()
        except OSError as error:
            with contextlib.suppress(OSError):  # closed now even if its buffer cannot be written
                self._file.close()
            keep, failure = False, error
        if self._part is not None:
            if keep:
                os.replace(self._part, self._target)
            else:
                self._part.unlink(missing_ok=True)
        if failure is not None and not self._failed:
            raise from_os_error("write", self.path, failure)


def _wav_header(rate: int, data_bytes: int, rf64_above: int) -> bytes:
    """The 80-byte header of a mono 16-bit WAV, or RF64 when the RIFF size passes the limit."""
    riff_size = _WAV_HEADER.size - 8 + data_bytes
    fmt = (b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16)  # PCM, mono, 2 bytes per frame
    if riff_size > rf64_above:
        ds64 = (b"ds64", 28, riff_size, data_bytes, data_bytes // 2, 0)
        return _WAV_HEADER.pack(b"RF64", 0xFFFFFFFF, b"WAVE", *ds64, *fmt, b"data", 0xFFFFFFFF)
    junk = (b"JUNK", 28, 0, 0, 0, 0)  # room for ds64, should the file grow past 4 GiB
    return _WAV_HEADER.pack(b"RIFF", riff_size, b"WAVE", *junk, *fmt, b"data", data_bytes)
