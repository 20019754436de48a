"""The daemon, ``streamtts-hook`` and their files on a hostile machine (issue 17).

Another user who can write to the socket's directory, files planted beside the socket, a
daemon that cannot start or has stopped reading, clients that stop reading, many clients
at once, the process out of descriptors, inputs nested or large beyond reason. Each case
checks causes and counts (what was written where, how many daemons were started, which
line was said), never how long something took. Speech is Open JTalk into the realtime
null device, as in ``test_daemon``. Cases that need a second user run as root only.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shlex
import signal
import socket
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from daemons import ENV, answering, begin, run_hook, send, serve
from helpers import SESSION, hook_input, run_process, wait_for

from streamtts import hook
from streamtts.daemon.client import connect, request
from streamtts.daemon.ledger import Ledger, ledger_path
from streamtts.daemon.protocol import MAX_INPUT, encode, serve_command, start_stamp

# Real voices, models or processes, seconds each: left out of `make test-fast`.
pytestmark = pytest.mark.slow

as_root = pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user needs root")
OTHER_UID = 12345


def shut(path: Path) -> None:
    if answering(path):
        request("shutdown", path=path)
        wait_for(lambda: not path.exists())


@pytest.fixture
def private(tmp_path: Path) -> Path:
    directory = tmp_path / "run"
    directory.mkdir(mode=0o700)
    return directory


# -- 1. the log beside the socket ------------------------------------------------------------


def test_the_daemon_a_hook_starts_never_writes_through_a_planted_log_link(private: Path):
    path, victim = private / "streamtts.sock", private / "victim"
    victim.write_bytes(b"")
    (private / "streamtts.log").symlink_to(victim)
    try:
        assert run_hook(path, hook_input("SessionStart", source="startup")).returncode == 0
        wait_for(lambda: answering(path))
    finally:
        shut(path)
    assert victim.read_bytes() == b""
    assert (private / "streamtts.log").is_symlink()


@as_root
def test_another_users_log_is_never_written(private: Path):
    path, log = private / "streamtts.sock", private / "streamtts.log"
    log.write_bytes(b"")
    os.chown(log, OTHER_UID, OTHER_UID)
    log.chmod(0o666)
    result = run_hook(path, hook_input("SessionStart", source="startup"))
    assert result.stderr.decode() == (
        f"streamtts-hook: {log} belongs to another user (uid {OTHER_UID}); "
        "set STREAMTTS_SOCKET to a path of your own\n"
    )
    assert log.read_bytes() == b""
    assert not start_stamp(path).exists()  # no daemon was started


# -- 2. the socket's directory and the lock ----------------------------------------------------


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722])
def test_a_directory_others_may_write_to_is_refused_and_nothing_started(tmp_path: Path, mode):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    path = shared / "streamtts.sock"
    result = run_hook(path, hook_input("SessionStart", source="startup"))
    assert (result.returncode, result.stdout) == (0, b"")
    assert result.stderr.decode() == (
        f"streamtts-hook: {shared} is not a private directory (other users may replace files "
        "there); set STREAMTTS_SOCKET to a path in a directory of your own\n"
    )
    assert sorted(shared.iterdir()) == []
    served = subprocess.run(
        [*serve_command(), "--tts", "openjtalk", "--device", "null"],
        env={**os.environ, **ENV, "STREAMTTS_SOCKET": str(path)},
        capture_output=True,
        text=True,
    )
    assert served.returncode == 1
    assert served.stderr.splitlines()[-1].startswith(f"streamtts: {shared} is not a private")


def test_a_sticky_shared_directory_like_tmp_is_accepted(tmp_path: Path):
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    path = shared / "streamtts.sock"
    try:
        assert run_hook(path, hook_input("SessionStart", source="startup")).stderr == b""
        wait_for(lambda: answering(path))
    finally:
        shut(path)


@as_root
def test_another_users_lock_file_starts_no_daemon(private: Path):
    path, lock = private / "streamtts.sock", private / "streamtts.sock.lock"
    lock.write_bytes(b"")
    os.chown(lock, OTHER_UID, OTHER_UID)
    result = run_hook(path, hook_input("SessionStart", source="startup"))
    assert result.stderr.decode() == (
        f"streamtts-hook: {lock} belongs to another user (uid {OTHER_UID}); "
        "set STREAMTTS_SOCKET to a path of your own\n"
    )
    assert sorted(p.name for p in private.iterdir()) == ["streamtts.sock.lock"]


# -- 6. the hook's budget --------------------------------------------------------------------


@pytest.mark.parametrize("planted", ["file", "directory"])
def test_a_socket_path_that_is_no_socket_starts_nothing(private: Path, planted: str):
    path = private / "streamtts.sock"
    path.mkdir() if planted == "directory" else path.write_text("precious")
    result = run_hook(path, hook_input("SessionStart", source="startup"))
    assert result.stderr.decode() == (
        f"streamtts-hook: {path} exists and is not a socket; remove it\n"
    )
    assert sorted(p.name for p in private.iterdir()) == ["streamtts.sock"]


def test_a_daemon_that_cannot_start_is_started_once_not_on_every_call(private: Path):
    path, log = private / "streamtts.sock", private / "streamtts.log"
    no_device = {"STREAMTTS_DEVICE": ""}  # this machine has no sound card: serve fails
    prompt = hook_input("UserPromptSubmit", prompt="hi")
    assert run_hook(path, prompt, env=no_device).returncode == 0
    wait_for(lambda: log.exists() and "no audio output device" in log.read_text())
    pid = wait_for(lambda: start_stamp(path).read_text())
    wait_for(lambda: not Path(f"/proc/{pid}").exists())  # the one it started has ended
    for _ in range(2):
        later = run_hook(path, prompt, env=no_device)
        assert (later.returncode, later.stdout) == (0, b"")
        assert later.stderr.decode().startswith("streamtts-hook: the `streamtts serve` started")
        assert later.stderr.decode().endswith(f"s ago never listened at {path}; see {log}\n")
    assert log.read_text().count("streamtts: no audio output device") == 1


def test_a_stopped_daemon_costs_the_hook_its_budget_only(private: Path):
    path = private / "streamtts.sock"
    process = serve(path)
    try:
        wait_for(lambda: answering(path))
        process.send_signal(signal.SIGSTOP)
        large = hook_input("Stop", last_assistant_message="あ" * (MAX_INPUT // 4))
        result = run_hook(path, large)
        assert (result.returncode, result.stdout) == (0, b"")
        said = result.stderr.decode()
        assert said.startswith(f"streamtts-hook: the daemon at {path} took no message for ")
        assert said.endswith(" s\n") and 0 < float(said.split()[-2]) <= hook.BUDGET
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()


# -- 7. the hook exits 0 with one line, whatever it is given ---------------------------------


def test_the_hook_says_one_line_for_input_nested_too_deeply(private: Path):
    result = run_hook(private / "streamtts.sock", b"[" * 100_000 + b"]" * 100_000)
    assert (result.returncode, result.stdout) == (0, b"")
    assert result.stderr == b"streamtts-hook: the hook input is nested too deeply to read\n"


def test_the_hook_starts_the_daemon_when_its_log_path_is_a_directory(private: Path):
    path = private / "streamtts.sock"
    (private / "streamtts.log").mkdir()
    try:
        result = run_hook(path, hook_input("SessionStart", source="startup"))
        assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
        wait_for(lambda: answering(path))
    finally:
        shut(path)


def test_any_failure_inside_the_hook_is_one_line_and_exit_0(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("something unforeseen")

    monkeypatch.setattr(hook, "hand_over", broken)
    assert hook.main() == 0
    assert capsys.readouterr() == ("", "streamtts-hook: RuntimeError: something unforeseen\n")


# -- 13. large inputs --------------------------------------------------------------------------


def test_a_large_japanese_hook_input_reaches_the_daemon(private: Path):
    path = private / "streamtts.sock"
    process = serve(path)
    try:
        wait_for(lambda: answering(path))
        text = "これは長い文です。" * (960_000 // 27)  # 960 KB of UTF-8, twice that escaped
        data = hook_input("Stop", last_assistant_message=text)
        assert len(encode(data)) > 1 << 20
        result = run_hook(path, data)
        assert (result.returncode, result.stderr) == (0, b"")
        wait_for(lambda: request("status", path=path)["queued"] > 1000)
    finally:
        process.kill()


def test_a_hook_input_over_the_limit_is_said_as_such(private: Path):
    result = run_hook(private / "streamtts.sock", b" " * (MAX_INPUT + 1))
    assert result.stderr.decode() == (
        f"streamtts-hook: the hook input is over {MAX_INPUT} bytes; it is not spoken\n"
    )


# -- 4, 5, 11, 12, 14. the daemon under load ------------------------------------------------


def test_many_simultaneous_connects_are_all_served(private: Path):
    path = private / "streamtts.sock"
    process = serve(path)
    replies: list[dict] = []
    try:
        wait_for(lambda: answering(path))
        process.send_signal(signal.SIGSTOP)  # nothing is accepted: every connect waits

        def call() -> None:
            with connect(path, timeout=60) as connection:
                replies.append(connection.request({"op": "ping"}))

        callers = [threading.Thread(target=call) for _ in range(100)]
        for caller in callers:
            caller.start()
        wait_for(lambda: _pending(path) == 100)
        process.send_signal(signal.SIGCONT)
        for caller in callers:
            caller.join(60)
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
    assert len(replies) == 100 and all(r["ok"] for r in replies)


def _pending(path: Path) -> int:
    """Connections waiting in the backlog of the listening socket at ``path``."""
    lines = Path("/proc/net/unix").read_text().splitlines()[1:]
    # Each one not accepted yet is listed with the path, in state 02 (connecting).
    return sum(line.split()[5:] == ["02", "0", str(path)] for line in lines)


def test_running_out_of_descriptors_does_not_deafen_the_daemon(private: Path):
    path = private / "streamtts.sock"
    environ = {**os.environ, **ENV, "STREAMTTS_SOCKET": str(path)}

    def few_descriptors() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    log = private / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            serve_command(), env=environ, stderr=output, preexec_fn=few_descriptors
        )
    held = []
    try:
        wait_for(lambda: answering(path) and request("status", path=path)["ready"])
        for _ in range(300):  # more than the daemon can accept
            held.append(socket.socket(socket.AF_UNIX))
            held[-1].connect(str(path))
        wait_for(lambda: "cannot accept a client: Too many open files" in log.read_text())
        for sock in held:
            sock.close()
        wait_for(lambda: answering(path))
    finally:
        process.kill()


def test_the_default_socket_directory_is_made_private(tmp_path: Path, monkeypatch):
    cache = tmp_path / "cache"
    (cache / "streamtts").mkdir(parents=True, mode=0o755)
    (cache / "streamtts").chmod(0o755)
    environ = {**os.environ, **ENV, "XDG_CACHE_HOME": str(cache)}
    environ.pop("STREAMTTS_SOCKET", None)
    environ.pop("XDG_RUNTIME_DIR", None)
    path = cache / "streamtts" / "streamtts.sock"
    process = subprocess.Popen(serve_command(), env=environ, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: answering(path))
        assert stat.S_IMODE((cache / "streamtts").stat().st_mode) == 0o700
    finally:
        process.kill()


def shadowing(directory: Path) -> Path:
    """A project directory holding a folder named ``streamtts`` that must never be imported."""
    (directory / "streamtts").mkdir(parents=True)
    (directory / "streamtts" / "__init__.py").write_text("raise SystemExit('the wrong one')\n")
    return directory


def test_the_hook_starts_the_installed_daemon_from_a_directory_that_would_shadow_it(
    private: Path,
):
    path = private / "streamtts.sock"
    data = json.dumps(hook_input("SessionStart", source="startup")).encode()
    project = shadowing(private / "project")
    try:
        result = run_hook(path, data, cwd=project)
        assert result.stderr == b""
        wait_for(lambda: answering(path))
    finally:
        shut(path)


def test_the_service_runs_the_installed_daemon_from_a_directory_that_would_shadow_it(
    private: Path,
):
    home, path = private / "home", private / "streamtts.sock"
    environ = {**os.environ, **ENV, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config")}
    installed = run_process("service", "install", "--tts", "openjtalk", env=environ)
    assert installed.returncode == 0, installed.stderr
    unit = (home / "config" / "systemd" / "user" / "streamtts.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    # systemd starts a user unit in the home directory, where a clone of streamtts may lie.
    project = shadowing(home)
    environ["STREAMTTS_SOCKET"] = str(path)
    process = subprocess.Popen(argv, env=environ, cwd=project, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: answering(path) or process.poll() is not None)
        assert answering(path), process.stderr.read()
    finally:
        shut(path)
        process.kill()


# -- the daemon's log and its ledger -----------------------------------------------------------


def test_the_daemon_logs_its_life_and_a_ledger_of_what_each_sentence_became(
    private: Path, monkeypatch: pytest.MonkeyPatch
):
    path = private / "streamtts.sock"
    monkeypatch.setenv("STREAMTTS_SOCKET", str(path))
    process = serve(path)
    try:
        wait_for(lambda: answering(path) and request("status")["ready"])
        said = hook_input("Stop", last_assistant_message="一つ目です。二つ目です。")
        assert request("hook", input=said)["queued"] == 2
        wait_for(lambda: request("status")["spoken"] == 2)
        with begin("speak-7") as connection:
            send(connection, ["止められます。"])
            wait_for(lambda: request("status")["playing"])
            assert request("stop")["cancelled"] == 1
        request("shutdown")
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
    ledger = [json.loads(line) for line in ledger_path(path).read_text().splitlines()]
    assert [(e["client"], e["session"], e["text"], e["spoken"], e["skipped"]) for e in ledger] == [
        ("hook", SESSION, "一つ目です。", True, None),
        ("hook", SESSION, "二つ目です。", True, None),
        ("client", "speak-7", "止められます。", False, "stopped"),
    ]
    assert all(isinstance(e["turn"], str) and e["time"] for e in ledger)
    assert stat.S_IMODE(ledger_path(path).stat().st_mode) == 0o600
    log = process.stderr.read().splitlines()
    assert log[0] == f"streamtts: INFO streamtts.daemon.server: serving at {path}"
    ready = (
        "streamtts: INFO streamtts.daemon.server: ready (translate none, tts openjtalk, speed 1.0, "
    )
    prefix, parts = log[1].split("device null): ")
    assert prefix == ready
    # Translator and voice load on threads of their own: their parts come in either order.
    assert {re.fullmatch(r"(.+) \d+\.\d\d s", part)[1] for part in parts.split(", ")} == {
        "translator load",
        "translator warm-up",
        "tts load",
        "tts warm-up",
    }
    assert log[-1] == "streamtts: INFO streamtts.daemon.server: stopped: spoken 2, skipped 1"


def test_the_ledger_is_rotated_and_bounded(tmp_path: Path):
    path = tmp_path / "streamtts.ledger.jsonl"
    ledger = Ledger(path, max_bytes=300)
    for n in range(20):
        ledger.write(text=f"sentence {n}", spoken=True)
    ledger.close()
    older = path.with_name(path.name + ".1")
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, older.name]
    assert all(0 < p.stat().st_size <= 300 for p in (path, older))
    last = [
        json.loads(line)["text"] for line in (older.read_text() + path.read_text()).splitlines()
    ]
    assert last[-1] == "sentence 19"
    assert last == [f"sentence {n}" for n in range(20 - len(last), 20)]


def test_the_ledger_is_never_written_through_a_link(tmp_path: Path):
    victim = tmp_path / "victim"
    victim.write_bytes(b"")
    (tmp_path / "streamtts.ledger.jsonl").symlink_to(victim)
    ledger = Ledger(tmp_path / "streamtts.ledger.jsonl")
    ledger.write(text="secret", spoken=True)
    ledger.close()
    assert victim.read_bytes() == b""
