"""Greedy decoding for the MLX NLLB model: batched, cached, with switchable guards.

Decoding starts from ``</s>`` followed by the target-language token (transformers'
``forced_bos_token_id``), fed together as one two-token prefill; afterwards one token per
step goes through the decoder with a preallocated self-attention cache, and the
cross-attention keys and values are computed once. As in mlx-lm, step t+1 is queued with
``mx.async_eval`` before token t is read back on the host, so Python bookkeeping (end
checks, loop detection) overlaps the device work. Several sentences decode as one
right-padded batch; a finished sentence rides along until the last one ends.

Guards for real use, each switchable off (all off = plain greedy decoding, identical to
``transformers``' ``generate(num_beams=1, do_sample=False)``): an output length cap
relative to the input, cutting repetition loops, and never emitting ``<unk>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlx.core as mx

from streamtts.nllb.load import NllbBundle
from streamtts.nllb.model import Model

# A loop is a unit of up to MAX_LOOP_UNIT tokens repeated back to back until the repeats
# span at least MIN_LOOP_SPAN tokens (and at least MIN_LOOP_REPEATS copies): long enough
# that real text ("ははは", "1, 1, 1") is not cut, short enough to stop degenerate output.
MAX_LOOP_UNIT = 8
MIN_LOOP_REPEATS = 3
MIN_LOOP_SPAN = 8
UNK_ID = 3  # fairseq's dictionary always puts <unk> at 3


@dataclass(frozen=True)
class GenerateOptions:
    """Limits and guards for :func:`generate`.

    Attributes:
        max_new_tokens: most tokens generated after the language token, counting the
            final ``</s>``; None = no fixed cap beyond the config's ``max_length`` (NLLB:
            200, start and language tokens included) and the position table.
        max_len_ratio: cap each output at ``ratio * len(source ids) + max_len_extra``
            tokens; None turns the relative cap off.
        max_len_extra: the constant part of the relative cap.
        no_repeat_loops: stop a sentence once its output ends in a repetition loop,
            keeping one copy of the repeated unit.
        suppress_unk: never generate ``<unk>``.
        eos: stop a sentence at ``</s>`` (dropped from the output). False never generates
            ``</s>`` and decodes to the cap, as transformers does under ``min_new_tokens``:
            benchmarks use it to force a fixed length.
    """

    max_new_tokens: int | None = None
    max_len_ratio: float | None = 2.0
    max_len_extra: int = 10
    no_repeat_loops: bool = True
    suppress_unk: bool = True
    eos: bool = True

    @classmethod
    def raw(cls, *, max_new_tokens: int | None = None, eos: bool = True) -> GenerateOptions:
        """Every guard off: plain greedy decoding."""
        return cls(
            max_new_tokens=max_new_tokens,
            max_len_ratio=None,
            no_repeat_loops=False,
            suppress_unk=False,
            eos=eos,
        )


def pad_batch(src_ids: list[list[int]], pad_id: int) -> tuple[mx.array, mx.array]:
    """Right-pad ``src_ids`` into ids [B, S] and a key mask [B, 1, 1, S] (True = real token)."""
    width = max(len(ids) for ids in src_ids)
    rows = [ids + [pad_id] * (width - len(ids)) for ids in src_ids]
    lengths = mx.array([len(ids) for ids in src_ids])
    mask = mx.arange(width)[None] < lengths[:, None]
    return mx.array(rows, dtype=mx.int32), mask[:, None, None, :]


def loop_start(tokens: list[int]) -> int | None:
    """Index where a repetition loop at the end of ``tokens`` begins its second copy, or None."""
    n = len(tokens)
    for unit in range(1, MAX_LOOP_UNIT + 1):
        repeats = max(MIN_LOOP_REPEATS, -(-MIN_LOOP_SPAN // unit))
        span = unit * repeats
        if span > n:
            break
        tail = tokens[n - span :]
        if tail == tail[:unit] * repeats:
            return n - span + unit
    return None


def _length_caps(model: Model, src_ids: list[list[int]], options: GenerateOptions) -> list[int]:
    # Two target positions go to the start token and the language token; without other
    # limits the config's max_length applies, as in transformers' generate.
    hard = min(model.max_positions, model.args.max_length or model.max_positions) - 2
    if options.max_new_tokens is not None:
        hard = min(hard, options.max_new_tokens)
    if options.max_len_ratio is None:
        return [hard] * len(src_ids)
    return [
        min(hard, int(options.max_len_ratio * len(ids)) + options.max_len_extra) for ids in src_ids
    ]


def generate(
    bundle_or_model: NllbBundle | Model,
    src_ids: list[list[int]],
    *,
    tgt_lang_id: int,
    options: GenerateOptions = GenerateOptions(),
) -> list[list[int]]:
    """Greedy translations of a batch of encoded sentences (``[src_lang] pieces </s>`` each).

    Returns, per sentence, the generated full-vocabulary ids without the language token
    and without the final ``</s>``.
    """
    model = bundle_or_model.model if isinstance(bundle_or_model, NllbBundle) else bundle_or_model
    if not src_ids:
        return []
    if any(len(ids) > model.max_positions for ids in src_ids):
        raise ValueError(f"a source sentence is longer than {model.max_positions} tokens")
    args = model.args
    caps = _length_caps(model, src_ids, options)
    steps = max(caps)
    outputs: list[list[int]] = [[] for _ in src_ids]
    if steps <= 0:
        return outputs

    src, src_mask = pad_batch(src_ids, args.pad_token_id)
    cross_kv = model.cross_kv(model.encode(src, src_mask))
    cache = model.make_cache()
    vocab_map = model.vocab_map if "vocab_map" in model else None
    # Head columns that may never win, as a mask built once (None: nothing forbidden).
    banned = [UNK_ID] if options.suppress_unk else []
    if not options.eos:
        banned.append(args.eos_token_id)
    forbidden = None
    if banned:
        columns = mx.arange(args.vocab_size) if vocab_map is None else vocab_map
        forbidden = (columns[:, None] == mx.array(banned)[None]).any(axis=1)

    def step(tokens: mx.array) -> mx.array:
        hidden = model.decode(tokens, cross_kv=cross_kv, src_mask=src_mask, cache=cache)
        scores = model.logits(hidden[:, -1])
        if forbidden is not None:
            scores = mx.where(forbidden, -mx.inf, scores)
        best = mx.argmax(scores, axis=-1)
        return best if vocab_map is None else vocab_map[best]

    start = [args.decoder_start_token_id, tgt_lang_id]
    token = step(mx.array([start] * len(src_ids), dtype=mx.int32))
    mx.async_eval(token)
    active = set(range(len(src_ids)))
    for n in range(steps):
        upcoming = None
        if n + 1 < steps:
            upcoming = step(token[:, None])
            mx.async_eval(upcoming)
        for i, value in enumerate(token.tolist()):
            if i not in active:
                continue
            if value == args.eos_token_id:
                active.discard(i)
                continue
            outputs[i].append(value)
            if options.no_repeat_loops and (cut := loop_start(outputs[i])) is not None:
                del outputs[i][cut:]
                active.discard(i)
            elif len(outputs[i]) >= caps[i]:
                active.discard(i)
        if not active:
            break
        token = upcoming
    return outputs
