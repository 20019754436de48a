"""bench/README.md lists every file in bench/, and every benchmark takes the common options."""

from __future__ import annotations

from helpers import REPO, bench_index

BENCH = REPO / "bench"


def test_every_file_in_bench_is_listed_once() -> None:
    index = bench_index()
    files = sorted(
        path.name
        for path in BENCH.iterdir()
        if path.suffix in (".py", ".sh") and path.name != "__init__.py"
    )
    assert sorted(index["index"] + index["shared"]) == files


def test_every_benchmark_takes_the_common_options() -> None:
    # --smoke and --results come from bench.common.parse_args; gpu.sh passes --smoke on.
    missing = [
        name
        for name in bench_index()["index"]
        if ("parse_args(parser" if name.endswith(".py") else "= --smoke ]")
        not in (BENCH / name).read_text(encoding="utf-8")
    ]
    assert missing == []
