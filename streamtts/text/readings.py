"""Readings: a Japanese sentence that names code, turned into what a Japanese voice can say.

Open JTalk (the reader behind Kokoro and the Open JTalk voice) spells every Latin word
letter by letter, so ``parse_args`` would be ピーエーアールエスイー… This stage, run
between translation and synthesis, leaves Japanese as it is and replaces each stretch of
Latin script, each version, number with a unit and operator with what a Japanese engineer
would say: identifiers split into their words (camelCase, PascalCase, snake_case,
kebab-case, dotted names) and each word read in katakana; acronyms read as Japanese letter
names unless they are said as words; file names with ドット before their extension; paths
as their last two parts; versions as numbers with テン; ``10ms`` as 10ミリ秒; ``->`` as a
pause. Where a word's reading comes from, first to last: the user's dictionary (their own
readings, and words to keep as written), the glossary shipped beside this module
(``glossary.tsv``), then e2k's character model for the long tail of English words, which
its n-gram model first judges pronounceable (else the word is an acronym, read as letters).
Every Latin letter of the input is consumed by one of these rules, so none reaches the
voice unless the user asked to keep a word.

``read`` is a pure function of its text and dictionary; word readings are cached for the
process, since the same names recur sentence after sentence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache, lru_cache, partial
from importlib.resources import files

LETTER_NAMES = dict(
    zip(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        [
            "エー",
            "ビー",
            "シー",
            "ディー",
            "イー",
            "エフ",
            "ジー",
            "エイチ",
            "アイ",
            "ジェー",
            "ケー",
            "エル",
            "エム",
            "エヌ",
            "オー",
            "ピー",
            "キュー",
            "アール",
            "エス",
            "ティー",
            "ユー",
            "ブイ",
            "ダブリュー",
            "エックス",
            "ワイ",
            "ゼット",
        ],
        strict=True,
    )
)
LONG_CAPS = 5  # letters from which an upper-case word that e2k can pronounce is a word
WORD_JOINER = "・"  # between the words of one name: Open JTalk reads it as nothing
PAUSE = "、"
# Units after a number, read in Japanese; k and M multiply instead (10k → 10000).
UNITS = {
    "ms": "ミリ秒",
    "us": "マイクロ秒",
    "µs": "マイクロ秒",
    "ns": "ナノ秒",
    "s": "秒",
    "sec": "秒",
    "secs": "秒",
    "m": "分",
    "min": "分",
    "mins": "分",
    "h": "時間",
    "hr": "時間",
    "hrs": "時間",
    "x": "倍",
    "KB": "キロバイト",
    "kB": "キロバイト",
    "KiB": "キロバイト",
    "MB": "メガバイト",
    "MiB": "メガバイト",
    "GB": "ギガバイト",
    "GiB": "ギガバイト",
    "TB": "テラバイト",
    "Hz": "ヘルツ",
    "kHz": "キロヘルツ",
    "MHz": "メガヘルツ",
    "GHz": "ギガヘルツ",
    "px": "ピクセル",
    "dB": "デシベル",
    "fps": "エフピーエス",
    "ppm": "ピーピーエム",
    "%": "パーセント",
}
MULTIPLIERS = {"k": 1_000, "K": 1_000, "M": 1_000_000}
OPERATORS = {
    "===": "イコール",
    "!==": "ノットイコール",
    "==": "イコール",
    "!=": "ノットイコール",
    "<=": "以下",
    ">=": "以上",
    "&&": "アンド",
    "||": "オア",
    "->": PAUSE,
    "=>": PAUSE,
    "→": PAUSE,
    "...": PAUSE,
    "=": "イコール",
    "+": "プラス",
    "&": "アンド",
}
# File extensions: a last dotted part in this set makes a file name (CHANGELOG.md), not an
# attribute access (os.path).
EXTENSIONS = frozenset(
    [
        "py",
        "pyi",
        "pyc",
        "md",
        "rst",
        "txt",
        "json",
        "jsonl",
        "toml",
        "yaml",
        "yml",
        "ini",
        "cfg",
        "conf",
        "lock",
        "log",
        "csv",
        "tsv",
        "js",
        "mjs",
        "cjs",
        "ts",
        "tsx",
        "jsx",
        "rs",
        "go",
        "c",
        "h",
        "cc",
        "cpp",
        "hpp",
        "java",
        "kt",
        "swift",
        "rb",
        "php",
        "sh",
        "bash",
        "zsh",
        "fish",
        "html",
        "css",
        "scss",
        "xml",
        "svg",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "pdf",
        "wav",
        "mp3",
        "zip",
        "tar",
        "gz",
        "tgz",
        "whl",
        "ipynb",
        "env",
        "sql",
        "db",
        "sqlite",
        "onnx",
        "safetensors",
        "npz",
        "npy",
        "bin",
        "exe",
        "dll",
        "so",
        "dylib",
        "plist",
        "service",
        "in",
        "out",
        "diff",
        "patch",
        "mk",
    ]
)
# Characters whose runs form a token to read: ASCII letters and digits with the marks that
# join parts of a name. A token is read only if it holds a letter.
_NAME = r"[A-Za-z0-9_.\-/\\+#@$~:']"
_TOKEN = re.compile(
    r"""
    (?P<version>(?<![A-Za-z0-9_.])v\d+(?:\.\d+)*(?![A-Za-z0-9_]|\.\d))
    | (?P<dotted>(?<![A-Za-z0-9_.])\d+(?:\.\d+){2,}(?![A-Za-z0-9_]|\.\d))
    | (?P<number>(?<![A-Za-z0-9_.])\d+(?:\.\d+)?)\s?(?P<unit>[A-Za-zµ]+|%)(?![A-Za-z0-9_])
    | (?P<range>(?<![\d.-])\d+(?:\.\d+)?)\s?[-–~〜](?P<end>\d+(?:\.\d+)?)(?![\d.-])
    | (?P<operator>===|!==|==|!=|<=|>=|&&|\|\||->|=>|→|\.\.\.|(?<=\s)[=+&](?=\s))
    | (?P<token>"""
    + _NAME
    + r"""*[A-Za-z]"""
    + _NAME
    + r"""*(?<![.\-':])(?:\(\))?)
    """,
    re.X,
)
# The words of one identifier part: IDs / HTTP|Server / use|State / base|64.
_WORDS = re.compile(r"[A-Z]{2,}s(?![a-z])|[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+(?:\.\d+)*")
# A dot between digits is a decimal point (Apache-2.0, python:3.12), not a separator.
_SEPARATORS = re.compile(r"(?:[_\-:+#@$~'/\\]|(?<!\d)\.|\.(?!\d))+")
_SPACE_NEAR_KANA = re.compile(r"(?<=[^\x00-\x7f]) +| +(?=[^\x00-\x7f])")
_SYMBOLS = re.compile(r"[_`\\|{}\[\]<>^*#$@~]")


@dataclass(frozen=True)
class UserDictionary:
    """The user's own readings (a project, a colleague) and words to keep as written.

    Both match a whole token or one word of an identifier, exactly or ignoring case; they
    win over the glossary. A kept word reaches the voice as written.
    """

    readings: Mapping[str, str] = field(default_factory=dict)
    keep: frozenset[str] = frozenset()

    def lookup(self, word: str) -> str | None:
        """The user's reading of ``word`` (itself for a kept word), or None."""
        for key in (word, word.casefold()):
            if key in self.keep:
                return word
            if key in self.readings:
                return self.readings[key]
        return None

    @staticmethod
    def of(readings: Mapping[str, str], keep: tuple[str, ...] = ()) -> UserDictionary:
        """A dictionary whose keys also match in any case (``MyProj`` as ``myproj``)."""
        folded = {key.casefold(): value for key, value in readings.items()}
        return UserDictionary({**folded, **readings}, frozenset(w.casefold() for w in keep))


NO_DICTIONARY = UserDictionary()


def reader(*, readings: Mapping[str, str], keep: tuple[str, ...] = ()) -> Callable[[str], str]:
    """``read`` with the user's dictionary: the function a pipeline's voice is fed through."""
    return partial(read, dictionary=UserDictionary.of(readings, keep))


def warmup() -> None:
    """Load the glossary and e2k's models now, so the first sentence does not wait for them."""
    glossary()
    _e2k()


def read(text: str, *, dictionary: UserDictionary = NO_DICTIONARY) -> str:
    """``text`` with every name, number and symbol a Japanese voice cannot read made readable."""
    if not _TOKEN.search(text):
        return text  # plain Japanese: most sentences
    spoken = _TOKEN.sub(lambda match: _reading(match, dictionary), text)
    spoken = _SYMBOLS.sub(" ", spoken)
    return _SPACE_NEAR_KANA.sub("", " ".join(spoken.split()))


def _reading(match: re.Match[str], dictionary: UserDictionary) -> str:
    kind = match.lastgroup
    text = match.group()
    if kind == "version":
        return "バージョン" + _point_number(text[1:])
    if kind == "dotted":
        return _point_number(text)
    if match.group("unit") is not None:
        return _with_unit(match.group("number"), match.group("unit"), dictionary)
    if match.group("end") is not None:
        return f"{match.group('range')}から{match.group('end')}"
    if kind == "operator":
        return OPERATORS[text]
    return " " + read_token(text, dictionary=dictionary) + " "


def _point_number(text: str) -> str:
    # 0.4.2 → 0テン4テン2: Open JTalk reads 0.4.2 as a decimal and a stray symbol.
    return "テン".join(text.split("."))


def _with_unit(number: str, unit: str, dictionary: UserDictionary) -> str:
    if unit in MULTIPLIERS:
        value = Decimal(number) * MULTIPLIERS[unit]
        return format(value.normalize(), "f")
    if unit in UNITS:
        return number + UNITS[unit]
    # Not a unit (3D, 7B, 2FA): the number, then the letters read as a name.
    return number + read_token(unit, dictionary=dictionary)


def read_token(token: str, *, dictionary: UserDictionary = NO_DICTIONARY) -> str:
    """The reading of one run of Latin script: a word, an identifier, a path or a file name."""
    core = token.removesuffix("()").rstrip(".-':")
    if not core:
        return ""
    known = dictionary.lookup(core) or glossary().get(core.casefold())
    if known is not None:
        return known
    if "/" in core or "\\" in core:
        return _path(core, dictionary)
    variable = core.startswith("$")
    core = core.lstrip("-@$#~:'")  # flags, decorators, variables: the name is what is said
    if not core:
        return ""
    if core.isupper() and (variable or "_" in core):
        # $HOME, MAX_LAG: upper case marks a constant or a variable, not an acronym.
        core = core.lower()
    if core.startswith(".") and len(core) > 1:  # a dotfile: .gitignore → ドットギットイグノア
        return "ドット" + read_token(core[1:], dictionary=dictionary)
    head, dot, extension = core.rpartition(".")
    if dot and extension.casefold() in EXTENSIONS:
        stem = _name(head, dictionary) if head else ""
        return f"{stem}ドット{_word(extension, dictionary)}"
    return _name(core, dictionary)


def _path(path: str, dictionary: UserDictionary) -> str:
    """A path as a person says it: its last two parts joined by の.

    ``src/streamtts/cli.py`` → ストリームティーティーエスのシーエルアイドットパイ.
    """
    parts = [part for part in re.split(r"[/\\]", path) if part not in ("", ".", "..", "~")]
    return "の".join(read_token(part, dictionary=dictionary) for part in parts[-2:])


def _name(name: str, dictionary: UserDictionary) -> str:
    """An identifier's words, each read, joined so the voice runs them together."""
    known = dictionary.lookup(name) or glossary().get(name.casefold())
    if known is not None:
        return known
    readings: list[str] = []
    for word in name_words(name):
        number = word[0].isdigit()
        reading = _point_number(word) if number else _word(word, dictionary)
        # A number runs on from a word without a joiner (utf8 → ユーティーエフ8, base64 →
        # ベース64); two words, or two numbers (x86_64), are kept apart.
        if readings and number == readings[-1][-1].isdigit():
            readings.append(WORD_JOINER)
        readings.append(reading)
    return "".join(readings)


def name_words(name: str) -> list[str]:
    """The words of a name: parse_args → parse, args; FastAPI → Fast, API; base64 → base, 64;
    numbers whole: Apache-2.0 → Apache, 2.0."""
    return [word for part in _SEPARATORS.split(name) for word in _WORDS.findall(part)]


def _word(word: str, dictionary: UserDictionary) -> str:
    """One word of letters: the user's reading, the glossary's, letters, or e2k's katakana."""
    return dictionary.lookup(word) or word_reading(word)[0]


@lru_cache(maxsize=8192)
def word_reading(word: str) -> tuple[str, str]:
    """One word's reading without the user's dictionary, and where it came from:
    ``glossary``, ``letters`` (an acronym), ``e2k``, or ``spelled`` (e2k's n-gram model
    judged the word unpronounceable, so it is read as letters)."""
    terms = glossary()
    folded = word.casefold()
    if folded in terms:
        return terms[folded], "glossary"
    if word.isupper() and len(word) >= LONG_CAPS and _e2k()[1](folded):
        # Upper case this long is a word shouted (CONTRIBUTING, WARNING), not an acronym.
        return _e2k()[0](folded), "e2k"
    if word.isupper() or len(word) < 2:  # an acronym said as letters: XML, HTTP
        return spell(word), "letters"
    if len(word) > 2 and word[-1] == "s" and word[:-1].isupper():  # IDs, APIs, URLs
        reading, how = word_reading(word[:-1])
        return reading + "ズ", how
    if folded[-1] == "s" and folded[:-1] in terms:  # configs, hooks, tokens
        return terms[folded[:-1]] + "ズ", "glossary"
    c2k, ngram = _e2k()
    if ngram(folded):
        return c2k(folded), "e2k"
    return spell(word), "spelled"


def spell(word: str) -> str:
    """``word`` read letter by letter in Japanese letter names: XML → エックスエムエル."""
    return "".join(LETTER_NAMES.get(c, "") for c in word.upper())


@cache
def _e2k():
    # Loaded on first use (about 1.5 s: two small RNNs and an n-gram table, all in the wheel).
    from e2k import C2K, NGram

    return C2K(model="turbo"), NGram()


@cache
def glossary() -> dict[str, str]:
    """The software terms shipped in ``glossary.tsv``: lower-case word → reading."""
    text = files("streamtts.text").joinpath("glossary.tsv").read_text(encoding="utf-8")
    entries = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            word, reading = line.split("\t")
            entries[word] = reading
    return entries
