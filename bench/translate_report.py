"""Report of the translation benchmark: target checks, markdown table, results files.

Kept apart from the harness in ``bench/translate.py`` so that each reads top to bottom: the
harness measures, this module judges and writes. Every figure comes from the rows the
harness measured; the only fixed text is the method (``NOTES``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import nllb_models as models
from bench.common import markdown_table, package_versions, results_header
from bench.common import write_results as write_file
from bench.translate_engines import THREAD_ENV

PACKAGES = ["mlx", "mlx-lm", "torch", "transformers", "ctranslate2", "numpy", "sentencepiece"]


@dataclass(frozen=True)
class Settings:
    """How the run was made, as the report states it."""

    shape: str
    sentences: int
    new_tokens: int
    min_sentences: int
    budget: float
    threads: tuple[int, ...]
    rounds: int
    device: str = "cpu"  # "cuda": every engine on the GPU (bench/gpu.sh)
    tag: str | None = None  # results file suffix, so a partial re-run keeps the full table


# The MLX fp32 rows the targets are checked for: as installed (MKL when the `mkl` extra is
# there), and on the default install's BLAS (Debian's OpenBLAS), each with both heads.
TARGET_ROWS = ("mlx-fp32", "mlx-fp32-pruned", "mlx-fp32-openblas", "mlx-fp32-pruned-openblas")


def check_targets(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's targets for MLX fp32, at each thread count, each with the measured figure.

    Per sentence at least as fast as transformers (goal 1.5x, and ahead of CTranslate2
    float32); decode step within 2x of its bandwidth floor (goal 1.3x); encoder no slower
    than transformers'; always with the same tokens.
    """
    lines = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    for threads in sorted({row["thread_count"] for row in rows}):
        at = {row["engine"]: row for row in rows if row["thread_count"] == threads}
        for label in TARGET_ROWS:
            mlx = at.get(label)
            if mlx is None:
                continue
            name = f"{label} × {threads}"
            same = mlx["same_tokens"]
            tokens = "" if same is None else f", same tokens {same}/{mlx['sentences']}"
            ratio = mlx["step_ms"] / mlx["floor_ms"]
            lines.append(
                f"{name} decode step ÷ bandwidth floor: {mlx['step_ms']:.1f} ms / "
                f"{mlx['floor_ms']:.1f} ms = {ratio:.2f}x; within 2x {verdict(ratio <= 2)}, "
                f"goal 1.3x {verdict(ratio <= 1.3)}"
            )
            if torch := at.get("torch"):
                speedup = torch["sentence_ms"] / mlx["sentence_ms"]
                lines.append(
                    f"{name} per sentence vs transformers: {mlx['sentence_ms']:.0f} ms vs "
                    f"{torch['sentence_ms']:.0f} ms = {speedup:.2f}x faster; at least as fast "
                    f"{verdict(speedup >= 1)}, goal 1.5x {verdict(speedup >= 1.5)}{tokens}"
                )
                enc = torch["encoder_ms"] / mlx["encoder_ms"]
                lines.append(
                    f"{name} encoder vs transformers: {mlx['encoder_ms']:.1f} ms vs "
                    f"{torch['encoder_ms']:.1f} ms = {enc:.2f}x; no slower {verdict(enc >= 1)}"
                )
            if ct2 := at.get("ct2-float32"):
                speedup = ct2["sentence_ms"] / mlx["sentence_ms"]
                lines.append(
                    f"{name} per sentence vs CTranslate2 float32: {mlx['sentence_ms']:.0f} ms "
                    f"vs {ct2['sentence_ms']:.0f} ms = {speedup:.2f}x; ahead {verdict(speedup > 1)}"
                )
    return lines


def render_table(rows: list[dict[str, Any]]) -> str:
    """The results as a markdown table."""
    header = [
        "engine", "threads", "n", "encoder ms", "step ms (p95)", "sentence ms", "sentence p95",
        "peak RSS MB", "MB/step", "floor ms", "floor/step", "same tokens", "same prefix",
    ]  # fmt: skip
    cells = [
        [
            r["engine"],
            r["thread_count"],
            r["sentences"],
            f"{r['encoder_ms']:.1f}",
            f"{r['step_ms']:.1f} ({r['step_p95_ms']:.1f})",
            f"{r['sentence_ms']:.0f}",
            f"{r['sentence_p95_ms']:.0f}",
            f"{r['peak_rss_mb']:.0f}",
            f"{r['step_mb']:.0f}",
            f"{r['floor_ms']:.1f}",
            f"{r['floor_share']:.0%}",
            "—" if r["same_tokens"] is None else f"{r['same_tokens']}/{r['sentences']}",
            "—" if r["same_prefix"] is None else f"{r['same_prefix']:.1f}",
        ]
        for r in rows
    ]
    return markdown_table(header, cells) + "\n"


def write_results(
    directory: Path,
    *,
    shape: models.Shape,
    settings: Settings,
    rows: list[dict[str, Any]],
    table: str,
    checks: list[str],
    machine: dict[str, str],
    bandwidth: dict[str, float],
    keep_ids: list[int] | None,
    src_len: float,
    tokens: dict[str, list[list[int]]],
) -> None:
    """Write ``DIRECTORY/translate[-SHAPE][-TAG].md`` and the same figures as JSON."""
    stem = "translate" + ("" if shape.name == "full" else f"-{shape.name}")
    stem += f"-{settings.tag}" if settings.tag else ""
    vocab = shape.config["vocab_size"]
    versions = package_versions(PACKAGES)
    shape_keys = ("d_model", "encoder_layers", "decoder_layers", "decoder_ffn_dim", "vocab_size")
    shape_summary = {key: shape.config[key] for key in shape_keys}
    loads = ", ".join(
        f"{r['engine']} × {r['thread_count']} " + "/".join(f"{x:.1f}" for x in r["loads"])
        for r in rows
    )
    kept = (
        f"{len(keep_ids)} of {vocab} rows ({len(keep_ids) / vocab:.1%})" if keep_ids else "not run"
    )
    header = results_header(
        f"Translation benchmark ({shape.name} shape)",
        machine={
            **machine,
            "read bandwidth": ", ".join(
                f"{label} {gbs:.1f} GB/s" for label, gbs in bandwidth.items()
            ),
            "threads": f"{', '.join(map(str, settings.threads))} per engine "
            f"({', '.join(THREAD_ENV)} set to match)",
            "1-minute load average before each run of each engine (other processes share "
            "this machine)": loads,
        },
        versions=versions,
    )
    lines = [
        "## Setup",
        "",
        f"- model: M2M100 `{json.dumps(shape_summary)}` "
        "with seeded random weights (real NLLB weights cannot be downloaded here; layers drawn "
        f"with std {models.INIT_STD}, embedding rows scaled to one norm so that greedy tokens "
        "vary, see `bench/nllb_models.py`).",
        f"- input: {settings.sentences} seeded sentences of {src_len:.1f} source ids on average; "
        f"output forced to {settings.new_tokens} tokens after the language token (EOS disabled).",
        f"- per engine run: one warm-up sentence, then sentences until {settings.min_sentences} "
        f"are done and {settings.budget:.0f} s have passed, or all are done; {settings.rounds} "
        "run(s) of every engine at every thread count, interleaved (round r starts the engine "
        "list r places further along), each in a fresh process; a row pools its runs' "
        "sentences (column n) and gives their median.",
        f"- pruned head (`--prune-vocab jpn_Jpan`): {kept}.",
        f"- device: {settings.device}"
        + (
            "; the floor columns still use this machine's CPU read bandwidth, so they say "
            "nothing about the GPU"
            if settings.device != "cpu"
            else ""
        )
        + ".",
        "",
        "## Results",
        "",
        table,
        *(f"- {check}" for check in checks),
        "",
        "Threads and BLAS per engine:",
        "",
        *(f"- {r['engine']} × {r['thread_count']}: {r['threads']}" for r in rows),
        "",
        NOTES,
    ]
    write_file(directory, f"{stem}.md", header + "\n".join(lines))
    raw = {
        "machine": machine,
        "bandwidth": bandwidth,
        "versions": versions,
        "rows": rows,
        "tokens": tokens,
    }
    write_file(directory, f"{stem}.json", json.dumps(raw, indent=2) + "\n")


NOTES = """## How to read it

- encoder ms: the encoder stack alone on one sentence. step ms: (sentence − encoder) / output
  tokens, so it includes each engine's per-sentence extras (cross-attention projections,
  transformers' step for the forced language token). sentence ms: one whole greedy translation.
- MB/step: bytes one decode step must read: decoder layers (without the cross-attention
  key/value projections, done once per sentence), the output head (pruned rows, or the whole
  tied 256k embedding), and the self- and cross-attention caches. Counted from the stored
  tensors (CTranslate2 int8: int8 matrices plus one fp32 scale per row). floor ms = MB/step
  ÷ best read bandwidth measured just before and just after the engines ran (other
  processes' load moves it); floor/step is the share of that floor achieved.
- CTranslate2 has no encoder-only call: its encoder ms is a translation that stops at the
  language token (encoder plus one decoder step).
- MLX rows run with the BLAS streamtts picks (`streamtts/blas.py`, opened before MLX: MKL
  from `pip install mkl` when present, else Debian's OpenBLAS `libopenblas0-pthread`);
  `-openblas` rows set `STREAMTTS_BLAS=openblas`, `-reference` rows `STREAMTTS_BLAS=reference`
  (the reference BLAS that the `mlx[cpu]` wheel for Linux bundles). MLX sends every float32
  matmul to `cblas_sgemm`, so only the BLAS changes; each row's BLAS is listed below the
  table. OpenBLAS 0.3.21 runs a one-row `sgemm` (every decode-step product) through its
  packing path, 3-5x slower than its own `sgemv`; MKL does not.
- same tokens: sentences whose tokens equal transformers' exactly; same prefix: how many
  leading tokens (of the forced output) they share with it on average, the drift of a
  quantized engine from float32 decoding. Full-head engines are
  compared with plain greedy decoding; pruned heads with transformers' greedy decoding
  restricted to the pruned head's rows (a logits processor sets every other score to -inf),
  which is what a pruned head must reproduce; with random weights the unrestricted argmax
  often falls outside the kept rows. For bf16, fp16 and quantized rows the figure is a
  measured agreement, not expected to be exact: once one token differs, the rest follow it.
- The pruned head's size comes from running the real selection (`japanese_token_ids`) over
  a synthetic 256,000-piece vocabulary whose scripts are shared out by NLLB's 202 language
  codes (126 Latin-script) with 75% of Latin pieces plain ASCII: an assumption, stated in
  `bench/nllb_models.py`. The real NLLB vocabulary could not be read here; the bytes per
  step, and so the pruned speed-up, scale with the kept rows.
- Apple-silicon GPU timings cannot be taken on this machine and are not estimated; no GPU
  was lent to this benchmark.
"""
