"""Claude Code hook inputs → what the daemon should say: sentences per session turn.

Claude Code runs a command hook with one JSON object on stdin; the hook client hands it to
the daemon unchanged and this module reads it there. Each hook call is a process and a
connection of its own, so calls reach the daemon in any order: Claude Code starts the
``Stop`` hook and the last ``MessageDisplay`` hook of a reply within about 100 ms of each
other, and either may arrive first. Every rule here holds whatever the order.

- Turns are keyed by ``prompt_id``, which every input after ``SessionStart`` carries (an
  older Claude Code without it: by the count of ``UserPromptSubmit``), so a late input is
  still read as part of its own turn. The first input of a prompt not seen before starts
  a turn (``new_prompt``: the daemon's ``latest`` policy drops the session's older
  speech); what arrives for an older turn than the session's newest is ``stale``.
- ``MessageDisplay`` (Claude Code ≥ 2.1.152) fires as an assistant message is drawn:
  ``delta`` is the text new since the last call for that ``message_id``, ``index`` counts
  the calls and ``final`` marks the last, so each message gets a streaming ``Segmenter``
  and a sentence is said as soon as its end is drawn. Calls are taken in ``index`` order;
  one seen already is a repeat, and nothing after a message's end is taken.
- ``Stop`` carries the turn's last message whole (``last_assistant_message``) and is
  reconciled with the batches by content: the message whose text drawn so far begins it
  (whitespace aside) is that message, and Stop says only what follows that text and ends
  the message, so its late batches say nothing. When no batch of it has arrived yet, Stop
  says it all, and the first batches of a message that arrive later are compared with it:
  those that begin it are its own, and silent. Other messages whose end never came are
  ended by Stop with what they hold (a batch was lost), and nothing a turn holds is said
  at a later prompt.
- ``SessionEnd`` says what the newest turn still holds and forgets the session; it never
  starts a turn.

Pure: no sockets, no audio, so every rule is tested on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from streamtts.reading.formats.base import Boundary, TextPiece
from streamtts.text.segmenter import Segmenter

EVENTS = ("MessageDisplay", "Stop", "UserPromptSubmit", "SessionStart", "SessionEnd")
# Turns of a session remembered for their late inputs; an input for an older one is dropped.
_TURNS = 8
_SPACES = re.compile(r"\s*")


class HookInputError(ValueError):
    """A hook input that is not what Claude Code sends; the message says what is wrong."""


@dataclass
class Said:
    """What one hook input asks the daemon to do."""

    session: str
    turn: str  # ``session:prompt``, the unit the ``latest`` policy silences
    sentences: list[str] = field(default_factory=list)
    new_prompt: bool = False  # a turn not seen before: this session's older speech is stale
    stale: bool = False  # the sentences are of an older turn than the session's newest


@dataclass
class _Message:
    """One message being displayed: its segmenter, the text taken, batches ahead.

    Batches are taken in ``index`` order whatever order they arrive in; one seen already
    is a repeat, and nothing after the message's end is taken.
    """

    segmenter: Segmenter = field(default_factory=Segmenter)
    shown: str = ""  # the text of the batches taken, in order
    next: int = 0
    ahead: dict[int, TextPiece] = field(default_factory=dict)
    ended: bool = False

    def take(self, index: int, piece: TextPiece) -> list[TextPiece]:
        """The batches that batch ``index`` lets through, in order (none if held or seen)."""
        if self.ended or index < self.next:
            return []
        self.ahead[index] = piece
        pieces = []
        while not self.ended and self.next in self.ahead:
            pieces.append(self.ahead.pop(self.next))
            self.next += 1
            self.ended = pieces[-1].boundary is not None
        return pieces

    def feed(self, pieces: list[TextPiece]) -> list[str]:
        """The sentences that ``pieces``, taken, complete."""
        self.shown += "".join(piece.text for piece in pieces)
        return [sentence.text for piece in pieces for sentence in self.segmenter.feed(piece)]

    def finish(self, rest: str) -> list[str]:
        """End the message with ``rest``, the text that follows what was shown of it."""
        self.ahead.clear()
        self.ended = True
        self.shown += rest
        return [sentence.text for sentence in self.segmenter.feed(TextPiece(rest, Boundary.BLOCK))]

    def flush(self) -> list[str]:
        """What is still held, batches past a gap included (one before them never came)."""
        pieces = [self.ahead.pop(index) for index in sorted(self.ahead)]
        return self.finish("".join(piece.text for piece in pieces))


@dataclass
class _Turn:
    messages: dict[str, _Message] = field(default_factory=dict)
    stop: str | None = None  # the last message, once Stop said it
    claimed: bool = False  # whether a message of the turn is known to be Stop's

    def undecided(self, message: _Message) -> bool:
        """Whether ``message`` may still be the one Stop said in full: nothing of it was
        shown before Stop, which found no message to carry its text."""
        return self.stop is not None and not self.claimed and not message.shown.strip()

    def open_messages(self) -> list[_Message]:
        """Messages whose end has not come, and that are known not to be Stop's."""
        messages = self.messages.values()
        return [m for m in messages if not m.ended and not self.undecided(m)]


@dataclass
class _Session:
    turns: dict[str, _Turn] = field(default_factory=dict)  # by prompt, the newest last
    prompts: int = 0  # prompts submitted: the turn of an input without a prompt_id


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
        session = self._sessions.setdefault(session_id, _Session())
        newest = next(reversed(session.turns), None)
        if event == "SessionEnd":  # the last turn's last words; no turn is started
            del self._sessions[session_id]
            turn = session.turns.get(newest) if newest is not None else None
            texts = [text for m in turn.open_messages() for text in m.flush()] if turn else []
            return Said(session_id, f"{session_id}:{newest}", texts)
        if event == "UserPromptSubmit":
            session.prompts += 1
        prompt = data.get("prompt_id")
        if not isinstance(prompt, str) or not prompt:  # an older Claude Code
            new = event == "UserPromptSubmit" or newest is None
            prompt = f"#{session.prompts}" if new else newest
        if event == "SessionStart":
            return Said(session_id, f"{session_id}:{prompt}")
        turn = session.turns.get(prompt)
        said = Said(session_id, f"{session_id}:{prompt}", new_prompt=turn is None)
        if turn is None:
            turn = session.turns[prompt] = _Turn()
            if len(session.turns) > _TURNS:
                del session.turns[next(iter(session.turns))]
        said.stale = prompt != next(reversed(session.turns))
        if event == "MessageDisplay":
            said.sentences = self._display(data, turn)
        elif event == "Stop":
            said.sentences = self._stop(data, turn)
        return said

    @staticmethod
    def _display(data: dict[str, Any], turn: _Turn) -> list[str]:
        message_id, delta = data.get("message_id"), data.get("delta")
        index, final = data.get("index", 0), data.get("final", False)
        if not isinstance(message_id, str) or not isinstance(delta, str):
            raise HookInputError("MessageDisplay needs a string message_id and delta")
        if not isinstance(index, int) or not isinstance(final, bool):
            raise HookInputError("MessageDisplay's index is an integer and final a boolean")
        message = turn.messages.setdefault(message_id, _Message())
        pieces = message.take(index, TextPiece(delta, Boundary.BLOCK if final else None))
        text = message.shown + "".join(piece.text for piece in pieces)
        stop = turn.stop if turn.undecided(message) and text.strip() else None
        if stop is not None and _after(text, stop) is not None:  # it begins Stop's message
            turn.claimed = True
            message.shown = text
            message.finish("")
            return []
        return message.feed(pieces)

    @staticmethod
    def _stop(data: dict[str, Any], turn: _Turn) -> list[str]:
        last = data.get("last_assistant_message")
        if last is not None and not isinstance(last, str):
            raise HookInputError("Stop's last_assistant_message is a string")
        if last and last == turn.stop:  # the same Stop again: all of it was said
            return []
        carriers = [
            (len(message.shown.strip()), message, rest)
            for message in turn.messages.values()
            if message.shown.strip() and (rest := _after(message.shown, last or "")) is not None
        ]
        ours = max(carriers, key=lambda carrier: carrier[0], default=None) if last else None
        if last:
            turn.stop, turn.claimed = last, ours is not None
        # The others whose end never came (a batch was lost) end here, with what they hold.
        texts = [
            text
            for message in turn.open_messages()
            if ours is None or message is not ours[1]
            for text in message.flush()
        ]
        if not last:
            return texts
        if ours is not None:
            return texts + ours[1].finish(ours[2])
        return texts + _Message().finish(last)


def _after(shown: str, whole: str) -> str | None:
    """What ``whole`` says after ``shown``, if ``shown`` begins it (whitespace aside), else None.

    The whitespace ``shown`` ends with is matched too, so the rest continues ``shown``'s
    text as it would have in the message: after ``"It drops\\n"``, the rest of ``"It
    drops\\nthe unit."`` is ``"the unit."``, and of ``"It drops\\n\\nA new paragraph."``,
    ``"\\nA new paragraph."``.
    """
    at = 0
    for char in _SPACES.sub("", shown):
        at = _SPACES.match(whole, at).end()  # type: ignore[union-attr]
        if at == len(whole) or whole[at] != char:
            return None
        at += 1
    trailing = shown[len(shown.rstrip()) :]
    while at < len(whole) and trailing and whole[at] == trailing[0]:
        at, trailing = at + 1, trailing[1:]
    return whole[at:]
