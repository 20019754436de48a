"""Watch benchmark: what following a transcript adds, from a text block appended to its t_ready.

``streamtts watch`` learns of a new content block by looking at the transcript's size every
``streamtts.reading.transcript.POLL`` seconds, then parses the new lines and segments the text. This
measures that route as it runs in ``watch``, in one process so that both ends read the same
``perf_counter`` clock: ``segment(watch_pieces(...))`` follows a transcript in a temporary
project on its own thread, while the main thread appends one assistant text block at a time
(written and flushed as Claude Code does) at irregular intervals, so that appends fall
anywhere in the polling period. Latency = the sentence's ``t_ready`` - the time the append
returned. Nothing here depends on the models: translation and speech come after ``t_ready``.

Run as ``.venv/bin/python -m bench.watch [--appends 30]``. Writes ``bench/results/watch.md``.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from pathlib import Path

from bench.common import (
    machine_info,
    markdown_table,
    package_versions,
    parse_args,
    percentiles,
    results_header,
    write_results,
)
from streamtts.reading.transcript import POLL, watch_pieces
from streamtts.text.segmenter import Sentence, segment

TARGET_MS = 50.0
WARMUP = 3  # appends not counted: the first parse and segment pay for imports and caches
PACKAGES = ["streamtts"]


def text_block(n: int) -> bytes:
    """One main-thread assistant line of a Claude Code transcript: a single text block."""
    message = {"role": "assistant", "content": [{"type": "text", "text": f"Step {n} is done."}]}
    event = {"type": "assistant", "uuid": f"u{n}", "isSidechain": False, "message": message}
    return json.dumps(event).encode() + b"\n"


def measure(appends: int, *, seed: int = 0) -> list[float]:
    """Seconds from each append to its sentence's t_ready, warm-up appends left out."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / "session.jsonl"
        path.write_bytes(b"")
        stop = threading.Event()
        ready: dict[int, Sentence] = {}
        arrived = threading.Condition()

        def follow() -> None:
            for sentence in segment(watch_pieces(path, stop=stop)):
                with arrived:
                    ready[sentence.seq] = sentence
                    arrived.notify()

        thread = threading.Thread(target=follow, daemon=True)
        thread.start()
        time.sleep(2 * POLL)  # the follower settles at the (empty) end
        appended = []
        with path.open("ab") as handle:
            for n in range(WARMUP + appends):
                time.sleep(rng.uniform(0.05, 0.25))  # irregular: anywhere in the period
                handle.write(text_block(n))
                handle.flush()
                appended.append(time.perf_counter())
                with arrived:
                    assert arrived.wait_for(lambda n=n: n in ready, timeout=5), n
        stop.set()
        thread.join(5)
    return [ready[n].t_ready - appended[n] for n in range(WARMUP, WARMUP + appends)]


def render(latencies: list[float]) -> str:
    """The markdown report."""
    p50, p95, worst = percentiles(latency * 1000 for latency in latencies)
    verdict = "met" if p95 < TARGET_MS else "NOT met"
    table = markdown_table(
        ["appended → t_ready", "p50 ms", "p95 ms", "max ms", "n"],
        [
            [
                "watch (poll + parse + segment)",
                f"{p50:.1f}",
                f"{p95:.1f}",
                f"{worst:.1f}",
                len(latencies),
            ]
        ],
        right=True,
    )
    return "\n".join(
        [
            results_header(
                "Watch: a text block appended to a transcript → its sentence ready",
                machine=machine_info(),
                versions=package_versions(PACKAGES),
            )
            + f"{len(latencies)} appends after {WARMUP} warm-up, 50-250 ms apart; the "
            f"follower looks at the file every {POLL * 1000:.0f} ms.",
            "",
            table,
            "",
            f"Target p95 < {TARGET_MS:.0f} ms: {verdict}. The poll period bounds the wait "
            "(an append waits half a period on average); parsing a line and segmenting "
            "its block take well under a millisecond of it.",
            "",
        ]
    )


def main() -> None:
    """Measure, print the table and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=30, help="appends that are counted")
    args = parse_args(parser, smoke={"appends": 1})
    report = render(measure(args.appends))
    print(report)
    write_results(args.results, "watch.md", report)


if __name__ == "__main__":
    main()
