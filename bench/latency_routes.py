"""Latency by route, with the real agent CLIs: a sentence's last word leaving the model server
→ its audio starting, and the turn's ``Stop`` beside it.

Each route is run as ``tests/system/test_real_clients.py`` runs it (``tests/real_clients.py``): the
CLI pinned in ``tests/clients/package-lock.json`` against the fake model server on loopback,
in a network namespace of its own, speaking through a warm daemon (Open JTalk, no
translation, the realtime null device). The fake model answers one prompt with ``STEPS``:
each a short sentence after some thinking, a tool call between them, ``GAP`` seconds of
thinking before each response after the first, so that every sentence finds the player
idle and its latency is the route's, not a queue's. Stamps share one clock
(``perf_counter``, CLOCK_MONOTONIC): the server notes when a sentence's last word went
out, the daemon when its first sample reached the device, and a ``Stop`` hook of ours when
Claude Code ran it (its Python start, about 20 ms here, included). "last word → Stop" is
when a tool that speaks at ``Stop`` could begin, before its own translation and synthesis.

Run as ``.venv/bin/python -m bench.latency_routes [--runs 3]`` as root after
``make clients``. Writes ``bench/results/latency_routes.md``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from bench.common import (
    machine_info,
    markdown_table,
    package_versions,
    parse_args,
    percentiles,
    results_header,
    write_results,
)
from tests.real_clients import (
    NODE_MODULES,
    PROMPT,
    interactive,
    pipe,
    run,
    stop_times,
    why_not,
    workspace,
)

GAP = 3.0  # seconds of thinking before each later response: the sentence before has played
STEPS = ["I will read the notes.", "Now I check the parser.", "The tests pass now.", "All done."]
ROUTES = {
    "claude -p, partial messages → speak": "claude-partial",
    "claude -p → speak": "claude",
    "interactive Claude Code, hooks": "hooks",
    "interactive Claude Code, watch": "watch",
    "codex exec --json → speak": "codex",
    "gemini -o stream-json → speak": "gemini",
}
CLIENTS = ["@anthropic-ai/claude-code", "@openai/codex", "@google/gemini-cli"]


def bench_turn() -> list[dict[str, Any]]:
    """``STEPS`` as one turn: one short sentence per response, a tool call after each but the
    last, ``GAP`` seconds of thinking before each later response."""
    turn = []
    for index, step in enumerate(STEPS):
        blocks: list[dict[str, Any]] = [{"thinking": "Next."}, {"text": step}]
        if index < len(STEPS) - 1:
            blocks.append({"tool": None})
        turn.append({"delay": GAP if index else 0.0, "blocks": blocks})
    return turn


def run_route(route: str, root: Path) -> dict[str, Any]:
    """One run of ``route`` in ``root``: the runner's result plus ``stops``."""
    work, env = workspace(root)
    if route in ("hooks", "watch"):
        command, turns = interactive(root, work, env, route=route, prompts={PROMPT: bench_turn()})
    else:
        command, turns = pipe(route, work, bench_turn())
    result = run(root, turns, command, env)
    return result | {"stops": stop_times(root)}


def measure(result: dict[str, Any]) -> dict[str, list[float]]:
    """In ms from a sentence's last word leaving the server: its ``ready`` at the daemon and
    its audio ``start`` (sentences spoken with the player idle), and for the turn's last
    sentence its audio start (``end``) and ``stop``, when the turn's Stop hook ran."""
    spoken = {r["text"]: r for r in result["records"] if r["skipped"] is None}
    idle = [(s["t"], spoken[s["text"]]) for s in result["sent"] if s["text"] in spoken]
    idle = [(t, record) for t, record in idle if record["player_idle"]]
    last = result["sent"][-1]
    end = spoken.get(last["text"])
    return {
        "ready": [1000 * (record["t_ready"] - t) for t, record in idle],
        "start": [1000 * (record["t_audio_start"] - t) for t, record in idle],
        "end": [1000 * (end["t_audio_start"] - last["t"])] if end else [],
        "stop": [1000 * (t - last["t"]) for t in result["stops"][-1:]],
    }


def client_versions() -> dict[str, str]:
    """The pinned CLIs' versions, from the installed lock."""
    lock = json.loads((NODE_MODULES / ".package-lock.json").read_text())
    return {name: lock["packages"][f"node_modules/{name}"]["version"] for name in CLIENTS}


def cell(values: list[float]) -> str:
    if not values:
        return "—"
    p50, p95, _ = percentiles(values)
    return f"{p50:.0f} / {p95:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each route")
    parser.add_argument(
        "--routes",
        default=",".join(ROUTES.values()),
        help="comma-separated, of: %(default)s",
    )
    # --smoke: one run of a piped route and of an interactive one.
    args = parse_args(parser, smoke={"runs": 1, "routes": "claude,hooks"})
    routes = args.routes.split(",")
    if unknown := set(routes) - set(ROUTES.values()):
        parser.error(f"unknown routes: {', '.join(sorted(unknown))}")
    if reason := why_not():
        raise SystemExit(f"latency_routes: {reason}")
    rows = []
    for label, route in ROUTES.items():
        if route not in routes:
            continue
        figures: dict[str, list[float]] = {"ready": [], "start": [], "end": [], "stop": []}
        exact = True
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="streamtts-bench-") as tmp:
                result = run_route(route, Path(tmp))
            for name, values in measure(result).items():
                figures[name] += values
            exact &= [r["text"] for r in result["records"] if r["skipped"] is None] == STEPS
        cells = [cell(figures[name]) for name in ("ready", "start", "end", "stop")]
        print(f"{label}: {cells}, every sentence once: {exact}", flush=True)
        rows.append(
            [label, *cells[:2], len(figures["start"]), *cells[2:], "yes" if exact else "no"]
        )
    header = [
        "route (p50 / p95 ms from a sentence's last word sent)",
        "→ ready at the daemon",
        "→ audio start",
        "n",
        "turn's last sentence → audio start",
        "turn's last word → Stop",
        "every sentence once, in order",
    ]
    versions = package_versions(["streamtts"]) | client_versions()
    text = results_header(
        "Latency by route: a sentence's last word sent → its audio start, and Stop",
        machine=machine_info(),
        versions=versions,
    )
    text += (
        f"{args.runs} runs per route; {len(STEPS)} sentences per run, one per model response, "
        f"{GAP:.0f} s apart (tool calls between), each spoken with the player idle. Open "
        "JTalk, no translation, realtime null device, through a warm daemon. A dash: the "
        "client has no Stop hook.\n\n"
    )
    text += markdown_table(header, rows, right=True) + "\n"
    print(text)
    write_results(args.results, "latency_routes.md", text)


if __name__ == "__main__":
    main()
