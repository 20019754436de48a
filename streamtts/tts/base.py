"""What a speech engine is: the ``TTSEngine`` protocol and ``ClauseEngine``, which every
engine here subclasses.

Callers hand an engine whole sentences; the engine alone decides how to cut them. A
``ClauseEngine`` splits a sentence with ``split_sentence`` under its own ``max_chars``
(and its first clause alone first, where that starts sound sooner: ``first_clause``),
renders each chunk, and shapes the audio so each seam gets the pause its cut calls for
(``seams.pause_after``). Engines differ only in ``render(text)`` and their settings;
an engine whose model yields audio while it runs (XTTS) overrides ``speak(chunk)`` to
shape the pieces as they come (``seams.shape_stream``) instead of rendering whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Protocol

import numpy as np

from streamtts.errors import StreamttsError
from streamtts.tts.chunks import Chunk, split_sentence
from streamtts.tts.seams import pause_after, shape

# What warm-up speaks: short, and through every part of an engine (reading, voice, model).
WARMUP_TEXT = "こんにちは。"


class EngineError(StreamttsError):
    """An engine cannot load or speak here; the message says why and what to install."""


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """What ``streamtts voices`` shows for one engine."""

    name: str
    available: bool
    note: str  # how it runs when available, what to install when not
    voices: tuple[str, ...]


def missing_modules(*modules: str) -> list[str]:
    """Those of ``modules`` that are not installed (checked without importing them)."""
    return [module for module in modules if find_spec(module) is None]


class TTSEngine(Protocol):
    """A speech engine: whole Japanese sentences in, float32 mono audio chunks out."""

    name: str
    sample_rate: int

    def warmup(self) -> None:
        """Run one short synthesis so the first real sentence is not slowed by set-up."""
        ...

    def synthesize(self, sentence: str) -> Iterator[np.ndarray]:
        """Yield float32 mono chunks at ``sample_rate``, the first as early as possible."""
        ...


class ClauseEngine:
    """An engine that speaks a sentence chunk by chunk, each chunk one call of its model.

    A subclass sets ``name``, ``sample_rate``, ``max_chars`` (the longest text one call
    handles well) and ``first_clause``, and implements ``render``.
    """

    name: str
    sample_rate: int
    max_chars = 200
    # Render the first clause alone first: worth it where synthesis time grows with the
    # length of the input (Kokoro), not where a whole sentence takes milliseconds.
    first_clause = False

    def warmup(self) -> None:
        """Speak one short sentence, so the engine's binary, dictionary and model are loaded."""
        for _ in self.synthesize(WARMUP_TEXT):
            pass

    def synthesize(self, sentence: str) -> Iterator[np.ndarray]:
        """Yield float32 audio at ``sample_rate``: each chunk of ``sentence`` as it renders."""
        for chunk in split_sentence(sentence, self.max_chars, first_clause=self.first_clause):
            yield from self.speak(chunk)

    def speak(self, chunk: Chunk) -> Iterator[np.ndarray]:
        """``chunk`` rendered in one call and shaped for the seam after it (none if silent)."""
        audio = shape(self.render(chunk.text), self.sample_rate, trail_seconds=pause_after(chunk))
        if audio.size:
            yield audio

    def render(self, text: str) -> np.ndarray:
        """Synthesize ``text`` as one utterance: raw float32 audio at ``sample_rate``."""
        raise NotImplementedError

    def checked_rate(self, audio: np.ndarray, rate: int) -> np.ndarray:
        """``audio`` if a tool delivered it at ``sample_rate``; an error naming both if not."""
        if rate != self.sample_rate:
            raise EngineError(f"{self.name}: got {rate} Hz audio, expected {self.sample_rate}")
        return audio
