"""Claude Code hook inputs → what the daemon should say: sentences per session turn.

Claude Code runs a command hook with one JSON object on stdin; the hook client hands it to
the daemon unchanged and this module reads it there. ``MessageDisplay`` (Claude Code ≥
2.1.152) fires as an assistant message is drawn: ``delta`` is the text new since the last
call for that ``message_id``, ``index`` counts the calls and ``final`` marks the last, so
each message gets a streaming ``Segmenter`` and a sentence is said as soon as its end is
drawn. Calls are taken in ``index`` order; one seen already is a repeat and is ignored.
``Stop`` ends the turn: what is still pending is said, and its ``last_assistant_message``
is said only for the sentences no ``MessageDisplay`` of the turn carried (it has been
reported not to fire for prose between tool calls, and an older Claude Code has no such
event at all), so nothing is said twice. ``UserPromptSubmit`` starts a new turn (the
daemon's ``latest`` policy then drops the session's stale queue), ``SessionEnd`` forgets
the session. Turns are keyed ``session:turn`` with Claude Code's ``turn_id`` where it gives
one. Pure: no sockets, no audio, so every rule is tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamtts.formats import Boundary, TextPiece
from streamtts.text import Segmenter

EVENTS = ("MessageDisplay", "Stop", "UserPromptSubmit", "SessionStart", "SessionEnd")


class HookInputError(ValueError):
    """A hook input that is not what Claude Code sends; the message says what is wrong."""


@dataclass
class Said:
    """What one hook input asks the daemon to do."""

    session: str
    turn: str  # ``session:turn``, the unit the ``latest`` policy silences
    sentences: list[str] = field(default_factory=list)
    new_prompt: bool = False  # a new user prompt: this session's older speech is stale


@dataclass
class _Message:
    """One message being displayed: its segmenter, the next batch it takes, batches ahead.

    Batches are taken in ``index`` order whatever order they arrive in (each hook call is
    a connection of its own); one seen already is a repeat, and nothing after the final
    batch is taken.
    """

    segmenter: Segmenter = field(default_factory=Segmenter)
    next: int = 0
    ahead: dict[int, TextPiece] = field(default_factory=dict)
    ended: bool = False

    def take(self, index: int, piece: TextPiece) -> list[str]:
        """The sentences that batch ``index``, and the early ones it lets through, complete."""
        if index >= self.next and not self.ended:
            self.ahead[index] = piece
        texts = []
        while not self.ended and self.next in self.ahead:
            piece = self.ahead.pop(self.next)
            self.next += 1
            self.ended = piece.boundary is not None
            texts += [sentence.text for sentence in self.segmenter.feed(piece)]
        return texts

    def flush(self) -> list[str]:
        """What is still held, early batches included (one before them never came)."""
        if self.ended:
            return []
        texts = []
        for index in sorted(self.ahead):
            texts += [sentence.text for sentence in self.segmenter.feed(self.ahead.pop(index))]
        self.ended = True
        return texts + [sentence.text for sentence in self.segmenter.flush()]


@dataclass
class _Session:
    turn: str
    prompts: int = 0
    messages: dict[str, _Message] = field(default_factory=dict)
    said: set[str] = field(default_factory=set)  # sentences spoken this turn, for Stop


class HookTurns:
    """Per-session state across hook calls; ``handle`` one input at a time."""

    def __init__(self) -> None:
        self._sessions: dict[str, _Session] = {}

    def handle(self, data: object) -> Said:
        """Read one hook input; raises ``HookInputError`` for one Claude Code would not send."""
        if not isinstance(data, dict):
            raise HookInputError("a hook input is a JSON object")
        event = data.get("hook_event_name")
        session_id = data.get("session_id")
        if event not in EVENTS:
            raise HookInputError(f"unknown hook_event_name {event!r}; expected one of {EVENTS}")
        if not isinstance(session_id, str) or not session_id:
            raise HookInputError("hook input without a session_id")
        session = self._sessions.get(session_id)
        if session is None:
            session = self._sessions[session_id] = _Session(turn=f"{session_id}:0")
        said = Said(session_id, session.turn)
        if event == "MessageDisplay":
            self._display(data, session, said)
        elif event == "Stop":
            self._stop(data, session, said)
        elif event == "UserPromptSubmit":
            self._flush(session, said)
            session.prompts += 1
            session.turn = f"{session_id}:{session.prompts}"
            session.said.clear()
            said.new_prompt = True
        elif event == "SessionEnd":
            self._flush(session, said)
            del self._sessions[session_id]
        return said

    def _display(self, data: dict[str, Any], session: _Session, said: Said) -> None:
        message_id, delta = data.get("message_id"), data.get("delta")
        index, final = data.get("index", 0), data.get("final", False)
        if not isinstance(message_id, str) or not isinstance(delta, str):
            raise HookInputError("MessageDisplay needs a string message_id and delta")
        if not isinstance(index, int) or not isinstance(final, bool):
            raise HookInputError("MessageDisplay's index is an integer and final a boolean")
        turn_id = data.get("turn_id")
        if isinstance(turn_id, str) and turn_id:
            session.turn = said.turn = f"{said.session}:{turn_id}"
        message = session.messages.setdefault(message_id, _Message())
        piece = TextPiece(delta, Boundary.BLOCK if final else None)
        self._say(session, said, message.take(index, piece))

    def _stop(self, data: dict[str, Any], session: _Session, said: Said) -> None:
        self._flush(session, said)
        last = data.get("last_assistant_message")
        if last is not None and not isinstance(last, str):
            raise HookInputError("Stop's last_assistant_message is a string")
        if last:
            segmenter = Segmenter()
            texts = [s.text for s in [*segmenter.feed(TextPiece(last)), *segmenter.flush()]]
            self._say(session, said, [text for text in texts if text not in session.said])
        session.said.clear()

    def _flush(self, session: _Session, said: Said) -> None:
        """Say what messages still hold (their final call never came)."""
        for message in session.messages.values():
            self._say(session, said, message.flush())
        session.messages.clear()

    @staticmethod
    def _say(session: _Session, said: Said, texts: list[str]) -> None:
        session.said.update(texts)
        said.sentences.extend(texts)
