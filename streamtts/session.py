"""The composition root of ``speak``, ``watch`` and ``say``: read → segment → pipeline → report.

The command line builds a ``SpeakOptions`` and hands it here with a source: a byte stream
of an agent's output (``speak``), a Claude Code session transcript followed as it is
written (``watch``), or a text to say (``say``). This module owns everything around the
pipeline: it parses and segments the source, turns the options into the parts the
pipeline runs (translator and engine loaders, the sink), prints subtitles as each sentence
starts, accounts for every sentence the pipeline took (those a Ctrl-C cut short are
``interrupted``), and writes the totals line, the stats table and the stats file. The
pipeline itself knows nothing about options, sources or reports, so tests and benchmarks
drive it with parts of their own.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from streamtts.daemon.remote import remote_run
from streamtts.errors import StreamttsError, detach_output, from_os_error
from streamtts.paths import check_writable
from streamtts.pipeline.core import Ready, Started
from streamtts.pipeline.run import LocalRun, Run
from streamtts.pipeline.stats import SentenceRecord, Summary, summarize, write_json, write_report
from streamtts.reading.formats.base import TextPiece
from streamtts.reading.stream import SourceStats, read_pieces
from streamtts.reading.transcript import project_key, projects_dir, watch_pieces
from streamtts.text.segmenter import Sentence, segment

if TYPE_CHECKING:
    from streamtts.audio.sink import AudioSink
    from streamtts.config import SpeakOptions


def speak(
    stream: BinaryIO,
    options: SpeakOptions,
    *,
    subtitles: TextIO | None = None,
    report: TextIO | None = None,
    sink: AudioSink | None = None,
    imported: float | None = None,
) -> Summary:
    """Speak what ``stream`` (an agent's output, in ``options.format``) says; see ``speak_pieces``.

    An output file that is the input file itself is refused before any work.
    """
    try:
        source = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # not a file (a test's BytesIO)
        source = None
    _refuse_overwriting(source, options)
    stats = SourceStats()
    pieces = read_pieces(stream, fmt=options.format, stats=stats)
    run = remote_run(options, start=False) if sink is None else None
    return speak_pieces(
        pieces,
        options,
        source=stats,
        subtitles=subtitles,
        report=report,
        sink=sink,
        run=run,
        imported=imported,
    )


def watch(
    transcript: Path | None,
    options: SpeakOptions,
    *,
    cwd: Path,
    subtitles: TextIO | None = None,
    report: TextIO | None = None,
    imported: float | None = None,
) -> Summary:
    """Speak what the assistant writes to a Claude Code session transcript from now on.

    Without ``transcript``, the newest session of ``cwd``'s project is followed, and a newer
    one as soon as it appears; with none yet, the first is waited for. ``report`` is told,
    in a line each, what is waited for and which transcript is followed. It runs until
    Ctrl-C (``summary.interrupted``).
    """
    project = None
    if transcript is None:
        project = projects_dir() / project_key(cwd)
    else:
        try:
            _refuse_overwriting(os.stat(transcript), options)
        except OSError as error:
            raise from_os_error("read", transcript, error) from None

    def announce(path: Path | None) -> None:
        if path is None:
            _note(report, f"no Claude Code session of {cwd} yet: waiting for one in {project}")
        else:
            _note(report, f"following {path}")

    stats = SourceStats(format="claude-transcript")
    stop = threading.Event()
    try:
        return speak_pieces(
            watch_pieces(
                transcript,
                project=project,
                stop=stop,
                stats=stats,
                announce=announce,
            ),
            options,
            source=stats,
            subtitles=subtitles,
            report=report,
            run=remote_run(options, start=True),
            imported=imported,
        )
    finally:
        stop.set()  # the follower polls the file until told to stop


def say(
    text: str,
    options: SpeakOptions,
    *,
    subtitles: TextIO | None = None,
    report: TextIO | None = None,
    imported: float | None = None,
) -> Summary:
    """Speak the sentences of ``text``, a plain-text source (``options.translate`` as given)."""
    if not text.strip():
        raise StreamttsError("nothing to say: give TEXT or pipe it to stdin")
    run = remote_run(options, start=False)
    return speak_pieces(
        [TextPiece(text)], options, subtitles=subtitles, report=report, run=run, imported=imported
    )


def speak_pieces(
    pieces: Iterable[TextPiece],
    options: SpeakOptions,
    *,
    source: SourceStats | None = None,
    subtitles: TextIO | None = None,
    report: TextIO | None = None,
    sink: AudioSink | None = None,
    run: Run | None = None,
    imported: float | None = None,
) -> Summary:
    """Speak the sentences of ``pieces`` as ``options`` direct, and return the run's summary.

    ``subtitles`` receives each sentence and its translation as it starts playing, when
    ``options.print`` is set; ``report`` receives the totals line and, with
    ``options.stats``, the per-stage table; ``options.stats_json`` is written after them, so
    a file that cannot be written loses neither (its directory is checked before any work).
    ``source`` holds the reader's counters for the report. ``sink`` replaces the one the
    options describe (tests pass a null sink); it is closed at the end. ``run`` is a run
    through the daemon (``remote_run``) in place of a pipeline of our own. ``imported`` is
    the seconds the command line took to import, the first of the start-up parts. Ctrl-C
    ends the run with ``summary.interrupted`` set, sound silenced at once; an error loading
    a model or opening the sound device propagates for the caller to print.
    """
    if options.stats_json is not None:
        check_writable(options.stats_json)
    if run is None:
        run = LocalRun(options, sink)
    subtitles = subtitles if options.print else None
    taken = _Taken(segment(pieces))
    startup: dict[str, float] = {}
    t0 = time.perf_counter()
    interrupted = completed = False
    try:
        for event in run.run(taken):
            if isinstance(event, Ready):
                startup = {"import": imported} if imported is not None else {}
                startup |= event.startup
                continue
            taken.update(event.record)
            if isinstance(event, Started) and subtitles is not None:
                subtitles = _show(event.record, subtitles)
        completed = True
    except KeyboardInterrupt:
        interrupted = True
    finally:
        run.close(completed=completed)
    records = taken.records()
    summary = summarize(
        records,
        wall_seconds=time.perf_counter() - t0,
        startup=startup,
        source=asdict(source) if source is not None else None,
        interrupted=interrupted,
        underflows=run.underflows,
        gap_seconds=run.gap_seconds,
        blas=run.blas if options.translate != "none" else None,
    )
    if report is not None:
        write_report(summary, report, table=options.stats)
    if options.stats_json is not None:
        write_json(options.stats_json, records, summary, t0=t0)
    return summary


class _Taken:
    """The sentences handed to the pipeline, so that a run cut short accounts for each."""

    def __init__(self, sentences: Iterable[Sentence]) -> None:
        self._sentences = sentences
        self._records: dict[int, SentenceRecord | Sentence] = {}
        self._lock = threading.Lock()
        self._open = True

    def __iter__(self) -> Iterator[Sentence]:
        for sentence in self._sentences:
            with self._lock:  # a sentence read after the run ended is not counted at all
                if not self._open:
                    return
                self._records[sentence.seq] = sentence
            yield sentence

    def update(self, record: SentenceRecord) -> None:
        """Keep the pipeline's record of a sentence that started or finished."""
        self._records[record.seq] = record

    def records(self) -> list[SentenceRecord]:
        """A record per sentence taken, in order; one that did not finish is ``interrupted``.

        A sentence that started playing keeps its stamps (the pipeline's record of it).
        """
        with self._lock:
            self._open = False
        records = []
        for item in self._records.values():
            if isinstance(item, Sentence):
                item = SentenceRecord(item.seq, item.text, item.t_ready)
            if item.t_audio_end is None:
                item.skip("interrupted")
            records.append(item)
        return records


def _show(record: SentenceRecord, out: TextIO) -> TextIO | None:
    """Print a sentence and its translation; None once ``out`` cannot be written."""
    lines = [record.text]
    if record.translation != record.text:
        lines.append(f"  {record.translation}")
    try:
        out.write("\n".join(lines) + "\n")
        out.flush()
    except OSError:  # the reader went away, or a full device: keep speaking, stop printing
        detach_output(out)
        return None
    return out


def _note(report: TextIO | None, text: str) -> None:
    """One ``streamtts: …`` line of news on ``report`` (stderr), if it can take it."""
    if report is None:
        return
    try:
        report.write(f"streamtts: {text}\n")
        report.flush()
    except OSError:  # stderr gone: the speech goes on
        pass


def _refuse_overwriting(source: os.stat_result | None, options: SpeakOptions) -> None:
    """Refuse an output file that is the input file itself (it would be truncated)."""
    if source is None or not stat.S_ISREG(source.st_mode):
        return
    for option, path in (("--output", options.output), ("--stats-json", options.stats_json)):
        if path is not None and path.exists() and os.path.samestat(source, os.stat(path)):
            raise StreamttsError(f"{option} {path} is the input file; name another file")
