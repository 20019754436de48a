"""XTTS v2 through coqui-tts: Japanese speech in a voice cloned from a reference WAV, streamed.

The model directory has the hub's coqui/XTTS-v2 layout (``config.json``, ``model.pth``,
``vocab.json``, optional ``speakers_xtts.pth``) and is loaded by coqui's own ``Xtts`` class.
A voice is a reference WAV or a built-in speaker name. A WAV's conditioning latents
(``gpt_cond_latent``, ``speaker_embedding``) are computed once and cached on disk under a
key made of the WAV's sha256, the model's identity and the cloning settings, so later
starts skip the encoders. The WAV is read here with soundfile rather than coqui's
``load_audio`` (``torchaudio.load``), so decoding never needs torchcodec and FFmpeg, which
are the hardest part of the install to match to a torch build. Audio comes from
``inference_stream``: the first chunk after ``stream_chunk_size`` GPT tokens, float32 mono
at 24 kHz, each piece shaped as it arrives (``seams.shape_stream``), so the seams are those
of every other engine. Japanese is romanized by cutlet inside coqui's tokenizer, which
accepts about 71 characters per call, hence ``max_chars``. Besides the converter
(``convert/``), this is the only code of the package that imports torch, always inside
the function that needs it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from streamtts.paths import sha256_file, user_cache_dir
from streamtts.tts.base import ClauseEngine, EngineError, EngineInfo
from streamtts.tts.chunks import Chunk
from streamtts.tts.seams import pause_after, shape_stream

log = logging.getLogger(__name__)

SAMPLE_RATE = 24_000
# coqui's VoiceBpeTokenizer.char_limits["ja"]: past it XTTS warns and may cut the audio short.
MAX_CHARS = 71
LANGUAGE = "ja"
REQUIRED_FILES = ("config.json", "model.pth", "vocab.json")
SPEAKERS_FILE = "speakers_xtts.pth"
INSTALL = (
    "pip install 'streamtts[xtts]' (Linux with the CPU torch build: `make setup-xtts`, "
    "then run .venv-xtts/bin/streamtts)"
)
FETCH = "streamtts fetch-xtts"
# The settings of XttsConfig that change the latents a WAV clones to, so part of the cache key.
_CLONING_SETTINGS = ("max_ref_len", "gpt_cond_len", "gpt_cond_chunk_len", "sound_norm_refs")


@dataclass
class XttsStats:
    """How the engine obtained its voice (also logged at info level, seen with ``--verbose``)."""

    latents_computed: int = 0  # reference WAVs run through the conditioning encoders
    latents_loaded: int = 0  # latents read back from the on-disk cache


def default_model_dir() -> Path:
    """``$STREAMTTS_XTTS_DIR``, else ``streamtts/XTTS-v2`` in the user cache directory."""
    if override := os.environ.get("STREAMTTS_XTTS_DIR"):
        return Path(override).expanduser()
    return user_cache_dir() / "XTTS-v2"


def default_voice_cache() -> Path:
    """Where cloned voices' conditioning latents are kept: ``streamtts/xtts-voices``."""
    return user_cache_dir() / "xtts-voices"


def pick_device(requested: str | None = None) -> str:
    """``requested``, else ``$STREAMTTS_XTTS_DEVICE``, else CUDA, then Apple MPS, then CPU.

    XTTS on MPS has a history of missing ops and hangs in some torch releases
    (https://github.com/coqui-ai/TTS/issues/3649); ``STREAMTTS_XTTS_DEVICE=cpu`` opts out.
    """
    import torch

    choice = requested or os.environ.get("STREAMTTS_XTTS_DEVICE")
    if choice:
        return choice
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _require_coqui() -> None:
    modules = {"coqui-tts": "TTS", "cutlet": "cutlet", "fugashi": "fugashi"}
    missing = [package for package, module in modules.items() if find_spec(module) is None]
    if find_spec("unidic_lite") is None and find_spec("unidic") is None:
        missing.append("unidic-lite")  # fugashi's dictionary; plain unidic downloads at run time
    if missing:
        raise EngineError(f"xtts needs {', '.join(missing)}: {INSTALL}")
    try:
        import TTS  # noqa: F401  (its __init__ checks torch, torchaudio and torchcodec)
    except ImportError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = lines[0] if lines else type(error).__name__
        raise EngineError(f"xtts cannot import coqui-tts ({reason}): {INSTALL}") from None


def _check_model_dir(model_dir: Path) -> None:
    missing = [name for name in REQUIRED_FILES if not (model_dir / name).is_file()]
    if missing:
        raise EngineError(
            f"no XTTS v2 model in {model_dir} (missing {', '.join(missing)}): run `{FETCH}` "
            "once, or set STREAMTTS_XTTS_DIR to a directory holding coqui/XTTS-v2"
        )


def model_identity(model_dir: Path) -> str:
    """A cheap id of the weights: hashing a 1.8 GB ``model.pth`` each start would cost seconds.

    sha256 of ``config.json`` and ``vocab.json`` plus ``model.pth``'s size and mtime; a
    re-downloaded model gets a new id, which costs one recomputation of each cached voice.
    """
    digest = hashlib.sha256()
    for name in ("config.json", "vocab.json"):
        digest.update((model_dir / name).read_bytes())
    stat = (model_dir / "model.pth").stat()
    digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def read_reference(path: Path) -> tuple[Any, int]:
    """The reference recording as a ``[1, samples]`` float32 torch tensor and its rate."""
    import soundfile
    import torch

    audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    return torch.from_numpy(audio.mean(axis=1))[None, :], int(rate)


def builtin_speakers(model_dir: Path) -> dict[str, dict[str, Any]]:
    """``speakers_xtts.pth``: each built-in speaker's latents by name; empty without the file."""
    path = model_dir / SPEAKERS_FILE
    if not path.is_file():
        return {}
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def _voice_source(voice: str | None, speakers: dict[str, Any]) -> str | Path:
    """A built-in speaker's name, or the path of a recording to clone."""
    if voice is None:
        if not speakers:
            raise EngineError(
                "xtts needs a voice to clone: --voice path/to/reference.wav "
                "(6-30 s of one person speaking)"
            )
        return next(iter(speakers))
    if voice in speakers:
        return voice
    path = Path(voice).expanduser()
    if not path.is_file():
        names = list(speakers)
        known = f"; built-in: {', '.join(names[:5])}{' …' * (len(names) > 5)}" if names else ""
        raise EngineError(
            f"xtts voice {voice!r} is neither an audio file nor a built-in speaker{known}"
        )
    import soundfile

    try:
        soundfile.info(str(path))
    except (OSError, RuntimeError) as error:  # soundfile.LibsndfileError is a RuntimeError
        raise EngineError(f"cannot read reference audio {path}: {error}") from None
    return path


class XttsEngine(ClauseEngine):
    """XTTS v2 speaking Japanese in one voice, chunk by chunk as the GPT produces tokens.

    Args:
        model_dir: a coqui/XTTS-v2 directory; None means ``default_model_dir()``.
        voice: a reference WAV to clone (6-30 s of clean speech is best) or a built-in
            speaker name from ``speakers_xtts.pth``; None means the first built-in speaker.
        speed: speaking rate, 1.0 = the model's pace.
        device: ``cuda``, ``mps``, ``cpu`` …; None picks one (``pick_device``).
        cache_dir: where cloned voices' latents are cached; None means
            ``default_voice_cache()``.
        stream_chunk_size: GPT tokens (about 46 ms of audio each) per yielded chunk; smaller
            starts sound sooner, at the cost of re-running the vocoder more often.
    """

    name = "xtts"
    sample_rate = SAMPLE_RATE
    max_chars = MAX_CHARS

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        voice: str | None = None,
        speed: float = 1.0,
        device: str | None = None,
        cache_dir: Path | None = None,
        stream_chunk_size: int = 20,
    ) -> None:
        _require_coqui()
        self.model_dir = model_dir or default_model_dir()
        _check_model_dir(self.model_dir)
        # The voice is checked before the model loads, so a typo costs no 10-second load.
        speakers = builtin_speakers(self.model_dir)
        source = _voice_source(voice, speakers)
        self.voice = str(source)
        self.speed = speed
        self.stream_chunk_size = stream_chunk_size
        self.cache_dir = cache_dir or default_voice_cache()
        self.device = pick_device(device)
        self.stats = XttsStats()
        self.model = _load_model(self.model_dir, self.device)
        # After loading: coqui rewrites a legacy model.pth in place on its first load.
        self.model_id = model_identity(self.model_dir)
        if isinstance(source, Path):
            self.gpt_cond_latent, self.speaker_embedding = self._cloned(source)
        else:
            self.gpt_cond_latent = speakers[source]["gpt_cond_latent"]
            self.speaker_embedding = speakers[source]["speaker_embedding"]

    def _cloned(self, wav: Path) -> tuple[Any, Any]:
        """The WAV's latents from the voice cache, computed and stored there when missing."""
        import torch

        config = self.model.config
        settings = {name: config[name] for name in _CLONING_SETTINGS}
        key = hashlib.sha256(f"{sha256_file(wav)} {self.model_id} {settings}".encode()).hexdigest()
        cached = self.cache_dir / f"{key[:32]}.pt"
        if cached.is_file():
            try:
                latents = torch.load(cached, map_location="cpu", weights_only=True)
                found = latents["gpt_cond_latent"], latents["speaker_embedding"]
            except Exception as error:  # a truncated or foreign file: recompute, overwrite
                log.warning("ignoring unreadable voice cache %s (%s)", cached, error)
            else:
                self.stats.latents_loaded += 1
                log.info("voice %s: latents from %s", wav, cached)
                return found
        gpt_cond_latent, speaker_embedding = self._encode(wav, settings)
        self.stats.latents_computed += 1
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        torch.save(
            {"gpt_cond_latent": gpt_cond_latent, "speaker_embedding": speaker_embedding}, partial
        )
        partial.replace(cached)  # atomic: a concurrent reader never sees half a file
        log.info("voice %s: latents computed, cached in %s", wav, cached)
        return gpt_cond_latent, speaker_embedding

    def _encode(self, wav: Path, settings: dict[str, Any]) -> tuple[Any, Any]:
        """Run the reference through XTTS's conditioning encoders, as coqui's own cloning does."""
        audio, rate = read_reference(wav)
        audio = audio[:, : rate * settings["max_ref_len"]]
        if settings["sound_norm_refs"]:
            audio = audio / audio.abs().max() * 0.75
        try:
            gpt_cond_latent = self.model.get_gpt_cond_latents(
                audio,
                rate,
                length=settings["gpt_cond_len"],
                chunk_length=settings["gpt_cond_chunk_len"],
            )
        except RuntimeError as error:  # coqui: "Provided reference audio too short …"
            raise EngineError(f"cannot clone a voice from {wav}: {error}") from None
        speaker_embedding = self.model.get_speaker_embedding(audio, rate)
        return gpt_cond_latent.cpu(), speaker_embedding.cpu()

    @staticmethod
    def describe() -> EngineInfo:
        """Whether XTTS can run here, and its built-in speakers when the model is present."""
        model_dir = default_model_dir()
        try:
            _require_coqui()
            _check_model_dir(model_dir)
        except EngineError as error:
            return EngineInfo("xtts", False, str(error), ())
        note = f"XTTS v2 (coqui-tts), 24 kHz, clones --voice REF.wav; model in {model_dir}"
        return EngineInfo("xtts", True, note, tuple(builtin_speakers(model_dir)))

    def speak(self, chunk: Chunk) -> Iterator[np.ndarray]:
        """``chunk``'s audio as the GPT produces it, shaped piece by piece for its seam."""
        yield from shape_stream(
            self.stream(chunk.text), self.sample_rate, trail_seconds=pause_after(chunk)
        )

    def stream(self, text: str) -> Iterator[np.ndarray]:
        """Raw float32 mono pieces at 24 kHz of ``text`` as one call, as the GPT runs."""
        text = text.strip()
        if not text:
            return
        config = self.model.config
        stream = self.model.inference_stream(
            text,
            LANGUAGE,
            self.gpt_cond_latent,
            self.speaker_embedding,
            stream_chunk_size=self.stream_chunk_size,
            speed=self.speed,
            temperature=config.temperature,
            length_penalty=config.length_penalty,
            repetition_penalty=config.repetition_penalty,
            top_k=config.top_k,
            top_p=config.top_p,
        )
        for chunk in stream:
            if chunk.numel():
                yield chunk.float().cpu().numpy()


def _load_model(model_dir: Path, device: str) -> Any:
    from transformers.utils import logging as transformers_logging
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.models.xtts import Xtts

    config = XttsConfig()
    config.load_json(str(model_dir / "config.json"))
    # coqui builds a GPT2Config with GPT-2's text token ids, which transformers warns about at
    # every load although XTTS never uses them: keep that noise off the user's terminal.
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        model = Xtts(config)
        model.load_checkpoint(config, checkpoint_dir=str(model_dir), eval=True)
    finally:
        transformers_logging.set_verbosity(verbosity)
    return model.to(device)
