"""Talking to a daemon in tests: the options every test daemon runs with, starting one,
the protocol messages a client sends, and the hook command Claude Code runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import start_process

from streamtts.config import SpeakOptions
from streamtts.daemon.client import Connection, NoDaemon, connect, request
from streamtts.errors import StreamttsError

ENV = {"STREAMTTS_TRANSLATE": "none", "STREAMTTS_TTS": "openjtalk", "STREAMTTS_DEVICE": "null"}
OPTIONS = SpeakOptions(translate="none", tts="openjtalk", device="null")  # ENV, for Daemon
# The hook command of this installation, as `streamtts hooks install` writes it.
HOOK = Path(sys.executable).with_name("streamtts-hook")


def begin(source: str = "test", tts: str = "openjtalk") -> Connection:
    """A connection that has asked to speak, as ``source``, with the engine ``tts``."""
    connection = connect(timeout=30)
    connection.request({"op": "speak", "options": {"tts": tts}, "source": source})
    return connection


def send(connection: Connection, texts: list[str]) -> None:
    for seq, text in enumerate(texts):
        connection.send({"op": "sentence", "text": text, "seq": seq})


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


def serve(path: Path, *args: str) -> subprocess.Popen:
    """``streamtts serve ARGS`` at ``path`` with ``ENV``; its stderr (text) is a pipe."""
    env = {**ENV, "STREAMTTS_SOCKET": str(path)}
    return start_process("serve", *args, env=env, stderr=subprocess.PIPE, text=True)


def run_hook(
    path: Path,
    data: bytes | dict,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess:
    """Run ``streamtts-hook`` for the daemon at ``path`` (with ``ENV`` and then ``env``) on
    ``data`` as Claude Code writes it (UTF-8 JSON), waited for; stdout and stderr are bytes."""
    raw = data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False).encode()
    environ = {**os.environ, **ENV, "STREAMTTS_SOCKET": str(path), **(env or {})}
    return subprocess.run([str(HOOK)], input=raw, capture_output=True, env=environ, cwd=cwd)


def answering(path: Path) -> bool:
    try:
        request("ping", path=path)
    except (NoDaemon, StreamttsError):
        return False
    return True
