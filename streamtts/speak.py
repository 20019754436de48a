"""``streamtts speak`` as a library call: options in, a spoken stream and its summary out.

The command line builds a ``SpeakOptions`` and hands it here; this module turns the options
into the parts the pipeline runs (translator and engine loaders, the sink), runs it to the end
of input or to Ctrl-C, and writes the accounting the options ask for. The pipeline itself
knows nothing about options, so tests and benchmarks drive it with parts of their own.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, BinaryIO, TextIO

from streamtts.errors import StreamttsError
from streamtts.paths import check_writable
from streamtts.pipeline import Pipeline
from streamtts.stats import Summary, summarize, write_json, write_report

if TYPE_CHECKING:
    from streamtts.audio import AudioSink
    from streamtts.config import SpeakOptions


def speak(
    stream: BinaryIO,
    options: SpeakOptions,
    *,
    subtitles: TextIO | None = None,
    report: TextIO | None = None,
    sink: AudioSink | None = None,
) -> Summary:
    """Speak what ``stream`` says as ``options`` direct, and return the run's summary.

    ``subtitles`` receives the sentences when ``options.print`` is set; ``report`` receives
    the totals line and, with ``options.stats``, the per-stage table; ``options.stats_json``
    is written after them, so a file that cannot be written loses neither. Both output files
    are checked before any work: neither may be the input, and the stats file's directory
    must take a file. ``sink`` replaces the one the options describe (tests and benchmarks
    pass a null sink); it is closed at the end. Ctrl-C ends the run with
    ``summary.interrupted`` set, sound silenced at once; an error loading a model or opening
    the sound device propagates for the caller to print.
    """
    from streamtts.translate import load_translator
    from streamtts.tts import load_engine

    _refuse_overwriting_input(stream, options)
    if options.stats_json is not None:
        check_writable(options.stats_json)
    if sink is None:
        from streamtts.audio import open_sink

        sink = open_sink(output=options.output, device=options.sound_device, play=options.plays)
    pipeline = Pipeline(
        load_translator=lambda: load_translator(options.translate, model_dir=options.model_dir),
        load_engine=lambda: load_engine(options.tts, voice=options.voice, speed=options.speed),
        sink=sink,
        fmt=options.format,
        max_lag=options.max_lag,
        subtitles=subtitles if options.print else None,
    )
    interrupted = False
    try:
        for _record in pipeline.run(stream):
            pass
    except KeyboardInterrupt:
        interrupted = True  # the pipeline has silenced the sink already
    else:
        sink.close()
    summary = summarize(
        pipeline.records,
        wall_seconds=time.perf_counter() - pipeline.t0,
        startup=pipeline.startup,
        source=asdict(pipeline.source_stats),
        interrupted=interrupted,
        underflows=sink.underflows,
    )
    if report is not None:
        write_report(summary, report, table=options.stats)
    if options.stats_json is not None:
        write_json(options.stats_json, pipeline.records, summary, t0=pipeline.t0)
    return summary


def _refuse_overwriting_input(stream: BinaryIO, options: SpeakOptions) -> None:
    """Refuse an output file that is the input file itself (it would be truncated)."""
    try:
        source = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # not a file (a test's BytesIO)
        return
    if not stat.S_ISREG(source.st_mode):
        return
    for option, path in (("--output", options.output), ("--stats-json", options.stats_json)):
        if path is not None and path.exists() and os.path.samestat(source, os.stat(path)):
            raise StreamttsError(f"{option} {path} is the input file; name another file")
