"""What every benchmark shares: options, machine, versions, percentiles, tables, texts.

Each benchmark in ``bench/`` measures one stage and writes ``bench/results/NAME.md``; this
module owns what their reports have in common, so that every results file starts with the
same header (when, with which command, on which machine, with which versions) and states
percentiles computed one way (linear interpolation, numpy's default), and reads the
reference texts kept in ``bench/data/``. It also adds the options every benchmark takes
(``--smoke``, ``--results``: :func:`parse_args`). The benchmarks run as modules from the
repository root (``python -m bench.NAME``), so they import each other as ``bench.NAME`` and
the tests' model builders as ``tests.builders``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results"


def parse_args(
    parser: argparse.ArgumentParser, *, smoke: dict[str, object], writes: bool = True
) -> argparse.Namespace:
    """Parse the command line with the options every benchmark takes.

    ``--smoke`` runs the least real work that still goes through the whole benchmark:
    ``smoke`` holds the values it gives the benchmark's own options (those typed on the
    command line still win). ``--results DIR`` is where the results file goes (when
    ``writes``): ``bench/results`` by default, and with ``--smoke`` a new temporary directory,
    never ``bench/results``, which keeps the recorded figures.
    """
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="the least work that runs the whole benchmark, to check it works: "
        + (", ".join(f"--{k.replace('_', '-')} {v}" for k, v in smoke.items()) or "as is")
        + (", results in a temporary directory" if writes else ""),
    )
    if writes:
        parser.add_argument(
            "--results",
            type=Path,
            metavar="DIR",
            help="directory for the results file (default: bench/results)",
        )
    args = parser.parse_args()
    if args.smoke:
        parser.set_defaults(**smoke)
        args = parser.parse_args()
    if not writes:
        return args
    if args.results is None:
        prefix = "streamtts-bench-smoke-"
        args.results = Path(tempfile.mkdtemp(prefix=prefix)) if args.smoke else RESULTS
    elif args.smoke and args.results.resolve() == RESULTS:
        parser.error("--smoke never writes to bench/results: its figures are the recorded ones")
    return args


def write_results(directory: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``directory/name`` and say where: the one way results are written."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}", flush=True)
    return path


def data_lines(name: str, count: int | None = None) -> list[str]:
    """The non-empty lines of ``bench/data/NAME``: the benchmarks' reference texts.

    ``count``: only that many, spread evenly from the first line to the last (``--smoke``
    runs take two: the first and the last).
    """
    text = (DATA / name).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()]
    if count is None or count >= len(lines):
        return lines
    if count == 1:
        return lines[:1]
    return [lines[round(n * (len(lines) - 1) / (count - 1))] for n in range(count)]


def machine_info() -> dict[str, str]:
    """Describe this machine: CPU model, cores, memory, OS, Python and the load average now."""
    cpu = platform.processor() or platform.machine()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in lscpu.splitlines()
            if line.startswith("Model name")
        )
    except (OSError, subprocess.CalledProcessError, StopIteration):
        pass  # macOS has no lscpu; platform's answer is the best we have there
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{memory_gib:.1f} GiB",
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": platform.python_version(),
        "load average (1, 5, 15 min)": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed versions of ``names`` ("missing" for those not installed)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def percentiles(values: Iterable[float], qs: Sequence[float] = (50, 95, 100)) -> list[float]:
    """The ``qs``-th percentiles (0-100) of ``values``, linearly interpolated: p50, p95, max."""
    return [float(x) for x in np.percentile(np.asarray(list(values), dtype=float), qs)]


def markdown_table(
    header: Sequence[str], rows: Iterable[Sequence[object]], *, right: bool = False
) -> str:
    """A markdown table of ``rows`` (cells already formatted, or ``str()``-ed here).

    ``right`` right-aligns every column after the first (figures under a label).
    """
    rule = ["---"] + ["---:" if right else "---"] * (len(header) - 1)
    lines = [header, rule, *rows]
    return "\n".join("| " + " | ".join(map(str, line)) + " |" for line in lines)


def command_line() -> str:
    """This process's command line as typed in the repository root (``python -m bench.X``)."""

    def relative(path: str) -> str:
        absolute = Path(path).absolute()
        return str(absolute.relative_to(ROOT)) if absolute.is_relative_to(ROOT) else path

    spec = sys.modules["__main__"].__spec__  # None for a script run by its path
    program = ["-m", spec.name] if spec else [relative(sys.argv[0])]
    return shlex.join([relative(sys.executable), *program, *sys.argv[1:]])


def results_header(title: str, *, machine: dict[str, str], versions: dict[str, str]) -> str:
    """The start of every results file: title, run time and command, machine, versions."""
    now = datetime.datetime.now(datetime.UTC)
    return "\n".join(
        [
            f"# {title}",
            "",
            f"Run {now:%Y-%m-%d %H:%M} UTC with `{command_line()}`.",
            "",
            "## Machine",
            "",
            *(f"- {key}: {value}" for key, value in machine.items()),
            "",
            "## Versions",
            "",
            *(f"- {name}: {version}" for name, version in versions.items()),
            "",
            "",
        ]
    )
