"""``streamtts hooks install|uninstall|status``: Claude Code's hooks in its settings file."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from streamtts.cli.console import one_line_errors, print_line

app = typer.Typer(help="Make interactive Claude Code sessions speak, through Claude Code's hooks.")


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


@app.command("install")
def hooks_install(project: Project = None) -> None:
    """Add the streamtts hooks, keeping every other setting and hook (a backup is kept)."""
    from streamtts.claude import settings as claude_settings

    with one_line_errors():
        change = claude_settings.install(
            claude_settings.settings_path(project=project), hook_command()
        )
        _said(change, "installed in")


@app.command("uninstall")
def hooks_uninstall(project: Project = None) -> None:
    """Remove the streamtts hooks and nothing else."""
    from streamtts.claude import settings as claude_settings

    with one_line_errors():
        change = claude_settings.uninstall(claude_settings.settings_path(project=project))
        _said(change, "removed from")


@app.command("status")
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
