"""Read a Hugging Face checkpoint's weights into MLX arrays, without running pickled code.

``*.safetensors`` files are read by MLX directly (bfloat16 included). ``pytorch_model.bin``
files, which is how facebook/nllb-200-distilled-600M ships, are pickles; they are opened
with ``torch.load(weights_only=True)``, which only rebuilds tensors and refuses any other
object, and memory-mapped so a 2.5 GB checkpoint is not held twice. Sharded checkpoints
(``*.index.json``) are read shard by shard. This and the converter are the only modules
that import torch, and only when a ``.bin`` file is actually read.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlx.core as mx

from streamtts.errors import StreamttsError

SAFETENSORS = "model.safetensors"
PYTORCH = "pytorch_model.bin"


class CheckpointError(StreamttsError):
    """The checkpoint directory cannot be read; the message names what is missing."""


def weight_files(checkpoint: Path) -> list[Path]:
    """The weight files of ``checkpoint``: safetensors preferred, a sharded index followed."""
    for single in (SAFETENSORS, PYTORCH):
        index = checkpoint / f"{single}.index.json"
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            return [checkpoint / name for name in shards]
        if (checkpoint / single).is_file():
            return [checkpoint / single]
    raise CheckpointError(f"no {SAFETENSORS} or {PYTORCH} in {checkpoint}")


def _read_pytorch(path: Path) -> dict[str, mx.array]:
    try:
        import torch
    except ImportError:
        raise CheckpointError(
            f"reading {path.name} needs PyTorch: pip install 'streamtts[convert]'"
        ) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:  # torch raises bare Exception subclasses of many kinds
        raise CheckpointError(f"cannot read {path}: {error}") from None
    weights = {}
    for name, tensor in state.items():
        if tensor.dtype == torch.bfloat16:
            # numpy has no bfloat16: move the raw bits across and reinterpret them.
            bits = mx.array(tensor.contiguous().view(torch.uint16).numpy())
            weights[name] = bits.view(mx.bfloat16)
        else:
            weights[name] = mx.array(tensor.numpy())
    return weights


def read_checkpoint(checkpoint: Path) -> dict[str, mx.array]:
    """Every tensor of the checkpoint in ``checkpoint`` (a directory), by its saved name."""
    weights: dict[str, mx.array] = {}
    for path in weight_files(checkpoint):
        if not path.is_file():
            raise CheckpointError(f"checkpoint shard {path} is missing")
        if path.suffix == ".safetensors":
            weights.update(mx.load(str(path)))
        else:
            weights.update(_read_pytorch(path))
    return weights
