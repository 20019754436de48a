"""What every benchmark shares: machine, versions, percentiles, tables, reference texts.

Each benchmark in ``bench/`` measures one stage and writes ``bench/results/NAME.md``; this
module owns what their reports have in common, so that every results file starts with the
same header (when, with which command, on which machine, with which versions) and states
percentiles computed one way (linear interpolation, numpy's default), and reads the
reference texts kept in ``bench/data/``. It also puts the
repository root on ``sys.path``, once, so that benchmarks can import the tests' model
builders as ``tests.builders``; ``bench/`` itself is on the path because the benchmarks run
as scripts from it.
"""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for ``tests``; ``streamtts`` here is the editable install's


def data_lines(name: str) -> list[str]:
    """The non-empty lines of ``bench/data/NAME``: the benchmarks' reference texts."""
    text = (DATA / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


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
    """This process's command line as typed in the repository root."""

    def relative(path: str) -> str:
        absolute = Path(path).absolute()
        return str(absolute.relative_to(ROOT)) if absolute.is_relative_to(ROOT) else path

    return shlex.join([relative(sys.executable), relative(sys.argv[0]), *sys.argv[1:]])


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
