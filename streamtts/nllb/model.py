"""NLLB-200 (transformers' M2M100 architecture) in MLX, written to match the reference exactly.

A pre-norm transformer encoder-decoder: token embeddings shared by encoder, decoder and
output head, scaled by √d_model when ``scale_embedding``; fixed sinusoidal positions (sin
half then cos half, numbered from ``pad_token_id + 1`` like fairseq, with a zero padding
row); ReLU feed-forward blocks; a final layer norm after each stack; no logits bias. The
layout follows mlx-lm: ``ModelArgs`` keeps the Hugging Face config names, ``Model.sanitize``
is the pure weight-renaming step shared by converter and loader, and the decoder's
self-attention cache is a preallocating ``KVCache`` like mlx-lm's (written here, because
importing ``mlx_lm`` pulls in transformers and torch: seconds of start-up on the speaking
path). Cross-attention keys and values are computed once per batch of sentences
(:meth:`Model.cross_kv`) rather than per step.
An optional pruned output head (``lm_head`` + ``vocab_map``) scores only the tokens the
target language can use; the input embedding always stays whole.

On the CPU, MLX has no fused layer-norm or attention kernel: ``mx.fast.layer_norm`` and
``mx.fast.scaled_dot_product_attention`` fall back to chains of small ops, each dispatched
on its own, and a one-token decode step is ~1,600 of them. So the fixed-shape pieces (layer
norms, feed-forward blocks) run through ``mx.compile``, which fuses their elementwise ops,
and a single query attends with four plain ops; both give the same logits bit for bit
(bench/results/translate-profile.md).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any

import mlx.core as mx
import mlx.nn as nn

# One (keys, values) pair per decoder layer, each [batch, heads, source length, head dim].
CrossKV = list[tuple[mx.array, mx.array]]
LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm's default, which M2M100 uses


@dataclass
class ModelArgs:
    """Model shape, with the field names of the Hugging Face ``config.json``."""

    vocab_size: int
    d_model: int
    encoder_layers: int
    decoder_layers: int
    encoder_attention_heads: int
    decoder_attention_heads: int
    encoder_ffn_dim: int
    decoder_ffn_dim: int
    max_position_embeddings: int = 1024
    scale_embedding: bool = True
    pad_token_id: int = 1
    eos_token_id: int = 2
    decoder_start_token_id: int = 2
    activation_function: str = "relu"
    # transformers' default cap on a generated sequence, start token included (NLLB: 200).
    max_length: int | None = None
    # {"language": ..., "size": rows of the pruned head}; written by `streamtts convert`.
    vocab_pruning: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> ModelArgs:
        """Build from a config dict, ignoring keys this model does not use."""
        fields = inspect.signature(cls).parameters
        args = cls(**{k: v for k, v in config.items() if k in fields})
        if args.activation_function != "relu":
            raise ValueError(f"unsupported activation {args.activation_function!r} (NLLB: relu)")
        return args


class KVCache:
    """One decoder layer's self-attention keys and values, grown in blocks of ``step`` positions.

    Keys and values are [batch, heads, positions, head dim]; ``offset`` counts the positions
    stored. Writing into preallocated blocks keeps a step from copying the whole cache.
    """

    step = 256

    def __init__(self) -> None:
        self.keys: mx.array | None = None
        self.values: mx.array | None = None
        self.offset = 0

    def update_and_fetch(self, keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]:
        """Append ``keys``/``values`` [B, H, L, D] and return all positions so far."""
        start, length = self.offset, keys.shape[2]
        if self.keys is None or start + length > self.keys.shape[2]:
            B, H, _, D = keys.shape
            blocks = -(-length // self.step) * self.step
            new_k = mx.zeros((B, H, blocks, D), keys.dtype)
            new_v = mx.zeros((B, H, blocks, values.shape[3]), values.dtype)
            if self.keys is None:
                self.keys, self.values = new_k, new_v
            else:
                self.keys = mx.concatenate([self.keys[..., :start, :], new_k], axis=2)
                self.values = mx.concatenate([self.values[..., :start, :], new_v], axis=2)
        self.offset += length
        self.keys[..., start : self.offset, :] = keys
        self.values[..., start : self.offset, :] = values
        return self.keys[..., : self.offset, :], self.values[..., : self.offset, :]


@mx.compile
def _layer_norm(x: mx.array, weight: mx.array, bias: mx.array) -> mx.array:
    return mx.fast.layer_norm(x, weight, bias, LAYER_NORM_EPS)


@mx.compile
def _feed_forward(
    x: mx.array,
    norm_w: mx.array,
    norm_b: mx.array,
    w1: mx.array,
    b1: mx.array,
    w2: mx.array,
    b2: mx.array,
) -> mx.array:
    # x + fc2(relu(fc1(layer_norm(x)))) with nn.Linear's own addmm: [B, L, D] -> [B, L, D]
    h = mx.fast.layer_norm(x, norm_w, norm_b, LAYER_NORM_EPS)
    h = mx.maximum(mx.addmm(b1, h, w1.T), 0)
    return x + mx.addmm(b2, h, w2.T)


class LayerNorm(nn.LayerNorm):
    """``nn.LayerNorm`` (eps 1e-5) through one compiled function: same weights, same values."""

    def __call__(self, x: mx.array) -> mx.array:
        return _layer_norm(x, self.weight, self.bias)


def feed_forward(layer: EncoderLayer | DecoderLayer, x: mx.array) -> mx.array:
    """A layer's pre-norm ReLU feed-forward block with its residual connection."""
    fc1, fc2, norm = layer.fc1, layer.fc2, layer.final_layer_norm
    if isinstance(fc1, nn.Linear) and isinstance(fc2, nn.Linear):
        return _feed_forward(x, norm.weight, norm.bias, fc1.weight, fc1.bias, fc2.weight, fc2.bias)
    return x + fc2(nn.relu(fc1(norm(x))))  # quantized layers: their own kernels


def sinusoidal_positions(num_positions: int, dims: int, padding_idx: int) -> mx.array:
    """Fairseq's position table: [sin | cos] halves, a zero column if ``dims`` is odd, pad row 0."""
    half = dims // 2
    freqs = mx.exp(mx.arange(half, dtype=mx.float32) * -(math.log(10000) / (half - 1)))
    angles = mx.arange(num_positions, dtype=mx.float32)[:, None] * freqs[None]
    table = mx.concatenate([mx.sin(angles), mx.cos(angles)], axis=1)
    if dims % 2:
        table = mx.concatenate([table, mx.zeros((num_positions, 1))], axis=1)
    return mx.where((mx.arange(num_positions) == padding_idx)[:, None], 0.0, table)


class Attention(nn.Module):
    """Multi-head attention with biased projections, used for self- and cross-attention."""

    def __init__(self, dims: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dims // heads) ** -0.5
        self.q_proj = nn.Linear(dims, dims)
        self.k_proj = nn.Linear(dims, dims)
        self.v_proj = nn.Linear(dims, dims)
        self.out_proj = nn.Linear(dims, dims)

    def _heads(self, x: mx.array) -> mx.array:
        # [B, L, D] -> [B, H, L, D/H]
        B, L, _ = x.shape
        return x.reshape(B, L, self.heads, -1).transpose(0, 2, 1, 3)

    def key_values(self, x: mx.array) -> tuple[mx.array, mx.array]:
        """Keys and values of ``x``, split into heads."""
        return self._heads(self.k_proj(x)), self._heads(self.v_proj(x))

    def __call__(
        self,
        x: mx.array,
        *,
        mask: mx.array | str | None = None,
        cache: KVCache | None = None,
        kv: tuple[mx.array, mx.array] | None = None,
    ) -> mx.array:
        """Attend from ``x`` to itself (appending to ``cache``), or to precomputed ``kv``."""
        B, L, _ = x.shape
        q = self._heads(self.q_proj(x))
        if kv is None:
            k, v = self.key_values(x)
            if cache is not None:
                k, v = cache.update_and_fetch(k, v)
        else:
            k, v = kv
        if L == 1:
            # One query (a decode step): fewer ops than the CPU fallback of mx.fast's sdpa.
            scores = (q * self.scale) @ k.swapaxes(-1, -2)  # [B, H, 1, keys]
            if mask is not None:
                scores = mx.where(mask, scores, -mx.inf)
            out = mx.softmax(scores, axis=-1, precise=True) @ v
        else:
            out = mx.fast.scaled_dot_product_attention(q, k, v, scale=self.scale, mask=mask)
        return self.out_proj(out.transpose(0, 2, 1, 3).reshape(B, L, -1))


class EncoderLayer(nn.Module):
    """Pre-norm self-attention and ReLU feed-forward, each with a residual connection."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        dims = args.d_model
        self.self_attn = Attention(dims, args.encoder_attention_heads)
        self.self_attn_layer_norm = LayerNorm(dims)
        self.fc1 = nn.Linear(dims, args.encoder_ffn_dim)
        self.fc2 = nn.Linear(args.encoder_ffn_dim, dims)
        self.final_layer_norm = LayerNorm(dims)

    def __call__(self, x: mx.array, mask: mx.array) -> mx.array:
        x = x + self.self_attn(self.self_attn_layer_norm(x), mask=mask)
        return feed_forward(self, x)


class DecoderLayer(nn.Module):
    """Pre-norm causal self-attention, cross-attention to the encoder, ReLU feed-forward."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        dims = args.d_model
        self.self_attn = Attention(dims, args.decoder_attention_heads)
        self.self_attn_layer_norm = LayerNorm(dims)
        self.encoder_attn = Attention(dims, args.decoder_attention_heads)
        self.encoder_attn_layer_norm = LayerNorm(dims)
        self.fc1 = nn.Linear(dims, args.decoder_ffn_dim)
        self.fc2 = nn.Linear(args.decoder_ffn_dim, dims)
        self.final_layer_norm = LayerNorm(dims)

    def __call__(
        self,
        x: mx.array,
        *,
        cross_kv: tuple[mx.array, mx.array],
        src_mask: mx.array,
        cache: KVCache | None,
    ) -> mx.array:
        # Several query positions at once (prefill, teacher forcing) need the causal mask;
        # a single new position may see everything already in the cache.
        causal = "causal" if x.shape[1] > 1 else None
        x = x + self.self_attn(self.self_attn_layer_norm(x), mask=causal, cache=cache)
        x = x + self.encoder_attn(self.encoder_attn_layer_norm(x), mask=src_mask, kv=cross_kv)
        return feed_forward(self, x)


class Encoder(nn.Module):
    """The encoder stack and its final layer norm (embedding lives in :class:`Model`)."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.layers = [EncoderLayer(args) for _ in range(args.encoder_layers)]
        self.layer_norm = LayerNorm(args.d_model)

    def __call__(self, x: mx.array, mask: mx.array) -> mx.array:
        for layer in self.layers:
            x = layer(x, mask)
        return self.layer_norm(x)


class Decoder(nn.Module):
    """The decoder stack and its final layer norm."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.layers = [DecoderLayer(args) for _ in range(args.decoder_layers)]
        self.layer_norm = LayerNorm(args.d_model)

    def __call__(
        self, x: mx.array, *, cross_kv: CrossKV, src_mask: mx.array, cache: list[KVCache] | None
    ) -> mx.array:
        for i, layer in enumerate(self.layers):
            x = layer(x, cross_kv=cross_kv[i], src_mask=src_mask, cache=cache[i] if cache else None)
        return self.layer_norm(x)


class Model(nn.Module):
    """NLLB-200 / M2M100 for translation: encode once, then decode step by step."""

    def __init__(self, args: ModelArgs) -> None:
        super().__init__()
        self.args = args
        self.shared = nn.Embedding(args.vocab_size, args.d_model)
        self.encoder = Encoder(args)
        self.decoder = Decoder(args)
        self.embed_scale = math.sqrt(args.d_model) if args.scale_embedding else 1.0
        # Position p of a sequence uses row p + pad + 1; fairseq reserves the rows below.
        self._first_position = args.pad_token_id + 1
        self._positions = sinusoidal_positions(
            args.max_position_embeddings + self._first_position, args.d_model, args.pad_token_id
        )
        if args.vocab_pruning:
            rows = args.vocab_pruning["size"]
            self.lm_head = nn.Linear(args.d_model, rows, bias=False)
            self.vocab_map = mx.zeros((rows,), dtype=mx.int32)

    @property
    def max_positions(self) -> int:
        """The longest source or target sequence the position table covers."""
        return self.args.max_position_embeddings

    def embed(self, ids: mx.array, offset: int = 0) -> mx.array:
        """Scaled token embeddings plus the positions ``offset`` … ``offset + L - 1``; [B, L, D]."""
        x = self.shared(ids) * self.embed_scale
        start = offset + self._first_position
        return x + self._positions[start : start + ids.shape[1]].astype(x.dtype)

    def encode(self, src_ids: mx.array, src_mask: mx.array) -> mx.array:
        """Encoder output [B, S, D] for right-padded ``src_ids`` [B, S].

        ``src_mask`` [B, 1, 1, S] is True at real tokens; padded positions are never attended.
        """
        return self.encoder(self.embed(src_ids), src_mask)

    def cross_kv(self, memory: mx.array) -> CrossKV:
        """Each decoder layer's cross-attention keys and values, computed once per batch."""
        return [layer.encoder_attn.key_values(memory) for layer in self.decoder.layers]

    def make_cache(self) -> list[KVCache]:
        """A fresh self-attention cache, one per decoder layer."""
        return [KVCache() for _ in self.decoder.layers]

    def decode(
        self,
        tgt_ids: mx.array,
        *,
        cross_kv: CrossKV,
        src_mask: mx.array,
        cache: list[KVCache] | None = None,
    ) -> mx.array:
        """Decoder hidden states [B, T, D] for ``tgt_ids`` [B, T], continuing ``cache``."""
        offset = cache[0].offset if cache else 0
        x = self.embed(tgt_ids, offset)
        return self.decoder(x, cross_kv=cross_kv, src_mask=src_mask, cache=cache)

    def logits(self, hidden: mx.array) -> mx.array:
        """Output scores: the full vocabulary (tied head) or the pruned head's rows."""
        if "lm_head" in self:
            return self.lm_head(hidden)
        return self.shared.as_linear(hidden)

    def __call__(self, src_ids: mx.array, tgt_ids: mx.array, src_mask: mx.array) -> mx.array:
        """Teacher-forced logits [B, T, V] for a whole target sequence, without a cache."""
        memory = self.encode(src_ids, src_mask)
        hidden = self.decode(tgt_ids, cross_kv=self.cross_kv(memory), src_mask=src_mask)
        return self.logits(hidden)

    @staticmethod
    def sanitize(weights: dict[str, mx.array]) -> dict[str, mx.array]:
        """Hugging Face checkpoint names → this model's names, dropping tied copies.

        The embeddings of encoder and decoder and an unpruned ``lm_head`` are all the
        shared matrix, and sinusoidal positions are computed, not stored.
        """
        out = {}
        for name, value in weights.items():
            name = name.removeprefix("model.")
            if ".embed_tokens." in name or ".embed_positions." in name:
                continue
            if name == "lm_head.weight" and "vocab_map" not in weights:
                continue
            out[name] = value
        return out
