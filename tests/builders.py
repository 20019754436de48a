"""Models with random weights for the tests and the benchmarks, built where they run.

No NLLB or XTTS weights can be downloaded on the machines that run streamtts' tests and
benchmarks, so both build the closest real thing here, from the reference classes:

- a SentencePiece BPE model trained on a generated English + Japanese + code corpus with
  NLLB's settings (``make_corpus``, ``train_spm``);
- ``M2M100ForConditionalGeneration`` with seeded random weights (``random_m2m100``: the
  tests' tiny checkpoints and ``bench/nllb_models.py``'s full-size ones), saved by
  ``transformers`` exactly as the hub stores them, tokenizer files included
  (``build_checkpoint``);
- coqui's own ``Xtts`` (``build_random_xtts``): a 2-layer, 64-wide GPT for the tests (the
  HiFi-GAN decoder and the speaker encoder keep their real sizes, because ``Xtts`` builds
  them without size options) or the full XTTS v2 shape for ``bench/xtts.py``, a BPE
  vocabulary trained here on romanized Japanese with XTTS's special tokens, and built-in
  speakers with random latents of the real shapes, written as coqui/XTTS-v2 stores them:
  ``config.json``, ``model.pth`` (``{"model": state_dict}``), ``vocab.json``,
  ``speakers_xtts.pth``.

``tests/conftest.py`` wraps these in fixtures; the benchmarks import them as
``tests.builders`` (they run as modules from the repository root: ``python -m bench.NAME``).
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

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


def train_spm(corpus: list[str], *, vocab_size: int) -> bytes:
    """A SentencePiece model trained on ``corpus`` with NLLB's settings.

    Like NLLB's model: BPE, ``<unk>``/``<s>``/``</s>`` at SentencePiece ids 0/1/2, no
    ``<pad>`` piece, no byte fallback, nmt_nfkc normalization, full character coverage.
    """
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


def write_tokenizer_files(spm_model: Path, out: Path) -> None:
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


def random_m2m100(config: dict, *, seed: int, embed_std: float | None = None) -> Any:
    """An ``M2M100ForConditionalGeneration`` of ``config`` with seeded random weights.

    ``embed_std`` scales every embedding row to the norm of a row drawn with that std, so
    that greedy tokens vary even when the layers are drawn wide (see bench/nllb_models.py).
    """
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    torch.manual_seed(seed)
    model = M2M100ForConditionalGeneration(M2M100Config(**config)).eval()
    if embed_std is not None:
        with torch.no_grad():
            rows = model.model.shared.weight
            # clamp: the padding row is all zeros and stays so.
            norms = rows.norm(dim=1, keepdim=True).clamp_min(1e-12)
            rows *= embed_std * rows.shape[1] ** 0.5 / norms
    return model


def build_checkpoint(
    out: Path, spm_model: Path, *, seed: int = 0, safetensors: bool = True, **overrides: object
) -> Path:
    """Save a tiny random-weight NLLB checkpoint (``tiny_config`` + ``overrides``) to ``out``.

    ``model.safetensors`` by ``save_pretrained`` (or ``pytorch_model.bin`` when
    ``safetensors=False``), plus ``sentencepiece.bpe.model``, ``tokenizer.json`` and
    ``tokenizer_config.json`` for ``spm_model``.
    """
    import sentencepiece
    import torch

    sp_size = sentencepiece.SentencePieceProcessor(model_file=str(spm_model)).get_piece_size()
    out.mkdir(parents=True, exist_ok=True)
    model = random_m2m100(tiny_config(sp_size, **overrides), seed=seed)
    model.save_pretrained(out)
    if not safetensors:
        # transformers 5 only writes safetensors; the hub's NLLB ships a torch pickle of
        # the whole state dict, tied copies included, as written here.
        torch.save(model.state_dict(), out / "pytorch_model.bin")
        (out / "model.safetensors").unlink()
    write_tokenizer_files(spm_model, out)
    return out


# The XTTS vocabulary's corpus, romanized with cutlet and lower-cased as XTTS's tokenizer
# prepares Japanese.
XTTS_SENTENCES = (
    "こんにちは、今日はいい天気ですね。",
    "テストを実行して、結果を確認します。",
    "ファイルを読み込んでいます。少々お待ちください。",
    "エラーを修正しました。ありがとうございます。",
    "東京は雨ですが、山の上は晴れています。",
)
LANGUAGE_TOKENS = ("[en]", "[ja]")
SPEAKERS = ("Tiny Speaker", "Other Speaker")
# Room for 11 audio tokens (gpt_max_audio_tokens - 3): random weights all but never pick the
# stop token, so every sentence runs to this cap, about 0.5 s of audio. Few tokens keep the
# full-size HiFi-GAN decoder, which dominates the time on a CPU, cheap.
MAX_AUDIO_TOKENS = 14


def _vocab(path: Path) -> None:
    import cutlet
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    katsu = cutlet.Cutlet()
    corpus = [katsu.romaji(sentence).lower() for sentence in XTTS_SENTENCES]
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    specials = ["[STOP]", "[UNK]", "[SPACE]", *LANGUAGE_TOKENS, "[START]"]
    trainer = trainers.BpeTrainer(vocab_size=200, special_tokens=specials, show_progress=False)
    tokenizer.train_from_iterator(corpus, trainer)
    tokenizer.save(str(path))


def build_random_xtts(
    out: Path, *, full_size: bool = False, seed: int = 0, speakers: bool = True
) -> Path:
    """Write a random-weight XTTS v2 model directory to ``out`` and return it.

    ``full_size`` gives the real XTTS v2 shape (30 layers, 1024 wide, 605 audio tokens;
    about 470 M parameters, 1.9 GB) for benchmarks; the default is the tiny test model.
    """
    import torch
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer
    from TTS.tts.models.xtts import Xtts, XttsArgs

    out.mkdir(parents=True, exist_ok=True)
    _vocab(out / "vocab.json")
    vocab = VoiceBpeTokenizer(vocab_file=out / "vocab.json")
    layers, width, heads, audio_tokens = (
        (30, 1024, 16, 605) if full_size else (2, 64, 4, MAX_AUDIO_TOKENS)
    )
    config = XttsConfig()
    config.model_args = XttsArgs(
        gpt_layers=layers,
        gpt_n_model_channels=width,
        gpt_n_heads=heads,
        decoder_input_dim=width,
        gpt_max_audio_tokens=audio_tokens,
        # Sized as load_checkpoint sizes them from vocab.json, so the model is built once.
        gpt_number_text_tokens=vocab.get_number_tokens(),
        gpt_start_text_token=vocab.tokenizer.token_to_id("[START]"),
        gpt_stop_text_token=vocab.tokenizer.token_to_id("[STOP]"),
        # XTTS v2's audio codebook and conditioning: 1024 codes + start/stop, perceiver.
        gpt_num_audio_tokens=1026,
        gpt_start_audio_token=1024,
        gpt_stop_audio_token=1025,
        gpt_use_perceiver_resampler=True,
    )
    torch.manual_seed(seed)
    torch.save({"model": Xtts(config).state_dict()}, out / "model.pth")
    config.save_json(str(out / "config.json"))
    if speakers:
        latents = {
            name: {
                "gpt_cond_latent": torch.randn(1, 32, width),
                "speaker_embedding": torch.randn(1, 512, 1),
            }
            for name in SPEAKERS
        }
        torch.save(latents, out / "speakers_xtts.pth")
    return out
