"""Translation benchmark: the MLX NLLB port against transformers and CTranslate2.

Usage: ``.venv/bin/python -m bench.translate [--shape mid,full] [--engines mlx-fp32,...]
[--threads 1,2] [--rounds 2] [--device cpu|cuda] [--smoke]``

The full NLLB-600M shape (or ``mid``: its widths and vocabulary with 6+6 layers) with seeded
random weights (``bench/nllb_models.py``) is converted to every MLX variant (fp32, bf16,
fp16, 8-bit, 4-bit; full and Japanese-pruned head) and to CTranslate2 (float32, int8). MLX
rows use the BLAS streamtts picks; ``-openblas`` and ``-reference`` rows force one. Every
engine gets the same source ids and is forced to the same output length (end-of-sentence
disabled), each run in its own process; every engine runs at every thread count, and
``--rounds`` repeats them all, interleaved, so that the machine's changing load is shared.
A single-sentence decode step is a matrix-vector product per weight matrix, so its speed
is bound by memory bandwidth: the report sets each engine's measured step against the
bytes that step must read (decoder layers, output head, caches; counted from the stored
tensors) divided by this machine's measured read bandwidth (``bench/membw.py``). Results go to
``bench/results/translate[-SHAPE].md`` (and ``.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

from bench import membw
from bench import nllb_models as models
from bench.common import ROOT, machine_info, parse_args, percentiles
from bench.translate_engines import THREAD_ENV
from bench.translate_report import Settings, check_targets, render_table, write_results


class Engine(NamedTuple):
    """How to build and run one row of the table."""

    kind: str  # "torch", "ct2" or "mlx": the worker in bench/translate_engines.py
    dtype: str  # MLX dtype or CTranslate2 quantization
    bits: int | None = None  # MLX quantization
    prune: bool = False  # MLX head pruned to Japanese


# streamtts opens MKL or the system's OpenBLAS before MLX (streamtts/blas.py); `-openblas`
# and `-reference` rows force OpenBLAS or the reference BLAS the mlx[cpu] wheel bundles.
BLAS_CHOICES = ("openblas", "reference")
ENGINES: dict[str, Engine] = {
    "torch": Engine("torch", "float32"),
    "ct2-float32": Engine("ct2", "float32"),
    "ct2-int8": Engine("ct2", "int8"),
    "mlx-fp32": Engine("mlx", "float32"),
    "mlx-fp32-pruned": Engine("mlx", "float32", prune=True),
    "mlx-bf16": Engine("mlx", "bfloat16"),
    "mlx-bf16-pruned": Engine("mlx", "bfloat16", prune=True),
    "mlx-fp16": Engine("mlx", "float16"),
    "mlx-fp16-pruned": Engine("mlx", "float16", prune=True),
    "mlx-q8": Engine("mlx", "float32", 8),
    "mlx-q8-pruned": Engine("mlx", "float32", 8, prune=True),
    "mlx-q4": Engine("mlx", "float32", 4),
    "mlx-q4-pruned": Engine("mlx", "float32", 4, prune=True),
    "mlx-fp32-openblas": Engine("mlx", "float32"),
    "mlx-fp32-reference": Engine("mlx", "float32"),
    "mlx-fp32-pruned-openblas": Engine("mlx", "float32", prune=True),
    "mlx-fp32-pruned-reference": Engine("mlx", "float32", prune=True),
}
SHAPES = {"full": models.full_shape, "mid": models.mid_shape, "quick": models.quick_shape}
# --smoke: the small shape, one engine of each kind with the int8 and pruned-head paths, one
# sentence of four tokens, one thread.
SMOKE = {
    "shape": "quick",
    "engines": "torch,ct2-int8,mlx-fp32,mlx-fp32-pruned",
    "sentences": 1,
    "new_tokens": 4,
    "threads": [1],
    "budget": 0.0,
    "min_sentences": 1,
}


def tensor_headers(model_dir: Path) -> dict[str, dict[str, Any]]:
    """Header entry (dtype, shape, data offsets) of every tensor in ``model_dir``.

    Read from the safetensors headers alone, so sizing a 2.4 GB model reads a few kB.
    Names lose Hugging Face's ``model.`` prefix so checkpoints and MLX models compare.
    """
    entries = {}
    for path in sorted(model_dir.glob("*.safetensors")):
        with path.open("rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length))
        header.pop("__metadata__", None)
        entries.update({name.removeprefix("model."): entry for name, entry in header.items()})
    return entries


def tensor_bytes(model_dir: Path) -> dict[str, int]:
    """Stored bytes of every tensor in ``model_dir``."""
    return {
        name: entry["data_offsets"][1] - entry["data_offsets"][0]
        for name, entry in tensor_headers(model_dir).items()
    }


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
            shapes = {k: v["shape"] for k, v in tensor_headers(hf).items()}
            sizes = as_int8(sizes, shapes)
        return model_dir, sizes, 4
    return hf, sizes, 4


def run_engine(spec: dict[str, Any], threads: int) -> dict[str, Any]:
    """Run one engine in a fresh process (``bench.translate_engines``) and return its result."""
    env = {**os.environ, **dict.fromkeys(THREAD_ENV, str(threads))}
    for choice in BLAS_CHOICES:
        if spec["name"].endswith(f"-{choice}"):
            env["STREAMTTS_BLAS"] = choice
    done = subprocess.run(
        [sys.executable, "-m", "bench.translate_engines"],
        cwd=ROOT,
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"{spec['name']} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share: where a drifting engine leaves them."""
    pairs = zip(a, b, strict=False)
    return next((i for i, (x, y) in enumerate(pairs) if x != y), min(len(a), len(b)))


def summarise(
    name: str,
    runs: list[dict[str, Any]],
    *,
    step: int,
    floor_ms: float,
    reference: list[list[int]] | None,
    new_tokens: int,
) -> dict[str, Any]:
    """One table row from an engine's runs (pooled): medians, p95, step, floor, agreement."""
    sentence = [ms for run in runs for ms in run["sentence_ms"]]
    encoder = [ms for run in runs for ms in run["encoder_ms"]]
    step_ms = [(s - e) / new_tokens for s, e in zip(sentence, encoder, strict=True)]
    same = prefix = None
    if reference is not None:
        # A run's tokens are its timed sentences: the first n of the reference's.
        pairs = [(out, reference[i]) for run in runs for i, out in enumerate(run["tokens"])]
        same = sum(out == ref for out, ref in pairs)
        prefix = statistics.mean(common_prefix(out, ref) for out, ref in pairs)
    return {
        "engine": name,
        "sentences": len(sentence),
        "encoder_ms": statistics.median(encoder),
        "step_ms": statistics.median(step_ms),
        "step_p95_ms": percentiles(step_ms, [95])[0],
        "sentence_ms": statistics.median(sentence),
        "sentence_p95_ms": percentiles(sentence, [95])[0],
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
        "step_mb": step / 1e6,
        "floor_ms": floor_ms,
        "floor_share": floor_ms / statistics.median(step_ms),
        "same_tokens": same,
        "same_prefix": prefix,
        "threads": runs[0]["threads"],
    }


def pruned_rows(model_dir: Path) -> list[int]:
    """The full-vocabulary ids a pruned MLX model's head keeps (its ``vocab_map``)."""
    from safetensors import safe_open

    for path in sorted(model_dir.glob("*.safetensors")):
        with safe_open(str(path), framework="numpy") as f:
            if "vocab_map" in f.keys():  # noqa: SIM118 - safe_open has no __contains__
                return f.get_tensor("vocab_map").tolist()
    raise ValueError(f"{model_dir} has no pruned head")


def run_engines(
    names: list[str],
    base: dict[str, Any],
    prepared: dict[str, tuple[Path, dict[str, int], int]],
    *,
    keep_ids: list[int] | None,
    thread_counts: list[int],
    rounds: int,
) -> tuple[dict[tuple[str, int], list[dict[str, Any]]], dict[tuple[str, int], list[float]]]:
    """Run every engine at every thread count, ``rounds`` times, interleaved.

    Returns each (engine, threads) pair's runs and the 1-minute load average before each.
    The machine's load drifts: interleaving spreads it over all engines alike, where one
    block per engine would hand one engine the quiet minutes. Each round starts the engine
    list one place further along. transformers runs first of all: the tokens of its first
    run (every sentence, timed or not) are the reference the others are compared with. A
    failing run is reported and left out rather than costing the others' figures.
    """
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    loads: dict[tuple[str, int], list[float]] = {}
    order = sorted(names, key=lambda n: n != "torch")
    for n in range(rounds):
        shifted = order[n % len(order) :] + order[: n % len(order)]
        for threads in thread_counts:
            for name in shifted:
                reference = name == "torch" and not any(k[0] == "torch" for k in runs)
                spec = {
                    **base,
                    "name": name,
                    "kind": ENGINES[name].kind,
                    "model_dir": str(prepared[name][0]),
                    "threads": threads,
                    "reference": reference,
                    "keep_ids": keep_ids if reference else None,
                }
                load = os.getloadavg()[0]
                print(f"round {n + 1}/{rounds}: {name} × {threads} (load {load:.2f}) …", flush=True)
                try:
                    result = run_engine(spec, threads)
                except RuntimeError as error:
                    print(error, file=sys.stderr)
                    continue
                runs.setdefault((name, threads), []).append(result)
                loads.setdefault((name, threads), []).append(load)
    return runs, loads


def run_shape(shape: models.Shape, names: list[str], args: argparse.Namespace) -> None:
    """Build one shape's models, run the engines, print the table and write the results."""
    from streamtts.nllb.tokenizer import language_code_ids

    tgt_lang_id = language_code_ids(shape.sp_size)["jpn_Jpan"]
    sources = models.source_ids(shape, sentences=args.sentences, length=args.length)
    src_len = statistics.mean(len(s) for s in sources)
    print(f"building {shape.name} models under {models.cache_dir(shape)} …", flush=True)
    prepared = {name: prepare(name, shape) for name in names}
    keep_ids = None
    if "torch" in names and any(ENGINES[n].prune for n in names):
        keep_ids = pruned_rows(models.mlx_model(shape, prune=True))
    machine = machine_info()
    before = membw.read_bandwidth_gbs()
    base = {
        "sources": sources,
        "tgt_lang_id": tgt_lang_id,
        "new_tokens": args.new_tokens,
        "budget_s": args.budget,
        "min_sentences": args.min_sentences,
        "device": args.device,
    }
    runs, loads = run_engines(
        names, base, prepared, keep_ids=keep_ids, thread_counts=args.threads, rounds=args.rounds
    )
    machine["load average at the end (1, 5, 15 min)"] = " ".join(
        f"{x:.2f}" for x in os.getloadavg()
    )
    # Other processes' load moves the figure: keep the best of before and after the run.
    after = membw.read_bandwidth_gbs()
    bandwidth = {label: max(before[label], after[label]) for label in before}

    reference = next(
        (run for (name, _), found in runs.items() if name == "torch" for run in found[:1]), {}
    )
    rows = []
    for threads in args.threads:
        for name in names:
            if (name, threads) not in runs:
                continue
            _, sizes, act_bytes = prepared[name]
            step = step_bytes(
                sizes,
                shape.config,
                src_len=src_len,
                act_bytes=act_bytes,
                new_tokens=args.new_tokens,
            )
            key = "restricted_tokens" if ENGINES[name].prune else "tokens"
            row = summarise(
                name,
                runs[(name, threads)],
                step=step,
                floor_ms=step / (bandwidth["best"] * 1e9) * 1e3,
                reference=reference.get(key) if name != "torch" else None,
                new_tokens=args.new_tokens,
            )
            row["thread_count"] = threads
            row["loads"] = loads[(name, threads)]
            rows.append(row)

    table = render_table(rows)
    checks = check_targets(rows)
    print(table)
    print("\n".join(checks))
    settings = Settings(
        shape=shape.name,
        sentences=args.sentences,
        new_tokens=args.new_tokens,
        min_sentences=args.min_sentences,
        budget=args.budget,
        threads=tuple(args.threads),
        rounds=args.rounds,
        device=args.device,
        tag=args.tag,
    )
    write_results(
        args.results,
        shape=shape,
        settings=settings,
        rows=rows,
        table=table,
        checks=checks,
        machine=machine,
        bandwidth=bandwidth,
        keep_ids=keep_ids,
        src_len=src_len,
        tokens={f"{name}@{t}": found[0]["tokens"] for (name, t), found in runs.items()},
    )


def main() -> None:
    """Parse the options and run each shape in turn."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shape", default="full", help=f"comma-separated: {', '.join(SHAPES)} (quick: a smoke run)"
    )
    parser.add_argument("--engines", help=f"comma-separated subset of: {', '.join(ENGINES)}")
    parser.add_argument("--sentences", type=int, default=20)
    parser.add_argument("--length", type=int, default=24, help="source ids per sentence (±3)")
    parser.add_argument("--new-tokens", type=int, default=32, help="forced output length")
    parser.add_argument(
        "--threads",
        type=lambda text: [int(t) for t in text.split(",")],
        default=[os.cpu_count() or 1],
        help="threads per engine, comma-separated (e.g. 1,2: every engine runs at each)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="interleaved runs of every engine")
    parser.add_argument("--budget", type=float, default=90.0, help="seconds per engine run")
    parser.add_argument("--min-sentences", type=int, default=3)
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="cuda: bench/gpu.sh's run"
    )
    parser.add_argument("--tag", help="write translate[-SHAPE]-TAG.md instead")
    args = parse_args(parser, smoke=SMOKE)

    shapes = args.shape.split(",")
    names = args.engines.split(",") if args.engines else list(ENGINES)
    if unknown := set(shapes) - set(SHAPES):
        parser.error(f"unknown shapes: {', '.join(sorted(unknown))}")
    if unknown := set(names) - set(ENGINES):
        parser.error(f"unknown engines: {', '.join(sorted(unknown))}")
    for shape in shapes:
        run_shape(SHAPES[shape](), names, args)


if __name__ == "__main__":
    main()
