"""Source for interactive Claude Code: a session transcript followed as it is written.

An interactive session has no stdout to pipe, but Claude Code appends every finished
content block to a JSONL transcript under ``~/.claude/projects/<project>/<session>.jsonl``
while the turn is still going. ``follow_lines`` tails such a file from its current end
(history already there is never spoken), holds a half-written last line until its newline
arrives, and starts over when the file is truncated or replaced: a smaller size, or bytes
before its offset that are no longer the ones it read (a rewrite, another file under the
name, even one that got the old inode back; a copy that kept those bytes goes on). A file
briefly unreadable is waited for, and a line longer than ``MAX_LINE`` is skipped (counted
as oversized) without being held. With no file named, ``newest_transcript`` picks the
current directory's project (waiting for its first session when there is none yet), and
the follower moves to a newer session's file within half a second of its appearing,
reading that one from its start. Starting over never speaks history: a line stamped
(``timestamp``) before ``watch`` started is not spoken, whatever file it sits in.

``TranscriptParser`` keeps only what the assistant says on the main thread: ``text`` blocks
of ``assistant`` lines that are not sidechains (subagents). Thinking, tool calls, tool
results, user lines, summaries and file snapshots are never spoken; a tool call flushes the
sentence in progress, and a user prompt ends the turn. A line that is not JSON is counted
and skipped, and a line seen twice (same ``uuid``) is spoken once.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from streamtts.paths import claude_dir
from streamtts.reading.formats.base import Boundary, TextPiece
from streamtts.reading.stream import MAX_LINE, SourceStats

# Seconds between looks at the file's size: an append waits half of it on average, and
# the watch may add 50 ms at most; a stat() this often costs nothing measurable.
POLL = 0.02
# Polls between looks for a newer session: listing a project of many sessions costs more.
SCAN_EVERY = 25
_SEEN = 4096  # uuids remembered for de-duplication
READ_CHUNK = 1 << 20  # bytes read at once: a huge append is taken a piece at a time
_TAIL = 256  # bytes before the offset compared on each change: is it still the same file?


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

    def __init__(self, *, stats: SourceStats | None = None, since: float | None = None) -> None:
        """``since``: a line stamped before this time (seconds since the epoch) is history."""
        self.stats = stats if stats is not None else SourceStats(format="claude-transcript")
        self._seen: dict[str, None] = {}
        self._since = since

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
        if self._since is not None and _stamped_before(event.get("timestamp"), self._since):
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


def _stamped_before(stamp: Any, since: float) -> bool:
    """Whether an ISO 8601 ``timestamp`` (``2025-06-02T18:46:59.937Z``) is before ``since``.

    Claude Code stamps to the millisecond, so ``since`` is too: a line written in the
    millisecond ``watch`` started is not history.
    """
    if not isinstance(stamp, str):
        return False
    try:
        return datetime.fromisoformat(stamp).timestamp() < math.floor(since * 1000) / 1000
    except ValueError:  # not a time: judge the line by the rest
        return False


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
    stats: SourceStats | None = None,
) -> Iterator[bytes]:
    """Complete lines appended to a transcript from now on, until ``stop`` is set.

    ``path`` is followed as it is; with ``path`` None, the newest transcript in ``project``
    is followed and replaced by any newer one that appears (read from its start), looked
    for every ``SCAN_EVERY`` polls; while there is none (Claude Code makes the project's
    folder at its first prompt), the first one is waited for and read from its start.
    ``announce`` is told each file as its following begins, and None when it waits. A line
    over ``MAX_LINE`` bytes is counted in ``stats.oversized`` and skipped.
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
    follower = _File(current, at_end=not waited)
    announce(current)
    polls = 0
    while not stop.is_set():
        polls += 1
        if path is None and project is not None and polls % SCAN_EVERY == 0:
            newest = newest_transcript(project)
            if newest is not None and newest != follower.path:
                follower = _File(newest, at_end=False)
                announce(newest)
        try:
            data = follower.read()
        except OSError:  # rotated away, or unreadable for a moment: look again later
            data = b""
        if not data:
            stop.wait(poll)
            continue
        lines, oversized = follower.lines(data)
        if stats is not None:
            stats.oversized += oversized
        yield from lines


class _File:
    """One transcript file read from an offset: what was appended, and the lines it makes."""

    def __init__(self, path: Path, *, at_end: bool) -> None:
        self.path = path
        self._offset = 0
        self._tail = b""  # the last bytes read, just before the offset
        self._changed: tuple[int, int, int] | None = None  # inode, size, mtime last seen
        self._pending = b""
        self._skipping = False  # inside a line over MAX_LINE: dropped up to its newline
        if at_end:
            try:
                self._offset = path.stat().st_size
                with path.open("rb") as handle:
                    handle.seek(max(0, self._offset - _TAIL))
                    self._tail = handle.read(_TAIL)
            except OSError:  # not readable yet: its start is the end
                self._offset = 0

    def read(self) -> bytes:
        """The bytes appended since the last read (at most ``READ_CHUNK``); starts over from
        the beginning when the file is no longer the one read so far."""
        info = self.path.stat()
        changed = (info.st_ino, info.st_size, info.st_mtime_ns)
        if changed == self._changed and info.st_size == self._offset:
            return b""
        self._changed = changed
        with self.path.open("rb") as handle:
            start = self._offset - len(self._tail)
            handle.seek(start)
            if info.st_size < self._offset or handle.read(len(self._tail)) != self._tail:
                self._offset, self._tail, self._pending, self._skipping = 0, b"", b"", False
                handle.seek(0)
            data = handle.read(min(info.st_size - self._offset, READ_CHUNK))
        self._offset += len(data)
        self._tail = (self._tail + data)[-_TAIL:]
        return data

    def lines(self, data: bytes) -> tuple[list[bytes], int]:
        """The complete lines ``data`` ends, and how many lines over ``MAX_LINE`` it dropped."""
        *lines, self._pending = (self._pending + data).split(b"\n")
        oversized = 0
        if self._skipping and lines:
            lines, self._skipping = lines[1:], False  # the rest of the long one
        if len(self._pending) > MAX_LINE:
            self._pending, self._skipping = b"", True
            oversized += 1
        kept = [line for line in lines if len(line) <= MAX_LINE]
        return kept, oversized + len(lines) - len(kept)


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
    parser = TranscriptParser(stats=stats, since=time.time())
    follow = follow_lines(
        path, project=project, stop=stop, poll=poll, announce=announce, stats=parser.stats
    )
    for line in follow:
        yield from parser.feed_line(line)
