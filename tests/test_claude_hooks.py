"""Claude Code hook inputs → sentences: streaming MessageDisplay, Stop backfill, turns.

The inputs are our own, in the format of Claude Code's hooks reference (checked against
Claude Code 2.1.240): every hook gets ``session_id``, ``transcript_path``, ``cwd`` and
``hook_event_name``; ``MessageDisplay`` adds ``turn_id``, ``message_id``, ``index``,
``final`` and ``delta`` (the whole lines new since the last batch; the final batch may be
empty); ``Stop`` adds ``last_assistant_message`` and ``stop_hook_active``.
"""

from __future__ import annotations

import pytest

from streamtts.claude_hooks import HookInputError, HookTurns

SESSION = "5d0c3f7e-0000-4000-8000-000000000001"


def hook(event: str, **fields: object) -> dict[str, object]:
    common = {
        "session_id": SESSION,
        "transcript_path": f"/home/u/.claude/projects/-home-u-app/{SESSION}.jsonl",
        "cwd": "/home/u/app",
        "hook_event_name": event,
    }
    return {**common, **fields}


def display(message: str, index: int, delta: str, *, final: bool = False, turn: str = "t1"):
    return hook(
        "MessageDisplay",
        turn_id=turn,
        message_id=message,
        index=index,
        final=final,
        delta=delta,
    )


def test_message_display_speaks_each_sentence_once_its_end_is_drawn():
    turns = HookTurns()
    said = [
        turns.handle(display("m1", 0, "I found the bug in `parse()`. It drops\n")).sentences,
        turns.handle(display("m1", 1, "the last unit.\n\n- First, fix it.\n")).sentences,
        turns.handle(display("m1", 2, "", final=True)).sentences,
    ]
    # Each line is certain when drawn; the list item after it, only at its end.
    assert said == [
        ["I found the bug in parse."],
        ["It drops the last unit.", "First, fix it."],
        [],
    ]


def test_a_repeated_batch_is_not_spoken_again():
    turns = HookTurns()
    first = display("m1", 0, "One sentence here. And a second")
    assert turns.handle(first).sentences == ["One sentence here."]
    assert turns.handle(first).sentences == []  # the same batch again
    assert turns.handle(display("m1", 1, "", final=True)).sentences == ["And a second"]


def test_batches_are_taken_in_index_order_whatever_order_they_arrive_in():
    turns = HookTurns()
    assert turns.handle(display("m1", 2, "", final=True)).sentences == []
    assert turns.handle(display("m1", 1, "and the second one.\n")).sentences == []
    said = turns.handle(display("m1", 0, "The first sentence. Then\n")).sentences
    assert said == ["The first sentence.", "Then and the second one."]
    assert turns.handle(display("m1", 1, "and the second one.\n")).sentences == []  # repeat


def test_a_final_batch_repeated_after_the_end_says_nothing_even_at_stop():
    turns = HookTurns()
    turns.handle(display("m1", 0, "Said once.", final=True))
    assert turns.handle(display("m1", 0, "Said once.", final=True)).sentences == []
    assert turns.handle(hook("Stop", last_assistant_message="Said once.")).sentences == []


def test_stop_says_only_what_message_display_did_not():
    turns = HookTurns()
    assert turns.handle(display("m1", 0, "Let me look.\n", final=True)).sentences == [
        "Let me look."
    ]
    # The final answer never came through MessageDisplay (reported for prose between tool
    # calls); Stop's last_assistant_message has it, and the first message is not repeated.
    stop = hook(
        "Stop",
        stop_hook_active=False,
        last_assistant_message="Let me look. The test passes now.",
    )
    said = turns.handle(stop)
    assert said.sentences == ["The test passes now."]
    assert said.turn == f"{SESSION}:t1"


def test_stop_after_a_fully_displayed_message_says_nothing():
    turns = HookTurns()
    turns.handle(display("m1", 0, "All done. Two files changed.\n", final=True))
    stop = hook(
        "Stop", stop_hook_active=False, last_assistant_message="All done. Two files changed."
    )
    assert turns.handle(stop).sentences == []


def test_stop_says_what_a_message_without_its_final_batch_still_holds():
    turns = HookTurns()
    assert turns.handle(display("m1", 0, "Half a sentence")).sentences == []
    stop = hook("Stop", stop_hook_active=False, last_assistant_message="Half a sentence")
    assert turns.handle(stop).sentences == ["Half a sentence"]


def test_a_user_prompt_starts_a_new_turn():
    turns = HookTurns()
    first = turns.handle(hook("UserPromptSubmit", prompt="fix it"))
    second = turns.handle(hook("UserPromptSubmit", prompt="and test it"))
    assert first.new_prompt and second.new_prompt
    assert first.turn != second.turn
    # Without MessageDisplay (an older Claude Code), the same reply in two turns is said twice.
    stop = hook("Stop", stop_hook_active=False, last_assistant_message="Done.")
    assert turns.handle(stop).sentences == ["Done."]
    turns.handle(hook("UserPromptSubmit", prompt="again"))
    assert turns.handle(stop).sentences == ["Done."]


def test_session_start_and_end_say_nothing_and_end_forgets_the_session():
    turns = HookTurns()
    assert turns.handle(hook("SessionStart", source="startup")).sentences == []
    turns.handle(display("m1", 0, "Pending words"))
    assert turns.handle(hook("SessionEnd", reason="prompt_input_exit")).sentences == [
        "Pending words"
    ]
    assert turns.handle(hook("SessionEnd", reason="other")).sentences == []


def test_sessions_are_kept_apart():
    turns = HookTurns()
    other = {**display("m1", 0, "Other session"), "session_id": "other"}
    turns.handle(display("m1", 0, "This session"))
    turns.handle(other)
    said = turns.handle({**display("m1", 1, "", final=True), "session_id": "other"})
    assert said.sentences == ["Other session"]
    assert said.session == "other"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ([], "a hook input is a JSON object"),
        ({"hook_event_name": "Stop"}, "without a session_id"),
        (hook("PreToolUse"), "unknown hook_event_name 'PreToolUse'"),
        (hook("MessageDisplay", message_id="m", delta=3), "string message_id and delta"),
        (display("m", 0, "x") | {"final": "yes"}, "final a boolean"),
        (hook("Stop", last_assistant_message=["x"]), "last_assistant_message is a string"),
    ],
)
def test_inputs_claude_code_would_not_send_are_errors(data: object, error: str):
    with pytest.raises(HookInputError, match=error):
        HookTurns().handle(data)
