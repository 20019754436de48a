"""Streaming segmenter: text pieces in, speakable sentences out, each as soon as it is certain.

Two small state machines run over the characters as they arrive. The block lexer works
line by line, like a markdown block parser: it classifies each line from its first
characters (fence, heading, list item, table row, rule, blank, paragraph text) as soon
as those are known, skips code fences, and tells the sentence splitter where units
(paragraphs, list items, headings, table rows) end; fence state lives between lines, so
it survives any split of the stream. The sentence splitter scans the raw inline markdown
of the current unit for a terminator whose meaning the following characters settle
(whitespace after it, no abbreviation before it, not inside a code span or link) and
cuts a long run at a clause boundary, then hands each cut to ``streamtts.speakable``.
Every decision waits for the characters that settle it and never looks further, which is
what makes the sentences independent of how the stream was chunked.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from streamtts.source import TextPiece
from streamtts.speakable import speakable, speakable_row

# A sentence with no terminator is cut at the first clause boundary after SOFT_LIMIT raw
# characters and at the first space after HARD_LIMIT, so speech never waits long.
SOFT_LIMIT = 150
HARD_LIMIT = 300
# An unclosed `code span` or [link stops protecting its content after this many characters.
PROTECT_LIMIT = 200
# A line's kind is settled by its first HOLD_LIMIT characters, and a table row longer than
# that is data, not read: so a held line never grows past it.
HOLD_LIMIT = 4096

_CANDIDATE = re.compile(r"[`\[\]()]|[.!?…。！？]|[,;:—、，；：]")
_TERMINATORS = ".!?…。！？"
_CJK_TERMINATORS = "。！？"
_CLOSERS = "\"'”’)]}»」』）】〕*_~"
_BACKTICKS = re.compile(r"`+")
_SPACE = re.compile(r"\s")
_NON_SPACE = re.compile(r"\S")
_WORD_BEFORE = re.compile(r"[A-Za-z](?:[A-Za-z.]*[A-Za-z])?$")
# Never the end of a sentence, whatever follows.
_NEVER_END = frozenset(
    {"e.g", "i.e", "vs", "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "cf", "approx"}
    | {"fig", "u.s", "u.k", "a.k.a", "viz", "resp"}
)
# The end of a sentence unless the next word starts in lower case ("etc. and" vs "etc. Then").
_MAYBE_END = frozenset(("etc", "inc", "ltd", "co", "corp", "a.m", "p.m", "al"))

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
        # Block lexer: the start of the current line while unclassified, or a held table row.
        self._line = ""
        self._mode = _START
        self._fence: tuple[str, int] | None = None
        self._quoted = False  # whether the last line was in a block quote
        # Sentence splitter: raw inline markdown; the sentence in progress starts at _start.
        self._buf = ""
        self._start = 0
        self._pos = 0
        self._code = 0  # length of the backtick run that opened the current code span
        self._brackets = 0
        self._dest = 0  # parenthesis depth inside a link destination
        self._protect_from = 0

    def feed(self, piece: TextPiece) -> list[Sentence]:
        """Take one piece of text; return the sentences whose end it made certain."""
        self._lex(piece.text)
        if piece.boundary is not None:
            self._end_block()
        return self._take()

    def flush(self) -> list[Sentence]:
        """End of input: return whatever is pending as sentences."""
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

    # Sentence splitter

    def _push(self, text: str) -> None:
        if self._start == len(self._buf):
            text = text.lstrip()
        if text:
            self._buf += text
            self._scan(final=False)

    def _end_unit(self) -> None:
        if self._start < len(self._buf):
            self._scan(final=True)
            self._cut(len(self._buf))
        self._buf, self._start, self._pos = "", 0, 0
        self._reset_protection()

    def _protected(self) -> bool:
        return bool(self._code or self._brackets or self._dest)

    def _reset_protection(self) -> None:
        self._code = self._brackets = self._dest = 0

    def _protect(self, at: int) -> None:
        if not self._protected():
            self._protect_from = at

    def _scan(self, *, final: bool) -> None:
        buf, i = self._buf, self._pos
        while True:
            m = _CANDIDATE.search(buf, i)
            j = m.start() if m else len(buf)
            if self._protected() and j > self._protect_from + PROTECT_LIMIT:
                # An unclosed ` or [ is literal text after all: stop protecting past the limit.
                i = max(i, self._protect_from + PROTECT_LIMIT)
                self._reset_protection()
            hard = self._start + HARD_LIMIT
            if not self._protected() and j > hard:
                space = _SPACE.search(buf, max(i, hard), j)
                if space:
                    self._cut(space.start())
                    i = self._start
                    continue
            if m is None:
                i = j
                break
            after = self._candidate(buf, j, final=final)
            if after is None:
                i = j  # not settled until more text arrives
                break
            i = after
        # Drop the emitted text so the buffer only holds the sentence in progress.
        self._buf, self._pos = buf[self._start :], i - self._start
        self._protect_from -= self._start
        self._start = 0

    def _candidate(self, buf: str, j: int, *, final: bool) -> int | None:
        """Handle the special character at ``j``; return where to scan on, None to wait."""
        c, n = buf[j], len(buf)
        if c == "`":
            run = _BACKTICKS.match(buf, j).end() - j  # type: ignore[union-attr]
            if j + run == n and not final:
                return None
            if not self._code:
                self._protect(j)
                self._code = run
            elif run == self._code:
                self._code = 0
            return j + run
        if self._code:
            return j + 1
        if c == "[":
            self._protect(j)
            self._brackets += 1
        elif c == "]" and self._brackets:
            if j + 1 == n and not final:
                return None
            self._brackets -= 1
            if not self._brackets and j + 1 < n and buf[j + 1] == "(":
                self._dest = 1  # [text](destination): stay protected through the destination
                return j + 2
        elif c == "(" and self._dest:
            self._dest += 1
        elif c == ")" and self._dest:
            self._dest -= 1
        elif self._protected():
            pass
        elif c in _TERMINATORS:
            return self._terminator(buf, j, final=final)
        elif j - self._start >= SOFT_LIMIT:
            if c in "—、，；：":
                self._cut(j + 1)
                return self._start
            if j + 1 == n and not final:
                return None
            if j + 1 == n or buf[j + 1].isspace():
                self._cut(j + 1)
                return self._start
        return j + 1

    def _terminator(self, buf: str, j: int, *, final: bool) -> int | None:
        """Decide whether the run of terminators at ``j`` ends the sentence."""
        n = len(buf)
        k = j
        while k < n and buf[k] in _TERMINATORS:
            k += 1
        run = buf[j:k]
        while k < n and buf[k] in _CLOSERS:
            k += 1
        if k == n and not final:
            return None
        ends = k == n or any(c in _CJK_TERMINATORS for c in run) or buf[k].isspace()
        if ends and k < n:
            word = _WORD_BEFORE.search(buf, max(self._start, j - 16), j) if run == "." else None
            abbreviation = word.group().lower() if word else ""
            if abbreviation in _NEVER_END:
                ends = False
            elif abbreviation in _MAYBE_END or ")" in buf[j:k] or "]" in buf[j:k]:
                # "etc. and", "(really!) left": an end only if the next word is not lower case
                following = _NON_SPACE.search(buf, k)
                if following is None and not final:
                    return None
                ends = following is None or not buf[following.start()].islower()
        if not ends:
            return k
        self._cut(k)
        return self._start

    def _cut(self, end: int) -> None:
        """Emit the sentence that ends at ``end``; the next one starts at the next non-space."""
        self._emit(speakable(self._buf[self._start : end]))
        following = _NON_SPACE.search(self._buf, end)
        self._start = following.start() if following else len(self._buf)
        self._reset_protection()

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


def is_japanese(text: str) -> bool:
    """True when text is mostly Japanese (kana and kanji), e.g. an agent answering in Japanese.

    A Japanese character says about as much as two Latin letters, so it counts double:
    ``README を更新しました`` is Japanese; an English sentence quoting a button label is not.
    """
    japanese = latin = 0
    for c in text:
        if "\u3040" <= c <= "\u30ff" or "\u3400" <= c <= "\u9fff" or "\uff66" <= c <= "\uff9f":
            japanese += 1
        elif c.isascii() and c.isalpha():
            latin += 1
    return japanese > 0 and japanese * 2 >= latin
