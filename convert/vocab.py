"""The vocabulary ids that Japanese output can use: what a pruned output head keeps.

A piece is kept when every character in it is one Japanese text writes: the language's
own scripts (kana, CJK ideographs, CJK punctuation, full- and half-width forms; a table of
Unicode ranges per language, ``SCRIPTS``), ASCII digits and punctuation, and a bounded set
of common symbols (general punctuation, Latin-1 signs, arrows, math operators, shapes,
dingbats), with the ``▁`` word marker anywhere. Latin letters are what makes a generic
rule keep half of NLLB's 256k pieces (126 of its 202 languages write Latin), so a piece
with ASCII letters is kept only when it is short (at most ``SHORT_LATIN`` letters: any
name or identifier can still be spelled from these) or when its letters are a common
identifier or technical word (``CODE_WORDS``, any case). Latin with diacritics, Cyrillic,
Hangul, emoji… are dropped. The specials and the target language code are kept too. A
kept piece costs one head row; a dropped piece the model wanted changes the translation,
so the rule errs on keeping what Japanese prose about code contains.
"""

from __future__ import annotations

import functools

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

# Signs any language's text mixes in (besides ASCII digits and punctuation).
COMMON: tuple[tuple[int, int], ...] = (
    (0x00A0, 0x00BF),  # Latin-1 signs: ° ± · « » ¥ §
    (0x00D7, 0x00D7),  # ×
    (0x00F7, 0x00F7),  # ÷
    (0x2000, 0x206F),  # general punctuation: — … “ ” ‥ ※
    (0x2190, 0x21FF),  # arrows → ⇒
    (0x2200, 0x22FF),  # math operators ≠ ≤ ∞
    (0x25A0, 0x25FF),  # geometric shapes ■ □ ○ ● △
    (0x2600, 0x27BF),  # symbols and dingbats ★ ☆ ✓ ♪
)
SHORT_LATIN = 3
# Identifiers and technical words Japanese text about code keeps in Latin letters.
_CODE_WORDS = """
    api app args async await bash bin bool branch buffer build bytes cache call callback
    cargo cd char check class cli client clone code commit config const context count cpu
    css csv data date debug def default delete deno dev dict diff dir docker docs dtype
    echo else env error event except exit export false fetch file filter find fix float
    flag for format from func function get git github go gpu grep hash head help hook host
    href html http https id if import index info init input insert int item items java
    json key keys lambda len let lib line lint linux list load lock log loop mac macos main
    make map markdown max merge method min mlx mode model module name new next nil node
    none npm null num number object offset open option options output package parse patch
    path pid pip port post print process prompt props pull push py python query queue
    range react read readme regex repo request response result return root ruby run rust
    script sdk select self server session set shell size sort source spec sql src ssh
    stack start state static status stderr stdin stdout step str stream string struct sudo
    super switch sync table tag task temp test tests text this time todo token tokens
    tool torch true try tsx tty type types uint undefined unit update url user utf value
    var version void vscode web while windows word worker write xml yaml yield zip zsh
    claude codex gemini openai anthropic linter pytest ruff typer mypy numpy pandas
"""
CODE_WORDS = frozenset(_CODE_WORDS.split())


def _latin_ok(piece: str) -> bool:
    letters = "".join(c for c in piece if c.isascii() and c.isalpha())
    return len(letters) <= SHORT_LATIN or letters.lower() in CODE_WORDS


def japanese_token_ids(tokenizer: NllbTokenizer, lang: str = "jpn_Jpan") -> list[int]:
    """Sorted full-vocabulary ids that text in ``lang`` can use (Japanese by default).

    Pieces made only of ``lang``'s scripts and common characters whose Latin letters pass
    :data:`SHORT_LATIN` / :data:`CODE_WORDS`, the four specials and ``lang``'s language
    code. ValueError names the languages ``SCRIPTS`` knows.
    """
    if lang not in SCRIPTS:
        raise ValueError(
            f"no script table for {lang!r}; vocabulary pruning knows {', '.join(SCRIPTS)}"
        )
    ranges = SCRIPTS[lang] + COMMON

    @functools.cache  # a vocabulary repeats a few thousand characters across 256k pieces
    def usable(char: str) -> bool:
        if char.isascii():
            return char.isprintable() and not char.isspace()
        code = ord(char)
        return char == WORD_MARKER or any(low <= code <= high for low, high in ranges)

    kept = [tokenizer.bos_id, tokenizer.pad_id, tokenizer.eos_id, tokenizer.unk_id]
    for i in range(len(tokenizer)):
        piece = tokenizer.piece(i)
        if not tokenizer.is_special(i) and all(map(usable, piece)) and _latin_ok(piece):
            kept.append(i)
    kept.append(tokenizer.lang_id(lang))
    return sorted(kept)
