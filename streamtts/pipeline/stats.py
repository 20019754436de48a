"""Per-sentence accounting of ``speak``, ``watch`` and ``say``: records, percentiles, reports.

Every sentence gets one ``SentenceRecord`` that each stage stamps with ``time.perf_counter()``
as the sentence passes (ready → translate start → translated → synthesis start → first chunk →
handed to the sink → audio start → audio end), or marks skipped with a reason, so nothing can
leave the pipeline unaccounted for. Stage durations are differences of adjacent stamps; the
headline latency, time to first audio (TTFA), is ``t_audio_start - t_ready`` and is only
counted for sentences that reached an idle player, since a sentence queued behind speech waits
by design. The records are plain data: the pipeline fills them, ``streamtts.session`` collects
them from its events, and this module only summarises them (with the sink's underflows and
the silence it played inside sentences) and writes the totals line, the table and the JSON.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TextIO

import numpy as np

from streamtts.errors import from_os_error

# Stage name → (start stamp, end stamp); the order is the order a sentence flows through.
STAGES: dict[str, tuple[str, str]] = {
    "wait for translator": ("t_ready", "t_translate_start"),
    "translate (batch)": ("t_translate_start", "t_translated"),
    "wait for synthesizer": ("t_translated", "t_synth_start"),
    "synthesize first chunk": ("t_synth_start", "t_first_chunk"),
    "first chunk to sink": ("t_first_chunk", "t_handoff"),
    "sink to first sample": ("t_handoff", "t_audio_start"),
    "synthesize whole sentence": ("t_synth_start", "t_synth_end"),
    "audio": ("t_audio_start", "t_audio_end"),
}
TTFA = "TTFA (idle player)"
# Ready to first sample for the other spoken sentences: queued behind speech, or written to
# a file faster or slower than real time. Kept apart so that it never reads as latency.
BACKLOG = "wait (backlog)"


@dataclass
class SentenceRecord:
    """What happened to one sentence; stamps are ``perf_counter`` seconds, None if never reached.

    ``skipped`` is None for a spoken sentence, else a short kind (``max-lag``,
    ``translation-failed``, ``synthesis-failed``, ``empty``, ``interrupted``) with the
    specifics in ``detail``. ``player_idle`` says whether nothing else was playing or queued
    when its first chunk reached the player; None for a sink that does not play in real time
    (a file), where no sentence waits for the player.
    """

    seq: int
    text: str
    t_ready: float
    translation: str | None = None
    spoken: str | None = None  # the translation as the voice is given it (readings applied)
    t_translate_start: float | None = None
    t_translated: float | None = None
    t_synth_start: float | None = None
    t_first_chunk: float | None = None
    t_synth_end: float | None = None
    t_handoff: float | None = None
    t_audio_start: float | None = None
    t_audio_end: float | None = None
    player_idle: bool | None = None
    audio_seconds: float = 0.0
    skipped: str | None = None
    detail: str = ""

    def skip(self, kind: str, detail: str = "") -> None:
        """Mark the sentence skipped, keeping the first reason if it was already skipped."""
        if self.skipped is None:
            self.skipped, self.detail = kind, detail

    @property
    def ttfa(self) -> float | None:
        """Seconds from ready to first audio sample when the player was idle, else None."""
        if self.player_idle and self.t_audio_start is not None:
            return self.t_audio_start - self.t_ready
        return None


_STAMPS = tuple(f.name for f in fields(SentenceRecord) if f.name.startswith("t_"))


@dataclass
class Summary:
    """Totals and per-stage percentiles (milliseconds) over one run; ``interrupted`` by Ctrl-C."""

    sentences: int
    spoken: int
    skipped: dict[str, int]
    audio_seconds: float
    wall_seconds: float
    startup: dict[str, float] = field(default_factory=dict)
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    source: dict[str, int | str] = field(default_factory=dict)
    interrupted: bool = False
    underflows: int = 0  # times the sound device ran dry
    gap_seconds: float = 0.0  # silence played inside sentences because synthesis fell behind
    blas: str | None = None  # the BLAS behind MLX's CPU products, when MLX was used


def summarize(
    records: Sequence[SentenceRecord],
    *,
    wall_seconds: float,
    startup: dict[str, float] | None = None,
    source: dict[str, int | str] | None = None,
    interrupted: bool = False,
    underflows: int = 0,
    gap_seconds: float = 0.0,
    blas: str | None = None,
) -> Summary:
    """Count spoken and skipped sentences and take p50/p95 of each stage that was measured."""
    stages: dict[str, list[float]] = {name: [] for name in [TTFA, BACKLOG, *STAGES]}
    for record in records:
        if record.skipped is not None:
            continue
        if record.ttfa is not None:
            stages[TTFA].append(record.ttfa)
        elif record.t_audio_start is not None:
            stages[BACKLOG].append(record.t_audio_start - record.t_ready)
        for name, (start, end) in STAGES.items():
            t0, t1 = getattr(record, start), getattr(record, end)
            if t0 is not None and t1 is not None:
                stages[name].append(t1 - t0)
    return Summary(
        sentences=len(records),
        spoken=sum(r.skipped is None for r in records),
        skipped=dict(Counter(r.skipped for r in records if r.skipped is not None)),
        audio_seconds=sum(r.audio_seconds for r in records if r.skipped is None),
        wall_seconds=wall_seconds,
        startup=dict(startup or {}),
        stages={name: _percentiles(values) for name, values in stages.items() if values},
        source=dict(source or {}),
        interrupted=interrupted,
        underflows=underflows,
        gap_seconds=gap_seconds,
        blas=blas,
    )


def _percentiles(seconds: list[float]) -> dict[str, float]:
    p50, p95 = np.percentile(np.asarray(seconds) * 1000.0, [50, 95])
    return {"p50_ms": float(p50), "p95_ms": float(p95), "n": len(seconds)}


def totals_line(summary: Summary) -> str:
    """One line for stderr: sentences spoken and skipped (by reason), audio and wall time."""
    skipped = sum(summary.skipped.values())
    reasons = ", ".join(f"{kind} {n}" for kind, n in sorted(summary.skipped.items()))
    line = "interrupted; " if summary.interrupted else ""
    noun = "sentence" if summary.sentences == 1 else "sentences"
    line += f"{summary.sentences} {noun}: {summary.spoken} spoken, {skipped} skipped"
    if reasons:
        line += f" ({reasons})"
    line += f"; {summary.audio_seconds:.1f} s of audio in {summary.wall_seconds:.1f} s"
    if "total" in summary.startup:
        line += f"; ready in {summary.startup['total']:.2f} s"
    if summary.underflows:
        line += f"; the sound device ran dry {summary.underflows} times"
    malformed = summary.source.get("malformed", 0)
    if malformed:
        line += f"; {malformed} malformed input lines skipped"
    return line


def startup_line(startup: dict[str, float]) -> str:
    """``part 0.12 s, …``: the seconds of each start-up part (``total`` left out)."""
    parts = (f"{part} {seconds:.2f} s" for part, seconds in startup.items() if part != "total")
    return ", ".join(parts)


def write_report(summary: Summary, out: TextIO, *, table: bool = True) -> None:
    """Write the totals line and, with ``table``, start-up times and each stage's p50/p95."""
    out.write(f"streamtts: {totals_line(summary)}\n")
    if not table:
        return
    if summary.startup:
        out.write(f"start-up: {startup_line(summary.startup)}\n")
    if summary.blas is not None:
        out.write(f"MLX matrix products: {summary.blas}\n")
    if not summary.stages:
        return
    width = max(len(name) for name in summary.stages)
    out.write(f"{'stage':<{width}}  {'p50 ms':>9}  {'p95 ms':>9}  {'n':>4}\n")
    for name, row in summary.stages.items():
        out.write(f"{name:<{width}}  {row['p50_ms']:>9.1f}  {row['p95_ms']:>9.1f}  {row['n']:>4}\n")
    out.write(f"audio underflows: {summary.underflows}\n")
    out.write(f"silence inside sentences: {summary.gap_seconds:.3f} s\n")


def write_json(
    path: Path, records: Sequence[SentenceRecord], summary: Summary, *, t0: float
) -> None:
    """Write the summary and one record per sentence; stamps become seconds since ``t0``."""
    rows = []
    for record in records:
        row = asdict(record)
        for name in _STAMPS:
            if row[name] is not None:
                row[name] = round(row[name] - t0, 6)
        rows.append(row)
    document = {"summary": asdict(summary), "sentences": rows}
    text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    try:
        # A lone surrogate in a sentence cannot be UTF-8: it is written as "?".
        path.write_text(text, encoding="utf-8", errors="replace")
    except OSError as error:
        raise from_os_error("write", path, error) from None
