"""What the resident daemon does with what its clients send, on a fake voice: its protocol
(replies, refusals, limits), the records of a stream in order, hook inputs made into turns
under each policy, and stop and disconnect reaching every queued sentence.

Each daemon here is a ``Daemon`` on a thread (the ``start_daemon`` fixture) speaking with
``fakes.FakeEngine`` into the realtime null device: nothing here depends on how a voice
sounds or how long it takes. The daemon with real voices, and as a process, is tested in
``test_daemon.py``.
"""

from __future__ import annotations

import json
import os
import socket

import pytest
from daemons import begin, records_until_done, send
from fakes import fake_engine
from helpers import hook_input, wait_for

from streamtts.config import SpeakOptions
from streamtts.daemon.client import request
from streamtts.daemon.protocol import MAX_LINE
from streamtts.errors import StreamttsError

FAKE = SpeakOptions(translate="none", tts="fake", device="null")


@pytest.fixture(autouse=True)
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_engine(monkeypatch)


def test_a_stream_is_spoken_and_each_record_comes_back_in_order(start_daemon):
    start_daemon(FAKE)
    with begin(tts=FAKE.tts) as connection:
        send(connection, ["一つ目です。", "二つ目です。", "三つ目です。"])
        records = records_until_done(connection)
    assert [r["seq"] for r in records] == [0, 1, 2]
    assert [r["text"] for r in records] == ["一つ目です。", "二つ目です。", "三つ目です。"]
    assert all(r["skipped"] is None and r["t_audio_end"] > r["t_audio_start"] for r in records)
    status = request("status")
    assert (status["spoken"], status["skipped"], status["queued"]) == (3, 0, 0)
    assert all(type(status[key]) is int for key in ("spoken", "skipped", "queued"))


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
    path = start_daemon(FAKE)
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
    assert errors[5] == "this daemon speaks with tts='fake' (asked 'kokoro')"
    assert replies[5]["conflict"] == "tts='fake' (asked 'kokoro')"
    assert errors[6].startswith("not JSON")
    assert replies[7]["pid"] == os.getpid()


def test_a_line_over_the_limit_is_refused_and_only_that_client_is_dropped(start_daemon):
    path = start_daemon(FAKE)
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(path))
        raw.sendall(b'{"op": "ping", "pad": "' + b"x" * MAX_LINE + b'"}\n')
        reply = json.loads(raw.makefile("rb").readline())
    assert reply == {"ok": False, "error": f"a line longer than {MAX_LINE} bytes"}
    assert request("ping")["ok"]


def test_hook_inputs_are_spoken_once_each(start_daemon):
    start_daemon(FAKE)
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
    start_daemon(FAKE, policy=policy)

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
    start_daemon(FAKE)
    # Claude Code's JSON may escape half a character ("\\ud83d"); it must survive the trip.
    stop = hook_input("Stop", last_assistant_message="Half \ud83d here. Done.")
    assert request("hook", input=stop)["queued"] == 2
    wait_for(lambda: request("status")["spoken"] + request("status")["skipped"] == 2)


def test_stop_reaches_past_ten_thousand_sentences(start_daemon):
    start_daemon(FAKE)
    request("pause")  # nothing is spoken meanwhile, however slowly they arrive
    with begin("many", FAKE.tts) as connection:
        send(connection, [f"{n}。" for n in range(12_000)])
        wait_for(lambda: request("status")["queued"] >= 11_999, 120)
        assert request("stop")["cancelled"] == 12_000
        status = wait_for(lambda: (s := request("status"))["queued"] == 0 and s)
    assert (status["spoken"], status["skipped_by"]) == (0, {"stopped": 12_000})


def test_a_clients_disconnect_cancels_all_its_sentences(start_daemon):
    start_daemon(FAKE)
    request("pause")
    connection = begin("many", FAKE.tts)
    send(connection, [f"{n}。" for n in range(12_000)])
    wait_for(lambda: request("status")["queued"] >= 11_999, 120)
    connection.close()
    status = wait_for(lambda: (s := request("status"))["queued"] == 0 and s)
    assert (status["spoken"], status["skipped_by"]) == (0, {"disconnected": 12_000})


def test_a_message_nested_too_deeply_gets_a_reply(start_daemon):
    path = start_daemon(FAKE)
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(path))
        raw.sendall(b"[" * 100_000 + b"]" * 100_000 + b"\n")
        reply = json.loads(raw.makefile("rb").readline())
    assert reply == {"ok": False, "error": "a message nested too deeply to read"}
