"""A fallback chain of engines (``--tts kokoro,openjtalk``): the first that speaks a sentence wins.

Fallback is per sentence, not per chunk: each engine splits a sentence its own way, so
handing the next engine the whole sentence keeps its clause-first streaming and seams.
An engine fails a sentence when it raises or when it yields no audio at all (Kokoro
renders pure Latin text such as "pd" as 0 samples); either way the reason is logged and
the next engine speaks the sentence. Engines that cannot load are left out the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import numpy as np

from streamtts.audio.resample import at_rate
from streamtts.tts.base import EngineError, TTSEngine

log = logging.getLogger(__name__)


def load_chain(loaders: list[tuple[str, Callable[[], TTSEngine]]]) -> FallbackEngine:
    """Load each (name, loader) in order, logging and leaving out those that fail.

    At least one must load; if none does, the error names every reason.
    """
    engines, reasons = [], []
    for name, load in loaders:
        try:
            engines.append(load())
        except Exception as error:
            log.warning("TTS engine %s could not load (%s); falling back", name, error)
            reasons.append(f"{name}: {error}")
    if not engines:
        raise EngineError("no TTS engine could load: " + "; ".join(reasons))
    return FallbackEngine(engines)


class FallbackEngine:
    """Engines tried in order, per sentence; one ``sample_rate``, the first engine's.

    Audio from an engine whose rate differs from the first engine's is resampled.
    """

    def __init__(self, engines: list[TTSEngine]):
        self.engines = engines
        self.name = ",".join(engine.name for engine in engines)
        self.sample_rate = engines[0].sample_rate

    def warmup(self) -> None:
        """Warm every engine of the chain, so a fallback starts as fast as the first."""
        for engine in self.engines:
            engine.warmup()

    def synthesize(self, sentence: str) -> Iterator[np.ndarray]:
        """Yield the audio of the first engine that speaks ``sentence``."""
        reasons = []
        for engine in self.engines:
            try:
                # A failure after some audio was yielded makes the next engine repeat the
                # sentence from its start: a partial repeat is better than a silent hole.
                spoke = False
                chunks = engine.synthesize(sentence)
                for audio in at_rate(chunks, engine.sample_rate, self.sample_rate):
                    if audio.size:
                        spoke = True
                        yield audio
                if spoke:
                    return
                raise EngineError("it produced no audio")
            except Exception as error:
                log.warning(
                    "TTS engine %s failed on %r (%s); falling back", engine.name, sentence, error
                )
                reasons.append(f"{engine.name}: {error}")
        raise EngineError(f"no TTS engine could speak {sentence!r}: " + "; ".join(reasons))
