"""A speech engine and a translator that need no model, for tests of what the pipeline does
with sentences (order, batches, skips, cancels, pacing) rather than of how they sound.

``FakeEngine`` is a real ``ClauseEngine``: the sentence is cut into chunks by the same
``split_sentence`` (its first clause alone first, as Kokoro's is), and each chunk is a tone
of ``seconds_per_char`` seconds per character, so the audio of a text is as long every run.
``FakeTranslator`` maps each text by a function of the test's (default: ``訳`` before it)
and keeps every batch it was given. Their pace is the test's, never the clock's:
``before_chunk`` and ``gate`` are called or waited on before each chunk or batch, so a test
holds a stage back until something it can name has happened (a Started event, a number of
batches).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from streamtts.tts import ENGINES
from streamtts.tts.base import ClauseEngine
from streamtts.tts.chunks import Chunk, split_sentence

TONE_HZ = 220.0
# How long a gate may stay shut: a guard against a hung test, never a pace.
GATE_SECONDS = 20.0


class FakeEngine(ClauseEngine):
    """Speaks each chunk as a tone of ``seconds_per_char`` seconds per character.

    ``before_chunk(chunk)``, when given, is called on the synthesis thread before each chunk
    is rendered: a test blocks there to hold synthesis back. ``chunks`` lists the text of
    every chunk rendered, in order; ``warmups`` counts the warm-ups (which render nothing).
    """

    name = "fake"
    sample_rate = 24_000
    first_clause = True

    def __init__(
        self,
        *,
        seconds_per_char: float = 0.01,
        max_chars: int = ClauseEngine.max_chars,
        before_chunk: Callable[[Chunk], object] | None = None,
        voice: str | None = None,
        speed: float = 1.0,
    ) -> None:
        # ``voice`` and ``speed`` as ``load_engine`` gives every engine (see ``fake_engine``):
        # the voice is always the tone; speed shortens the audio as it would a real voice's.
        self.seconds_per_char = seconds_per_char / speed
        self.max_chars = max_chars
        self.before_chunk = before_chunk
        self.chunks: list[str] = []
        self.warmups = 0

    def warmup(self) -> None:
        self.warmups += 1

    def seconds(self, sentence: str) -> float:
        """How long the audio of ``sentence`` lasts: its chunks' audio, added as the pipeline
        adds it."""
        chunks = split_sentence(sentence, self.max_chars, first_clause=self.first_clause)
        return sum(self._frames(chunk.text) / self.sample_rate for chunk in chunks)

    def speak(self, chunk: Chunk) -> Iterator[np.ndarray]:
        # Unshaped (no seam pauses), so its length depends on the text alone.
        if self.before_chunk is not None:
            self.before_chunk(chunk)
        self.chunks.append(chunk.text)
        yield self.render(chunk.text)

    def render(self, text: str) -> np.ndarray:
        t = np.arange(self._frames(text)) / self.sample_rate
        return (0.5 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)

    def _frames(self, text: str) -> int:
        return round(len(text) * self.seconds_per_char * self.sample_rate)


class FakeTranslator:
    """Translates each text to ``mapping(text)``; ``batches`` keeps every batch, in order.

    With a ``gate``, each batch waits for it to be set after being recorded and before it
    is translated. A ``mapping`` that raises fails the batch, as a model that cannot
    translate a text would.
    """

    def __init__(
        self,
        mapping: Callable[[str], str] = lambda text: f"訳{text}",
        *,
        gate: threading.Event | None = None,
    ) -> None:
        self.mapping = mapping
        self.gate = gate
        self.batches: list[list[str]] = []
        self.warmups = 0

    def warmup(self) -> None:
        self.warmups += 1

    def translate(self, texts: list[str]) -> list[str]:
        self.batches.append(list(texts))
        if self.gate is not None and not self.gate.wait(GATE_SECONDS):
            raise TimeoutError("the translator's gate was never opened")
        return [self.mapping(text) for text in texts]


def fake_engine(monkeypatch: pytest.MonkeyPatch) -> str:
    """Make ``FakeEngine`` the engine named ``fake`` for one test (``--tts fake``, a daemon's
    ``SpeakOptions(tts="fake")``): what code that loads engines by name then speaks with."""
    monkeypatch.setitem(ENGINES, "fake", "fakes:FakeEngine")
    return "fake"
