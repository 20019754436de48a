"""Shared fixtures: a SentencePiece model trained here and tiny random-weight NLLB checkpoints.

No NLLB weights can be downloaded on the machines that run these tests, so the fixtures
build the closest real thing: a SentencePiece BPE model trained in the session on a
generated English + Japanese + code corpus with NLLB's settings, and
``M2M100ForConditionalGeneration`` checkpoints with random weights saved by
``transformers`` exactly as the hub stores them (config, weights, tokenizer files).
"""

from __future__ import annotations

import io
import json
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest

import streamtts.nllb  # noqa: F401 - opens OpenBLAS (streamtts/blas.py) before any test imports MLX

# PortAudio's ALSA backend reads its configuration once, when sounddevice is first
# imported, so this must be set before any test imports it: a null output device and a
# capturing one (see tests/data/asound.conf), on machines with no sound card.
os.environ.setdefault("ALSA_CONFIG_PATH", str(Path(__file__).parent / "data" / "asound.conf"))

# Words the generated corpus is made of: enough variety that BPE learns real merges in
# every script, small enough that training takes well under a second.
ENGLISH = (
    "the a an model streams text to speech and we translate each sentence into Japanese "
    "while agent works on code files tests build run fix error I will now read file check "
    "output looks good this function returns value let me update config please wait done "
    "it is about seconds faster than before because cache was warm"
)
JAPANESE = (
    "これは テスト です 。 日本語 の 文 を 翻訳 します 、 モデル 音声 合成 コード ファイル "
    "エラー 修正 した ありがとう 確認 して ください 実行 中 今 読み込み 関数 値 返す 設定 "
    "更新 待って 完了 秒 速い キャッシュ 「 」 ！ ？ 私 は が に で と も 東京 山 川 雨"
)
CODE_LINES = (
    "def f(x):",
    "    return x + 1",
    "import numpy as np",
    "for i in range(10):",
    "print('hello, world')",
    '{"a": [1, 2], "b": null}',
    "if (a && b) { return -1; }",
    "git commit -m 'fix: typo'",
    "x = y * 2 ** 8 / 3 % 7",
    '<div class="note">#1 @user $HOME ~/src</div>',
)


def make_corpus(lines: int = 3000, seed: int = 0) -> list[str]:
    """A deterministic mixed corpus: English sentences, Japanese sentences, code, numbers."""
    rng = random.Random(seed)
    english, japanese = ENGLISH.split(), JAPANESE.split()
    corpus = []
    for i in range(lines):
        kind = i % 3
        if kind == 0:
            words = [rng.choice(english) for _ in range(rng.randint(3, 12))]
            corpus.append(" ".join(words).capitalize() + rng.choice(".?!,;:"))
        elif kind == 1:
            corpus.append("".join(rng.choice(japanese) for _ in range(rng.randint(3, 12))))
        else:
            corpus.append(f"{rng.choice(CODE_LINES)} {rng.randint(0, 99999)}")
    return corpus


@pytest.fixture(scope="session")
def spm_corpus() -> list[str]:
    """The text the session's SentencePiece model was trained on."""
    return make_corpus()


@pytest.fixture(scope="session")
def spm_model(tmp_path_factory: pytest.TempPathFactory, spm_corpus: list[str]) -> Path:
    """Path of a ``sentencepiece.bpe.model`` trained in this session, NLLB-style.

    Like NLLB's model: BPE, ``<unk>``/``<s>``/``</s>`` at SentencePiece ids 0/1/2, no
    ``<pad>`` piece, no byte fallback, nmt_nfkc normalization, full character coverage.
    """
    path = tmp_path_factory.mktemp("spm") / "sentencepiece.bpe.model"
    path.write_bytes(train_spm(spm_corpus, vocab_size=700))
    return path


def train_spm(corpus: list[str], *, vocab_size: int) -> bytes:
    """A SentencePiece model trained on ``corpus`` with NLLB's settings (see ``spm_model``)."""
    import sentencepiece

    buffer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_writer=buffer,
        model_type="bpe",
        vocab_size=vocab_size,
        character_coverage=1.0,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        byte_fallback=False,
        normalization_rule_name="nmt_nfkc",
        num_threads=1,
        minloglevel=2,
    )
    return buffer.getvalue()


def _write_tokenizer_files(spm_model: Path, out: Path) -> None:
    """Write the hub's tokenizer files for ``spm_model`` into ``out``, with real NLLB ids.

    transformers converts the SentencePiece pieces itself (fairseq offset included) but
    leaves the language codes out; they are placed here by the real checkpoint's rule,
    code i at ``len(sp) + 1 + i`` and ``<mask>`` after the last code.
    """
    import sentencepiece
    from transformers import NllbTokenizer
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    sp_size = sentencepiece.SentencePieceProcessor(model_file=str(spm_model)).get_piece_size()
    staging = out / "_tokenizer"
    staging.mkdir()
    (staging / "sentencepiece.bpe.model").write_bytes(spm_model.read_bytes())
    NllbTokenizer.from_pretrained(staging).save_pretrained(staging)

    spec = json.loads((staging / "tokenizer.json").read_text())
    added = [t for t in spec["added_tokens"] if t["content"] != "<mask>"]
    template = {k: v for k, v in added[0].items() if k not in ("id", "content")}
    for i, code in enumerate(FAIRSEQ_LANGUAGE_CODES):
        added.append({**template, "id": sp_size + 1 + i, "content": code})
    mask = next(t for t in spec["added_tokens"] if t["content"] == "<mask>")
    added.append({**mask, "id": sp_size + 1 + len(FAIRSEQ_LANGUAGE_CODES)})
    spec["added_tokens"] = added
    specials = spec["post_processor"]["special_tokens"]
    specials["eng_Latn"]["ids"] = [sp_size + 1 + FAIRSEQ_LANGUAGE_CODES.index("eng_Latn")]
    (out / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False))

    tokenizer_config = json.loads((staging / "tokenizer_config.json").read_text())
    tokenizer_config["extra_special_tokens"] = list(FAIRSEQ_LANGUAGE_CODES)
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2))
    (out / "sentencepiece.bpe.model").write_bytes(spm_model.read_bytes())
    for path in staging.iterdir():
        path.unlink()
    staging.rmdir()


def tiny_config(sp_size: int, **overrides: object) -> dict:
    """An M2M100 config in NLLB's layout at a size that runs in milliseconds.

    vocab_size follows the real rule: pieces + fairseq offset + 202 codes + ``<mask>``.
    """
    config = {
        "vocab_size": sp_size + 1 + 202 + 1,
        "d_model": 64,
        "encoder_layers": 2,
        "decoder_layers": 2,
        "encoder_attention_heads": 4,
        "decoder_attention_heads": 4,
        "encoder_ffn_dim": 64,
        "decoder_ffn_dim": 64,
        "max_position_embeddings": 128,
        "scale_embedding": True,
        "dropout": 0.0,
        "attention_dropout": 0.0,
        "activation_dropout": 0.0,
        "encoder_layerdrop": 0.0,
        "decoder_layerdrop": 0.0,
        # Larger than NLLB's 0.02 so that logits spread as a trained model's do; greedy
        # decoding at 0.02 repeats one token.
        "init_std": 0.25,
        "tokenizer_class": "NllbTokenizer",
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def make_checkpoint(spm_model: Path) -> Callable[..., Path]:
    """Factory: ``make_checkpoint(dir, *, seed=0, safetensors=True, **config) -> dir``.

    Saves a random-weight ``M2M100ForConditionalGeneration`` with ``save_pretrained``
    (``model.safetensors``, or ``pytorch_model.bin`` when ``safetensors=False``), plus
    ``sentencepiece.bpe.model``, ``tokenizer.json`` and ``tokenizer_config.json``.
    """
    import sentencepiece

    sp_size = sentencepiece.SentencePieceProcessor(model_file=str(spm_model)).get_piece_size()

    def make(out: Path, *, seed: int = 0, safetensors: bool = True, **overrides: object) -> Path:
        import torch
        from transformers import M2M100Config, M2M100ForConditionalGeneration

        out.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(seed)
        model = M2M100ForConditionalGeneration(M2M100Config(**tiny_config(sp_size, **overrides)))
        model.eval()
        model.save_pretrained(out)
        if not safetensors:
            # transformers 5 only writes safetensors; the hub's NLLB ships a torch pickle of
            # the whole state dict, tied copies included, as written here.
            torch.save(model.state_dict(), out / "pytorch_model.bin")
            (out / "model.safetensors").unlink()
        _write_tokenizer_files(spm_model, out)
        return out

    return make


# Sentences of our own captures that the speak tests send through NLLB (tests/data/
# claude-own-partial.jsonl and claude-own-tool-use.jsonl).
SPOKEN_BY_NLLB = (
    "The parser drops the last unit.",
    "I will fix it now.",
    "Let me run the tests first",
    "One test fails.",
    "The minutes are overwritten instead of added.",
)


@pytest.fixture(scope="session")
def speaking_model(
    tmp_path_factory: pytest.TempPathFactory, make_checkpoint: Callable[..., Path]
) -> Path:
    """A tiny model converted by the real ``streamtts convert`` that says something for each
    of ``SPOKEN_BY_NLLB``: random weights may translate a short sentence to nothing, or to
    bare punctuation, so seeds are tried in order until every translation has a letter
    (Latin, kana or kanji) for a voice to say."""
    from typer.testing import CliRunner

    from streamtts.cli import app
    from streamtts.translate import load_translator

    root = tmp_path_factory.mktemp("speaking-model")
    for seed in range(20):
        model = root / f"mlx-{seed}"
        checkpoint = make_checkpoint(root / f"hf-{seed}", seed=seed)
        result = CliRunner().invoke(
            app, ["convert", "--from", str(checkpoint), "--out", str(model)]
        )
        assert result.exit_code == 0, result.output
        translator = load_translator("nllb", model_dir=model)
        translations = [translator.translate([text])[0] for text in SPOKEN_BY_NLLB]
        if all(any(char.isalpha() for char in t) for t in translations):
            return model
    raise AssertionError("no seed below 20 makes a model that speaks every test sentence")
