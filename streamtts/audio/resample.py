"""Resampling a sentence's chunks to the rate of whatever plays or writes them.

One soxr stream per sentence keeps the audio continuous across its chunks and flushes the
tail when the sentence ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np


def at_rate(chunks: Iterable[np.ndarray], rate: int, target: int) -> Iterator[np.ndarray]:
    """Yield ``chunks`` as 1-D float32 at ``target`` Hz, resampled with soxr if needed."""
    if rate == target:
        for chunk in chunks:
            yield np.asarray(chunk, np.float32).reshape(-1)
        return
    import soxr

    # One stream per sentence: continuous across its chunks, and flushed at its end so
    # the last milliseconds are not held back until the next sentence.
    stream = soxr.ResampleStream(rate, target, 1, dtype="float32")
    for chunk in chunks:
        yield stream.resample_chunk(np.asarray(chunk, np.float32).reshape(-1))
    yield stream.resample_chunk(np.zeros(0, np.float32), last=True)
