"""`streamtts speak` from the outside: option layering, user errors, a real converted model
speaking real captures into WAV files, stats JSON, broken pipes and a real Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import wave
from pathlib import Path

import pytest
from helpers import DATA, run_cli, start_process

from streamtts import blas
from streamtts.config import ConfigError, SpeakOptions, config_path, load_options
from streamtts.translate import load_translator

# Real voices, models or processes, seconds each: left out of `make test-fast`.
pytestmark = pytest.mark.slow


def test_options_layer_command_line_over_environment_over_file_over_defaults(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text(
        'translate = "auto"\ntts = "openjtalk"\nspeed = 1\nmax_lag = 4\nprint = true\n'
        'output = "~/speech.wav"\n'
    )
    environ = {
        "STREAMTTS_TTS": "kokoro,openjtalk",
        "STREAMTTS_SPEED": "1.25",
        "STREAMTTS_STATS": "on",
    }
    options = load_options({"speed": 0.8, "play": True}, environ=environ, path=config)
    assert options == SpeakOptions(
        translate="auto",
        tts="kokoro,openjtalk",
        speed=0.8,
        max_lag=4.0,
        print=True,
        stats=True,
        output=Path("~/speech.wav").expanduser(),
        play=True,
    )
    assert options.plays
    assert options.given == {"speed", "play"}  # only these are requests to a daemon


def test_defaults_when_nothing_is_set(tmp_path: Path):
    options = load_options(environ={}, path=tmp_path / "absent.toml")
    assert options == SpeakOptions()
    assert (options.translate, options.tts, options.plays) == ("nllb", "kokoro", True)


def test_output_alone_writes_instead_of_playing_and_device_index_is_a_number():
    assert not SpeakOptions(output=Path("a.wav")).plays
    assert SpeakOptions(output=Path("a.wav"), play=True).plays
    assert SpeakOptions(device="3").sound_device == 3
    assert SpeakOptions(device="MacBook Pro Speakers").sound_device == "MacBook Pro Speakers"


def test_config_path_follows_env_and_xdg(tmp_path: Path):
    assert config_path({"STREAMTTS_CONFIG": str(tmp_path / "c.toml")}) == tmp_path / "c.toml"
    expected = tmp_path / "xdg" / "streamtts" / "config.toml"
    assert config_path({"XDG_CONFIG_HOME": str(tmp_path / "xdg")}) == expected


@pytest.mark.parametrize(
    ("file_text", "environ", "message"),
    [
        ("colour = 1\n", {}, "unknown key 'colour' in {path}"),
        ("speed = 'fast'\n", {}, "speed = 'fast' in {path}: expected float"),
        ("print = 1\n", {}, "print = 1 in {path}: expected bool"),
        ("translate = [\n", {}, "cannot read config file {path}"),
        ("", {"STREAMTTS_MAX_LAG": "soon"}, "STREAMTTS_MAX_LAG='soon': expected a number"),
        ("", {"STREAMTTS_STATS": "maybe"}, "STREAMTTS_STATS='maybe': expected true or false"),
        ("", {"STREAMTTS_TRANSLATE": "google"}, "translate must be one of nllb, none, auto"),
        ("max_lag = -2\n", {}, "max_lag must be a positive number of seconds, not -2.0"),
    ],
)
def test_bad_option_values_name_their_origin(
    tmp_path: Path, file_text: str, environ: dict[str, str], message: str
):
    config = tmp_path / "config.toml"
    config.write_text(file_text)
    with pytest.raises(ConfigError) as caught:
        load_options(environ=environ, path=config)
    assert str(caught.value).startswith(message.format(path=config))


def test_bad_option_on_the_command_line_is_one_line_and_exit_1(tmp_path: Path):
    env = {"STREAMTTS_CONFIG": os.devnull}
    result = run_cli("speak", "--translate", "google", env=env)
    assert result.exit_code == 1
    assert result.stderr == "streamtts: translate must be one of nllb, none, auto, not 'google'\n"


def test_missing_input_file_is_one_line(tmp_path: Path):
    env = {"STREAMTTS_CONFIG": os.devnull}
    result = run_cli("speak", tmp_path / "nope.jsonl", env=env)
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"streamtts: cannot read {tmp_path / 'nope.jsonl'}: No such file or directory\n"
    )


def test_speaks_a_real_capture_with_partials_through_a_model_converted_here(
    tmp_path: Path, speaking_model: Path
):
    model = speaking_model
    wav, stats = tmp_path / "speech.wav", tmp_path / "stats.json"
    args = ["speak", str(DATA / "claude-own-partial.jsonl"), "--model-dir", str(model)]
    args += ["--output", str(wav), "--stats-json", str(stats), "--print", "--stats"]
    # Random weights may translate to Latin letters that Kokoro cannot say ("pd"): Open
    # JTalk, which spells them, speaks those.
    args += ["--tts", "kokoro,openjtalk"]
    result = run_cli(*args, env={"STREAMTTS_CONFIG": os.devnull})
    assert result.exit_code == 0, result.output
    texts = ["The parser drops the last unit.", "I will fix it now."]
    translator = load_translator("nllb", model_dir=model)
    translations = [translator.translate([text])[0] for text in texts]
    expected = "".join(f"{t}\n  {j}\n" for t, j in zip(texts, translations, strict=True))
    assert result.stdout == expected
    document = json.loads(stats.read_text())
    records = document["sentences"]
    got = [(r["seq"], r["text"], r["translation"]) for r in records]
    assert got == [(0, texts[0], translations[0]), (1, texts[1], translations[1])]
    assert [r["skipped"] for r in records] == [None, None]
    assert [r["player_idle"] for r in records] == [None, None]  # a file: no idle player
    for record in records:
        stamps = [record[k] for k in ("t_ready", "t_translated", "t_first_chunk", "t_audio_start")]
        assert stamps == sorted(stamps)
    assert document["summary"]["spoken"] == 2 and not document["summary"]["interrupted"]
    assert document["summary"]["gap_seconds"] == 0.0  # a file never runs dry
    assert set(document["summary"]["startup"]) >= {"translator load", "tts warm-up", "total"}
    with wave.open(str(wav)) as audio:
        frames = sum(round(r["audio_seconds"] * audio.getframerate()) for r in records)
        assert audio.getnframes() == frames
    lines = result.stderr.splitlines()
    assert re.fullmatch(
        r"streamtts: 2 sentences: 2 spoken, 0 skipped; \d+\.\d s of audio in \d+\.\d s; "
        r"ready in \d+\.\d\d s",
        lines[0],
    )
    # The command line's own imports come first (in this test process, done long ago).
    assert re.match(r"start-up: import \d+\.\d\d s, translator load ", lines[1])
    # MKL or OpenBLAS where one is installed (the development lock has MKL), else MLX's own.
    assert document["summary"]["blas"] == blas.in_use()
    assert lines[2] == f"MLX matrix products: {blas.in_use()}"
    assert lines[3].split() == ["stage", "p50", "ms", "p95", "ms", "n"]
    assert lines[4].startswith("wait (backlog)")  # a file is not waited for: no TTFA


def test_missing_model_is_one_line_that_says_to_convert(tmp_path: Path):
    env = {"STREAMTTS_CONFIG": os.devnull}
    args = ["speak", str(DATA / "claude-own-thinking.jsonl"), "--model-dir", str(tmp_path)]
    result = run_cli(*args, "--no-play", "--tts", "openjtalk", env=env)
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("streamtts: ") and "streamtts convert" in line
    assert "--translate none" in line


def speak_process(tmp_path: Path, *args: str, stdout: int = subprocess.PIPE) -> subprocess.Popen:
    pipes = {"stdin": subprocess.PIPE, "stdout": stdout, "stderr": subprocess.PIPE}
    args = ("speak", "--translate", "none", "--tts", "openjtalk", *args)
    return start_process(*args, env={"STREAMTTS_CONFIG": os.devnull}, **pipes)


JAPANESE = ["まずテストを実行して、どこで失敗しているかを確認します。", "原因が分かりました。"] * 3


def claude_lines(texts: list[str]) -> bytes:
    events = [
        {"type": "assistant", "message": {"id": f"m{i}", "content": [{"type": "text", "text": t}]}}
        for i, t in enumerate(texts)
    ]
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events).encode()


def test_ctrl_c_while_speaking_stops_at_once_with_exit_130_and_no_traceback(tmp_path: Path):
    stats = tmp_path / "stats.json"
    process = speak_process(tmp_path, "--device", "null", "--print", "--stats-json", str(stats))
    # stdin stays open, as while an agent is still working.
    process.stdin.write(claude_lines(JAPANESE))
    process.stdin.flush()
    assert process.stdout.readline().decode() == JAPANESE[0] + "\n"  # it is speaking now
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130
    stderr = process.stderr.read().decode()
    assert "Traceback" not in stderr
    assert re.fullmatch(
        r"streamtts: interrupted; 6 sentences: 0 spoken, 6 skipped \(interrupted 6\); "
        r"0\.0 s of audio in \d+\.\d s; ready in \d+\.\d\d s\n",
        stderr,
    )
    document = json.loads(stats.read_text())
    first = document["sentences"][0]
    assert first["t_audio_start"] is not None and first["t_audio_end"] is None


def test_a_closed_stdout_is_not_an_error(tmp_path: Path):
    process = speak_process(tmp_path, "--no-play", "--print")
    process.stdout.close()  # the subtitle reader went away (`streamtts speak --print | head -0`)
    _, stderr = process.communicate(claude_lines(JAPANESE[:2]), timeout=60)
    assert process.returncode == 0, stderr.decode()
    assert stderr.decode().startswith("streamtts: 2 sentences: 2 spoken, 0 skipped; ")
