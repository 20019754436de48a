"""``streamtts service install|uninstall``: ``serve`` as a launchd agent or systemd user unit."""

from __future__ import annotations

import shlex

import typer

from streamtts.cli.console import one_line_errors, print_line
from streamtts.cli.daemon import Policy
from streamtts.cli.options import Tts, Voice

app = typer.Typer(help="Run `streamtts serve` as a per-user service (launchd or systemd).")


@app.command("install")
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


@app.command("uninstall")
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
