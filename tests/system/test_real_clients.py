"""The real Claude Code, Codex and gemini-cli, as pinned in ``tests/clients/package-lock.json``
(``make clients``), speaking through streamtts.

Each CLI talks to ``tests/fake_models.py`` on loopback, inside a network namespace of the
test's own (``tests/real_clients.py`` sets the runs up), so nothing it does can leave the
machine; its home, settings and credentials are temporary ones. The fake model answers
every prompt with prose around a tool call, thinking included, word by word; the tests
assert that each sentence of the prose, and nothing else, is spoken exactly once and in
order, and, where the client streams it, before the turn is over (the fake model holds its
response after the tool call until speech has started, for a minute at most). Routes: pipe
mode of all three CLIs into ``streamtts speak``; interactive Claude Code in tmux with
``streamtts hooks install``; ``streamtts watch`` on the transcript interactive Claude Code
writes; and Gemini's failure paths. These tests need root (for the namespace) and the
installed CLIs; without either they skip and say why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from real_clients import (
    FIRST,
    PIPES,
    PROMPT,
    SECOND,
    THIRD,
    interactive,
    pipe,
    pipe_line,
    run,
    sentences,
    stop_times,
    why_not,
    workspace,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def real_clients() -> None:
    if reason := why_not():
        pytest.skip(reason)


def assert_spoken_once_in_order(records: list[dict[str, Any]], expected: list[str]) -> None:
    assert [(r["text"], r["skipped"]) for r in records] == [(s, None) for s in expected]


def assert_spoken_as_sent_and_mid_turn(result: dict[str, Any], *texts: str) -> None:
    """The sentences of ``texts`` were sent, and each spoken once, in order; the first played
    before the fake model sent its response after the tool call (which waited for it)."""
    expected = sentences(*texts)
    assert [s["text"] for s in result["sent"]] == expected
    assert_spoken_once_in_order(result["records"], expected)
    last_response = next(s["t"] for s in result["sent"] if s["text"] == sentences(SECOND)[0])
    assert result["records"][0]["t_audio_start"] < last_response


@pytest.mark.parametrize("client", PIPES)
def test_pipe_mode_speaks_each_sentence_once_in_order_while_the_turn_goes_on(
    tmp_path: Path, client: str
):
    work, env = workspace(tmp_path)
    command, turns = pipe(client, work)
    result = run(tmp_path, turns, command, env)
    assert result["rc"] == 0
    assert_spoken_as_sent_and_mid_turn(result, FIRST, SECOND)


def test_interactive_claude_code_with_the_hooks_installed_speaks_each_sentence_once(
    tmp_path: Path,
):
    work, env = workspace(tmp_path)
    command, turns = interactive(tmp_path, work, env, route="hooks")
    result = run(tmp_path, turns, command, env)
    assert result["rc"] == 0
    assert_spoken_as_sent_and_mid_turn(result, FIRST, SECOND, THIRD)
    assert [h["event"] for h in result["hooks"]].count("Stop") == len(stop_times(tmp_path)) == 2


def test_watch_on_the_transcript_of_interactive_claude_code_speaks_each_sentence_once(
    tmp_path: Path,
):
    work, env = workspace(tmp_path)
    command, turns = interactive(tmp_path, work, env, route="watch")
    result = run(tmp_path, turns, command, env)
    assert result["rc"] == 130  # watch ends at SIGTERM as at Ctrl-C
    assert_spoken_as_sent_and_mid_turn(result, FIRST, SECOND, THIRD)


# -- Gemini's failure paths ------------------------------------------------------------------


def test_a_gemini_stream_cut_without_a_finish_reason_is_retried_and_spoken_once(
    tmp_path: Path,
):
    _, env = workspace(tmp_path)
    # The first attempt ends after "Let me read the notes first. They", with no finish reason.
    turns = {PROMPT: [{"cut": 7, "blocks": [{"text": f"{FIRST} {SECOND}"}]}]}
    result = run(tmp_path, turns, pipe_line("gemini"), env)
    assert result["rc"] == 0
    expected = sentences(FIRST, SECOND)
    assert [s["text"] for s in result["sent"]] == [expected[0], *expected]  # sent twice
    assert_spoken_once_in_order(result["records"], expected)


def test_a_gemini_api_error_is_spoken_as_its_message(tmp_path: Path):
    _, env = workspace(tmp_path)
    turns = {PROMPT: [{"status": 400, "error": "The request is not valid."}]}
    result = run(tmp_path, turns, pipe_line("gemini"), env)
    assert_spoken_once_in_order(result["records"], ["API error: The request is not valid."])
