"""Speech engines with real synthesis: Kokoro, Open JTalk, espeak-ng, and the fallback chain."""

from __future__ import annotations

import logging
import os
import struct
import sys

import numpy as np
import pytest
from audio_checks import silent_runs

from streamtts.tts import EngineError, describe_engines, load_engine
from streamtts.tts.chunks import Chunk, split_sentence
from streamtts.tts.fallback import FallbackEngine
from streamtts.tts.kokoro import KokoroEngine, physical_cores
from streamtts.tts.openjtalk import OpenJTalkEngine
from streamtts.tts.seams import (
    CLAUSE_PAUSE_SECONDS,
    FADE_SECONDS,
    LEAD_SECONDS,
    SENTENCE_PAUSE_SECONDS,
    SILENCE_THRESHOLD,
    shape,
    shape_stream,
)
from streamtts.tts.system import EspeakEngine, espeak_binary, read_wav

# Real voices, models or processes, seconds each: left out of `make test-fast`.
pytestmark = pytest.mark.slow

SENTENCE = "今日は天気が良いので、公園まで散歩に行きましょう。"  # 25 characters, one 、
# Each ㍿ reads as kabushikigaisha: 36 of them are more phonemes than Kokoro's context.
TOO_MANY_PHONEMES = "㍿" * 36 + "。"
# 100 characters that fit two Kokoro calls of at most 80: the first clause (35), the rest (65).
HUNDRED = (
    "リポジトリ全体の設定ファイルと環境変数の読み込み順序を確認したところ、"
    "古い設定が新しい値を上書きしていたので、読み込み順を修正して、"
    "もう不要になった古いコードを削除し、テストを追加して再確認しました。"
)


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


def quiet_edges(chunk: np.ndarray) -> tuple[int, int]:
    """Samples at or below the silence threshold before the first and after the last sound."""
    loud = np.flatnonzero(np.abs(chunk) > SILENCE_THRESHOLD)
    return int(loud[0]), int(len(chunk) - 1 - loud[-1])


@pytest.fixture(scope="session")
def kokoro() -> KokoroEngine:
    return KokoroEngine()


class CountingKokoro(KokoroEngine):
    """The real Kokoro, recording the text of every model call."""

    def __init__(self) -> None:
        super().__init__()
        self.rendered: list[str] = []

    def render(self, text: str) -> np.ndarray:
        self.rendered.append(text)
        return super().render(text)


def sentence_end(text: str) -> Chunk:
    return Chunk(text, ends_sentence=True)


def clause(text: str) -> Chunk:
    return Chunk(text, ends_sentence=False)


def in_word(text: str) -> Chunk:
    return Chunk(text, ends_sentence=False, in_word=True)


@pytest.mark.parametrize(
    ("text", "max_chars", "first_clause", "expected"),
    [
        (
            SENTENCE,
            80,
            True,
            [clause("今日は天気が良いので、"), sentence_end("公園まで散歩に行きましょう。")],
        ),
        (SENTENCE, 80, False, [sentence_end(SENTENCE)]),
        (
            "はい。今日は、晴れです！明日は？",
            80,
            True,
            [sentence_end("はい。"), sentence_end("今日は、晴れです！"), sentence_end("明日は？")],
        ),
        (
            "あいうえお、かきくけこ、さしすせそ、たちつてと。",
            12,
            False,
            [clause("あいうえお、かきくけこ、"), sentence_end("さしすせそ、たちつてと。")],
        ),
        (
            "あいうえお、かきくけこ、さしすせそ、たちつてと。",
            12,
            True,
            [
                clause("あいうえお、"),
                clause("かきくけこ、さしすせそ、"),
                sentence_end("たちつてと。"),
            ],
        ),
        # A run with no 、 or space is cut at the limit, inside a word: no pause there.
        ("あ" * 25, 10, False, [in_word("あ" * 10), in_word("あ" * 10), sentence_end("あ" * 5)]),
        ("あ" * 12 + "、いう。", 10, False, [in_word("あ" * 10), sentence_end("ああ、いう。")]),
        (
            "one two three four",
            8,
            False,
            [clause("one two"), clause("three"), sentence_end("four")],
        ),
        ("a      b", 3, False, [clause("a"), sentence_end("b")]),
        (
            "はい、今日は、晴れです。",
            80,
            True,
            [clause("はい、今日は、"), sentence_end("晴れです。")],
        ),
        # The end of the text ends a sentence, marked or not.
        ("今日は、晴れ", 80, True, [clause("今日は、"), sentence_end("晴れ")]),
        ("  ", 10, True, []),
    ],
)
def test_split_sentence(text, max_chars, first_clause, expected):
    assert split_sentence(text, max_chars, first_clause=first_clause) == expected


def test_split_sentence_keeps_every_character_within_the_limit():
    text = "これは長い文です、" * 30 + "終わり。" + "句読点のない長い文" * 20
    chunks = split_sentence(text, 71, first_clause=True)
    assert "".join(chunk.text for chunk in chunks) == text
    assert max(len(chunk.text) for chunk in chunks) <= 71


def test_a_streamed_utterance_is_shaped_exactly_as_the_whole_render():
    audio = OpenJTalkEngine().render(SENTENCE)
    whole = shape(audio, 48_000, trail_seconds=0.2)
    # Cuts in the leading silence, inside sound, and in the trailing silence.
    pieces = np.split(audio, [100, 5_000, 5_003, 40_000, len(audio) - 50])
    streamed = list(shape_stream(pieces, 48_000, trail_seconds=0.2))
    assert len(streamed) > 2  # each piece is passed on as it arrives
    assert np.array_equal(np.concatenate(streamed), whole)
    assert quiet_edges(whole) == (round(LEAD_SECONDS * 48_000), round(0.2 * 48_000))
    assert whole[0] == 0 and whole[-1] == 0
    assert list(shape_stream([np.zeros(1_000, np.float32)], 48_000, trail_seconds=0.2)) == []


def test_kokoro_streams_the_first_clause_then_the_rest(kokoro):
    chunks = list(kokoro.synthesize(SENTENCE))
    assert len(chunks) == 2
    assert kokoro.sample_rate == 24_000
    assert_speech(chunks, SENTENCE, kokoro.sample_rate)
    # Edges fade to exactly zero, so a join cannot click.
    assert all(chunk[0] == 0 and chunk[-1] == 0 for chunk in chunks)
    # The seam: silence after the clause plus before the rest is the clause pause …
    (lead, clause_tail), (clause_lead, sentence_tail) = map(quiet_edges, chunks)
    assert clause_tail + clause_lead == round(CLAUSE_PAUSE_SECONDS * 24_000)
    assert lead == clause_lead == round(LEAD_SECONDS * 24_000)
    assert sentence_tail == round(SENTENCE_PAUSE_SECONDS * 24_000)
    # … which is shorter than the pause Kokoro itself makes at 、 in the whole sentence.
    assert (
        max(length for _, length in silent_runs(kokoro.render(SENTENCE), 24_000, min_seconds=0.1))
        > CLAUSE_PAUSE_SECONDS
    )


def test_kokoro_speaks_long_text_fully_and_faster_with_speed(kokoro):
    text = "わかりました、すぐに始めます。次に、設定ファイルを確認します。"
    chunks = list(kokoro.synthesize(text))
    assert len(chunks) == len(split_sentence(text, kokoro.max_chars, first_clause=True)) == 3
    assert_speech(chunks, text, kokoro.sample_rate)

    hello = "こんにちは。"
    fast = KokoroEngine(voice="jm_kumo", speed=1.5)
    assert seconds(list(fast.synthesize(hello)), 24_000) < seconds(
        list(kokoro.synthesize(hello)), 24_000
    )


def test_a_sentence_that_needs_two_kokoro_calls_gets_two_alone_and_in_a_chain():
    engine = CountingKokoro()
    assert len(HUNDRED) == 100
    assert len(list(engine.synthesize(HUNDRED))) == 2
    first = "リポジトリ全体の設定ファイルと環境変数の読み込み順序を確認したところ、"
    assert engine.rendered == [first, HUNDRED.removeprefix(first)]
    # A chain hands Kokoro the whole sentence too, not pieces it would split again.
    engine.rendered.clear()
    chain = FallbackEngine([engine, OpenJTalkEngine()])
    assert len(list(chain.synthesize(HUNDRED))) == 2
    assert engine.rendered == [first, HUNDRED.removeprefix(first)]


def test_a_run_past_max_chars_is_hard_cut_without_a_pause():
    engine = OpenJTalkEngine()
    run = "吾輩は猫である名前はまだ無いどこで生れたかとんと見当がつかぬ" * 8  # no 、 or space
    assert len(run) > engine.max_chars
    chunks = list(engine.synthesize(run + "。"))
    assert len(chunks) == 2
    (_, cut_tail), (cut_lead, sentence_tail) = map(quiet_edges, chunks)
    # Only the next chunk's lead (and the fade of the last sound) lies between the halves.
    assert cut_lead == round(LEAD_SECONDS * 48_000)
    assert cut_tail <= round(FADE_SECONDS * 48_000)
    assert sentence_tail == round(SENTENCE_PAUSE_SECONDS * 48_000)


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


def test_fallback_speaks_a_sentence_the_first_engine_renders_as_silence(kokoro, caplog):
    assert list(kokoro.synthesize("pd")) == []  # Kokoro reads no phonemes in pure Latin text
    engine = load_engine("kokoro,openjtalk")
    with caplog.at_level(logging.WARNING, logger="streamtts.tts"):
        chunks = list(engine.synthesize("pd"))
    assert "kokoro failed on 'pd' (it produced no audio); falling back" in caplog.text
    assert len(chunks) > 0 and np.abs(np.concatenate(chunks)).max() > 0.1


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
