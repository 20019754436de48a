"""What every translator shares: the ``Translator`` protocol, its errors, a translation's
record, and where the converted NLLB model lives by default.

A translator is anything with ``warmup()`` and a batch ``translate(texts)``; all its model
work runs on the thread that calls it (MLX work never crosses threads).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from streamtts.errors import StreamttsError
from streamtts.nllb.tokenizer import check_language
from streamtts.paths import user_cache_dir

MODEL_NAME = "nllb-200-distilled-600M-mlx"
WARMUP_TEXT = "Hello, world."
NO_MODEL_HINT = "or speak without translating: --translate none (or auto for Japanese text)"


class ModelNotFoundError(StreamttsError):
    """No usable converted model: the message says how to make one."""


class LanguageError(StreamttsError, ValueError):
    """A language code NLLB-200 does not know (or an unknown mode)."""


def language(code: str) -> str:
    """``code`` if NLLB-200 knows it; LanguageError otherwise."""
    try:
        return check_language(code)
    except ValueError as error:
        raise LanguageError(str(error)) from None


class Translator(Protocol):
    """Translates batches of sentences; all its model work runs on the calling thread."""

    def warmup(self) -> None:
        """Run once before the first real batch so its latency is steady."""
        ...

    def translate(self, texts: list[str]) -> list[str]:
        """One translation per text, in order."""
        ...


@dataclass(frozen=True)
class Translation:
    """One text's translation with what produced it.

    Attributes:
        text: the source text.
        translation: the decoded output.
        tokens: generated full-vocabulary ids, without the language token and final ``</s>``.
        ms: wall time of the call that translated it (its whole batch), in milliseconds.
    """

    text: str
    translation: str
    tokens: list[int]
    ms: float


def default_model_dir() -> Path:
    """``$STREAMTTS_MODEL_DIR``, else ``streamtts/nllb-200-distilled-600M-mlx`` in the user cache.

    The user cache is ``~/Library/Caches`` on macOS and ``$XDG_CACHE_HOME`` or ``~/.cache``
    elsewhere. An empty ``$STREAMTTS_MODEL_DIR`` is an error rather than the current
    directory.
    """
    override = os.environ.get("STREAMTTS_MODEL_DIR")
    if override == "":
        raise ModelNotFoundError("STREAMTTS_MODEL_DIR is empty; name a path or unset it")
    if override is not None:
        return Path(override).expanduser()
    return user_cache_dir() / MODEL_NAME
