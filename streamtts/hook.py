"""``streamtts-hook``: the command Claude Code runs for each hook event.

Claude Code waits for a command hook to exit before it goes on, so this hands its stdin to
the resident daemon and returns at once: stdlib only, no model code, no CLI framework, and
no wait for the daemon's reply. When no daemon runs it starts one (``connect_or_start``:
the daemon listens before loading its models, so that costs well under a second, once).
Claude Code holds each batch of a ``MessageDisplay`` until its hooks return, and adds a
``SessionStart`` or ``UserPromptSubmit`` hook's stdout to the model's context: this prints
nothing on stdout, so what is displayed and sent stays as it was, and it exits 0 whatever
happens: a speaking aid must never block or fail the session. Every wait (the connect, a
daemon starting, a daemon too busy or stopped to read) ends within ``BUDGET`` seconds, and
a daemon that failed to start is not started again on every call (``RETRY_AFTER``). A
daemon still starting when the budget is spent (a slow machine's first call) gets the
input from a detached child of this process, which waits for it as long as a client does.
A problem is one line on stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from typing import BinaryIO

from streamtts.daemon.client import NoDaemon, Starting, connect, connect_or_start
from streamtts.daemon.protocol import MAX_INPUT
from streamtts.errors import StreamttsError

BUDGET = 0.8  # seconds this may wait in all, whatever the daemon does


def main() -> int:
    try:
        hand_over(sys.stdin.buffer)
    except Exception as error:  # whatever it is, the session goes on
        _say(f"{type(error).__name__}: {error}")
    return 0


def hand_over(stdin: BinaryIO) -> None:
    """Send one hook input to the daemon, or say in one line why not."""
    deadline = time.monotonic() + BUDGET
    data = stdin.read(MAX_INPUT + 1)
    if len(data) > MAX_INPUT:
        _say(f"the hook input is over {MAX_INPUT} bytes; it is not spoken")
        return
    try:
        payload = json.loads(data)
    except RecursionError:
        _say("the hook input is nested too deeply to read")
        return
    except ValueError as error:
        _say(f"the hook input is not JSON ({error})")
        return
    event = payload.get("hook_event_name") if isinstance(payload, dict) else None
    try:
        # Ending a session has nothing to say (and 1.5 s for all its hooks): no daemon is
        # started for it. Any other event starts one, so that starting a session or
        # submitting a prompt has the models warm by the time the reply is drawn.
        if event == "SessionEnd":
            connection = connect(timeout=BUDGET)
        else:
            connection = connect_or_start(wait=BUDGET, retry_failed=False)
        with connection:
            connection.settimeout(max(0.001, deadline - time.monotonic()))
            connection.send({"op": "hook", "input": payload})
    except Starting:
        _hand_over_later(payload)
    except StreamttsError as error:
        if not (event == "SessionEnd" and isinstance(error, NoDaemon)):
            _say(str(error))


def _hand_over_later(payload: object) -> None:
    """Send ``payload`` from a detached child once the daemon listens; return at once.

    The child lets go of the hook's stdout and stderr, which Claude Code reads to their end.
    """
    if os.fork() != 0:
        return
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        with connect_or_start(retry_failed=False) as connection:
            connection.send({"op": "hook", "input": payload})
    finally:
        os._exit(0)


def _say(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # stderr closed or full: nobody to tell
        print(f"streamtts-hook: {line}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
