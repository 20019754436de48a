"""Add our command hooks to Claude Code's ``settings.json``, and take them out again.

The file is the user's, so we change as little as a JSON round trip allows: every key, hook
and matcher group that is not ours keeps its value and its place (the layout is rewritten
with indent 2). A hook entry is ours when its command's program is ``streamtts-hook`` or it
runs ``-m streamtts.hook``, whatever the path and whatever ``NAME=value`` settings come
first, so a reinstall from another venv updates our entry in place (keeping any keys the
user added to it, a ``timeout`` of their own too) instead of adding a second one.
Install and uninstall only read the events in ``HOOK_EVENTS``: a matcher group that never
held our hook is left as it was, even when empty. A file that is not JSON, or whose shape
we would have to guess at, is refused and left alone, and so is a number JSON cannot
write back (``1e400`` would come back as ``Infinity``, which is no JSON) and a file the
user made read-only. Before an existing file is changed,
its bytes are copied to ``settings.json.bak`` (then ``.bak.1``, ``.bak.2``…; an older
backup is never overwritten), with the file's permission bits, since settings can hold API
keys. The new file goes to a temporary file in the same directory, is fsynced and then
``os.replace``d over the old one, through a symlink to its target, so a crash leaves either
the old file or the new one.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import shlex
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from streamtts.errors import StreamttsError, from_os_error
from streamtts.paths import claude_dir, write_atomic

HOOK_EVENTS = ("MessageDisplay", "Stop", "UserPromptSubmit", "SessionStart", "SessionEnd")
HOOK_PROGRAM = "streamtts-hook"
HOOK_MODULE = "streamtts.hook"

Settings = dict[str, Any]


@dataclass(frozen=True)
class Change:
    """What ``install`` or ``uninstall`` did to one settings file.

    ``changed`` is False when the file already said what we wanted (it was not written);
    ``backup`` is the copy of the old bytes, or None when nothing existed or nothing
    changed; ``events`` are the events whose hooks were added, updated or removed.
    """

    path: Path
    changed: bool
    backup: Path | None
    events: tuple[str, ...]


def settings_path(*, project: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """``<project>/.claude/settings.json``, or the user's (in ``$CLAUDE_CONFIG_DIR`` if set,
    else ``~/.claude``), where Claude Code reads them."""
    if project is not None:
        return project / ".claude" / "settings.json"
    return claude_dir(environ) / "settings.json"


def is_ours(entry: object) -> bool:
    """Whether a hook entry runs ``streamtts-hook`` or ``python -m streamtts.hook``."""
    if not isinstance(entry, dict) or not isinstance(entry.get("command"), str):
        return False
    try:
        words = shlex.split(entry["command"])
    except ValueError:  # unbalanced quotes: not a command we wrote, but judge its words
        words = entry["command"].split()
    words = list(itertools.dropwhile(_is_assignment, words))
    if words and PurePosixPath(words[0]).name == HOOK_PROGRAM:
        return True
    return any(a == "-m" and b == HOOK_MODULE for a, b in itertools.pairwise(words))


def _is_assignment(word: str) -> bool:
    """``NAME=value``, as a shell reads before a command's name."""
    name, equals, _ = word.partition("=")
    return bool(equals) and name.isidentifier()


def install(path: Path, command: str, *, timeout: int = 5) -> Change:
    """Make each of ``HOOK_EVENTS`` run ``command`` (a shell command line) once."""
    if not is_ours({"command": command}):
        raise ValueError(f"{command!r} does not run {HOOK_PROGRAM} or -m {HOOK_MODULE}")
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    settings, raw = _load(path)
    updated, events = _with_hooks(settings, command, timeout)
    return _save(path, raw, updated, events)


def uninstall(path: Path) -> Change:
    """Remove our hook entries from ``HOOK_EVENTS``, and what that leaves empty."""
    settings, raw = _load(path)
    updated, events = _without_hooks(settings)
    return _save(path, raw, updated, events)


def status(path: Path) -> dict[str, str | None]:
    """For each of ``HOOK_EVENTS``, the command of our hook there, or None."""
    hooks = _load(path)[0].get("hooks", {})
    found: dict[str, str | None] = {}
    for event in HOOK_EVENTS:
        ours = [e for g in hooks.get(event, []) for e in g.get("hooks", []) if is_ours(e)]
        found[event] = ours[0]["command"] if ours else None
    return found


def _with_hooks(settings: Settings, command: str, timeout: int) -> tuple[Settings, tuple[str, ...]]:
    """``settings`` with one entry of ours per event, and the events that changed."""
    entry = {"type": "command", "command": command, "timeout": timeout}
    updated = copy.deepcopy(settings)
    hooks = updated.get("hooks", {})
    events = []
    for event in HOOK_EVENTS:
        groups = hooks.get(event, [])
        new = _placed(groups, entry)
        if new != groups:
            hooks[event] = new
            events.append(event)
    if events:
        updated["hooks"] = hooks  # a new "hooks" goes last; an old one keeps its place
    return updated, tuple(events)


def _placed(groups: list[Any], entry: Settings) -> list[Any]:
    """``groups`` whose first entry of ours becomes ``entry``; other ones of ours go."""
    result = []
    placed = False
    for group in groups:
        entries = group.get("hooks", [])
        if not any(is_ours(e) for e in entries):
            result.append(group)
            continue
        kept = []
        for e in entries:
            if not is_ours(e):
                kept.append(e)
            elif not placed:
                # Keeps e's key order, the keys the user added and a timeout they chose.
                timeout = e.get("timeout", entry["timeout"])
                kept.append({**e, **entry, "timeout": timeout})
                placed = True
        if kept:
            result.append({**group, "hooks": kept})
    if not placed:
        result.append({"hooks": [entry]})
    return result


def _without_hooks(settings: Settings) -> tuple[Settings, tuple[str, ...]]:
    """``settings`` with no entry of ours, and the events that lost one."""
    updated = copy.deepcopy(settings)
    hooks = updated.get("hooks", {})
    events = []
    for event in HOOK_EVENTS:
        groups = hooks.get(event, [])
        new = []
        for group in groups:
            entries = group.get("hooks", [])
            kept = [e for e in entries if not is_ours(e)]
            if len(kept) == len(entries):
                new.append(group)
            elif kept:
                new.append({**group, "hooks": kept})
        if new != groups:
            events.append(event)
            if new:
                hooks[event] = new
            else:
                del hooks[event]
    if events and not hooks:
        del updated["hooks"]
    return updated, tuple(events)


def _load(path: Path) -> tuple[Settings, bytes | None]:
    """The settings in ``path`` ({} when missing or empty) and its bytes (None if missing)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}, None
    except OSError as error:
        raise from_os_error("read", path, error) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise StreamttsError(f"{path} is not UTF-8 text (byte {error.start}); fix it") from None
    if not text.strip():
        return {}, raw
    try:
        settings = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as error:
        raise StreamttsError(
            f"{path} is not valid JSON: {error.msg} at line {error.lineno} column "
            f"{error.colno}; fix it by hand (Claude Code reads no comments either)"
        ) from None
    except ValueError as error:
        raise StreamttsError(f"{path} is not valid JSON: {error}; fix it by hand") from None
    _check_shape(path, settings)
    return settings, raw


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def _finite(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text} is too large to write back as JSON")
    return number


def _check_shape(path: Path, settings: object) -> None:
    """Refuse what we would have to guess at: containers on our events' path of wrong type."""

    def refuse(where: str, value: object, expected: str) -> StreamttsError:
        return StreamttsError(
            f"{path}: {where} is {_json_type(value)}, not {expected}; fix the file by hand"
        )

    if not isinstance(settings, dict):
        raise refuse("the top level", settings, "an object")
    hooks = settings.get("hooks", {})
    if not isinstance(hooks, dict):
        raise refuse('"hooks"', hooks, "an object")
    for event in HOOK_EVENTS:
        groups = hooks.get(event, [])
        if not isinstance(groups, list):
            raise refuse(f'"hooks"."{event}"', groups, "an array")
        for i, group in enumerate(groups):
            if not isinstance(group, dict):
                raise refuse(f'"hooks"."{event}"[{i}]', group, "an object")
            if not isinstance(group.get("hooks", []), list):
                raise refuse(f'"hooks"."{event}"[{i}]."hooks"', group["hooks"], "an array")


def _json_type(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _save(path: Path, raw: bytes | None, settings: Settings, events: tuple[str, ...]) -> Change:
    """Back up ``raw`` and write ``settings`` to ``path``, unless no event changed."""
    if not events:
        return Change(path=path, changed=False, backup=None, events=())
    text = json.dumps(settings, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    target = Path(os.path.realpath(path))  # a symlink stays; its target is replaced
    try:
        if raw is None:
            path.parent.mkdir(exist_ok=True)
            mode = None
            backup = None
        else:
            mode = stat.S_IMODE(os.stat(target).st_mode)
            if not mode & stat.S_IWUSR:  # replacing the file would undo the user's choice
                raise StreamttsError(f"{path} is read-only; make it writable to change it")
            backup = _backup(path, raw, mode)
        write_atomic(target, text.encode("utf-8"), mode=mode)
    except OSError as error:
        raise from_os_error("write", path, error) from None
    return Change(path=path, changed=True, backup=backup, events=events)


def _backup(path: Path, raw: bytes, mode: int) -> Path:
    """Copy ``raw`` to the first free name of ``<path>.bak``, ``<path>.bak.1``, …"""
    n = 0
    while True:
        backup = path.with_name(path.name + (".bak" if n == 0 else f".bak.{n}"))
        try:
            # O_EXCL: taking the name and creating the file is one step, so no backup
            # is ever overwritten, even by a second install running at the same time.
            fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            n += 1
            continue
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)  # the umask may have taken bits off
            f.write(raw)
        return backup
