"""Every benchmark runs: ``python -m bench.NAME --smoke`` from the repository root.

Each benchmark that ``bench/README.md`` indexes runs with its least work (``--smoke``) as a
subprocess, its report going to a temporary directory; it must exit 0, print its table
(the header and rows of the shape below) and write its results file there, and leave
``bench/results/`` as it was. The figures of a smoke run mean nothing and are not checked.
The models are built once under ``$STREAMTTS_BENCH_CACHE`` (``bench/nllb_models.py``), as
for any benchmark run.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO, bench_index
from real_clients import why_not

pytestmark = pytest.mark.slow

NUMBER = r"-?[\d.]+"
TRANSLATE_ROWS = [
    r"^\| engine \| threads \| n \| encoder ms \| step ms \(p95\) \| sentence ms \|",
    *(
        rf"^\| {engine} \| 1 \| 1 \| {NUMBER} \| {NUMBER} \({NUMBER}\) \| {NUMBER} \|"
        for engine in ("torch", "ct2-int8", "mlx-fp32", "mlx-fp32-pruned")
    ),
]
# Per benchmark: the lines (regular expressions, each matching a whole line) its table must
# have, and the results file it writes (None: it prints only).
EXPECTED: dict[str, tuple[list[str], str | None]] = {
    "translate.py": (TRANSLATE_ROWS, "translate-quick.md"),
    "translate_profile.py": (
        [
            r"^\| op \(barriered\) \| calls \| ms \| share \|$",
            rf"^\| output head 1024x16204 \| 1 \| {NUMBER} \| \d+% \|$",
            rf"^\| \*\*sum\*\* \| \d+ \| {NUMBER} \| \|$",
        ],
        "translate-profile.md",
    ),
    "membw.py": (
        [rf"^read bandwidth, {label}: {NUMBER} GB/s$" for label in ("1 thread", "best")],
        None,
    ),
    "vocab_pruning.py": (
        [
            r"^synthetic 16k vocabulary: kept \d+ of 16204 \(\d+\.\d%\)$",
            r"^held-out lines: 30; usual segmentation all kept \d+/30 \(\d+%\), "
            r"writable exactly with kept pieces \d+/30 \(\d+%\)$",
        ],
        None,
    ),
    "pipeline.py": (
        [
            r"^\| stage \| small \(quick shape\) pruned p50 \| small \(quick shape\) pruned p95",
            r"^## TTFA by stage, idle player \(1 sentences after 1 warm-up\), ms$",
            rf"^\| TTFA \(ready → first sample\) \| {NUMBER} \| {NUMBER} \|$",
            r"^## Steady state: the 2-sentence transcript written at once$",
            r"^\| spoken \| 2 \|$",
        ],
        "pipeline.md",
    ),
    "tts.py": (
        [
            r"^\| engine \| load s \| warm-up s \| mode \| TTFC median ms \| TTFC p95 ms \|",
            *(
                rf"^\| {engine} \| {NUMBER} \| {NUMBER} \| {mode} \| \d+ \| \d+ \| {NUMBER} \|"
                for engine, mode in (
                    ("kokoro", "clause"),
                    ("kokoro", "whole"),
                    ("openjtalk", "sentence"),
                )
            ),
            r"^- kokoro: clause TTFC / whole TTFC over 30 chars: median ",
        ],
        "tts.md",
    ),
    "xtts.py": (
        [
            r"^\| measure \| median \| p95 \|$",
            rf"^\| time to first chunk \(s\) \| {NUMBER} \| {NUMBER} \|$",
            rf"^\| \d+ \| \d+ \| {NUMBER} \| \d+ \| {NUMBER} \| {NUMBER} \|$",
        ],
        "xtts.md",
    ),
    "readings.py": (
        [
            r"^\| corpus \| sentences \| Japanese \| names \| read as words \| share \|$",
            rf"^\| corpus \| 2 \| 1 \| \d+ \| \d+ \| {NUMBER}% \|$",
            rf"^\| held-out \| 2 \| 1 \| \d+ \| \d+ \| {NUMBER}% \|$",
            rf"^\| held-out \| Kokoro \| {NUMBER} \| {NUMBER} \| {NUMBER} \|",
        ],
        "readings.md",
    ),
    "frontend.py": (
        [
            r"^\| input \| MB/s wall, median \(p95\) \| MB/s CPU, median \(p95\) \|",
            rf"^\| {NUMBER} MB, \d+ lines \| {NUMBER} \({NUMBER}\) \| {NUMBER} \({NUMBER}\) \|",
            rf"^\| completing a sentence \| \d+ \| cpu \| {NUMBER} \| {NUMBER} \|",
        ],
        "frontend.md",
    ),
    "watch.py": (
        [
            r"^\| appended → t_ready \| p50 ms \| p95 ms \| max ms \| n \|$",
            rf"^\| watch \(poll \+ parse \+ segment\) \| {NUMBER} \| {NUMBER} \| {NUMBER} \| 1 \|$",
        ],
        "watch.md",
    ),
    "daemon.py": (
        [
            r"^\|  \| p50 ms \| p95 ms \| max ms \| n \|$",
            rf"^\| openjtalk: warm daemon, 1st of turn \| {NUMBER} \| {NUMBER} \| {NUMBER} \| 1",
            rf"^\| streamtts-hook \(MessageDisplay\) \| {NUMBER} \| {NUMBER} \| {NUMBER} \| 1 \|$",
        ],
        "daemon.md",
    ),
    "latency_routes.py": (
        [
            r"^\| route \(p50 / p95 ms from a sentence's last word sent\) \| → ready at the daemon",
            r"^\| claude -p → speak \| \d+ / \d+ \| \d+ / \d+ \| \d+ \|",
            r"^\| interactive Claude Code, hooks \| \d+ / \d+ \| \d+ / \d+ \| \d+ \|",
        ],
        "latency_routes.md",
    ),
    "gpu.sh": (TRANSLATE_ROWS, "translate-quick-cuda.md"),
}


def recorded() -> dict[Path, tuple[int, int]]:
    """Size and modification time of every file under bench/results."""
    return {
        path: (path.stat().st_size, path.stat().st_mtime_ns)
        for path in (REPO / "bench" / "results").rglob("*")
        if path.is_file()
    }


def command(name: str, results: Path) -> list[str]:
    """How to run benchmark ``name`` with ``--smoke`` here, or skip saying what is missing."""
    if name == "gpu.sh":
        if shutil.which("nvidia-smi") is None:
            pytest.skip("bench/gpu.sh needs an NVIDIA GPU: there is no nvidia-smi here")
        return ["bash", "bench/gpu.sh", "--smoke", str(results)]
    python = sys.executable
    if name == "latency_routes.py" and (reason := why_not()):
        pytest.skip(f"bench/latency_routes.py runs the real agent CLIs: {reason}")
    if name == "xtts.py" and importlib.util.find_spec("TTS") is None:
        python = str(REPO / ".venv-xtts" / "bin" / "python")
        if not Path(python).exists():
            pytest.skip(
                "bench/xtts.py needs coqui-tts, which this environment lacks, and there is "
                "no .venv-xtts: `make setup-xtts`"
            )
    args = ["--smoke"] + (["--results", str(results)] if EXPECTED[name][1] else [])
    return [python, "-m", f"bench.{name.removesuffix('.py')}", *args]


def test_every_indexed_benchmark_has_a_smoke_check() -> None:
    assert sorted(EXPECTED) == sorted(bench_index()["index"])


@pytest.mark.parametrize("name", bench_index()["index"])
def test_benchmark_runs_with_its_least_work(name: str, tmp_path: Path) -> None:
    lines, results_file = EXPECTED[name]
    run = command(name, tmp_path)
    before = recorded()
    done = subprocess.run(run, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    missing = [line for line in lines if not re.search(line, done.stdout, re.MULTILINE)]
    assert missing == [], done.stdout[-3000:]
    if results_file:
        assert (tmp_path / results_file).is_file()
    assert recorded() == before
