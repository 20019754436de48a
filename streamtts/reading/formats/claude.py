"""Claude Code ``--output-format stream-json --verbose``, with or without partial messages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from streamtts.reading.formats.base import (
    TYPE_HEAD,
    Boundary,
    Parser,
    TextPiece,
    json_object,
    nonempty_text,
    remember,
)

# How much of a streamed text block is kept to tell its echo from another message's.
_HEAD = 64


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

    name = "claude"
    types = frozenset(("system", "assistant", "user", "result", "stream_event", "rate_limit_event"))
    # Tool results arrive as "user" events.
    never_spoken = re.compile(TYPE_HEAD + rb'(?P<type>user|system|rate_limit_event)"')

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
        return remember(self._messages, message_id, _Message())

    def event(self, event: dict[str, Any]) -> list[TextPiece]:
        if event.get("parent_tool_use_id"):
            return []
        uuid = event.get("uuid")
        if isinstance(uuid, str):
            if uuid in self._seen:
                return []
            remember(self._seen, uuid, None)
        kind = event.get("type")
        if kind == "stream_event" and isinstance(event.get("event"), dict):
            return self._stream(event["event"])
        if kind == "assistant" and isinstance(event.get("message"), dict):
            return self._assistant(event["message"])
        if kind == "result":
            errors = event.get("errors")
            error = nonempty_text(event.get("result")) or (
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
            self._begin(json_object(event.get("message")).get("id"))
            return pieces
        if kind == "content_block_start":
            block = json_object(event.get("content_block"))
            if index in self._implicit:  # its deltas came first and opened it
                self._implicit.discard(index)
                return []
            return self._open(index, block.get("type"), block.get("text"))
        if kind == "content_block_delta":
            delta = json_object(event.get("delta"))
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
                remember(self._messages, message_id, self._current)
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
