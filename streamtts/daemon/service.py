"""The per-user service that keeps ``streamtts serve`` running: a launchd agent or a systemd unit.

``install`` writes the file and ``uninstall`` removes it; neither runs ``launchctl`` or
``systemctl``. They return the commands that load or unload the service, for the command
line to run, so the tests (and any caller) can write into a temporary home without
starting a daemon in the real user session. The service comes back after a crash but not
after a clean exit: launchd's ``KeepAlive = {SuccessfulExit: false}`` and systemd's
``Restart=on-failure`` both leave alone a daemon that exited 0, which is how ``streamtts
shutdown`` stops it until the next login. The launchd agent is ``ProcessType Interactive``
so macOS does not throttle it like a background job, since speech that lags is useless;
the systemd unit logs to the journal (``journalctl --user -u streamtts``). The command is
written so that every argument survives: plistlib encodes the launchd one, and each systemd
word is double-quoted with C escapes and ``%`` and ``$`` doubled; an executable path that
systemd refuses whatever the quoting (a quote, backslash or control character) is refused
here with one line instead.
"""

from __future__ import annotations

import os
import platform
import plistlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from streamtts.errors import StreamttsError, from_os_error
from streamtts.paths import write_atomic

LAUNCHD_LABEL = "io.streamtts.serve"
SYSTEMD_UNIT = "streamtts.service"


@dataclass(frozen=True)
class ServiceFile:
    """A service file that ``install`` wrote or ``uninstall`` removed.

    ``enable`` loads and starts the service; ``disable`` stops and unloads it, and works
    whether or not the file is still there (launchd's target is the label; systemd keeps a
    loaded unit until ``daemon-reload``, and ``disable`` drops the dangling link).
    """

    path: Path
    manager: str  # "launchd" | "systemd"
    enable: list[list[str]]
    disable: list[list[str]]


def service_file(
    *,
    system: str | None = None,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[str, Path]:
    """The service manager and the path of its file for this user.

    ``~/Library/LaunchAgents/io.streamtts.serve.plist`` on macOS (``system`` "Darwin"),
    ``$XDG_CONFIG_HOME/systemd/user/streamtts.daemon.service`` on Linux (``~/.config`` when unset
    or not absolute, as the XDG spec says). ``system`` defaults to ``platform.system()``.
    """
    system = platform.system() if system is None else system
    home = Path.home() if home is None else home
    environ = os.environ if environ is None else environ
    if system == "Darwin":
        return "launchd", home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
    if system == "Linux":
        config = environ.get("XDG_CONFIG_HOME", "")
        base = Path(config) if os.path.isabs(config) else home / ".config"
        return "systemd", base / "systemd" / "user" / SYSTEMD_UNIT
    raise StreamttsError(
        f"streamtts service knows launchd (macOS) and systemd (Linux), not {system or 'this'}"
        " system; start `streamtts serve` from your own login scripts"
    )


def install(
    argv: Sequence[str],
    *,
    system: str | None = None,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
    log_dir: Path,
) -> ServiceFile:
    """Write the service file that runs ``argv`` at login, replacing any earlier one.

    ``argv`` is the whole command, starting with an absolute path (``sys.executable``).
    launchd writes its output to ``log_dir/streamtts.log``, made here if missing; systemd's
    goes to the journal. The same arguments always give the same bytes. Nothing is started.
    """
    if not argv or not os.path.isabs(argv[0]):
        first = argv[0] if argv else ""
        raise StreamttsError(f"the service command must start with an absolute path, not {first!r}")
    manager, path = service_file(system=system, home=home, environ=environ)
    if manager == "launchd":
        log_dir = log_dir.absolute()  # launchd has no working directory to resolve it against
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise from_os_error("create", log_dir, error) from None
        data = launchd_plist(argv, log_dir=log_dir)
    else:
        data = systemd_unit(argv).encode()
    _write(path, data)
    return _described(manager, path)


def uninstall(
    *,
    system: str | None = None,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> ServiceFile | None:
    """Remove the service file; ``None`` when there was none. Nothing is stopped."""
    manager, path = service_file(system=system, home=home, environ=environ)
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise from_os_error("remove", path, error) from None
    return _described(manager, path)


def launchd_plist(argv: Sequence[str], *, log_dir: Path) -> bytes:
    """The launchd agent's XML plist that runs ``argv`` at login and after a crash."""
    log = str(log_dir / "streamtts.log")
    agent = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": list(argv),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "StandardOutPath": log,
        "StandardErrorPath": log,
        "ProcessType": "Interactive",
    }
    return plistlib.dumps(agent, fmt=plistlib.FMT_XML, sort_keys=True)


def systemd_unit(argv: Sequence[str]) -> str:
    """The systemd user unit that runs ``argv`` at login and after a crash."""
    if any(char in "\\\"'" or char < " " or char == "\x7f" for char in argv[0]):
        # No quoting helps: systemd refuses such an executable path ("contains special
        # characters"), though it takes them in the arguments.
        raise StreamttsError(
            f"systemd cannot run {argv[0]!r}: its path has a quote, backslash or control"
            " character; install streamtts under a path without one"
        )
    words = [systemd_word(argv[0], executable=True), *(systemd_word(a) for a in argv[1:])]
    return (
        "[Unit]\n"
        "Description=streamtts speech daemon (streamtts serve)\n"
        "\n"
        "[Service]\n"
        f"ExecStart={' '.join(words)}\n"
        "Restart=on-failure\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def systemd_word(arg: str, *, executable: bool = False) -> str:
    """``arg`` as one ``ExecStart=`` word that systemd hands to the program unchanged.

    Double quotes with C escapes (control characters as ``\\xNN``), ``%`` doubled against
    specifiers and ``$`` doubled against variable substitution, except in the executable's
    path, which systemd execs without substituting variables (``$$`` there stays ``$$``).
    """
    out = []
    for char in arg:
        if char in '\\"':
            out.append("\\" + char)
        elif char == "%":
            out.append("%%")
        elif char == "$" and not executable:
            out.append("$$")
        elif char < " " or char == "\x7f":
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data, mode=0o644)  # service files are conventionally 0644
    except OSError as error:
        raise from_os_error("write", path, error) from None


def _described(manager: str, path: Path) -> ServiceFile:
    if manager == "launchd":
        domain = f"gui/{os.getuid()}"
        enable = [["launchctl", "bootstrap", domain, str(path)]]
        disable = [["launchctl", "bootout", f"{domain}/{LAUNCHD_LABEL}"]]
    else:
        user = ["systemctl", "--user"]
        enable = [[*user, "daemon-reload"], [*user, "enable", "--now", SYSTEMD_UNIT]]
        disable = [[*user, "disable", "--now", SYSTEMD_UNIT], [*user, "daemon-reload"]]
    return ServiceFile(path=path, manager=manager, enable=enable, disable=disable)
