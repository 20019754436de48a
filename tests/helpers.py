"""What many test modules share: where the test data and the repository are, running the
command line (in this process or as a child process), building a Claude Code hook input,
waiting for a condition, lines of a process's stderr, transcript lines stamped now."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from click.testing import Result

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
DATA = TESTS / "data"

# `streamtts` as a child process runs it: this interpreter, so this virtual environment.
STREAMTTS = (sys.executable, "-m", "streamtts")


def run_cli(
    *args: str | Path, input: str | bytes | None = None, env: dict[str, str] | None = None
) -> Result:
    """``streamtts ARGS`` in this process, through Typer's ``CliRunner``: the way to test a
    command's options, output and exit code, where no signal, real stdin or fresh import
    is involved.

    ``input`` is its stdin (empty when None). ``env`` is set on top of this process's
    environment for the call only (a value of None unsets a variable). The result has
    ``exit_code``, ``stdout`` and ``stderr`` apart, ``output`` (both as they came) and
    ``exception``.
    """
    from typer.testing import CliRunner

    from streamtts.cli import app

    return CliRunner().invoke(app, [str(arg) for arg in args], input=input, env=env)


def run_process(
    *args: str | Path,
    input: str | bytes | None = None,
    env: dict[str, str] | None = None,
    text: bool = True,
    stdout: int = subprocess.PIPE,
    timeout: float | None = None,
) -> subprocess.CompletedProcess:
    """``streamtts ARGS`` as a child process, waited for: the way to test what only a
    process shows (its exit status after a signal or a broken pipe, imports at start-up, the
    environment read once, stdin as a pipe).

    ``env`` is added to this process's environment (which the session's conftest gives a
    socket of its own). ``input`` is written to its stdin, which is then closed; ``text``
    says whether ``input``, stdout and stderr are str or bytes. stdout and stderr are
    captured unless ``stdout`` names another file descriptor.
    """
    return subprocess.run(
        [*STREAMTTS, *map(str, args)],
        input=input,
        env={**os.environ, **(env or {})},
        text=text,
        stdout=stdout,
        stderr=subprocess.PIPE,
        timeout=timeout,
    )


def start_process(
    *args: str | Path, env: dict[str, str] | None = None, **popen
) -> subprocess.Popen:
    """``streamtts ARGS`` as a child process, started and not waited for: a daemon, a watch,
    a speak to send a signal to or to feed line by line. ``env`` as for ``run_process``;
    ``popen`` goes to ``subprocess.Popen`` (which pipes to open, ``text``)."""
    return subprocess.Popen(
        [*STREAMTTS, *map(str, args)], env={**os.environ, **(env or {})}, **popen
    )


# The session of every hook input built here, a Claude Code session id.
SESSION = "5d0c3f7e-0000-4000-8000-000000000001"


def hook_input(event: str, *, prompt_id: str | None = None, **fields: object) -> dict[str, object]:
    """A Claude Code hook input for ``event``, as its hooks reference describes it: the
    fields every hook gets (``session_id``, ``transcript_path``, ``cwd``,
    ``hook_event_name``), the turn's ``prompt_id`` on every hook but ``SessionStart``
    when given, and then ``fields``."""
    common: dict[str, object] = {
        "session_id": SESSION,
        "transcript_path": f"/home/u/.claude/projects/-home-u-app/{SESSION}.jsonl",
        "cwd": "/home/u/app",
        "hook_event_name": event,
    }
    if prompt_id is not None and event != "SessionStart":
        common["prompt_id"] = prompt_id
    return {**common, **fields}


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
