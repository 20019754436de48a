"""XTTS v2 at its real shape on this machine: load, voice cloning, first chunk, real-time factor.

No XTTS weights can be downloaded here, so the model is coqui's ``Xtts`` at the real XTTS v2
shape (30-layer, 1024-wide GPT, full HiFi-GAN decoder and speaker encoder, about 470 M
parameters) with random weights, saved in the hub's layout and loaded by ``XttsEngine``: the
code path and the arithmetic of the real model. Random weights never emit the stop token,
so each sentence's generation is capped at the length real speech of it has, taken from
Open JTalk's rendering (XTTS spends one GPT token per 1024 samples at 22.05 kHz). What random
weights cannot show is the voice itself. The sentences are bench/tts.py's.

Run in the XTTS environment (``make setup-xtts``):
``.venv-xtts/bin/python -m bench.xtts [--runs 1] [--chunk 20] [--device cpu]``;
writes bench/results/xtts.md. ``--smoke`` runs the tiny test model instead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import (
    machine_info,
    markdown_table,
    package_versions,
    parse_args,
    percentiles,
    results_header,
    write_results,
)
from bench.tts import sentences, synthesize
from streamtts.tts.base import WARMUP_TEXT
from streamtts.tts.xtts import XttsEngine

PACKAGES = ["coqui-tts", "torch", "torchaudio", "transformers", "cutlet", "numpy"]
TOKEN_SAMPLES = 1024 / 22050  # seconds of speech per GPT audio token


def speech_tokens(text: str) -> int:
    """GPT tokens for ``text`` at the length Open JTalk speaks it."""
    import pyopenjtalk

    audio, rate = pyopenjtalk.tts(text)
    return max(1, round(len(audio) / rate / TOKEN_SAMPLES))


def reference(path: Path) -> Path:
    """Ten seconds of Open JTalk speech: a reference recording to clone."""
    import numpy as np
    import pyopenjtalk
    import soundfile

    audio, rate = pyopenjtalk.tts("".join(sentences()[4:8]))
    soundfile.write(path, (audio / 32768).astype(np.float32), rate, subtype="PCM_16")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="syntheses per sentence")
    parser.add_argument("--chunk", type=int, default=20, help="GPT tokens per streamed chunk")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads; 1 holds up best when other processes load the CPU",
    )
    parser.add_argument("--sentences", type=int, help="how many, shortest to longest (default 10)")
    parser.add_argument(
        "--size", choices=("full", "tiny"), default="full", help="tiny: the tests' XTTS model"
    )
    parser.add_argument("--out", default="xtts.md", help="results file name")
    args = parse_args(parser, smoke={"sentences": 1, "size": "tiny"})
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    # The tests' model builder, at full size: one definition of the random XTTS v2 layout.
    from tests.builders import build_random_xtts

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="xtts-bench-") as tmp:
        work = Path(tmp)
        model_dir = build_random_xtts(
            work / "XTTS-v2", full_size=args.size == "full", speakers=False
        )
        wav = reference(work / "ref.wav")

        def load() -> tuple[XttsEngine, float]:
            start = time.perf_counter()
            engine = XttsEngine(
                model_dir,
                voice=str(wav),
                device=args.device,
                cache_dir=work / "voices",
                stream_chunk_size=args.chunk,
            )
            return engine, time.perf_counter() - start

        engine, cloned = load()
        assert engine.stats.latents_computed == 1
        del engine
        engine, cached = load()
        assert engine.stats.latents_loaded == 1
        # Random weights never emit the stop token: cap each generation at real speech length,
        # within the model's own limit (far above a sentence at the real shape; --smoke's tiny
        # model holds less than a second of speech).
        limit = engine.model.gpt.max_gen_mel_tokens
        engine.model.gpt.max_gen_mel_tokens = min(speech_tokens(WARMUP_TEXT), limit)
        start = time.perf_counter()
        engine.warmup()
        warmup = time.perf_counter() - start

        rows = []
        for text in sentences(args.sentences):
            tokens = min(speech_tokens(text), limit)
            engine.model.gpt.max_gen_mel_tokens = tokens
            taken = [synthesize(engine, text) for _ in range(args.runs)]
            audio = sum(chunk.size for chunk in taken[0][2]) / engine.sample_rate
            ttfc = statistics.median(t[0] for t in taken)
            rtf = statistics.median(t[1] for t in taken) / audio
            rows.append((text, tokens, audio, len(taken[0][2]), ttfc, rtf))
            print(f"{len(text)} chars: first chunk {ttfc:.2f} s, RTF {rtf:.2f}", file=sys.stderr)

    ttfc_spread = percentiles((row[4] for row in rows), [50, 95])
    rtf_spread = percentiles((row[5] for row in rows), [50, 95])
    shared = ": other processes shared the CPU, so these times are pessimistic"
    header = results_header(
        "XTTS v2 (random weights at the real shape)",
        machine={
            **machine_info(),
            "load average before the run": " ".join(f"{x:.2f}" for x in load_before)
            + (shared if load_before[0] > 0.5 else ""),
        },
        versions=package_versions(PACKAGES),
    )
    lines = [
        f"{len(rows)} sentences, {args.runs} run(s) each after one warm-up synthesis; chunks "
        f"of {args.chunk} GPT tokens; torch threads: {torch.get_num_threads()}. No GPU or "
        "Apple-silicon figures: none were measured.",
        "",
        markdown_table(
            ["measure", "median", "p95"],
            [
                ["time to first chunk (s)", *(f"{x:.2f}" for x in ttfc_spread)],
                ["real-time factor (synthesis / audio)", *(f"{x:.2f}" for x in rtf_spread)],
            ],
        ),
        "",
        markdown_table(
            ["once per start", "seconds"],
            [
                ["load + clone the reference WAV (latents computed)", f"{cloned:.1f}"],
                ["load, latents read from the voice cache", f"{cached:.1f}"],
                ["warm-up synthesis", f"{warmup:.1f}"],
            ],
        ),
        "",
        markdown_table(
            ["characters", "GPT tokens", "audio (s)", "chunks", "first chunk (s)", "RTF"],
            [
                [len(text), tokens, f"{audio:.2f}", chunks, f"{first:.2f}", f"{factor:.2f}"]
                for text, tokens, audio, chunks, first, factor in rows
            ],
        ),
        "",
    ]
    text = header + "\n".join(lines)
    print(text)
    write_results(args.results, args.out, text)


if __name__ == "__main__":
    main()
