"""XTTS v2 engine on a tiny random-weight model in the real layout, and its installer.

The engine tests need coqui-tts, which lives in its own environment: ``make test-xtts``
runs them in ``.venv-xtts``; in the main environment they are skipped with that reason,
and the tests of the missing-dependency message and of ``fetch-xtts`` run instead.
"""

from __future__ import annotations

import logging
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from streamtts.tts import EngineError, load_engine
from streamtts.tts.seams import LEAD_SECONDS, SENTENCE_PAUSE_SECONDS, shape
from streamtts.tts.xtts import SAMPLE_RATE, XttsEngine, XttsStats

HAVE_COQUI = find_spec("TTS") is not None
needs_coqui = pytest.mark.skipif(
    not HAVE_COQUI, reason="coqui-tts is not installed here; `make test-xtts` runs these tests"
)
SENTENCE = "こんにちは、今日はいい天気ですね。"


@pytest.fixture(scope="module")
def tiny_xtts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight XTTS v2 model directory with two built-in speakers."""
    from builders import build_random_xtts

    return build_random_xtts(tmp_path_factory.mktemp("xtts") / "XTTS-v2")


def _speech(path: Path, text: str) -> Path:
    """Real Japanese speech from Open JTalk, as a 16-bit 48 kHz WAV: a reference to clone."""
    import pyopenjtalk
    import soundfile

    audio, rate = pyopenjtalk.tts(text)
    soundfile.write(path, (audio / 32768).astype(np.float32), rate, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def reference_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _speech(
        tmp_path_factory.mktemp("ref") / "ref.wav", "散歩に行きましょう。雨が止みました。"
    )


@pytest.fixture(scope="module")
def engine(tiny_xtts: Path, reference_wav: Path, tmp_path_factory: pytest.TempPathFactory):
    """One engine cloning ``reference_wav``, shared by the tests that only synthesize."""
    return XttsEngine(
        tiny_xtts,
        voice=str(reference_wav),
        device="cpu",
        cache_dir=tmp_path_factory.mktemp("voices"),
        stream_chunk_size=6,
    )


def _synthesize(engine: XttsEngine, text: str) -> list[np.ndarray]:
    import torch

    torch.manual_seed(0)  # sampling: the same seed gives the same tokens
    return list(engine.synthesize(text))


def _raw(engine: XttsEngine, text: str) -> list[np.ndarray]:
    """What XTTS itself streams for ``text`` in one call, before any shaping."""
    import torch

    torch.manual_seed(0)
    return list(engine.stream(text))


@needs_coqui
def test_streams_float32_chunks_at_24khz(engine: XttsEngine) -> None:
    assert (engine.name, engine.sample_rate, engine.max_chars) == ("xtts", 24_000, 71)
    assert engine.device == "cpu" and not engine.first_clause
    engine.warmup()
    raw = _raw(engine, SENTENCE)
    # 11 tokens at 6 per chunk: the first chunk comes after 6 tokens, not after all 11.
    assert len(raw) == 2
    chunks = _synthesize(engine, SENTENCE)
    # Each of XTTS's chunks passes on as it comes, less the samples that may be the end;
    # the end comes last, faded and with the sentence pause.
    assert len(chunks) == 3
    for chunk in chunks:
        assert chunk.dtype == np.float32 and chunk.ndim == 1 and chunk.size > 0
        assert np.isfinite(chunk).all()
    assert chunks[0].size < raw[0].size + round(LEAD_SECONDS * SAMPLE_RATE)
    # Exactly the shaping every other engine gets on a whole render.
    whole = shape(np.concatenate(raw), SAMPLE_RATE, trail_seconds=SENTENCE_PAUSE_SECONDS)
    assert np.array_equal(np.concatenate(chunks), whole)
    assert chunks[0][0] == 0 and chunks[-1][-1] == 0
    assert list(engine.synthesize("  ")) == []


@needs_coqui
def test_speed_shortens_the_audio(engine: XttsEngine) -> None:
    normal = sum(chunk.size for chunk in _raw(engine, SENTENCE))
    engine.speed = 2.0
    try:
        fast = sum(chunk.size for chunk in _raw(engine, SENTENCE))
    finally:
        engine.speed = 1.0
    assert 0.4 < fast / normal < 0.6
    # Each GPT token stands for 1024 samples at 22.05 kHz.
    assert normal / SAMPLE_RATE == pytest.approx(11 * 1024 / 22050, rel=0.1)


@needs_coqui
def test_the_engine_splits_a_sentence_within_the_xtts_limit(
    engine: XttsEngine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clause = SENTENCE.removesuffix("。") + "、"
    text = clause * 3 + "ファイルを読み込んで、結果を確認して、エラーを修正しました。"
    assert len(text) == 81 > engine.max_chars
    # One call with all of it: coqui checks the length when it tokenizes, before the first
    # chunk, so one chunk is enough to see it.
    with caplog.at_level(logging.WARNING, logger="TTS"):
        next(engine.stream(text))
    assert "exceeds the character limit of 71" in caplog.text
    caplog.clear()
    calls = []
    stream = engine.stream
    monkeypatch.setattr(engine, "stream", lambda piece: calls.append(piece) or stream(piece))
    with caplog.at_level(logging.WARNING, logger="TTS"):
        assert _synthesize(engine, text)
    assert calls == [
        clause * 3 + "ファイルを読み込んで、結果を確認して、",
        "エラーを修正しました。",
    ]
    assert "exceeds the character limit" not in caplog.text


@needs_coqui
def test_cloned_latents_are_cached_on_disk_and_reused(
    tiny_xtts: Path, reference_wav: Path, tmp_path: Path
) -> None:
    import torch

    def load(voice: Path) -> XttsEngine:
        return XttsEngine(tiny_xtts, voice=str(voice), device="cpu", cache_dir=tmp_path)

    first = load(reference_wav)
    assert first.stats == XttsStats(latents_computed=1, latents_loaded=0)
    [cached] = tmp_path.glob("*.pt")
    written = cached.stat().st_mtime_ns
    assert first.gpt_cond_latent.shape == (1, 32, 64)  # perceiver latents x GPT width
    assert first.speaker_embedding.shape == (1, 512, 1)

    second = load(reference_wav)
    assert second.stats == XttsStats(latents_computed=0, latents_loaded=1)
    assert cached.stat().st_mtime_ns == written
    assert torch.equal(second.gpt_cond_latent, first.gpt_cond_latent)
    assert torch.equal(second.speaker_embedding, first.speaker_embedding)

    cached.write_bytes(b"not a torch file")  # a truncated write, say: recomputed, replaced
    third = load(reference_wav)
    assert third.stats == XttsStats(latents_computed=1, latents_loaded=0)
    assert torch.equal(third.gpt_cond_latent, first.gpt_cond_latent)

    other = load(_speech(tmp_path / "other.wav", "東京は晴れています。"))
    assert other.stats == XttsStats(latents_computed=1, latents_loaded=0)
    assert len(list(tmp_path.glob("*.pt"))) == 2
    assert not torch.equal(other.gpt_cond_latent, first.gpt_cond_latent)


@needs_coqui
def test_registry_loads_builtin_speaker_from_default_dir(
    tiny_xtts: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import torch

    monkeypatch.setenv("STREAMTTS_XTTS_DIR", str(tiny_xtts))
    monkeypatch.setenv("STREAMTTS_XTTS_DEVICE", "cpu")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    info = XttsEngine.describe()
    assert info.available and info.voices == ("Tiny Speaker", "Other Speaker")

    engine = load_engine("xtts")
    assert engine.name == "xtts" and engine.voice == "Tiny Speaker"
    speakers = torch.load(tiny_xtts / "speakers_xtts.pth", weights_only=True)
    assert torch.equal(engine.gpt_cond_latent, speakers["Tiny Speaker"]["gpt_cond_latent"])
    assert engine.stats == XttsStats()  # built-in latents: nothing computed or cached
    assert next(engine.synthesize("はい。")).size > 0


@needs_coqui
def test_bad_voice_or_model_fails_before_loading(tiny_xtts: Path, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"'Nobody' is neither .* built-in: Tiny Speaker"):
        XttsEngine(tiny_xtts, voice="Nobody")
    notes = tmp_path / "notes.wav"
    notes.write_text("not audio")
    with pytest.raises(EngineError, match=r"cannot read reference audio .*notes.wav: "):
        XttsEngine(tiny_xtts, voice=str(notes))
    bare = tmp_path / "no-speakers"
    bare.mkdir()
    for name in ("config.json", "model.pth", "vocab.json"):
        (bare / name).symlink_to(tiny_xtts / name)
    with pytest.raises(EngineError, match=r"needs a voice to clone: --voice"):
        XttsEngine(bare)
    missing = r"empty \(missing config.json, model.pth, vocab.json\): run `streamtts fetch-xtts`"
    with pytest.raises(EngineError, match="no XTTS v2 model in .*" + missing):
        XttsEngine(tmp_path / "empty")


@pytest.mark.skipif(HAVE_COQUI, reason="coqui-tts is installed: the missing-dependency path")
def test_missing_coqui_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(
        EngineError, match=r"xtts needs coqui-tts, cutlet.*pip install 'streamtts\[xtts\]'"
    ):
        XttsEngine(tmp_path)
    info = XttsEngine.describe()
    assert not info.available and "make setup-xtts" in info.note


def _model_files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_fetch_xtts_installs_a_local_copy(tmp_path: Path) -> None:
    source = tmp_path / "download"
    source.mkdir()
    for name in ("config.json", "model.pth", "vocab.json"):
        (source / name).write_bytes(f"contents of {name}".encode())
    (source / "dvae.pth").write_bytes(b"training only")
    out = tmp_path / "cache" / "XTTS-v2"
    result = run_cli("fetch-xtts", "--from", source, "--out", out)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote {out} (0.0 MB); XTTS v2's weights are under")
    assert _model_files(out) == {
        name: (source / name).read_bytes() for name in ("config.json", "model.pth", "vocab.json")
    }
    assert [path.name for path in out.parent.iterdir()] == ["XTTS-v2"]  # no staging left

    again = run_cli("fetch-xtts", "--from", source, "--out", out)
    assert again.exit_code == 1
    assert again.output == f"streamtts: {out} already exists; pass --force to replace it\n"

    (source / "speakers_xtts.pth").write_bytes(b"speakers")
    forced = run_cli("fetch-xtts", "--from", source, "--out", out, "--force")
    assert forced.exit_code == 0, forced.output
    assert _model_files(out)["speakers_xtts.pth"] == b"speakers"


def test_fetch_xtts_refuses_a_directory_without_the_model(tmp_path: Path) -> None:
    source = tmp_path / "partial"
    source.mkdir()
    (source / "config.json").write_text("{}")
    out = tmp_path / "XTTS-v2"
    result = run_cli("fetch-xtts", "--from", source, "--out", out)
    assert result.exit_code == 1
    assert result.output == (
        f"streamtts: {source} is not an XTTS v2 model directory (missing model.pth, vocab.json)\n"
    )
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["partial"]
