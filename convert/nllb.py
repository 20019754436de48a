"""Hugging Face NLLB-200 checkpoint → MLX model directory, written atomically.

Conversion is the loader run in reverse: the checkpoint's weights go through the same
``Model.sanitize`` and ``build_model`` the runtime uses, so a directory that converts is a
directory that loads. Options change only what is stored: the dtype of float weights,
affine quantization of every layer whose input width divides by the group size
(the shared embedding included), and a pruned output head that keeps the rows a target
language can use (:func:`streamtts.convert.vocab.japanese_token_ids`), padded to a multiple
of 64 with copies of ``</s>``'s row, which cannot change an argmax. Float32 matrices are
stored transposed (``matrix_layout``, see ``streamtts/nllb/load.py``) so that loading them
column-major costs no copy. Everything is written into a staging sibling directory that
replaces the output only when complete (``staging.py``); a manifest of sizes and sha256
sums lets the loader reject a damaged copy later. Options and the output path are checked
before any download.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from streamtts.convert.checkpoint import CheckpointError, read_checkpoint
from streamtts.convert.staging import check_directory_writable, replace_directory
from streamtts.convert.vocab import japanese_token_ids
from streamtts.errors import StreamttsError
from streamtts.nllb.load import (
    CONFIG,
    MATRIX_LAYOUT,
    SPM_MODEL,
    build_model,
    stored_transposed,
    write_manifest,
)
from streamtts.nllb.model import Model
from streamtts.nllb.tokenizer import NllbTokenizer

DTYPES = {"float32": mx.float32, "float16": mx.float16, "bfloat16": mx.bfloat16}
QUANTIZE_BITS = (4, 8)
GROUP_SIZES = (32, 64, 128)
PRUNE_MULTIPLE = 64  # head rows padded so matmul tiles and quantization groups stay whole


class ConvertError(StreamttsError):
    """Conversion cannot proceed; the message says why and what to change."""


@dataclass(frozen=True)
class ConvertOptions:
    """What to store: ``dtype`` of float weights, ``quantize`` bits (4/8, None = off) with
    ``group_size``, ``prune_vocab`` (a language code such as ``jpn_Jpan``, None = full head),
    and ``force`` to replace an existing output directory."""

    dtype: str = "float32"
    quantize: int | None = None
    group_size: int = 64
    prune_vocab: str | None = None
    force: bool = False


@dataclass(frozen=True)
class ConvertResult:
    """What was written: directory, total bytes, dtype, quantization and head rows."""

    out: Path
    size_bytes: int
    dtype: str
    quantization: dict[str, Any] | None
    vocab_size: int
    kept_vocab: int | None


def check_options(options: ConvertOptions, out: Path) -> None:
    """Raise :class:`ConvertError` for a bad option or an output that cannot be written.

    Cheap, so the command line calls it before downloading anything.
    """
    if options.dtype not in DTYPES:
        raise ConvertError(f"--dtype must be one of {', '.join(DTYPES)}, not {options.dtype!r}")
    if options.quantize is not None and options.quantize not in QUANTIZE_BITS:
        raise ConvertError(f"--quantize must be 4 or 8, not {options.quantize}")
    if options.group_size not in GROUP_SIZES:
        raise ConvertError(f"--group-size must be 32, 64 or 128, not {options.group_size}")
    if out.exists() and not options.force:
        raise ConvertError(f"{out} already exists; pass --force to replace it")
    try:
        check_directory_writable(out)
    except StreamttsError as error:
        raise ConvertError(str(error)) from None


def _read_source(checkpoint: Path) -> tuple[dict[str, Any], NllbTokenizer]:
    try:
        config = json.loads((checkpoint / CONFIG).read_text())
    except (OSError, ValueError) as error:
        raise ConvertError(f"cannot read {checkpoint / CONFIG}: {error}") from None
    if not isinstance(config, dict):
        raise ConvertError(f"{checkpoint / CONFIG} is not a model config (a JSON object)")
    if config.get("model_type") != "m2m_100":
        raise ConvertError(
            f"{checkpoint} holds a {config.get('model_type')!r} model, not NLLB-200 (m2m_100)"
        )
    if not (checkpoint / SPM_MODEL).is_file():
        raise ConvertError(f"{checkpoint} has no {SPM_MODEL}")
    try:
        tokenizer = NllbTokenizer.from_file(checkpoint / SPM_MODEL)
    except (OSError, RuntimeError, ValueError):
        raise ConvertError(f"{checkpoint / SPM_MODEL} is not a SentencePiece model") from None
    if not isinstance(config.get("vocab_size"), int):
        raise ConvertError(f"{checkpoint / CONFIG} has no integer vocab_size")
    if len(tokenizer) > config["vocab_size"]:
        raise ConvertError(
            f"{SPM_MODEL} needs {len(tokenizer)} ids but the model has {config['vocab_size']}"
        )
    return config, tokenizer


def prune_head(
    weights: dict[str, mx.array], tokenizer: NllbTokenizer, lang: str
) -> tuple[dict[str, mx.array], dict[str, Any]]:
    """Add a pruned ``lm_head`` and its ``vocab_map`` for ``lang``.

    Returns the new weights and the ``vocab_pruning`` config entry.
    """
    try:
        kept = japanese_token_ids(tokenizer, lang)
    except ValueError as error:
        raise ConvertError(str(error)) from None
    padding = -len(kept) % PRUNE_MULTIPLE
    rows = mx.array(kept + [tokenizer.eos_id] * padding, dtype=mx.int32)
    pruned = {**weights, "lm_head.weight": weights["shared.weight"][rows], "vocab_map": rows}
    return pruned, {"language": lang, "kept": len(kept), "size": rows.shape[0]}


def quantize(model: nn.Module, *, bits: int, group_size: int) -> dict[str, Any]:
    """Quantize, in place, every layer whose input width divides by ``group_size``.

    Returns the ``quantization`` config entry the loader rebuilds the layers from.
    """
    nn.quantize(
        model,
        group_size=group_size,
        bits=bits,
        class_predicate=lambda _, m: (
            hasattr(m, "to_quantized") and m.weight.shape[-1] % group_size == 0
        ),
    )
    return {"group_size": group_size, "bits": bits, "mode": "affine"}


def save_weights(directory: Path, model: nn.Module) -> None:
    """The model's arrays as ``model.safetensors``, float32 matrices transposed (``[in, out]``)."""
    weights = {
        name: mx.contiguous(array.T) if stored_transposed(name, array) else array
        for name, array in tree_flatten(model.parameters())
    }
    mx.save_safetensors(str(directory / "model.safetensors"), weights, metadata={"format": "mlx"})


def convert_checkpoint(
    checkpoint: Path,
    out: Path,
    *,
    options: ConvertOptions = ConvertOptions(),
) -> ConvertResult:
    """Convert the Hugging Face checkpoint directory ``checkpoint`` into ``out``."""
    checkpoint, out = Path(checkpoint), Path(out)
    check_options(options, out)
    config, tokenizer = _read_source(checkpoint)
    try:
        weights = Model.sanitize(read_checkpoint(checkpoint))
    except CheckpointError as error:
        raise ConvertError(str(error)) from None

    config = {k: v for k, v in config.items() if k not in ("torch_dtype", "quantization")}
    config["dtype"] = options.dtype
    config["vocab_pruning"] = None
    if options.prune_vocab:
        weights, config["vocab_pruning"] = prune_head(weights, tokenizer, options.prune_vocab)
    config["matrix_layout"] = MATRIX_LAYOUT
    dtype = DTYPES[options.dtype]
    weights = {
        k: v.astype(dtype) if mx.issubdtype(v.dtype, mx.floating) else v for k, v in weights.items()
    }
    try:
        model = build_model(config, weights)
    except (ValueError, KeyError, TypeError) as error:
        raise ConvertError(f"{checkpoint} does not match its config.json: {error}") from None
    config["quantization"] = None
    if options.quantize:
        config["quantization"] = quantize(
            model, bits=options.quantize, group_size=options.group_size
        )

    def write(staging: Path) -> None:
        save_weights(staging, model)
        (staging / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        shutil.copyfile(checkpoint / SPM_MODEL, staging / SPM_MODEL)
        write_manifest(staging)

    replace_directory(out, write)
    pruning = config["vocab_pruning"]
    return ConvertResult(
        out=out,
        size_bytes=sum(p.stat().st_size for p in out.iterdir()),
        dtype=options.dtype,
        quantization=config["quantization"],
        vocab_size=config["vocab_size"],
        kept_vocab=pruning["kept"] if pruning else None,
    )
