"""Claude Code hook inputs → sentences: streaming MessageDisplay, Stop reconciled, turns.

The inputs are our own, in the format of Claude Code's hooks reference (checked against
Claude Code 2.1.240) and of what Claude Code 2.1.332 was seen to send (issue 20): every
hook gets ``session_id``, ``transcript_path``, ``cwd`` and ``hook_event_name``, and every
one after ``SessionStart`` a ``prompt_id``; ``MessageDisplay`` adds ``turn_id``,
``message_id``, ``index``, ``final`` and ``delta`` (the whole lines new since the last
batch; the final batch may be empty); ``Stop`` adds ``last_assistant_message`` and
``stop_hook_active``. Each hook call is a process of its own, so the daemon may get them
in any order: the orders are tested exhaustively.
"""

from __future__ import annotations

import itertools

import pytest
from helpers import SESSION, hook_input

from streamtts.claude.hooks import HookInputError, HookTurns


def display(
    message: str, index: int, delta: str, *, final: bool = False, prompt_id: str | None = "p1"
):
    return hook_input(
        "MessageDisplay",
        prompt_id=prompt_id,
        turn_id=f"turn-of-{prompt_id}",
        message_id=message,
        index=index,
        final=final,
        delta=delta,
    )


def stop(last: str | None, *, prompt_id: str | None = "p1") -> dict[str, object]:
    return hook_input(
        "Stop", prompt_id=prompt_id, stop_hook_active=False, last_assistant_message=last
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
    assert turns.handle(stop("Said once.")).sentences == []


def test_stop_says_only_what_message_display_did_not():
    turns = HookTurns()
    assert turns.handle(display("m1", 0, "Let me look.\n", final=True)).sentences == [
        "Let me look."
    ]
    # The final answer never came through MessageDisplay (reported for prose between tool
    # calls); Stop's last_assistant_message has it, and the first message is not repeated.
    said = turns.handle(stop("Let me look. The test passes now."))
    assert said.sentences == ["The test passes now."]
    assert said.turn == f"{SESSION}:p1"


def test_stop_after_a_fully_displayed_message_says_nothing():
    turns = HookTurns()
    turns.handle(display("m1", 0, "All done. Two files changed.\n", final=True))
    assert turns.handle(stop("All done. Two files changed.")).sentences == []


def test_stop_says_what_a_message_without_its_final_batch_still_holds():
    turns = HookTurns()
    assert turns.handle(display("m1", 0, "Half a sentence")).sentences == []
    assert turns.handle(stop("Half a sentence")).sentences == ["Half a sentence"]


def test_a_turn_is_its_prompt_id_and_only_its_first_input_starts_it():
    turns = HookTurns()
    assert turns.handle(hook_input("SessionStart", source="startup")).turn == f"{SESSION}:#0"
    # The prompt's first batch reached the daemon before its UserPromptSubmit did.
    first = turns.handle(display("m1", 0, "Working on it.\n", prompt_id="p1"))
    submitted = turns.handle(hook_input("UserPromptSubmit", prompt_id="p1", prompt="fix it"))
    assert (first.turn, first.new_prompt, first.sentences) == (
        f"{SESSION}:p1",
        True,
        ["Working on it."],
    )
    assert (submitted.turn, submitted.new_prompt) == (f"{SESSION}:p1", False)
    second = turns.handle(hook_input("UserPromptSubmit", prompt_id="p2", prompt="and test it"))
    assert (second.turn, second.new_prompt, second.stale) == (f"{SESSION}:p2", True, False)
    late = turns.handle(display("m1", 1, "Still p1.", final=True, prompt_id="p1"))
    assert (late.turn, late.new_prompt, late.stale) == (f"{SESSION}:p1", False, True)
    assert late.sentences == ["Still p1."]


def test_without_prompt_ids_each_user_prompt_starts_a_turn():
    turns = HookTurns()
    first = turns.handle(hook_input("UserPromptSubmit", prompt_id=None, prompt="fix it"))
    second = turns.handle(hook_input("UserPromptSubmit", prompt_id=None, prompt="and test it"))
    assert first.new_prompt and second.new_prompt
    assert (first.turn, second.turn) == (f"{SESSION}:#1", f"{SESSION}:#2")
    # Without MessageDisplay (an older Claude Code), the same reply in two turns is said twice.
    assert turns.handle(stop("Done.", prompt_id=None)).sentences == ["Done."]
    turns.handle(hook_input("UserPromptSubmit", prompt_id=None, prompt="again"))
    assert turns.handle(stop("Done.", prompt_id=None)).sentences == ["Done."]


# A turn as Claude Code 2.1.332 draws it: a message before a tool call, fully drawn long
# before the end, then the last message in three batches, whose end races with Stop.
EARLIER = display("m1", 0, "Let me look at the parser.\n", final=True)
BATCHES = [
    display("m2", 0, "I found the bug in `parse()`. It drops\n"),
    display("m2", 1, "the last unit.\n\n- First, fix it.\n"),
    display("m2", 2, "", final=True),
]
LAST = "I found the bug in `parse()`. It drops\nthe last unit.\n\n- First, fix it."
SAID = ["I found the bug in parse.", "It drops the last unit.", "First, fix it."]
NEXT_TURN = [
    hook_input("UserPromptSubmit", prompt_id="p2", prompt="thanks"),
    display("m3", 0, "You are welcome.\n", final=True, prompt_id="p2"),
    stop("You are welcome.", prompt_id="p2"),
]


@pytest.mark.parametrize("order", list(itertools.permutations([*BATCHES, stop(LAST)])))
def test_every_sentence_once_in_order_whatever_order_stop_and_the_batches_arrive_in(order):
    turns = HookTurns()
    turns.handle(hook_input("UserPromptSubmit", prompt_id="p1", prompt="find the bug"))
    said = [turns.handle(EARLIER).sentences]
    said += [turns.handle(data).sentences for data in order]
    assert [text for texts in said for text in texts] == ["Let me look at the parser.", *SAID]
    # Nothing of the finished turn is said again at the next prompt, nor by repeats.
    assert [turns.handle(data).sentences for data in [*NEXT_TURN, *order]] == [
        [],
        ["You are welcome."],
        [],
        *([[]] * len(order)),
    ]


def test_stop_between_the_batches_says_the_rest_and_the_late_batches_nothing():
    turns = HookTurns()
    assert turns.handle(BATCHES[0]).sentences == SAID[:1]
    assert turns.handle(stop(LAST)).sentences == SAID[1:]
    assert [turns.handle(data).sentences for data in BATCHES[1:]] == [[], []]


def test_stop_before_the_one_batch_of_a_print_mode_reply_says_it_once():
    turns = HookTurns()
    # claude -p draws a message in one batch, final, that races with Stop.
    assert turns.handle(stop(LAST)).sentences == SAID
    assert turns.handle(display("m2", 0, LAST, final=True)).sentences == []


def test_a_late_batch_of_a_finished_turn_is_not_spoken_at_the_next_prompt():
    turns = HookTurns()
    assert turns.handle(stop(LAST)).sentences == SAID
    said = [turns.handle(data) for data in [NEXT_TURN[0], BATCHES[2], *BATCHES[:2], *NEXT_TURN]]
    assert [s.sentences for s in said] == [[], [], [], [], [], ["You are welcome."], []]
    assert [s.stale for s in said] == [False, True, True, True, False, False, False]


def test_stop_matches_the_drawn_text_whatever_its_line_breaks():
    turns = HookTurns()
    turns.handle(display("m1", 0, "The cache is warm. So the first\n"))
    said = turns.handle(stop("The cache is warm.  So the first sentence is as fast."))
    assert said.sentences == ["So the first sentence is as fast."]
    assert turns.handle(display("m2", 0, "A line without an end\n", prompt_id="p2")).sentences == []
    said = turns.handle(stop("A line without an end\n\nA paragraph of its own", prompt_id="p2"))
    assert said.sentences == ["A line without an end", "A paragraph of its own"]


def test_stop_ends_another_message_whose_batches_were_lost_with_what_it_holds():
    turns = HookTurns()
    turns.handle(display("m1", 0, "First half of"))
    turns.handle(display("m1", 2, " a sentence.\n", final=True))  # batch 1 never comes
    said = turns.handle(stop("All done."))
    assert said.sentences == ["First half of a sentence.", "All done."]
    assert turns.handle(display("m1", 1, " the late part")).sentences == []


def test_a_stop_continued_by_its_hook_says_only_the_new_message():
    turns = HookTurns()
    turns.handle(display("m1", 0, "Tests pass.\n", final=True))
    assert turns.handle(stop("Tests pass.")).sentences == []
    # A Stop hook blocked the stop (stop_hook_active): the turn goes on with a new message.
    assert turns.handle(stop("Lint is clean too.")).sentences == ["Lint is clean too."]
    assert turns.handle(display("m2", 0, "Lint is clean too.", final=True)).sentences == []
    assert turns.handle(display("m3", 0, "Another message.", final=True)).sentences == [
        "Another message."
    ]


def test_session_start_and_end_say_nothing_and_end_forgets_the_session():
    turns = HookTurns()
    assert turns.handle(hook_input("SessionStart", source="startup")).sentences == []
    turns.handle(display("m1", 0, "Pending words"))
    # With or without a prompt_id, the end is of the newest turn and starts none.
    ended = turns.handle(hook_input("SessionEnd", prompt_id=None, reason="prompt_input_exit"))
    assert (ended.sentences, ended.turn, ended.new_prompt) == (
        ["Pending words"],
        f"{SESSION}:p1",
        False,
    )
    assert turns.handle(hook_input("SessionEnd", prompt_id="p1", reason="other")).sentences == []


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
        (hook_input("PreToolUse", prompt_id="p1"), "unknown hook_event_name 'PreToolUse'"),
        (
            hook_input("MessageDisplay", prompt_id="p1", message_id="m", delta=3),
            "string message_id and delta",
        ),
        (display("m", 0, "x") | {"final": "yes"}, "final a boolean"),
        (
            hook_input("Stop", prompt_id="p1", last_assistant_message=["x"]),
            "last_assistant_message is a string",
        ),
    ],
)
def test_inputs_claude_code_would_not_send_are_errors(data: object, error: str):
    with pytest.raises(HookInputError, match=error):
        HookTurns().handle(data)
