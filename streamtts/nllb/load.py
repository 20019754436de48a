"""Load an MLX NLLB model directory (the output of ``streamtts convert``), checking it first.

A model directory holds ``config.json`` (the Hugging Face config plus ``quantization`` and
``vocab_pruning``), weights as ``*.safetensors``, ``sentencepiece.bpe.model`` and
``manifest.json`` with every other file's size and sha256. Loading follows mlx-lm: config
→ ``ModelArgs`` → empty model → quantize exactly the layers whose ``scales`` the weights
carry → ``load_weights(strict=True)`` → evaluate. The manifest is checked before anything is
read, so a truncated download, a half-copied directory or a hand-edited file is one clear
:class:`ModelDirError` instead of a shape error deep inside MLX.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from streamtts.errors import StreamttsError
from streamtts.nllb.model import Model, ModelArgs
from streamtts.nllb.tokenizer import NllbTokenizer

MANIFEST = "manifest.json"
CONFIG = "config.json"
SPM_MODEL = "sentencepiece.bpe.model"
MANIFEST_FORMAT = 1


class ModelDirError(StreamttsError):
    """The model directory is missing, incomplete or corrupt; the message says what to do."""


@dataclass
class NllbBundle:
    """A loaded model with its tokenizer and config.

    ``vocab_map[i]`` is the full-vocabulary id of pruned head row i (None: head not pruned).
    """

    model: Model
    tokenizer: NllbTokenizer
    config: dict[str, Any]
    vocab_map: mx.array | None


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 8 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(model_dir: Path) -> dict[str, Any]:
    """Record size and sha256 of every file in ``model_dir`` in its manifest; returns it."""
    files = {
        path.name: {"size": path.stat().st_size, "sha256": sha256_file(path)}
        for path in sorted(model_dir.iterdir())
        if path.is_file() and path.name != MANIFEST
    }
    manifest = {"format": MANIFEST_FORMAT, "files": files}
    (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(model_dir: Path, *, verify: bool = True) -> dict[str, Any]:
    """The directory's manifest, after checking that every file in it is present and intact.

    With ``verify=False`` only presence and sizes are checked (no hashing).
    """
    if not (model_dir / CONFIG).is_file():
        raise ModelDirError(
            f"no converted model in {model_dir}; run `streamtts convert` to create one"
        )
    redo = f"run `streamtts convert --out {model_dir} --force` to rebuild it"
    try:
        manifest = json.loads((model_dir / MANIFEST).read_text())
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ModelDirError(f"model in {model_dir} has no readable {MANIFEST}; {redo}") from None
    for name, entry in files.items():
        path = model_dir / name
        if not path.is_file():
            raise ModelDirError(f"model in {model_dir} is incomplete: {name} is missing; {redo}")
        if path.stat().st_size != entry["size"] or (
            verify and sha256_file(path) != entry["sha256"]
        ):
            raise ModelDirError(f"model in {model_dir} is corrupt: {name} has changed; {redo}")
    return manifest


def load_weights(model_dir: Path) -> dict[str, mx.array]:
    """All arrays of the directory's ``*.safetensors`` files, by name.

    On the CPU, float32 weight matrices are stored column-major (same values, other memory
    order): MLX's CPU backend hands float32 products to BLAS, and the reference BLAS that
    the Linux ``mlx[cpu]`` wheel bundles runs ``x @ W.T`` on a row-major ``W`` as chains of
    dot products but on a column-major one as vectorizable axpy loops, 2.3-5.6x faster on
    NLLB-600M's shapes (bench/results/translate-column-major.md). Each matrix is re-laid as
    it is read, so memory holds one extra matrix at most.
    """
    column_major = mx.default_device() == mx.cpu
    weights: dict[str, mx.array] = {}
    for path in sorted(model_dir.glob("*.safetensors")):
        arrays = mx.load(str(path))
        while arrays:  # popped, so that a re-laid matrix's original is freed at once
            name, array = arrays.popitem()
            if column_major and array.ndim == 2 and array.dtype == mx.float32:
                array = mx.contiguous(array.T).T
                mx.eval(array)
            weights[name] = array
    mx.clear_cache()
    return weights


def build_model(config: dict[str, Any], weights: dict[str, mx.array]) -> Model:
    """An evaluated :class:`Model` for ``config`` holding ``weights`` (sanitized first).

    Layers are quantized exactly where the weights carry ``scales``, with the group size
    and bits recorded in ``config["quantization"]``.
    """
    model = Model(ModelArgs.from_dict(config))
    weights = Model.sanitize(weights)
    if quantization := config.get("quantization"):
        nn.quantize(
            model,
            group_size=quantization["group_size"],
            bits=quantization["bits"],
            mode=quantization.get("mode", "affine"),
            class_predicate=lambda path, _: f"{path}.scales" in weights,
        )
    model.load_weights(list(weights.items()), strict=True)
    mx.eval(model.parameters())
    model.eval()
    return model


def load(model_dir: Path, *, verify: bool = True) -> NllbBundle:
    """Load a converted model directory; ``verify`` checks every file's sha256 first.

    Raises :class:`ModelDirError` when the directory is missing, incomplete or corrupt.
    """
    model_dir = Path(model_dir)
    read_manifest(model_dir, verify=verify)
    config = json.loads((model_dir / CONFIG).read_text())
    try:
        model = build_model(config, load_weights(model_dir))
    except ValueError as error:
        raise ModelDirError(
            f"model in {model_dir} does not match its config ({error}); "
            f"run `streamtts convert --out {model_dir} --force` to rebuild it"
        ) from None
    tokenizer = NllbTokenizer.from_file(model_dir / SPM_MODEL)
    vocab_map = model.vocab_map if "vocab_map" in model else None
    return NllbBundle(model=model, tokenizer=tokenizer, config=config, vocab_map=vocab_map)
