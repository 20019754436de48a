"""A run: the pipeline that speech options describe, and the ``Run`` interface that a run
in this process (``LocalRun``) and a run through the daemon (``RemoteRun``) both keep.

The daemon builds its pipeline here too, so it never imports the readers of stdin or of
transcripts.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Protocol

from streamtts.pipeline.core import Event, Pipeline

if TYPE_CHECKING:
    from streamtts.audio.sink import AudioSink
    from streamtts.config import SpeakOptions
    from streamtts.text.segmenter import Sentence


def build_pipeline(options: SpeakOptions, sink: AudioSink, *, max_age: float | None = None):
    """The pipeline ``options`` describe, playing into ``sink`` (the daemon's too).

    Every engine is given the readings (``streamtts.text.readings``): each speaks a Japanese
    voice whose reader spells or mangles Latin script (see the README's readings section).
    """
    from streamtts.text import readings
    from streamtts.translate import load_translator
    from streamtts.tts import load_engine

    def translator():
        readings.warmup()  # e2k's models load beside the translator, not on the first sentence
        return load_translator(options.translate, model_dir=options.model_dir)

    return Pipeline(
        load_translator=translator,
        load_engine=lambda: load_engine(options.tts, voice=options.voice, speed=options.speed),
        sink=sink,
        max_lag=options.max_lag,
        max_age=max_age,
        read=readings.reader(readings=options.readings, keep=options.keep),
    )


class Run(Protocol):
    """One run of sentences through a pipeline, whoever runs it: this process
    (``LocalRun``) or the daemon (``streamtts.daemon.remote.RemoteRun``)."""

    def run(self, sentences: Iterable[Sentence]) -> Iterator[Event]:
        """The pipeline's events for ``sentences``, as they happen."""
        ...

    def close(self, *, completed: bool) -> None:
        """End the run: a completed one plays out, one cut short is silenced."""
        ...

    @property
    def underflows(self) -> int:
        """Times the device ran dry inside a sentence."""
        ...

    @property
    def gap_seconds(self) -> float:
        """Silence played inside sentences because audio arrived late."""
        ...

    @property
    def blas(self) -> str | None:
        """Which BLAS the translator multiplied with, if it used one."""
        ...


class LocalRun:
    """A pipeline of this process's own, and its sink: what a run without the daemon is."""

    def __init__(self, options: SpeakOptions, sink: AudioSink | None) -> None:
        if sink is None:
            from streamtts.audio.output import open_sink

            sink = open_sink(output=options.output, device=options.sound_device, play=options.plays)
        self._sink = sink
        self._pipeline = build_pipeline(options, sink)
        self._events: Iterator[Event] = iter(())

    def run(self, sentences: Iterable[Sentence]) -> Iterator[Event]:
        self._events = self._pipeline.run(sentences)
        return self._events

    def close(self, *, completed: bool) -> None:
        """Play what is queued and close the sink; a run cut short is silenced at once."""
        if completed:
            self._sink.close()
        else:  # closing the events stops the pipeline, which silences and closes the sink
            self._events.close()

    @property
    def underflows(self) -> int:
        return self._sink.underflows

    @property
    def gap_seconds(self) -> float:
        return self._sink.gap_seconds

    @property
    def blas(self) -> str | None:
        return blas_in_use()


def blas_in_use() -> str | None:
    """Which BLAS MLX multiplied with, if the translator loaded MLX at all."""
    if "mlx.core" not in sys.modules:
        return None
    from streamtts import blas

    return blas.in_use()
