"""The summary of a run: counts per outcome, percentiles per stage, and the report."""

from __future__ import annotations

import io

from streamtts.pipeline.stats import SentenceRecord, summarize, totals_line, write_report


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
