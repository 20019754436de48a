"""Running a ``Pipeline`` in tests: building one around a given engine and sink, feeding it
the sentences of stream-json bytes, and keeping the events or records it yields."""

from __future__ import annotations

import io
import queue
from collections.abc import Iterable, Iterator
from pathlib import Path

from streamtts.pipeline.core import Event, Finished, Pipeline, Ready
from streamtts.pipeline.stats import SentenceRecord
from streamtts.reading.stream import SourceStats, read_pieces
from streamtts.text.segmenter import Sentence, segment
from streamtts.translate import load_translator
from streamtts.translate.base import Translator
from streamtts.tts import TTSEngine


def make_pipeline(
    engine: TTSEngine,
    sink: object,
    *,
    translate: str = "none",
    model_dir: Path | None = None,
    translator: Translator | None = None,
    **options: object,
) -> Pipeline:
    """A pipeline speaking with ``engine`` into ``sink``, translating with ``translator`` if
    given, else with the ``load_translator`` mode ``translate``."""

    def load() -> Translator:
        if translator is not None:
            return translator
        return load_translator(translate, model_dir=model_dir)

    return Pipeline(load_translator=load, load_engine=lambda: engine, sink=sink, **options)


def sentences_of(data: bytes, stats: SourceStats | None = None) -> Iterator[Sentence]:
    return segment(read_pieces(io.BytesIO(data), stats=stats))


def finished(events: Iterable[Event]) -> list[SentenceRecord]:
    return [event.record for event in events if isinstance(event, Finished)]


def speak(pipeline: Pipeline, data: bytes) -> list[SentenceRecord]:
    return finished(pipeline.run(sentences_of(data)))


def speak_when_ready(pipeline: Pipeline, data: bytes) -> list[Event]:
    """Every event of a run whose sentences come at once when the models are warm, as an
    agent's burst (their ``t_ready`` is then)."""
    waiting: queue.Queue = queue.Queue()
    events = []
    for event in pipeline.run(iter(waiting.get, None)):
        if isinstance(event, Ready):
            for sentence in sentences_of(data):
                waiting.put(sentence)
            waiting.put(None)
        events.append(event)
    return events


def assert_spoken_in_order(records: list[SentenceRecord], texts: list[str]) -> None:
    """``records`` are those of ``texts``, in order, each spoken and stamped stage by stage."""
    assert [r.text for r in records] == texts
    assert [r.seq for r in records] == list(range(len(texts)))
    for record in records:
        assert record.skipped is None, (record.text, record.skipped, record.detail)
        assert record.t_ready <= record.t_translated <= record.t_first_chunk
        assert record.t_first_chunk <= record.t_handoff <= record.t_audio_start
        assert record.t_audio_start < record.t_audio_end
