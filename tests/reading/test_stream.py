"""The stream reader: line reading, format detection and each format's rules of what to speak."""

from __future__ import annotations

import io
import json
import logging
import tracemalloc

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
from streamtts.reading.formats.gemini import api_error
from streamtts.reading.stream import SKIM_AFTER, SourceStats, StreamParser, iter_lines, read_pieces
from streamtts.text.segmenter import segment

BLOCK, TOOL, TURN = Boundary.BLOCK, Boundary.TOOL, Boundary.TURN


# Claude Code stream-json events, shaped like the captures in tests/data.


def test_claude_partial_messages_speak_deltas_once() -> None:
    data = jsonl(
        {"type": "system", "subtype": "init", "session_id": "s"},
        message_start("msg_1"),
        block_start(0, "thinking"),
        delta(0, "Thinking is never spoken.", kind="thinking_delta"),
        assistant("msg_1", {"type": "thinking", "thinking": "Thinking is never spoken."}),
        block_stop(0),
        block_start(1, "text"),
        delta(1, "Let me re"),
        delta(1, "ad it. Then"),
        assistant("msg_1", text("Let me read it. Then")),
        block_stop(1),
        block_start(2, "tool_use"),
        assistant("msg_1", tool_use()),
        block_stop(2),
        tool_result("A tool result is never spoken."),
        message_start("msg_2"),
        block_start(0, "text"),
        delta(0, "Done."),
        assistant("msg_2", text("Done.")),
        block_stop(0),
        result("Let me read it. Then Done."),
    )
    assert pieces(data) == [
        TextPiece("Let me re"),
        TextPiece("ad it. Then"),
        TextPiece("", BLOCK),
        TextPiece("", TOOL),
        TextPiece("Done."),
        TextPiece("", BLOCK),
        TextPiece("", TURN),
    ]
    assert spoken(data) == ["Let me read it.", "Then", "Done."]


def test_claude_full_block_before_its_deltas_is_still_spoken_once() -> None:
    data = jsonl(
        message_start("m"),
        assistant("m", text("Echo first.")),
        block_start(0, "text"),
        delta(0, "Echo first."),
        block_stop(0),
        result("Echo first."),
    )
    assert spoken(data) == ["Echo first."]


def test_claude_message_without_deltas_is_spoken_from_its_blocks() -> None:
    # In a partial-messages run, a synthetic error message arrives with no stream events.
    data = jsonl(
        message_start("m1"),
        block_start(0, "text"),
        delta(0, "Streamed."),
        block_stop(0),
        assistant("m1", text("Streamed.")),
        assistant("synthetic", text("Not logged in. Please run /login")),
        result("Not logged in. Please run /login", is_error=True),
    )
    assert spoken(data) == ["Streamed.", "Not logged in.", "Please run /login"]


def test_claude_without_partials_speaks_text_blocks_and_flushes_at_tools() -> None:
    data = jsonl(
        assistant("m1", text("Let me look"), tool_use(), text("not reached")),
        tool_result("file contents. Not spoken."),
        assistant(None, text("Old shape without an id.")),
        result("Let me look"),
    )
    assert pieces(data) == [
        TextPiece("Let me look", BLOCK),
        TextPiece("", TOOL),
        TextPiece("not reached", BLOCK),
        TextPiece("Old shape without an id.", BLOCK),
        TextPiece("", TURN),
    ]


def test_claude_subagent_events_are_not_spoken() -> None:
    data = jsonl(
        assistant("m1", text("Main thread."), tool_use("Task")),
        {"type": "user", "message": {"content": "Subagent prompt."}, "parent_tool_use_id": "t"},
        assistant("sub", text("Subagent text."), parent="t"),
        message_start("sub2", parent="t"),
        block_start(0, "text", parent="t"),
        delta(0, "Subagent delta.", parent="t"),
        tool_result("Subagent result.", parent="t"),
        tool_result("Task output."),
        assistant("m2", text("Back.")),
        result("Back."),
    )
    assert spoken(data) == ["Main thread.", "Back."]


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        (result("Only the repeat."), []),
        (result("Failed hard.", is_error=True), ["Failed hard."]),
        ({"type": "result", "subtype": "error_during_execution", "errors": ["A", "B"]}, ["A; B"]),
        ({"type": "result", "subtype": "error_max_turns", "is_error": True}, []),
    ],
)
def test_claude_result_text_is_spoken_only_for_a_silent_failed_turn(
    end: dict, expected: list[str]
) -> None:
    assert spoken(jsonl(assistant("m", tool_use()), end)) == expected


def test_claude_error_after_speech_is_not_repeated_and_each_turn_starts_afresh() -> None:
    data = jsonl(
        assistant("m1", text("Working on it.")),
        result("boom", is_error=True),
        assistant("m2", tool_use()),
        result("Second turn failed.", is_error=True),
    )
    assert spoken(data) == ["Working on it.", "Second turn failed."]


# OpenAI Codex `codex exec --json` (item types from openai/codex docs/exec.md).


def test_codex_speaks_agent_messages_only() -> None:
    data = jsonl(
        {"type": "thread.started", "thread_id": "t"},
        {"type": "turn.started"},
        {"type": "item.completed", "item": {"id": "0", "type": "reasoning", "text": "**Plan**"}},
        {"type": "item.started", "item": {"id": "1", "type": "command_execution", "command": "ls"}},
        {"type": "item.completed", "item": {"id": "1", "type": "command_execution"}},
        {
            "type": "item.completed",
            "item": {"id": "2", "type": "agent_message", "text": "Found it."},
        },
        {"type": "turn.completed", "usage": {}},
        {"type": "turn.started"},
        {"type": "turn.failed", "error": {"message": "Rate limited."}},
    )
    assert pieces(data) == [
        TextPiece("", TOOL),
        TextPiece("Found it.", BLOCK),
        TextPiece("", TURN),
        TextPiece("Rate limited.", TURN),
    ]


# Gemini CLI `--output-format stream-json`. No capture of a real run is available here;
# this sample follows the documented event shapes (geminicli.com/docs/cli/headless:
# init, message with role user|assistant and delta, tool_use, tool_result, error, result).
GEMINI_SAMPLE = [
    {"type": "init", "timestamp": "2025-11-25T03:27:51.000Z", "session_id": "s1", "model": "g"},
    {"type": "message", "timestamp": "t", "role": "user", "content": "List files. Briefly."},
    {
        "type": "message",
        "timestamp": "t",
        "role": "assistant",
        "content": "I'll list",
        "delta": True,
    },
    {"type": "message", "timestamp": "t", "role": "assistant", "content": " them.", "delta": True},
    {"type": "tool_use", "timestamp": "t", "tool_name": "ls", "tool_id": "ls-1", "parameters": {}},
    {
        "type": "tool_result",
        "timestamp": "t",
        "tool_id": "ls-1",
        "status": "success",
        "output": "a.py",
    },
    {"type": "error", "timestamp": "t", "severity": "warning", "message": "Loop detected."},
    {
        "type": "message",
        "timestamp": "t",
        "role": "assistant",
        "content": "There is a.py",
        "delta": True,
    },
    {"type": "message", "timestamp": "t", "role": "assistant", "content": " only."},
    {"type": "result", "timestamp": "t", "status": "success", "stats": {"total_tokens": 10}},
]


def test_gemini_speaks_assistant_messages_and_skips_the_prompt_echo() -> None:
    stats = SourceStats()
    got = pieces(jsonl(*GEMINI_SAMPLE), stats=stats)
    assert stats.format == "gemini"
    assert got == [
        TextPiece("I'll list"),
        TextPiece(" them."),
        TextPiece("", TOOL),
        TextPiece("There is a.py"),
        TextPiece(" only.", BLOCK),
        TextPiece("", TURN),
    ]
    assert spoken(jsonl(*GEMINI_SAMPLE)) == ["I'll list them.", "There is a.py only."]


def test_gemini_error_result_is_spoken_when_nothing_else_was() -> None:
    failed = {
        "type": "result",
        "status": "error",
        "error": {"type": "Api", "message": "Quota hit."},
    }
    assert spoken(jsonl(GEMINI_SAMPLE[0], failed)) == ["Quota hit."]


def gemini_reply(*deltas: str) -> list[dict]:
    return [
        {"type": "message", "timestamp": "t", "role": "assistant", "content": d, "delta": True}
        for d in deltas
    ]


GEMINI_END = {"type": "result", "timestamp": "t", "status": "success", "stats": {}}


# Gemini CLI retries a response stream that ended without a finish reason and streams the
# new attempt straight after the old one (gemini-cli's geminiChat mid-stream retry; the
# non-interactive output drops its retry event).
@pytest.mark.parametrize(
    "attempts",
    [
        [["I looked at the code. Th"], ["I looked at the code. Then I started the tests."]],
        [
            ["I looked ", "at the code. ", "Then"],
            ["I looked ", "at the"],  # cut again, shorter
            ["I looked ", "at the code. ", "Then I started ", "the tests."],
        ],
        [
            ["I looked at the code. Then I started"],
            ["I looked at the code. Then I started", " the tests."],  # the same, then more
        ],
    ],
    ids=["cut-word", "three-attempts", "cut-at-a-word-end"],
)
def test_a_gemini_retry_is_spoken_once_and_its_cut_word_completed(attempts) -> None:
    deltas = [d for attempt in attempts for d in attempt]
    data = jsonl(GEMINI_SAMPLE[1], *gemini_reply(*deltas), GEMINI_END)
    assert spoken(data) == ["I looked at the code.", "Then I started the tests."]


def test_gemini_deltas_that_only_begin_like_the_message_are_not_a_retry() -> None:
    data = jsonl(GEMINI_SAMPLE[1], *gemini_reply("Yes. ", "Yes", " again."), GEMINI_END)
    assert spoken(data) == ["Yes.", "Yes again."]
    tool = GEMINI_SAMPLE[4]
    data = jsonl(*gemini_reply("Done. ", "Done"), tool, *gemini_reply("Done. ", "Ok."))
    assert spoken(data) == ["Done.", "Done", "Done.", "Ok."]


def test_a_gemini_retry_that_says_it_otherwise_is_spoken_from_its_start() -> None:
    first = "I looked at the code carefully. The"
    data = jsonl(*gemini_reply(first, "I looked at the code and found it."), GEMINI_END)
    assert spoken(data) == [
        "I looked at the code carefully.",
        "The",
        "I looked at the code and found it.",
    ]


EMPTY = (
    "The model returned an empty response with no text or thoughts. "
    "This may be a transient API issue; please try again."
)


def test_a_gemini_error_event_is_spoken_when_the_reply_said_nothing() -> None:
    # What gemini-cli writes for an invalid stream: an error event, then a failed result
    # without an error of its own.
    error = {"type": "error", "timestamp": "t", "severity": "error", "message": EMPTY}
    failed = {"type": "result", "timestamp": "t", "status": "error", "stats": {}}
    assert spoken(jsonl(*GEMINI_SAMPLE[:2], error, failed)) == [
        "The model returned an empty response with no text or thoughts.",
        "This may be a transient API issue; please try again.",
    ]
    # Said after a reply that spoke, or a warning, it is not spoken.
    replied = jsonl(*GEMINI_SAMPLE[:2], *gemini_reply("Half an answer."), error, failed)
    assert spoken(replied) == ["Half an answer."]
    warning = {**error, "severity": "warning", "message": "Loop detected, stopping execution"}
    assert spoken(jsonl(*GEMINI_SAMPLE[:2], warning, GEMINI_END)) == []


OVERLOADED = {
    "error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}
}


@pytest.mark.parametrize(
    ("message", "said"),
    [
        (f"[API Error: {json.dumps(OVERLOADED)}]", "API error: The model is overloaded."),
        (
            f"[API Error: got status: 503. {json.dumps([OVERLOADED])}]",
            "API error: The model is overloaded.",
        ),
        (
            "[API Error: "
            + json.dumps({"error": {"code": 429, "message": json.dumps(OVERLOADED)}})
            + "]\nPlease wait and try again later.",
            "API error: The model is overloaded. Please wait and try again later.",
        ),
        ("[API Error: Quota hit (Status: 429)]", "[API Error: Quota hit (Status: 429)]"),
        ("[API Error: {not json}]", "[API Error: {not json}]"),
        ("Plain failure.", "Plain failure."),
    ],
)
def test_a_gemini_api_error_is_read_as_the_message_inside_its_json(message, said) -> None:
    failed = {"type": "result", "status": "error", "error": {"type": "Api", "message": message}}
    assert api_error(message) == said
    assert " ".join(spoken(jsonl(GEMINI_SAMPLE[0], failed))) == said


def test_plain_text_is_read_line_by_line() -> None:
    stats = SourceStats()
    data = b"First paragraph\r\nwraps here.\n\n{not json} Second.\n"
    assert pieces(data, stats=stats) == [
        TextPiece("First paragraph\n"),
        TextPiece("wraps here.\n"),
        TextPiece("\n"),
        TextPiece("{not json} Second.\n"),
    ]
    assert stats.format == "text"
    assert spoken(data) == ["First paragraph wraps here.", "{not json} Second."]


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (jsonl({"type": "system", "subtype": "init"}), "claude"),
        (jsonl({"type": "thread.started"}), "codex"),
        (jsonl(GEMINI_SAMPLE[0]), "gemini"),
        (b"\n\nHello there.\n", "text"),
        (b"\xef\xbb\xbf" + jsonl({"type": "result"}), "claude"),  # a UTF-8 byte order mark
    ],
)
def test_format_is_detected_from_the_first_events(data: bytes, fmt: str) -> None:
    stats = SourceStats()
    pieces(data, stats=stats)
    assert stats.format == fmt


def test_undecided_events_are_replayed_once_the_format_is_known() -> None:
    data = jsonl(
        {"type": "future_event"},
        {"type": "error", "message": "could be Codex or Gemini"},
        {"type": "item.completed", "item": {"type": "agent_message", "text": "Codex."}},
    )
    assert spoken(data) == ["Codex."]


def test_format_can_be_forced() -> None:
    data = jsonl(assistant("m", text("As JSON.")))
    assert spoken(data, fmt="claude") == ["As JSON."]
    # Forced text reads every line of prose, but never a JSON event line.
    assert pieces(b"Plain words.\n" + data, fmt="text") == [TextPiece("Plain words.\n")]
    with pytest.raises(ValueError, match="unknown format 'yaml'"):
        StreamParser("yaml")


def test_malformed_lines_are_counted_warned_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    data = b"\n".join(
        [
            json.dumps(assistant("m1", text("Before."))).encode(),
            b'{"type": "assistant", "message": {"trunc',
            b"[1, 2, 3]",
            b"plain words in a JSON stream",
            json.dumps(assistant("m2", text("After."))).encode(),
        ]
    )
    stats = SourceStats()
    with caplog.at_level(logging.WARNING, logger="streamtts.reading.stream"):
        got = [s.text for s in segment(read_pieces(io.BytesIO(data), stats=stats))]
    assert got == ["Before.", "After."]
    assert (stats.lines, stats.malformed) == (5, 3)
    assert [r.getMessage().split(" is not")[0] for r in caplog.records] == [
        "line 2",
        "line 3",
        "line 4",
    ]


def test_absurdly_deep_json_is_a_malformed_line_not_a_crash() -> None:
    deep_object = b'{"type": "assistant", "message": ' + b'{"a": ' * 100_000
    data = b"\n".join(
        [
            json.dumps(assistant("m1", text("Before."))).encode(),
            b"[" * 100_000,
            deep_object,
            json.dumps(assistant("m2", text("After."))).encode(),
        ]
    )
    stats = SourceStats()
    got = [s.text for s in segment(read_pieces(io.BytesIO(data), stats=stats))]
    assert got == ["Before.", "After."]
    assert (stats.lines, stats.malformed) == (4, 2)


def test_malformed_warnings_stop_after_ten(caplog: pytest.LogCaptureFixture) -> None:
    stats = SourceStats()
    with caplog.at_level(logging.WARNING, logger="streamtts.reading.stream"):
        pieces(jsonl({"type": "system"}) + b"{\n" * 25, stats=stats)
    assert stats.malformed == 25
    assert len(caplog.records) == 10
    assert caplog.records[-1].getMessage().endswith("(further malformed lines are only counted)")


def test_invalid_utf8_is_replaced() -> None:
    line = json.dumps(assistant("m", text("Caf@ ok."))).encode().replace(b"@", b"\xe9")
    assert spoken(line) == ["Caf\ufffd ok."]
    assert spoken(b"Bad \xff\xfe bytes.\n") == ["Bad \ufffd\ufffd bytes."]


def test_empty_input() -> None:
    stats = SourceStats()
    assert pieces(b"", stats=stats) == []
    assert (stats.lines, stats.format) == (0, None)
    assert spoken(b"\n\n  \n") == []


def test_last_line_without_newline_is_read() -> None:
    assert spoken(json.dumps(assistant("m", text("No newline."))).encode()) == ["No newline."]


def test_a_10mb_tool_result_line_is_skimmed_without_being_held() -> None:
    huge = "x. " * (10 * 1024 * 1024 // 3)
    data = jsonl(
        assistant("m1", text("Reading.")), tool_result(huge), assistant("m2", text("Read."))
    )
    stats = SourceStats()
    tracemalloc.start()
    try:
        got = [s.text for s in segment(read_pieces(io.BytesIO(data), stats=stats))]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got == ["Reading.", "Read."]
    assert (stats.lines, stats.skimmed) == (3, 1)
    assert peak < 4 * SKIM_AFTER  # the 10 MB line was never held


def test_a_10mb_assistant_line_is_read_in_full() -> None:
    code = "x = compute(x) + 1; " * (10 * 1024 * 1024 // 20)
    body = f"Here is the file:\n```python\n{code}\n```\nThat was all of it."
    data = jsonl(assistant("m1", text(body)), assistant("m2", text("The end.")))
    assert spoken(data) == ["Here is the file:", "That was all of it.", "The end."]
    assert len(data) > 10 * 1024 * 1024


def test_lines_over_the_limit_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    limit = 4 * SKIM_AFTER
    long_needed = json.dumps(assistant("m", text("y" * limit))).encode()
    data = b"first\n" + long_needed + b"\nlast"
    stats = SourceStats()
    with caplog.at_level(logging.WARNING, logger="streamtts.reading.stream"):
        lines = list(iter_lines(io.BytesIO(data), stats=stats, max_line=limit))
    assert lines == [b"first\n", b"last"]
    assert stats.oversized == 1
    assert caplog.records[0].getMessage() == f"line 1 is longer than {limit} bytes, skipped"
