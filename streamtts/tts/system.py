"""System voices as fallbacks: ``say`` on macOS, espeak-ng elsewhere, run as subprocesses.

Both are whole-utterance synthesizers driven through their command line, so each engine
renders a whole sentence (up to ``max_chars``) per call and reads the audio back in
memory: espeak-ng writes a WAV to stdout; ``say`` cannot write a WAV to a pipe, so it
writes float32 PCM into a private temporary directory that is removed when the call
returns, even on error. The text goes in on stdin, so text that starts with ``-`` is
never taken for an option.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from streamtts.tts.base import ClauseEngine, EngineError, EngineInfo

ESPEAK_INSTALL = "sudo apt-get install espeak-ng (macOS: brew install espeak-ng)"
# Both tools speak ~175 words per minute at their default rate.
_BASE_WPM = 175
_SAY_VOICE = re.compile(r"^(?P<name>.+?)\s+(?P<locale>[a-z]{2}_[A-Z]{2})\s+#")


def espeak_binary() -> str | None:
    """Path of espeak-ng (or the older espeak), or None when neither is installed."""
    return shutil.which("espeak-ng") or shutil.which("espeak")


def _have_say() -> bool:
    return sys.platform == "darwin" and shutil.which("say") is not None


def say_voices() -> list[str]:
    """The Japanese voices of macOS ``say`` (``say -v ?`` lines with locale ja_JP)."""
    listing = subprocess.run(["say", "-v", "?"], capture_output=True, text=True, check=True)
    return [
        match["name"]
        for match in map(_SAY_VOICE.match, listing.stdout.splitlines())
        if match and match["locale"] == "ja_JP"
    ]


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Decode a mono PCM16 or float32 WAV held in memory: (float32 samples, rate).

    Tools that stream a WAV to a pipe cannot seek back to fill in the data size, so a size
    larger than what follows is read as "up to the end".
    """
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise EngineError("the system voice did not produce a WAV file")
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + size]
        if kind == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif kind == b"data" and fmt is not None:
            tag, channels, rate, _, _, bits = fmt
            if channels != 1 or (tag, bits) not in ((1, 16), (3, 32)):
                raise EngineError(f"unsupported WAV from the system voice: {fmt}")
            samples = body[: len(body) // (bits // 8) * (bits // 8)]
            if tag == 3:
                return np.frombuffer(samples, "<f4").astype(np.float32), rate
            return (np.frombuffer(samples, "<i2") / 32768.0).astype(np.float32), rate
        pos += 8 + size + (size & 1)
    raise EngineError("the system voice's WAV has no audio data")


class EspeakEngine(ClauseEngine):
    """espeak-ng's Japanese voice (formant synthesis, 22.05 kHz)."""

    name = "espeak"
    sample_rate = 22_050

    def __init__(self, *, voice: str | None = None, speed: float = 1.0):
        binary = espeak_binary()
        if binary is None:
            raise EngineError(f"espeak-ng not found: {ESPEAK_INSTALL}")
        self._command = [binary, "-v", voice or "ja", "-s", str(round(_BASE_WPM * speed))]

    @staticmethod
    def describe() -> EngineInfo:
        """Available when espeak-ng (or espeak) is on the PATH."""
        if espeak_binary() is None:
            return EngineInfo("espeak", False, f"espeak-ng not found: {ESPEAK_INSTALL}", ("ja",))
        return EngineInfo("espeak", True, "espeak-ng formant voice, 22.05 kHz", ("ja",))

    def render(self, text: str) -> np.ndarray:
        """Run espeak-ng with ``--stdout`` and decode its WAV."""
        done = subprocess.run(
            [*self._command, "--stdout"], input=text.encode(), capture_output=True
        )
        if done.returncode != 0:
            raise EngineError(f"espeak-ng failed: {done.stderr.decode(errors='replace').strip()}")
        return self.checked_rate(*read_wav(done.stdout))


class SayEngine(ClauseEngine):
    """macOS ``say`` with a Japanese voice (Kyoko by default), 22.05 kHz float32."""

    name = "say"
    sample_rate = 22_050

    def __init__(self, *, voice: str | None = None, speed: float = 1.0):
        if not _have_say():
            raise EngineError("the say engine needs macOS; use espeak or openjtalk here")
        self._command = ["say", "-v", voice or "Kyoko", "-r", str(round(_BASE_WPM * speed))]

    @staticmethod
    def describe() -> EngineInfo:
        """Available on macOS, with the Japanese voices ``say`` has there."""
        if not _have_say():
            return EngineInfo("say", False, "macOS only (the `say` command)", ())
        return EngineInfo("say", True, "macOS system voice, 22.05 kHz", tuple(say_voices()))

    def render(self, text: str) -> np.ndarray:
        """Run ``say`` into a WAV in a temporary directory and decode it."""
        with tempfile.TemporaryDirectory(prefix="streamtts-say-") as tmp:
            path = Path(tmp) / "speech.wav"
            done = subprocess.run(
                [*self._command, "--file-format=WAVE", "--data-format=LEF32@22050", "-o", path],
                input=text.encode(),
                capture_output=True,
            )
            if done.returncode != 0:
                raise EngineError(f"say failed: {done.stderr.decode(errors='replace').strip()}")
            return self.checked_rate(*read_wav(path.read_bytes()))
