"""``streamtts hooks`` and ``streamtts service`` through the command line, into a test home.

The files they write are checked, not the system: nothing here starts a service or runs
Claude Code. What the settings and service modules do with every edge case is in
``claude/test_claude_settings.py`` and ``daemon/test_service.py``.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest
from helpers import run_cli

from streamtts.claude.settings import HOOK_EVENTS
from streamtts.cli.hooks import hook_command


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    return tmp_path


def test_the_hook_command_is_this_installation_s_hook_script():
    assert shlex.split(hook_command()) == [str(Path(sys.executable).with_name("streamtts-hook"))]


def test_hooks_install_status_and_uninstall_keep_the_user_s_settings(home: Path):
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir()
    theirs = {
        "model": "opus",
        "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "x"}]}]},
    }
    settings.write_text(json.dumps(theirs))

    installed = run_cli("hooks", "install")
    assert installed.exit_code == 0, installed.output
    assert installed.output == (
        f"hooks {', '.join(HOOK_EVENTS)} installed in {settings} (backup: {settings}.bak)\n"
    )
    written = json.loads(settings.read_text())
    assert written["model"] == "opus"
    ours = {"type": "command", "command": hook_command(), "timeout": 5}
    assert written["hooks"]["Stop"] == [*theirs["hooks"]["Stop"], {"hooks": [ours]}]
    assert written["hooks"]["MessageDisplay"] == [{"hooks": [ours]}]
    assert run_cli("hooks", "install").output == f"nothing to change in {settings}\n"

    status = run_cli("hooks", "status").output.splitlines()
    assert status[0] == str(settings)
    assert status[1:] == [f"  {event:<17} {hook_command()}" for event in HOOK_EVENTS]

    removed = run_cli("hooks", "uninstall")
    assert removed.exit_code == 0
    assert json.loads(settings.read_text()) == theirs


def test_hooks_install_for_a_project(home: Path, tmp_path: Path):
    project = tmp_path / "project"
    project.mkdir()
    result = run_cli("hooks", "install", "--project", str(project))
    assert result.exit_code == 0, result.output
    assert set(json.loads((project / ".claude" / "settings.json").read_text())["hooks"]) == set(
        HOOK_EVENTS
    )
    assert not (home / ".claude").exists()


def test_hooks_install_refuses_a_settings_file_that_is_not_json(home: Path):
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text("{ // a comment\n}")
    result = run_cli("hooks", "install")
    assert result.exit_code == 1
    assert result.output.startswith(f"streamtts: {settings} is not valid JSON")
    assert settings.read_text() == "{ // a comment\n}"


@pytest.mark.skipif(sys.platform == "darwin", reason="the systemd unit is Linux's service")
def test_service_install_writes_a_systemd_user_unit_that_runs_serve(home: Path):
    unit = home / ".config" / "systemd" / "user" / "streamtts.service"
    result = run_cli("service", "install", "--tts", "openjtalk", "--policy", "latest")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"wrote {unit}; start it with:",
        "  systemctl --user daemon-reload",
        "  systemctl --user enable --now streamtts.service",
    ]
    exec_start = next(
        line for line in unit.read_text().splitlines() if line.startswith("ExecStart=")
    )
    words = [sys.executable, "-P", "-m", "streamtts", "serve", "--policy", "latest"]
    words += ["--tts", "openjtalk"]
    assert exec_start == "ExecStart=" + " ".join(f'"{word}"' for word in words)
    removed = run_cli("service", "uninstall")
    assert removed.output.splitlines()[0] == f"removed {unit}; if it was running, stop it with:"
    assert not unit.exists()
    assert run_cli("service", "uninstall").output == "no streamtts service is installed\n"
