"""``--translate auto``: text that is already Japanese passes through; the rest goes to NLLB.

NLLB loads only when some text is not Japanese, so a machine without a converted model can
still speak Japanese input.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from streamtts.translate import nllb
from streamtts.translate.base import ModelNotFoundError, Translator
from streamtts.translate.names import NAME

log = logging.getLogger(__name__)


class AutoTranslator:
    """``--translate auto``: Japanese text passes through; other text goes to NLLB.

    NLLB is loaded once, by warm-up or the first batch that needs it. Without a usable
    model every batch that needs NLLB raises the same ModelNotFoundError, remembered from
    that one attempt: a corrupt 2.5 GB model is not hashed again for every English batch.
    """

    def __init__(self, load_nllb: Callable[[], Translator]) -> None:
        """``load_nllb`` makes the NLLB translator (raising ModelNotFoundError without one)."""
        self._load_nllb = load_nllb
        self._nllb: Translator | None = None
        self._failure: ModelNotFoundError | None = None

    def warmup(self) -> None:
        """Load and warm up NLLB when a model is there; without one there is nothing to do."""
        try:
            self._translator().warmup()
        except ModelNotFoundError as error:
            log.info("auto translation without a model, Japanese text only: %s", error)

    def translate(self, texts: list[str]) -> list[str]:
        """Japanese texts unchanged, the others translated in one NLLB batch."""
        out = list(texts)
        foreign = [i for i, text in enumerate(texts) if not is_japanese(text)]
        if foreign:
            translated = self._translator().translate([texts[i] for i in foreign])
            for i, translation in zip(foreign, translated, strict=True):
                out[i] = translation
        return out

    def _translator(self) -> Translator:
        if self._failure is not None:
            raise self._failure
        if self._nllb is None:
            try:
                self._nllb = self._load_nllb()
            except ModelNotFoundError as error:
                self._failure = error
                raise
        return self._nllb


def is_japanese(text: str) -> bool:
    """True when text is mostly Japanese (kana and kanji), e.g. an agent answering in Japanese.

    A Japanese character says about as much as two Latin letters, so it counts double:
    ``README を更新しました`` is Japanese; an English sentence quoting a button label is not.
    Names are not English words: Japanese prose full of them (``load_translator が
    ModelNotFoundError を投げます``) is Japanese.
    """
    japanese = latin = 0
    for c in NAME.sub("", text):
        if "\u3040" <= c <= "\u30ff" or "\u3400" <= c <= "\u9fff" or "\uff66" <= c <= "\uff9f":
            japanese += 1
        elif c.isascii() and c.isalpha():
            latin += 1
    return japanese > 0 and japanese * 2 >= latin


def load(*, model_dir: Path | None, src_lang: str, tgt_lang: str) -> AutoTranslator:
    """Japanese passes through; NLLB is loaded on the first text that needs it."""
    return AutoTranslator(
        lambda: nllb.load(model_dir=model_dir, src_lang=src_lang, tgt_lang=tgt_lang)
    )
