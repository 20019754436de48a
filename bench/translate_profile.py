"""Profile of the MLX NLLB port: wall time per op type and graph size of the encoder and a step.

Usage: ``.venv/bin/python -m bench.translate_profile [--shape full|mid|quick] [--threads 1]``

Two views of the same work, both on the cached benchmark model (``bench/nllb_models.py``):

- *barriered*: the encoder and one decode step re-run op by op with ``mx.eval`` after
  each, so every op's wall time is its own (median over ``--repeats`` runs, summed per op
  type). The barriers add a little per op; the unbarriered time is printed beside it.
- *graph*: the lazy graph of the encoder output and of one step's next token
  (``mx.export_to_dot``), counted by primitive.

The decode step is taken at a fixed position mid-sentence (``--position`` tokens already in
the self-attention cache), batch 1, as ``streamtts.nllb.generate`` runs it. Results go to
``bench/results/translate-profile.md``; a ``## Findings`` section already in that file (the
A/B measurements written by hand) is kept below the new tables; ``--out NAME`` writes another
file of the results directory (``translate-profile-mid-1thread.md``).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from bench import nllb_models as models
from bench.common import command_line, machine_info, parse_args, write_results
from bench.translate_engines import THREAD_ENV

FINDINGS = "## Findings"


class OpTimer:
    """Runs each op to completion (``mx.eval``) and adds its wall time to its label."""

    def __init__(self, mx: Any) -> None:
        self.mx = mx
        self.ms: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()

    def __call__(self, label: str, fn: Callable[..., Any], *args: Any) -> Any:
        start = time.perf_counter()
        out = fn(*args)
        self.mx.eval(out)
        self.ms[label] += (time.perf_counter() - start) * 1e3
        self.calls[label] += 1
        return out


def barriered_attention(t: OpTimer, attn: Any, x: Any, *, mask: Any, cache: Any, kv: Any) -> Any:
    """``model.Attention.__call__`` with a barrier after every op."""
    mx = t.mx
    B, L, D = x.shape
    linear = f"linear {D}x{D} (q, k, v, out)"
    q = t(linear, lambda: attn._heads(attn.q_proj(x)))
    if kv is None:
        k = t(linear, lambda: attn._heads(attn.k_proj(x)))
        v = t(linear, lambda: attn._heads(attn.v_proj(x)))
        if cache is not None:
            k, v = t("kv cache write", lambda: cache.update_and_fetch(k, v))
    else:
        k, v = kv
    kind = "self" if kv is None else "cross"
    if L == 1:  # as model.Attention: one query attends with plain ops
        scores = t(f"attention scores ({kind})", lambda: (q * attn.scale) @ k.swapaxes(-1, -2))
        if mask is not None:
            scores = t("attention mask (where)", mx.where, mask, scores, -mx.inf)
        probs = t("softmax", lambda: mx.softmax(scores, axis=-1, precise=True))
        out = t(f"attention values ({kind})", mx.matmul, probs, v)
    else:
        out = t(
            f"sdpa ({kind})",
            lambda: mx.fast.scaled_dot_product_attention(q, k, v, scale=attn.scale, mask=mask),
        )
    out = t("transpose+reshape heads", lambda: out.transpose(0, 2, 1, 3).reshape(B, L, -1))
    return t(linear, lambda: attn.out_proj(out))


def barriered_ffn(t: OpTimer, layer: Any, x: Any) -> Any:
    """The feed-forward block of a layer, op by op."""
    mx = t.mx
    h = t("layer_norm", lambda: layer.final_layer_norm(x))
    D, F = layer.fc1.weight.shape[1], layer.fc1.weight.shape[0]
    h = t(f"linear {D}x{F} (fc1)", lambda: layer.fc1(h))
    h = t("relu", lambda: mx.maximum(h, 0))
    h = t(f"linear {F}x{D} (fc2)", lambda: layer.fc2(h))
    return t("residual add", lambda: x + h)


def barriered_encoder(t: OpTimer, model: Any, ids: Any, mask: Any) -> Any:
    """The encoder (as ``Model.encode``), op by op."""
    mx = t.mx
    x = t("embed + positions", lambda: model.embed(ids))
    for layer in model.encoder.layers:
        h = t("layer_norm", layer.self_attn_layer_norm, x)
        h = barriered_attention(t, layer.self_attn, h, mask=mask, cache=None, kv=None)
        x = t("residual add", mx.add, x, h)
        x = barriered_ffn(t, layer, x)
    return t("layer_norm", lambda: model.encoder.layer_norm(x))


def barriered_step(t: OpTimer, model: Any, token: Any, state: dict[str, Any]) -> Any:
    """One decode step (as ``generate.step``), op by op."""
    mx = t.mx
    cache, cross_kv, src_mask = state["cache"], state["cross_kv"], state["src_mask"]
    x = t("embed + positions", lambda: model.embed(token, cache[0].offset))
    for i, layer in enumerate(model.decoder.layers):
        h = t("layer_norm", layer.self_attn_layer_norm, x)
        h = barriered_attention(t, layer.self_attn, h, mask=None, cache=cache[i], kv=None)
        x = t("residual add", mx.add, x, h)
        h = t("layer_norm", layer.encoder_attn_layer_norm, x)
        h = barriered_attention(t, layer.encoder_attn, h, mask=src_mask, cache=None, kv=cross_kv[i])
        x = t("residual add", mx.add, x, h)
        x = barriered_ffn(t, layer, x)
    x = t("layer_norm", lambda: model.decoder.layer_norm(x))
    rows = model.shared.weight.shape[0]
    scores = t(f"output head 1024x{rows}", lambda: model.logits(x[:, -1]))
    scores = t("forbidden mask (where)", lambda: mx.where(state["forbidden"], -mx.inf, scores))
    return t("argmax", lambda: mx.argmax(scores, axis=-1))


def graph_ops(mx: Any, *arrays: Any) -> Counter[str]:
    """Primitives in the lazy graph of ``arrays`` (``mx.export_to_dot``), by name."""
    dot = io.StringIO()
    mx.export_to_dot(dot, *arrays)
    return Counter(re.findall(r'label ="([^"]+)", shape=rectangle', dot.getvalue()))


def median_ms(run: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median and p95-ish (max of the middle 90%) wall ms of ``run`` after one warm-up."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def profile(shape: models.Shape, *, repeats: int, position: int, length: int) -> dict[str, Any]:
    """Time and count the encoder and one decode step of ``shape``'s MLX fp32 model."""
    from streamtts import blas

    blas.load()
    import mlx.core as mx

    from streamtts.nllb.generate import UNK_ID, pad_batch
    from streamtts.nllb.load import load

    model = load(models.mlx_model(shape)).model
    args = model.args
    src = models.source_ids(shape, sentences=1, length=length)[0]
    ids, src_mask = pad_batch([src], args.pad_token_id)

    # Encoder: whole, then op by op, then its graph.
    encoder = median_ms(lambda: mx.eval(model.encode(ids, src_mask)), repeats)
    enc_t = OpTimer(mx)
    for _ in range(repeats):
        barriered_encoder(enc_t, model, ids, src_mask)
    enc_ops = graph_ops(mx, model.encode(ids, src_mask))

    # Decode state at `position`: cache filled by a prefill, cross K/V computed once.
    memory = model.encode(ids, src_mask)
    cross_kv = model.cross_kv(memory)
    mx.eval(cross_kv)
    cache = model.make_cache()
    prefill = mx.array([[args.decoder_start_token_id] * position], dtype=mx.int32)
    mx.eval(model.decode(prefill, cross_kv=cross_kv, src_mask=src_mask, cache=cache))
    forbidden = (mx.arange(args.vocab_size)[:, None] == mx.array([UNK_ID, 2])[None]).any(axis=1)
    state = {"cache": cache, "cross_kv": cross_kv, "src_mask": src_mask, "forbidden": forbidden}
    token = mx.array([[5]], dtype=mx.int32)

    def step() -> Any:
        for c in cache:
            c.offset = position  # every run writes the same cache row
        hidden = model.decode(token, cross_kv=cross_kv, src_mask=src_mask, cache=cache)
        scores = mx.where(forbidden, -mx.inf, model.logits(hidden[:, -1]))
        return mx.argmax(scores, axis=-1)

    decode = median_ms(lambda: mx.eval(step()), repeats)
    step_t = OpTimer(mx)
    for _ in range(repeats):
        for c in cache:
            c.offset = position
        barriered_step(step_t, model, token, state)
    step_ops = graph_ops(mx, step())
    return {
        "encoder": encoder,
        "decode": decode,
        "encoder_ops": {k: v / repeats for k, v in enc_t.ms.items()},
        "encoder_calls": {k: v // repeats for k, v in enc_t.calls.items()},
        "step_ops": {k: v / repeats for k, v in step_t.ms.items()},
        "step_calls": {k: v // repeats for k, v in step_t.calls.items()},
        "encoder_graph": enc_ops,
        "step_graph": step_ops,
        "source_ids": len(src),
    }


def op_table(ms: dict[str, float], calls: dict[str, int]) -> list[str]:
    total = sum(ms.values())
    lines = ["| op (barriered) | calls | ms | share |", "|---|---|---|---|"]
    for label, value in sorted(ms.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {label} | {calls[label]} | {value:.2f} | {value / total:.0%} |")
    lines.append(f"| **sum** | {sum(calls.values())} | {total:.1f} | |")
    return lines


def graph_table(ops: Counter[str]) -> str:
    parts = ", ".join(f"{name} {count}" for name, count in ops.most_common())
    return f"{sum(ops.values())} nodes: {parts}"


def render(result: dict[str, Any], *, info: dict[str, str], command: str, position: int) -> str:
    enc, enc_p95 = result["encoder"]
    dec, dec_p95 = result["decode"]
    lines = [
        "# Profile of the MLX NLLB port (encoder and one decode step)",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `{command}`.",
        "",
        "## Machine",
        "",
        *(f"- {key}: {value}" for key, value in info.items()),
        "",
        "## Whole (no barriers)",
        "",
        f"- encoder, one sentence of {result['source_ids']} source ids: "
        f"median {enc:.1f} ms (p95 {enc_p95:.1f})",
        f"- decode step at position {position}, batch 1 (decoder, head, mask, argmax): "
        f"median {dec:.1f} ms (p95 {dec_p95:.1f})",
        "",
        "## Decode step, op by op",
        "",
        *op_table(result["step_ops"], result["step_calls"]),
        "",
        f"Graph of one step's next token: {graph_table(result['step_graph'])}.",
        "",
        "## Encoder, op by op",
        "",
        *op_table(result["encoder_ops"], result["encoder_calls"]),
        "",
        f"Graph of the encoder output: {graph_table(result['encoder_graph'])}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Parse options, profile, print the report and write it to ``bench/results``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("full", "mid", "quick"), default="full")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--position", type=int, default=16, help="tokens already in the cache")
    parser.add_argument("--length", type=int, default=24, help="source ids (±3)")
    parser.add_argument("--out", default="translate-profile.md", help="results file name")
    opts = parse_args(parser, smoke={"shape": "quick", "repeats": 1})
    os.environ.update(dict.fromkeys(THREAD_ENV, str(opts.threads)))
    shape = {"full": models.full_shape, "mid": models.mid_shape, "quick": models.quick_shape}
    info = machine_info()
    result = profile(
        shape[opts.shape](), repeats=opts.repeats, position=opts.position, length=opts.length
    )
    from importlib import metadata

    from streamtts import blas

    info["load average after (1, 5, 15 min)"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    info["versions"] = f"mlx {metadata.version('mlx')}, numpy {metadata.version('numpy')}"
    info["BLAS"] = f"{blas.in_use()} ({blas.resolved_library()}), {opts.threads} thread(s)"
    report = render(result, info=info, command=command_line(), position=opts.position)
    print(report)
    out = opts.results / opts.out
    old = out.read_text() if out.is_file() else ""
    if FINDINGS in old:
        report += "\n" + old[old.index(FINDINGS) :]
    write_results(opts.results, opts.out, report)


if __name__ == "__main__":
    main()
