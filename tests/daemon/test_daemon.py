"""The resident daemon with real parts: its policies and controls in time with real speech,
translation, the command line and the process. What it does whatever the voice (its
protocol, hook turns, stop reaching every queued sentence) is in ``test_serving.py``.

Each daemon here speaks with Open JTalk (real speech, many times faster than real time)
into the realtime null device, which plays at the sample clock as a sound card would, so
a sentence takes as long to play as it lasts. Most tests run ``Daemon`` on a thread and
talk to it through ``streamtts.daemon.client``; those about the process (signals, the socket
file, start on demand) run ``streamtts serve`` and ``streamtts-hook`` as the user would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest
from daemons import ENV, answering, begin, records_until_done, run_hook, send, serve
from helpers import (
    DATA,
    SPOKEN_BY_NLLB,
    hook_input,
    run_process,
    start_process,
    stderr_line,
    wait_for,
)

from streamtts.config import SpeakOptions
from streamtts.daemon.client import connect, request
from streamtts.errors import StreamttsError

# Real voices, models or processes, seconds each: left out of `make test-fast`.
pytestmark = pytest.mark.slow

# About 3.3 s of speech each.
LONG = [f"これは{n}番目の、少し長めの文です。" for n in "一二三四五六"]


def test_a_daemon_translating_with_nllb_sends_back_each_translation(
    start_daemon, speaking_model: Path
):
    from streamtts.daemon.protocol import speech_options
    from streamtts.translate import load_translator

    speech = SpeakOptions(
        translate="nllb", model_dir=speaking_model, tts="openjtalk", device="null"
    )
    start_daemon(speech)
    texts = list(SPOKEN_BY_NLLB[:2])
    with connect(timeout=60) as connection:
        connection.request({"op": "speak", "options": speech_options(speech)})
        send(connection, texts)
        records = records_until_done(connection)
    translator = load_translator("nllb", model_dir=speaking_model)
    expected = [translator.translate([text])[0] for text in texts]
    assert [(r["text"], r["translation"], r["skipped"]) for r in records] == [
        (text, translation, None) for text, translation in zip(texts, expected, strict=True)
    ]


def test_a_client_that_goes_away_loses_only_its_own_sentences(start_daemon):
    start_daemon()
    leaving = begin("leaving")
    send(leaving, LONG)
    wait_for(lambda: request("status")["playing"])
    with begin("staying") as staying:
        send(staying, ["残る文です。"])
        leaving.close()  # mid-stream: its first sentence is playing, the rest queued
        records = records_until_done(staying)
    assert [(r["text"], r["skipped"]) for r in records] == [("残る文です。", None)]
    status = request("status")
    assert status["skipped_by"] == {"disconnected": len(LONG)}
    assert status["spoken"] == 1


def test_latest_policy_silences_the_old_turn_when_a_new_one_speaks(start_daemon):
    start_daemon(policy="latest")
    old = begin("old turn")
    send(old, LONG)
    wait_for(lambda: request("status")["playing"])
    with begin("new turn") as new:
        send(new, ["新しい文です。"])
        records = records_until_done(new)
    assert [(r["text"], r["skipped"]) for r in records] == [("新しい文です。", None)]
    skipped = records_until_done(old)
    old.close()
    assert [r["skipped"] for r in skipped] == ["superseded"] * len(LONG)
    assert skipped[0]["t_audio_start"] is not None  # cut off while it was playing


def test_queue_policy_skips_what_waited_longer_than_max_age(start_daemon):
    start_daemon(max_age=5.0)
    with begin() as connection:
        send(connection, LONG)
        records = records_until_done(connection)
    kinds = [r["skipped"] for r in records]
    # All arrived at once, so a sentence cannot start before the audio ahead of it has
    # played: past 5 s of it, every later one is skipped. The first starts at once; whether
    # the second (3.3 s in, here) still fits depends on how busy the machine is.
    assert "max-age" in kinds
    spoken = kinds.index("max-age")
    assert spoken >= 1 and kinds == [None] * spoken + ["max-age"] * (len(LONG) - spoken)
    assert sum(r["audio_seconds"] for r in records[: spoken - 1]) <= 5.0
    assert request("status")["skipped_by"] == {"max-age": len(LONG) - spoken}


def test_stop_skip_pause_and_resume(start_daemon):
    start_daemon()
    connection = begin()
    send(connection, LONG)
    first = wait_for(lambda: request("status")["playing"])
    assert first == LONG[0]
    assert request("skip")["cancelled"] == 1
    second = wait_for(lambda: (p := request("status")["playing"]) != first and p)
    assert second == LONG[1]
    request("pause")
    time.sleep(4.0)  # longer than the sentence: paused, it does not end
    status = request("status")
    assert (status["paused"], status["playing"], status["spoken"]) == (True, second, 0)
    request("resume")
    wait_for(lambda: request("status")["spoken"] == 1)
    assert request("stop")["cancelled"] == len(LONG) - 2
    kinds = [r["skipped"] for r in records_until_done(connection)]
    connection.close()
    assert kinds == ["skipped", None] + ["stopped"] * (len(LONG) - 2)


def test_controls_without_a_daemon_say_so_in_one_line(tmp_path: Path):
    env = {"STREAMTTS_SOCKET": str(tmp_path / "none.sock")}
    for command in ("status", "stop", "skip", "pause", "resume", "shutdown"):
        result = run_process(command, env={**ENV, **env})
        assert result.returncode == 1
        assert result.stderr == (
            f"streamtts: no streamtts daemon runs ({tmp_path / 'none.sock'} is no socket): "
            "start `streamtts serve`\n"
        )


def test_status_json_and_text_through_the_command_line(start_daemon):
    start_daemon()
    status = json.loads(run_process("status", "--json", env=ENV).stdout)
    assert (status["spoken"], status["skipped"], status["queued"]) == (0, 0, 0)
    assert status["options"]["tts"] == "openjtalk"
    text = run_process("status", env=ENV).stdout.splitlines()
    assert text[1] == "models: translate none → tts openjtalk; ready"
    assert text[2] == "queued 0, spoken 0, skipped 0"


# -- the process ---------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_ends_on_a_signal_with_exit_0_and_removes_its_socket(tmp_path: Path, signum: int):
    path = tmp_path / "run" / "streamtts.sock"
    process = serve(path)
    try:
        wait_for(lambda: answering(path))
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
        process.send_signal(signum)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
    assert not path.exists()


def test_a_stale_socket_is_replaced_and_a_second_daemon_refused(tmp_path: Path):
    path = tmp_path / "streamtts.sock"
    with socket.socket(socket.AF_UNIX) as killed:  # bound and gone: what kill -9 leaves
        killed.bind(str(path))
    process = serve(path)
    try:
        wait_for(lambda: answering(path))
        second = serve(path)
        _, stderr = second.communicate(timeout=30)
        assert second.returncode == 1
        assert stderr.splitlines()[-1] == f"streamtts: a streamtts daemon already runs at {path}"
        assert answering(path)
        assert request("shutdown", path=path)["ok"]
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()


def test_a_path_that_is_not_a_socket_is_never_removed(tmp_path: Path):
    path = tmp_path / "streamtts.sock"
    path.write_text("precious")
    result = run_process("serve", env={**ENV, "STREAMTTS_SOCKET": str(path)}, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"streamtts: {path} exists and is not a socket; remove it"
    )
    assert path.read_text() == "precious"


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user needs root")
def test_a_socket_owned_by_another_user_is_refused_by_daemon_and_client(tmp_path: Path):
    path = tmp_path / "streamtts.sock"
    with socket.socket(socket.AF_UNIX) as theirs:
        theirs.bind(str(path))
    os.chown(path, 12345, 12345)
    expected = (
        f"{path} belongs to another user (uid 12345); set STREAMTTS_SOCKET to a path of your own"
    )
    result = run_process("serve", env={**ENV, "STREAMTTS_SOCKET": str(path)}, timeout=60)
    assert result.stderr.splitlines()[-1] == f"streamtts: {expected}"
    with pytest.raises(StreamttsError, match="belongs to another user"):
        connect(path)
    assert path.exists()


def test_speak_through_the_daemon_prints_and_records_what_an_own_run_does(tmp_path: Path):
    path = tmp_path / "streamtts.sock"
    example = DATA / "claude-own-partial.jsonl"
    process = serve(path)
    try:
        wait_for(lambda: answering(path))
        env = {**ENV, "STREAMTTS_SOCKET": str(path)}
        runs = {}
        for mode in ("--daemon", "--no-daemon"):
            stats = tmp_path / f"{mode}.json"
            args = ("speak", mode, "--print", "--stats", "--stats-json", str(stats), str(example))
            result = run_process(*args, env=env, timeout=120)
            assert result.returncode == 0, result.stderr
            runs[mode] = (result.stdout, json.loads(stats.read_text()), result.stderr)
        assert request("status", path=path)["spoken"] == 2
    finally:
        process.kill()
    (through, records, report), (own, own_records, own_report) = (
        runs["--daemon"],
        runs["--no-daemon"],
    )
    assert through == own == "The parser drops the last unit.\nI will fix it now.\n"
    strip = [
        {k: v for k, v in r.items() if k in ("text", "translation", "skipped")}
        for r in records["sentences"]
    ]
    own_strip = [
        {k: v for k, v in r.items() if k in ("text", "translation", "skipped")}
        for r in own_records["sentences"]
    ]
    assert strip == own_strip
    assert report.splitlines()[1].startswith("start-up: import ")
    assert ", connect to daemon " in report.splitlines()[1]
    assert "connect to daemon" not in own_report


def test_a_client_without_speech_options_speaks_through_any_daemon(tmp_path: Path):
    path, transcript = tmp_path / "streamtts.sock", tmp_path / "session.jsonl"
    example = DATA / "claude-own-partial.jsonl"
    daemon = serve(path, "--device", "null", "--tts", "openjtalk", "--translate", "none")
    # The client's own defaults (kokoro, nllb, the default device) are no request.
    env = {"STREAMTTS_CONFIG": os.devnull, "STREAMTTS_SOCKET": str(path)}
    transcript.write_bytes(b"")
    try:
        wait_for(lambda: answering(path))
        spoke = run_process("speak", "--stats", example, env=env)
        assert spoke.returncode == 0, spoke.stderr
        assert ", connect to daemon " in spoke.stderr.splitlines()[1]
        assert request("status", path=path)["spoken"] == 2
        same = run_process("speak", "--tts", "openjtalk", "--device", "null", example, env=env)
        assert (same.returncode, request("status", path=path)["spoken"]) == (0, 4)
        other = run_process("speak", "--tts", "kokoro", "--translate", "none", example, env=env)
        assert (other.returncode, other.stderr) == (
            1,
            f"streamtts: the streamtts daemon at {path} speaks with tts='openjtalk' "
            "(asked 'kokoro'): `streamtts shutdown` it to start one with these options, "
            "or add --no-daemon to speak in-process\n",
        )
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        watch = start_process("watch", "--print", transcript, env=env, **pipes)
        try:
            assert stderr_line(watch, "streamtts: ") == f"streamtts: following {transcript}\n"
            message = {"role": "assistant", "content": [{"type": "text", "text": "Watched."}]}
            line = {"type": "assistant", "uuid": "u1", "isSidechain": False, "message": message}
            with transcript.open("a") as handle:
                handle.write(json.dumps(line) + "\n")
            assert watch.stdout.readline().decode() == "Watched.\n"
            wait_for(lambda: request("status", path=path)["spoken"] == 5)
        finally:
            watch.kill()
            watch.wait()
    finally:
        daemon.kill()


def test_the_hook_command_starts_a_daemon_on_demand_and_hands_it_its_input(tmp_path: Path):
    path = tmp_path / "streamtts.sock"
    ended = run_hook(path, hook_input("SessionEnd", reason="other"))
    assert (ended.returncode, ended.stdout, ended.stderr) == (0, b"", b"")
    assert not path.exists()  # ending a session starts nothing
    try:
        started = run_hook(path, hook_input("SessionStart", source="startup"))
        assert (started.returncode, started.stdout, started.stderr) == (0, b"", b"")
        wait_for(lambda: answering(path))  # a slow machine's daemon may listen after that
        said = run_hook(path, hook_input("Stop", last_assistant_message="話します。"))
        assert (said.returncode, said.stdout) == (0, b"")
        wait_for(lambda: request("status", path=path)["spoken"] == 1)
        broken = run_hook(path, b"{")
        assert broken.returncode == 0
        assert broken.stderr.startswith(b"streamtts-hook: the hook input is not JSON")
    finally:
        if answering(path):
            request("shutdown", path=path)
            wait_for(lambda: not path.exists())


def test_watch_starts_a_daemon_with_its_own_options_and_speaks_through_it(tmp_path: Path):
    path, transcript = tmp_path / "streamtts.sock", tmp_path / "session.jsonl"
    transcript.write_bytes(b"")
    env = {"STREAMTTS_CONFIG": os.devnull, "STREAMTTS_SOCKET": str(path)}
    args = ["watch", transcript, "--print", "--translate", "none", "--tts", "openjtalk"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    process = start_process(*args, "--device", "null", env=env, **pipes)
    try:
        wait_for(lambda: answering(path) and request("status", path=path)["ready"])
        time.sleep(1.0)  # watch follows the transcript from its end by now
        message = {"role": "assistant", "content": [{"type": "text", "text": "Step one is done."}]}
        line = {"type": "assistant", "uuid": "u1", "isSidechain": False, "message": message}
        with transcript.open("a") as handle:
            handle.write(json.dumps(line) + "\n")
        assert process.stdout.readline().decode() == "Step one is done.\n"
        status = request("status", path=path)
        assert (status["options"]["tts"], status["options"]["translate"]) == ("openjtalk", "none")
        wait_for(lambda: request("status", path=path)["spoken"] == 1)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
        assert answering(path)  # the daemon outlives the watch that started it
    finally:
        process.kill()
        if answering(path):
            request("shutdown", path=path)
            wait_for(lambda: not path.exists())


def test_ctrl_c_of_a_speak_through_the_daemon_silences_its_sentences_there(tmp_path: Path):
    path = tmp_path / "streamtts.sock"
    daemon = serve(path)
    try:
        wait_for(lambda: answering(path) and request("status", path=path)["ready"])
        env = {**ENV, "STREAMTTS_SOCKET": str(path)}
        pipes = {"stdin": subprocess.PIPE, "stderr": subprocess.PIPE}
        speaking = start_process("speak", "--format", "text", env=env, text=True, **pipes)
        speaking.stdin.write("\n".join(LONG) + "\n")
        speaking.stdin.flush()
        wait_for(lambda: request("status", path=path)["playing"])
        speaking.send_signal(signal.SIGINT)
        assert speaking.wait(timeout=30) == 130
        status = wait_for(lambda: (s := request("status", path=path))["queued"] == 0 and s)
        assert status["playing"] is None
        assert status["skipped_by"] == {"disconnected": len(LONG)}
        assert "interrupted" in speaking.stderr.read()
    finally:
        daemon.kill()


# -- hostile clients (issue 17; the rest in test_hostile_daemon.py) -------------------------


def test_a_client_that_stops_reading_does_not_silence_the_others(start_daemon):
    start_daemon()
    stuck = begin("stuck")
    send(stuck, [f"{n}番目です。" for n in range(3000)])  # never reads a reply
    wait_for(lambda: request("status")["playing"])
    with begin("reader") as reader:
        send(reader, ["聞こえます。"])
        request("stop")  # the stuck client's sentences go, and each says so to it
        records = []
        reader.send({"op": "end"})
        for message in reader.replies():
            if message.get("event") == "finished":
                records.append(message["record"])
            if message.get("event") == "done":
                break
    assert [r["text"] for r in records] == ["聞こえます。"]
    stuck.close()


def test_status_into_a_pipe_closed_early_is_one_line(start_daemon):
    path = start_daemon()
    read, write = os.pipe()
    os.close(read)  # `status | head -1`: the reader has gone by the time status writes
    env = {**ENV, "STREAMTTS_SOCKET": str(path)}
    for args in (["status"], ["status", "--json"], ["stop"], ["hooks", "status"]):
        result = run_process(*args, stdout=write, env=env)
        assert (result.returncode, result.stderr) == (
            1,
            "streamtts: cannot write stdout: Broken pipe\n",
        )
    os.close(write)
