"""Markdown to speakable text: what a voice should say for one sentence of agent prose.

The segmenter (``streamtts.text.segmenter``) decides where sentences start and end on the raw
markdown; this module turns one such piece of inline markdown into plain text. The
inline syntax is parsed by markdown-it-py (CommonMark plus strikethrough), and the
token stream decides what is read: link text but not its address, short code spans
as their content, long ones not at all, no images, no HTML tags. What markdown
cannot know about is cleaned from the result afterwards: bare URLs, strings that
look like credentials (API keys, tokens, JWTs, long random base64/hex), emoji, and
emphasis markers left unmatched because a sentence ended inside them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from functools import cache

from markdown_it import MarkdownIt

# Code spans up to this many characters are read (`foo.py`, `--verbose`); longer ones
# are code, not prose, and are skipped.
MAX_SPOKEN_CODE = 40

_URL = re.compile(r"(?:\b(?:https?|ftp|file)://|\bwww\.)[^\s<>\"]*[^\s<>\"'.,;:!?)\]]", re.I)
_SECRET = re.compile(
    r"""
    \bsk-[A-Za-z0-9_-]{16,}                       # OpenAI / Anthropic keys
    | \bgh[pousr]_[A-Za-z0-9]{20,} | \bgithub_pat_[A-Za-z0-9_]{20,}
    | \b(?:AKIA|ASIA)[0-9A-Z]{16}\b                # AWS access key ids
    | \bxox[abprs]-[A-Za-z0-9-]{10,}               # Slack
    | \bAIza[0-9A-Za-z_-]{30,}                     # Google API keys
    | \bglpat-[A-Za-z0-9_-]{20,}                   # GitLab
    | \beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*   # JWT
    | \bBearer\s+[A-Za-z0-9._~+/=-]{8,}
    | (?i:\b(?:password|passwd|secret|token|api[_-]?key)\s*=\s*)\S+
    | (?i:\b(?:password|passwd|secret|token|api[_-]?key)\s*:\s*)(?=\S*[\d_+/=-])\S+
    | \b[0-9a-fA-F]{32,}\b                         # long hex: hashes, hex keys
    """,
    re.X,
)
_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/_=-]{32,}")
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u231a\u231b\u23e9-\u23fa"
    "\ufe0e\ufe0f\u200d\u20e3\U000e0020-\U000e007f]"
)
# Emphasis, strikethrough and code markers that markdown left as text because their
# partner is in another sentence; inside words (snake_case, a*b) they are kept.
_STRAY_MARKUP = re.compile(r"(?<![\w])[*_~`]+|[*_~`]+(?![\w])")
_TASK_BOX = re.compile(r"\[[ xX]\]\s")
_CJK = "\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_SPACE_BETWEEN_CJK = re.compile(f"(?<=[{_CJK}]) (?=[{_CJK}])")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+(?=[.,!?;:)\]])")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")
_TABLE_DELIMITER = re.compile(r"\s*:?-+:?\s*")
# Text without any of these characters has no inline markdown: the parser can be skipped.
_INLINE_SYNTAX = re.compile(r"[`*_~\[\]<>&\\]")


@cache
def _parser() -> MarkdownIt:
    # One parser for the process: building it compiles markdown-it's rule chains.
    return MarkdownIt("commonmark", {"html": True}).enable("strikethrough")


def _looks_random(token: str) -> bool:
    """True for a long token mixing letter cases and digits with high character entropy."""
    classes = (
        any(c.islower() for c in token)
        + any(c.isupper() for c in token)
        + any(c.isdigit() for c in token)
    )
    if classes < 3:
        return False
    counts = Counter(token)
    entropy = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())
    return entropy >= 3.5


def redact(text: str) -> str:
    """Remove strings that look like credentials, so they are never spoken."""
    text = _SECRET.sub("", text)
    return _LONG_TOKEN.sub(lambda m: "" if _looks_random(m.group()) else m.group(), text)


def _inline_text(markdown: str) -> str:
    """Render inline markdown to text: the token walk that decides what is read."""
    parts: list[str] = []
    in_autolink = False
    for token in _parser().parseInline(markdown)[0].children or ():
        kind = token.type
        if kind == "text" and not in_autolink:
            parts.append(_STRAY_MARKUP.sub("", _TASK_BOX.sub("", token.content)))
        elif kind == "code_inline" and len(token.content) <= MAX_SPOKEN_CODE:
            parts.append(token.content)
        elif kind in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif kind == "link_open":
            # An autolink's text is its URL: not read. Other links read as their text.
            in_autolink = token.markup == "autolink"
        elif kind == "link_close":
            in_autolink = False
        # images, html_inline, emphasis/strikethrough open/close: nothing to say
    return "".join(parts)


def tidy(text: str) -> str:
    """Drop URLs, secrets and emoji, then normalize the spacing the removals leave."""
    text = _EMOJI.sub("", redact(_URL.sub("", text)))
    text = " ".join(text.split())
    text = _SPACE_BETWEEN_CJK.sub("", text)
    text = _EMPTY_BRACKETS.sub("", text)
    return " ".join(_SPACE_BEFORE_PUNCT.sub("", text).split())


def speakable(markdown: str) -> str:
    """Turn one sentence of inline markdown into the plain text a voice should say."""
    if not _INLINE_SYNTAX.search(markdown):
        return tidy(markdown)  # plain prose: most sentences, and 100x faster than parsing
    return tidy(_inline_text(markdown))


def speakable_row(line: str) -> str:
    """Speak one markdown table row as its cells joined by commas; a delimiter row is ''."""
    cells = _split_cells(line.strip().strip("|"))
    if all(_TABLE_DELIMITER.fullmatch(cell) for cell in cells):
        return ""
    return ", ".join(text for cell in cells if (text := speakable(cell)))


def _split_cells(row: str) -> list[str]:
    """Split a row at pipes that are neither escaped nor inside a code span."""
    cells, start, code, i = [], 0, 0, 0
    while i < len(row):
        c = row[i]
        if c == "\\":
            i += 2
            continue
        if c == "`":
            run = len(row[i:]) - len(row[i:].lstrip("`"))
            code = 0 if run == code else (code or run)
            i += run
            continue
        if c == "|" and not code:
            cells.append(row[start:i].replace("\\|", "|"))
            start = i + 1
        i += 1
    cells.append(row[start:].replace("\\|", "|"))
    return cells
