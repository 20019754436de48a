"""`streamtts speak` and `say` on a hostile edge: bad paths, full disks, signals, bad values.

Every case ends in one line on stderr (no traceback) with the exact exit code, and loses
nothing: the input, an existing output and every sentence spoken before the failure are
still there. Real subprocesses receive real signals; speech is Open JTalk (fast) into the
realtime null device or a WAV file. Full and read-only disks are tiny tmpfs mounts, so
those tests need root and are skipped elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streamtts.cli import app

runner = CliRunner()
NO_CONFIG = {"STREAMTTS_CONFIG": os.devnull}
FAST = ["--translate", "none", "--tts", "openjtalk"]
JAPANESE = ["まずテストを実行して、どこで失敗しているかを確認します。", "原因が分かりました。"]
TOTALS = r"\d+\.\d s of audio in \d+\.\d s; ready in \d+\.\d\d s"


def claude_lines(texts: list[str]) -> bytes:
    events = [
        {"type": "assistant", "message": {"id": f"m{i}", "content": [{"type": "text", "text": t}]}}
        for i, t in enumerate(texts)
    ]
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events).encode()


@pytest.fixture
def transcript(tmp_path: Path) -> Path:
    path = tmp_path / "transcript.jsonl"
    path.write_bytes(claude_lines(JAPANESE))
    return path


@contextlib.contextmanager
def tmpfs(path: Path, *options: str) -> Iterator[Path]:
    """A tiny tmpfs mounted at ``path`` for the block; skips the test where it cannot be."""
    path.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = ["mount", "-t", "tmpfs", "-o", ",".join(["size=64k", *options]), "tmpfs", str(path)]
    if subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("this machine cannot mount a tmpfs")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def speak(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, ["speak", *FAST, *args], env={**NO_CONFIG, **(env or {})})


# -- files -------------------------------------------------------------------------------


def test_output_in_a_missing_directory_is_one_line(transcript: Path, tmp_path: Path):
    out = tmp_path / "missing" / "speech.wav"
    result = speak(str(transcript), "--output", str(out), "--print")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"streamtts: cannot write {out}: No such file or directory\n"


def test_output_on_a_read_only_mount_is_one_line(transcript: Path, tmp_path: Path):
    with tmpfs(tmp_path / "ro", "ro") as mount:
        result = speak(str(transcript), "--output", str(mount / "speech.wav"))
    assert result.exit_code == 1
    assert (
        result.stderr == f"streamtts: cannot write {mount / 'speech.wav'}: Read-only file system\n"
    )


def test_output_on_a_full_disk_is_one_line_and_keeps_the_old_file(transcript: Path, tmp_path: Path):
    with tmpfs(tmp_path / "small") as mount:
        out = mount / "speech.wav"
        out.write_bytes(b"the last run")
        result = speak(str(transcript), "--output", str(out))  # ~5 s at 96 kB/s: > 64 kB
        left = {p.name: p.read_bytes() for p in mount.iterdir()}
    assert result.exit_code == 1
    assert result.stderr == f"streamtts: cannot write {out}: No space left on device\n"
    assert left == {"speech.wav": b"the last run"}


def test_output_that_is_the_input_is_refused_before_anything_is_written(transcript: Path):
    before = transcript.read_bytes()
    result = speak(str(transcript), "--output", str(transcript))
    assert result.exit_code == 1
    assert (
        result.stderr == f"streamtts: --output {transcript} is the input file; name another file\n"
    )
    assert transcript.read_bytes() == before


def test_an_existing_output_survives_a_start_up_failure(transcript: Path, tmp_path: Path):
    out = tmp_path / "speech.wav"
    out.write_bytes(b"the last run")
    args = [str(transcript), "--output", str(out), "--translate", "nllb"]
    result = speak(*args, "--model-dir", str(tmp_path / "no-model"))
    assert result.exit_code == 1
    assert "no converted model" in result.stderr and len(result.stderr.splitlines()) == 1
    assert out.read_bytes() == b"the last run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speech.wav", "transcript.jsonl"]


def test_stats_json_in_a_missing_directory_fails_before_any_speech(transcript: Path, tmp_path):
    stats = tmp_path / "missing" / "stats.json"
    result = speak(str(transcript), "--no-play", "--print", "--stats-json", str(stats))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"streamtts: cannot write {stats}: No such file or directory\n"


def test_stats_json_on_a_full_disk_comes_after_the_totals_line(transcript: Path, tmp_path):
    with tmpfs(tmp_path / "full") as mount:
        with contextlib.suppress(OSError):  # fill it: a file can be made, not written
            (mount / "filler").write_bytes(b"x" * 128 * 1024)
        stats = mount / "stats.json"
        result = speak(str(transcript), "--no-play", "--print", "--stats-json", str(stats))
    assert result.exit_code == 1
    assert result.stdout == "".join(f"{text}\n" for text in JAPANESE)
    totals, error = result.stderr.splitlines()
    assert re.fullmatch(rf"streamtts: 2 sentences: 2 spoken, 0 skipped; {TOTALS}", totals)
    assert error == f"streamtts: cannot write {stats}: No space left on device"


# -- signals -----------------------------------------------------------------------------


def speak_process(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, **NO_CONFIG}
    command = [sys.executable, "-m", "streamtts", "speak", *FAST, *args]
    return subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_with_a_pipe_as_file_ends_at_once_with_totals_and_stats(tmp_path, number):
    fifo, stats = tmp_path / "input.fifo", tmp_path / "stats.json"
    os.mkfifo(fifo)
    args = [str(fifo), "--device", "null", "--print", "--stats-json", str(stats)]
    process = speak_process(tmp_path, *args)
    with open(fifo, "wb") as writer:  # held open: the reader thread sits in read()
        writer.write(claude_lines(JAPANESE[:1]))
        writer.flush()
        assert process.stdout.readline().decode() == JAPANESE[0] + "\n"  # speaking now
        process.send_signal(number)
        start = time.monotonic()
        assert process.wait(timeout=30) == 130
    took = time.monotonic() - start
    stderr = process.stderr.read().decode()
    assert re.fullmatch(
        rf"streamtts: interrupted; 1 sentence: 0 spoken, 1 skipped \(interrupted 1\); {TOTALS}\n",
        stderr,
    )
    assert json.loads(stats.read_text())["summary"]["interrupted"] is True
    assert took < 5.0, f"exit took {took:.2f} s after the signal"


def test_a_signal_while_writing_a_wav_keeps_what_was_spoken(tmp_path: Path):
    out, stats = tmp_path / "speech.wav", tmp_path / "stats.json"
    process = speak_process(tmp_path, "--output", str(out), "--print", "--stats-json", str(stats))
    process.stdin.write(claude_lines(JAPANESE))  # stdin stays open: the agent is still working
    process.stdin.flush()
    for text in JAPANESE:  # each shown as its writing starts: the first is complete
        assert process.stdout.readline().decode() == text + "\n"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 130
    assert process.stderr.read().decode().startswith("streamtts: interrupted; 2 sentences: ")
    first = json.loads(stats.read_text())["sentences"][0]
    with wave.open(str(out)) as wav:
        assert wav.getnframes() >= round(first["audio_seconds"] * wav.getframerate()) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speech.wav", "stats.json"]
