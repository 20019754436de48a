"""Translators: English sentences in, Japanese out. This module is their registry.

``TRANSLATORS`` maps each ``--translate`` mode to the module that makes it, and every other
list of modes (the command line's choices, the config file's check) is derived from it. A
mode's module is imported only when it is loaded, and has a
``load(*, model_dir, src_lang, tgt_lang)``; a new translator is one module and one entry.

- ``base``: the ``Translator`` protocol, errors, the default model directory;
- ``names``: names (identifiers, paths, versions) kept as written through the model;
- ``nllb``, ``passthrough`` (``none``), ``auto``: the modes.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streamtts.translate.base import Translator

TRANSLATORS: dict[str, str] = {
    "nllb": "streamtts.translate.nllb",
    "none": "streamtts.translate.passthrough",
    "auto": "streamtts.translate.auto",
}


def load_translator(
    mode: str,
    *,
    model_dir: Path | None = None,
    src_lang: str = "eng_Latn",
    tgt_lang: str = "jpn_Jpan",
) -> Translator:
    """The translator for ``mode``, one of ``TRANSLATORS``.

    Raises ModelNotFoundError for ``nllb`` without a usable model (``auto`` raises it per
    batch instead), LanguageError for an unknown mode or language code.
    """
    from streamtts.translate.base import LanguageError, language

    if mode not in TRANSLATORS:
        raise LanguageError(
            f"unknown translation mode {mode!r}; use one of {', '.join(TRANSLATORS)}"
        )
    language(src_lang)
    language(tgt_lang)
    module = import_module(TRANSLATORS[mode])
    return module.load(model_dir=model_dir, src_lang=src_lang, tgt_lang=tgt_lang)
