"""Full-size NLLB-200 models with random weights, built once and cached for the benchmarks.

No NLLB weights can be downloaded here, so the benchmarks build the closest real thing: an
``M2M100ForConditionalGeneration`` with the exact NLLB-600M config and seeded random weights
(``tests/builders.py``), saved as a Hugging Face checkpoint, then converted with the real
converters (``streamtts convert --from DIR`` for MLX, ``ctranslate2``'s
``TransformersConverter`` for CTranslate2). Everything lands under
``$STREAMTTS_BENCH_CACHE`` (default ``/tmp/streamtts-bench``) and is reused, because
building and converting a 2.4 GB model takes minutes. The checkpoint carries a SentencePiece
model of NLLB's real size (256,000 pieces) built directly as a protobuf rather than trained,
so that ``--prune-vocab`` runs the real Japanese selection over a vocabulary of the real
size. Its pieces are synthetic: each script gets a share of the pieces proportional to the
number of NLLB's 202 language codes written in it, and ``ASCII_LATIN_SHARE`` of the Latin
pieces use ASCII letters only. The pruned head size, and so the pruned speed-up, follows
from that stated assumption.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.common import ROOT

NLLB_600M_CONFIG = ROOT / "tests" / "data" / "nllb-200-distilled-600M.config.json"
SEED = 0
# NLLB's own init (std 0.02 everywhere) makes random-weight greedy decoding repeat one
# token, which would make token comparisons between engines vacuous. Layers drawn wider
# and every embedding row scaled to the norm of a std-0.02 row make the tokens wander.
# Not wider than 0.1: at 0.25 activations reach ~900 and float32 rounding differences
# between correct implementations flip tokens. Speed does not depend on the values.
INIT_STD = 0.1
EMBED_STD = 0.02
# Share of Latin-script pieces made of ASCII letters only. An estimate, not a measurement:
# most subwords of English, Indonesian, Swahili, Malay, Tagalog and many African languages
# are plain ASCII, while Vietnamese, Polish, Czech, Turkish… pieces often carry a diacritic.
ASCII_LATIN_SHARE = 0.75
# Share of the pieces given to digits, numbers, punctuation and symbols.
COMMON_SHARE = 0.01

# Characters each script's synthetic pieces are drawn from (inclusive ranges).
SCRIPT_CHARS: dict[str, tuple[tuple[int, int], ...]] = {
    "Latn": ((0x61, 0x7A), (0x41, 0x5A)),
    "Latn-diacritic": ((0xE0, 0xF6), (0xF8, 0xFF), (0x100, 0x17F)),
    "Arab": ((0x621, 0x64A),),
    "Cyrl": ((0x410, 0x44F),),
    "Deva": ((0x905, 0x939), (0x93E, 0x94C)),
    "Beng": ((0x985, 0x9B9),),
    "Ethi": ((0x1200, 0x135A),),
    "Tibt": ((0xF40, 0xF6C),),
    "Hebr": ((0x5D0, 0x5EA),),
    "Mymr": ((0x1000, 0x102A),),
    "Tfng": ((0x2D30, 0x2D67),),
    "Grek": ((0x3B1, 0x3C9),),
    "Gujr": ((0xA85, 0xAB9),),
    "Armn": ((0x561, 0x586),),
    "Knda": ((0xC85, 0xCB9),),
    "Geor": ((0x10D0, 0x10FA),),
    "Khmr": ((0x1780, 0x17B3),),
    "Hang": ((0xAC00, 0xD7A3),),
    "Laoo": ((0xE81, 0xEAE),),
    "Mlym": ((0xD05, 0xD39),),
    "Orya": ((0xB05, 0xB39),),
    "Guru": ((0xA05, 0xA39),),
    "Sinh": ((0xD85, 0xDC6),),
    "Taml": ((0xB85, 0xBB9),),
    "Telu": ((0xC05, 0xC39),),
    "Thai": ((0xE01, 0xE2E),),
    "Hans": ((0x4E00, 0x9FFF),),
    "Hant": ((0x4E00, 0x9FFF),),
    "Jpan": ((0x3041, 0x3096), (0x30A1, 0x30FA), (0x4E00, 0x9FFF)),
}
COMMON_CHARS = "0123456789.,:;!?'\"()[]{}-_/\\@#$%&*+=<>|~^`"


@dataclass(frozen=True)
class Shape:
    """A model shape: the Hugging Face config and the SentencePiece vocabulary size."""

    name: str
    config: dict
    sp_size: int


def full_shape() -> Shape:
    """NLLB-200-distilled-600M exactly: the real config, 256,000 SentencePiece pieces."""
    return Shape("full", json.loads(NLLB_600M_CONFIG.read_text()), 256_000)


def mid_shape() -> Shape:
    """NLLB-600M's widths with half its depth (6+6 layers, FFN 4096) and its full vocabulary.

    For iterating on speed: the same matrix shapes per layer and the same 256k head, in
    about half the time of a full run.
    """
    config = json.loads(NLLB_600M_CONFIG.read_text())
    config.update(encoder_layers=6, decoder_layers=6)
    return Shape("mid", config, 256_000)


def quick_shape() -> Shape:
    """A small shape of the same layout, for a smoke run in a minute or two."""
    sp_size = 16_000
    config = json.loads(NLLB_600M_CONFIG.read_text())
    config.update(
        d_model=256,
        encoder_layers=3,
        decoder_layers=3,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=1024,
        decoder_ffn_dim=1024,
        vocab_size=sp_size + 1 + 202 + 1,
    )
    return Shape("quick", config, sp_size)


def cache_dir(shape: Shape) -> Path:
    """Where the models of ``shape`` are kept between runs."""
    root = Path(os.environ.get("STREAMTTS_BENCH_CACHE", "/tmp/streamtts-bench"))
    # The init is part of the name: a cache built with other weights is never reused.
    return root / f"{shape.name}-std{INIT_STD}"


def _random_piece(rng: random.Random, ranges: tuple[tuple[int, int], ...], length: int) -> str:
    return "".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(length))


def synthetic_pieces(sp_size: int, *, seed: int = SEED) -> list[str]:
    """``sp_size - 3`` distinct pieces shaped like NLLB's vocabulary (see the module doc)."""
    from streamtts.nllb.tokenizer import LANGUAGE_CODES

    rng = random.Random(seed)
    scripts = Counter(code.split("_")[1] for code in LANGUAGE_CODES)
    budget = sp_size - 3
    quotas = {"common": int(budget * COMMON_SHARE)}
    per_code = (budget - quotas["common"]) / len(LANGUAGE_CODES)
    for script, codes in scripts.items():
        quotas[script] = int(codes * per_code)
    latin = quotas.pop("Latn")
    quotas["Latn"] = int(latin * ASCII_LATIN_SHARE)
    quotas["Latn-diacritic"] = latin - quotas["Latn"]
    quotas["Latn"] += budget - sum(quotas.values())  # rounding remainder

    pieces: dict[str, None] = {}  # insertion-ordered set
    for script, quota in quotas.items():
        wanted = len(pieces) + quota
        # Every character of a script is a piece of its own in a real SentencePiece model.
        singles = (
            list(COMMON_CHARS)
            if script == "common"
            else [chr(c) for low, high in SCRIPT_CHARS[script] for c in range(low, high + 1)]
        )
        rng.shuffle(singles)
        for char in singles[: quota // 4]:
            pieces.setdefault(char)
        while len(pieces) < wanted:
            if script == "common":
                piece = str(rng.randint(0, 10**6)) if rng.random() < 0.7 else rng.choice("▁.,")
            elif script == "Latn-diacritic":
                ascii_part = _random_piece(rng, SCRIPT_CHARS["Latn"], rng.randint(1, 6))
                cut = rng.randint(0, len(ascii_part))
                mark = _random_piece(rng, SCRIPT_CHARS[script], 1)
                piece = ascii_part[:cut] + mark + ascii_part[cut:]
            else:
                piece = _random_piece(rng, SCRIPT_CHARS[script], rng.randint(1, 7))
            if rng.random() < 0.5:
                piece = "▁" + piece  # word-initial pieces carry the space marker
            pieces.setdefault(piece)
    return list(pieces)


def write_spm_model(path: Path, sp_size: int, *, seed: int = SEED) -> None:
    """Write a BPE SentencePiece model with ``sp_size`` pieces in NLLB's id layout.

    ``<unk>``, ``<s>``, ``</s>`` at ids 0-2, then :func:`synthetic_pieces` by falling score.
    """
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    proto.trainer_spec.model_type = pb.TrainerSpec.BPE
    proto.trainer_spec.vocab_size = sp_size
    proto.trainer_spec.unk_id, proto.trainer_spec.bos_id = 0, 1
    proto.trainer_spec.eos_id, proto.trainer_spec.pad_id = 2, -1
    proto.normalizer_spec.name = "identity"
    proto.normalizer_spec.add_dummy_prefix = True
    proto.normalizer_spec.escape_whitespaces = True
    kinds = pb.ModelProto.SentencePiece
    for piece, kind in (("<unk>", kinds.UNKNOWN), ("<s>", kinds.CONTROL), ("</s>", kinds.CONTROL)):
        proto.pieces.add(piece=piece, score=0.0, type=kind)
    for rank, piece in enumerate(synthetic_pieces(sp_size, seed=seed)):
        proto.pieces.add(piece=piece, score=-float(rank), type=kinds.NORMAL)
    path.write_bytes(proto.SerializeToString())


def hf_checkpoint(shape: Shape) -> Path:
    """A Hugging Face checkpoint of ``shape`` with seeded random weights (built once)."""
    out = cache_dir(shape) / "hf"
    if (out / "model.safetensors").is_file():
        return out
    from tests.builders import random_m2m100

    # A private staging directory: the pipeline benchmark may build the same cache at once.
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="hf.partial-", dir=out.parent))
    config = {**shape.config, "init_std": INIT_STD}
    model = random_m2m100(config, seed=SEED, embed_std=EMBED_STD)
    model.save_pretrained(staging, safe_serialization=True)
    del model
    write_spm_model(staging / "sentencepiece.bpe.model", shape.sp_size)
    try:
        staging.rename(out)
    except OSError:  # another process finished first; its checkpoint is the same
        shutil.rmtree(staging)
    return out


def mlx_model(
    shape: Shape, *, dtype: str = "float32", quantize: int | None = None, prune: bool = False
) -> Path:
    """An MLX model directory of ``shape`` made by the real ``streamtts convert`` (cached).

    ``prune`` keeps only the Japanese head rows (``--prune-vocab jpn_Jpan``).
    """
    name = f"mlx-{dtype}" + (f"-q{quantize}" if quantize else "") + ("-pruned" if prune else "")
    out = cache_dir(shape) / name
    if (out / "manifest.json").is_file():
        return out
    command = [sys.executable, "-m", "streamtts", "convert", "--from", str(hf_checkpoint(shape))]
    command += ["--out", str(out), "--dtype", dtype, "--force"]
    if quantize:
        command += ["--quantize", str(quantize)]
    if prune:
        command += ["--prune-vocab", "jpn_Jpan"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return out


def ct2_model(shape: Shape, *, quantization: str) -> Path:
    """A CTranslate2 model of ``shape`` converted from the same checkpoint (cached).

    The vocabulary comes from streamtts' own tokenizer, so CTranslate2's token i is
    exactly row i of the embedding, whatever transformers would number the codes.
    """
    out = cache_dir(shape) / f"ct2-{quantization}"
    if (out / "model.bin").is_file():
        return out
    from ctranslate2.converters import TransformersConverter

    from streamtts.nllb.tokenizer import NllbTokenizer

    checkpoint = hf_checkpoint(shape)
    tokenizer = NllbTokenizer.from_file(checkpoint / "sentencepiece.bpe.model")

    class _Vocabulary:
        # The few tokenizer attributes CTranslate2's M2M100 loader reads.
        unk_token, unk_token_id = "<unk>", tokenizer.unk_id
        bos_token, eos_token, pad_token = "<s>", "</s>", "<pad>"
        special_tokens_map: dict = {}  # noqa: RUF012 - read-only

        @staticmethod
        def get_vocab() -> dict[str, int]:
            return {tokenizer.piece(i): i for i in range(len(tokenizer))}

        @staticmethod
        def convert_ids_to_tokens(token_id: int) -> str:
            return tokenizer.piece(token_id)

    class _Converter(TransformersConverter):
        def load_tokenizer(self, *args: object, **kwargs: object) -> _Vocabulary:
            return _Vocabulary()

    _Converter(str(checkpoint)).convert(str(out), quantization=quantization, force=True)
    return out


def source_ids(shape: Shape, *, sentences: int, length: int, seed: int = SEED) -> list[list[int]]:
    """Seeded English-like sources: ``[eng_Latn] pieces </s>``, ``length`` ± 3 ids each."""
    from streamtts.nllb.tokenizer import language_code_ids

    rng = random.Random(seed)
    eng = language_code_ids(shape.sp_size)["eng_Latn"]
    # Piece ids start after the four specials and end before the language codes.
    return [
        [eng, *(rng.randint(4, shape.sp_size) for _ in range(length - 2 + rng.randint(-3, 3))), 2]
        for _ in range(sentences)
    ]
