"""Speech engines with real synthesis: Kokoro, Open JTalk, espeak-ng, and the fallback chain."""

from __future__ import annotations

import logging
import os
import struct
import sys

import numpy as np
import pytest

from streamtts.tts import EngineError, describe_engines, load_engine, split_for_engine
from streamtts.tts.clauses import (
    CLAUSE_PAUSE_SECONDS,
    LEAD_SECONDS,
    SENTENCE_PAUSE_SECONDS,
    SILENCE_THRESHOLD,
    silent_runs,
)
from streamtts.tts.kokoro import KokoroEngine, physical_cores
from streamtts.tts.openjtalk import OpenJTalkEngine
from streamtts.tts.system import EspeakEngine, espeak_binary, read_wav

SENTENCE = "今日は天気が良いので、公園まで散歩に行きましょう。"  # 25 characters, one 、
# Each ㍿ reads as kabushikigaisha: 36 of them are more phonemes than Kokoro's context.
TOO_MANY_PHONEMES = "㍿" * 36 + "。"


def seconds(chunks: list[np.ndarray], rate: int) -> float:
    return sum(len(chunk) for chunk in chunks) / rate


def spoken_seconds(chunks: list[np.ndarray], rate: int) -> float:
    """Duration without the pause each chunk keeps after it."""
    return seconds(chunks, rate) - len(chunks) * SENTENCE_PAUSE_SECONDS


def assert_speech(chunks: list[np.ndarray], text: str, rate: int) -> None:
    """Non-silent float32 audio, about as long as Japanese speech of ``text`` lasts."""
    assert chunks and all(chunk.dtype == np.float32 and chunk.ndim == 1 for chunk in chunks)
    assert all(np.abs(chunk).max() > 0.1 for chunk in chunks)
    chars_per_second = len(text) / spoken_seconds(chunks, rate)
    assert 5 <= chars_per_second <= 12, chars_per_second


@pytest.fixture(scope="session")
def kokoro() -> KokoroEngine:
    return KokoroEngine()


@pytest.mark.parametrize(
    ("text", "max_chars", "first_clause", "expected"),
    [
        (SENTENCE, 80, True, ["今日は天気が良いので、", "公園まで散歩に行きましょう。"]),
        (SENTENCE, 80, False, [SENTENCE]),
        (
            "はい。今日は、晴れです！明日は？",
            80,
            True,
            ["はい。", "今日は、晴れです！", "明日は？"],
        ),
        (
            "あいうえお、かきくけこ、さしすせそ、たちつてと。",
            12,
            False,
            ["あいうえお、かきくけこ、", "さしすせそ、たちつてと。"],
        ),
        (
            "あいうえお、かきくけこ、さしすせそ、たちつてと。",
            12,
            True,
            ["あいうえお、", "かきくけこ、さしすせそ、", "たちつてと。"],
        ),
        ("あ" * 25, 10, False, ["あ" * 10, "あ" * 10, "あ" * 5]),
        ("one two three four", 8, False, ["one two", "three", "four"]),
        ("a      b", 3, False, ["a", "b"]),
        ("はい、今日は、晴れです。", 80, True, ["はい、今日は、", "晴れです。"]),
        ("  ", 10, True, []),
    ],
)
def test_split_for_engine(text, max_chars, first_clause, expected):
    assert split_for_engine(text, max_chars, first_clause=first_clause) == expected


def test_split_for_engine_keeps_every_character_within_the_limit():
    text = "これは長い文です、" * 30 + "終わり。" + "句読点のない長い文" * 20
    chunks = split_for_engine(text, 71)
    assert "".join(chunks) == text
    assert max(len(chunk) for chunk in chunks) <= 71


def test_kokoro_streams_the_first_clause_then_the_rest(kokoro):
    chunks = list(kokoro.synthesize(SENTENCE))
    assert len(chunks) == 2
    assert kokoro.sample_rate == 24_000
    assert_speech(chunks, SENTENCE, kokoro.sample_rate)
    # Edges fade to exactly zero, so a join cannot click.
    assert all(chunk[0] == 0 and chunk[-1] == 0 for chunk in chunks)
    # The seam: silence after the clause plus before the rest is the clause pause …
    quiet = [np.flatnonzero(np.abs(chunk) > SILENCE_THRESHOLD) for chunk in chunks]
    seam = (len(chunks[0]) - 1 - quiet[0][-1]) + quiet[1][0]
    assert seam == round(CLAUSE_PAUSE_SECONDS * 24_000)
    assert quiet[0][0] == round(LEAD_SECONDS * 24_000)
    # … which is shorter than the pause Kokoro itself makes at 、 in the whole sentence.
    assert (
        max(length for _, length in silent_runs(kokoro.render(SENTENCE), 24_000, min_seconds=0.1))
        > CLAUSE_PAUSE_SECONDS
    )


def test_kokoro_speaks_long_text_fully_and_faster_with_speed(kokoro):
    text = "わかりました、すぐに始めます。次に、設定ファイルを確認します。"
    chunks = list(kokoro.synthesize(text))
    assert len(chunks) == len(split_for_engine(text, kokoro.max_chars)) == 3
    assert_speech(chunks, text, kokoro.sample_rate)

    hello = "こんにちは。"
    fast = KokoroEngine(voice="jm_kumo", speed=1.5)
    assert seconds(list(fast.synthesize(hello)), 24_000) < seconds(
        list(kokoro.synthesize(hello)), 24_000
    )


def test_kokoro_rejects_an_unknown_voice_naming_the_real_ones():
    with pytest.raises(EngineError, match="jf_alpha, jf_gongitsune, jf_nezumi, jf_tebukuro"):
        KokoroEngine(voice="jf_nobody")


def test_openjtalk_speaks_long_text_fully_at_48_khz():
    engine = OpenJTalkEngine()
    text = "このプログラムは、入力されたテキストを文ごとに分割して、日本語に翻訳します。" * 6
    assert len(text) > engine.max_chars
    chunks = list(engine.synthesize(text))
    assert len(chunks) == 6
    assert engine.sample_rate == 48_000
    assert_speech(chunks, text, engine.sample_rate)


@pytest.mark.skipif(espeak_binary() is None, reason="espeak-ng is not installed")
def test_espeak_speaks_japanese_at_22_khz():
    engine = EspeakEngine()
    chunks = list(engine.synthesize("こんにちは。"))
    assert engine.sample_rate == 22_050
    assert len(chunks) == 1 and np.abs(chunks[0]).max() > 0.1


def test_fallback_speaks_when_the_first_engine_cannot_load(caplog):
    with caplog.at_level(logging.WARNING, logger="streamtts.tts"):
        engine = load_engine("kokoro,openjtalk", voice="jf_nobody")
    assert engine.name == "openjtalk" and engine.sample_rate == 48_000
    assert "kokoro could not load (unknown kokoro voice 'jf_nobody'" in caplog.text
    assert_speech(list(engine.synthesize(SENTENCE)), SENTENCE, 48_000)


def test_fallback_speaks_a_sentence_the_first_engine_fails_on(caplog):
    engine = load_engine("kokoro,openjtalk")
    assert engine.sample_rate == 24_000
    with caplog.at_level(logging.WARNING, logger="streamtts.tts"):
        chunks = list(engine.synthesize(TOO_MANY_PHONEMES))
    assert "kokoro failed on" in caplog.text and "phonemes exceed 510" in caplog.text
    # Open JTalk spoke it, resampled to the chain's 24 kHz.
    assert sum(map(len, chunks)) / 24_000 > 20 and np.abs(chunks[0]).max() > 0.1
    # The next sentence goes to Kokoro again.
    assert len(list(engine.synthesize(SENTENCE))) == 2


@pytest.mark.skipif(sys.platform == "darwin", reason="say exists on macOS")
def test_a_chain_where_nothing_loads_names_every_reason():
    with pytest.raises(EngineError) as raised:
        load_engine("kokoro,say", voice="jf_nobody")
    assert str(raised.value).startswith("no TTS engine could load: kokoro: unknown kokoro voice")
    assert "say: the say engine needs macOS" in str(raised.value)


def test_an_unknown_engine_lists_the_known_ones():
    with pytest.raises(EngineError, match="unknown TTS engine festival; choose from kokoro, xtts"):
        load_engine("kokoro,festival")


def test_voices_are_described_for_every_engine():
    info = {engine.name: engine for engine in describe_engines()}
    assert list(info) == ["kokoro", "xtts", "openjtalk", "say", "espeak"]
    assert info["kokoro"].available and info["kokoro"].voices[0] == "jf_alpha"
    assert info["openjtalk"].available and info["openjtalk"].voices == ("mei_normal",)
    assert info["espeak"].available == (espeak_binary() is not None)
    if sys.platform != "darwin":
        assert not info["say"].available and info["say"].note == "macOS only (the `say` command)"


def wav_bytes(tag: int, bits: int, samples: bytes, rate: int = 22_050, size: int | None = None):
    fmt = struct.pack("<HHIIHH", tag, 1, rate, rate * bits // 8, bits // 8, bits)
    data_size = len(samples) if size is None else size
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(samples))
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", data_size)
        + samples
    )


def test_read_wav_decodes_pcm16_float32_and_streamed_sizes():
    pcm = np.array([0, 16384, -32768], "<i2").tobytes()
    audio, rate = read_wav(wav_bytes(1, 16, pcm, size=0xFFFFFFFF))
    assert rate == 22_050 and audio.tolist() == [0.0, 0.5, -1.0]
    audio, _ = read_wav(wav_bytes(3, 32, np.array([0.25, -0.5], "<f4").tobytes()))
    assert audio.dtype == np.float32 and audio.tolist() == [0.25, -0.5]
    with pytest.raises(EngineError, match="did not produce a WAV"):
        read_wav(b"not a wav file")


def test_onnx_threads_are_the_physical_cores():
    assert 1 <= physical_cores() <= os.cpu_count()
