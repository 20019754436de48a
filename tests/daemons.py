"""Talking to a daemon in tests: the options every test daemon runs with, starting one,
and the protocol messages a client sends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from streamtts.daemon.client import Connection, NoDaemon, connect, request
from streamtts.errors import StreamttsError

ENV = {"STREAMTTS_TRANSLATE": "none", "STREAMTTS_TTS": "openjtalk", "STREAMTTS_DEVICE": "null"}


def begin(source: str = "test") -> Connection:
    connection = connect(timeout=30)
    connection.request({"op": "speak", "options": {"tts": "openjtalk"}, "source": source})
    return connection


def send(connection: Connection, texts: list[str]) -> None:
    for seq, text in enumerate(texts):
        connection.send({"op": "sentence", "text": text, "seq": seq})


def hook_input(event: str, **fields: object) -> dict[str, object]:
    return {"session_id": "s1", "cwd": "/tmp", "hook_event_name": event, **fields}


def serve(path: Path, *args: str) -> subprocess.Popen:
    environ = {**os.environ, **ENV, "STREAMTTS_SOCKET": str(path)}
    command = [sys.executable, "-m", "streamtts", "serve", *args]
    return subprocess.Popen(command, env=environ, stderr=subprocess.PIPE, text=True)


def answering(path: Path) -> bool:
    try:
        request("ping", path=path)
    except (NoDaemon, StreamttsError):
        return False
    return True
