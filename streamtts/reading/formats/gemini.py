"""Gemini CLI ``--output-format stream-json``."""

from __future__ import annotations

import json
import os
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

# Characters of a message's start that deltas must repeat to be read as Gemini's retry.
_RETRY_MATCH = 16
_DECODER = json.JSONDecoder()


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

    name = "gemini"
    types = frozenset(("init", "message", "tool_use", "tool_result"))
    never_spoken = re.compile(TYPE_HEAD + rb'(?P<type>tool_result|tool_use)"')

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
            self._error = api_error(nonempty_text(event.get("message")))
        elif kind == "result":
            message = nonempty_text(json_object(event.get("error")).get("message"))
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
    message = nonempty_text(json_object(json_object(value).get("error")).get("message"))
    if message is not None and message.lstrip().startswith("{"):
        try:
            return _error_message(json.loads(message)) or message
        except ValueError:
            pass
    return message
