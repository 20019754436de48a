"""Local Japanese speech engines, chosen by name: the registry.

``ENGINES`` is a plain dict from name to the class that speaks it, written as
``module:Class`` so an engine's module is imported only when that engine is loaded or
described: a missing optional dependency (coqui-tts, onnxruntime …) costs nothing until
that engine is asked for, and then fails with the command that installs it. Each class
takes ``voice`` and ``speed`` and describes itself (``describe()``). A spec such as
``"kokoro,openjtalk"`` builds a fallback chain (``fallback.py``).
"""

from __future__ import annotations

from functools import partial
from importlib import import_module

from streamtts.tts.base import EngineError, EngineInfo, TTSEngine
from streamtts.tts.fallback import load_chain

__all__ = ["ENGINES", "EngineError", "EngineInfo", "TTSEngine", "describe_engines", "load_engine"]

ENGINES: dict[str, str] = {
    "kokoro": "streamtts.tts.kokoro:KokoroEngine",
    "xtts": "streamtts.tts.xtts:XttsEngine",
    "openjtalk": "streamtts.tts.openjtalk:OpenJTalkEngine",
    "say": "streamtts.tts.system:SayEngine",
    "espeak": "streamtts.tts.system:EspeakEngine",
}


def engine_class(name: str) -> type:
    """The class of engine ``name``, its module imported now."""
    module, _, cls = ENGINES[name].partition(":")
    return getattr(import_module(module), cls)


def describe_engines() -> list[EngineInfo]:
    """Every known engine, whether it can run on this machine, and its voices."""
    return [engine_class(name).describe() for name in ENGINES]


def load_engine(spec: str, *, voice: str | None = None, speed: float = 1.0) -> TTSEngine:
    """Load the engine named by ``spec``, or a fallback chain for ``"a,b,…"``.

    In a chain ``voice`` goes to the first engine only; the fallbacks speak in their
    default voice, since voice names are not shared between engines. A voice with a control
    character (NUL cannot even be passed to a subprocess) is refused here, for every engine.
    """
    if voice is not None and not voice.isprintable():
        raise EngineError(f"voice {voice!r} has a control character; see `streamtts voices`")
    names = [name.strip() for name in spec.split(",") if name.strip()]
    unknown = [name for name in names if name not in ENGINES]
    if unknown or not names:
        named = ", ".join(unknown) or repr(spec)
        raise EngineError(f"unknown TTS engine {named}; choose from {', '.join(ENGINES)}")
    if len(names) == 1:
        return engine_class(names[0])(voice=voice, speed=speed)
    return load_chain(
        [
            (name, partial(engine_class(name), voice=None if index else voice, speed=speed))
            for index, name in enumerate(names)
        ]
    )
