"""The daemon tests' fixture: a ``Daemon`` on a thread of the test's process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from daemons import OPTIONS
from helpers import wait_for

from streamtts.config import SpeakOptions
from streamtts.daemon.client import request
from streamtts.daemon.server import Daemon


@pytest.fixture
def start_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """``start_daemon(speech, policy=..., max_age=...)``: a warm daemon on a thread, speaking
    with ``speech`` (default ``daemons.OPTIONS``), at a socket that the test's environment
    names; its path."""
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
