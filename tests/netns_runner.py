"""Run one command against the fake model servers, in a network namespace of its own.

    unshare -n python tests/netns_runner.py SPEC.json      # as root

Inside the new namespace only loopback exists (brought up here), so nothing the agent CLIs
do can leave the machine, and the fixed ``PORT`` is always free. The runner serves
``tests/fake_models.py`` from ``SPEC["turns"]`` on a thread; runs a streamtts daemon on a
thread that keeps every record it finishes, at ``STREAMTTS_SOCKET`` of ``SPEC["env"]`` with
the speech options its ``STREAMTTS_*`` give, so that the clients run there speak through
it; runs ``SPEC["command"]`` through bash with ``SPEC["env"]`` in ``SPEC["cwd"]``; waits
until the daemon has spoken what was queued; and writes to ``SPEC["out"]``: ``rc``,
``sent`` (each sentence the fake model sent and when its last word went out), ``records``
(the daemon's, in the order they finished, stamps absolute) and ``hooks`` (each hook
input's ``hook_event_name`` and when it reached the daemon). All times are
``perf_counter``, one clock for every process here (CLOCK_MONOTONIC).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fake_models import FakeModelServer, Script

from streamtts.config import load_options
from streamtts.daemon.client import request
from streamtts.daemon.server import Daemon

PORT = 8765


def recording_daemon(
    environ: dict[str, str], records: list[dict], hooks: list[dict], speaking: threading.Event
) -> tuple[Daemon, Path]:
    """A warm daemon for ``environ`` that also keeps what it finished and the hooks it got,
    and sets ``speaking`` when a sentence starts playing; its socket."""

    class Recording(Daemon):
        def _route(self, event: str, record) -> None:
            if event == "started":
                speaking.set()
            super()._route(event, record)

        def _finish(self, record) -> None:
            records.append(asdict(record))
            super()._finish(record)

        def _op_hook(self, client, message: dict[str, Any]) -> dict[str, Any]:
            name = (message.get("input") or {}).get("hook_event_name")
            hooks.append({"event": name, "t": time.perf_counter()})
            return super()._op_hook(client, message)

    path = Path(environ["STREAMTTS_SOCKET"])
    daemon = Recording(load_options(environ=environ, path=Path(os.devnull)), path=path)
    threading.Thread(target=daemon.run, name="recording-daemon", daemon=True).start()
    while not request("status", path=path)["ready"]:
        time.sleep(0.05)
    return daemon, path


def busy(path: Path) -> bool:
    """Whether the daemon at ``path`` still has a sentence queued or playing."""
    status = request("status", path=path)
    return bool(status["queued"] or status["playing"])


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    script = Script(spec["turns"], word_delay=spec.get("word_delay", 0.02))
    server = FakeModelServer(script, PORT)
    server.start()
    records: list[dict] = []
    hooks: list[dict] = []
    daemon, socket = recording_daemon(spec["env"], records, hooks, script.speaking)
    command = subprocess.Popen(
        ["bash", "-c", spec["command"]], cwd=spec["cwd"], env=spec["env"], start_new_session=True
    )
    try:
        rc = command.wait(timeout=spec.get("timeout", 180))
    except subprocess.TimeoutExpired:
        os.killpg(command.pid, signal.SIGKILL)
        rc = 124
    # What was queued when the command ended is still spoken: wait until it has been.
    deadline = time.monotonic() + 60
    while busy(socket) and time.monotonic() < deadline:
        time.sleep(0.1)
    daemon.shutdown()
    server.shutdown()
    result = {"rc": rc, "sent": script.sent, "records": records, "hooks": hooks}
    Path(spec["out"]).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
