"""`streamtts say` (speak over a text, untranslated), `voices` and `devices` through Typer's
CliRunner, with real engines."""

from __future__ import annotations

import json
import os
import re
import sys
import wave

import numpy as np
import pytest
from helpers import run_cli

# Real voices, models or processes, seconds each: left out of `make test-fast`.
pytestmark = pytest.mark.slow

linux = pytest.mark.skipif(
    sys.platform != "linux", reason="the ALSA test devices exist on Linux only"
)


def read(path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as wav:
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        return pcm / 32768.0, wav.getframerate()


def test_say_writes_kokoro_speech_to_a_wav(tmp_path):
    out = tmp_path / "hello.wav"
    result = run_cli("say", "こんにちは、世界。", "--output", out)
    assert result.exit_code == 0, result.stderr
    audio, rate = read(out)
    assert rate == 24_000
    assert np.abs(audio).max() > 0.1 and 0.8 < len(audio) / rate < 4


def test_say_reads_stdin_and_takes_engine_voice_and_speed(tmp_path):
    out = tmp_path / "stdin.wav"
    args = ["say", "--tts", "openjtalk", "--voice", "mei_normal", "--output", str(out)]
    normal = run_cli(*args, input="今日は良い天気です。\n")
    assert normal.exit_code == 0, normal.stderr
    audio, rate = read(out)
    fast = run_cli(*args, "--speed", "1.5", input="今日は良い天気です。\n")
    assert fast.exit_code == 0, fast.stderr
    faster, _ = read(out)
    assert rate == 48_000 and np.abs(audio).max() > 0.1
    assert len(faster) < len(audio)


@linux
def test_say_plays_on_the_default_device():
    result = run_cli("say", "--tts", "openjtalk", "はい。")
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["say", "--tts", "festival", "はい。"],
            "unknown TTS engine festival; choose from kokoro, xtts, openjtalk, say, espeak",
        ),
        (
            ["say", "--tts", "openjtalk", "--voice", "nobody", "はい。"],
            "unknown openjtalk voice 'nobody'; choose from mei_normal",
        ),
        (["say", "  "], "nothing to say: give TEXT or pipe it to stdin"),
        (
            ["say", "--tts", "openjtalk", "--output", "/nonexistent/dir/x.wav", "はい。"],
            "cannot write /nonexistent/dir/x.wav: No such file or directory",
        ),
    ],
)
def test_say_errors_are_one_line(args, message):
    result = run_cli(*args)
    assert result.exit_code == 1
    assert result.stderr == f"streamtts: {message}\n"


@linux
def test_say_on_a_missing_device_points_to_output():
    result = run_cli("say", "--tts", "openjtalk", "--device", "nope", "はい。")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("streamtts: no audio output device")
    assert result.stderr.endswith("write the speech to a file instead with --output FILE.wav\n")


def test_voices_lists_every_engine_and_its_voices():
    result = run_cli("voices")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "kokoro     available     Kokoro-82M int8 ONNX, 24 kHz"
    assert lines[1] == " " * 11 + "voices: jf_alpha, jf_gongitsune, jf_nezumi, jf_tebukuro, jm_kumo"
    assert [line.split()[0] for line in lines if not line.startswith(" ")] == [
        "kokoro",
        "xtts",
        "openjtalk",
        "say",
        "espeak",
    ]


@linux
def test_devices_lists_outputs_with_the_default_marked():
    result = run_cli("devices")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "    0  streamtts_null  (ALSA, 128 ch, 44100 Hz)",
        "*   1  default  (ALSA, 128 ch, 44100 Hz)",
    ]


def test_say_is_speak_over_the_text_with_the_config_file_and_stats(tmp_path):
    # The config file chooses the engine and asks for subtitles; `say` never translates.
    config = tmp_path / "config.toml"
    config.write_text('tts = "openjtalk"\ntranslate = "nllb"\nprint = true\n')
    out, stats = tmp_path / "say.wav", tmp_path / "stats.json"
    args = ["say", "はい。そうです。", "--output", str(out), "--stats-json", str(stats)]
    result = run_cli(*args, env={"STREAMTTS_CONFIG": str(config)})
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "はい。\nそうです。\n"
    assert result.stderr == ""  # the totals line only with --stats
    document = json.loads(stats.read_text())
    records = document["sentences"]
    assert [(r["text"], r["translation"], r["skipped"]) for r in records] == [
        ("はい。", "はい。", None),
        ("そうです。", "そうです。", None),
    ]
    audio, rate = read(out)
    assert rate == 48_000  # Open JTalk's, from the config file
    assert len(audio) == sum(round(r["audio_seconds"] * rate) for r in records)


def test_say_with_stats_prints_the_totals_line(tmp_path):
    args = ["say", "--tts", "openjtalk", "--no-play", "--stats", "はい。"]
    result = run_cli(*args, env={"STREAMTTS_CONFIG": os.devnull})
    assert result.exit_code == 0, result.stderr
    assert re.match(
        r"streamtts: 1 sentence: 1 spoken, 0 skipped; \d+\.\d s of audio in \d+\.\d s; "
        r"ready in \d+\.\d\d s\n",
        result.stderr,
    )
