"""Streams as they arrive in the wild: noise before the events, binary garbage, broken
Unicode, terminal escapes, spliced, duplicated and reordered events, cut-off messages,
pathological runs and huge tool lines. Each test pins exactly what is spoken."""

from __future__ import annotations

import io
import json
import random
import re
import sys
import tracemalloc
from collections import Counter

import pytest
from streams import (
    assistant,
    block_start,
    block_stop,
    delta,
    jsonl,
    message_start,
    pieces,
    result,
    spoken,
    text,
    tool_result,
    tool_use,
)

from streamtts.reading.formats.base import Boundary, TextPiece
from streamtts.reading.stream import SKIM_AFTER, SourceStats, read_pieces
from streamtts.text import splitter
from streamtts.text.segmenter import Segmenter, segment
from streamtts.text.splitter import RUN_LIMIT

# What the sentences of a well-formed Claude stream are; noise in front must not change them.
CLAUDE_TURN = jsonl(
    {"type": "system", "subtype": "init", "session_id": "s", "uuid": "u0"},
    assistant("m1", text("Let me run the tests first"), tool_use("Bash")),
    tool_result("F.\nFAILED test_parse.py::test_minutes - assert 60 == 90"),
    assistant("m2", text("One test fails. The minutes are overwritten.")),
    result("One test fails. The minutes are overwritten."),
)
CLAUDE_SENTENCES = ["Let me run the tests first", "One test fails.", "The minutes are overwritten."]
BLOCK, TOOL = Boundary.BLOCK, Boundary.TOOL
UNSPEAKABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def read(data: bytes, fmt: str = "auto") -> tuple[list[str], SourceStats]:
    stats = SourceStats()
    got = [s.text for s in segment(read_pieces(io.BytesIO(data), fmt=fmt, stats=stats))]
    return got, stats


def uuid(event: dict, value: str) -> dict:
    return {**event, "uuid": value}


# 1. Format detection looks past noise; text mode reads only text.


@pytest.mark.parametrize(
    "noise",
    [b"Loaded cached credentials.", b"[1,2]", b"5", b'"s"', b"\x00\x00\x00", b"\xff\xfe{"],
)
def test_a_noise_line_before_the_events_does_not_make_the_stream_text(noise: bytes) -> None:
    got, stats = read(noise + b"\n" + CLAUDE_TURN)
    assert got == CLAUDE_SENTENCES
    assert (stats.format, stats.malformed, stats.lines) == ("claude", 1, 6)


def test_detection_looks_past_several_noise_lines() -> None:
    noise = b"npm warn deprecated glob@7\n\nLoaded cached credentials.\n[1, 2]\n"
    gemini = jsonl(
        {"type": "init", "session_id": "s", "model": "g"},
        {"type": "message", "role": "assistant", "content": "Hello there.", "delta": True},
        {"type": "result", "status": "success"},
    )
    got, stats = read(noise + gemini)
    assert got == ["Hello there."]
    assert (stats.format, stats.malformed) == ("gemini", 3)


def test_text_is_settled_when_the_first_lines_hold_no_json_event() -> None:
    prose = b"".join(b"Line %d is prose.\n" % i for i in range(1, 10))
    got, stats = read(prose + b'{"type": "system", "subtype": "init"}\nLast line.\n')
    assert got == [f"Line {i} is prose." for i in range(1, 10)] + ["Last line."]
    assert (stats.format, stats.malformed, stats.noise) == ("text", 0, 1)


def test_text_mode_never_reads_json_event_lines() -> None:
    # Forced text: a JSON event line, whole or cut short, is not prose.
    data = CLAUDE_TURN + b'{"type": "assistant", "message": {"trunc\nReal prose here.\n'
    got, stats = read(data, fmt="text")
    assert got == ["Real prose here."]
    assert stats.noise == 6


def test_binary_garbage_says_next_to_nothing() -> None:
    garbage = random.Random(8).randbytes(300_000)
    lines = garbage.count(b"\n") + (not garbage.endswith(b"\n"))
    for fmt in ("auto", "text"):
        got, stats = read(garbage, fmt=fmt)
        # A short run of printable bytes cannot be told from a word; everything else is noise.
        assert len(got) <= 3
        assert not any(UNSPEAKABLE.search(sentence) for sentence in got)
        assert (stats.format, stats.lines) == ("text", lines)
        assert stats.noise > 0.98 * lines


def test_text_lines_with_a_few_bad_bytes_are_still_read() -> None:
    got, stats = read(b"Caf\xe9 is open.\nBad \xff\xfe bytes.\n\x1b[32mPASSED\x1b[0m all tests.\n")
    assert got == ["Caf\ufffd is open.", "Bad \ufffd\ufffd bytes.", "PASSED all tests."]
    assert stats.noise == 0


# 2. Unicode: surrogates are paired or dropped, terminal escapes and controls stripped.


def test_a_lone_surrogate_is_dropped() -> None:
    line = json.dumps(assistant("m", text("A \ud800lone one. Then \udfffmore."))).encode()
    got, _ = read(line)
    assert got == ["A lone one.", "Then more."]


def test_a_character_split_across_deltas_is_paired() -> None:
    data = jsonl(
        message_start("m"),
        block_start(0, "text"),
        delta(0, "Hi \ud83d"),
        delta(0, "\ude00 there. \ud842"),
        delta(0, "\udfb7野家です。 End \ud83d"),
        block_stop(0),
        result(),
    )
    got, _ = read(data)
    assert got == ["Hi there.", "𠮷野家です。", "End"]


def test_terminal_escapes_and_control_characters_are_stripped() -> None:
    raw = (
        "\x1b]0;title\x07Hello \x1b[2Jworld.\x00 Bell\x07 and\x1b[1;31m red\x1b[0m.\x9b"
        " Tab\tkept. \x1b]8;;https://x.io\x1b\\Link\x1b]8;;\x1b\\ text."
    )
    expected = ["Hello world.", "Bell and red.", "Tab kept.", "Link text."]
    data = jsonl(
        message_start("m"),
        block_start(0, "text"),
        *(delta(0, c) for c in raw),  # every escape sequence split across deltas
        block_stop(0),
        result(),
    )
    assert read(data)[0] == expected
    assert spoken(jsonl(assistant("m", text(raw)))) == expected


def test_an_unfinished_escape_at_a_block_end_is_dropped() -> None:
    segmenter = Segmenter()
    got = segmenter.feed(TextPiece("Almost done.\x1b]0;never ends"))
    got += segmenter.feed(TextPiece(" still")) + segmenter.flush()
    assert [s.text for s in got] == ["Almost done."]


# 3. Stream shapes real CLIs produce.


def test_two_events_spliced_on_one_line_are_both_read() -> None:
    first = json.dumps(assistant("m1", text("First event."))).encode()
    second = json.dumps(assistant("m2", text("Second event."))).encode()
    got, stats = read(first + second + b"\n" + first.replace(b"m1", b"m3") + b" tail\n")
    assert got == ["First event.", "Second event.", "First event."]
    assert (stats.lines, stats.malformed) == (2, 1)


def test_a_duplicated_event_is_spoken_once_and_a_repeated_text_twice() -> None:
    line = json.dumps(uuid(assistant("m1", text("Said once.")), "u1")).encode() + b"\n"
    again = jsonl(uuid(assistant("m2", text("Said twice.")), "u2"))
    again += jsonl(uuid(assistant("m2", text("Said twice.")), "u3"))
    assert spoken(line + line + again) == ["Said once.", "Said twice.", "Said twice."]


def test_duplicated_partial_lines_do_not_double_words() -> None:
    events = [
        message_start("m"),
        block_start(0, "text"),
        delta(0, "More "),
        delta(0, "text. "),
        delta(0, "Ha"),
        delta(0, "Ha"),
        delta(0, "."),
        block_stop(0),
        assistant("m", text("More text. HaHa.")),
        result(),
    ]
    lines = [json.dumps(uuid(e, f"u{i}")).encode() + b"\n" for i, e in enumerate(events)]
    doubled = b"".join(line + line for line in lines)
    assert spoken(doubled) == ["More text.", "HaHa."]


def test_an_error_result_repeated_is_spoken_once_per_turn() -> None:
    failed = result("Boom.", is_error=True, subtype="error_during_execution")
    data = jsonl(
        assistant("m1", tool_use()),
        failed,
        {"type": "rate_limit_event"},
        failed,
        failed,
        assistant("m2", tool_use()),
        failed,
    )
    assert spoken(data) == ["Boom.", "Boom."]


def test_a_repeated_turn_failure_is_spoken_once_but_each_new_turn_speaks_its_own() -> None:
    failed = {"type": "turn.failed", "error": {"message": "Rate limited."}}
    started = {"type": "turn.started"}
    data = jsonl({"type": "thread.started"}, started, failed, failed, started, failed)
    assert spoken(data) == ["Rate limited.", "Rate limited."]


def test_deltas_before_their_block_start_are_spoken_once() -> None:
    data = jsonl(
        message_start("m"),
        delta(0, "Early "),
        delta(0, "words."),
        block_start(0, "text"),
        delta(0, " Late words."),
        assistant("m", text("Early words. Late words.")),
        block_stop(0),
        result(),
    )
    assert spoken(data) == ["Early words.", "Late words."]


def test_deltas_without_message_start_are_spoken_once_and_not_glued() -> None:
    data = jsonl(
        block_start(0, "text"),
        delta(0, "First part. Second part."),
        assistant("m1", text("First part. Second part.")),
        block_start(0, "text"),  # the next message: its message_start never came
        delta(0, "No message start."),
        assistant("m2", text("No message start.")),
        block_stop(0),
        assistant("m3", text("Synthetic error.")),
        result(),
    )
    assert spoken(data) == ["First part.", "Second part.", "No message start.", "Synthetic error."]


def test_a_message_cut_off_mid_sentence_ends_at_the_next_message() -> None:
    data = jsonl(
        message_start("m1"),
        block_start(0, "text"),
        delta(0, "Cut off mid"),
        message_start("m2"),
        block_start(0, "text"),
        delta(0, "next message"),
        assistant("m3", text("An echo of another message.")),
        result(),
    )
    assert spoken(data) == ["Cut off mid", "next message", "An echo of another message."]


def test_a_message_cut_off_without_message_start_is_not_taken_for_the_next_echo() -> None:
    data = jsonl(
        block_start(0, "text"),
        delta(0, "Streaming when the"),
        assistant("synthetic", text("API Error: overloaded.")),
        result("API Error: overloaded.", is_error=True),
    )
    assert spoken(data) == ["Streaming when the", "API Error: overloaded."]


class _Scanned:
    """A compiled pattern of the splitter that counts the characters its calls look at."""

    def __init__(self, pattern: re.Pattern[str], tally: Counter) -> None:
        self.pattern, self.tally = pattern, tally

    def match(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match | None:
        found = self.pattern.match(text, pos, endpos)
        self.tally["chars"] += found.end() - pos if found else 1
        return found

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match | None:
        found = self.pattern.search(text, pos, endpos)
        self.tally["chars"] += (found.end() if found else min(endpos, len(text))) - pos
        return found


def _scanned_dots(pieces: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """Characters the splitter's patterns look at to segment a run of dots sent as
    1000-character pieces: work counted, not timed."""
    tally: Counter = Counter()
    for name in ("_CANDIDATE", "_TERMINATOR_RUN", "_BACKTICKS", "_SPACE", "_NON_SPACE"):
        monkeypatch.setattr(splitter, name, _Scanned(getattr(splitter, name), tally))
    segmenter = Segmenter()
    for _ in range(pieces):
        segmenter.feed(TextPiece("." * 1000))
    segmenter.flush()
    monkeypatch.undo()
    return tally["chars"]


def test_a_run_without_spaces_takes_linear_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # A run of terminators waits for what follows it: it must not be re-scanned whole.
    small, large = _scanned_dots(40, monkeypatch), _scanned_dots(320, monkeypatch)
    assert small >= 40_000  # every dot is looked at
    assert large < 12 * small  # 8 times the text, not 64 times the work


def test_a_run_without_spaces_is_cut_and_never_held_whole() -> None:
    segmenter, emitted = Segmenter(), Counter()
    tracemalloc.start()
    try:
        for _ in range(2000):
            emitted.update(s.text for s in segmenter.feed(TextPiece("x" * 1000)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    last = [s.text for s in segmenter.feed(TextPiece(". Next.")) + segmenter.flush()]
    full, rest = divmod(2_000_000, RUN_LIMIT)
    assert emitted == {"x" * RUN_LIMIT: full}
    assert last == ["x" * rest + ".", "Next."]
    assert peak < 16 * RUN_LIMIT  # a few copies of one run's worth, never the 2 MB


@pytest.mark.parametrize("size", [1, 7, 1000, RUN_LIMIT + 1])
def test_cuts_at_the_run_limit_do_not_depend_on_chunking(size: int) -> None:
    # Letters, a run of terminators, code spans: each is cut where RUN_LIMIT says.
    text = "Ok " + "q" * 9000 + "." * 9000 + "`z" * 5000 + " end. Last."
    whole = [s.text for s in segment([TextPiece(text)])]
    chunked = [TextPiece(text[i : i + size]) for i in range(0, len(text), size)]
    assert [s.text for s in segment(chunked)] == whole
    rest = len("Ok ") + 9000 - RUN_LIMIT
    assert whole[:2] == [text[:RUN_LIMIT], "q" * rest + "." * (RUN_LIMIT - rest)]
    assert len(whole) == 4


# 4. A skimmed line still gives its boundary.

BIG = "y" * (2 * SKIM_AFTER)


GEMINI_TOOL = {"type": "tool_use", "tool_name": "write", "tool_id": "w1", "parameters": {"c": BIG}}
CODEX_TOOL = {"type": "item.started", "item": {"id": "1", "type": "file_change", "changes": BIG}}


def gemini_say(words: str) -> dict:
    return {"type": "message", "role": "assistant", "content": words, "delta": True}


def codex_say(words: str) -> dict:
    return {"type": "item.completed", "item": {"id": "0", "type": "agent_message", "text": words}}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            jsonl({"type": "init"}, gemini_say("Let me write"), GEMINI_TOOL, gemini_say("Done.")),
            [TextPiece("Let me write"), TextPiece("", TOOL), TextPiece("Done.")],
        ),
        (
            jsonl(
                {"type": "thread.started"},
                codex_say("Let me write"),
                CODEX_TOOL,
                codex_say("Done."),
            ),
            [TextPiece("Let me write", BLOCK), TextPiece("", TOOL), TextPiece("Done.", BLOCK)],
        ),
    ],
    ids=["gemini-tool_use", "codex-item.started"],
)
def test_a_skimmed_tool_line_still_ends_the_sentence(data: bytes, expected: list) -> None:
    stats = SourceStats()
    assert pieces(data, stats=stats) == expected
    assert (stats.lines, stats.skimmed) == (4, 1)
    assert spoken(data) == ["Let me write", "Done."]


@pytest.mark.parametrize("partial", [False, True])
def test_claude_long_tool_lines_keep_their_boundaries(partial: bool) -> None:
    call = {**tool_use("Write"), "input": {"content": BIG}}
    if partial:
        events = [
            message_start("m1"),
            block_start(0, "text"),
            delta(0, "Let me write"),
            block_start(1, "tool_use"),
            assistant("m1", text("Let me write")),
            assistant("m1", call),
        ]
    else:
        events = [assistant("m1", text("Let me write"), call)]
    data = jsonl(*events, tool_result(BIG), assistant("m2", text("Written.")), result())
    got, stats = read(data)
    assert got == ["Let me write", "Written."]
    assert stats.skimmed == 1
