"""Open JTalk's HTS voice through pyopenjtalk-plus: fast, robotic, always there.

The dictionary and the ``mei_normal`` voice are inside the pyopenjtalk-plus wheel, so it
works offline with no set-up; its Sudachi reading fixes come from sudachidict-core, a
normal dependency. Synthesis takes tens of milliseconds per sentence, so the engine
renders whole sentences up to ``max_chars`` (no first-clause split).
"""

from __future__ import annotations

import numpy as np

from streamtts.tts.base import ClauseEngine, EngineError, EngineInfo, missing_modules

INSTALL = "pip install pyopenjtalk-plus sudachipy"
VOICES = ("mei_normal",)


class OpenJTalkEngine(ClauseEngine):
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

    @staticmethod
    def describe() -> EngineInfo:
        """Available when pyopenjtalk-plus and sudachipy are installed."""
        missing = missing_modules("pyopenjtalk", "sudachipy")
        note = f"missing {', '.join(missing)}: {INSTALL}" if missing else "HTS voice, 48 kHz"
        return EngineInfo("openjtalk", not missing, note, VOICES)

    def render(self, text: str) -> np.ndarray:
        """Synthesize ``text`` as one utterance: raw 48 kHz audio."""
        # NFKC first: compatibility forms (㍿, half-width kana, full-width digits) have
        # no reading in Open JTalk's dictionary and would be dropped silently.
        wave, rate = self._tts(text, speed=self.speed, normalize_mode="NFKC")
        # pyopenjtalk returns float64 samples on the int16 scale.
        return self.checked_rate((np.asarray(wave) / 32768.0).astype(np.float32), rate)
