"""The speaking commands: ``speak`` (a stream on stdin), ``watch`` (a session transcript),
``say`` (text on the command line) and ``sentences`` (what would be spoken, printed).

Each builds ``SpeakOptions`` and hands them to ``streamtts.session`` (read → segment →
pipeline or daemon → report).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

from streamtts import cli
from streamtts.cli.console import (
    exit_interrupted,
    one_line_errors,
    open_input,
    print_line,
    signals_interrupt,
    stdin_text,
)
from streamtts.cli.options import (
    FLAG,
    Daemon,
    Device,
    Format,
    InputFile,
    InputFormat,
    MaxLag,
    ModelDir,
    Output,
    Play,
    Print,
    Speed,
    Stats,
    StatsJson,
    Transcript,
    Translate,
    Tts,
    Voice,
    speak_options,
)

commands = typer.Typer()


_CONFIG_HELP = """

    Each option can also be set in the config file (TOML, same names with underscores:
    max_lag = 5) or as STREAMTTS_<NAME> in the environment (STREAMTTS_MAX_LAG=5); the
    command line wins over the environment, the environment over the file. The file is
    $STREAMTTS_CONFIG, else config.toml in the user config directory
    (~/.config/streamtts on Linux).
    """


def _speak_module() -> tuple[ModuleType, float]:
    """``streamtts.session``, and the seconds the command line spent importing: this module's
    own imports (Typer and streamtts) and this one's (numpy, the pipeline), the "import"
    part of start-up. The interpreter's own start is not counted."""
    started = time.perf_counter()
    import streamtts.session

    return streamtts.session, cli.IMPORT_SECONDS + time.perf_counter() - started


@commands.command(help="Speak an agent's prose in Japanese as it arrives on stdin." + _CONFIG_HELP)
@one_line_errors()
def speak(
    file: InputFile = None,
    translate: Translate = None,
    model_dir: ModelDir = None,
    tts: Tts = None,
    voice: Voice = None,
    speed: Speed = None,
    device: Device = None,
    output: Output = None,
    play: Play = None,
    subtitles: Print = None,
    max_lag: MaxLag = None,
    stats: Stats = None,
    stats_json: StatsJson = None,
    input_format: Format = None,
    daemon: Daemon = None,
) -> None:
    options = speak_options({key: value for key, value in locals().items() if key != "file"})
    speaking, imported = _speak_module()

    with signals_interrupt(), open_input(file) as stream:
        summary = speaking.speak(
            stream, options, subtitles=sys.stdout, report=sys.stderr, imported=imported
        )
        if summary.interrupted:  # inside the with: closing a pipe a thread reads would hang
            exit_interrupted()


@commands.command(
    help="Speak what Claude Code writes to a session transcript, as it is written, until "
    "Ctrl-C. Without TRANSCRIPT: the newest session of the current directory's project, "
    "and each newer one." + _CONFIG_HELP
)
@one_line_errors()
def watch(
    transcript: Transcript = None,
    translate: Translate = None,
    model_dir: ModelDir = None,
    tts: Tts = None,
    voice: Voice = None,
    speed: Speed = None,
    device: Device = None,
    output: Output = None,
    play: Play = None,
    subtitles: Print = None,
    max_lag: MaxLag = None,
    stats: Stats = None,
    stats_json: StatsJson = None,
    daemon: Daemon = None,
) -> None:
    options = speak_options({key: value for key, value in locals().items() if key != "transcript"})
    speaking, imported = _speak_module()

    with signals_interrupt():
        summary = speaking.watch(
            transcript,
            options,
            cwd=Path.cwd(),
            subtitles=sys.stdout,
            report=sys.stderr,
            imported=imported,
        )
    if summary.interrupted:
        exit_interrupted()


@commands.command()
@one_line_errors()
def sentences(
    file: InputFile = None,
    input_format: Annotated[
        InputFormat,
        typer.Option("--format", help="Input format; auto detects it from the first events."),
    ] = InputFormat.auto,
    spoken: Annotated[
        bool,
        typer.Option(
            "--spoken",
            metavar=FLAG,
            help="Print each sentence as the voice is given it: translated as --translate "
            "says (and the config file), then with code words read as words.",
        ),
    ] = False,
    translate: Translate = None,
    model_dir: ModelDir = None,
) -> None:
    """Print each sentence exactly as it would be handed to translation, one per line
    (with --spoken: as the voice is given it)."""
    from streamtts.reading.stream import SourceStats, read_pieces
    from streamtts.text.segmenter import segment

    say = _spoken_line(translate=translate, model_dir=model_dir) if spoken else None
    stats = SourceStats()
    with open_input(file) as stream:
        for sentence in segment(read_pieces(stream, fmt=input_format, stats=stats)):
            line = sentence.text if say is None else say(sentence.text)
            if line.strip():  # the pipeline skips a sentence with nothing left to say
                print_line(line)
    logging.getLogger(__name__).info(
        "%d lines (%s), %d malformed, %d long lines skimmed",
        stats.lines,
        stats.format,
        stats.malformed,
        stats.skimmed,
    )


def _spoken_line(*, translate: str | None, model_dir: Path | None):
    """What ``speak`` gives the voice for a sentence: its translator, then its readings."""
    from streamtts.text import readings
    from streamtts.translate import load_translator

    options = speak_options({"translate": translate, "model_dir": model_dir})
    translator = load_translator(options.translate, model_dir=options.model_dir)
    read = readings.reader(readings=options.readings, keep=options.keep)
    return lambda text: read(translator.translate([text])[0])


@commands.command()
@one_line_errors()
def say(
    text: Annotated[
        str | None,
        typer.Argument(
            help="Japanese text to speak; read from stdin when omitted.", show_default=False
        ),
    ] = None,
    tts: Tts = None,
    voice: Voice = None,
    speed: Speed = None,
    output: Output = None,
    device: Device = None,
    play: Play = None,
    stats: Stats = None,
    stats_json: StatsJson = None,
    daemon: Daemon = None,
) -> None:
    """Speak Japanese text with a local engine, as `speak --translate none` speaks it.

    The config file and STREAMTTS_<NAME> variables apply as for `speak`.
    """
    options = speak_options({key: value for key, value in locals().items() if key != "text"})
    speaking, imported = _speak_module()

    options = dataclasses.replace(options, translate="none")
    if text is None:
        text = stdin_text().read()
    with signals_interrupt():
        report = sys.stderr if options.stats else None
        summary = speaking.say(
            text, options, subtitles=sys.stdout, report=report, imported=imported
        )
    if summary.interrupted:
        exit_interrupted()
