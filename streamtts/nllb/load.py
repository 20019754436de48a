"""Load an MLX NLLB model directory (the output of ``streamtts convert``), checking it first.

A model directory holds ``config.json`` (the Hugging Face config plus ``quantization`` and
``vocab_pruning``), weights as ``*.safetensors``, ``sentencepiece.bpe.model`` and
``manifest.json`` with every other file's size and sha256. Loading follows mlx-lm: config
→ ``ModelArgs`` → empty model → quantize exactly the layers whose ``scales`` the weights
carry → ``load_weights(strict=True)`` → evaluate. The manifest is checked before anything is
read (sizes always, sha256 sums only with ``verify=True``: hashing 2.4 GB on every start
would cost seconds), and a config or manifest of the wrong shape is reported like a missing
one, so a truncated download, a half-copied directory or a hand-edited file is one clear
:class:`ModelDirError` naming the file, instead of a traceback deep inside MLX.

Float32 weight matrices are stored transposed (``[in, out]``, config ``"matrix_layout":
"in_out"``) and loaded as a free ``.T`` view: the same values, column-major. MLX's CPU
backend hands float32 products to BLAS, and a column-major weight makes ``x @ W.T`` a
plain no-transpose product, which both the reference BLAS of the Linux ``mlx[cpu]`` wheel
(2.3-5.6x, bench/results/archive/translate-column-major.md) and OpenBLAS run faster. Converting
does the transpose once; loading copies nothing. Older directories without the entry load
row-major as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from streamtts.errors import StreamttsError
from streamtts.nllb.model import Model, ModelArgs
from streamtts.nllb.tokenizer import NllbTokenizer
from streamtts.paths import sha256_file

MANIFEST = "manifest.json"
CONFIG = "config.json"
SPM_MODEL = "sentencepiece.bpe.model"
MANIFEST_FORMAT = 1
MATRIX_LAYOUT = "in_out"  # config["matrix_layout"]: float32 matrices stored transposed


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


def _redo(model_dir: Path) -> str:
    return f"run `streamtts convert --out {model_dir} --force` to rebuild it"


def read_manifest(model_dir: Path, *, verify: bool = False) -> dict[str, Any]:
    """The directory's manifest, after checking that every file in it is present and intact.

    Presence and sizes are always checked; ``verify=True`` also hashes every file.
    """
    if not (model_dir / CONFIG).is_file():
        raise ModelDirError(
            f"no converted model in {model_dir}; run `streamtts convert` to create one"
        )
    redo = _redo(model_dir)
    try:
        manifest = json.loads((model_dir / MANIFEST).read_text())
        files = manifest["files"]
        entries = [(str(name), int(e["size"]), str(e["sha256"])) for name, e in files.items()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ModelDirError(f"model in {model_dir} has no readable {MANIFEST}; {redo}") from None
    if CONFIG not in files:
        raise ModelDirError(f"model in {model_dir} has no readable {MANIFEST}; {redo}")
    for name, size, digest in entries:
        path = model_dir / name
        if not path.is_file():
            raise ModelDirError(f"model in {model_dir} is incomplete: {name} is missing; {redo}")
        if path.stat().st_size != size or (verify and sha256_file(path) != digest):
            raise ModelDirError(f"model in {model_dir} is corrupt: {name} has changed; {redo}")
    return manifest


def read_config(model_dir: Path) -> dict[str, Any]:
    """``config.json`` checked for the shape the model needs (ints where ints belong)."""
    bad = ModelDirError(f"model in {model_dir} has an unreadable {CONFIG}; {_redo(model_dir)}")
    try:
        config = json.loads((model_dir / CONFIG).read_text())
    except (OSError, ValueError):
        raise bad from None
    if not isinstance(config, dict):
        raise bad
    try:
        args = ModelArgs.from_dict(config)
    except (TypeError, ValueError):
        raise bad from None
    sizes = (
        args.vocab_size,
        args.d_model,
        args.encoder_layers,
        args.decoder_layers,
        args.encoder_attention_heads,
        args.decoder_attention_heads,
        args.encoder_ffn_dim,
        args.decoder_ffn_dim,
        args.max_position_embeddings,
        args.pad_token_id,
    )
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in sizes):
        raise bad
    if min(sizes[:8]) < 1 or args.d_model % args.encoder_attention_heads:
        raise bad
    if args.d_model % args.decoder_attention_heads:
        raise bad
    pruning, quantization = config.get("vocab_pruning"), config.get("quantization")
    if pruning is not None and not (
        isinstance(pruning, dict) and isinstance(pruning.get("size"), int)
    ):
        raise bad
    if quantization is not None and not (
        isinstance(quantization, dict)
        and isinstance(quantization.get("group_size"), int)
        and isinstance(quantization.get("bits"), int)
    ):
        raise bad
    return config


def stored_transposed(name: str, array: mx.array) -> bool:
    """Whether ``convert`` stores this array as ``[in, out]``: float32 weight matrices."""
    return name.endswith(".weight") and array.ndim == 2 and array.dtype == mx.float32


def load_weights(model_dir: Path, *, layout: str | None = None) -> dict[str, mx.array]:
    """All arrays of the directory's ``*.safetensors`` files, by name.

    With ``layout="in_out"`` the float32 matrices were stored transposed and come back as
    ``.T`` views: their original shape, column-major, without a copy.
    """
    weights: dict[str, mx.array] = {}
    for path in sorted(model_dir.glob("*.safetensors")):
        for name, array in mx.load(str(path)).items():
            if layout == MATRIX_LAYOUT and stored_transposed(name, array):
                array = array.T
            weights[name] = array
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


def load(model_dir: Path, *, verify: bool = False) -> NllbBundle:
    """Load a converted model directory; ``verify`` checks every file's sha256 first.

    Raises :class:`ModelDirError` when the directory is missing, incomplete or corrupt.
    """
    model_dir = Path(model_dir)
    read_manifest(model_dir, verify=verify)
    config = read_config(model_dir)
    redo = _redo(model_dir)
    try:
        weights = load_weights(model_dir, layout=config.get("matrix_layout"))
    except (OSError, ValueError, RuntimeError):
        raise ModelDirError(f"model in {model_dir} has unreadable weights; {redo}") from None
    try:
        model = build_model(config, weights)
    except (ValueError, KeyError, TypeError) as error:
        raise ModelDirError(
            f"model in {model_dir} does not match its {CONFIG} ({error}); {redo}"
        ) from None
    try:
        tokenizer = NllbTokenizer.from_file(model_dir / SPM_MODEL)
    except (OSError, RuntimeError, ValueError):
        raise ModelDirError(f"model in {model_dir} has an unreadable {SPM_MODEL}; {redo}") from None
    vocab_map = model.vocab_map if "vocab_map" in model else None
    return NllbBundle(model=model, tokenizer=tokenizer, config=config, vocab_map=vocab_map)
