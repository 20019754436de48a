"""Every capture, ours and the shared real ones, read end to end: exactly what is spoken.

Also runs `streamtts sentences`, through Typer's runner and as a real process, on them.
"""

from __future__ import annotations

import json
import select
import subprocess
from pathlib import Path

import pytest
from helpers import DATA, REPO, run_cli, run_process, start_process

from streamtts.reading.formats.base import TextPiece
from streamtts.reading.stream import SourceStats, read_pieces
from streamtts.text.segmenter import segment

# Real captures from other projects' test suites are third-party text: they stay in the
# shared fixtures beside the checkout (../shared/fixtures/README.md says where each is from)
# and are read from there. Our own samples in tests/data cover every event shape without it.
SHARED = REPO.parent / "shared" / "fixtures" / "claude-stream-json"

OWN: dict[str, tuple[str, list[str]]] = {
    # Partial messages: thinking and signature deltas, text deltas, the full block echoed,
    # and result.result repeating the text. Only the deltas are spoken.
    "claude-own-partial.jsonl": (
        "claude",
        ["The parser drops the last unit.", "I will fix it now."],
    ),
    # The tool call flushes the sentence in progress; the tool result is not spoken.
    "claude-own-tool-use.jsonl": (
        "claude",
        [
            "Let me run the tests first",
            "One test fails.",
            "The minutes are overwritten instead of added.",
        ],
    ),
    # The subagent's prompt, text, tool calls and report carry parent_tool_use_id.
    "claude-own-subagent.jsonl": (
        "claude",
        ["I'll ask a subagent to find the parser.", "Found it in the duration module."],
    ),
    # Nothing said, then an error result: its error is the only thing spoken.
    "claude-own-error.jsonl": ("claude", ["Reached the maximum number of turns (1)"]),
    "claude-own-thinking.jsonl": ("claude", ["It is ninety minutes."]),
    "codex-own-exec.jsonl": ("codex", ["Both tests pass now."]),
    "gemini-own-stream.jsonl": (
        "gemini",
        ["I will read the parser", "The total is overwritten.", "Use += instead."],
    ),
}

REAL: dict[str, tuple[str, list[str]]] = {
    "claude-agent-sdk-gleam_golden-basic_query.jsonl": ("claude", ["4"]),
    # A Bash call and its long tool result, then a successful result whose text was never
    # said as assistant text: nothing is spoken (result.result is only a failure fallback).
    "claude-agent-sdk-gleam_ls-tool-use.jsonl": ("claude", []),
    "claude-code-action_sample-turns.jsonl": (
        "claude",
        [
            "I'll help you with this task.",
            "Let me start by examining the file to understand what needs to be changed.",
            "I can see the debug print statement that needs to be removed.",
            "Let me fix this by editing the file.",
            "Perfect!",
            "I've successfully removed the debug print statement from the function.",
            "Let me now create a pull request comment to document this change.",
            "Great!",
            "I've successfully completed the requested task:",
            "Located the debug print statement in the file",
            "Removed the print statement while preserving the function logic",
            "Added a review comment documenting the change",
            "The debug print statement has been removed as requested by the reviewers.",
        ],
    ),
    # The Task subagent's prompt, tool calls, results and report are not spoken.
    "claude-orchestrator_task-subagent.jsonl": (
        "claude",
        ["I'll explore the codebase to find Python files in the current directory.", "Done"],
    ),
    "openai-codex_docs-exec-sample.jsonl": (
        "codex",
        ["Yep — there’s a README.md in the repository root."],
    ),
    "pydantic-ai_01-plain-text.jsonl": ("claude", ["hello world"]),
    "pydantic-ai_02-tool-use-read.jsonl": ("claude", ["The first heading is Tiny Test Heading."]),
    "pydantic-ai_03-multi-turn-tools.jsonl": (
        "claude",
        ["Done.", "Created note.txt with content foo and confirmed it reads back as foo."],
    ),
    # No text at all, then a result with an error subtype: its error is the only thing said.
    "pydantic-ai_04-error-max-turns.jsonl": ("claude", ["Reached maximum number of turns (1)"]),
    "pydantic-ai_05-thinking-sonnet.jsonl": ("claude", ["$0.05"]),
    # Partial messages: the text_delta is spoken; the full block and result.result are not.
    "pydantic-ai_06-plain-partial.jsonl": ("claude", ["hello world"]),
    "pydantic-ai_07-tool-use-partial.jsonl": (
        "claude",
        ["The first heading in readme-fixture.md is Tiny Test Heading."],
    ),
    # The synthetic assistant message carries the error; the error result repeats it.
    "pydantic-ai_08-error-auth.jsonl": ("claude", ["Not logged in · Please run /login"]),
}


needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"the shared real captures are not at {SHARED}"
)
CAPTURES = [
    *(pytest.param(DATA / name, *OWN[name], id=name) for name in sorted(OWN)),
    *(
        pytest.param(SHARED / name, *REAL[name], id=name, marks=needs_shared)
        for name in sorted(REAL)
    ),
]


def test_every_own_sample_has_expectations() -> None:
    assert set(OWN) == {path.name for path in DATA.glob("*.jsonl")}


@needs_shared
def test_every_shared_capture_has_expectations() -> None:
    assert set(REAL) == {path.name for path in SHARED.glob("*.jsonl")}


@pytest.mark.parametrize(("path", "fmt", "expected"), CAPTURES)
def test_capture_sentences(path: Path, fmt: str, expected: list[str]) -> None:
    stats = SourceStats()
    with path.open("rb") as stream:
        got = [s.text for s in segment(read_pieces(stream, stats=stats))]
    assert got == expected
    assert stats.format == fmt
    assert stats.malformed == 0
    assert stats.lines == len(path.read_bytes().splitlines())


@pytest.mark.parametrize(("path", "fmt", "expected"), CAPTURES)
def test_capture_sentences_do_not_depend_on_how_the_text_is_chunked(
    path: Path, fmt: str, expected: list[str]
) -> None:
    """Each piece cut into single characters (the boundary on the last) gives the same."""
    with path.open("rb") as stream:
        pieces = list(read_pieces(stream, fmt=fmt))
    trickled = [small for piece in pieces for small in _characters(piece)]
    assert [s.text for s in segment(trickled)] == expected


def _characters(piece: TextPiece) -> list[TextPiece]:
    if not piece.text:
        return [piece]
    *head, last = piece.text
    return [TextPiece(c) for c in head] + [TextPiece(last, piece.boundary)]


def test_cli_sentences_reads_a_file() -> None:
    name = "claude-own-tool-use.jsonl"
    outcome = run_cli("sentences", DATA / name)
    assert outcome.exit_code == 0, outcome.output
    assert outcome.stdout.splitlines() == OWN[name][1]


def test_cli_sentences_reads_stdin_with_a_forced_format() -> None:
    data = (DATA / "claude-own-partial.jsonl").read_bytes()
    outcome = run_cli("sentences", "-", "--format", "claude", input=data)
    expected = "The parser drops the last unit.\nI will fix it now.\n"
    assert (outcome.exit_code, outcome.stdout) == (0, expected)
    outcome = run_cli("sentences", "--format", "text", input=b"One. Two.")
    assert (outcome.exit_code, outcome.stdout) == (0, "One.\nTwo.\n")


def test_cli_sentences_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    outcome = run_cli("sentences", missing)
    assert outcome.exit_code == 1
    assert outcome.stderr == f"streamtts: cannot read {missing}: No such file or directory\n"
    assert outcome.stdout == ""


def test_cli_sentences_as_a_process_warns_once_per_malformed_line() -> None:
    lines = (DATA / "claude-own-thinking.jsonl").read_bytes().splitlines(keepends=True)
    data = b"".join(lines[:2]) + b'{"type": "assistant", "mess\n' + b"".join(lines[2:])
    done = run_process("sentences", input=data, text=False)
    assert done.returncode == 0
    assert done.stdout.decode() == "It is ninety minutes.\n"
    [warning] = done.stderr.decode().splitlines()
    assert warning.startswith(
        "streamtts: WARNING streamtts.reading.stream: line 3 is not a JSON event"
    )


def test_cli_sentences_streams_each_sentence_before_the_input_ends() -> None:
    def stream(event: dict) -> bytes:
        line = {"type": "stream_event", "event": event, "parent_tool_use_id": None}
        return json.dumps(line).encode() + b"\n"

    def delta(text: str) -> bytes:
        kind = {"type": "text_delta", "text": text}
        return stream({"type": "content_block_delta", "index": 0, "delta": kind})

    with start_process("sentences", stdin=subprocess.PIPE, stdout=subprocess.PIPE) as process:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(stream({"type": "message_start", "message": {"id": "m"}}))
        block = {"type": "text", "text": ""}
        process.stdin.write(
            stream({"type": "content_block_start", "index": 0, "content_block": block})
        )
        process.stdin.write(delta("First one. Sec"))
        process.stdin.flush()
        # The first sentence arrives mid-block, stdin still open; the guard only avoids a hang.
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready
        assert process.stdout.readline() == b"First one.\n"
        process.stdin.write(delta("ond one."))
        process.stdin.write(stream({"type": "content_block_stop", "index": 0}))
        process.stdin.close()
        assert process.stdout.read() == b"Second one.\n"
    assert process.returncode == 0
