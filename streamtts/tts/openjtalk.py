"""Open JTalk's HTS voice through pyopenjtalk-plus: fast, robotic, always there.

The dictionary and the ``mei_normal`` voice are inside the pyopenjtalk-plus wheel, so it
works offline with no set-up; its Sudachi reading fixes come from sudachidict-core, a
normal dependency. Synthesis takes tens of milliseconds per sentence, so the engine
renders whole sentences (no first-clause split) and only shapes their edges.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from streamtts.tts import EngineError
from streamtts.tts.clauses import split_for_engine, stream_chunks

INSTALL = "pip install pyopenjtalk-plus sudachipy"
VOICES = ("mei_normal",)


class OpenJTalkEngine:
    """pyopenjtalk-plus ``tts`` with its bundled HTS voice, 48 kHz."""

    name = "openjtalk"
    sample_rate = 48_000
    max_chars = 200

    def __init__(self, *, voice: str | None = None, speed: float = 1.0):
        try:
            import pyopenjtalk
        except ImportError as error:
            raise EngineError(f"openjtalk needs {error.name}: {INSTALL}") from error
        if voice not in (None, *VOICES):
            raise EngineError(f"unknown openjtalk voice {voice!r}; choose from {', '.join(VOICES)}")
        self._tts = pyopenjtalk.tts
        self.speed = speed

    def warmup(self) -> None:
        """Synthesize one short sentence, so the dictionary and voice are loaded."""
        for _ in self.synthesize("こんにちは。"):
            pass

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Yield 48 kHz float32 audio, one chunk per sentence of ``text``."""
        chunks = split_for_engine(text, self.max_chars, first_clause=False)
        yield from stream_chunks(chunks, self.render, self.sample_rate)

    def render(self, text: str) -> np.ndarray:
        """Synthesize ``text`` as one utterance: raw audio, untrimmed."""
        # NFKC first: compatibility forms (㍿, half-width kana, full-width digits) have
        # no reading in Open JTalk's dictionary and would be dropped silently.
        wave, rate = self._tts(text, speed=self.speed, normalize_mode="NFKC")
        if rate != self.sample_rate:
            raise EngineError(f"openjtalk: the voice renders at {rate} Hz, not {self.sample_rate}")
        # pyopenjtalk returns float64 samples on the int16 scale.
        return (np.asarray(wave) / 32768.0).astype(np.float32)
