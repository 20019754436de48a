"""Names stay as written through translation.

NLLB would transliterate or translate an identifier (``parse_args``, ``CHANGELOG.md``,
``v0.4.2``), so before the model sees a sentence each name is swapped for a placeholder it
copies (``ZQ0``, ``ZQ1``…), and the names are put back in its output. An output that lost a
placeholder, repeats one or invents one would lose or duplicate a name: that sentence is
translated again unprotected instead, and counted (``NameStats``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


# What a name looks like in English prose: an identifier with _ or an inner capital or digit,
# a dotted name or file, a path, a flag, a version, an acronym. Plain words are translated.
NAME = re.compile(
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

    return NAME.sub(swap, text), names


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
