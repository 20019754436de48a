"""``streamtts-hook``: the command Claude Code runs for each hook event.

Claude Code waits for a command hook to exit before it goes on, so this hands its stdin to
the resident daemon and returns at once: stdlib only, no model code, no CLI framework, and
no wait for the daemon's reply. When no daemon runs it starts one (``connect_or_start``:
the daemon listens before loading its models, so that costs well under a second, once).
Claude Code holds each batch of a ``MessageDisplay`` until its hooks return, and adds a
``SessionStart`` or ``UserPromptSubmit`` hook's stdout to the model's context: this prints
nothing on stdout, so what is displayed and sent stays as it was, and it exits 0 whatever
happens: a speaking aid must never block or fail the session.
A problem is one line on stderr.
"""

from __future__ import annotations

import json
import sys

from streamtts.client import MAX_LINE, NoDaemon, connect, connect_or_start
from streamtts.errors import StreamttsError


def main() -> int:
    data = sys.stdin.buffer.read(MAX_LINE)
    try:
        payload = json.loads(data)
    except ValueError as error:
        print(f"streamtts-hook: the hook input is not JSON ({error})", file=sys.stderr)
        return 0
    event = payload.get("hook_event_name") if isinstance(payload, dict) else None
    try:
        # Ending a session has nothing to say (and 1.5 s for all its hooks): no daemon is
        # started for it. Any other event starts one, so that starting a session or
        # submitting a prompt has the models warm by the time the reply is drawn.
        with connect() if event == "SessionEnd" else connect_or_start() as connection:
            connection.send({"op": "hook", "input": payload})
    except StreamttsError as error:
        if not (event == "SessionEnd" and isinstance(error, NoDaemon)):
            print(f"streamtts-hook: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
