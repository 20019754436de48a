"""Event formats: one parser per agent CLI, each turning one JSON event into text pieces.

``PARSERS`` is the registry: every list of formats (``--format``'s choices, the config
file's check, detection, the line heads that are never spoken) is derived from it, so a
new format is one module with its ``Parser`` subclass and one entry here. The stream reader
(``streamtts.reading.stream``) picks the parser and feeds it.
"""

from __future__ import annotations

import json
from typing import Any

from streamtts.reading.formats.base import Parser
from streamtts.reading.formats.claude import ClaudeParser
from streamtts.reading.formats.codex import CodexParser
from streamtts.reading.formats.gemini import GeminiParser

PARSERS: dict[str, type[Parser]] = {
    parser.name: parser for parser in (ClaudeParser, CodexParser, GeminiParser)
}
# ``--format``'s choices: ``auto`` detects the format from the first events, ``text`` is
# plain prose, line by line.
FORMATS: tuple[str, ...] = ("auto", *PARSERS, "text")


def detect(event: dict[str, Any]) -> str | None:
    """The format an event's type belongs to, or None if it could be any."""
    return next((name for name, parser in PARSERS.items() if parser.claims(event)), None)


def skim(head: bytes) -> bytes | None:
    """For a line that begins with ``head`` and carries nothing to speak in any format, the
    smallest event of its kind (a line of JSON), so the boundary it makes is kept; else None."""
    for parser in PARSERS.values():
        if match := parser.never_spoken.match(head):
            return json.dumps(parser.stand_in(match)).encode() + b"\n"
    return None
