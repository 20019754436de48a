"""Translation benchmark: the MLX NLLB port against transformers and CTranslate2.

Usage: ``.venv/bin/python bench/translate.py [--quick] [--engines mlx-fp32,torch,...]``

The full NLLB-600M shape with seeded random weights (``bench/nllb_models.py``) is converted
to every MLX variant (fp32, bf16, fp16, 8-bit, 4-bit; full and Japanese-pruned head) and to
CTranslate2 (float32, int8). Every engine gets the same source ids and is forced to the same
output length (end-of-sentence disabled), each in its own process, one after another. A
single-sentence decode step is a matrix-vector product per weight matrix, so its speed is
bound by memory bandwidth: the report sets each engine's measured step against the bytes
that step must read (decoder layers, output head, caches; counted from the stored tensors)
divided by this machine's measured read bandwidth (``bench/membw.py``). Results go to
``bench/results/translate.md`` (and ``.json``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

# bench/ is not a package: its sibling modules are imported from its own directory.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import membw
import nllb_models as models

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ["mlx", "mlx-lm", "torch", "transformers", "ctranslate2", "numpy", "sentencepiece"]
# name → (kind, MLX dtype or CTranslate2 quantization, bits, pruned head)
ENGINES: dict[str, tuple[str, str, int | None, bool]] = {
    "torch": ("torch", "float32", None, False),
    "ct2-float32": ("ct2", "float32", None, False),
    "ct2-int8": ("ct2", "int8", None, False),
    **{
        f"mlx-{label}" + ("-pruned" if prune else ""): ("mlx", dtype, bits, prune)
        for label, dtype, bits in (
            ("fp32", "float32", None),
            ("bf16", "bfloat16", None),
            ("fp16", "float16", None),
            ("q8", "float32", 8),
            ("q4", "float32", 4),
        )
        for prune in (False, True)
    },
}
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# The mlx[cpu] wheel for Linux links the reference (netlib) BLAS, which multiplies matrices
# at about 2 GFLOP/s here. Debian's OpenBLAS (apt-get install libopenblas0-pthread) exports
# the same cblas symbols, so preloading it swaps MLX's matmul backend without rebuilding.
OPENBLAS = Path("/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3")
if OPENBLAS.is_file():
    for _name in ("mlx-fp32", "mlx-fp32-pruned"):
        ENGINES[f"{_name}-openblas"] = ENGINES[_name]


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``values``, linearly interpolated."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def tensor_bytes(model_dir: Path) -> dict[str, int]:
    """Stored bytes of every tensor in ``model_dir``'s safetensors files, read from headers."""
    sizes = {}
    for path in sorted(model_dir.glob("*.safetensors")):
        with path.open("rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length))
        for name, entry in header.items():
            if name != "__metadata__":
                start, end = entry["data_offsets"]
                sizes[name.removeprefix("model.")] = end - start
    return sizes


def as_int8(sizes: dict[str, int], shapes: dict[str, list[int]]) -> dict[str, int]:
    """CTranslate2 int8: each fp32 matrix becomes int8 plus one fp32 scale per row."""
    return {
        name: size // 4 + 4 * shapes[name][0] if len(shapes[name]) == 2 else size
        for name, size in sizes.items()
    }


def step_bytes(
    sizes: dict[str, int], config: dict, *, src_len: float, act_bytes: int, new_tokens: int
) -> int:
    """Bytes one single-sentence decode step reads: decoder weights, output head, caches.

    Cross-attention keys/values are projected once per sentence, so their weights are not
    read per step; the caches they fill are. The head is the pruned ``lm_head`` when there
    is one, else the whole shared embedding (tied).
    """
    decoder = sum(
        size
        for name, size in sizes.items()
        if name.startswith(("decoder.layers.", "decoder.layer_norm."))
        and ".encoder_attn.k_proj." not in name
        and ".encoder_attn.v_proj." not in name
    )
    head_prefix = "lm_head." if "lm_head.weight" in sizes else "shared."
    head = sum(size for name, size in sizes.items() if name.startswith(head_prefix))
    # Self-attention cache: two positions of prefill, then one more per step (mean over steps).
    mean_target = 2 + (new_tokens - 1) / 2
    per_position = 2 * config["decoder_layers"] * config["d_model"] * act_bytes
    return int(decoder + head + per_position * (src_len + mean_target))


def hf_shapes(model_dir: Path) -> dict[str, list[int]]:
    """Tensor shapes of a Hugging Face checkpoint, read from the safetensors header."""
    with (model_dir / "model.safetensors").open("rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    return {k.removeprefix("model."): v["shape"] for k, v in header.items() if k != "__metadata__"}


def prepare(name: str, shape: models.Shape) -> tuple[Path, dict[str, int], int]:
    """Build (or reuse) the engine's model; return its directory, tensor bytes, act bytes."""
    kind, dtype, bits, prune = ENGINES[name]
    hf = models.hf_checkpoint(shape)
    if kind == "mlx":
        model_dir = models.mlx_model(shape, dtype=dtype, quantize=bits, prune=prune)
        return model_dir, tensor_bytes(model_dir), 2 if dtype in ("float16", "bfloat16") else 4
    sizes = tensor_bytes(hf)
    if kind == "ct2":
        model_dir = models.ct2_model(shape, quantization=dtype)
        if dtype == "int8":
            sizes = as_int8(sizes, hf_shapes(hf))
        return model_dir, sizes, 4
    return hf, sizes, 4


def run_engine(spec: dict[str, Any], threads: int) -> dict[str, Any]:
    """Run one engine in a fresh process (``translate_engines.py``) and return its result."""
    env = {**os.environ, **dict.fromkeys(THREAD_ENV, str(threads))}
    if spec["name"].endswith("-openblas"):
        env["LD_PRELOAD"] = str(OPENBLAS)
    worker = Path(__file__).resolve().parent / "translate_engines.py"
    done = subprocess.run(
        [sys.executable, str(worker)],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"{spec['name']} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def summarise(
    name: str,
    result: dict[str, Any],
    *,
    step: int,
    floor_ms: float,
    reference: list[list[int]] | None,
    new_tokens: int,
) -> dict[str, Any]:
    """One table row: medians, p95, derived step time, floor share, token agreement."""
    sentence, encoder = result["sentence_ms"], result["encoder_ms"]
    n = len(sentence)
    step_ms = [(s - e) / new_tokens for s, e in zip(sentence, encoder, strict=True)]
    same = None
    if reference is not None:
        same = sum(a == b for a, b in zip(result["tokens"], reference[:n], strict=True))
    return {
        "engine": name,
        "sentences": len(sentence),
        "encoder_ms": statistics.median(encoder),
        "step_ms": statistics.median(step_ms),
        "step_p95_ms": percentile(step_ms, 0.95),
        "sentence_ms": statistics.median(sentence),
        "sentence_p95_ms": percentile(sentence, 0.95),
        "peak_rss_mb": result["peak_rss_mb"],
        "step_mb": step / 1e6,
        "floor_ms": floor_ms,
        "floor_share": floor_ms / statistics.median(step_ms),
        "same_tokens": same,
        "threads": result["threads"],
    }


def pruned_rows(model_dir: Path) -> list[int]:
    """The full-vocabulary ids a pruned MLX model's head keeps (its ``vocab_map``)."""
    from safetensors import safe_open

    for path in sorted(model_dir.glob("*.safetensors")):
        with safe_open(str(path), framework="numpy") as f:
            if "vocab_map" in f.keys():  # noqa: SIM118 - safe_open has no __contains__
                return f.get_tensor("vocab_map").tolist()
    raise ValueError(f"{model_dir} has no pruned head")


def check_targets(rows: dict[str, dict[str, Any]]) -> list[str]:
    """The issue's three targets, each as a line with the measured figure and a verdict.

    Checked for MLX as installed and again with OpenBLAS preloaded, when that row ran.
    """
    lines = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    for suffix in ("", "-openblas"):
        full = rows.get(f"mlx-fp32{suffix}")
        if full is None:
            continue
        label = f"mlx-fp32{suffix}"
        ratio = full["step_ms"] / full["floor_ms"]
        lines.append(
            f"{label} decode step within 1.3x of its bandwidth floor: {full['step_ms']:.1f} ms "
            f"vs floor {full['floor_ms']:.1f} ms = {ratio:.2f}x, {verdict(ratio <= 1.3)}"
        )
        if torch := rows.get("torch"):
            speedup = torch["sentence_ms"] / full["sentence_ms"]
            lines.append(
                f"{label} at least 1.5x faster per sentence than transformers: "
                f"{full['sentence_ms']:.0f} ms vs {torch['sentence_ms']:.0f} ms = "
                f"{speedup:.2f}x, {verdict(speedup >= 1.5)}"
            )
        if pruned := rows.get(f"mlx-fp32-pruned{suffix}"):
            speedup = full["sentence_ms"] / pruned["sentence_ms"]
            same = pruned["same_tokens"]
            identical = same == pruned["sentences"]
            lines.append(
                f"{label} pruned head at least 1.8x faster per sentence than the full head, "
                f"identical tokens: {pruned['sentence_ms']:.0f} ms vs {full['sentence_ms']:.0f} "
                f"ms = {speedup:.2f}x, tokens identical in {same}/{pruned['sentences']} "
                f"sentences, {verdict(speedup >= 1.8 and identical)}"
            )
    return lines


def render_table(rows: list[dict[str, Any]]) -> str:
    """The results as a markdown table."""
    head = (
        "| engine | n | encoder ms | step ms (p95) | sentence ms | sentence p95 | peak RSS MB "
        "| MB/step | floor ms | floor/step | same tokens |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r['engine']} | {r['sentences']} | {r['encoder_ms']:.1f} | {r['step_ms']:.1f} "
        f"({r['step_p95_ms']:.1f}) | {r['sentence_ms']:.0f} | {r['sentence_p95_ms']:.0f} "
        f"| {r['peak_rss_mb']:.0f} | {r['step_mb']:.0f} | {r['floor_ms']:.1f} "
        f"| {r['floor_share']:.0%} | "
        + ("—" if r["same_tokens"] is None else f"{r['same_tokens']}/{r['sentences']}")
        + " |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"


def main() -> None:
    """Build the models, run every engine, print the table and write the results files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shape, for a smoke run")
    parser.add_argument("--engines", help=f"comma-separated subset of: {', '.join(ENGINES)}")
    parser.add_argument("--sentences", type=int, default=20)
    parser.add_argument("--length", type=int, default=24, help="source ids per sentence (±3)")
    parser.add_argument("--new-tokens", type=int, default=32, help="forced output length")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--budget", type=float, default=90.0, help="seconds per engine")
    parser.add_argument("--min-sentences", type=int, default=3)
    args = parser.parse_args()

    shape = models.quick_shape() if args.quick else models.full_shape()
    names = args.engines.split(",") if args.engines else list(ENGINES)
    unknown = set(names) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines: {', '.join(sorted(unknown))}")
    from streamtts.nllb.tokenizer import language_code_ids

    tgt_lang_id = language_code_ids(shape.sp_size)["jpn_Jpan"]
    sources = models.source_ids(shape, sentences=args.sentences, length=args.length)
    src_len = statistics.mean(len(s) for s in sources)
    print(f"building {shape.name} models under {models.cache_dir(shape)} …", flush=True)
    prepared = {name: prepare(name, shape) for name in names}
    keep_ids = None
    if "torch" in names and any(ENGINES[n][3] for n in names):
        keep_ids = pruned_rows(models.mlx_model(shape, prune=True))
    bandwidth = membw.read_bandwidth_gbs()
    machine = membw.machine_info()

    results, rows = {}, {}
    for name in ["torch", *(n for n in names if n != "torch")] if "torch" in names else names:
        model_dir, sizes, act_bytes = prepared[name]
        spec = {
            "name": name,
            "kind": ENGINES[name][0],
            "model_dir": str(model_dir),
            "sources": sources,
            "tgt_lang_id": tgt_lang_id,
            "new_tokens": args.new_tokens,
            "threads": args.threads,
            "budget_s": args.budget,
            "min_sentences": args.min_sentences,
            "keep_ids": keep_ids if name == "torch" else None,
        }
        load = os.getloadavg()[0]
        print(f"running {name} (load {load:.2f}) …", flush=True)
        results[name] = run_engine(spec, args.threads)
        step = step_bytes(
            sizes, shape.config, src_len=src_len, act_bytes=act_bytes, new_tokens=args.new_tokens
        )
        reference = None
        if "torch" in results and name != "torch":
            key = "restricted_tokens" if ENGINES[name][3] else "tokens"
            reference = results["torch"].get(key)
        rows[name] = summarise(
            name,
            results[name],
            step=step,
            floor_ms=step / (bandwidth["best"] * 1e9) * 1e3,
            reference=reference,
            new_tokens=args.new_tokens,
        )
        rows[name]["load_before"] = load

    table = render_table([rows[n] for n in names])
    checks = check_targets(rows)
    print(table)
    print("\n".join(checks))
    write_results(
        shape=shape,
        args=args,
        rows=[rows[n] for n in names],
        table=table,
        checks=checks,
        machine=machine,
        bandwidth=bandwidth,
        keep_ids=keep_ids,
        src_len=src_len,
    )


def write_results(
    *,
    shape: models.Shape,
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    table: str,
    checks: list[str],
    machine: dict[str, str],
    bandwidth: dict[str, float],
    keep_ids: list[int] | None,
    src_len: float,
) -> None:
    """Write ``bench/results/translate[-quick].md`` and the same figures as JSON."""
    stem = "translate" if shape.name == "full" else f"translate-{shape.name}"
    vocab = shape.config["vocab_size"]
    versions = membw.package_versions(PACKAGES)
    shape_keys = ("d_model", "encoder_layers", "decoder_layers", "decoder_ffn_dim", "vocab_size")
    shape_summary = {key: shape.config[key] for key in shape_keys}
    loads = ", ".join(f"{r['engine']} {r['load_before']:.2f}" for r in rows)
    kept = (
        f"{len(keep_ids)} of {vocab} rows ({len(keep_ids) / vocab:.1%})" if keep_ids else "not run"
    )
    lines = [
        f"# Translation benchmark ({shape.name} shape)",
        "",
        f"Run {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC with "
        f"`.venv/bin/python bench/translate.py{' --quick' if args.quick else ''}`.",
        "",
        "## Machine",
        "",
        *(f"- {key}: {value}" for key, value in machine.items()),
        "- read bandwidth: "
        + ", ".join(f"{label} {gbs:.1f} GB/s" for label, gbs in bandwidth.items()),
        "- versions: " + ", ".join(f"{name} {version}" for name, version in versions.items()),
        f"- threads: {args.threads} per engine ({', '.join(THREAD_ENV)} set to match)",
        "- shared machine: other processes (about six other developers' builds and tests) "
        f"ran at the same time; 1-minute load average before each engine: {loads}.",
        "",
        "## Setup",
        "",
        f"- model: M2M100 `{json.dumps(shape_summary)}` "
        "with seeded random weights (real NLLB weights cannot be downloaded here).",
        f"- input: {args.sentences} seeded sentences of {src_len:.1f} source ids on average; "
        f"output forced to {args.new_tokens} tokens after the language token (EOS disabled).",
        f"- per engine: one warm-up sentence, then sentences until {args.min_sentences} are "
        f"done and {args.budget:.0f} s have passed, or all are done (column n).",
        f"- pruned head (`--prune-vocab jpn_Jpan`): {kept}.",
        "",
        "## Results",
        "",
        table,
        *(f"- {check}" for check in checks),
        "",
        NOTES,
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.md").write_text("\n".join(lines))
    raw = {"machine": machine, "bandwidth": bandwidth, "versions": versions, "rows": rows}
    (RESULTS / f"{stem}.json").write_text(json.dumps(raw, indent=2) + "\n")
    print(f"wrote {RESULTS / stem}.md")


NOTES = """## How to read it

- encoder ms: the encoder stack alone on one sentence. step ms: (sentence − encoder) / output
  tokens, so it includes each engine's per-sentence extras (cross-attention projections,
  transformers' step for the forced language token). sentence ms: one whole greedy translation.
- MB/step: bytes one decode step must read: decoder layers (without the cross-attention
  key/value projections, done once per sentence), the output head (pruned rows, or the whole
  tied 256k embedding), and the self- and cross-attention caches. Counted from the stored
  tensors (CTranslate2 int8: int8 matrices plus one fp32 scale per row). floor ms = MB/step
  ÷ best measured read bandwidth; floor/step is the share of that floor achieved.
- same tokens: sentences whose tokens equal transformers' exactly. Full-head engines are
  compared with plain greedy decoding; pruned heads with transformers' greedy decoding
  restricted to the pruned head's rows (a logits processor sets every other score to -inf),
  which is what a pruned head must reproduce; with random weights the unrestricted argmax
  often falls outside the kept rows.
- The pruned head's size comes from running the real selection (`japanese_token_ids`) over
  a synthetic 256,000-piece vocabulary whose scripts are shared out by NLLB's 202 language
  codes (126 Latin-script) with 75% of Latin pieces plain ASCII: an assumption, stated in
  `bench/nllb_models.py`. The real NLLB vocabulary could not be read here; the bytes per
  step, and so the pruned speed-up, scale with the kept rows.
- Apple-silicon GPU timings cannot be taken on this machine and are not estimated.
"""


if __name__ == "__main__":
    main()
