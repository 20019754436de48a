"""Translation stage: English sentences in, Japanese out, by NLLB-200 on MLX or not at all.

A translator is anything with ``warmup()`` and a batch ``translate(texts)``; the modes are a
plain dict of constructors. ``nllb`` loads the converted model when the translator is made,
on the thread that calls :func:`load_translator`, which is the thread that will translate:
MLX work then never crosses threads. ``auto`` passes text that is already Japanese through
and loads NLLB only when some text is not, so a machine without a converted model can still
speak Japanese input; ``none`` speaks the text as it is. The NLLB translator also reports,
per text, the generated token ids and the wall time of the call, for ``translate --json``.

Names stay as written: NLLB would transliterate or translate an identifier (``parse_args``,
``CHANGELOG.md``, ``v0.4.2``), so before the model sees a sentence each name is swapped for a
placeholder it copies (``ZQ0``, ``ZQ1``…), and the names are put back in its output. An
output that lost a placeholder, repeats one or invents one would lose or duplicate a name:
that sentence is translated again unprotected instead, and counted (``NameStats``).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from streamtts.errors import StreamttsError
from streamtts.nllb.tokenizer import check_language
from streamtts.paths import user_cache_dir

if TYPE_CHECKING:
    from streamtts.nllb.generate import GenerateOptions

log = logging.getLogger(__name__)

MODEL_NAME = "nllb-200-distilled-600M-mlx"
WARMUP_TEXT = "Hello, world."
NO_MODEL_HINT = "or speak without translating: --translate none (or auto for Japanese text)"


class ModelNotFoundError(StreamttsError):
    """No usable converted model: the message says how to make one."""


class LanguageError(StreamttsError, ValueError):
    """A language code NLLB-200 does not know (or an unknown mode)."""


def _language(code: str) -> str:
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


# What a name looks like in English prose: an identifier with _ or an inner capital or digit,
# a dotted name or file, a path, a flag, a version, an acronym. Plain words are translated.
_NAME = re.compile(
    r"""
    (?<![\w/.-])
    (?:
        --?[A-Za-z][\w-]*                                  # --dry-run, -v
        | (?:[~.]{0,2}/)?[\w.-]+(?:/[\w.-]+)+/?              # src/cli.py, ~/.config
        | [vV]\d+(?:\.\d+)*(?:-?[A-Za-z]+\d*)?              # v0.4.2, v2, v1.0-rc1
        | \d+(?:\.\d+){2,}                                   # 0.4.2
        | \.?[A-Za-z_]\w+(?:\.[A-Za-z_]\w*)+(?:\(\))?       # os.path.join, CHANGELOG.md
        | \w*_\w*(?:\(\))?                                    # parse_args, __init__
        | [a-z]+[A-Z]\w*(?:\(\))?                             # useState, macOS
        | [A-Z][A-Za-z]*[A-Z][A-Za-z\d]*                      # FastAPI, GitHub, JSON
        | [A-Za-z]+\d[\w]*                                   # utf8, k8s, sha256
        | \w+\(\)                                            # main()
    )
    (?<![.-])(?![\w/])
    """,
    re.X | re.A,  # \w is ASCII: a name ends where Japanese text begins (parse_argsの)
)
PLACEHOLDER = "ZQ{}"
# A placeholder as a model may write it back: spaced out, or in full-width letters and digits.
_PLACEHOLDER = re.compile(r"[ZＺ]\s?[QＱ]\s?([0-9０-９]+)")


@dataclass
class NameStats:
    """How the names of translated sentences fared: ``protected`` sentences had names,
    ``restored`` got each back from a placeholder, ``fell_back`` were translated again
    unprotected because the model dropped, repeated or invented a placeholder."""

    protected: int = 0
    restored: int = 0
    fell_back: int = 0


def protect(text: str) -> tuple[str, list[str]]:
    """``text`` with each name replaced by a placeholder, and the names in placeholder order.

    Text that already holds something placeholder-like is left as it is (no names), so a
    placeholder in the output always stands for a name of ours.
    """
    if _PLACEHOLDER.search(text):
        return text, []
    names: list[str] = []

    def swap(match: re.Match[str]) -> str:
        names.append(match.group())
        return PLACEHOLDER.format(len(names) - 1)

    return _NAME.sub(swap, text), names


def restore(translation: str, names: list[str]) -> str | None:
    """``translation`` with each placeholder back to its name; None unless every name's
    placeholder appears exactly once and no other placeholder does."""
    found = [int(index) for index in _PLACEHOLDER.findall(translation)]
    if sorted(found) != list(range(len(names))):
        return None
    return _PLACEHOLDER.sub(lambda match: names[int(match.group(1))], translation)


def translate_keeping_names(
    texts: list[str], translate: Callable[[list[str]], list[str]], stats: NameStats
) -> list[str]:
    """``translate(texts)`` with the names of each text protected (see the module docstring).

    One batch goes through ``translate`` with placeholders; the texts whose output does not
    give every name back exactly once go through it again as written, in a second batch.
    """
    protected = [protect(text) for text in texts]
    out = translate([masked for masked, _ in protected])
    again = []
    for i, (masked, names) in enumerate(protected):
        if not names:
            continue
        stats.protected += 1
        restored = restore(out[i], names)
        if restored is None:
            again.append(i)
            log.info("placeholders lost in %r → %r; translated unprotected", masked, out[i])
        else:
            stats.restored += 1
            out[i] = restored
    if again:
        stats.fell_back += len(again)
        for i, translation in zip(again, translate([texts[i] for i in again]), strict=True):
            out[i] = translation
    return out


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

        self.src_lang = _language(src_lang)
        self.tgt_lang = _language(tgt_lang)
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


class PassThrough:
    """``--translate none``: every text is spoken as it is."""

    def warmup(self) -> None:
        """Nothing to warm up."""

    def translate(self, texts: list[str]) -> list[str]:
        """The texts, unchanged."""
        return list(texts)


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


def load_translator(
    mode: str,
    *,
    model_dir: Path | None = None,
    src_lang: str = "eng_Latn",
    tgt_lang: str = "jpn_Jpan",
) -> Translator:
    """The translator for ``mode``: ``nllb``, ``none`` or ``auto`` (see the module docstring).

    Raises ModelNotFoundError for ``nllb`` without a usable model (``auto`` raises it per
    batch instead), LanguageError for an unknown mode or language code.
    """

    def nllb() -> NllbTranslator:
        try:
            return NllbTranslator(model_dir, src_lang=src_lang, tgt_lang=tgt_lang)
        except ModelNotFoundError as error:
            raise ModelNotFoundError(f"{error}; {NO_MODEL_HINT}") from None

    modes: dict[str, Callable[[], Translator]] = {
        "nllb": nllb,
        "none": PassThrough,
        "auto": lambda: AutoTranslator(nllb),
    }
    if mode not in modes:
        raise LanguageError(f"unknown translation mode {mode!r}; use one of {', '.join(modes)}")
    _language(src_lang)
    _language(tgt_lang)
    return modes[mode]()


def is_japanese(text: str) -> bool:
    """True when text is mostly Japanese (kana and kanji), e.g. an agent answering in Japanese.

    A Japanese character says about as much as two Latin letters, so it counts double:
    ``README を更新しました`` is Japanese; an English sentence quoting a button label is not.
    Names are not English words: Japanese prose full of them (``load_translator が
    ModelNotFoundError を投げます``) is Japanese.
    """
    japanese = latin = 0
    for c in _NAME.sub("", text):
        if "\u3040" <= c <= "\u30ff" or "\u3400" <= c <= "\u9fff" or "\uff66" <= c <= "\uff9f":
            japanese += 1
        elif c.isascii() and c.isalpha():
            latin += 1
    return japanese > 0 and japanese * 2 >= latin
