"""The speak pipeline end to end with real parts: the stream reader and segmenter, NLLB
converted in the test, Kokoro and Open JTalk speech, WAV and null sinks (the realtime null
sink plays at the sample clock, so overlap and lag show in the recorded timestamps)."""

from __future__ import annotations

import io
import itertools
import json
import logging
import os
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from streamtts.audio import NullSink
from streamtts.pipeline import Pipeline
from streamtts.stats import SentenceRecord, summarize, totals_line, write_report
from streamtts.translate import load_translator
from streamtts.tts import TTSEngine, load_engine
from streamtts.wav import WavSink

DATA = Path(__file__).parent / "data"


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


def speak(pipeline: Pipeline, data: bytes) -> list[SentenceRecord]:
    return list(pipeline.run(io.BytesIO(data)))


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


def test_max_lag_skips_sentences_that_would_start_too_late(openjtalk: TTSEngine):
    # Written only once the models are warm, as an agent's burst of sentences: the first
    # plays for seconds, so every later one would start more than max_lag after it was ready.
    texts = [
        "まずテストを実行して、どこで失敗しているかを確認します。",
        "原因が分かりました。",
        "代入を加算に直します。",
        "すべて通りました。",
    ]
    read_end, write_end = os.pipe()
    pipeline = make_pipeline(openjtalk, NullSink(realtime=True), max_lag=2.0)

    def agent() -> None:
        pipeline.wait_ready(timeout=60)
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write("\n".join(claude_events("".join(texts))).encode())

    writer = threading.Thread(target=agent)
    writer.start()
    with os.fdopen(read_end, "rb") as stream:
        records = list(pipeline.run(stream))
    writer.join()
    assert [r.text for r in records] == texts
    assert [r.skipped for r in records] == [None, "max-lag", "max-lag", "max-lag"]
    assert records[0].t_audio_start - records[0].t_ready <= 2.0
    summary = summarize(records, wall_seconds=1.0)
    assert (summary.spoken, summary.skipped) == (1, {"max-lag": 3})


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
    pipeline = make_pipeline(openjtalk, NullSink())
    records = speak(pipeline, b"\n".join(lines))
    assert_spoken_in_order(
        records, ["最初の文です。", "二番目の文です。", "三番目の文です。", "最後の文です。"]
    )
    assert pipeline.source_stats.malformed == 6


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
    for later in records[2:]:
        # Audio synthesized before this sentence started and still unplayed at that moment.
        waiting = sum(
            r.audio_seconds for r in records[: later.seq] if r.t_audio_end > later.t_synth_start
        )
        assert waiting < 2.0, (later.seq, waiting)
    assert records[-1].t_synth_start > records[0].t_audio_end  # it did wait for the player


def test_stop_from_another_thread_ends_the_run_and_no_later_sentence_counts(
    openjtalk: TTSEngine,
):
    read_end, write_end = os.pipe()
    pipeline = make_pipeline(openjtalk, NullSink(realtime=True))
    events = claude_events("最初の文です。", "遅れて来た文です。")
    with os.fdopen(read_end, "rb") as stream, os.fdopen(write_end, "wb") as agent:
        agent.write(f"{events[0]}\n{events[1]}\n".encode())
        agent.flush()
        run = pipeline.run(stream)
        first = next(run)  # spoken to the end
        pipeline.stop()  # as a daemon would, from another thread than run()'s
        assert list(run) == []
        agent.write(f"{events[2]}\n".encode())  # the reader is still there, in read()
        agent.flush()
        time.sleep(0.5)
        assert [r.text for r in pipeline.records] == ["最初の文です。"]
    assert first.skipped is None and first.t_audio_end is not None


class _Stamped(io.StringIO):
    """Subtitles that remember when each was written."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def write(self, text: str) -> int:
        self.times.append(time.perf_counter())
        return super().write(text)


def test_a_subtitle_shows_when_its_sentence_starts_playing(kokoro: TTSEngine):
    # Kokoro speaks the first clause first: playback starts before synthesis ends.
    texts = ["テストを実行して、結果を確認してから、次の作業に進みます。"]
    subtitles = _Stamped()
    pipeline = make_pipeline(kokoro, NullSink(realtime=True), subtitles=subtitles)
    [record] = speak(pipeline, "\n".join(claude_events(*texts)).encode())
    assert subtitles.getvalue() == texts[0] + "\n"
    [shown] = subtitles.times
    assert record.t_audio_start <= shown < record.t_synth_end


def test_translation_failures_with_the_same_cause_are_warned_once(
    tmp_path: Path, openjtalk: TTSEngine, caplog: pytest.LogCaptureFixture
):
    texts = ["This needs a model.", "So does this.", "最後の文です。", "And this."]
    pipeline = make_pipeline(openjtalk, NullSink(), translate="auto", model_dir=tmp_path / "none")
    with caplog.at_level(logging.INFO, logger="streamtts.pipeline"):
        records = speak(pipeline, "\n".join(claude_events(*texts)).encode())
    assert [r.skipped for r in records] == ["translation-failed"] * 2 + [None, "translation-failed"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage().split(":")[0] for r in warnings] == ["sentence 0 not translated"]
