"""The vocabulary ids that text in one language can use: what a pruned output head keeps.

A piece is kept when every character in it belongs to the language's own scripts (a small
table of Unicode ranges per language, below) or to what every language mixes in: ASCII
digits and Latin letters, punctuation and symbols (Unicode categories P and S) and the ``▁``
word marker. The specials and the target language code are kept too. The choice is generous
on purpose: a kept piece costs one row of the head, while a dropped piece that the model
wanted changes the translation. Add a language by adding its ranges to ``SCRIPTS``.
"""

from __future__ import annotations

import functools
import unicodedata

from streamtts.nllb.tokenizer import WORD_MARKER, NllbTokenizer

# Inclusive Unicode ranges of the characters each language writes beyond the common set.
SCRIPTS: dict[str, tuple[tuple[int, int], ...]] = {
    "jpn_Jpan": (
        (0x2160, 0x217F),  # Roman numerals Ⅰ Ⅱ
        (0x2460, 0x24FF),  # enclosed numbers ① ⑴
        (0x3000, 0x303F),  # CJK symbols and punctuation 、。「」々〇
        (0x3040, 0x309F),  # hiragana
        (0x30A0, 0x30FF),  # katakana
        (0x31F0, 0x31FF),  # katakana phonetic extensions
        (0x3200, 0x33FF),  # enclosed CJK and compatibility ㈱ ㍉ ㎞
        (0x3400, 0x4DBF),  # CJK ideographs, extension A
        (0x4E00, 0x9FFF),  # CJK unified ideographs
        (0xF900, 0xFAFF),  # CJK compatibility ideographs
        (0xFF00, 0xFFEF),  # half-width and full-width forms
        (0x20000, 0x2FA1F),  # CJK ideographs, extensions B and later
    ),
}


def _is_common(char: str) -> bool:
    # Text in any language carries numbers, Latin names and identifiers, and punctuation.
    return (
        (char.isascii() and char.isalnum())
        or char == WORD_MARKER
        or unicodedata.category(char)[0] in "PS"
    )


def japanese_token_ids(tokenizer: NllbTokenizer, lang: str = "jpn_Jpan") -> list[int]:
    """Sorted full-vocabulary ids that text in ``lang`` can use (Japanese by default).

    Pieces made only of ``lang``'s scripts and common characters, the four specials and
    ``lang``'s language code. ValueError names the languages ``SCRIPTS`` knows.
    """
    if lang not in SCRIPTS:
        raise ValueError(
            f"no script table for {lang!r}; vocabulary pruning knows {', '.join(SCRIPTS)}"
        )
    ranges = SCRIPTS[lang]

    @functools.cache  # a vocabulary repeats a few thousand characters across 256k pieces
    def usable(char: str) -> bool:
        code = ord(char)
        return _is_common(char) or any(low <= code <= high for low, high in ranges)

    kept = [tokenizer.bos_id, tokenizer.pad_id, tokenizer.eos_id, tokenizer.unk_id]
    kept += (
        i
        for i in range(len(tokenizer))
        if not tokenizer.is_special(i) and all(map(usable, tokenizer.piece(i)))
    )
    kept.append(tokenizer.lang_id(lang))
    return sorted(kept)
