"""The speak pipeline end to end with the real voices and NLLB: sentences from the stream
reader and segmenter, NLLB converted in the test, Kokoro speech, WAV and null sinks (the
realtime null sink plays at the sample clock, so overlap and lag show in the timestamps).
What the pipeline does with sentences whatever the voice (order, skips, batches, cancels) is
tested on a fake voice in ``test_scheduling.py``."""

from __future__ import annotations

import itertools
import wave
from pathlib import Path

import numpy as np
import pytest
from helpers import DATA
from pipelines import assert_spoken_in_order, make_pipeline, speak
from streams import claude_events

from streamtts.audio.null import NullSink
from streamtts.audio.wav import WavSink
from streamtts.translate import load_translator
from streamtts.tts import TTSEngine, load_engine

# Real voices, models or processes, seconds each: left out of `make test-fast`.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kokoro() -> TTSEngine:
    """One warm Kokoro engine for the module: loading it costs seconds."""
    engine = load_engine("kokoro")
    engine.warmup()
    return engine


def test_stages_overlap_and_every_sentence_is_spoken_in_order(kokoro: TTSEngine):
    texts = ["テストを実行して、結果を確認します。", "少し待ってください。", "終わりました。"]
    sink = NullSink(realtime=True)
    records = speak(make_pipeline(kokoro, sink), "\n".join(claude_events("".join(texts))).encode())
    assert_spoken_in_order(records, texts)
    assert all(r.audio_seconds > 0.2 for r in records)  # speech, not a blip
    assert [r.translation for r in records] == texts  # --translate none speaks the text itself
    # Synthesis of sentence N+1 starts while sentence N is still playing.
    for before, after in itertools.pairwise(records):
        assert after.t_synth_start < before.t_audio_end
    # The first clause goes to the player while the rest of the sentence is synthesized.
    assert records[0].t_handoff < records[0].t_synth_end
    assert sink.frames == sum(round(r.audio_seconds * kokoro.sample_rate) for r in records)


def test_nllb_converted_here_speaks_a_capture_without_partials_into_a_wav(
    tmp_path: Path, speaking_model: Path, kokoro: TTSEngine
):
    model = speaking_model
    texts = [
        "Let me run the tests first",
        "One test fails.",
        "The minutes are overwritten instead of added.",
    ]
    wav = tmp_path / "speech.wav"
    sink = WavSink(wav)
    pipeline = make_pipeline(kokoro, sink, translate="nllb", model_dir=model)
    records = speak(pipeline, (DATA / "claude-own-tool-use.jsonl").read_bytes())
    sink.close()
    assert_spoken_in_order(records, texts)
    assert all(r.audio_seconds > 0.2 for r in records)  # speech, not a blip
    translator = load_translator("nllb", model_dir=model)
    expected = [translator.translate([text])[0] for text in texts]
    assert [r.translation for r in records] == expected
    with wave.open(str(wav)) as audio:
        assert audio.getframerate() == kokoro.sample_rate
        samples = np.frombuffer(audio.readframes(audio.getnframes()), "<i2")
    assert len(samples) == sum(round(r.audio_seconds * kokoro.sample_rate) for r in records)
    assert np.abs(samples).max() > 1000  # speech, not silence
