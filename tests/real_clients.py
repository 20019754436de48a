"""The real agent CLIs against the fake model servers: their set-up and the routes to streamtts.

``tests/system/test_real_clients.py`` asserts on these runs and ``bench/latency_routes.py`` times
them. Each run is one ``tests/netns_runner.py`` under ``unshare -n``: the fake models
(``tests/fake_models.py``) and a daemon that keeps its records, on loopback in a network
namespace of the run's own, with a temporary home in which every CLI is set up for the fake
models (onboarding done, the folder trusted, the key approved, no updates). Speech is Open
JTalk without translation into the realtime null device.

A route is a bash command and the script the fake model answers it with: ``pipe(client)``
pipes ``claude -p`` (with or without partial messages), ``codex exec --json`` or ``gemini
-o stream-json`` into ``streamtts speak``; ``interactive(…)`` types ``PROMPTS`` into
interactive Claude Code in tmux, with streamtts' hooks installed or ``streamtts watch``
following its transcript. Claude Code runs a ``Stop`` hook of ours on every route, which
writes when it ran to ``stops.txt``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

TESTS = Path(__file__).parent
NODE_MODULES = TESTS / "clients" / "node_modules"
KEY = "sk-ant-api03-fake-key-for-the-tests-only-0000"
FIRST = "Let me read the notes first. They say what broke."
SECOND = "The parser drops the last unit. I will fix it now."
THIRD = "All four tests pass now. The fix is done."
PROMPT = "Fix the parser."
# A prompt's responses: thinking, prose and a tool call (each CLI's own file reader, its
# arguments formatted with the project folder), then, once speech has started, thinking and
# prose.
TOOL_TURN = [
    {"blocks": [{"thinking": "The notes should say."}, {"text": FIRST}, {"tool": None}]},
    {"after_speech": True, "blocks": [{"thinking": "Now the fix."}, {"text": SECOND}]},
]
PROMPTS = {
    PROMPT: TOOL_TURN,
    "Run the tests.": [{"blocks": [{"thinking": "They should pass."}, {"text": THIRD}]}],
}
PIPES = {
    "claude-partial": (
        "claude -p {prompt} --output-format stream-json --verbose --include-partial-messages"
        " --allowedTools Read",
        ("Read", {"file_path": "{work}/notes.txt"}),
    ),
    "claude": (
        "claude -p {prompt} --output-format stream-json --verbose --allowedTools Read",
        ("Read", {"file_path": "{work}/notes.txt"}),
    ),
    "codex": (
        "codex exec --json --skip-git-repo-check {prompt}",
        ("exec_command", {"cmd": "cat notes.txt"}),
    ),
    # A model named, so that gemini-cli does not first ask a classifier which one to use.
    "gemini": (
        "gemini -m gemini-2.5-pro -p {prompt} -o stream-json",
        ("read_file", {"file_path": "notes.txt"}),
    ),
}
CLAUDE_TOOL = PIPES["claude"][1]
GEMINI_PROMPT = (
    f"{PIPES['gemini'][0].format(prompt=shlex.quote(PROMPT))} | streamtts speak --daemon"
)
# Every route speaks through the runner's daemon, whose records carry absolute stamps.
SPEECH_ENV = {
    "STREAMTTS_TRANSLATE": "none",
    "STREAMTTS_TTS": "openjtalk",
    "STREAMTTS_DEVICE": "null",
}


def sentences(*texts: str) -> list[str]:
    """The sentences of the fake replies ``texts``, as streamtts should speak them."""
    return [s for text in texts for s in re.split(r"(?<=\.) ", text)]


def why_not() -> str | None:
    """Why the real clients cannot run here, or None."""
    if os.geteuid() != 0:
        return "a network namespace of the test's own (unshare -n) needs root"
    if not (NODE_MODULES / ".installed").exists():
        return "the real CLIs are not installed: run `make clients`"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if probe.returncode:
        return f"unshare -n does not work here: {probe.stderr.strip()}"
    return None


def with_tool(turn: list[dict[str, Any]], tool: tuple[str, dict[str, str]], work: Path):
    """``turn`` with its tool call made ``tool``'s, arguments formatted with ``work``."""
    name, args = tool
    call = {"tool": name, "args": {key: value.format(work=work) for key, value in args.items()}}
    return [
        response | {"blocks": [call if "tool" in b else b for b in response["blocks"]]}
        for response in turn
    ]


def workspace(root: Path) -> tuple[Path, dict[str, str]]:
    """A project folder under ``root`` and the environment of a user whose every CLI is set up
    for the fake models, with Claude Code's settings (``claude_settings``) and no hooks."""
    home, work = root / "home", root / "work"
    work.mkdir(parents=True)
    (work / "notes.txt").write_text("The parser drops the last unit.\n")
    trusted = {str(work): {"hasTrustDialogAccepted": True}}
    claude = {"hasCompletedOnboarding": True, "projects": trusted}
    claude["customApiKeyResponses"] = {"approved": [KEY[-20:]], "rejected": []}
    (home / ".claude").mkdir(parents=True)
    (home / ".claude.json").write_text(json.dumps(claude))
    (home / ".codex").mkdir()
    (home / ".codex" / "config.toml").write_text(
        'model = "gpt-5.1-codex"\nmodel_provider = "fake"\n\n[model_providers.fake]\n'
        'name = "fake"\nbase_url = "http://127.0.0.1:8765/v1"\nwire_api = "responses"\n'
        'env_key = "FAKE_MODEL_KEY"\n'
    )
    (home / ".gemini").mkdir()
    gemini = {"security": {"auth": {"selectedType": "gemini-api-key"}}}
    (home / ".gemini" / "settings.json").write_text(json.dumps(gemini))
    path = [str(NODE_MODULES / ".bin"), str(Path(sys.executable).parent), "/usr/bin", "/bin"]
    env = {
        **SPEECH_ENV,
        "HOME": str(home),
        "PATH": os.pathsep.join(path),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "STREAMTTS_CONFIG": os.devnull,
        "STREAMTTS_SOCKET": str(root / "streamtts.sock"),
        "ALSA_CONFIG_PATH": str(TESTS / "data" / "asound.conf"),
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:8765",
        "ANTHROPIC_API_KEY": KEY,
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CODEX_HOME": str(home / ".codex"),
        "FAKE_MODEL_KEY": "fake",
        "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:8765",
        "GEMINI_API_KEY": "fake",
        "GEMINI_CLI_TRUST_WORKSPACE": "true",
    }
    claude_settings(env, root / "stops.txt", hooks=False)
    return work, env


def claude_settings(env: dict[str, str], stops: Path, *, hooks: bool) -> None:
    """Claude Code's user settings: Read allowed, a ``Stop`` hook of ours that writes the time
    it ran to ``stops`` (one clock with the runner's), and streamtts' hooks if asked."""
    settings_path = Path(env["HOME"]) / ".claude" / "settings.json"
    if hooks:
        subprocess.run(["streamtts", "hooks", "install"], env=env, check=True, capture_output=True)
    settings = json.loads(settings_path.read_text()) if settings_path.exists() else {}
    settings["permissions"] = {"allow": ["Read"]}
    clock = f"python3 -c 'import time; print(time.perf_counter())' >> {stops}"
    stop = {"hooks": [{"type": "command", "command": clock}]}
    stop_hooks = settings.setdefault("hooks", {}).setdefault("Stop", [])
    if stop not in stop_hooks:
        stop_hooks.append(stop)
    settings_path.write_text(json.dumps(settings, indent=2))


def stop_times(root: Path) -> list[float]:
    """When Claude Code ran the ``Stop`` hook of each turn of the run in ``root``."""
    stops = root / "stops.txt"
    return [float(line) for line in stops.read_text().split()] if stops.exists() else []


def pipe_line(client: str) -> str:
    """``client``'s pipe mode on ``PROMPT`` into ``streamtts speak`` (through the daemon)."""
    # Nothing on stdin: ``codex exec`` reads a prompt's continuation from a stdin not a tty.
    command = PIPES[client][0].format(prompt=shlex.quote(PROMPT))
    return f"{command} < /dev/null | streamtts speak --daemon"


def pipe(
    client: str, work: Path, turn: list[dict[str, Any]] = TOOL_TURN
) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    """``pipe_line(client)`` and the script it is answered with: ``turn`` for ``PROMPT``."""
    return pipe_line(client), {PROMPT: with_tool(turn, PIPES[client][1], work)}


def interactive(
    root: Path,
    work: Path,
    env: dict[str, str],
    *,
    route: str,
    prompts: dict[str, list[dict[str, Any]]] = PROMPTS,
) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    """Interactive Claude Code typing ``prompts`` (each answered by its turn), spoken by
    ``route`` (``hooks`` or ``watch``), and the script the fake model answers with.

    ``watch`` runs with no argument, as a user starts it in a fresh project's folder before
    Claude Code, which is started once ``watch`` says it waits for the first session.
    """
    turns = {prompt: with_tool(turn, CLAUDE_TOOL, work) for prompt, turn in prompts.items()}
    if route == "hooks":
        claude_settings(env, root / "stops.txt", hooks=True)
        return in_tmux(root, list(turns)), turns
    texts = [b["text"] for turn in turns.values() for r in turn for b in r["blocks"] if "text" in b]
    log = root / "watch.log"
    # A background job of a script ignores SIGINT: SIGTERM ends watch as Ctrl-C does, once
    # the daemon has spoken what it sent (a client that goes loses its unspoken sentences).
    command = [
        f"streamtts watch --daemon 2> {log} & watch=$!",
        wait(f"grep -q 'waiting for one' {log}"),
        in_tmux(root, list(turns)),
        until_spoken(len(sentences(*texts)), unless="! kill -0 $watch"),
        "kill -TERM $watch; wait $watch",
    ]
    return "\n".join(command), turns


def wait(condition: str) -> str:
    """Bash that waits up to a minute for ``condition``, and exits 3 if it never holds."""
    return f"for i in $(seq 600); do {condition} && break; sleep 0.1; done; {condition} || exit 3"


def in_tmux(root: Path, prompts: list[str]) -> str:
    """Bash that starts interactive Claude Code in tmux and types each of ``prompts`` once the
    turn before has stopped, then ends it a second after the last turn's ``Stop``."""
    tmux = f"tmux -S {root / 'tmux.sock'}"
    lines = [
        f"trap '{tmux} kill-server 2>/dev/null' EXIT",
        f"{tmux} new-session -d -x 150 -y 40 -s agent claude",
        wait(f"{tmux} capture-pane -p -t agent | grep -q '❯'"),
    ]
    for count, prompt in enumerate(prompts, 1):
        lines.append(f"{tmux} send-keys -t agent {shlex.quote(prompt)} Enter")
        lines.append(wait(f"[ $(cat {root / 'stops.txt'} 2>/dev/null | wc -l) -ge {count} ]"))
    lines += ["sleep 1", f"{tmux} kill-server"]
    return "\n".join(lines)


def until_spoken(count: int, *, unless: str) -> str:
    """Bash that waits until the daemon has spoken ``count`` sentences, or ``unless`` holds."""
    check = f"import json, sys; sys.exit(json.load(sys.stdin)['spoken'] < {count})"
    condition = f"streamtts status --json | python3 -c {shlex.quote(check)}"
    return f"for i in $(seq 200); do {unless} && break; {condition} && break; sleep 0.2; done"


def run(
    root: Path, turns: dict[str, list[dict[str, Any]]], command: str, env: dict[str, str]
) -> dict[str, Any]:
    """Run ``command`` in ``root / "work"`` against the fake models answering ``turns``, in a
    network namespace of its own; the runner's result (``tests/netns_runner.py``)."""
    spec = {
        "turns": turns,
        "command": command,
        "env": env,
        "cwd": str(root / "work"),
        "out": str(root / "result.json"),
    }
    (root / "spec.json").write_text(json.dumps(spec))
    runner = [sys.executable, str(TESTS / "netns_runner.py"), str(root / "spec.json")]
    subprocess.run(["unshare", "-n", *runner], check=True, timeout=300)
    return json.loads((root / "result.json").read_text())
