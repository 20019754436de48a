"""Property tests: sentences do not depend on chunking; the reader survives any bytes."""

from __future__ import annotations

import copy
import io
import itertools
import json
import re

from helpers import DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamtts.reading.formats import FORMATS
from streamtts.reading.formats.base import Boundary, TextPiece
from streamtts.reading.stream import SourceStats, iter_lines, read_pieces
from streamtts.text.segmenter import Segmenter

# Fragments chosen to hit every rule: terminators and what may follow them, abbreviations,
# numbers, code spans and fences, links, tables, list and heading markers, CJK, long runs.
# fmt: off
FRAGMENTS = [
    "Done", ". ", ".", "! ", "? ", "…", "。", "、", "！", "e.g. ", "etc. ", "Mr. ", "3.14",
    "foo.py", " ", "  ", "\n", "\n\n", "`", "``", "```", "```py\n", "~~~\n", "[link", "](",
    "https://x.io/a.b", ")", "(", "*", "**", "_", "|", "| a | b |\n", "|---|---|\n", "- ",
    "1. ", "# ", "> ", "---\n", ", ", "; ", ": ", "— ", '"', "」", "word", "Next", "next",
    "日本語", "sk-abcdefghijklmnopqrstuv", "✅", "<b>", "x" * 40, "clause " * 30,
    "\x1b[1;31m", "\x1b]0;title\x07", "\x1b", "\x1b\\", "\x00", "\r", "\x9b", "\ud83d", "\ude00",
]
# fmt: on
# Terminal escapes, control characters and surrogate halves are never in a sentence.
UNSPEAKABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
BOUNDARIES = [None, None, None, Boundary.BLOCK, Boundary.TOOL, Boundary.TURN]

texts = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)
pieces = st.lists(
    st.tuples(texts, st.sampled_from(BOUNDARIES)).map(lambda p: TextPiece(*p)), max_size=6
)


def run(stream: list[TextPiece]) -> list[tuple[int, str]]:
    segmenter = Segmenter()
    out = [s for piece in stream for s in segmenter.feed(piece)] + segmenter.flush()
    return [(s.seq, s.text) for s in out]


def split(piece: TextPiece, cuts: list[int]) -> list[TextPiece]:
    """``piece`` cut at ``cuts``; only the last part carries the boundary."""
    points = sorted({0, len(piece.text), *(c % (len(piece.text) + 1) for c in cuts)})
    parts = [piece.text[a:b] for a, b in itertools.pairwise(points)] or [""]
    return [TextPiece(t) for t in parts[:-1]] + [TextPiece(parts[-1], piece.boundary)]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces, st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_any_split_gives_the_same_sentences(stream: list[TextPiece], cuts: list[int]) -> None:
    chunked = [part for piece in stream for part in split(piece, cuts)]
    expected = run(stream)
    assert run(chunked) == expected
    for _, text in expected:
        assert text and text == text.strip() and "\n" not in text
        assert not UNSPEAKABLE.search(text)


@settings(max_examples=100, deadline=None)
@given(pieces)
def test_character_by_character_gives_the_same_sentences(stream: list[TextPiece]) -> None:
    trickled = [part for piece in stream for part in split(piece, list(range(len(piece.text))))]
    assert run(trickled) == run(stream)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(FORMATS))
def test_the_reader_never_raises_on_arbitrary_bytes(data: bytes, fmt: str) -> None:
    stats = SourceStats()
    got = list(read_pieces(io.BytesIO(data), fmt=fmt, stats=stats))
    assert all(isinstance(piece, TextPiece) for piece in got)
    assert stats.lines == len(list(iter_lines(io.BytesIO(data))))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
# Real events from every capture: a random field of one replaced by a random JSON value
# reaches the parsers' deep paths (deltas, content blocks, results) with wrong types.
CAPTURED = [
    json.loads(line)
    for path in sorted(DATA.glob("*.jsonl"))
    for line in path.read_text(encoding="utf-8").splitlines()
]


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    children = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    return [prefix] + [p for key, child in children for p in _paths(child, (*prefix, key))]


@st.composite
def mutated_events(draw: st.DrawFn) -> dict:
    event = copy.deepcopy(draw(st.sampled_from(CAPTURED)))
    *parents, key = draw(st.sampled_from(_paths(event)[1:]))
    target = event
    for parent in parents:
        target = target[parent]
    target[key] = draw(json_values)
    return event


@settings(max_examples=300, deadline=None)
@given(st.lists(mutated_events(), max_size=8), st.sampled_from(FORMATS))
def test_the_reader_never_raises_on_odd_json_events(stream: list[dict], fmt: str) -> None:
    data = "".join(json.dumps(e) + "\n" for e in stream).encode()
    stats = SourceStats()
    got = list(read_pieces(io.BytesIO(data), fmt=fmt, stats=stats))
    assert all(isinstance(piece.text, str) for piece in got)
    assert (stats.lines, stats.malformed) == (len(stream), 0)
