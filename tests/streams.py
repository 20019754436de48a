"""Claude Code stream-json events built in tests, and what the stream reader makes of them."""

from __future__ import annotations

import io
import json

from streamtts.reading.formats.base import TextPiece
from streamtts.reading.stream import SourceStats, read_pieces
from streamtts.text.segmenter import segment


def jsonl(*events: dict) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


def pieces(data: bytes, fmt: str = "auto", stats: SourceStats | None = None) -> list[TextPiece]:
    return list(read_pieces(io.BytesIO(data), fmt=fmt, stats=stats))


def spoken(data: bytes, fmt: str = "auto") -> list[str]:
    return [s.text for s in segment(read_pieces(io.BytesIO(data), fmt=fmt))]


def stream(event: dict, parent: str | None = None) -> dict:
    return {"type": "stream_event", "event": event, "parent_tool_use_id": parent}


def message_start(message_id: str, parent: str | None = None) -> dict:
    return stream({"type": "message_start", "message": {"id": message_id, "content": []}}, parent)


def block_start(index: int, kind: str, parent: str | None = None) -> dict:
    block = {"type": kind, "text": ""} if kind == "text" else {"type": kind}
    return stream({"type": "content_block_start", "index": index, "content_block": block}, parent)


def delta(index: int, text: str, kind: str = "text_delta", parent: str | None = None) -> dict:
    key = "text" if kind == "text_delta" else "thinking"
    return stream(
        {"type": "content_block_delta", "index": index, "delta": {"type": kind, key: text}}, parent
    )


def block_stop(index: int) -> dict:
    return stream({"type": "content_block_stop", "index": index})


def assistant(message_id: str | None, *blocks: dict, parent: str | None = None) -> dict:
    message = {"id": message_id, "role": "assistant", "content": list(blocks)}
    return {"type": "assistant", "message": message, "parent_tool_use_id": parent}


def text(value: str) -> dict:
    return {"type": "text", "text": value}


def tool_use(name: str = "Read") -> dict:
    return {"type": "tool_use", "id": "toolu_1", "name": name, "input": {}}


def tool_result(content: str, parent: str | None = None) -> dict:
    block = {"type": "tool_result", "tool_use_id": "toolu_1", "content": content}
    return {"type": "user", "message": {"content": [block]}, "parent_tool_use_id": parent}


def result(value: str | None = None, **fields: object) -> dict:
    return {"type": "result", "subtype": "success", "is_error": False, "result": value, **fields}


def claude_events(*blocks: str) -> list[str]:
    """Claude Code stream-json lines (no partial messages): one assistant text block each."""
    lines = [json.dumps({"type": "system", "subtype": "init", "session_id": "s", "tools": []})]
    for i, text in enumerate(blocks):
        message = {"id": f"msg_{i}", "type": "message", "role": "assistant", "model": "m"}
        message["content"] = [{"type": "text", "text": text}]
        event = {"type": "assistant", "message": message, "parent_tool_use_id": None}
        lines.append(json.dumps({**event, "session_id": "s"}, ensure_ascii=False))
    lines.append(json.dumps({"type": "result", "subtype": "success", "is_error": False}))
    return lines
