"""OpenAI Codex ``codex exec --json``."""

from __future__ import annotations

import re
from typing import Any

from streamtts.reading.formats.base import (
    TYPE_HEAD,
    Boundary,
    Parser,
    TextPiece,
    json_object,
    nonempty_text,
)


class CodexParser(Parser):
    """OpenAI Codex ``codex exec --json``: ``agent_message`` items; reasoning is skipped."""

    name = "codex"
    # Any item but the agent's message: a command's output, a file change, reasoning.
    never_spoken = re.compile(
        TYPE_HEAD + rb'(?P<type>item\.(?:started|updated|completed))"\s*,\s*"item"\s*:\s*\{\s*"id"'
        rb'\s*:\s*"[^"]*"\s*,\s*"type"\s*:\s*"(?P<item>(?!agent_message")[^"\\]*)"'
    )

    @classmethod
    def claims(cls, event: dict[str, Any]) -> bool:
        """Codex's event types are namespaced: ``thread.``, ``turn.``, ``item.``."""
        return str(event.get("type")).startswith(("thread.", "turn.", "item."))

    @classmethod
    def stand_in(cls, head: re.Match[bytes]) -> dict[str, Any]:
        """An item event of the skimmed item's type, without its content."""
        return {"type": head["type"].decode(), "item": {"type": head["item"].decode()}}

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
            return self.end_turn(nonempty_text(json_object(event.get("error")).get("message")))
        return []
