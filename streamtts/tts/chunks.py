"""How a Japanese sentence is cut into the chunks an engine renders, and what each cut is.

This is the one place text is split for speech: callers hand an engine whole sentences,
and the engine (``ClauseEngine.synthesize``) calls ``split_sentence`` with its own
``max_chars`` and first-clause setting. Text is cut first at sentence ends 。！？, then at
clause marks 、, packing clauses back together up to ``max_chars``; a clause still too long
is cut at its last space in reach, else at the limit itself. Each ``Chunk`` says how it was
cut, so the pause after it follows from the cut instead of being guessed from its last
character: a sentence end gets the sentence pause, a clause or space cut the clause seam,
and a hard cut (inside a word, as far as anyone can tell) the shortest seam.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Shorter first clauses (the mark included) are not split off: see split_sentence.
MIN_FIRST_CLAUSE_CHARS = 4

SENTENCE_MARKS = "。！？!?"
CLAUSE_MARKS = "、，,；;：:"
_SENTENCE_END = re.compile(f"(?<=[{SENTENCE_MARKS}])")
_CLAUSE_END = re.compile(f"(?<=[{CLAUSE_MARKS}])")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One engine call's worth of text and how it was cut from what follows.

    ``ends_sentence``: cut at 。！？ or the end of the text. ``in_word``: a hard cut at
    ``max_chars`` in a run with no clause mark or space, so speech must run straight on.
    A chunk with neither was cut at a clause mark or a space.
    """

    text: str
    ends_sentence: bool
    in_word: bool = False


def split_sentence(text: str, max_chars: int, *, first_clause: bool = False) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``max_chars`` characters, in order.

    Sentences never share a chunk; a sentence longer than ``max_chars`` is cut at 、
    (clauses packed greedily), and a clause still too long at its last space within the
    limit, else at the limit. With ``first_clause`` the very first chunk is the first
    clause alone, so the engine can start sound sooner; a first clause as short as まず、
    or はい、 stays with the next one, since engines run through such words without the
    pause a seam would add.
    """
    chunks: list[Chunk] = []
    for sentence in _pieces(text, _SENTENCE_END):
        clauses = _pieces(sentence, _CLAUSE_END)
        packed: list[tuple[str, bool]] = []
        if first_clause and not chunks and len(clauses) > 1:
            if len(clauses[0].strip()) < MIN_FIRST_CLAUSE_CHARS:
                clauses = [clauses[0] + clauses[1], *clauses[2:]]
            packed = _pack(clauses[:1], max_chars)
            clauses = clauses[1:]
        packed += _pack(clauses, max_chars)
        kept = [(piece.strip(), in_word) for piece, in_word in packed if piece.strip()]
        last = len(kept) - 1
        chunks += [
            Chunk(piece, ends_sentence=index == last, in_word=in_word and index != last)
            for index, (piece, in_word) in enumerate(kept)
        ]
    return chunks


def _pieces(text: str, boundary: re.Pattern[str]) -> list[str]:
    return [piece for piece in boundary.split(text) if piece.strip()]


def _pack(clauses: list[str], max_chars: int) -> list[tuple[str, bool]]:
    """Greedily join consecutive clauses while they fit in ``max_chars``.

    Each chunk comes with whether it ends in a hard cut (as its last piece does).
    """
    out: list[tuple[str, bool]] = []
    current, current_in_word = "", False
    for clause in clauses:
        for piece, in_word in _hard_split(clause, max_chars):
            if current and len(current) + len(piece) > max_chars:
                out.append((current, current_in_word))
                current = piece
            else:
                current += piece
            current_in_word = in_word
    if current.strip():
        out.append((current, current_in_word))
    return out


def _hard_split(text: str, max_chars: int) -> list[tuple[str, bool]]:
    """Cut a clause with no usable punctuation: at the last space in reach, else anywhere."""
    out = []
    while len(text) > max_chars:
        space = text.rfind(" ", 1, max_chars + 1)
        cut = space if space > 0 else max_chars
        out.append((text[:cut], space <= 0))
        text = text[cut:]
    out.append((text, False))
    return out
