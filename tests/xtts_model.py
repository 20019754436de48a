"""A random-weight XTTS v2 model in the hub's directory layout, built with coqui's classes.

XTTS weights cannot be downloaded here, so the tests use the closest real thing: coqui's
own ``Xtts`` with a 2-layer, 64-wide GPT (the HiFi-GAN decoder and the speaker encoder keep
their real sizes, because ``Xtts`` builds them without size options; bench/xtts.py builds
the full XTTS v2 shape with the same function), a BPE vocabulary
trained here on romanized Japanese with XTTS's special tokens, and built-in speakers with
random latents of the real shapes. Files are written as coqui/XTTS-v2 stores them:
``config.json``, ``model.pth`` (``{"model": state_dict}``), ``vocab.json``,
``speakers_xtts.pth``.
"""

from __future__ import annotations

from pathlib import Path

# Romanized with cutlet and lower-cased, as XTTS's tokenizer prepares Japanese.
SENTENCES = (
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
    corpus = [katsu.romaji(sentence).lower() for sentence in SENTENCES]
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
