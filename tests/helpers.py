"""What many test modules share: where the test data and the repository are, waiting for a
condition, lines of a process's stderr, transcript lines stamped now."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
DATA = TESTS / "data"


def wait_for(check: Callable[[], object], seconds: float = 20.0) -> object:
    deadline = time.monotonic() + seconds
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return result


def written_now(line: bytes) -> bytes:
    """A transcript line as Claude Code would write it now: its ``timestamp`` is now, so
    that ``watch``, which never speaks a line stamped before it started, speaks it."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return re.sub(rb'"timestamp":"[^"]*"', f'"timestamp":"{now}"'.encode(), line)


# Sentences of our own captures that the speak tests send through NLLB (tests/data/
# claude-own-partial.jsonl and claude-own-tool-use.jsonl).
SPOKEN_BY_NLLB = (
    "The parser drops the last unit.",
    "I will fix it now.",
    "Let me run the tests first",
    "One test fails.",
    "The minutes are overwritten instead of added.",
)


def stderr_line(process: subprocess.Popen, start: str) -> str:
    """The next line of a process's stderr (a binary pipe) that begins with ``start``."""
    while line := process.stderr.readline().decode():
        if line.startswith(start):
            return line
    raise AssertionError(f"stderr ended before a line starting {start!r}")


def bench_index() -> dict[str, list[str]]:
    """The files ``bench/README.md`` lists, by table: ``index`` (the benchmarks) and
    ``shared`` (the modules they share), from each row's first cell (`` `bench/NAME` ``)."""
    tables: dict[str, list[str]] = {"index": [], "shared": []}
    table = None
    for line in (REPO / "bench" / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            table = {"## Index": "index", "## Shared modules": "shared"}.get(line)
        elif table and (row := re.match(r"\| `bench/([^`]+)` \|", line)):
            tables[table].append(row[1])
    return tables
