"""What every event format shares: the text piece it yields, the boundary that flushes a
sentence, and the ``Parser`` base with its turn bookkeeping and its own detection.

A parser is fed events in order and keeps the few fields it must remember across them. Each
format says which event types are its own (``types``, or ``claims`` for more) and which line
heads it never speaks (``never_spoken``), so the stream reader can detect a format and drop a
huge line unread without knowing any format itself.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, ClassVar

# How many messages and event ids a parser remembers: duplicates arrive close together.
_REMEMBERED = 256


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


def json_object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one: events are checked, not trusted."""
    return value if isinstance(value, dict) else {}


def nonempty_text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def remember(mapping: dict[str, Any], key: str, value: Any) -> Any:
    """``mapping[key]``, set to ``value`` if new; the oldest entry goes past _REMEMBERED."""
    if key not in mapping and len(mapping) >= _REMEMBERED:
        del mapping[next(iter(mapping))]
    return mapping.setdefault(key, value)


# How every JSON event line of every format begins, up to its type's value.
TYPE_HEAD = rb'\s*\{\s*"type"\s*:\s*"'


class Parser:
    """Common to the formats: what was spoken this turn, and the error fallback.

    ``name`` is the format's ``--format`` name; ``types`` the event types only it has;
    ``never_spoken`` matches the head of a line that carries nothing to speak, however long
    (its group ``type`` is the event type).
    """

    name: ClassVar[str]
    types: ClassVar[frozenset[str]] = frozenset()
    never_spoken: ClassVar[re.Pattern[bytes]]

    @classmethod
    def claims(cls, event: dict[str, Any]) -> bool:
        """Whether an event's type is this format's own."""
        return str(event.get("type")) in cls.types

    @classmethod
    def stand_in(cls, head: re.Match[bytes]) -> dict[str, Any]:
        """The smallest event of a skimmed line's kind, so the parser still sees its boundary."""
        return {"type": head["type"].decode()}

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
