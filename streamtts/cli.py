"""Command-line interface: thin Typer commands that parse options and call the library.

Each command builds an options object and hands it to the stage that does the work;
errors the user can fix are printed as one line on stderr with a non-zero exit.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from streamtts import __version__

app = typer.Typer(
    name="streamtts",
    help="Speak a coding agent's prose aloud in Japanese, entirely on this machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class UserError(Exception):
    """An error the user can fix; the CLI prints its message as one line and exits 1."""


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``streamtts: <message>`` on stderr and return the Exit to raise."""
    typer.echo(f"streamtts: {message}", err=True)
    return typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"streamtts {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log what each stage does on stderr.")
    ] = False,
) -> None:
    """Speak a coding agent's prose aloud in Japanese, entirely on this machine."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="streamtts: %(levelname)s %(name)s: %(message)s",
    )
