"""``--translate nllb``: NLLB-200 on MLX, greedy, with names kept as written.

The converted model is loaded when the translator is made, on the thread that makes it,
which is the thread that will translate. The translator also reports, per text, the
generated token ids and the wall time of the call, for ``translate --json``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from streamtts.translate.base import (
    NO_MODEL_HINT,
    WARMUP_TEXT,
    ModelNotFoundError,
    Translation,
    default_model_dir,
    language,
)
from streamtts.translate.names import NameStats, translate_keeping_names

if TYPE_CHECKING:
    from streamtts.nllb.generate import GenerateOptions


class NllbTranslator:
    """Greedy NLLB-200 translation with the MLX port; guards as ``options`` set them."""

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        src_lang: str = "eng_Latn",
        tgt_lang: str = "jpn_Jpan",
        options: GenerateOptions | None = None,
        verify: bool = False,
    ) -> None:
        """Load the converted model in ``model_dir`` (default: :func:`default_model_dir`).

        Every file's size is checked against the manifest; ``verify`` checks its sha256 too
        (seconds for the real model, so only on request). Raises ModelNotFoundError when the
        directory is missing, incomplete or corrupt, and LanguageError for an unknown
        language code.
        """
        from streamtts.nllb.generate import GenerateOptions
        from streamtts.nllb.load import ModelDirError, load

        self.src_lang = language(src_lang)
        self.tgt_lang = language(tgt_lang)
        self.options = options or GenerateOptions()
        try:
            self.bundle = load(model_dir or default_model_dir(), verify=verify)
        except ModelDirError as error:
            raise ModelNotFoundError(str(error)) from None
        self._tgt_id = self.bundle.tokenizer.lang_id(tgt_lang)
        self.names = NameStats()

    def warmup(self) -> None:
        """Translate one short sentence, so MLX has built and cached what decoding needs."""
        self.translate([WARMUP_TEXT])

    def translate(self, texts: list[str]) -> list[str]:
        """One translation per text, names kept as written; blank text translates to ''."""
        return translate_keeping_names(texts, self._translate_plain, self.names)

    def _translate_plain(self, texts: list[str]) -> list[str]:
        return [t.translation for t in self.translate_detailed(texts)]

    def translate_detailed(self, texts: list[str]) -> list[Translation]:
        """The model's own output for each text as written (no name protection), with the
        generated token ids and the call's wall time."""
        from streamtts.nllb.generate import generate

        start = time.perf_counter()
        tokenizer = self.bundle.tokenizer
        # Blank text would make the model invent a sentence; it gets no model call at all.
        todo = [i for i, text in enumerate(texts) if text.strip()]
        src = tokenizer.encode_batch([texts[i] for i in todo], self.src_lang)
        generated = generate(self.bundle, src, tgt_lang_id=self._tgt_id, options=self.options)
        tokens: list[list[int]] = [[] for _ in texts]
        for i, ids in zip(todo, generated, strict=True):
            tokens[i] = ids
        ms = (time.perf_counter() - start) * 1000
        return [
            Translation(text, tokenizer.decode(ids), ids, ms)
            for text, ids in zip(texts, tokens, strict=True)
        ]


def load(*, model_dir: Path | None, src_lang: str, tgt_lang: str) -> NllbTranslator:
    """The NLLB translator; without a usable model, ModelNotFoundError says what to do."""
    try:
        return NllbTranslator(model_dir, src_lang=src_lang, tgt_lang=tgt_lang)
    except ModelNotFoundError as error:
        raise ModelNotFoundError(f"{error}; {NO_MODEL_HINT}") from None
