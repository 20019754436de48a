"""Sentence splitter: where sentences end in the raw inline markdown of one unit.

The block lexer (``streamtts.text.segmenter``) pushes the text of one unit at a time (a paragraph,
a list item, a heading) and says when the unit ends. The splitter scans that raw inline
markdown for a terminator whose meaning the following characters settle (whitespace
after it, no abbreviation before it, not inside a code span or link) and cuts a long run
at a clause boundary, returning each sentence as raw markdown for ``streamtts.text.speakable``.
Every decision waits for the characters that settle it and never looks further, and none
looks more than ``RUN_LIMIT`` characters past the start of its sentence: a sentence that
has not ended by then is cut there. So the sentences do not depend on how the stream was
chunked, the text held is bounded, and no piece re-scans more than one run's worth of it,
which keeps the work linear in the input however it arrives.
"""

from __future__ import annotations

import re

# A sentence with no terminator is cut at the first clause boundary after SOFT_LIMIT raw
# characters and at the first space after HARD_LIMIT, so speech never waits long.
SOFT_LIMIT = 150
HARD_LIMIT = 300
# An unclosed `code span` or [link stops protecting its content after this many characters.
PROTECT_LIMIT = 200
# A run with no place to cut (no space, or terminators without end) is cut here anyway: it
# is not prose, and holding it whole would cost memory and quadratic time.
RUN_LIMIT = 8192

_CANDIDATE = re.compile(r"[`\[\]()]|[.!?…。！？]|[,;:—、，；：]")
_TERMINATORS = ".!?…。！？"
_CJK_TERMINATORS = "。！？"
_CLOSERS = "\"'”’)]}»」』）】〕*_~"
# A run of terminators and the closing quotes or brackets after it.
_TERMINATOR_RUN = re.compile(f"([{re.escape(_TERMINATORS)}]+)[{re.escape(_CLOSERS)}]*")
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


class SentenceSplitter:
    """Incremental sentence splitter over the inline markdown of one unit at a time."""

    def __init__(self) -> None:
        # Raw inline markdown; the sentence in progress starts at _start.
        self._buf = ""
        self._start = 0
        self._pos = 0
        self._code = 0  # length of the backtick run that opened the current code span
        self._brackets = 0
        self._dest = 0  # parenthesis depth inside a link destination
        self._protect_from = 0
        self._out: list[str] = []

    def push(self, text: str) -> list[str]:
        """Take more text of the unit; return the sentences (raw markdown) it ended."""
        if self._start == len(self._buf):
            text = text.lstrip()
        if text:
            self._buf += text
            self._scan(final=False)
        return self._take()

    def end(self) -> list[str]:
        """The unit ended: return its remaining sentences and start afresh."""
        if self._start < len(self._buf):
            self._scan(final=True)
            self._cut(len(self._buf))
        self._buf, self._start, self._pos = "", 0, 0
        self._reset_protection()
        return self._take()

    def _take(self) -> list[str]:
        out, self._out = self._out, []
        return out

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
            # Decisions look no further than RUN_LIMIT past the start of the sentence.
            cap = self._start + RUN_LIMIT
            end = min(len(buf), cap)
            m = _CANDIDATE.search(buf, i, end)
            j = m.start() if m else end
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
            settled = final and end == len(buf)
            after = self._candidate(buf, j, end, final=settled) if m else None
            if after is not None:
                i = after
                continue
            if end < len(buf):
                self._cut(cap)  # nothing settled within the limit: cut there
                i = self._start
                continue
            i = j  # not settled until more text arrives
            break
        # Drop the emitted text so the buffer only holds the sentence in progress.
        if self._start:
            buf = buf[self._start :]
        self._buf, self._pos = buf, i - self._start
        self._protect_from -= self._start
        self._start = 0

    def _candidate(self, buf: str, j: int, n: int, *, final: bool) -> int | None:
        """Handle the special character at ``j`` of ``buf[:n]``; where to scan on, or None."""
        c = buf[j]
        if c == "`":
            run = _BACKTICKS.match(buf, j, n).end() - j  # type: ignore[union-attr]
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
            return self._terminator(buf, j, n, final=final)
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

    def _terminator(self, buf: str, j: int, n: int, *, final: bool) -> int | None:
        """Decide whether the run of terminators at ``j`` ends the sentence."""
        run_match = _TERMINATOR_RUN.match(buf, j, n)
        run, k = run_match.group(1), run_match.end()  # type: ignore[union-attr]
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
                following = _NON_SPACE.search(buf, k, n)
                if following is None and not final:
                    return None
                ends = following is None or not buf[following.start()].islower()
        if not ends:
            return k
        self._cut(k)
        return self._start

    def _cut(self, end: int) -> None:
        """End the sentence at ``end``; the next one starts at the next non-space."""
        self._out.append(self._buf[self._start : end])
        following = _NON_SPACE.search(self._buf, end)
        self._start = following.start() if following else len(self._buf)
        self._reset_protection()
