"""The daemon's commands: ``serve``, its controls, ``hooks`` and ``service``.

Thin Typer commands like those of ``streamtts.cli``, which adds them to the app. The
controls (``status``, ``stop``, ``skip``, ``pause``, ``resume``, ``shutdown``) are one
request each over the socket (``streamtts.daemon.client``); with no daemon they say so in one
line and exit 1.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
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


hooks = typer.Typer(
    help="Make interactive Claude Code sessions speak, through Claude Code's hooks."
)
Project = Annotated[
    Path | None,
    typer.Option(
        help="A project directory: its .claude/settings.json instead of ~/.claude/settings.json.",
        show_default=False,
    ),
]


def hook_command() -> str:
    """The command Claude Code runs: this installation's ``streamtts-hook``, by full path."""
    script = Path(sys.executable).with_name("streamtts-hook")
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -P -m streamtts.hook"  # -P: see protocol.serve_command


@hooks.command("install")
def hooks_install(project: Project = None) -> None:
    """Add the streamtts hooks, keeping every other setting and hook (a backup is kept)."""
    from streamtts.claude import settings as claude_settings

    with one_line_errors():
        change = claude_settings.install(
            claude_settings.settings_path(project=project), hook_command()
        )
        _said(change, "installed in")


@hooks.command("uninstall")
def hooks_uninstall(project: Project = None) -> None:
    """Remove the streamtts hooks and nothing else."""
    from streamtts.claude import settings as claude_settings

    with one_line_errors():
        change = claude_settings.uninstall(claude_settings.settings_path(project=project))
        _said(change, "removed from")


@hooks.command("status")
def hooks_status(project: Project = None) -> None:
    """Say which of the streamtts hooks are installed."""
    from streamtts.claude import settings as claude_settings

    with one_line_errors():
        path = claude_settings.settings_path(project=project)
        installed = claude_settings.status(path)
        print_line(str(path))
        for event, command in installed.items():
            print_line(f"  {event:<17} {command or 'not installed'}")


def _said(change, done: str) -> None:
    if not change.changed:
        print_line(f"nothing to change in {change.path}")
        return
    backup = f" (backup: {change.backup})" if change.backup else ""
    print_line(f"hooks {', '.join(change.events)} {done} {change.path}{backup}")


service = typer.Typer(help="Run `streamtts serve` as a per-user service (launchd or systemd).")


@service.command("install")
def service_install(
    tts: Tts = None,
    voice: Voice = None,
    policy: Policy = "queue",
) -> None:
    """Write a launchd agent (macOS) or systemd user unit (Linux) that runs `serve`."""
    from streamtts.daemon import service as services
    from streamtts.daemon.protocol import serve_command, socket_path

    argv = serve_command(["--policy", policy])
    argv += ["--tts", tts] if tts else []
    argv += ["--voice", voice] if voice else []
    with one_line_errors():
        written = services.install(argv, log_dir=socket_path().parent)
    print_line(f"wrote {written.path}; start it with:")
    for command in written.enable:
        print_line("  " + shlex.join(command))


@service.command("uninstall")
def service_uninstall() -> None:
    """Remove the service file `service install` wrote."""
    from streamtts.daemon import service as services

    with one_line_errors():
        removed = services.uninstall()
    if removed is None:
        print_line("no streamtts service is installed")
        return
    print_line(f"removed {removed.path}; if it was running, stop it with:")
    for command in removed.disable:
        print_line("  " + shlex.join(command))
