"""The resident daemon with real parts: its socket, its protocol, its policies, its controls.

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
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from daemons import ENV, answering, begin, run_hook, send, serve
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
from streamtts.daemon.client import MAX_LINE, Connection, connect, request
from streamtts.daemon.server import Daemon
from streamtts.errors import StreamttsError

# Real voices, models or processes, seconds each: left out of `make test-fast`.
pytestmark = pytest.mark.slow

OPTIONS = SpeakOptions(translate="none", tts="openjtalk", device="null")
# About 3.3 s of speech each.
LONG = [f"これは{n}番目の、少し長めの文です。" for n in "一二三四五六"]


@pytest.fixture
def start_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """``start_daemon(policy=..., max_age=...)``: a warm daemon on a thread; its socket."""
    running: list[tuple[Daemon, threading.Thread]] = []

    def start(speech: SpeakOptions = OPTIONS, *, ready: bool = True, **options: object) -> Path:
        path = tmp_path / "d.sock"
        monkeypatch.setenv("STREAMTTS_SOCKET", str(path))
        daemon = Daemon(speech, path=path, **options)
        thread = threading.Thread(target=daemon.run, daemon=True)
        thread.start()
        running.append((daemon, thread))
        if ready:
            wait_for(lambda: request("status")["ready"])
        return path

    yield start
    for daemon, thread in running:
        daemon.shutdown()
        thread.join(10)
        assert not thread.is_alive()


def records_until_done(connection: Connection) -> list[dict]:
    """The finished records of a stream, after its ``end``, in the order they came."""
    connection.send({"op": "end"})
    records = []
    for message in connection.replies():
        if message.get("event") == "finished":
            records.append(message["record"])
        if message.get("event") == "done":
            return records
    raise AssertionError("the daemon closed the connection before done")


def test_a_stream_is_spoken_and_each_record_comes_back_in_order(start_daemon):
    start_daemon()
    with begin() as connection:
        send(connection, ["一つ目です。", "二つ目です。", "三つ目です。"])
        records = records_until_done(connection)
    assert [r["seq"] for r in records] == [0, 1, 2]
    assert [r["text"] for r in records] == ["一つ目です。", "二つ目です。", "三つ目です。"]
    assert all(r["skipped"] is None and r["t_audio_end"] > r["t_audio_start"] for r in records)
    status = request("status")
    assert (status["spoken"], status["skipped"], status["queued"]) == (3, 0, 0)
    assert all(type(status[key]) is int for key in ("spoken", "skipped", "queued"))


def test_a_daemon_translating_with_nllb_sends_back_each_translation(
    start_daemon, speaking_model: Path
):
    from streamtts.daemon.remote import speech_options
    from streamtts.translate.base import load_translator

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


def test_a_daemon_whose_voice_does_not_load_says_why_until_shut_down(start_daemon):
    start_daemon(SpeakOptions(translate="none", tts="nosuchengine", device="null"), ready=False)
    error = wait_for(lambda: request("status")["error"])
    assert "nosuchengine" in error
    with pytest.raises(StreamttsError) as refused:
        request("speak", options={})
    assert str(refused.value) == (
        f"the daemon says: this daemon cannot speak: {error}; then `streamtts shutdown`"
    )
    assert request("ping")["ok"]


def test_bad_messages_get_an_error_reply_and_the_connection_keeps_serving(start_daemon):
    path = start_daemon()
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(path))
        reader = raw.makefile("rb")
        lines = [
            b"not json\n",
            b"[1, 2]\n",
            b'{"op": "nope"}\n',
            b'{"op": "sentence", "text": "x", "seq": 0}\n',
            b'{"op": "hook", "input": {"hook_event_name": "Stop"}}\n',
            b'{"op": "speak", "options": {"tts": "kokoro"}}\n',
            b"\xff\xfe\n",
            b'{"op": "ping"}\n',
        ]
        replies = []
        for line in lines:
            raw.sendall(line)
            replies.append(json.loads(reader.readline()))
    errors = [reply.get("error", "") for reply in replies]
    assert [reply["ok"] for reply in replies] == [False] * 7 + [True]
    assert errors[0].startswith("not JSON")
    assert errors[1] == "a message is a JSON object"
    assert errors[2].startswith("unknown op 'nope'; expected one of ping, status")
    assert errors[3] == "send {'op': 'speak'} before its sentences"
    assert errors[4] == "hook input without a session_id"
    assert errors[5] == "this daemon speaks with tts='openjtalk' (asked 'kokoro')"
    assert errors[6].startswith("not JSON")
    assert replies[7]["pid"] == os.getpid()


def test_a_line_over_the_limit_is_refused_and_only_that_client_is_dropped(start_daemon):
    path = start_daemon()
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(path))
        raw.sendall(b'{"op": "ping", "pad": "' + b"x" * MAX_LINE + b'"}\n')
        reply = json.loads(raw.makefile("rb").readline())
    assert reply == {"ok": False, "error": f"a line longer than {MAX_LINE} bytes"}
    assert request("ping")["ok"]


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


def test_hook_inputs_are_spoken_once_each(start_daemon):
    start_daemon()
    display = {"turn_id": "t1", "message_id": "m1"}
    inputs = [
        hook_input("SessionStart", source="startup"),
        hook_input("UserPromptSubmit", prompt="fix it"),
        hook_input("MessageDisplay", **display, index=0, final=False, delta="Let me look.\n"),
        hook_input("MessageDisplay", **display, index=1, final=True, delta="It is fixed."),
        hook_input("Stop", last_assistant_message="Let me look. It is fixed. All tests pass."),
    ]
    queued = [request("hook", input=data)["queued"] for data in inputs]
    assert queued == [0, 0, 1, 1, 1]
    wait_for(lambda: request("status")["spoken"] == 3)


@pytest.mark.parametrize("policy", ["queue", "latest"])
def test_hook_turns_are_exact_when_stop_comes_first_and_a_batch_late(start_daemon, policy):
    start_daemon(policy=policy)

    def turn(prompt_id: str, event: str, **fields: object) -> dict[str, object]:
        return hook_input(event, prompt_id=prompt_id, **fields)

    def batch(prompt_id: str, message: str, index: int, delta: str, final: bool):
        fields = {"message_id": message, "index": index, "final": final, "delta": delta}
        return turn(prompt_id, "MessageDisplay", turn_id=f"t-{prompt_id}", **fields)

    first = [
        hook_input("SessionStart", source="startup"),
        turn("p1", "UserPromptSubmit", prompt="fix it"),
        batch("p1", "m1", 0, "一つ目です。\n", False),
        turn("p1", "Stop", last_assistant_message="一つ目です。\n二つ目です。"),  # before…
        batch("p1", "m1", 1, "二つ目です。", True),  # …the last batch
    ]
    assert [request("hook", input=data)["queued"] for data in first] == [0, 0, 1, 1, 0]
    wait_for(lambda: request("status")["spoken"] == 2)
    second = [
        turn("p2", "UserPromptSubmit", prompt="and test it"),
        batch("p1", "m0", 0, "遅れた文です。", True),  # a message of p1, late past p2's start
        turn("p2", "Stop", last_assistant_message="三つ目です。"),
        batch("p2", "m2", 0, "三つ目です。", True),
    ]
    late = 1 if policy == "queue" else 0
    assert [request("hook", input=data)["queued"] for data in second] == [0, late, 1, 0]
    wait_for(lambda: request("status")["queued"] == 0 and request("status")["playing"] is None)
    status = request("status")
    assert (status["spoken"], status["skipped_by"]) == (
        (4, {}) if policy == "queue" else (3, {"superseded": 1})
    )


def test_a_hook_input_with_a_lone_surrogate_reaches_the_daemon_whole(start_daemon):
    start_daemon()
    # Claude Code's JSON may escape half a character ("\\ud83d"); it must survive the trip.
    stop = hook_input("Stop", last_assistant_message="Half \ud83d here. Done.")
    assert request("hook", input=stop)["queued"] == 2
    wait_for(lambda: request("status")["spoken"] + request("status")["skipped"] == 2)


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


def test_stop_reaches_past_ten_thousand_sentences(start_daemon):
    start_daemon()
    request("pause")  # nothing is spoken meanwhile, however slowly they arrive
    with begin("many") as connection:
        send(connection, [f"{n}。" for n in range(12_000)])
        wait_for(lambda: request("status")["queued"] >= 11_999, 120)
        assert request("stop")["cancelled"] == 12_000
        status = wait_for(lambda: (s := request("status"))["queued"] == 0 and s)
    assert (status["spoken"], status["skipped_by"]) == (0, {"stopped": 12_000})


def test_a_clients_disconnect_cancels_all_its_sentences(start_daemon):
    start_daemon()
    request("pause")
    connection = begin("many")
    send(connection, [f"{n}。" for n in range(12_000)])
    wait_for(lambda: request("status")["queued"] >= 11_999, 120)
    connection.close()
    status = wait_for(lambda: (s := request("status"))["queued"] == 0 and s)
    assert (status["spoken"], status["skipped_by"]) == (0, {"disconnected": 12_000})


def test_a_message_nested_too_deeply_gets_a_reply(start_daemon):
    path = start_daemon()
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(path))
        raw.sendall(b"[" * 100_000 + b"]" * 100_000 + b"\n")
        reply = json.loads(raw.makefile("rb").readline())
    assert reply == {"ok": False, "error": "a message nested too deeply to read"}


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
