"""What the speak pipeline does with sentences, on a fake voice and translator: order, skips
for lag, batches, the bound on synthesis ahead of the player, cancels, stops and failures.

The parts are the real ones (stream reader, segmenter, the null sink that plays at the
sample clock when ``realtime``) but for the voice (``fakes.FakeEngine``: a tone whose length
follows the text) and, where batches matter, the translator (``fakes.FakeTranslator``).
Where a test needs a stage held back, the fake waits for something the test names, so what
is tested is caused, never timed. Tests of how the real voices and NLLB speak are in
``test_pipeline.py``.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import GATE_SECONDS, FakeEngine, FakeTranslator
from helpers import wait_for
from pipelines import (
    assert_spoken_in_order,
    finished,
    make_pipeline,
    sentences_of,
    speak,
    speak_when_ready,
)
from streams import claude_events

from streamtts.audio.null import NullSink
from streamtts.pipeline.core import Finished, Ready, Started
from streamtts.pipeline.stats import SentenceRecord, summarize
from streamtts.reading.stream import SourceStats
from streamtts.text.segmenter import Sentence
from streamtts.tts.chunks import Chunk


def assert_audio_of_their_text(records: list[SentenceRecord], engine: FakeEngine) -> None:
    assert [r.audio_seconds for r in records] == [engine.seconds(r.spoken) for r in records]


def test_max_lag_skips_sentences_that_would_start_too_late_before_synthesizing_them():
    # The first sentence plays for 1.7 s, so every later one of the burst would start more
    # than max_lag after it was ready: the player's estimate says so before any synthesis.
    texts = [
        "まずテストを実行して、どこで失敗しているかを確認します。",
        "原因が分かりました。",
        "代入を加算に直します。",
        "すべて通りました。",
    ]
    engine = FakeEngine(seconds_per_char=0.06)
    pipeline = make_pipeline(engine, NullSink(realtime=True), max_lag=0.8)
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
    assert engine.chunks == ["まずテストを実行して、", "どこで失敗しているかを確認します。"]
    # Started for the spoken sentence only, before its Finished.
    kinds = [(type(e).__name__, e.record.seq) for e in events if not isinstance(e, Ready)]
    assert kinds == [("Started", 0), ("Finished", 0)] + [("Finished", n) for n in (1, 2, 3)]
    summary = summarize(records, wall_seconds=1.0)
    assert (summary.spoken, summary.skipped) == (1, {"max-lag": 3})


def test_silence_inside_a_sentence_is_measured_when_synthesis_falls_behind():
    # Each chunk after the first is held back until the player has played 0.3 s more
    # silence inside the sentence: synthesis falling behind, caused rather than timed.
    texts = ["テストを実行して、結果を確認して、次に進みます。"]
    sink = NullSink(realtime=True, sample_rate=FakeEngine.sample_rate)

    def starve(chunk: Chunk) -> None:
        if engine.chunks:
            until = sink.gap_seconds + 0.3
            wait_for(lambda: sink.gap_seconds >= until)

    engine = FakeEngine(seconds_per_char=0.02, max_chars=10, before_chunk=starve)
    pipeline = make_pipeline(engine, sink)
    [record] = speak(pipeline, "\n".join(claude_events(*texts)).encode())
    assert engine.chunks == ["テストを実行して、", "結果を確認して、", "次に進みます。"]
    assert record.skipped is None and not record.detail
    assert record.audio_seconds == engine.seconds(texts[0])
    # Each of the two seams waited for 0.3 s of silence before the next part came.
    assert sink.gap_seconds >= 0.6


def test_malformed_and_hostile_lines_never_lose_the_sentences_around_them():
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
    engine = FakeEngine()
    pipeline = make_pipeline(engine, NullSink())
    records = finished(pipeline.run(sentences_of(b"\n".join(lines), stats)))
    assert_spoken_in_order(
        records, ["最初の文です。", "二番目の文です。", "三番目の文です。", "最後の文です。"]
    )
    assert_audio_of_their_text(records, engine)
    assert stats.malformed == 6


def test_one_failed_translation_is_reported_and_the_rest_go_on(tmp_path: Path):
    # --translate auto without a model: Japanese passes through, English cannot be translated.
    texts = ["最初の文です。", "This sentence needs a model.", "最後の文です。"]
    engine = FakeEngine()
    pipeline = make_pipeline(engine, NullSink(), translate="auto", model_dir=tmp_path / "none")
    records = speak(pipeline, "\n".join(claude_events(" ".join(texts))).encode())
    assert [r.text for r in records] == texts
    assert [r.skipped for r in records] == [None, "translation-failed", None]
    assert "streamtts convert" in records[1].detail
    assert [r.audio_seconds for r in records] == [
        engine.seconds(texts[0]),
        0.0,
        engine.seconds(texts[2]),
    ]


def test_a_burst_is_translated_first_alone_then_in_batches_of_one_more_than_on_their_way():
    # Synthesis is held until every sentence was taken by the translator, so none finishes
    # meanwhile: the sentences on their way to the player are exactly those translated.
    texts = [f"{n}番目の文です。" for n in "一二三四五"]
    read = threading.Event()
    translator = FakeTranslator(gate=read)  # the first batch waits until all were read

    def source() -> Iterator[Sentence]:
        yield from sentences_of("\n".join(claude_events(*texts)).encode())
        read.set()

    def hold(chunk: Chunk) -> None:
        wait_for(lambda: sum(map(len, translator.batches)) == len(texts))

    engine = FakeEngine(before_chunk=hold)
    pipeline = make_pipeline(engine, NullSink(), translator=translator)
    records = finished(pipeline.run(source()))
    assert translator.batches == [texts[:1], texts[1:3], texts[3:]]
    assert [r.translation for r in records] == [f"訳{text}" for text in texts]
    assert engine.chunks == [r.spoken for r in records]
    assert (translator.warmups, engine.warmups) == (1, 1)


def test_synthesis_runs_at_most_max_ahead_seconds_before_the_player():
    # The fake synthesizes far faster than the realtime null sink plays.
    texts = ["原因が分かりました。"] * 6
    engine = FakeEngine(seconds_per_char=0.02)
    pipeline = make_pipeline(engine, NullSink(realtime=True), max_ahead=0.3)
    records = speak(pipeline, "\n".join(claude_events("".join(texts))).encode())
    assert_spoken_in_order(records, texts)
    assert_audio_of_their_text(records, engine)
    # The player cannot be free before the first chunk's time plus all the audio queued
    # since, so that bound on what still waited when a sentence's synthesis began holds on
    # a machine of any speed; synthesized all at once, the sixth would start 0.7 s too early.
    for later in records[1:]:
        queued = sum(r.audio_seconds for r in records[: later.seq])
        assert records[0].t_first_chunk + queued - later.t_synth_start < 0.3, later.seq
    last = records[-1].t_synth_start
    assert last > records[0].t_first_chunk + records[0].audio_seconds  # it waited for the player


def test_cancel_skips_a_sentence_being_synthesized_and_one_not_yet_synthesized():
    texts = ["テストを実行して、結果を確認します。", "次の文です。", "最後の文です。"]
    started = threading.Event()

    def hold(chunk: Chunk) -> None:
        if len(engine.chunks) == 1:  # the rest of the first sentence waits for its Started
            assert started.wait(GATE_SECONDS)

    engine = FakeEngine(before_chunk=hold)
    pipeline = make_pipeline(engine, NullSink())
    events, cancelled = [], []
    for event in pipeline.run(sentences_of("\n".join(claude_events(*texts)).encode())):
        events.append(event)
        if isinstance(event, Started) and event.record.seq == 0:
            cancelled.append(pipeline.cancel(lambda r: r.seq < 2, "skipped"))
            started.set()
    assert cancelled == [2]
    records = finished(events)
    assert [(r.text, r.skipped) for r in records] == [
        (texts[0], "skipped"),
        (texts[1], "skipped"),
        (texts[2], None),
    ]
    # The first stopped at its next chunk, the second was never synthesized.
    assert engine.chunks == ["テストを実行して、", "結果を確認します。", "最後の文です。"]
    assert records[0].audio_seconds == engine.seconds("テストを実行して、")
    assert records[1].t_synth_start is None


def test_stop_from_another_thread_ends_the_run_and_the_reader_takes_no_more():
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

    pipeline = make_pipeline(FakeEngine(), NullSink(realtime=True))
    run = pipeline.run(source())
    first = [event for event in itertools.takewhile(lambda e: not isinstance(e, Finished), run)]
    pipeline.stop()  # as a daemon would, from another thread than run()'s
    assert list(run) == []
    late.set()  # the reader takes the late sentence, sees the stop, and takes nothing more
    time.sleep(0.5)
    assert taken == [0, 1]
    assert [type(e) for e in first] == [Ready, Started]
    assert first[1].record.t_audio_start is not None


def test_started_comes_when_its_sentence_starts_playing():
    # The rest of the sentence is synthesized only once Started has come: Started must
    # come with the first clause's sound, not when synthesis ends.
    texts = ["テストを実行して、結果を確認してから、次の作業に進みます。"]
    shown = threading.Event()

    def hold(chunk: Chunk) -> None:
        if engine.chunks:
            assert shown.wait(GATE_SECONDS)

    engine = FakeEngine(before_chunk=hold)
    pipeline = make_pipeline(engine, NullSink(realtime=True))
    stamped = []
    for event in pipeline.run(sentences_of("\n".join(claude_events(*texts)).encode())):
        stamped.append((event, time.perf_counter()))
        if isinstance(event, Started):
            shown.set()
    assert [type(event) for event, _ in stamped] == [Ready, Started, Finished]
    (started, at), (done, _) = stamped[1:]
    record = started.record
    assert done.record is record and record.text == texts[0]
    assert record.t_audio_start <= at < record.t_synth_end
    assert engine.chunks == ["テストを実行して、", "結果を確認してから、次の作業に進みます。"]


def test_translation_failures_with_the_same_cause_are_warned_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    texts = ["This needs a model.", "So does this.", "最後の文です。", "And this."]
    pipeline = make_pipeline(
        FakeEngine(), NullSink(), translate="auto", model_dir=tmp_path / "none"
    )
    with caplog.at_level(logging.INFO, logger="streamtts.pipeline.core"):
        records = speak(pipeline, "\n".join(claude_events(*texts)).encode())
    assert [r.skipped for r in records] == ["translation-failed"] * 2 + [None, "translation-failed"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage().split(":")[0] for r in warnings] == ["sentence 0 not translated"]
