"""Shared fixtures: a SentencePiece model trained here and tiny random-weight NLLB checkpoints.

The builders are in ``tests/builders.py`` (the benchmarks use them too); this file makes
session fixtures of them, and sets up what the whole session needs (the BLAS choice before
MLX, ALSA null devices).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from builders import build_checkpoint, make_corpus, train_spm
from helpers import SPOKEN_BY_NLLB, run_cli

import streamtts.nllb  # noqa: F401 - opens OpenBLAS (streamtts/blas.py) before any test imports MLX

# PortAudio's ALSA backend reads its configuration once, when sounddevice is first
# imported, so this must be set before any test imports it: a null output device and a
# capturing one (see tests/data/asound.conf), on machines with no sound card.
os.environ.setdefault("ALSA_CONFIG_PATH", str(Path(__file__).parent / "data" / "asound.conf"))
# No test may reach a daemon the developer runs, nor leave one behind in their runtime
# directory: the session's socket is a path of its own (tests of the daemon set theirs).
os.environ["STREAMTTS_SOCKET"] = str(Path(tempfile.mkdtemp(prefix="streamtts-")) / "no.sock")


@pytest.fixture(scope="session")
def spm_corpus() -> list[str]:
    """The text the session's SentencePiece model was trained on."""
    return make_corpus()


@pytest.fixture(scope="session")
def spm_model(tmp_path_factory: pytest.TempPathFactory, spm_corpus: list[str]) -> Path:
    """Path of a ``sentencepiece.bpe.model`` trained in this session, NLLB-style."""
    path = tmp_path_factory.mktemp("spm") / "sentencepiece.bpe.model"
    path.write_bytes(train_spm(spm_corpus, vocab_size=700))
    return path


@pytest.fixture(scope="session")
def make_checkpoint(spm_model: Path) -> Callable[..., Path]:
    """Factory: ``make_checkpoint(dir, *, seed=0, safetensors=True, **config) -> dir``, a
    tiny random-weight NLLB checkpoint with the session's SentencePiece model
    (``builders.build_checkpoint``)."""

    def make(out: Path, **options: object) -> Path:
        return build_checkpoint(out, spm_model, **options)

    return make


@pytest.fixture(scope="session")
def speaking_model(
    tmp_path_factory: pytest.TempPathFactory, make_checkpoint: Callable[..., Path]
) -> Path:
    """A tiny model converted by the real ``streamtts convert`` that says something for each
    of ``SPOKEN_BY_NLLB``: random weights may translate a short sentence to nothing, or to
    bare punctuation, so seeds are tried in order until every translation has a letter
    (Latin, kana or kanji) for a voice to say."""
    from streamtts.translate import load_translator

    root = tmp_path_factory.mktemp("speaking-model")
    for seed in range(20):
        model = root / f"mlx-{seed}"
        checkpoint = make_checkpoint(root / f"hf-{seed}", seed=seed)
        result = run_cli("convert", "--from", checkpoint, "--out", model)
        assert result.exit_code == 0, result.output
        translator = load_translator("nllb", model_dir=model)
        translations = [translator.translate([text])[0] for text in SPOKEN_BY_NLLB]
        if all(any(char.isalpha() for char in t) for t in translations):
            return model
    raise AssertionError("no seed below 20 makes a model that speaks every test sentence")
