"""Source for interactive Claude Code: a session transcript followed as it is written.

An interactive session has no stdout to pipe, but Claude Code appends every finished
content block to a JSONL transcript under ``~/.claude/projects/<project>/<session>.jsonl``
while the turn is still going. ``follow_lines`` tails such a file from its current end
(history already there is never spoken), holds a half-written last line until its newline
arrives, and starts over when the file is truncated or replaced (a new inode). With no file
named, ``newest_transcript`` picks the current directory's project (waiting for its first
session when there is none yet), and the follower moves to a newer session's file within
half a second of its appearing, reading that one from its start.

``TranscriptParser`` keeps only what the assistant says on the main thread: ``text`` blocks
of ``assistant`` lines that are not sidechains (subagents). Thinking, tool calls, tool
results, user lines, summaries and file snapshots are never spoken; a tool call flushes the
sentence in progress, and a user prompt ends the turn. A line that is not JSON is counted
and skipped, and a line seen twice (same ``uuid``) is spoken once.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from streamtts.paths import claude_dir
from streamtts.source import Boundary, SourceStats, TextPiece

# Seconds between looks at the file's size: an append waits half of it on average, and
# the watch may add 50 ms at most; a stat() this often costs nothing measurable.
POLL = 0.02
# Polls between looks for a newer session: listing a project of many sessions costs more.
SCAN_EVERY = 25
_SEEN = 4096  # uuids remembered for de-duplication


def projects_dir() -> Path:
    """Where Claude Code keeps its transcripts: ``projects`` in ``paths.claude_dir()``."""
    return claude_dir() / "projects"


def project_key(cwd: Path) -> str:
    """The folder name Claude Code gives a project: its absolute path, each other char ``-``."""
    return re.sub(r"[^A-Za-z0-9-]", "-", str(cwd.resolve()))


def newest_transcript(project: Path) -> Path | None:
    """The most recently written session transcript in ``project``, if any."""
    sessions = [path for path in project.glob("*.jsonl") if path.is_file()]
    return max(sessions, key=lambda path: path.stat().st_mtime_ns, default=None)


class TranscriptParser:
    """Transcript lines to the pieces of main-thread assistant text they add."""

    def __init__(self, *, stats: SourceStats | None = None) -> None:
        self.stats = stats if stats is not None else SourceStats(format="claude-transcript")
        self._seen: dict[str, None] = {}

    def feed_line(self, line: bytes) -> list[TextPiece]:
        self.stats.lines += 1
        text = line.decode("utf-8", "replace").strip()
        if not text:
            return []
        try:
            event = json.loads(text)
        except (ValueError, RecursionError):
            self.stats.malformed += 1
            return []
        if not isinstance(event, dict) or event.get("isSidechain") is True:
            return []
        if not self._first_time(event.get("uuid")):
            return []
        message = event.get("message")
        if not isinstance(message, dict):
            return []
        if event.get("type") == "assistant":
            return _assistant_pieces(message.get("content"))
        if event.get("type") == "user" and _is_prompt(message.get("content")):
            return [TextPiece("", Boundary.TURN)]
        return []

    def _first_time(self, uuid: Any) -> bool:
        if not isinstance(uuid, str):
            return True
        if uuid in self._seen:
            return False
        if len(self._seen) >= _SEEN:
            del self._seen[next(iter(self._seen))]
        self._seen[uuid] = None
        return True


def _assistant_pieces(content: Any) -> list[TextPiece]:
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    pieces = []
    for block in content if isinstance(content, list) else ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and isinstance(block.get("text"), str):
            pieces.append(TextPiece(block["text"], Boundary.BLOCK))
        elif str(kind).endswith("tool_use"):
            pieces.append(TextPiece("", Boundary.TOOL))
    return pieces


def _is_prompt(content: Any) -> bool:
    """A user line the person typed, not a tool result handed back to the model."""
    if isinstance(content, str):
        return True
    blocks = content if isinstance(content, list) else ()
    return not any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks)


def follow_lines(
    path: Path | None,
    *,
    project: Path | None = None,
    stop: threading.Event,
    poll: float = POLL,
    announce: Callable[[Path | None], None] = lambda path: None,
) -> Iterator[bytes]:
    """Complete lines appended to a transcript from now on, until ``stop`` is set.

    ``path`` is followed as it is; with ``path`` None, the newest transcript in ``project``
    is followed and replaced by any newer one that appears (read from its start), looked
    for every ``SCAN_EVERY`` polls; while there is none (Claude Code makes the project's
    folder at its first prompt), the first one is waited for and read from its start.
    ``announce`` is told each file as its following begins, and None when it waits.
    """
    current = path
    if current is None and project is not None and project.is_dir():
        current = newest_transcript(project)
    waited = current is None
    if waited:
        announce(None)
        current = _wait_for_transcript(project, stop, poll)
    if current is None:
        return
    offset = 0 if waited else current.stat().st_size
    inode = current.stat().st_ino
    pending = b""
    announce(current)
    polls = 0
    while not stop.is_set():
        polls += 1
        if path is None and project is not None and polls % SCAN_EVERY == 0:
            newest = newest_transcript(project)
            if newest is not None and newest != current:
                current, offset, inode, pending = newest, 0, newest.stat().st_ino, b""
                announce(current)
        try:
            info = current.stat()
        except FileNotFoundError:  # rotated away; the next one may not be there yet
            stop.wait(poll)
            continue
        if info.st_ino != inode or info.st_size < offset:  # replaced or truncated
            offset, inode, pending = 0, info.st_ino, b""
        if info.st_size > offset:
            with current.open("rb") as handle:
                handle.seek(offset)
                data = handle.read(info.st_size - offset)
            offset += len(data)
            *lines, pending = (pending + data).split(b"\n")
            yield from lines
        else:
            stop.wait(poll)


def _wait_for_transcript(project: Path | None, stop: threading.Event, poll: float) -> Path | None:
    while project is not None and not stop.is_set():
        found = newest_transcript(project) if project.is_dir() else None
        if found is not None:
            return found
        stop.wait(poll)
    return None


def watch_pieces(
    path: Path | None,
    *,
    project: Path | None = None,
    stop: threading.Event,
    stats: SourceStats | None = None,
    poll: float = POLL,
    announce: Callable[[Path | None], None] = lambda path: None,
) -> Iterator[TextPiece]:
    """The pieces of assistant text written to a transcript from now on (see module doc)."""
    parser = TranscriptParser(stats=stats)
    for line in follow_lines(path, project=project, stop=stop, poll=poll, announce=announce):
        yield from parser.feed_line(line)
