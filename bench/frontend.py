"""Frontend benchmark: stream reader + segmenter throughput, per-event latency, memory.

A Claude Code session with ``--include-partial-messages`` is generated at several sizes
(tens of MB): every turn has thinking deltas and their signature, a markdown answer
(paragraphs, a list, a code fence, a table, inline code, links) streamed as text deltas
of 1-40 characters, the full blocks repeated, a tool call with input_json deltas, a tool
result, and the final result; one turn in a hundred returns a 2 MB tool result on one line.
Three measurements, each after a warm-up run:

- throughput: MB/s of ``segment(read_pieces(file))``, median and p95 over the runs;
- added latency per event: the time ``StreamParser.feed_line`` + ``Segmenter.feed`` take
  for one line, over every line, and for the lines that complete a sentence;
- memory: tracemalloc's peak of Python allocations and the peak RSS growth of a fresh
  process reading the file, at each size (flat means independent of input size).

Run: ``.venv/bin/python -m bench.frontend [--sizes 10 20 40] [--runs 5]``; the results
go to bench/results/frontend.md.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from bench.common import (
    ROOT,
    machine_info,
    markdown_table,
    package_versions,
    parse_args,
    percentiles,
    results_header,
    write_results,
)
from streamtts.reading.stream import StreamParser, iter_lines, read_pieces
from streamtts.text.segmenter import Segmenter, segment

SESSION = "b8c6ab5c-87e1-4ae0-b1b7-97b384620713"
BIG_RESULT_BYTES = 2 * 1024 * 1024
# Prose the generated answers are made of.
# fmt: off
WORDS = [
    "the", "test", "suite", "now", "passes", "after", "I", "changed", "how", "parser", "reads",
    "each", "unit", "and", "cache", "keeps", "its", "entries", "while", "worker", "thread",
    "drains", "queue", "before", "it", "exits", "so", "nothing", "is", "lost", "when", "user",
    "presses", "control", "c", "during", "a", "long", "build", "of", "project",
]
# fmt: on


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), f"`src/{rng.choice(WORDS)}.py`")
    if rng.random() < 0.15:
        words.insert(rng.randrange(len(words)), "[the docs](https://example.com/docs/a.b)")
    if rng.random() < 0.1:
        words.insert(rng.randrange(len(words)), "e.g.")
    return " ".join(words).capitalize() + rng.choice("...!?")


def answer(rng: random.Random) -> str:
    """A markdown reply like an agent's: prose, a list, a fence, a table."""
    parts = [" ".join(sentence(rng) for _ in range(rng.randint(2, 5)))]
    parts.append("\n".join(f"- **{rng.choice(WORDS)}**: {sentence(rng)}" for _ in range(3)))
    code = "\n".join(
        f"    total += parse(unit_{i}) * {i}.5  # {rng.choice(WORDS)}" for i in range(8)
    )
    parts.append(f"```python\ndef f(units):\n{code}\n```")
    rows = "\n".join(f"| `{rng.choice(WORDS)}` | {rng.randint(1, 99)} ms |" for _ in range(3))
    parts.append(f"| Stage | Time |\n|---|---:|\n{rows}")
    parts.append(" ".join(sentence(rng) for _ in range(rng.randint(1, 3))))
    return "\n\n".join(parts)


def chunks(text: str, rng: random.Random) -> list[str]:
    out, i = [], 0
    while i < len(text):
        step = rng.randint(1, 40)
        out.append(text[i : i + step])
        i += step
    return out


def turn(rng: random.Random, number: int) -> list[dict]:
    """The events of one turn, shaped like the partial-messages capture in tests/data."""
    mid = f"msg_{number:08d}"

    def uuid() -> str:  # every line has its own, as in real output (the reader de-duplicates)
        return f"{rng.getrandbits(128):032x}"

    def stream(event: dict) -> dict:
        return {
            "type": "stream_event",
            "event": event,
            "session_id": SESSION,
            "parent_tool_use_id": None,
            "uuid": uuid(),
        }

    def echo(block: dict) -> dict:
        message = {"model": "claude", "id": mid, "type": "message", "role": "assistant"}
        return {"type": "assistant", "message": {**message, "content": [block]}, "uuid": uuid()}

    thinking, text = " ".join(sentence(rng) for _ in range(4)), answer(rng)
    start = {"id": mid, "type": "message", "role": "assistant", "content": []}
    events = [stream({"type": "message_start", "message": start})]
    block = {"type": "thinking", "thinking": "", "signature": ""}
    events.append(stream({"type": "content_block_start", "index": 0, "content_block": block}))
    for piece in chunks(thinking, rng):
        delta = {"type": "thinking_delta", "thinking": piece}
        events.append(stream({"type": "content_block_delta", "index": 0, "delta": delta}))
    signature = {"type": "signature_delta", "signature": f"{rng.getrandbits(3000):x}"}
    events.append(stream({"type": "content_block_delta", "index": 0, "delta": signature}))
    events.append(echo({"type": "thinking", "thinking": thinking}))
    events.append(stream({"type": "content_block_stop", "index": 0}))
    block = {"type": "text", "text": ""}
    events.append(stream({"type": "content_block_start", "index": 1, "content_block": block}))
    for piece in chunks(text, rng):
        delta = {"type": "text_delta", "text": piece}
        events.append(stream({"type": "content_block_delta", "index": 1, "delta": delta}))
    events.append(echo({"type": "text", "text": text}))
    events.append(stream({"type": "content_block_stop", "index": 1}))
    tool = {"type": "tool_use", "id": f"toolu_{number}", "name": "Read", "input": {}}
    events.append(stream({"type": "content_block_start", "index": 2, "content_block": tool}))
    for piece in chunks(json.dumps({"file_path": "/home/user/project/src/parser.py"}), rng):
        delta = {"type": "input_json_delta", "partial_json": piece}
        events.append(stream({"type": "content_block_delta", "index": 2, "delta": delta}))
    events.append(stream({"type": "content_block_stop", "index": 2}))
    events.append(stream({"type": "message_stop"}))
    size = BIG_RESULT_BYTES if number % 100 == 50 else rng.randint(200, 5000)
    output = ("12\tdef parse(unit): return unit.value  # line of the file\n" * size)[:size]
    content = [{"tool_use_id": f"toolu_{number}", "type": "tool_result", "content": output}]
    events.append({"type": "user", "message": {"role": "user", "content": content}})
    result = {"type": "result", "subtype": "success", "is_error": False, "result": text}
    return [*events, result]


def write_transcript(path: Path, megabytes: int, *, seed: int = 0) -> int:
    """Write a generated session of at least ``megabytes`` MB; return its number of lines."""
    rng = random.Random(seed)
    size, number, count = 0, 0, 0
    with path.open("w", encoding="utf-8") as out:
        while size < megabytes * 1_000_000:
            events = turn(rng, number)
            lines = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)
            out.write(lines)
            size += len(lines.encode())
            number, count = number + 1, count + len(events)
    return count


def read_all(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(1 for _ in segment(read_pieces(stream)))


def throughput(path: Path, runs: int) -> dict[str, list[float]]:
    """MB/s of reader + segmenter over the file per run, by wall clock and by CPU time."""
    read_all(path)  # warm-up: page cache, regex and parser caches
    megabytes = path.stat().st_size / 1e6
    rates: dict[str, list[float]] = {"wall": [], "cpu": []}
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        read_all(path)
        rates["cpu"].append(megabytes / (time.process_time() - start_cpu))
        rates["wall"].append(megabytes / (time.perf_counter() - start))
    return rates


def event_latencies(path: Path) -> dict[str, np.ndarray]:
    """Per line, the microseconds to parse it and segment its pieces, as wall-clock time and
    as this thread's CPU time (which leaves out time the scheduler gave other processes);
    and whether the line completed a sentence."""
    wall, cpu, ended = [], [], []
    parser, segmenter = StreamParser(), Segmenter()
    with path.open("rb") as stream:
        for line in iter_lines(stream, stats=parser.stats):
            start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
            sentences = [s for piece in parser.feed_line(line) for s in segmenter.feed(piece)]
            cpu.append((time.thread_time_ns() - start_cpu) / 1000)
            wall.append((time.perf_counter_ns() - start) / 1000)
            ended.append(bool(sentences))
    return {"wall": np.array(wall), "cpu": np.array(cpu), "ended": np.array(ended)}


def traced_peak(path: Path) -> float:
    """Peak MiB of Python allocations while reading the file."""
    tracemalloc.start()
    try:
        read_all(path)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def rss_growth(path: Path) -> float:
    """Growth of peak RSS (MiB) in a fresh process reading the file, after a warm-up."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.frontend", "--rss-of", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout)


def print_rss_growth(path: Path) -> None:
    read_all(ROOT / "tests" / "data" / "claude-own-partial.jsonl")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    read_all(path)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((after - before) / 1024)  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 40], metavar="MB")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rss-of", type=Path, help=argparse.SUPPRESS)
    args = parse_args(parser, smoke={"sizes": [1], "runs": 1})
    if args.rss_of:
        print_rss_growth(args.rss_of)
        return

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for megabytes in sorted(args.sizes):
            path = Path(tmp) / f"session-{megabytes}mb.jsonl"
            count = write_transcript(path, megabytes)
            size = path.stat().st_size
            paths.append(path)
            # p95 of a throughput is its slow tail: the 5th percentile of the rates.
            rates = [
                "{:.1f} ({:.1f})".format(*percentiles(values, [50, 5]))
                for values in throughput(path, args.runs).values()
            ]
            rows.append(
                [
                    f"{size / 1e6:.1f} MB, {count} lines",
                    *rates,
                    f"{traced_peak(path):.2f} MiB",
                    f"{rss_growth(path):.1f} MiB",
                ]
            )
            print(" | ".join(rows[-1]), flush=True)
        measured = event_latencies(paths[-1])

    latency, verdict = [], []
    for label, chosen in (
        ("every line", slice(None)),
        ("completing a sentence", measured["ended"]),
    ):
        for clock in ("wall", "cpu"):
            values = measured[clock][chosen]
            p50, p95, p99, worst = percentiles(values, [50, 95, 99, 100])
            latency.append(
                [
                    label,
                    len(values),
                    clock,
                    f"{p50:.1f}",
                    f"{p95:.1f}",
                    f"{p99:.1f}",
                    f"{worst:.0f}",
                ]
            )
            met = "met" if p99 < 1000 else "NOT met"
            verdict.append(f"- {label}, {clock} clock: p99 {p99:.0f} µs, target < 1000 µs {met}")
    throughput_table = markdown_table(
        [
            "input",
            "MB/s wall, median (p95)",
            "MB/s CPU, median (p95)",
            "tracemalloc peak",
            "RSS growth",
        ],
        rows,
    )
    latency_table = markdown_table(
        ["events", "count", "clock", "p50 µs", "p95 µs", "p99 µs", "max µs"], latency
    )
    report = "\n".join([throughput_table, "", latency_table, "", *verdict])
    print(report)
    write_report(report, args.results)


def write_report(report: str, directory: Path) -> None:
    header = results_header(
        "Frontend: stream reader + segmenter",
        machine=machine_info(),
        versions=package_versions(["streamtts", "markdown-it-py"]),
    )
    write_results(
        directory,
        "frontend.md",
        header + f"{__doc__.split(chr(10) * 2, 1)[1].split('Run:')[0].strip()}\n\n"
        f"{report}\n\n"
        "A throughput's p95 is the rate that 95% of the runs reached (their 5th percentile). "
        "Per-event latency is taken on the largest input. The machine is shared with other "
        "jobs (see the load average): wall-clock figures include the time the scheduler "
        "gave them (time slices of several ms), CPU figures are this thread's own work; "
        "throughput is a lower bound.\n",
    )


if __name__ == "__main__":
    main()
