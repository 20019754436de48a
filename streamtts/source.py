"""Source stage: an agent's output as bytes in, the prose to speak as ``TextPiece``s out.

The reader takes bytes line by line with ``readline(limit)``, which returns as soon as a
line is complete (so a live pipe is never waited on for more than one line) and never
holds more than one line: a line longer than ``SKIM_AFTER`` whose first bytes show an
event that is never spoken (a tool result, a subagent's user turn) is dropped as it
streams without being held, and no line over ``MAX_LINE`` is held at all. Each line is
decoded with invalid UTF-8 replaced and handed to one small parser per format, chosen
from the first events: Claude Code stream-json (with or without partial messages),
OpenAI Codex ``exec --json``, Gemini CLI stream-json, or plain text. A parser turns one
event into pieces; what it must remember across events (which message blocks were
already spoken from deltas, whether anything was spoken this turn) is a few fields.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal, get_args

log = logging.getLogger(__name__)

InputFormat = Literal["auto", "claude", "codex", "gemini", "text"]
FORMATS: tuple[str, ...] = get_args(InputFormat)
CHUNK = 64 * 1024  # readline's limit: a long line arrives in pieces of at most this size
SKIM_AFTER = 64 * 1024
MAX_LINE = 32 * 1024 * 1024
# Format detection buffers at most this many undecided events, then settles on Claude.
_DETECT_EVENTS = 32
_MAX_WARNINGS = 10

# The head of a line that carries nothing to speak, in any format: such a line need not
# be held in full however long it is (Claude tool results arrive as "user" events).
_NEVER_SPOKEN = re.compile(
    rb'\s*\{\s*"type"\s*:\s*"(?:user|system|tool_result|tool_use|rate_limit_event'
    rb'|item\.(?:started|updated|completed)"\s*,\s*"item"\s*:\s*\{\s*"id"\s*:\s*"[^"]*"'
    rb'\s*,\s*"type"\s*:\s*"(?!agent_message"))'
)
_FORMAT_OF_TYPE = {
    **dict.fromkeys(
        ("system", "assistant", "user", "result", "stream_event", "rate_limit_event"), "claude"
    ),
    **dict.fromkeys(("init", "message", "tool_use", "tool_result"), "gemini"),
}


class Boundary(enum.Enum):
    """Where the sentence in progress must be flushed: a block, a tool call or a turn ended."""

    BLOCK = "block"
    TOOL = "tool"
    TURN = "turn"


@dataclass(frozen=True, slots=True)
class TextPiece:
    """A piece of speakable markdown; ``boundary`` flushes the sentence in progress after it."""

    text: str
    boundary: Boundary | None = None


@dataclass
class SourceStats:
    """Counters of what the reader saw, for the stats report."""

    lines: int = 0
    malformed: int = 0
    skimmed: int = 0  # long never-spoken lines dropped as they streamed
    oversized: int = 0  # lines over MAX_LINE that could not be read
    format: str | None = None


def _object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one: events are checked, not trusted."""
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class _Parser:
    """Common to the JSON formats: what was spoken this turn, and the error fallback."""

    def __init__(self) -> None:
        self.spoken = False

    def say(self, text: Any, boundary: Boundary | None = None) -> list[TextPiece]:
        if not isinstance(text, str):
            return [TextPiece("", boundary)] if boundary else []
        self.spoken = self.spoken or bool(text.strip())
        return [TextPiece(text, boundary)]

    def end_turn(self, error: str | None) -> list[TextPiece]:
        """The turn ended; its error is spoken only when nothing else was."""
        text = error if error and not self.spoken else ""
        self.spoken = False
        return [TextPiece(text, Boundary.TURN)]

    def event(self, event: dict[str, Any]) -> list[TextPiece]:
        raise NotImplementedError


@dataclass
class _Message:
    """How many text blocks of one Claude message were spoken from deltas and from its echo."""

    streamed: bool = False
    from_deltas: int = 0
    from_blocks: int = 0


class _ClaudeParser(_Parser):
    """Claude Code ``--output-format stream-json --verbose``, with or without partial messages.

    The k-th text block of a message is spoken once: from its deltas or from the full
    ``assistant`` block, whichever comes first (keyed on message id and block order,
    since each line has its own uuid). Subagent events (non-null
    ``parent_tool_use_id``), thinking, tools and ``result.result`` are not spoken.
    """

    def __init__(self) -> None:
        super().__init__()
        self._messages: dict[str, _Message] = {}
        self._current = _Message()
        self._speaking: set[int] = set()  # stream block indexes whose deltas are spoken

    def _message(self, message_id: Any) -> _Message:
        if not isinstance(message_id, str):
            return _Message()
        if message_id not in self._messages and len(self._messages) >= 64:
            del self._messages[next(iter(self._messages))]
        return self._messages.setdefault(message_id, _Message())

    def event(self, event: dict[str, Any]) -> list[TextPiece]:
        if event.get("parent_tool_use_id"):
            return []
        kind = event.get("type")
        if kind == "stream_event" and isinstance(event.get("event"), dict):
            return self._stream(event["event"])
        if kind == "assistant" and isinstance(event.get("message"), dict):
            return self._assistant(event["message"])
        if kind == "result":
            errors = event.get("errors")
            error = _text(event.get("result")) or (
                "; ".join(map(str, errors)) if isinstance(errors, list) else None
            )
            failed = event.get("is_error") is True or str(event.get("subtype")).startswith("error")
            self._messages.clear()
            self._speaking.clear()
            return self.end_turn(error if failed else None)
        return []

    def _stream(self, event: dict[str, Any]) -> list[TextPiece]:
        kind, index = event.get("type"), event.get("index")
        if not isinstance(index, int):
            index = -1
        if kind == "message_start":
            self._current = self._message(_object(event.get("message")).get("id"))
            self._current.streamed = True
            self._speaking.clear()
        elif kind == "content_block_start":
            block = _object(event.get("content_block"))
            if block.get("type") == "text":
                message = self._current
                message.from_deltas += 1
                if message.from_deltas > message.from_blocks:
                    self._speaking.add(index)
                    return self.say(block.get("text") or None)
            elif str(block.get("type")).endswith("tool_use"):
                return [TextPiece("", Boundary.TOOL)]
        elif kind == "content_block_delta" and index in self._speaking:
            delta = _object(event.get("delta"))
            if delta.get("type") == "text_delta":
                return self.say(delta.get("text"))
        elif kind == "content_block_stop" and index in self._speaking:
            self._speaking.discard(index)
            return [TextPiece("", Boundary.BLOCK)]
        return []

    def _assistant(self, message: dict[str, Any]) -> list[TextPiece]:
        record = self._message(message.get("id"))
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        pieces: list[TextPiece] = []
        for block in content if isinstance(content, list) else ():
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                record.from_blocks += 1
                if record.from_blocks > record.from_deltas:
                    pieces += self.say(block.get("text"), Boundary.BLOCK)
            elif str(kind).endswith("tool_use") and not record.streamed:
                pieces.append(TextPiece("", Boundary.TOOL))
        return pieces


class _CodexParser(_Parser):
    """OpenAI Codex ``codex exec --json``: ``agent_message`` items; reasoning is skipped."""

    def event(self, event: dict[str, Any]) -> list[TextPiece]:
        kind = event.get("type")
        item = event.get("item")
        if isinstance(item, dict) and str(kind).startswith("item."):
            if item.get("type") == "agent_message":
                return (
                    self.say(item.get("text"), Boundary.BLOCK) if kind == "item.completed" else []
                )
            if kind == "item.started" and item.get("type") != "reasoning":
                return [TextPiece("", Boundary.TOOL)]  # a command, file change, tool call…
        elif kind == "turn.completed":
            return self.end_turn(None)
        elif kind == "turn.failed":
            return self.end_turn(_text(_object(event.get("error")).get("message")))
        return []


class _GeminiParser(_Parser):
    """Gemini CLI ``--output-format stream-json``: assistant ``message`` events, deltas or whole."""

    def event(self, event: dict[str, Any]) -> list[TextPiece]:
        kind = event.get("type")
        if kind == "message" and event.get("role") == "assistant":
            return self.say(event.get("content"), None if event.get("delta") else Boundary.BLOCK)
        if kind == "tool_use":
            return [TextPiece("", Boundary.TOOL)]
        if kind == "result":
            message = _text(_object(event.get("error")).get("message"))
            return self.end_turn(message if event.get("status") == "error" else None)
        return []


_PARSERS: dict[str, type[_Parser]] = {
    "claude": _ClaudeParser,
    "codex": _CodexParser,
    "gemini": _GeminiParser,
}


def _detect(event: dict[str, Any]) -> str | None:
    kind = str(event.get("type"))
    if kind in _FORMAT_OF_TYPE:
        return _FORMAT_OF_TYPE[kind]
    if kind.startswith(("thread.", "turn.", "item.")):
        return "codex"
    return None


class StreamParser:
    """Lines of one stream to text pieces; ``fmt="auto"`` detects the format from its events."""

    def __init__(self, fmt: str = "auto", *, stats: SourceStats | None = None) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        self.stats = stats if stats is not None else SourceStats()
        self._format = None if fmt == "auto" else fmt
        self._parser = _PARSERS[fmt]() if fmt in _PARSERS else None
        self._undecided: list[dict[str, Any]] = []

    def feed_line(self, line: bytes) -> list[TextPiece]:
        """Take one line (with or without its newline); return the pieces it adds."""
        self.stats.lines += 1
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if self.stats.lines == 1:
            text = text.removeprefix("\ufeff")
        if self._format is None and text.strip() and not text.lstrip().startswith("{"):
            self._settle("text")
        if self._format == "text":
            return [TextPiece(text + "\n")]
        if not text.strip():
            return []
        try:
            event = json.loads(text)
            if not isinstance(event, dict):
                raise ValueError("not a JSON object")
        except (ValueError, RecursionError) as error:  # RecursionError: absurdly deep nesting
            self._malformed(str(error))
            return []
        if self._parser is not None:
            return self._parser.event(event)
        self._undecided.append(event)
        detected = _detect(event)
        if detected is None and len(self._undecided) < _DETECT_EVENTS:
            return []
        self._settle(detected or "claude")
        assert self._parser is not None
        events, self._undecided = self._undecided, []
        return [piece for held in events for piece in self._parser.event(held)]

    def _settle(self, fmt: str) -> None:
        log.debug("input format: %s", fmt)
        self._format = self.stats.format = fmt
        self._parser = _PARSERS[fmt]() if fmt in _PARSERS else None

    def _malformed(self, reason: str) -> None:
        self.stats.malformed += 1
        if self.stats.malformed <= _MAX_WARNINGS:
            more = " (further malformed lines are only counted)"
            log.warning(
                "line %d is not a JSON event, skipped: %s%s",
                self.stats.lines,
                reason,
                more if self.stats.malformed == _MAX_WARNINGS else "",
            )


def iter_lines(
    stream: BinaryIO, *, stats: SourceStats | None = None, max_line: int = MAX_LINE
) -> Iterator[bytes]:
    """Lines of a byte stream as they complete, holding at most one line (see module doc)."""
    stats = stats if stats is not None else SourceStats()
    parts: list[bytes] = []
    size = 0
    dropping = False
    while chunk := stream.readline(CHUNK):
        complete = chunk.endswith(b"\n")
        if dropping:
            dropping = not complete
            continue
        if complete and not parts:
            yield chunk
            continue
        parts.append(chunk)
        size += len(chunk)
        if size > max_line or (size > SKIM_AFTER and _NEVER_SPOKEN.match(parts[0])):
            stats.lines += 1
            if size > max_line:
                stats.oversized += 1
                log.warning("line %d is longer than %d bytes, skipped", stats.lines, max_line)
            else:
                stats.skimmed += 1
            parts, size, dropping = [], 0, not complete
        elif complete:
            yield b"".join(parts)
            parts, size = [], 0
    if parts:
        yield b"".join(parts)


def read_pieces(
    stream: BinaryIO, *, fmt: str = "auto", stats: SourceStats | None = None
) -> Iterator[TextPiece]:
    """Text pieces of an agent's output stream, as its lines arrive."""
    parser = StreamParser(fmt, stats=stats)
    for line in iter_lines(stream, stats=parser.stats):
        yield from parser.feed_line(line)
