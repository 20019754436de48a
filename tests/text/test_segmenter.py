"""The segmenter: markdown to speakable sentences, emitted as soon as each end is certain."""

from __future__ import annotations

import time

import pytest

from streamtts.reading.formats.base import Boundary, TextPiece
from streamtts.text.segmenter import (
    HARD_LIMIT,
    HOLD_LIMIT,
    PROTECT_LIMIT,
    SOFT_LIMIT,
    Segmenter,
    Sentence,
    segment,
)
from streamtts.text.speakable import MAX_SPOKEN_CODE, redact, speakable, speakable_row


def sentences(text: str) -> list[str]:
    """Sentences of ``text`` as one block; also checks that feeding it a character at a
    time gives exactly the same sentences, numbered the same."""
    whole = list(segment([TextPiece(text, Boundary.BLOCK)]))
    segmenter = Segmenter()
    trickled = [s for c in text for s in segmenter.feed(TextPiece(c))] + segmenter.flush()
    assert [(s.seq, s.text) for s in trickled] == [(s.seq, s.text) for s in whole]
    assert [s.seq for s in whole] == list(range(len(whole)))
    return [s.text for s in whole]


def test_sentence_boundaries() -> None:
    assert sentences("Done. Next step is here! Is it? Yes…  Ok") == [
        "Done.",
        "Next step is here!",
        "Is it?",
        "Yes…",
        "Ok",
    ]


def test_abbreviations_do_not_end_sentences() -> None:
    text = (
        "Use a flag, e.g. --fast, i.e. the quick path. Mr. Smith and Dr. Who met at 5 p.m. "
        "Then they left. Apples, pears etc. are fruit. We have tests, docs, etc. Next we ship. "
        "The U.S. team vs. the rest."
    )
    assert sentences(text) == [
        "Use a flag, e.g. --fast, i.e. the quick path.",
        "Mr. Smith and Dr. Who met at 5 p.m.",
        "Then they left.",
        "Apples, pears etc. are fruit.",
        "We have tests, docs, etc.",
        "Next we ship.",
        "The U.S. team vs. the rest.",
    ]


def test_numbers_versions_files_urls_and_mail_do_not_end_sentences() -> None:
    text = "Pi is 3.14 in v1.2.3 of foo.py, per a@b.example.org today. Then stop."
    assert sentences(text) == [
        "Pi is 3.14 in v1.2.3 of foo.py, per a@b.example.org today.",
        "Then stop.",
    ]


def test_closing_quotes_and_brackets_stay_with_their_sentence() -> None:
    assert sentences('He said "Stop." Then (really!) left. (Yes.) 「はい。」次') == [
        'He said "Stop."',
        "Then (really!) left.",
        "(Yes.)",
        "「はい。」",
        "次",
    ]


def test_japanese_sentences() -> None:
    text = "了解しました。`pytest` を実行します！結果は？\n\n- 全部成功、警告なし\n"
    assert sentences(text) == [
        "了解しました。",
        "pytest を実行します！",
        "結果は？",
        "全部成功、警告なし",
    ]


def test_japanese_soft_line_break_joins_without_a_space() -> None:
    assert sentences("これは長い\n文です。") == ["これは長い文です。"]


def test_a_sentence_is_emitted_as_soon_as_its_end_is_certain() -> None:
    segmenter = Segmenter()
    assert segmenter.feed(TextPiece("Done.")) == []  # "Done.x" would be a file name
    [first] = segmenter.feed(TextPiece(" N"))
    assert (first.seq, first.text) == (0, "Done.")
    assert segmenter.feed(TextPiece("ext: e.g.")) == []
    assert segmenter.feed(TextPiece(" ")) == []  # "e.g." followed by anything: not an end
    assert segmenter.feed(TextPiece("this etc. ")) == []  # "etc." waits for the next word
    assert [s.text for s in segmenter.feed(TextPiece("T"))] == ["Next: e.g. this etc."]
    assert [s.text for s in segmenter.flush()] == ["T"]


def test_t_ready_is_when_the_end_became_certain() -> None:
    segmenter = Segmenter()
    segmenter.feed(TextPiece("One."))
    before = time.perf_counter()
    [one] = segmenter.feed(TextPiece(" "))  # only now is "One." certain to end there
    assert isinstance(one, Sentence)
    assert before <= one.t_ready <= time.perf_counter()


def test_flush_boundaries_emit_what_is_pending() -> None:
    segmenter = Segmenter()
    assert segmenter.feed(TextPiece("Let me check the file")) == []
    [pending] = segmenter.feed(TextPiece("", Boundary.TOOL))
    assert pending.text == "Let me check the file"
    assert [s.text for s in segmenter.feed(TextPiece("All good", Boundary.TURN))] == ["All good"]
    assert segmenter.flush() == []


def test_a_long_run_is_cut_at_a_clause_boundary_after_the_soft_limit() -> None:
    clause = "this clause keeps going on, "  # 28 characters
    text = clause * 10 + "and ends."
    first_cut = (SOFT_LIMIT // len(clause) + 1) * len(clause)
    assert sentences(text) == [(clause * 6).strip(), (clause * 4).strip() + " and ends."]
    assert first_cut == 6 * len(clause)


def test_a_long_run_without_clauses_is_cut_at_a_space_after_the_hard_limit() -> None:
    text = "word " * 100
    cut = text.index(" ", HARD_LIMIT)
    assert sentences(text) == [text[:cut], text[cut:].strip()]


def test_japanese_long_run_is_cut_at_a_comma() -> None:
    text = "あ" * SOFT_LIMIT + "、いい" + "う" * 10 + "。"
    assert sentences(text) == ["あ" * SOFT_LIMIT + "、", "いい" + "う" * 10 + "。"]


def test_markdown_inline_is_rendered_for_speech() -> None:
    text = (
        "**Bold** and *em* and ~~old~~ with `foo.py`, `--verbose` and [the docs](https://x.io/a). "
        "An image ![diagram](d.png) and <b>html</b> and &amp; stay quiet. "
        "See https://example.com/path?q=1 or <https://example.org> now. "
        "✅ Done 🎉!"
    )
    assert sentences(text) == [
        "Bold and em and old with foo.py, --verbose and the docs.",
        "An image and html and & stay quiet.",
        "See or now.",
        "Done!",
    ]


def test_long_inline_code_is_skipped() -> None:
    long_code = "x" * (MAX_SPOKEN_CODE + 1)
    short_code = "y" * MAX_SPOKEN_CODE
    assert sentences(f"Run `{long_code}` then `{short_code}` now.") == [
        f"Run then {short_code} now."
    ]


def test_terminators_inside_code_spans_and_links_do_not_split() -> None:
    text = "Call `a. B` and read [part one. Part two](https://x.io) now. Next."
    assert sentences(text) == ["Call a. B and read part one. Part two now.", "Next."]


def test_unclosed_code_span_stops_protecting_after_a_while() -> None:
    filler = "Filler words here. "
    text = "A lone ` backtick. " + filler * 20
    # Protection ends more than PROTECT_LIMIT characters after the backtick.
    first_end = text.index(". ", text.index("`") + PROTECT_LIMIT + 1) + 1
    rest = (len(text) - first_end) // len(filler)
    assert sentences(text) == [text[:first_end].replace("` ", "")] + [filler.strip()] * rest


def test_markdown_blocks_are_units() -> None:
    text = (
        "# Summary\n"
        "Intro line one\n"
        "continues here\n"
        "\n"
        "- first item\n"
        "- [x] second item\n"
        "  with a continuation\n"
        "1. numbered\n"
        "2) other\n"
        "> quoted\n"
        "---\n"
        "Last"
    )
    assert sentences(text) == [
        "Summary",
        "Intro line one continues here",
        "first item",
        "second item with a continuation",
        "numbered",
        "other",
        "quoted",
        "Last",
    ]


def test_code_fences_are_not_read() -> None:
    text = (
        "Before.\n"
        "````python\n"
        "print('not. read.')\n"
        "```\n"
        "```` not a close\n"
        "`````\n"
        "After.\n"
        "~~~\n"
        "also code\n"
        "~~~\n"
        "  ```bash\n"
        "  ls\n"
        "  ```\n"
        "End."
    )
    assert sentences(text) == ["Before.", "After.", "End."]


def test_unclosed_fence_ends_with_its_block() -> None:
    segmenter = Segmenter()
    assert segmenter.feed(TextPiece("```\ncode. more.\n", Boundary.BLOCK)) == []
    assert [s.text for s in segmenter.feed(TextPiece("Spoken.", Boundary.BLOCK))] == ["Spoken."]


def test_tables_read_row_by_row() -> None:
    text = "| Name | Size |\n|:-----|----:|\n| `a.py` | 2 KB |\n| b \\| c | `x|y` |\n\nAfter."
    assert sentences(text) == ["Name, Size", "a.py, 2 KB", "b | c, x|y", "After."]


def test_held_lines_are_bounded() -> None:
    # A line whose kind is not settled by its start is settled by its first HOLD_LIMIT
    # characters; a table row longer than that is data and is not read.
    assert sentences("=" * (HOLD_LIMIT + 10) + " ok.\nNext.") == ["ok.", "Next."]
    assert sentences("| " + "cell | " * HOLD_LIMIT + "\n| a | b |\nAfter.") == ["a, b", "After."]


def test_rules_are_skipped_and_not_confused_with_items_or_flags() -> None:
    assert sentences("***\n- - -\n--verbose is a flag\n* star item\n___") == [
        "--verbose is a flag",
        "star item",
    ]


def test_secrets_are_never_spoken() -> None:
    keys = [
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv0123",
        "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        "github_pat_11ABCDEFG0123456789_abcdefghij",
        "AKIAIOSFODNN7EXAMPLE",
        "xoxb-1234567890-abcdefghij",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9Pl",
        "Bearer abc.def-ghi_jkl",
        "0123456789abcdef0123456789abcdef01234567",
        "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
    ]
    for key in keys:
        assert sentences(f"The key {key} is set.") == ["The key is set."], key
        assert sentences(f"Use `{key}` here.") == ["Use here."], key
    assert redact("password=hunter2 and api_key: abc123") == " and "
    assert redact("The token: it expires daily.") == "The token: it expires daily."
    # Long words and paths that are not random stay.
    prose = "The supercalifragilisticexpialidocious-configuration-file is fine."
    assert redact(prose) == prose


def test_text_with_nothing_to_say_gives_no_sentence() -> None:
    assert sentences("🎉 ✅\n\n```\ncode\n```\n---\n![x](y.png)\n<br>") == []
    assert sentences("") == []


def test_speakable_rendering() -> None:
    assert speakable("Use **`make test`** (see <https://x.io>).") == "Use make test (see)."
    assert speakable("snake_case and a*b stay, **Done.") == "snake_case and a*b stay, Done."
    assert speakable_row("|---|:-:|") == ""
    assert speakable_row("| **A** | | `b` |") == "A, b"


@pytest.mark.parametrize("boundary", list(Boundary))
def test_every_boundary_flushes_and_resets_markdown_state(boundary: Boundary) -> None:
    segmenter = Segmenter()
    flushed = segmenter.feed(TextPiece("Intro\n```\nunfinished code", boundary))
    assert [s.text for s in flushed] == ["Intro"]
    # The fence ended with its block: what follows is prose again.
    assert [s.text for s in segmenter.feed(TextPiece("Spoken.", boundary))] == ["Spoken."]
