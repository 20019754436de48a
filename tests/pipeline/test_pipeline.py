"""The speak pipeline end to end with real parts: sentences from the stream reader and
segmenter, NLLB converted in the test, Kokoro and Open JTalk speech, WAV and null sinks (the
realtime null sink plays at the sample clock, so overlap and lag show in the timestamps)."""

from __future__ import annotations

import io
import itertools
import json
import logging
import queue
import threading
import time
import wave
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import DATA

from streamtts.audio.null import NullSink
from streamtts.audio.wav import WavSink
from streamtts.pipeline.core import Event, Finished, Pipeline, Ready, Started
from streamtts.pipeline.stats import SentenceRecord, summarize, totals_line, write_report
from streamtts.reading.stream import SourceStats, read_pieces
from streamtts.text.segmenter import Sentence, segment
from streamtts.translate import load_translator
from streamtts.tts import TTSEngine, load_engine

# Real voices, models or processes, seconds each: left out of `make test-fast`.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kokoro() -> TTSEngine:
    """One warm Kokoro engine for the module: loading it costs seconds."""
    engine = load_engine("kokoro")
    engine.warmup()
    return engine


@pytest.fixture(scope="module")
def openjtalk() -> TTSEngine:
    """Open JTalk, many times faster than real time: for tests about timing, not voice."""
    engine = load_engine("openjtalk")
    engine.warmup()
    return engine


def claude_events(*blocks: str) -> list[str]:
    """Claude Code stream-json lines (no partial messages): one assistant text block each."""
    lines = [json.dumps({"type": "system", "subtype": "init", "session_id": "s", "tools": []})]
    for i, text in enumerate(blocks):
        message = {"id": f"msg_{i}", "type": "message", "role": "assistant", "model": "m"}
        message["content"] = [{"type": "text", "text": text}]
        event = {"type": "assistant", "message": message, "parent_tool_use_id": None}
        lines.append(json.dumps({**event, "session_id": "s"}, ensure_ascii=False))
    lines.append(json.dumps({"type": "result", "subtype": "success", "is_error": False}))
    return lines


def make_pipeline(
    engine: TTSEngine, sink: object, *, translate: str = "none", **options: object
) -> Pipeline:
    model_dir = options.pop("model_dir", None)
    return Pipeline(
        load_translator=lambda: load_translator(translate, model_dir=model_dir),
        load_engine=lambda: engine,
        sink=sink,
        **options,
    )


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
    assert [r.text for r in records] == texts
    assert [r.seq for r in records] == list(range(len(texts)))
    for record in records:
        assert record.skipped is None, (record.text, record.skipped, record.detail)
        assert record.audio_seconds > 0.2
        assert record.t_ready <= record.t_translated <= record.t_first_chunk
        assert record.t_first_chunk <= record.t_handoff <= record.t_audio_start
        assert record.t_audio_start < record.t_audio_end


def test_stages_overlap_and_every_sentence_is_spoken_in_order(kokoro: TTSEngine):
    texts = ["テストを実行して、結果を確認します。", "少し待ってください。", "終わりました。"]
    sink = NullSink(realtime=True)
    records = speak(make_pipeline(kokoro, sink), "\n".join(claude_events("".join(texts))).encode())
    assert_spoken_in_order(records, texts)
    assert [r.translation for r in records] == texts  # --translate none speaks the text itself
    # Synthesis of sentence N+1 starts while sentence N is still playing.
    for before, after in itertools.pairwise(records):
        assert after.t_synth_start < before.t_audio_end
    # The first clause goes to the player while the rest of the sentence is synthesized.
    assert records[0].t_handoff < records[0].t_synth_end
    assert sink.frames == sum(round(r.audio_seconds * kokoro.sample_rate) for r in records)


def test_nllb_converted_here_speaks_a_capture_without_partials_into_a_wav(
    tmp_path: Path, speaking_model: Path, kokoro: TTSEngine
):
    model = speaking_model
    texts = [
        "Let me run the tests first",
        "One test fails.",
        "The minutes are overwritten instead of added.",
    ]
    wav = tmp_path / "speech.wav"
    sink = WavSink(wav)
    pipeline = make_pipeline(kokoro, sink, translate="nllb", model_dir=model)
    records = speak(pipeline, (DATA / "claude-own-tool-use.jsonl").read_bytes())
    sink.close()
    assert_spoken_in_order(records, texts)
    translator = load_translator("nllb", model_dir=model)
    expected = [translator.translate([text])[0] for text in texts]
    assert [r.translation for r in records] == expected
    with wave.open(str(wav)) as audio:
        assert audio.getframerate() == kokoro.sample_rate
        samples = np.frombuffer(audio.readframes(audio.getnframes()), "<i2")
    assert len(samples) == sum(round(r.audio_seconds * kokoro.sample_rate) for r in records)
    assert np.abs(samples).max() > 1000  # speech, not silence


def test_max_lag_skips_sentences_that_would_start_too_late_before_synthesizing_them(
    openjtalk: TTSEngine,
):
    # The first sentence plays for seconds, so every later one of the burst would start more
    # than max_lag after it was ready: the player's estimate says so before any synthesis.
    texts = [
        "まずテストを実行して、どこで失敗しているかを確認します。",
        "原因が分かりました。",
        "代入を加算に直します。",
        "すべて通りました。",
    ]
    pipeline = make_pipeline(openjtalk, NullSink(realtime=True), max_lag=2.0)
    events = speak_when_ready(pipeline, "\n".join(claude_events("".join(texts))).encode())
    [ready] = [event for event in events if isinstance(event, Ready)]
    assert set(ready.startup) == {
        "translator load",
        "translator warm-up",
        "tts load",
        "tts warm-up",
        "total",
    }
    records = finished(events)
    assert [r.text for r in records] == texts
    assert [r.skipped for r in records] == [None, "max-lag", "max-lag", "max-lag"]
    assert [r.t_synth_start is None for r in records] == [False, True, True, True]
    assert all(r.audio_seconds == 0.0 for r in records[1:])
    # Started for the spoken sentence only, before its Finished.
    kinds = [(type(e).__name__, e.record.seq) for e in events if not isinstance(e, Ready)]
    assert kinds == [("Started", 0), ("Finished", 0)] + [("Finished", n) for n in (1, 2, 3)]
    summary = summarize(records, wall_seconds=1.0)
    assert (summary.spoken, summary.skipped) == (1, {"max-lag": 3})


class Starving:
    """A real engine whose audio comes in three parts, each held back until the player has
    played ``gap`` seconds of silence inside the sentence: synthesis falling behind, caused
    rather than timed, so a busy machine cannot change what is measured."""

    def __init__(self, engine: TTSEngine, sink: NullSink, gap: float) -> None:
        self.engine, self.sink, self.gap = engine, sink, gap
        self.name, self.sample_rate = "starving", engine.sample_rate

    def warmup(self) -> None:
        self.engine.warmup()

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        audio = np.concatenate(list(self.engine.synthesize(text)))
        for i, part in enumerate(np.array_split(audio, 3)):
            if i:
                self._starve(until=self.sink.gap_seconds + self.gap)
            yield part

    def _starve(self, *, until: float) -> None:
        deadline = time.monotonic() + 30
        while self.sink.gap_seconds < until:
            if time.monotonic() > deadline:
                raise RuntimeError("the player never ran dry: its gap is not measured")
            time.sleep(0.005)


def test_silence_inside_a_sentence_is_measured_when_synthesis_falls_behind(
    openjtalk: TTSEngine,
):
    texts = ["テストを実行して、結果を確認して、次に進みます。"]
    sink = NullSink(realtime=True, sample_rate=openjtalk.sample_rate)
    pipeline = make_pipeline(Starving(openjtalk, sink, 0.3), sink)
    [record] = speak(pipeline, "\n".join(claude_events(*texts)).encode())
    assert record.skipped is None and not record.detail and record.audio_seconds > 3.0
    # Each of the two seams waited for 0.3 s of silence before the next part came.
    assert sink.gap_seconds >= 0.6


def test_malformed_and_hostile_lines_never_lose_the_sentences_around_them(openjtalk: TTSEngine):
    good = claude_events("最初の文です。", "二番目の文です。", "三番目の文です。", "最後の文です。")
    hostile = [
        b'{"type": "assistant", "message": {"content": [{"type": "text", "text": "trunc',
        b"\xff\xfe not utf-8 at all \x80\x81",
        b"[1, 2, 3]",
        b'{"type": "assistant", "message": null}',
        b'{"type": "assistant", "message": {"id": 7, "content": [{"type": "text", "text": 42}]}}',
        b'{"type": "stream_event", "event": {"type": "content_block_delta", "index": "x"}}',
        b'{"type": "user", "message": {"content": "' + b"A" * 2_000_000 + b'"}}',
        b"\x00" * 1000,
        b"[" * 100_000,
    ]
    lines = [good[0].encode(), good[1].encode(), *hostile[:4], good[2].encode()]
    lines += [*hostile[4:], good[3].encode(), hostile[0], good[4].encode(), good[5].encode()]
    stats = SourceStats()
    pipeline = make_pipeline(openjtalk, NullSink())
    records = finished(pipeline.run(sentences_of(b"\n".join(lines), stats)))
    assert_spoken_in_order(
        records, ["最初の文です。", "二番目の文です。", "三番目の文です。", "最後の文です。"]
    )
    assert stats.malformed == 6


def test_one_failed_translation_is_reported_and_the_rest_go_on(
    tmp_path: Path, openjtalk: TTSEngine
):
    # --translate auto without a model: Japanese passes through, English cannot be translated.
    texts = ["最初の文です。", "This sentence needs a model.", "最後の文です。"]
    pipeline = make_pipeline(openjtalk, NullSink(), translate="auto", model_dir=tmp_path / "none")
    records = speak(pipeline, "\n".join(claude_events(" ".join(texts))).encode())
    assert [r.text for r in records] == texts
    assert [r.skipped for r in records] == [None, "translation-failed", None]
    assert "streamtts convert" in records[1].detail
    assert records[0].audio_seconds > 0.2 and records[2].audio_seconds > 0.2


def test_summary_counts_every_sentence_and_takes_percentiles_per_stage():
    def record(seq: int, start: float, *, idle: bool) -> SentenceRecord:
        stamps = [0.0, 0.001, 0.101, 0.102, 0.202, 0.5, 0.203, 0.213, 2.213]
        names = ["t_ready", "t_translate_start", "t_translated", "t_synth_start"]
        names += ["t_first_chunk", "t_synth_end", "t_handoff", "t_audio_start", "t_audio_end"]
        values = {name: start + stamp for name, stamp in zip(names, stamps, strict=True)}
        return SentenceRecord(seq, "text", player_idle=idle, audio_seconds=2.0, **values)

    lagging = SentenceRecord(2, "late", t_ready=0.5)
    lagging.skip("max-lag", "would start 3.0 s after it was ready")
    lagging.skip("empty")  # the first reason stays
    records = [record(0, 0.0, idle=True), record(1, 1.0, idle=False), lagging]
    summary = summarize(
        records, wall_seconds=4.5, startup={"tts load": 1.5, "total": 2.0}, source={"malformed": 2}
    )
    assert (summary.sentences, summary.spoken, summary.skipped) == (3, 2, {"max-lag": 1})
    assert lagging.detail == "would start 3.0 s after it was ready"
    out = io.StringIO()
    write_report(summary, out)
    assert out.getvalue() == (
        "streamtts: 3 sentences: 2 spoken, 1 skipped (max-lag 1); 4.0 s of audio in 4.5 s; "
        "ready in 2.00 s; 2 malformed input lines skipped\n"
        "start-up: tts load 1.50 s\n"
        "stage                         p50 ms     p95 ms     n\n"
        "TTFA (idle player)             213.0      213.0     1\n"
        "wait (backlog)                 213.0      213.0     1\n"
        "wait for translator              1.0        1.0     2\n"
        "translate (batch)              100.0      100.0     2\n"
        "wait for synthesizer             1.0        1.0     2\n"
        "synthesize first chunk         100.0      100.0     2\n"
        "first chunk to sink              1.0        1.0     2\n"
        "sink to first sample            10.0       10.0     2\n"
        "synthesize whole sentence      398.0      398.0     2\n"
        "audio                         2000.0     2000.0     2\n"
        "audio underflows: 0\n"
        "silence inside sentences: 0.000 s\n"
    )
    summary.underflows = 3
    assert totals_line(summary).endswith(
        "; ready in 2.00 s; the sound device ran dry 3 times; 2 malformed input lines skipped"
    )


def test_synthesis_runs_at_most_max_ahead_seconds_before_the_player(openjtalk: TTSEngine):
    # Open JTalk synthesizes far faster than the realtime null sink plays.
    texts = ["原因が分かりました。"] * 6
    pipeline = make_pipeline(openjtalk, NullSink(realtime=True), max_ahead=2.0)
    records = speak(pipeline, "\n".join(claude_events("".join(texts))).encode())
    assert_spoken_in_order(records, texts)
    # The player cannot be free before the first chunk's time plus all the audio queued
    # since, so that bound on what still waited when a sentence's synthesis began holds on
    # a machine of any speed; synthesized all at once, the sixth would start 4 s too early.
    for later in records[1:]:
        queued = sum(r.audio_seconds for r in records[: later.seq])
        assert records[0].t_first_chunk + queued - later.t_synth_start < 2.0, later.seq
    last = records[-1].t_synth_start
    assert last > records[0].t_first_chunk + records[0].audio_seconds  # it waited for the player


def test_stop_from_another_thread_ends_the_run_and_the_reader_takes_no_more(
    openjtalk: TTSEngine,
):
    sentences = list(
        sentences_of(
            "\n".join(claude_events("最初の文です。", "遅い文です。", "最後です。")).encode()
        )
    )
    late, taken = threading.Event(), []

    def source() -> Iterator[Sentence]:
        for sentence in sentences:
            if sentence.seq == 1:
                late.wait()  # an agent that has not written it yet
            taken.append(sentence.seq)
            yield sentence

    pipeline = make_pipeline(openjtalk, NullSink(realtime=True))
    run = pipeline.run(source())
    first = [event for event in itertools.takewhile(lambda e: not isinstance(e, Finished), run)]
    pipeline.stop()  # as a daemon would, from another thread than run()'s
    assert list(run) == []
    late.set()  # the reader takes the late sentence, sees the stop, and takes nothing more
    time.sleep(0.5)
    assert taken == [0, 1]
    assert [type(e) for e in first] == [Ready, Started]
    assert first[1].record.t_audio_start is not None


def test_started_comes_when_its_sentence_starts_playing(kokoro: TTSEngine):
    # Kokoro speaks the first clause first: playback starts before synthesis ends.
    texts = ["テストを実行して、結果を確認してから、次の作業に進みます。"]
    pipeline = make_pipeline(kokoro, NullSink(realtime=True))
    stamped = [
        (event, time.perf_counter())
        for event in pipeline.run(sentences_of("\n".join(claude_events(*texts)).encode()))
    ]
    assert [type(event) for event, _ in stamped] == [Ready, Started, Finished]
    (started, shown), (done, _) = stamped[1:]
    record = started.record
    assert done.record is record and record.text == texts[0]
    assert record.t_audio_start <= shown < record.t_synth_end


def test_translation_failures_with_the_same_cause_are_warned_once(
    tmp_path: Path, openjtalk: TTSEngine, caplog: pytest.LogCaptureFixture
):
    texts = ["This needs a model.", "So does this.", "最後の文です。", "And this."]
    pipeline = make_pipeline(openjtalk, NullSink(), translate="auto", model_dir=tmp_path / "none")
    with caplog.at_level(logging.INFO, logger="streamtts.pipeline.core"):
        records = speak(pipeline, "\n".join(claude_events(*texts)).encode())
    assert [r.skipped for r in records] == ["translation-failed"] * 2 + [None, "translation-failed"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage().split(":")[0] for r in warnings] == ["sentence 0 not translated"]
