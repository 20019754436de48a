"""`streamtts watch` from the outside: a real process follows a Claude Code session
transcript in a temporary project, speaks each new main-thread text block as it is
appended, and ends on SIGINT with the totals line, the stats file and exit 130."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import wave
from pathlib import Path

import pytest
from helpers import DATA, run_cli, start_process, stderr_line, written_now

from streamtts.reading.transcript import project_key

# Real voices, models or processes, seconds each: left out of `make test-fast`.
pytestmark = pytest.mark.slow

SESSION = DATA / "transcript" / "claude-own-session.jsonl"
SPOKEN = ["Let me look at the parser first.", "The total is overwritten.", "I will add instead."]


def watch_process(claude: Path, cwd: Path, *args: str) -> subprocess.Popen:
    env = {"STREAMTTS_CONFIG": os.devnull, "CLAUDE_CONFIG_DIR": str(claude)}
    args = ("--verbose", "watch", "--translate", "none", "--tts", "openjtalk", *args)
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    return start_process(*args, cwd=cwd, env=env, **pipes)


def wait_until_ready(process: subprocess.Popen) -> None:
    """Read stderr up to the "ready" line: the transcript is followed from then on."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline().decode()
        assert line, "watch ended before it was ready"
        if "streamtts.pipeline.core: ready in" in line:
            return
    raise AssertionError("watch not ready after 60 s")


def test_watch_speaks_each_new_block_of_the_newest_session_and_ends_on_sigint(tmp_path: Path):
    claude, cwd = tmp_path / "claude", tmp_path / "work" / "parser"
    cwd.mkdir(parents=True)
    project = claude / "projects" / project_key(cwd)
    project.mkdir(parents=True)
    lines = SESSION.read_bytes().splitlines(keepends=True)
    transcript = project / "session.jsonl"
    transcript.write_bytes(b"".join(lines[:4]))  # the prompt and a text block: history
    wav, stats = tmp_path / "speech.wav", tmp_path / "stats.json"
    process = watch_process(
        claude, cwd, "--output", str(wav), "--print", "--stats-json", str(stats)
    )
    try:
        wait_until_ready(process)
        with transcript.open("ab") as handle:
            # The text block again (same uuid: spoken once), then the rest of the turn.
            for line in [lines[3], *lines[3:]]:
                handle.write(written_now(line))
                handle.flush()
                time.sleep(0.05)
        for text in SPOKEN:
            assert process.stdout.readline().decode() == text + "\n"
        time.sleep(0.5)  # written by now: the WAV sink takes audio as fast as it comes
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    finally:
        process.kill()
    assert process.stdout.read() == b""
    stderr = process.stderr.read().decode()
    assert "Traceback" not in stderr
    [totals] = [line for line in stderr.splitlines() if line.startswith("streamtts: interrupted")]
    assert re.fullmatch(
        r"streamtts: interrupted; 3 sentences: 3 spoken, 0 skipped; "
        r"\d+\.\d s of audio in \d+\.\d s; ready in \d+\.\d\d s",
        totals,
    )
    document = json.loads(stats.read_text())
    records = document["sentences"]
    assert [(r["seq"], r["text"], r["skipped"]) for r in records] == [
        (seq, text, None) for seq, text in enumerate(SPOKEN)
    ]
    assert document["summary"]["source"]["format"] == "claude-transcript"
    assert document["summary"]["source"]["lines"] == 1 + len(lines[3:])
    assert document["summary"]["gap_seconds"] == 0.0  # a file never runs dry
    with wave.open(str(wav)) as audio:
        frames = sum(round(r["audio_seconds"] * audio.getframerate()) for r in records)
        assert audio.getnframes() == frames > 0


def test_watch_in_a_fresh_project_waits_for_its_first_session_and_says_what_it_follows(
    tmp_path: Path,
):
    claude, cwd = tmp_path / "claude", tmp_path / "work" / "fresh"
    cwd.mkdir(parents=True)
    project = claude / "projects" / project_key(cwd)  # Claude Code makes it at the first prompt
    process = watch_process(claude, cwd, "--no-daemon", "--device", "null", "--print")
    try:
        assert stderr_line(process, "streamtts: no") == (
            f"streamtts: no Claude Code session of {cwd} yet: waiting for one in {project}\n"
        )
        project.mkdir(parents=True)
        transcript = project / "session.jsonl"
        lines = SESSION.read_bytes().splitlines(keepends=True)[:4]
        transcript.write_bytes(b"".join(map(written_now, lines)))
        assert stderr_line(process, "streamtts: following") == (
            f"streamtts: following {transcript}\n"
        )
        # A session that began while watch waited is read from its start.
        assert process.stdout.readline().decode() == SPOKEN[0] + "\n"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    finally:
        process.kill()


def test_watch_of_a_missing_transcript_is_one_line(tmp_path: Path):
    missing = tmp_path / "gone.jsonl"
    result = run_cli("watch", missing, "--translate", "none", env={"STREAMTTS_CONFIG": os.devnull})
    assert result.exit_code == 1
    assert result.stderr == f"streamtts: cannot read {missing}: No such file or directory\n"
