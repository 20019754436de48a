"""``streamtts.daemon.service``: the launchd agent and systemd unit files, written into a
temporary home.

Nothing here runs launchctl or systemctl. ``systemd-analyze verify`` and ``plutil -lint``
check the written files where those tools exist; the read-only cases use chmod, or a
read-only bind mount as root, whom chmod does not stop.
"""

from __future__ import annotations

import contextlib
import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamtts.daemon.service import ServiceFile, install, service_file, uninstall
from streamtts.errors import StreamttsError

PYTHON = "/opt/my tools/bin/python3"
SERVE = [PYTHON, "-m", "streamtts", "serve", "--tts", "kokoro"]
NO_XDG: dict[str, str] = {}
UID = os.getuid()


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[str]:
    """Make ``directory`` read-only for the block; yields the reason a write will fail with."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield "Permission denied"
        finally:
            directory.chmod(0o755)
        return
    bind = ["mount", "--bind", "-o", "ro", str(directory), str(directory)]
    if subprocess.run(bind, capture_output=True).returncode != 0:
        pytest.skip("this machine cannot make a read-only bind mount")
    try:
        yield "Read-only file system"
    finally:
        subprocess.run(["umount", str(directory)], check=True)


def exec_start(unit: Path) -> str:
    (line,) = [x for x in unit.read_text().splitlines() if x.startswith("ExecStart=")]
    return line


# -- where ------------------------------------------------------------------------------


def test_service_file_is_a_launch_agent_on_macos(tmp_path: Path):
    assert service_file(system="Darwin", home=tmp_path, environ=NO_XDG) == (
        "launchd",
        tmp_path / "Library" / "LaunchAgents" / "io.streamtts.serve.plist",
    )


def test_service_file_is_a_user_unit_under_dot_config_on_linux(tmp_path: Path):
    assert service_file(system="Linux", home=tmp_path, environ=NO_XDG) == (
        "systemd",
        tmp_path / ".config" / "systemd" / "user" / "streamtts.service",
    )


def test_xdg_config_home_is_honoured(tmp_path: Path):
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    written = install(
        SERVE, system="Linux", home=tmp_path / "home", environ=environ, log_dir=tmp_path
    )
    assert written.path == tmp_path / "xdg" / "systemd" / "user" / "streamtts.service"
    assert written.path.is_file()
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize("value", ["", "relative/config"])
def test_an_empty_or_relative_xdg_config_home_is_ignored(tmp_path: Path, value: str):
    _, path = service_file(system="Linux", home=tmp_path, environ={"XDG_CONFIG_HOME": value})
    assert path == tmp_path / ".config" / "systemd" / "user" / "streamtts.service"


@pytest.mark.parametrize("system", ["Windows", "FreeBSD"])
def test_an_unknown_system_is_one_line(tmp_path: Path, system: str):
    with pytest.raises(StreamttsError) as caught:
        install(SERVE, system=system, home=tmp_path, environ=NO_XDG, log_dir=tmp_path)
    assert str(caught.value) == (
        f"streamtts service knows launchd (macOS) and systemd (Linux), not {system} system;"
        " start `streamtts serve` from your own login scripts"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [[], ["python3", "-m", "streamtts", "serve"]])
def test_a_command_without_an_absolute_path_is_refused(tmp_path: Path, argv: list[str]):
    first = argv[0] if argv else ""
    with pytest.raises(
        StreamttsError,
        match=f"^the service command must start with an absolute path, not '{first}'$",
    ):
        install(argv, system="Linux", home=tmp_path, environ=NO_XDG, log_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


# -- launchd ----------------------------------------------------------------------------


def test_launch_agent_has_every_key(tmp_path: Path):
    logs = tmp_path / "logs" / "streamtts"
    written = install(SERVE, system="Darwin", home=tmp_path, environ=NO_XDG, log_dir=logs)
    path = tmp_path / "Library" / "LaunchAgents" / "io.streamtts.serve.plist"
    assert written == ServiceFile(
        path=path,
        manager="launchd",
        enable=[["launchctl", "bootstrap", f"gui/{UID}", str(path)]],
        disable=[["launchctl", "bootout", f"gui/{UID}/io.streamtts.serve"]],
    )
    assert plistlib.loads(path.read_bytes()) == {
        "Label": "io.streamtts.serve",
        "ProgramArguments": SERVE,
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "StandardOutPath": str(logs / "streamtts.log"),
        "StandardErrorPath": str(logs / "streamtts.log"),
        "ProcessType": "Interactive",
    }
    assert path.read_bytes().startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert logs.is_dir()
    assert path.stat().st_mode & 0o777 == 0o644


def test_launch_agent_keeps_awkward_arguments_exactly(tmp_path: Path):
    argv = [PYTHON, "serve", 'say "hi" & <bye>', "100%", "$HOME", "back\\slash", "日本語"]
    written = install(argv, system="Darwin", home=tmp_path, environ=NO_XDG, log_dir=tmp_path)
    assert plistlib.loads(written.path.read_bytes())["ProgramArguments"] == argv


def test_a_relative_log_dir_is_made_absolute_for_launchd(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    written = install(SERVE, system="Darwin", home=tmp_path, environ=NO_XDG, log_dir=Path("logs"))
    agent = plistlib.loads(written.path.read_bytes())
    assert agent["StandardOutPath"] == str(tmp_path / "logs" / "streamtts.log")
    assert (tmp_path / "logs").is_dir()


@pytest.mark.skipif(
    sys.platform != "darwin" or shutil.which("plutil") is None, reason="plutil is macOS only"
)
def test_plutil_accepts_the_launch_agent(tmp_path: Path):
    written = install(SERVE, system="Darwin", home=tmp_path, environ=NO_XDG, log_dir=tmp_path)
    lint = subprocess.run(["plutil", "-lint", str(written.path)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


# -- systemd ----------------------------------------------------------------------------


def test_user_unit_is_exactly_this(tmp_path: Path):
    written = install(SERVE, system="Linux", home=tmp_path, environ=NO_XDG, log_dir=tmp_path)
    path = tmp_path / ".config" / "systemd" / "user" / "streamtts.service"
    assert written == ServiceFile(
        path=path,
        manager="systemd",
        enable=[
            ["systemctl", "--user", "daemon-reload"],
            ["systemctl", "--user", "enable", "--now", "streamtts.service"],
        ],
        disable=[
            ["systemctl", "--user", "disable", "--now", "streamtts.service"],
            ["systemctl", "--user", "daemon-reload"],
        ],
    )
    assert path.read_text() == (
        "[Unit]\n"
        "Description=streamtts speech daemon (streamtts serve)\n"
        "\n"
        "[Service]\n"
        'ExecStart="/opt/my tools/bin/python3" "-m" "streamtts" "serve" "--tts" "kokoro"\n'
        "Restart=on-failure\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )
    assert path.stat().st_mode & 0o777 == 0o644


def test_exec_start_quotes_spaces_quotes_percent_and_dollar(tmp_path: Path):
    argv = [
        PYTHON,
        "serve",
        "two words",
        'say "hi"',
        "100%d",
        "$HOME",
        "${X}",
        "a\\b",
        "l1\nl2",
        ";",
    ]
    written = install(argv, system="Linux", home=tmp_path, environ=NO_XDG, log_dir=tmp_path)
    assert exec_start(written.path) == (
        r'ExecStart="/opt/my tools/bin/python3" "serve" "two words" "say \"hi\"" "100%%d"'
        r' "$$HOME" "$${X}" "a\\b" "l1\x0al2" ";"'
    )


def test_the_executable_path_doubles_percent_but_not_dollar(tmp_path: Path):
    # systemd expands specifiers in the whole line but execs the path without
    # substituting variables: "$$" there would name a file that does not exist.
    argv = ["/opt/$HOME/100%/python3", "serve"]
    written = install(argv, system="Linux", home=tmp_path, environ=NO_XDG, log_dir=tmp_path)
    assert exec_start(written.path) == 'ExecStart="/opt/$HOME/100%%/python3" "serve"'


@pytest.mark.parametrize("char", ["'", '"', "\\", "\n"])
def test_an_executable_path_systemd_would_refuse_is_refused(tmp_path: Path, char: str):
    argv = [f"/opt/a{char}b/python3", "serve"]
    with pytest.raises(StreamttsError) as caught:
        install(argv, system="Linux", home=tmp_path, environ=NO_XDG, log_dir=tmp_path)
    assert str(caught.value) == (
        f"systemd cannot run {argv[0]!r}: its path has a quote, backslash or control"
        " character; install streamtts under a path without one"
    )
    assert list(tmp_path.iterdir()) == []


def test_systemd_analyze_accepts_the_unit_and_finds_the_executable(tmp_path: Path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # "%b" is a specifier (the boot ID), so an undoubled "%" names a missing file;
    # systemd refuses quotes in an executable path (the test above).
    executable = tmp_path / "bin $HOME 50%b" / "python3"
    executable.parent.mkdir()
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    argv = [str(executable), "serve", 'say "hi"', "100%", "$HOME", ";", "a\\b", "l1\nl2"]
    written = install(argv, system="Linux", home=tmp_path, environ=NO_XDG, log_dir=tmp_path)
    # System mode: --user needs a running user manager, which a test machine may lack.
    verify = ["systemd-analyze", "verify", str(written.path)]
    result = subprocess.run(verify, capture_output=True, text=True)
    if "Failed to initialize manager" in result.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {result.stderr.strip()}")
    assert (result.returncode, result.stderr) == (0, "")


# -- rewriting and removing ---------------------------------------------------------------


@pytest.mark.parametrize("system", ["Darwin", "Linux"])
def test_reinstall_replaces_the_file_and_gives_the_same_bytes(tmp_path: Path, system: str):
    options = {"system": system, "home": tmp_path, "environ": NO_XDG, "log_dir": tmp_path / "l"}
    first = install([PYTHON, "serve", "--tts", "openjtalk"], **options)
    old = first.path.read_bytes()
    again = install(SERVE, **options)
    new = again.path.read_bytes()
    assert again == first
    assert install(SERVE, **options) == first
    assert first.path.read_bytes() == new != old
    assert b"kokoro" in new
    assert [p.name for p in first.path.parent.iterdir()] == [first.path.name]  # no temp file


@pytest.mark.parametrize("system", ["Darwin", "Linux"])
def test_uninstall_removes_the_file_then_finds_none(tmp_path: Path, system: str):
    written = install(SERVE, system=system, home=tmp_path, environ=NO_XDG, log_dir=tmp_path)
    assert uninstall(system=system, home=tmp_path, environ=NO_XDG) == written
    assert not written.path.exists()
    assert list(written.path.parent.iterdir()) == []
    assert uninstall(system=system, home=tmp_path, environ=NO_XDG) is None


def test_uninstall_of_nothing_makes_no_directories(tmp_path: Path):
    assert uninstall(system="Linux", home=tmp_path, environ=NO_XDG) is None
    assert list(tmp_path.iterdir()) == []


# -- failures ---------------------------------------------------------------------------


def test_install_into_a_read_only_home_is_one_line(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    path = home / ".config" / "systemd" / "user" / "streamtts.service"
    with read_only(home) as reason, pytest.raises(StreamttsError) as caught:
        install(SERVE, system="Linux", home=home, environ=NO_XDG, log_dir=tmp_path)
    assert str(caught.value) == f"cannot write {path}: {reason}"
    assert list(home.iterdir()) == []


def test_install_over_a_read_only_file_keeps_the_old_one(tmp_path: Path):
    old = install(SERVE, system="Linux", home=tmp_path, environ=NO_XDG, log_dir=tmp_path)
    before = old.path.read_bytes()
    with read_only(old.path.parent) as reason, pytest.raises(StreamttsError) as caught:
        install([PYTHON, "other"], system="Linux", home=tmp_path, environ=NO_XDG, log_dir=tmp_path)
    assert str(caught.value) == f"cannot write {old.path}: {reason}"
    assert old.path.read_bytes() == before


def test_uninstall_from_a_read_only_directory_is_one_line(tmp_path: Path):
    written = install(SERVE, system="Darwin", home=tmp_path, environ=NO_XDG, log_dir=tmp_path)
    with read_only(written.path.parent) as reason, pytest.raises(StreamttsError) as caught:
        uninstall(system="Darwin", home=tmp_path, environ=NO_XDG)
    assert str(caught.value) == f"cannot remove {written.path}: {reason}"
    assert written.path.is_file()


def test_a_file_where_a_directory_belongs_is_one_line(tmp_path: Path):
    (tmp_path / ".config").write_text("not a directory")
    path = tmp_path / ".config" / "systemd" / "user" / "streamtts.service"
    with pytest.raises(StreamttsError) as caught:
        install(SERVE, system="Linux", home=tmp_path, environ=NO_XDG, log_dir=tmp_path)
    assert str(caught.value) == f"cannot write {path}: Not a directory"


def test_an_unmakeable_log_dir_is_one_line(tmp_path: Path):
    (tmp_path / "logs").write_text("not a directory")
    with pytest.raises(StreamttsError) as caught:
        install(SERVE, system="Darwin", home=tmp_path, environ=NO_XDG, log_dir=tmp_path / "logs")
    assert str(caught.value) == f"cannot create {tmp_path / 'logs'}: File exists"
    assert not (tmp_path / "Library").exists()
