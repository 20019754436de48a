"""Event formats: one small parser per agent CLI, each turning one JSON event into text pieces.

Claude Code stream-json (with or without partial messages), OpenAI Codex ``exec --json``
and Gemini CLI stream-json. A parser is fed events in order and keeps the few fields it
must remember across them: which message blocks were already spoken from deltas, which
events it has seen (real CLIs repeat lines), whether anything was spoken this turn. The
stream reader (``streamtts.reading.stream``) picks the parser and feeds it.
"""

from __future__ import annotations

import enum
import json
import os
from dataclasses import dataclass, field
from typing import Any

# How many messages and event ids a parser remembers: duplicates arrive close together.
_REMEMBERED = 256
# How much of a streamed text block is kept to tell its echo from another message's.
_HEAD = 64
# Characters of a message's start that deltas must repeat to be read as Gemini's retry.
_RETRY_MATCH = 16
_DECODER = json.JSONDecoder()


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


def _object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one: events are checked, not trusted."""
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _remember(mapping: dict[str, Any], key: str, value: Any) -> Any:
    """``mapping[key]``, set to ``value`` if new; the oldest entry goes past _REMEMBERED."""
    if key not in mapping and len(mapping) >= _REMEMBERED:
        del mapping[next(iter(mapping))]
    return mapping.setdefault(key, value)


class Parser:
    """Common to the formats: what was spoken this turn, and the error fallback."""

    def __init__(self) -> None:
        self.spoken = False
        # The turn end just passed and its error, until anything else is said.
        self._ended = False
        self._end_error: str | None = None

    def feed(self, event: dict[str, Any]) -> list[TextPiece]:
        """The pieces of one event."""
        pieces = self.event(event)
        if any(piece.boundary is not Boundary.TURN for piece in pieces):
            self._ended = False
        return pieces

    def say(self, text: Any, boundary: Boundary | None = None) -> list[TextPiece]:
        if not isinstance(text, str):
            return [TextPiece("", boundary)] if boundary else []
        self.spoken = self.spoken or bool(text.strip())
        return [TextPiece(text, boundary)]

    def new_turn(self) -> None:
        self._ended = False

    def end_turn(self, error: str | None) -> list[TextPiece]:
        """The turn ended; its error is spoken only when nothing else was, and only once
        when the same end comes again with nothing said in between (Claude Code has
        repeated its error result)."""
        repeated = self._ended and error == self._end_error
        text = error if error and not self.spoken and not repeated else ""
        self.spoken, self._ended, self._end_error = False, True, error
        return [TextPiece(text, Boundary.TURN)]

    def event(self, event: dict[str, Any]) -> list[TextPiece]:
        raise NotImplementedError


@dataclass
class _Message:
    """How many text blocks of one Claude message were spoken from deltas and from its echo."""

    streamed: bool = False
    from_deltas: int = 0
    from_blocks: int = 0
    heads: list[str] = field(default_factory=list)  # how each block spoken from deltas began


class ClaudeParser(Parser):
    """Claude Code ``--output-format stream-json --verbose``, with or without partial messages.

    The k-th text block of a message is spoken once: from its deltas or from the full
    ``assistant`` block, whichever comes first (keyed on message id and block order).
    Subagent events (non-null ``parent_tool_use_id``), thinking, tools and
    ``result.result`` are not spoken. Real streams are not always well formed, so: an
    event whose ``uuid`` was seen is a duplicate line and is skipped; blocks come one after
    another, so a block start ends any block left open; a delta before its block start
    opens the block; a block index seen before in the message, or a new ``message_start``,
    begins a new message and ends the sentence of one that was cut off; and deltas that
    came without a ``message_start`` belong to the next echo of a new message id whose
    text begins as theirs did.
    """

    def __init__(self) -> None:
        super().__init__()
        self._messages: dict[str, _Message] = {}
        self._seen: dict[str, None] = {}  # uuids of recent events
        self._reset()

    def _reset(self) -> None:
        self._current = _Message()
        self._current_id: str | None = None  # None: a message whose id is not known yet
        self._started: set[int] = set()  # block indexes of the current message
        self._implicit: set[int] = set()  # ... opened by a delta before their start
        self._speaking: set[int] = set()  # stream block indexes whose deltas are spoken

    def _message(self, message_id: Any) -> _Message:
        if not isinstance(message_id, str):
            return _Message()
        return _remember(self._messages, message_id, _Message())

    def event(self, event: dict[str, Any]) -> list[TextPiece]:
        if event.get("parent_tool_use_id"):
            return []
        uuid = event.get("uuid")
        if isinstance(uuid, str):
            if uuid in self._seen:
                return []
            _remember(self._seen, uuid, None)
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
            self._reset()
            return self.end_turn(error if failed else None)
        return []

    def _stream(self, event: dict[str, Any]) -> list[TextPiece]:
        kind, index = event.get("type"), event.get("index")
        if not isinstance(index, int):
            index = -1
        if kind == "message_start":
            pieces = self._close()
            self._begin(_object(event.get("message")).get("id"))
            return pieces
        if kind == "content_block_start":
            block = _object(event.get("content_block"))
            if index in self._implicit:  # its deltas came first and opened it
                self._implicit.discard(index)
                return []
            return self._open(index, block.get("type"), block.get("text"))
        if kind == "content_block_delta":
            delta = _object(event.get("delta"))
            if delta.get("type") != "text_delta":
                return []
            pieces = []
            if index not in self._started:
                pieces = self._open(index, "text", None)
                self._implicit.add(index)
            if index in self._speaking:
                text = delta.get("text")
                heads = self._current.heads
                if isinstance(text, str) and len(heads[-1]) < _HEAD:
                    heads[-1] = (heads[-1] + text)[:_HEAD]
                pieces += self.say(text)
            return pieces
        if kind == "content_block_stop" and index in self._speaking:
            self._speaking.discard(index)
            return [TextPiece("", Boundary.BLOCK)]
        return []

    def _begin(self, message_id: Any) -> None:
        self._reset()
        if isinstance(message_id, str):
            self._current, self._current_id = self._message(message_id), message_id
        self._current.streamed = True

    def _close(self) -> list[TextPiece]:
        """End the blocks still open: their sentence in progress is flushed."""
        if not self._speaking:
            return []
        self._speaking.clear()
        return [TextPiece("", Boundary.BLOCK)]

    def _open(self, index: int, kind: Any, text: Any) -> list[TextPiece]:
        pieces = self._close()
        if index in self._started:
            self._begin(None)
        self._started.add(index)
        self._current.streamed = True
        if kind == "text":
            message = self._current
            message.from_deltas += 1
            if message.from_deltas > message.from_blocks:
                self._speaking.add(index)
                message.heads.append(text[:_HEAD] if isinstance(text, str) else "")
                pieces += self.say(text or None)
        elif str(kind).endswith("tool_use"):
            pieces.append(TextPiece("", Boundary.TOOL))
        return pieces

    def _assistant(self, message: dict[str, Any]) -> list[TextPiece]:
        message_id = message.get("id")
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
        pieces: list[TextPiece] = []
        if isinstance(message_id, str) and message_id not in self._messages:
            if self._current_id is None and self._agrees(blocks):
                _remember(self._messages, message_id, self._current)
                self._current_id = message_id
            else:
                pieces = self._close()  # a new message: the one streaming was cut off
        record = self._message(message_id)
        for block in blocks:
            kind = block.get("type")
            if kind == "text":
                record.from_blocks += 1
                if record.from_blocks > record.from_deltas:
                    pieces += self.say(block.get("text"), Boundary.BLOCK)
            elif str(kind).endswith("tool_use") and not record.streamed:
                pieces.append(TextPiece("", Boundary.TOOL))
        return pieces

    def _agrees(self, blocks: list[dict[str, Any]]) -> bool:
        """Whether an echo's text blocks begin as those streamed without an id did."""
        texts = [str(block.get("text")) for block in blocks if block.get("type") == "text"]
        return all(
            text.startswith(head) for text, head in zip(texts, self._current.heads, strict=False)
        )


class CodexParser(Parser):
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
        elif kind == "turn.started":
            self.new_turn()
        elif kind == "turn.completed":
            return self.end_turn(None)
        elif kind == "turn.failed":
            return self.end_turn(_text(_object(event.get("error")).get("message")))
        return []


class GeminiParser(Parser):
    """Gemini CLI ``--output-format stream-json``: assistant ``message`` events, deltas or whole.

    When a response stream ends without a finish reason, Gemini CLI asks again and streams
    the new attempt's deltas straight after the old ones, with no event in between: deltas
    that begin the message again are held while they repeat what was said, and only what
    the new attempt adds is spoken (a cut word is completed, not glued to the retry). An
    ``error`` event of severity ``error`` (a reply that was empty or blocked) is the
    turn's error, spoken at its end when nothing else was, as is a failed ``result``'s;
    an ``[API Error: {…}]`` message is read as the message inside its JSON.
    """

    def __init__(self) -> None:
        super().__init__()
        self._text = ""  # the assistant message streamed since the last tool call or turn
        self._again: str | None = None  # deltas repeating it from its start, held
        self._error: str | None = None

    def event(self, event: dict[str, Any]) -> list[TextPiece]:
        kind = event.get("type")
        if kind == "message" and event.get("role") == "assistant":
            content = event.get("content")
            if event.get("delta") and isinstance(content, str):
                return self._delta(content)
            return self._settle() + self.say(content, Boundary.BLOCK)
        if kind == "tool_use":
            return [*self._settle(), TextPiece("", Boundary.TOOL)]
        if kind == "error" and event.get("severity") == "error":
            self._error = api_error(_text(event.get("message")))
        elif kind == "result":
            message = _text(_object(event.get("error")).get("message"))
            failed = api_error(message) if event.get("status") == "error" else None
            error, self._error = failed or self._error, None
            return self._settle() + self.end_turn(error)
        return []

    def _delta(self, delta: str) -> list[TextPiece]:
        held, self._again = self._again, None
        tries = [delta] if held is None else [held + delta, delta]
        if self._text.strip():
            for again in tries:  # the held deltas go on repeating, or a new attempt begins
                if self._text.startswith(again):  # still repeating what was said
                    self._again = again
                    return []
                if again.startswith(self._text):  # repeated it all: the rest is new
                    self._text, rest = again, again[len(self._text) :]
                    return self.say(rest)
            for again in reversed(tries):
                if self._retried(again):  # an attempt that says it otherwise: from its start
                    self._text = again
                    return [TextPiece("", Boundary.BLOCK), *self.say(again)]
        self._text += tries[0]  # not a repeat: the message goes on
        return self.say(tries[0])

    def _settle(self) -> list[TextPiece]:
        """The message ended: deltas still held are a repeat cut short, or the message's own."""
        again, text = self._again, self._text
        self._again, self._text = None, ""
        return [] if again is None or self._retried(again, text) else self.say(again)

    def _retried(self, again: str, text: str | None = None) -> bool:
        """Whether ``again`` repeats enough of the message's start to be a new attempt."""
        text = self._text if text is None else text
        common = len(os.path.commonprefix([again, text]))  # noqa: RUF071 - text, not paths
        return common >= min(len(text), _RETRY_MATCH)


def api_error(message: str | None) -> str | None:
    """Gemini CLI's ``[API Error: …{json}…]`` as the human message inside the JSON.

    Anything else, or JSON without an ``error.message``, is returned as it is.
    """
    head = "[API Error: "
    if not message or not message.startswith(head):
        return message
    for start in range(len(head), len(message)):
        if message[start] not in "{[":
            continue
        try:
            value, end = _DECODER.raw_decode(message, start)
        except ValueError:
            continue
        inner = _error_message(value)
        if inner is not None:
            tail = message[end:].strip().removeprefix("]").strip()  # advice after a 429
            return f"API error: {inner}" + (f" {tail}" if tail else "")
    return message


def _error_message(value: Any) -> str | None:
    """``error.message`` of a Google API error body (or of the first in a list), itself
    possibly the JSON of another such body."""
    if isinstance(value, list) and value:
        value = value[0]
    message = _text(_object(_object(value).get("error")).get("message"))
    if message is not None and message.lstrip().startswith("{"):
        try:
            return _error_message(json.loads(message)) or message
        except ValueError:
            pass
    return message


PARSERS: dict[str, type[Parser]] = {
    "claude": ClaudeParser,
    "codex": CodexParser,
    "gemini": GeminiParser,
}
_FORMAT_OF_TYPE = {
    **dict.fromkeys(
        ("system", "assistant", "user", "result", "stream_event", "rate_limit_event"), "claude"
    ),
    **dict.fromkeys(("init", "message", "tool_use", "tool_result"), "gemini"),
}


def detect(event: dict[str, Any]) -> str | None:
    """The format an event's type belongs to, or None if it could be any."""
    kind = str(event.get("type"))
    if kind in _FORMAT_OF_TYPE:
        return _FORMAT_OF_TYPE[kind]
    if kind.startswith(("thread.", "turn.", "item.")):
        return "codex"
    return None
