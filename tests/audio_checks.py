"""Measurements of rendered speech shared by the tests and bench/tts.py (not runtime code)."""

from __future__ import annotations

import numpy as np

from streamtts.tts.seams import SILENCE_THRESHOLD


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
