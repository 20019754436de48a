"""No internet socket, ever: the daemon and each voice traced in a network namespace of their own.

``streamtts serve`` runs under ``strace -f -e trace=socket,connect`` inside ``unshare -n``
(only a loopback that is down: nothing could leave even if something tried), loads its
voice, speaks a sentence a hook sent, stays up a while as a daemon does, and shuts down.
Any ``AF_INET`` or ``AF_INET6`` socket a thread or child of it asked for (a telemetry DNS
lookup, an update check) fails the test, whether or not it could have gone anywhere. The
switches streamtts sets for its dependencies (``streamtts.NO_NETWORK``) are taken out of
the environment first, so the daemon must set them itself. Needs root (``unshare``) and
strace (in the Makefile's APT_PACKAGES).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from daemons import answering
from helpers import hook_input, wait_for

from streamtts import NO_NETWORK
from streamtts.daemon.client import request
from streamtts.daemon.protocol import serve_command

STAY_UP = 15.0  # seconds the daemon runs after its sentence, before it is shut down

pytestmark = [
    # Real voices, models or processes, seconds each: left out of `make test-fast`.
    pytest.mark.slow,
    pytest.mark.skipif(
        os.getuid() != 0 or not shutil.which("strace") or not shutil.which("unshare"),
        reason="needs root, unshare and strace",
    ),
]


@pytest.mark.parametrize("tts", ["kokoro", "openjtalk", "espeak"])
def test_the_daemon_opens_no_internet_socket(tmp_path: Path, tts: str):
    path, trace = tmp_path / "streamtts.sock", tmp_path / "trace"
    environ = {k: v for k, v in os.environ.items() if k not in NO_NETWORK}
    environ.update(STREAMTTS_SOCKET=str(path), STREAMTTS_CONFIG=os.devnull)
    tracer = ["strace", "-f", "-qq", "-e", "trace=socket,connect", "-o", str(trace)]
    speech = ["--tts", tts, "--translate", "none", "--device", "null"]
    command = ["unshare", "-n", *tracer, *serve_command(speech)]
    process = subprocess.Popen(command, env=environ, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: answering(path) and request("status", path=path)["ready"], 120)
        said = hook_input("Stop", last_assistant_message="テストです。")
        assert request("hook", path=path, input=said)["queued"] == 1
        wait_for(lambda: request("status", path=path)["spoken"] == 1, 60)
        # Stay up as a daemon does: ONNX Runtime's telemetry first looked its host up about
        # 9 s after start here, then every few seconds (a wait, not a measurement).
        time.sleep(STAY_UP)
        request("shutdown", path=path)
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
    calls = trace.read_text().splitlines()
    assert any("AF_UNIX" in call for call in calls)  # the tracer saw the daemon's own socket
    assert [call for call in calls if "AF_INET" in call] == []
