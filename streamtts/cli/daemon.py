"""The daemon's commands: ``serve``, ``status`` and its controls (``CONTROLS``: ``stop``,
``skip``, ``pause``, ``resume``, ``shutdown``).

``status`` and the controls are one request each over the socket
(``streamtts.daemon.client``); with no daemon they say so in one line and exit 1.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Annotated

import typer

from streamtts.cli.console import exit_interrupted, one_line_errors, print_line, signals_interrupt
from streamtts.cli.options import (
    FLAG,
    Device,
    MaxLag,
    ModelDir,
    Output,
    Play,
    Speed,
    Translate,
    Tts,
    Voice,
    choices,
    speak_options,
)
from streamtts.daemon.protocol import CONTROLS, MAX_AGE, POLICIES

Policy = Annotated[
    str,
    typer.Option(
        envvar="STREAMTTS_POLICY",
        help="queue: speak every source in turn; latest: a new turn silences the old one.",
        metavar=choices(POLICIES),
    ),
]
MaxAge = Annotated[
    float,
    typer.Option(
        envvar="STREAMTTS_MAX_AGE",
        help="Under --policy queue, skip a sentence that waited longer than SECONDS.",
        metavar="SECONDS",
    ),
]


commands = typer.Typer()


@commands.command()
def serve(
    translate: Translate = None,
    model_dir: ModelDir = None,
    tts: Tts = None,
    voice: Voice = None,
    speed: Speed = None,
    device: Device = None,
    output: Output = None,
    play: Play = None,
    max_lag: MaxLag = None,
    policy: Policy = "queue",
    max_age: MaxAge = MAX_AGE,
) -> None:
    """Keep the translator and the voice warm and speak what clients send, until stopped.

    Listens at $STREAMTTS_SOCKET, else streamtts.sock in $XDG_RUNTIME_DIR, else in the user
    cache dir. `speak`, `say` and `watch` use it when it runs; Claude Code's hooks
    (`streamtts hooks install`) start it when it does not. SIGTERM or Ctrl-C: silence, exit 0.
    """
    given = {key: value for key, value in locals().items() if key not in ("policy", "max_age")}
    options = speak_options(given)
    from streamtts.daemon.protocol import socket_path
    from streamtts.daemon.server import Daemon

    # Its log says when it listens, when it is ready (models, load times) and when it stops.
    logging.getLogger("streamtts.daemon.server").setLevel(logging.INFO)
    with one_line_errors(), signals_interrupt():
        daemon = Daemon(options, path=socket_path(), policy=policy, max_age=max_age)
        with contextlib.suppress(KeyboardInterrupt):  # SIGTERM, SIGHUP or Ctrl-C: the end
            daemon.run()
    exit_interrupted(0)  # at once: ONNX Runtime or MLX threads may still be running


@commands.command()
def status(
    as_json: Annotated[
        bool, typer.Option("--json", metavar=FLAG, help="Print the daemon's status as JSON.")
    ] = False,
) -> None:
    """Say whether the daemon runs: since when, which models, queue and counts."""
    from streamtts.daemon.client import request

    with one_line_errors():  # a stdout closed early (`| head -1`) too: one line
        reply = request("status")
        if as_json:
            print_line(json.dumps(reply, ensure_ascii=False))
        else:
            _print_status(reply)


def _print_status(reply: dict) -> None:
    options = reply["options"]
    up = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(reply["since"]))
    print_line(f"daemon {reply['pid']} at {reply['socket']}, up since {up}")
    voice = f", voice {options['voice']}" if options["voice"] else ""
    state = "ready" if reply["ready"] else "loading the models"
    if reply["error"]:
        state = f"cannot speak: {reply['error']}"
    print_line(f"models: translate {options['translate']} → tts {options['tts']}{voice}; {state}")
    skipped = ", ".join(f"{kind} {n}" for kind, n in reply["skipped_by"].items())
    print_line(
        f"queued {reply['queued']}, spoken {reply['spoken']}, skipped {reply['skipped']}"
        + (f" ({skipped})" if skipped else "")
        + (", paused" if reply["paused"] else "")
    )
    if reply["playing"]:
        print_line(f"playing: {reply['playing']}")


def control(op: str) -> Callable[[], None]:
    """The command of one of the daemon's controls (``CONTROLS``): one request, one line."""

    def command() -> None:
        from streamtts.daemon.client import request

        with one_line_errors():
            reply = request(op)
            cancelled = reply.get("cancelled")
            said = CONTROLS[op].said
            print_line(said if cancelled is None else f"{said}: {cancelled} sentence(s)")

    command.__name__ = op
    command.__doc__ = CONTROLS[op].help
    return command


for _op in CONTROLS:
    commands.command(name=_op)(control(_op))
