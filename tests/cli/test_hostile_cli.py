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
from helpers import run_cli, start_process

from streamtts.pipeline.stats import SentenceRecord, summarize, write_json

# Real voices, models or processes, seconds each: left out of `make test-fast`.
pytestmark = pytest.mark.slow

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
    return run_cli("speak", *FAST, *args, env={**NO_CONFIG, **(env or {})})


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
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    return start_process("speak", *FAST, *args, env=NO_CONFIG, **pipes)


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
        assert process.wait(timeout=30) == 130
    stderr = process.stderr.read().decode()
    assert re.fullmatch(
        rf"streamtts: interrupted; 1 sentence: 0 spoken, 1 skipped \(interrupted 1\); {TOTALS}\n",
        stderr,
    )
    assert json.loads(stats.read_text())["summary"]["interrupted"] is True


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


# -- values ------------------------------------------------------------------------------

BAD_SPEEDS = ["0", "-1", "nan", "inf", "1e308", "1e-9", "4.01"]


@pytest.mark.parametrize("speed", BAD_SPEEDS)
def test_speed_outside_a_quarter_to_four_is_one_line(transcript: Path, speed: str):
    expected = f"streamtts: speed must be between 0.25 and 4, not {float(speed)}\n"
    for result in (
        speak(str(transcript), "--no-play", "--speed", speed),
        speak(str(transcript), "--no-play", env={"STREAMTTS_SPEED": speed}),
        run_cli("say", "--tts", "openjtalk", "--speed", speed, "はい。"),
    ):
        assert (result.exit_code, result.stderr) == (1, expected)


def test_speed_in_the_config_file_is_bounded(transcript: Path, tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text("speed = 10\n")
    result = run_cli("speak", *FAST, transcript, env={"STREAMTTS_CONFIG": str(config)})
    assert (result.exit_code, result.stderr) == (
        1,
        "streamtts: speed must be between 0.25 and 4, not 10.0\n",
    )


def test_a_voice_with_nul_in_the_config_is_one_line(transcript: Path, tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('voice = "ja\\u0000x"\ntts = "espeak"\ntranslate = "none"\n')
    result = run_cli("speak", transcript, "--no-play", env={"STREAMTTS_CONFIG": str(config)})
    assert result.exit_code == 1
    assert result.stderr == (
        "streamtts: voice 'ja\\x00x' has a control character; see `streamtts voices`\n"
    )


def test_a_config_variable_naming_no_file_is_one_line(transcript: Path, tmp_path: Path):
    missing = tmp_path / "nowhere.toml"
    result = run_cli("speak", transcript, env={"STREAMTTS_CONFIG": str(missing)})
    assert result.exit_code == 1
    assert result.stderr == f"streamtts: STREAMTTS_CONFIG names {missing}, which does not exist\n"


def test_an_empty_model_dir_variable_is_one_line(transcript: Path):
    result = speak(str(transcript), "--translate", "nllb", env={"STREAMTTS_MODEL_DIR": ""})
    assert result.exit_code == 1
    assert result.stderr == ("streamtts: STREAMTTS_MODEL_DIR is empty; name a path or unset it\n")


def test_choices_are_listed_in_help():
    help_text = run_cli("speak", "--help", env={"COLUMNS": "200"}).stdout
    assert re.search(r"--translate +\[nllb\|none\|auto\] ", help_text)
    assert re.search(r"--format +\[auto\|claude\|codex\|gemini\|text\] ", help_text)
    for flag in ("--play", "--print", "--stats"):
        [line] = [line for line in help_text.splitlines() if f"{flag} " in line.lstrip("│ ")[:9]]
        assert "<bool>" not in line


# -- standard streams --------------------------------------------------------------------


def run_shell(script: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    env = {**os.environ, **NO_CONFIG, "PYTHON": sys.executable}
    return subprocess.run(
        ["sh", "-c", script], input=stdin, capture_output=True, env=env, timeout=120
    )


@pytest.mark.parametrize("command", ["speak --translate none", "say", "translate"])
def test_a_closed_stdin_is_one_line(command: str):
    done = run_shell(f'exec "$PYTHON" -m streamtts {command} <&-')
    assert done.returncode == 1
    assert done.stderr.decode() == "streamtts: stdin is closed: pipe the input in or name a FILE\n"


def test_a_full_stdout_stops_the_subtitles_not_the_speech(transcript: Path):
    speak_args = " ".join(FAST)
    done = run_shell(
        f'"$PYTHON" -m streamtts speak {speak_args} --no-play --print {transcript} > /dev/full'
    )
    assert done.returncode == 0
    assert re.fullmatch(
        rf"streamtts: 2 sentences: 2 spoken, 0 skipped; {TOTALS}\n", done.stderr.decode()
    )


def test_a_full_stdout_is_one_line_for_a_listing(transcript: Path):
    done = run_shell(f'"$PYTHON" -m streamtts sentences {transcript} > /dev/full')
    assert done.returncode == 1
    assert done.stderr.decode() == "streamtts: cannot write stdout: No space left on device\n"


def test_say_reads_invalid_utf8_on_stdin(tmp_path: Path):
    out = tmp_path / "say.wav"
    args = ["say", "--tts", "openjtalk", "--output", str(out)]
    result = run_cli(*args, input=b"\xff\xfe\xe3\x81\xaf\xe3\x81\x84\xe3\x80\x82\n")
    assert result.exit_code == 0, result.stderr
    with wave.open(str(out)) as wav:
        assert wav.getnframes() > 0.2 * wav.getframerate()


def test_a_lone_surrogate_is_printed_replaced():
    text = {"type": "text", "text": "はい\ud800そうです。"}  # JSON may escape a lone surrogate
    line = json.dumps({"type": "assistant", "message": {"id": "m", "content": [text]}})
    done = run_shell('"$PYTHON" -m streamtts sentences', stdin=line.encode() + b"\n")
    assert done.returncode == 0, done.stderr.decode()
    # Replaced when printed, unless the source dropped it already.
    assert done.stdout.decode() in ("はい?そうです。\n", "はいそうです。\n")


def test_a_lone_surrogate_is_written_replaced_in_stats_json(tmp_path: Path):
    record = SentenceRecord(0, "はい\ud800そうです。", t_ready=1.0)
    path = tmp_path / "stats.json"
    write_json(path, [record], summarize([record], wall_seconds=1.0), t0=0.0)
    assert json.loads(path.read_text())["sentences"][0]["text"] == "はい?そうです。"


@pytest.mark.skipif(sys.platform != "linux", reason="the say engine loads on macOS")
def test_say_opens_the_sound_device_before_loading_an_engine():
    # `say` cannot load here: had it been loaded first, its error would be the line.
    result = run_cli("say", "--tts", "say", "--device", "no such device", "はい。")
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("streamtts: no audio output device") and "--output FILE.wav" in line


def test_ctrl_c_while_the_models_load_ends_at_once_with_exit_130(
    tmp_path: Path, speaking_model: Path
):
    # NLLB on MLX and Kokoro on ONNX Runtime load on their own threads; native threads
    # torn down by the interpreter's exit used to abort the process (exit 134).
    fifo = tmp_path / "input.fifo"
    os.mkfifo(fifo)
    args = ["speak", fifo, "--device", "null", "--model-dir", speaking_model]
    process = start_process(*args, env=NO_CONFIG, stderr=subprocess.PIPE)
    with open(fifo, "wb"):
        # The FIFO opens once the command reads its input, as the models start loading;
        # Kokoro alone then takes over a second to load and warm up.
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    assert re.fullmatch(
        # A model call under way finishes first (within the stop wait): it may still be ready.
        r"streamtts: interrupted; 0 sentences: 0 spoken, 0 skipped; 0\.0 s of audio in \d+\.\d s"
        r"(; ready in \d+\.\d\d s)?\n",
        process.stderr.read().decode(),
    )


@pytest.mark.parametrize("command", ["convert", "fetch-xtts"])
def test_force_is_a_flag(command: str):
    help_text = run_cli(command, "--help", env={"COLUMNS": "200"}).stdout
    [line] = [line for line in help_text.splitlines() if "--force" in line]
    assert "<bool>" not in line and "--no-force" not in line
