"""Command-line interface: thin Typer commands that parse options and call the library.

Each command builds an options object and hands it to the library. The commands live by
group: ``speak`` (speak, watch, say, sentences), ``models`` (convert, fetch-xtts, translate,
voices, devices), ``daemon`` (serve, status, the controls), ``hooks`` and ``service``; the
parameters they share are ``options``, and ``console`` holds how they print and fail. Every
command runs inside ``console.one_line_errors``: an error the user can fix is one line on
stderr with exit 1, and Ctrl-C, SIGTERM or SIGHUP end the command with exit 130.
"""

# ruff: noqa: E402 - the clock below starts before the imports it measures
from __future__ import annotations

import time

_IMPORT_STARTED = time.perf_counter()

import logging
from typing import Annotated

import typer

from streamtts import __version__
from streamtts.cli import daemon, hooks, models, service, speak
from streamtts.cli.console import replace_unencodable
from streamtts.cli.options import FLAG

app = typer.Typer(
    name="streamtts",
    help="Speak a coding agent's prose aloud in Japanese, entirely on this machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"streamtts {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, metavar=FLAG, help="Print the version."
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", metavar=FLAG, help="Log what each stage does on stderr."),
    ] = False,
) -> None:
    """Speak a coding agent's prose aloud in Japanese, entirely on this machine."""
    replace_unencodable()
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="streamtts: %(levelname)s %(name)s: %(message)s",
    )


# Each command group is a module of its own; these are the commands in the order of --help.
app.add_typer(speak.commands)
app.add_typer(models.commands)
app.add_typer(daemon.commands)
app.add_typer(hooks.app, name="hooks")
app.add_typer(service.app, name="service")

IMPORT_SECONDS = time.perf_counter() - _IMPORT_STARTED  # the command line's own import
