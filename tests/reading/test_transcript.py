"""`watch`'s source: a Claude Code session transcript parsed and followed as it is written."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import DATA, written_now

from streamtts.reading.stream import MAX_LINE, SourceStats
from streamtts.reading.transcript import (
    TranscriptParser,
    follow_lines,
    newest_transcript,
    project_key,
    watch_pieces,
)
from streamtts.text.segmenter import segment

SESSION = DATA / "transcript" / "claude-own-session.jsonl"
SPOKEN = [
    "Let me look at the parser first.",
    "The total is overwritten.",
    "I will add instead.",
]


def sentences_of(lines: list[bytes]) -> list[str]:
    parser = TranscriptParser()
    return [s.text for s in segment(p for line in lines for p in parser.feed_line(line))]


def test_only_main_thread_assistant_text_is_spoken():
    # Not the prompt, thinking, the tool call and its result, the sidechain (subagent),
    # the compact boundary, the summary or the file snapshot.
    assert sentences_of(SESSION.read_bytes().splitlines()) == SPOKEN


def test_a_line_seen_twice_is_spoken_once_and_junk_is_counted():
    lines = SESSION.read_bytes().splitlines()
    stats = SourceStats()
    parser = TranscriptParser(stats=stats)
    doubled = [*lines[:4], lines[3], b"not json at all", b"\xff\xfe", b"[1, 2]", *lines[4:]]
    got = [s.text for s in segment(p for line in doubled for p in parser.feed_line(line))]
    assert got == SPOKEN
    assert (stats.lines, stats.malformed) == (len(doubled), 2)


class Follower:
    """``follow`` on a thread, collecting lines; ``until(n)`` waits for n of them."""

    def __init__(self, start: Callable[[threading.Event], object]) -> None:
        self.lines: list[bytes] = []
        self.stop = threading.Event()
        self._more = threading.Condition()
        self._thread = threading.Thread(target=self._run, args=(start,), daemon=True)
        self._thread.start()

    def _run(self, start: Callable[[threading.Event], object]) -> None:
        for line in start(self.stop):
            with self._more:
                self.lines.append(line)
                self._more.notify_all()

    def until(self, count: int, timeout: float = 10.0) -> list[bytes]:
        with self._more:
            assert self._more.wait_for(lambda: len(self.lines) >= count, timeout), self.lines
        return self.lines

    def close(self) -> None:
        self.stop.set()
        self._thread.join(5)
        assert not self._thread.is_alive()


@contextlib.contextmanager
def following(path: Path, **options: object) -> Iterator[Follower]:
    """``follow_lines`` on ``path`` (made empty if missing), settled at its end, then closed."""
    if not path.exists():
        path.write_bytes(b"")
    follower = Follower(lambda stop: follow_lines(path, stop=stop, poll=0.01, **options))
    follower.stop.wait(0.1)
    try:
        yield follower
    finally:
        follower.close()


def test_follow_starts_at_the_end_and_holds_a_half_written_line(tmp_path: Path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"history": 1}\n')
    follower = Follower(lambda stop: follow_lines(path, stop=stop, poll=0.01))
    try:
        follower.stop.wait(0.1)  # let it settle at the current end
        with path.open("ab") as handle:
            handle.write(b'{"a": 1}\n{"b": ')
            handle.flush()
            follower.until(1)
            follower.stop.wait(0.1)
            assert follower.lines == [b'{"a": 1}']  # the half line waits for its newline
            handle.write(b"2}\n")
        assert follower.until(2) == [b'{"a": 1}', b'{"b": 2}']
    finally:
        follower.close()


def test_follow_survives_truncation_and_rotation(tmp_path: Path):
    path = tmp_path / "s.jsonl"
    with following(path) as follower:
        path.write_bytes(b'{"one": 1}\n{"two": 2}\n')
        follower.until(2)
        path.write_bytes(b'{"three": 3}\n')  # truncated and rewritten, shorter than before
        follower.until(3)
        rotated = tmp_path / "new.jsonl"
        rotated.write_bytes(b'{"four": 4}\n')
        rotated.replace(path)  # a new file under the same name
        assert follower.until(4)[2:] == [b'{"three": 3}', b'{"four": 4}']


def project_follower(project: Path, announced: list[Path | None]) -> Follower:
    """``watch_pieces`` of ``project`` on a thread: its texts, and what it announced."""
    return Follower(
        lambda stop: (
            p.text
            for p in watch_pieces(
                None, project=project, stop=stop, poll=0.01, announce=announced.append
            )
        )
    )


def test_watch_without_a_file_follows_the_newest_session_and_moves_to_a_new_one(
    tmp_path: Path,
):
    project = tmp_path / project_key(Path("/home/dev/parser"))
    project.mkdir()
    old = project / "old.jsonl"
    old.write_bytes(SESSION.read_bytes())  # history: never spoken
    lines = SESSION.read_bytes().splitlines(keepends=True)
    announced: list[Path | None] = []
    follower = project_follower(project, announced)
    try:
        follower.stop.wait(0.1)
        assert newest_transcript(project) == old
        with old.open("ab") as handle:
            handle.write(written_now(lines[3]))
        assert follower.until(1) == ["Let me look at the parser first."]
        new = project / "new.jsonl"
        new.write_bytes(written_now(lines[7]))  # a new session: read from its start
        assert follower.until(2)[1] == "The total is overwritten. I will add instead."
        assert announced == [old, new]
    finally:
        follower.close()


def test_watch_of_a_project_without_sessions_waits_and_reads_the_first_from_its_start(
    tmp_path: Path,
):
    project = tmp_path / project_key(Path("/home/dev/fresh"))  # made at the first prompt
    announced: list[Path | None] = []
    follower = project_follower(project, announced)
    try:
        follower.stop.wait(0.1)
        assert announced == [None]
        project.mkdir()
        lines = SESSION.read_bytes().splitlines(keepends=True)
        (project / "first.jsonl").write_bytes(written_now(lines[3]) + written_now(lines[7]))
        assert follower.until(2) == [
            "Let me look at the parser first.",
            "The total is overwritten. I will add instead.",
        ]
        assert announced == [None, project / "first.jsonl"]
    finally:
        follower.close()


def test_project_key_is_the_path_with_every_other_character_a_dash(tmp_path: Path):
    assert project_key(Path("/Users/me/my_app.v2")) == "-Users-me-my-app-v2"


# -- a transcript that misbehaves (issue 17) ---------------------------------------------------


def assistant_line(text: str, uuid: str, *, stamp: bytes | None = None) -> bytes:
    message = {"role": "assistant", "content": [{"type": "text", "text": text}]}
    event = {"type": "assistant", "uuid": uuid, "timestamp": "", "message": message}
    line = json.dumps(event).encode() + b"\n"
    return written_now(line) if stamp is None else line.replace(b'"timestamp": ""', stamp)


OLD = b'"timestamp": "2020-01-01T00:00:00.000Z"'


def test_a_line_stamped_before_the_watch_began_is_never_spoken_whatever_file_it_is_in(
    tmp_path: Path,
):
    project = tmp_path / "project"
    project.mkdir()
    first = project / "a.jsonl"
    first.write_bytes(b"")
    follower = Follower(
        lambda stop: (p.text for p in watch_pieces(None, project=project, stop=stop, poll=0.01))
    )
    try:
        follower.stop.wait(0.1)
        # Another session of the project appears, holding history and one new line.
        other = project / "b.jsonl"
        other.write_bytes(
            assistant_line("Old news.", "u1", stamp=OLD) + assistant_line("Fresh.", "u2")
        )
        assert follower.until(1) == ["Fresh."]
        # The file is rewritten atomically (a new inode), its history kept, a line added.
        rewritten = project / "b.tmp"
        rewritten.write_bytes(other.read_bytes() + assistant_line("Also fresh.", "u3"))
        rewritten.replace(other)
        assert follower.until(2) == ["Fresh.", "Also fresh."]
        follower.stop.wait(0.2)
        assert follower.lines == ["Fresh.", "Also fresh."]
    finally:
        follower.close()


def test_a_line_stamped_in_the_millisecond_the_watch_began_is_not_history():
    # Claude Code stamps to the millisecond: a line written just after watch started may
    # carry the same millisecond, truncated, as the start itself.
    began = datetime(2026, 1, 2, 3, 4, 5, 801_600, tzinfo=UTC).timestamp()
    parser = TranscriptParser(since=began)
    same = b'"timestamp": "2026-01-02T03:04:05.801Z"'
    before = b'"timestamp": "2026-01-02T03:04:05.800Z"'
    assert [p.text for p in parser.feed_line(assistant_line("Now.", "u1", stamp=same))] == ["Now."]
    assert parser.feed_line(assistant_line("Then.", "u2", stamp=before)) == []


@pytest.mark.parametrize("how", ["truncate-and-rewrite", "delete-and-recreate"])
def test_new_lines_are_caught_when_the_file_is_rewritten_in_place(tmp_path: Path, how: str):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b'{"n": 0}\n')
    with following(path) as follower:
        for n in range(1, 21):
            # Longer than before at once, so the size alone never shows the change; a file
            # made again in place may well get the inode of the one just deleted.
            data = b"".join(b'{"n": %d, "pad": "%s"}\n' % (n, b"x" * n) for _ in range(2))
            if how == "delete-and-recreate":
                path.unlink()
            with path.open("wb") as handle:
                handle.write(data)
            follower.until(2 * n)
        assert len(follower.lines) == 40
        assert follower.lines[-1] == b'{"n": 20, "pad": "%s"}' % (b"x" * 20)


def test_a_transcript_that_cannot_be_opened_for_a_while_is_waited_for(tmp_path: Path):
    path = tmp_path / "s.jsonl"
    with following(path) as follower:
        path.unlink()
        path.mkdir()  # open() fails (IsADirectoryError) as for a PermissionError
        follower.stop.wait(0.1)
        path.rmdir()
        path.write_bytes(b'{"a": 1}\n')
        assert follower.until(1) == [b'{"a": 1}']


def test_a_line_over_the_limit_is_skipped_and_counted_not_held(tmp_path: Path):
    path, stats = tmp_path / "s.jsonl", SourceStats()
    with following(path, stats=stats) as follower:
        with path.open("ab") as handle:
            handle.write(b"x" * (MAX_LINE + (3 << 20)) + b"\n" + b'{"after": 1}\n')
        assert follower.until(1) == [b'{"after": 1}']
        assert stats.oversized == 1
