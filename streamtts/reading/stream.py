"""Source stage: an agent's output as bytes in, the prose to speak as ``TextPiece``s out.

The reader takes bytes line by line with ``readline(limit)``, which returns as soon as a
line is complete (so a live pipe is never waited on for more than one line) and never
holds more than one line: a line longer than ``SKIM_AFTER`` whose first bytes show an
event that is never spoken (a tool result, a subagent's user turn) is dropped as it
streams without being held, and replaced by the smallest event of its kind so that the
boundary it makes (a tool call ends the sentence before it) is kept; no line over
``MAX_LINE`` is held at all. Each line is decoded with invalid UTF-8 replaced and may
hold several JSON events (Claude Code has spliced two on one line). The format is chosen
from the first events: Claude Code stream-json, OpenAI Codex ``exec --json`` or Gemini
CLI stream-json, each read by its parser in ``streamtts.reading.formats``; lines that are not
JSON events in front of them (a CLI's warnings, a stray ``[1,2]``) are noise, counted as
malformed. Only when the first ``_DETECT_LINES`` non-empty lines hold no JSON event at
all is the stream plain text, and then these lines are read as text; a plain-text
stream never reads a JSON event line or binary data aloud.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from streamtts.reading.formats import FORMATS, PARSERS, detect, skim
from streamtts.reading.formats.base import Boundary, TextPiece

__all__ = ["Boundary", "SourceStats", "StreamParser", "TextPiece", "iter_lines", "read_pieces"]

log = logging.getLogger(__name__)

CHUNK = 64 * 1024  # readline's limit: a long line arrives in pieces of at most this size
SKIM_AFTER = 64 * 1024
MAX_LINE = 32 * 1024 * 1024
# Format detection buffers at most this many undecided events, then settles on Claude;
# and settles on plain text after this many non-empty lines without a JSON event (or
# SKIM_AFTER characters of them), so the lines it holds stay few.
_DETECT_EVENTS = 32
_DETECT_LINES = 8
_MAX_WARNINGS = 10

_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
# In plain text: a line that starts like a JSON object is an event, not prose.
_JSON_LINE = re.compile(r'\s*\{\s*"')
# Replaced bytes and control characters (but tab, newline, carriage return and ESC, which
# terminal output carries) that mark a line of binary data.
_GARBAGE = re.compile("[\ufffd\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f]")


@dataclass
class SourceStats:
    """Counters of what the reader saw, for the stats report."""

    lines: int = 0
    malformed: int = 0
    skimmed: int = 0  # long never-spoken lines dropped as they streamed
    oversized: int = 0  # lines over MAX_LINE that could not be read
    noise: int = 0  # plain-text lines not read: JSON events, binary data
    format: str | None = None


def _decode_events(text: str) -> tuple[list[dict[str, Any]], str | None]:
    """The JSON objects on one line, one after another, and why the rest is not one (or None)."""
    events: list[dict[str, Any]] = []
    i = 0
    while (i := _JSON_SPACE.match(text, i).end()) < len(text):  # type: ignore[union-attr]
        try:
            value, i = _DECODER.raw_decode(text, i)
        except (ValueError, RecursionError) as error:  # RecursionError: absurdly deep nesting
            return events, str(error)
        if not isinstance(value, dict):
            return events, "not a JSON object"
        events.append(value)
    return events, None


def _is_binary(line: str) -> bool:
    """Whether a decoded line is binary data: a NUL, or over a quarter replaced bytes and
    control characters (a stray bad byte in prose is not enough)."""
    return "\x00" in line or 4 * len(_GARBAGE.findall(line)) > len(line.strip())


class StreamParser:
    """Lines of one stream to text pieces; ``fmt="auto"`` detects the format from its events."""

    def __init__(self, fmt: str = "auto", *, stats: SourceStats | None = None) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        self.stats = stats if stats is not None else SourceStats()
        self._format = self.stats.format = None if fmt == "auto" else fmt
        self._parser = PARSERS[fmt]() if fmt in PARSERS else None
        self._undecided: list[dict[str, Any]] = []  # events before their format is known
        # Lines before the first event, while the stream may be text: (number, text, why).
        self._noise: list[tuple[int, str, str]] = []
        self._noise_chars = 0

    def feed_line(self, line: bytes) -> list[TextPiece]:
        """Take one line (with or without its newline); return the pieces it adds."""
        self.stats.lines += 1
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if self.stats.lines == 1:
            text = text.removeprefix("\ufeff")
        if self._format == "text":
            return self._text(text)
        undetected = self._format is None and not self._undecided
        if not text.strip():
            if undetected and self._noise and self._noise[-1][1]:
                self._noise.append((self.stats.lines, "", ""))  # a paragraph break, in text
            return []
        events, error = _decode_events(text)
        if undetected and not events:
            return self._hold(text, error or "")
        for number, held, reason in self._noise:
            if held:
                self._malformed(reason, number)
        self._noise = []
        if error:
            self._malformed(error, self.stats.lines)
        return [piece for event in events for piece in self._event(event)]

    def finish(self) -> list[TextPiece]:
        """The input ended: settle a format still undecided and return what it held."""
        if self._undecided:
            return self._settle_json("claude")
        if self._noise:
            return self._settle_text()
        return []

    def _event(self, event: dict[str, Any]) -> list[TextPiece]:
        if self._parser is not None:
            return self._parser.feed(event)
        self._undecided.append(event)
        detected = detect(event)
        if detected is None and len(self._undecided) < _DETECT_EVENTS:
            return []
        return self._settle_json(detected or "claude")

    def _hold(self, text: str, reason: str) -> list[TextPiece]:
        """Keep a line that is not an event until the stream proves JSON or text."""
        self._noise.append((self.stats.lines, text, reason))
        self._noise_chars += len(text)
        held = sum(1 for _, line, _ in self._noise if line)
        if held >= _DETECT_LINES or self._noise_chars > SKIM_AFTER:
            return self._settle_text()
        return []

    def _text(self, text: str) -> list[TextPiece]:
        """A line of plain text, unless it is a JSON event or binary data."""
        if _JSON_LINE.match(text) or _is_binary(text):
            self.stats.noise += 1
            return []
        return [TextPiece(text + "\n")]

    def _settle_text(self) -> list[TextPiece]:
        self._settle("text")
        held, self._noise = self._noise, []
        return [piece for _, text, _ in held for piece in self._text(text)]

    def _settle_json(self, fmt: str) -> list[TextPiece]:
        self._settle(fmt)
        events, self._undecided = self._undecided, []
        return [piece for event in events for piece in self._event(event)]

    def _settle(self, fmt: str) -> None:
        log.debug("input format: %s", fmt)
        self._format = self.stats.format = fmt
        self._parser = PARSERS[fmt]() if fmt in PARSERS else None

    def _malformed(self, reason: str, number: int) -> None:
        self.stats.malformed += 1
        if self.stats.malformed <= _MAX_WARNINGS:
            more = " (further malformed lines are only counted)"
            log.warning(
                "line %d is not a JSON event, skipped: %s%s",
                number,
                reason,
                more if self.stats.malformed == _MAX_WARNINGS else "",
            )


def iter_lines(
    stream: BinaryIO, *, stats: SourceStats | None = None, max_line: int = MAX_LINE
) -> Iterator[bytes]:
    """Lines of a byte stream as they complete, holding at most one line (see module doc)."""
    stats = stats if stats is not None else SourceStats()
    parts: list[bytes] = []
    size = 0
    dropping = False
    while chunk := stream.readline(CHUNK):
        complete = chunk.endswith(b"\n")
        if dropping:
            dropping = not complete
            continue
        if complete and not parts:
            yield chunk
            continue
        parts.append(chunk)
        size += len(chunk)
        stand_in = skim(parts[0]) if size > SKIM_AFTER else None
        if size > max_line:
            stats.lines += 1
            stats.oversized += 1
            log.warning("line %d is longer than %d bytes, skipped", stats.lines, max_line)
            parts, size, dropping = [], 0, not complete
        elif stand_in:
            stats.skimmed += 1
            yield stand_in
            parts, size, dropping = [], 0, not complete
        elif complete:
            yield b"".join(parts)
            parts, size = [], 0
    if parts:
        yield b"".join(parts)


def read_pieces(
    stream: BinaryIO, *, fmt: str = "auto", stats: SourceStats | None = None
) -> Iterator[TextPiece]:
    """Text pieces of an agent's output stream, as its lines arrive."""
    parser = StreamParser(fmt, stats=stats)
    for line in iter_lines(stream, stats=parser.stats):
        yield from parser.feed_line(line)
    yield from parser.finish()
