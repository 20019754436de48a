"""Command-line interface: thin Typer commands that parse options and call the library.

Each command builds an options object and hands it to the library: ``speak``, ``watch``
and ``say`` to ``streamtts.session`` (read → segment → pipeline → report), the others to the
stage that does the work. Every command runs inside ``console.one_line_errors``: an error
the user can fix is one line on stderr with exit 1, and Ctrl-C, SIGTERM or SIGHUP end the
command with exit 130.
"""

# ruff: noqa: E402 - the clock below starts before the imports it measures
from __future__ import annotations

import time

_IMPORT_STARTED = time.perf_counter()

import dataclasses
import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated

import typer

from streamtts import __version__
from streamtts.cli import daemon as cli_daemon
from streamtts.cli.console import (
    exit_interrupted,
    one_line_errors,
    open_input,
    print_line,
    replace_unencodable,
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
from streamtts.daemon.protocol import CONTROLS
from streamtts.errors import StreamttsError

if TYPE_CHECKING:
    pass

app = typer.Typer(
    name="streamtts",
    help="Speak a coding agent's prose aloud in Japanese, entirely on this machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"streamtts {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, metavar=FLAG, help="Print the version."
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", metavar=FLAG, help="Log what each stage does on stderr."),
    ] = False,
) -> None:
    """Speak a coding agent's prose aloud in Japanese, entirely on this machine."""
    replace_unencodable()
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="streamtts: %(levelname)s %(name)s: %(message)s",
    )


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

    return streamtts.session, _IMPORT_SECONDS + time.perf_counter() - started


@app.command(help="Speak an agent's prose in Japanese as it arrives on stdin." + _CONFIG_HELP)
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


@app.command(
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


@app.command()
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


@app.command()
@one_line_errors()
def convert(
    model_id: Annotated[
        str, typer.Argument(help="Hugging Face hub id of the NLLB-200 checkpoint.")
    ] = "facebook/nllb-200-distilled-600M",
    from_dir: Annotated[
        Path | None,
        typer.Option(
            "--from", help="Convert this local checkpoint directory instead.", show_default=False
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Output model directory (default: $STREAMTTS_MODEL_DIR, else "
            "streamtts/nllb-200-distilled-600M-mlx in the user cache directory).",
            show_default=False,
        ),
    ] = None,
    dtype: Annotated[
        str, typer.Option(help="Float weights as float32, float16 or bfloat16.")
    ] = "float32",
    quantize: Annotated[
        int | None,
        typer.Option(help="Quantize to 8 or 4 bits per weight.", show_default=False),
    ] = None,
    group_size: Annotated[int, typer.Option(help="Weights per quantization scale.")] = 64,
    prune_vocab: Annotated[
        str | None,
        typer.Option(
            help="Keep only the output tokens this language can use (e.g. jpn_Jpan).",
            metavar="LANG",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", metavar=FLAG, help="Replace an existing output directory.")
    ] = False,
) -> None:
    """Fetch NLLB-200 from the Hugging Face hub (or --from DIR) and port it to MLX."""
    from streamtts.convert.hub import fetch
    from streamtts.convert.nllb import ConvertOptions, check_options, convert_checkpoint
    from streamtts.translate.base import default_model_dir

    options = ConvertOptions(
        dtype=dtype, quantize=quantize, group_size=group_size, prune_vocab=prune_vocab, force=force
    )
    out = out or default_model_dir()
    check_options(options, out)  # options and output path: before a long download
    checkpoint = from_dir if from_dir is not None else fetch(model_id)
    result = convert_checkpoint(checkpoint, out, options=options)
    quantized = f", {result.quantization['bits']}-bit" if result.quantization else ""
    head = (
        f"output head {result.kept_vocab} of {result.vocab_size} tokens"
        if result.kept_vocab is not None
        else f"full output head ({result.vocab_size} tokens)"
    )
    typer.echo(
        f"wrote {result.out} ({result.size_bytes / 1e6:.1f} MB, {result.dtype}{quantized}, {head})"
    )


@app.command("fetch-xtts")
@one_line_errors()
def fetch_xtts(
    repo_id: Annotated[
        str, typer.Argument(help="Hugging Face hub id of the XTTS v2 model.")
    ] = "coqui/XTTS-v2",
    from_dir: Annotated[
        Path | None,
        typer.Option(
            "--from", help="Install this local XTTS v2 directory instead.", show_default=False
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Model directory (default: $STREAMTTS_XTTS_DIR, else streamtts/XTTS-v2 in "
            "the user cache directory).",
            show_default=False,
        ),
    ] = None,
    revision: Annotated[
        str | None, typer.Option(help="Hub branch, tag or commit.", show_default=False)
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", metavar=FLAG, help="Replace an existing model directory.")
    ] = False,
) -> None:
    """Fetch XTTS v2 once from the Hugging Face hub (or --from DIR) for `--tts xtts`."""
    from streamtts.convert.xtts import LICENSE_NOTE, install_xtts
    from streamtts.errors import from_os_error
    from streamtts.tts.xtts import default_model_dir

    out = out or default_model_dir()
    try:
        size = install_xtts(out, source=from_dir, repo_id=repo_id, revision=revision, force=force)
    except OSError as exc:
        raise from_os_error("write", out, exc) from None
    typer.echo(f"wrote {out} ({size / 1e6:.1f} MB); {LICENSE_NOTE}")


@app.command()
@one_line_errors()
def translate(
    texts: Annotated[
        list[str] | None,
        typer.Argument(
            help="Sentences to translate; without any, each line of stdin.", show_default=False
        ),
    ] = None,
    model_dir: ModelDir = None,
    src: Annotated[str, typer.Option(help="Source language (an NLLB code).")] = "eng_Latn",
    tgt: Annotated[str, typer.Option(help="Target language (an NLLB code).")] = "jpn_Jpan",
    max_tokens: Annotated[
        int | None,
        typer.Option(
            min=1, metavar="N", help="Generate at most N tokens per sentence.", show_default=False
        ),
    ] = None,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw",
            metavar=FLAG,
            help="Turn every decoding guard off: plain greedy decoding, as transformers.",
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            metavar=FLAG,
            help="Print one JSON object per input: text, translation, tokens (generated ids) "
            "and ms (after one warm-up translation).",
        ),
    ] = False,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            metavar=FLAG,
            help="Check every model file's sha256 against the manifest first (sizes are "
            "always checked).",
        ),
    ] = False,
) -> None:
    """Translate sentences with the converted NLLB-200 model, one output line per input."""
    import json

    from streamtts.nllb.generate import GenerateOptions
    from streamtts.translate.nllb import NllbTranslator

    if raw:
        options = GenerateOptions.raw(max_new_tokens=max_tokens)
    else:
        options = GenerateOptions(max_new_tokens=max_tokens)
    # Stdin is opened before the model loads, so a closed one is said at once.
    inputs = texts or (line.rstrip("\r\n") for line in stdin_text())
    translator = NllbTranslator(
        model_dir, src_lang=src, tgt_lang=tgt, options=options, verify=verify
    )
    if as_json:
        translator.warmup()  # so that ms is the steady figure, not the first call's
    for text in inputs:
        if as_json:  # the model's own output and tokens, as transformers would give them
            [result] = translator.translate_detailed([text])
            record = dataclasses.asdict(result) | {"ms": round(result.ms, 3)}
            print_line(json.dumps(record, ensure_ascii=False))
        else:  # as speak translates: names kept as written
            print_line(translator.translate([text])[0])


@app.command()
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


@app.command()
@one_line_errors()
def voices() -> None:
    """List the speech engines, whether each runs on this machine, and their voices."""
    from streamtts.tts import describe_engines

    for engine in describe_engines():
        status = "available" if engine.available else "not available"
        print_line(f"{engine.name:<10} {status:<13} {engine.note}")
        if engine.voices:
            print_line(f"{'':<10} voices: {', '.join(engine.voices)}")


@app.command()
@one_line_errors()
def devices() -> None:
    """List the sound output devices (* marks the default); pass a name or index to --device."""
    from streamtts.audio.device import output_devices

    found = output_devices()
    if not found:
        raise StreamttsError(
            "no sound output device found; use --output FILE.wav to write speech to a file"
        )
    for device in found:
        mark = "*" if device.default else " "
        print_line(
            f"{mark} {device.index:>3}  {device.name}  "
            f"({device.host_api}, {device.channels} ch, {device.sample_rate} Hz)"
        )


# The resident daemon's commands live in a module of their own.
app.command()(cli_daemon.serve)
app.command()(cli_daemon.status)
for _op in CONTROLS:
    app.command(name=_op)(cli_daemon.control(_op))
app.add_typer(cli_daemon.hooks, name="hooks")
app.add_typer(cli_daemon.service, name="service")

_IMPORT_SECONDS = time.perf_counter() - _IMPORT_STARTED  # the command line's own import
