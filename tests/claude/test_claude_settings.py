"""Claude Code's settings.json: our hooks go in and come out, and nothing else moves."""

from __future__ import annotations

import json
import os
import shlex
import stat
from pathlib import Path

import pytest

from streamtts.claude import settings as claude_settings
from streamtts.claude.settings import (
    HOOK_EVENTS,
    Change,
    install,
    is_ours,
    settings_path,
    status,
    uninstall,
)
from streamtts.errors import StreamttsError

HOOK = "/home/u/.venv/bin/streamtts-hook"
OTHER_VENV_HOOK = "/opt/tools/venv/bin/streamtts-hook"
OURS = {"type": "command", "command": HOOK, "timeout": 5}

# A user's settings: other keys before and after "hooks", another tool's Stop hook, a
# PreToolUse matcher group, and an event of ours that holds a group with a matcher.
RICH = {
    "$schema": "https://json.schemastore.org/claude-code-settings.json",
    "permissions": {"allow": ["Bash(npm run test:*)"], "deny": ["Read(./.env)"]},
    "env": {"ANTHROPIC_API_KEY": "sk-test", "GREETING": "こんにちは"},
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "audit-bash"}]}
        ],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done", "timeout": 3}]}],
        "SessionStart": [
            {"matcher": "startup", "hooks": [{"type": "command", "command": "echo hi"}]}
        ],
    },
    "model": "opus",
    "cleanupPeriodDays": 30,
}


def dump(settings: object) -> str:
    """The text we expect the module to write for ``settings``."""
    return json.dumps(settings, indent=2, ensure_ascii=False) + "\n"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """``~/.claude/settings.json`` of a home in the test's directory; ``.claude`` exists."""
    path = settings_path(environ={"CLAUDE_CONFIG_DIR": str(tmp_path / ".claude")})
    path.parent.mkdir()
    return path


def test_settings_path_for_user_and_project(tmp_path: Path) -> None:
    config = {"CLAUDE_CONFIG_DIR": str(tmp_path / "cc")}
    assert settings_path(environ=config) == tmp_path / "cc" / "settings.json"
    assert settings_path(project=tmp_path / "p") == tmp_path / "p" / ".claude" / "settings.json"
    assert settings_path(environ={}) == Path.home() / ".claude" / "settings.json"


def test_install_into_missing_file_creates_claude_dir(tmp_path: Path) -> None:
    path = settings_path(project=tmp_path)
    change = install(path, HOOK)
    assert change == Change(path=path, changed=True, backup=None, events=HOOK_EVENTS)
    assert path.read_text("utf-8") == dump(
        {"hooks": {event: [{"hooks": [OURS]}] for event in HOOK_EVENTS}}
    )
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json"]  # no temp left


def test_install_into_rich_file_keeps_everything_else(path: Path) -> None:
    path.write_text(dump(RICH), "utf-8")
    change = install(path, HOOK, timeout=7)
    assert change.events == HOOK_EVENTS
    ours = {"hooks": [{**OURS, "timeout": 7}]}
    expected = {
        "$schema": RICH["$schema"],
        "permissions": RICH["permissions"],
        "env": RICH["env"],
        "hooks": {
            "PreToolUse": RICH["hooks"]["PreToolUse"],
            "Stop": [*RICH["hooks"]["Stop"], ours],
            "SessionStart": [*RICH["hooks"]["SessionStart"], ours],
            "MessageDisplay": [ours],
            "UserPromptSubmit": [ours],
            "SessionEnd": [ours],
        },
        "model": "opus",
        "cleanupPeriodDays": 30,
    }
    assert path.read_text("utf-8") == dump(expected)  # text equality: key order too
    assert "こんにちは" in path.read_text("utf-8")


def test_new_hooks_key_goes_after_the_others(path: Path) -> None:
    path.write_text('{"model": "opus", "env": {}}', "utf-8")
    install(path, HOOK)
    assert list(json.loads(path.read_text("utf-8"))) == ["model", "env", "hooks"]


def test_second_install_changes_nothing(path: Path) -> None:
    path.write_text(dump(RICH), "utf-8")
    install(path, HOOK)
    written = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    names = sorted(p.name for p in path.parent.iterdir())
    assert install(path, HOOK) == Change(path=path, changed=False, backup=None, events=())
    assert path.read_bytes() == written
    assert path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in path.parent.iterdir()) == names


def test_install_from_another_venv_replaces_ours(path: Path) -> None:
    path.write_text(dump(RICH), "utf-8")
    install(path, HOOK)
    change = install(path, OTHER_VENV_HOOK)
    assert change.changed and change.events == HOOK_EVENTS
    assert status(path) == dict.fromkeys(HOOK_EVENTS, OTHER_VENV_HOOK)
    hooks = json.loads(path.read_text("utf-8"))["hooks"]
    assert hooks["Stop"] == [
        *RICH["hooks"]["Stop"],
        {"hooks": [{**OURS, "command": OTHER_VENV_HOOK}]},
    ]


def test_install_updates_a_module_hook_in_place_and_drops_duplicates(path: Path) -> None:
    old = {"type": "command", "command": "/usr/bin/python3 -m streamtts.hook", "async": True}
    foreign = {"type": "command", "command": "notify-send done"}
    path.write_text(
        dump(
            {
                "hooks": {
                    "Stop": [
                        {"hooks": [old, foreign]},
                        {"hooks": [{"type": "command", "command": HOOK}]},
                    ]
                }
            }
        ),
        "utf-8",
    )
    install(path, OTHER_VENV_HOOK)
    stop = json.loads(path.read_text("utf-8"))["hooks"]["Stop"]
    # The user's own "async" stays, in its place; the second entry of ours goes with its group.
    assert stop == [
        {
            "hooks": [
                {"type": "command", "command": OTHER_VENV_HOOK, "async": True, "timeout": 5},
                foreign,
            ]
        }
    ]
    assert list(stop[0]["hooks"][0]) == ["type", "command", "async", "timeout"]


def test_command_with_spaces_is_quoted_and_recognised(path: Path) -> None:
    command = shlex.quote("/home/u/my venv/bin/streamtts-hook")
    install(path, command)
    assert status(path) == dict.fromkeys(HOOK_EVENTS, "'/home/u/my venv/bin/streamtts-hook'")
    assert install(path, command).changed is False


@pytest.mark.parametrize(
    ("command", "ours"),
    [
        ("streamtts-hook", True),
        ("/a/b/streamtts-hook --verbose", True),
        ("'/a b/streamtts-hook'", True),
        ("/venv/bin/python -m streamtts.hook", True),
        ("cd /x && python3 -m streamtts.hook", True),
        ("streamtts-hooks", False),
        ("echo streamtts-hook", False),
        ("python -m streamtts.hooks", False),
        ("python -m streamtts", False),
        ("'/a/streamtts-hook", True),  # unbalanced quote: judged by its plain words
        ("'/a/other", False),
        ("STREAMTTS_TTS=kokoro A=1 /a/streamtts-hook", True),
        ("STREAMTTS_TTS=kokoro python -m streamtts.hook", True),
        ("1A=x streamtts-hook", False),  # no shell variable name: a program called that
    ],
)
def test_is_ours_by_program_name_or_module(command: str, ours: bool) -> None:
    assert is_ours({"type": "command", "command": command}) is ours


@pytest.mark.parametrize("entry", ["streamtts-hook", {"type": "command"}, {"command": 1}, None])
def test_entries_without_a_command_string_are_not_ours(entry: object) -> None:
    assert is_ours(entry) is False


def test_install_refuses_a_command_it_would_not_recognise(path: Path) -> None:
    with pytest.raises(ValueError, match="does not run streamtts-hook"):
        install(path, "/usr/bin/say-it")
    with pytest.raises(ValueError, match="timeout"):
        install(path, HOOK, timeout=0)
    assert not path.exists()


def test_uninstall_after_install_gives_back_the_original(path: Path) -> None:
    path.write_text(dump(RICH), "utf-8")
    install(path, HOOK)
    change = uninstall(path)
    assert change.changed and change.events == HOOK_EVENTS
    assert path.read_text("utf-8") == dump(RICH)


def test_uninstall_after_install_into_missing_file_leaves_an_empty_object(tmp_path: Path) -> None:
    path = settings_path(project=tmp_path)
    install(path, HOOK)
    uninstall(path)
    assert path.read_text("utf-8") == "{}\n"


def test_uninstall_removes_only_our_entries(path: Path) -> None:
    foreign = {"type": "command", "command": "notify-send done"}
    settings = {
        "hooks": {
            "Stop": [
                {"matcher": "", "hooks": [foreign, OURS]},
                {"hooks": []},  # empty, but not by our doing: it stays
                {"hooks": [OURS]},
            ],
            "SessionEnd": [{"hooks": [OURS]}],
            "Notification": [{"hooks": [{"type": "command", "command": HOOK}]}],
        }
    }
    path.write_text(dump(settings), "utf-8")
    change = uninstall(path)
    assert change.events == ("Stop", "SessionEnd")
    assert path.read_text("utf-8") == dump(
        {
            "hooks": {
                "Stop": [{"matcher": "", "hooks": [foreign]}, {"hooks": []}],
                # Not one of HOOK_EVENTS, so never read: we did not put it there.
                "Notification": [{"hooks": [{"type": "command", "command": HOOK}]}],
            }
        }
    )
    assert uninstall(path) == Change(path=path, changed=False, backup=None, events=())


def test_uninstall_of_missing_file_creates_nothing(tmp_path: Path) -> None:
    path = settings_path(project=tmp_path)
    assert uninstall(path) == Change(path=path, changed=False, backup=None, events=())
    assert not path.parent.exists()


def test_backup_holds_the_old_bytes_and_is_never_overwritten(path: Path) -> None:
    original = json.dumps(RICH, indent=4).encode()  # another layout: bytes, not just value
    path.write_bytes(original)
    first = install(path, HOOK)
    assert first.backup == path.with_name("settings.json.bak")
    assert first.backup.read_bytes() == original
    installed = path.read_bytes()
    second = uninstall(path)
    assert second.backup == path.with_name("settings.json.bak.1")
    assert second.backup.read_bytes() == installed
    assert first.backup.read_bytes() == original
    # A backup of the user's own under the next name is skipped too.
    path.with_name("settings.json.bak.2").write_bytes(b"mine")
    assert install(path, HOOK).backup == path.with_name("settings.json.bak.3")
    assert path.with_name("settings.json.bak.2").read_bytes() == b"mine"


@pytest.mark.parametrize("text", ["", "  \n"])
def test_empty_file_is_an_empty_object(path: Path, text: str) -> None:
    path.write_text(text, "utf-8")
    change = install(path, HOOK)
    assert change.backup is not None and change.backup.read_text("utf-8") == text
    assert status(path) == dict.fromkeys(HOOK_EVENTS, HOOK)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b'{"model": "opus",}', "Expecting property name enclosed in double quotes at line 1"),
        (b'// mine\n{"model": "opus"}', "Expecting value at line 1 column 1;"),
        (b'{\n  "model": "opus"\n  "env": {}\n}', "Expecting ',' delimiter at line 3 column 3;"),
        (b'{"timeout": NaN}', "NaN is not a JSON value"),
        (b'{"cleanupPeriodDays": 1e400}', "the number 1e400 is too large to write back as JSON"),
        (b'{"model": "\xff"}', "is not UTF-8 text (byte 11)"),
    ],
)
def test_malformed_file_is_refused_and_left_alone(path: Path, data: bytes, problem: str) -> None:
    path.write_bytes(data)
    for action in (lambda: install(path, HOOK), lambda: uninstall(path), lambda: status(path)):
        with pytest.raises(StreamttsError) as raised:
            action()
        message = str(raised.value)
        assert message.startswith(str(path)) and problem in message
        assert "\n" not in message
    assert path.read_bytes() == data
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json"]


def test_json_error_message_in_full(path: Path) -> None:
    path.write_text('{"model": "opus",}', "utf-8")
    with pytest.raises(StreamttsError) as raised:
        install(path, HOOK)
    assert str(raised.value) == (
        f"{path} is not valid JSON: Expecting property name enclosed in double quotes at "
        "line 1 column 18; fix it by hand (Claude Code reads no comments either)"
    )


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ([], "the top level is an array, not an object"),
        ("opus", "the top level is a string, not an object"),
        ({"hooks": []}, '"hooks" is an array, not an object'),
        ({"hooks": None}, '"hooks" is null, not an object'),
        ({"hooks": {"Stop": {"hooks": []}}}, '"hooks"."Stop" is an object, not an array'),
        ({"hooks": {"Stop": [{"hooks": []}, 5]}}, '"hooks"."Stop"[1] is a number, not an object'),
        (
            {"hooks": {"SessionEnd": [{"hooks": {"command": HOOK}}]}},
            '"hooks"."SessionEnd"[0]."hooks" is an object, not an array',
        ),
    ],
)
def test_wrong_types_are_refused_and_left_alone(path: Path, settings: object, problem: str) -> None:
    path.write_text(dump(settings), "utf-8")
    before = path.read_bytes()
    with pytest.raises(StreamttsError) as raised:
        install(path, HOOK)
    assert str(raised.value) == f"{path}: {problem}; fix the file by hand"
    with pytest.raises(StreamttsError):
        uninstall(path)
    assert path.read_bytes() == before
    assert not path.with_name("settings.json.bak").exists()


def test_shape_of_events_not_ours_is_not_judged(path: Path) -> None:
    path.write_text('{"hooks": {"PreToolUse": "odd"}}', "utf-8")
    install(path, HOOK)
    uninstall(path)
    assert path.read_text("utf-8") == dump({"hooks": {"PreToolUse": "odd"}})


def test_symlinked_settings_are_written_through_the_link(path: Path, tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "claude-settings.json"
    target.write_text(dump(RICH), "utf-8")
    path.symlink_to(target)
    change = install(path, HOOK)
    assert path.is_symlink() and path.readlink() == target
    assert status(target) == dict.fromkeys(HOOK_EVENTS, HOOK)
    assert change.backup == path.with_name("settings.json.bak")
    assert change.backup.read_text("utf-8") == dump(RICH)
    assert sorted(p.name for p in dotfiles.iterdir()) == ["claude-settings.json"]


def test_install_keeps_the_users_timeout_and_prefix_on_our_entry(path: Path) -> None:
    mine = {"type": "command", "command": f"STREAMTTS_TTS=kokoro {HOOK}", "timeout": 30}
    path.write_text(dump({"hooks": {"Stop": [{"hooks": [mine]}]}}), "utf-8")
    install(path, OTHER_VENV_HOOK)
    stop = json.loads(path.read_text("utf-8"))["hooks"]["Stop"]
    assert stop == [{"hooks": [{"type": "command", "command": OTHER_VENV_HOOK, "timeout": 30}]}]


def test_a_read_only_settings_file_is_refused_and_left_alone(path: Path) -> None:
    path.write_text(dump(RICH), "utf-8")
    path.chmod(0o444)
    with pytest.raises(StreamttsError) as raised:
        install(path, HOOK)
    assert str(raised.value) == f"{path} is read-only; make it writable to change it"
    assert path.read_text("utf-8") == dump(RICH)
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json"]


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o664])
def test_permission_bits_are_kept(path: Path, mode: int) -> None:
    path.write_text(dump(RICH), "utf-8")
    path.chmod(mode)
    change = install(path, HOOK)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert change.backup is not None and stat.S_IMODE(change.backup.stat().st_mode) == mode


def test_new_file_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        path = settings_path(project=tmp_path)
        install(path, HOOK)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_unwritable_directory_is_a_one_line_error(path: Path) -> None:
    path.write_text(dump(RICH), "utf-8")
    path.parent.chmod(0o555)
    try:
        with pytest.raises(StreamttsError, match=r"^cannot write .*: Permission denied$"):
            install(path, HOOK)
    finally:
        path.parent.chmod(0o755)
    assert path.read_text("utf-8") == dump(RICH)


def test_failed_replace_leaves_the_file_and_no_temp(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path.write_text(dump(RICH), "utf-8")

    def refuse(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(claude_settings.os, "replace", refuse)
    with pytest.raises(StreamttsError) as raised:
        install(path, HOOK)
    assert str(raised.value) == f"cannot write {path}: Permission denied"
    assert path.read_text("utf-8") == dump(RICH)
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json", "settings.json.bak"]


def test_project_that_is_not_a_directory(tmp_path: Path) -> None:
    project = tmp_path / "notes.txt"
    project.write_text("x", "utf-8")
    with pytest.raises(StreamttsError, match=r"^cannot read .*: Not a directory$"):
        install(settings_path(project=project), HOOK)


def test_settings_path_that_is_a_directory(path: Path) -> None:
    path.mkdir()
    with pytest.raises(StreamttsError, match=r"^cannot read .*: Is a directory$"):
        install(path, HOOK)


def test_status(path: Path) -> None:
    assert status(path) == dict.fromkeys(HOOK_EVENTS)
    path.write_text(
        dump({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "notify-send"}]}]}}),
        "utf-8",
    )
    assert status(path) == dict.fromkeys(HOOK_EVENTS)
    install(path, HOOK)
    assert status(path) == dict.fromkeys(HOOK_EVENTS, HOOK)
    uninstall(path)
    assert status(path) == dict.fromkeys(HOOK_EVENTS)
