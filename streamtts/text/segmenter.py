"""Streaming segmenter: text pieces in, speakable sentences out, each as soon as it is certain.

The text is first cleaned of what must never be printed or spoken: terminal escape
sequences, control characters other than tab and newline, and unpaired surrogates (a
character whose UTF-16 halves arrived in two pieces is put back together). A sequence
that may still be completed by the next piece is held until it is, so the cleaning does
not depend on where the stream was split either. Then two small state machines run over
the characters as they arrive. The block lexer works line by line, like a markdown block
parser: it classifies each line from its first characters (fence, heading, list item,
table row, rule, blank, paragraph text) as soon as those are known, skips code fences,
and tells the sentence splitter (``streamtts.text.splitter``) where units (paragraphs, list
items, headings, table rows) end; fence state lives between lines, so it survives any
split of the stream. The splitter finds where sentences end in the raw inline markdown of
a unit, and ``streamtts.text.speakable`` turns each into the text a voice says. Every decision
waits for the characters that settle it and never looks further, which is what makes the
sentences independent of how the stream was chunked.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from streamtts.reading.formats.base import TextPiece
from streamtts.text.speakable import speakable, speakable_row
from streamtts.text.splitter import HARD_LIMIT, PROTECT_LIMIT, SOFT_LIMIT, SentenceSplitter

__all__ = [
    "HARD_LIMIT",
    "HOLD_LIMIT",
    "PROTECT_LIMIT",
    "SOFT_LIMIT",
    "Segmenter",
    "Sentence",
    "segment",
]

# A line's kind is settled by its first HOLD_LIMIT characters, and a table row longer than
# that is data, not read: so a held line never grows past it.
HOLD_LIMIT = 4096
# An escape sequence's parameters or string longer than this is not one: it is read as text
# (without its ESC), so an unfinished sequence is never held longer.
ESCAPE_LIMIT = 256
_E = ESCAPE_LIMIT
# CSI (ESC [ … final), OSC/DCS/SOS/PM/APC strings (ended by BEL or ESC \\), other ESC pairs.
_ESCAPE = re.compile(
    rf"\x1b(?:\[[0-?]{{0,{_E}}}[ -/]{{0,{_E}}}[@-~]"
    rf"|[\]PX^_][^\x07\x1b]{{0,{_E}}}(?:\x07|\x1b\\)|[ -/]{{0,{_E}}}[0-~])"
)
# What the next piece may still complete: a UTF-16 high half, the start of an escape.
_HIGH_HALF = re.compile(r"[\ud800-\udbff]\Z")
_UNFINISHED_ESCAPE = re.compile(
    rf"\x1b(?:\[[0-?]{{0,{_E}}}[ -/]{{0,{_E}}}"
    rf"|[\]PX^_][^\x07\x1b]{{0,{_E}}}\x1b?|[ -/]{{0,{_E}}})\Z"
)
_LONGEST_UNFINISHED = 2 * ESCAPE_LIMIT + 2
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

_LIST_NUMBER = re.compile(r"\d{1,9}")
# Line kinds of the block lexer.
_BLANK, _FENCE, _RULE, _ROW, _HEADING, _ITEM, _TEXT = range(7)
# Lexer modes: at a line start, inside inline text, inside a heading, skipping, holding a row.
_START, _INLINE, _IN_HEADING, _SKIP, _IN_ROW = range(5)


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence ready for translation; ``t_ready``: perf_counter() when its end was certain."""

    seq: int
    text: str
    t_ready: float


def _classify(line: str, complete: bool) -> tuple[int, int] | None:
    """Kind of a line and how many leading characters are markup, or None until more arrives.

    ``line`` is the start of a line (all of it when ``complete``); the answer never
    changes as more of the line arrives, so the block lexer can act on it at once.
    """
    body = line.lstrip(" \t>")
    indent = len(line) - len(body)
    if not body.strip(" \t"):
        return (_BLANK, len(line)) if complete else None
    c = body[0]
    run = len(body) - len(body.lstrip(c))
    if run == len(body) and not complete:
        return None  # the run of #, `, -, digits… may still grow
    if c == "~" and run >= 3:
        return _FENCE, len(line)
    if c == "`" and run >= 3:
        if not complete:
            return None  # a backtick later in the line would make it text, not a fence
        if "`" not in body[run:]:
            return _FENCE, len(line)
    if c in "-*_" and not body.strip(f"{c} \t"):
        if not complete:
            return None  # "- - -" so far: a rule or a list item
        if body.count(c) >= 3:
            return _RULE, len(line)
    if c == "#" and run <= 6 and (run == len(body) or body[run] in " \t"):
        return _HEADING, indent + run
    if c in "-*+" and len(body) > 1 and body[1] in " \t":
        return _ITEM, indent + 2
    digits = _LIST_NUMBER.match(body)
    if digits:
        end = digits.end()
        if end + 1 >= len(body) and not complete:
            return None  # "12" or "12." so far: maybe an ordered list item
        if (
            end < len(body)
            and body[end] in ".)"
            and (end + 1 == len(body) or body[end + 1] in " \t")
        ):
            return _ITEM, indent + end + 1
    if c == "|":
        return _ROW, indent
    return _TEXT, indent


def _closes_fence(line: str, fence: tuple[str, int], complete: bool) -> bool | None:
    """Whether a line inside a fence closes it, or None until more of the line arrives."""
    char, length = fence
    body = line.lstrip(" \t>")
    run = len(body) - len(body.lstrip(char))
    if run < len(body) and body[run:].strip(" \t"):
        return False
    if run < len(body) and run < length:
        return False
    return (run >= length) if complete else None


class Segmenter:
    """Incremental markdown-aware sentence splitter: feed pieces, get sentences once certain."""

    def __init__(self) -> None:
        self._seq = 0
        self._out: list[Sentence] = []
        # The end of the last piece, until the next one completes it: a surrogate half, an
        # escape sequence.
        self._half = self._escape = ""
        # Block lexer: the start of the current line while unclassified, or a held table row.
        self._line = ""
        self._mode = _START
        self._fence: tuple[str, int] | None = None
        self._quoted = False  # whether the last line was in a block quote
        self._splitter = SentenceSplitter()

    def feed(self, piece: TextPiece) -> list[Sentence]:
        """Take one piece of text; return the sentences whose end it made certain."""
        final = piece.boundary is not None
        # Two cleaning stages, each holding back what the next piece may complete.
        text, self._half = _hold_back(self._half + piece.text, _HIGH_HALF, final=final)
        text, self._escape = _hold_back(
            self._escape + _pair_surrogates(text), _UNFINISHED_ESCAPE, final=final
        )
        self._lex(_strip_controls(text))
        if final:
            self._end_block()
        return self._take()

    def flush(self) -> list[Sentence]:
        """End of input: return whatever is pending as sentences."""
        self._half = self._escape = ""
        self._end_block()
        return self._take()

    def _take(self) -> list[Sentence]:
        out, self._out = self._out, []
        return out

    # Block lexer

    def _lex(self, text: str) -> None:
        i, n = 0, len(text)
        while i < n:
            newline = text.find("\n", i)
            end = n if newline < 0 else newline
            if self._mode == _START:
                self._line += text[i:end]
                if not self._start_line(complete=newline >= 0):
                    return
            elif self._mode in (_INLINE, _IN_HEADING):
                self._push(text[i:end])
            elif self._mode == _IN_ROW:
                self._line += text[i:end]
                if len(self._line) > HOLD_LIMIT:
                    self._line, self._mode = "", _SKIP
            if newline < 0:
                return
            self._end_line()
            i = newline + 1

    def _start_line(self, *, complete: bool) -> bool:
        """Act on the held line start once its kind is certain; False while it is not."""
        line = self._line
        held = len(line) >= HOLD_LIMIT
        if self._fence is not None:
            closes = False if held else _closes_fence(line, self._fence, complete)
            if closes is None:
                return False
            if closes:
                self._fence = None
            self._line, self._mode = "", _SKIP
            return True
        decided = _classify(line[:HOLD_LIMIT], complete or held)
        if decided is None:
            return False
        kind, markup = decided
        self._line = ""
        quoted = line.lstrip(" \t").startswith(">")
        if kind != _TEXT or (quoted and not self._quoted):
            self._end_unit()  # every other kind of line, or a quote, starts a unit of its own
        self._quoted = quoted
        if kind == _FENCE:
            stripped = line.lstrip(" \t>")
            self._fence = (stripped[0], len(stripped) - len(stripped.lstrip(stripped[0])))
        if kind in (_BLANK, _FENCE, _RULE):
            self._mode = _SKIP
        elif kind == _ROW:
            self._line, self._mode = line, _IN_ROW
        else:
            self._mode = _IN_HEADING if kind == _HEADING else _INLINE
            self._push(line[markup:])
        return True

    def _end_line(self) -> None:
        if self._mode == _INLINE:
            self._push("\n")  # a soft break: the next line may continue this unit
        elif self._mode == _IN_HEADING:
            self._end_unit()
        elif self._mode == _IN_ROW:
            if len(self._line) <= HOLD_LIMIT:
                self._emit(speakable_row(self._line))
            self._line = ""
        self._mode = _START

    def _end_block(self) -> None:
        """A flush boundary: the markdown document ends, whatever state it was in."""
        if self._mode == _START and self._line:
            self._start_line(complete=True)
        if self._mode != _START:
            self._end_line()
        self._end_unit()
        self._line, self._mode, self._fence, self._quoted = "", _START, None, False

    # Sentences: the splitter finds them in each unit, speakable text is what is said

    def _push(self, text: str) -> None:
        for raw in self._splitter.push(text):
            self._emit(speakable(raw))

    def _end_unit(self) -> None:
        for raw in self._splitter.end():
            self._emit(speakable(raw))

    def _emit(self, text: str) -> None:
        if any(c.isalnum() for c in text):
            self._out.append(Sentence(self._seq, text, time.perf_counter()))
            self._seq += 1


def segment(pieces: Iterable[TextPiece]) -> Iterator[Sentence]:
    """Sentences of a stream of pieces, each yielded as soon as its end is certain."""
    segmenter = Segmenter()
    for piece in pieces:
        yield from segmenter.feed(piece)
    yield from segmenter.flush()


def _hold_back(text: str, unfinished: re.Pattern[str], *, final: bool) -> tuple[str, str]:
    """``text`` split before an unfinished end that the next piece may complete, and that
    end; at a boundary nothing can complete it, and it is dropped."""
    end = unfinished.search(text, max(0, len(text) - _LONGEST_UNFINISHED))
    if end is None:
        return text, ""
    return text[: end.start()], "" if final else text[end.start() :]


def _pair_surrogates(text: str) -> str:
    """UTF-16 halves that arrived apart become their character; a lone half is dropped."""
    if _SURROGATE.search(text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "ignore")
    return text


def _strip_controls(text: str) -> str:
    """``text`` without terminal escapes or control characters but tab and newline."""
    return _CONTROL.sub("", _ESCAPE.sub("", text))
