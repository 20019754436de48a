"""Command-line interface: thin Typer commands that parse options and call the library.

Each command builds an options object and hands it to the stage that does the work;
errors the user can fix are printed as one line on stderr with a non-zero exit.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from streamtts import __version__
from streamtts.errors import StreamttsError
from streamtts.source import InputFormat

app = typer.Typer(
    name="streamtts",
    help="Speak a coding agent's prose aloud in Japanese, entirely on this machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class UserError(StreamttsError):
    """An error the user can fix; the CLI prints its message as one line and exits 1."""


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``streamtts: <message>`` on stderr and return the Exit to raise."""
    typer.echo(f"streamtts: {message}", err=True)
    return typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"streamtts {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log what each stage does on stderr.")
    ] = False,
) -> None:
    """Speak a coding agent's prose aloud in Japanese, entirely on this machine."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="streamtts: %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def speak(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Transcript to read instead of stdin ('-' is stdin).", show_default=False
        ),
    ] = None,
    translate: Annotated[
        str | None,
        typer.Option(
            help="nllb: translate everything; auto: only what is not already Japanese; "
            "none: speak the text as it is. (default: nllb)",
            show_default=False,
        ),
    ] = None,
    model_dir: Annotated[
        Path | None,
        typer.Option(
            help="Converted NLLB model directory (from `streamtts convert`).", show_default=False
        ),
    ] = None,
    tts: Annotated[
        str | None,
        typer.Option(
            help="Speech engine, or a fallback chain such as kokoro,openjtalk. (default: kokoro)",
            show_default=False,
        ),
    ] = None,
    voice: Annotated[
        str | None,
        typer.Option(help="The engine's voice (see `streamtts voices`).", show_default=False),
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(help="Speaking rate; 1.0 is the engine's normal pace.", show_default=False),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(
            help="Sound device name or index (see `streamtts devices`); null: no sound, "
            "but played at real-time pace.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            help="Write the speech to this WAV file (add --play to hear it as well).",
            show_default=False,
        ),
    ] = None,
    play: Annotated[
        bool | None,
        typer.Option(
            "--play/--no-play",
            help="Play through the sound device. (default: play unless --output)",
            show_default=False,
        ),
    ] = None,
    subtitles: Annotated[
        bool | None,
        typer.Option(
            "--print/--no-print",
            help="Print each sentence and its translation to stdout as it is spoken.",
            show_default=False,
        ),
    ] = None,
    max_lag: Annotated[
        float | None,
        typer.Option(
            help="Skip sentences that would start more than SECONDS after they were ready.",
            metavar="SECONDS",
            show_default=False,
        ),
    ] = None,
    stats: Annotated[
        bool | None,
        typer.Option(
            "--stats/--no-stats",
            help="Print p50/p95 latency per stage on stderr at the end.",
            show_default=False,
        ),
    ] = None,
    stats_json: Annotated[
        Path | None,
        typer.Option(
            help="Write one record per sentence (text, translation, timestamps) as JSON.",
            show_default=False,
        ),
    ] = None,
    input_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Input: auto, claude, codex, gemini or text. (default: auto)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Speak an agent's prose in Japanese as it arrives on stdin.

    Each option can also be set in the config file (TOML, same names with underscores:
    max_lag = 5) or as STREAMTTS_<NAME> in the environment (STREAMTTS_MAX_LAG=5); the
    command line wins over the environment, the environment over the file. The file is
    $STREAMTTS_CONFIG, else config.toml in the user config directory
    (~/.config/streamtts on Linux).
    """
    from streamtts.config import load_options
    from streamtts.speak import speak as speak_stream

    given = {
        "translate": translate,
        "model_dir": model_dir,
        "tts": tts,
        "voice": voice,
        "speed": speed,
        "device": device,
        "output": output,
        "play": play,
        "print": subtitles,
        "max_lag": max_lag,
        "stats": stats,
        "stats_json": stats_json,
        "format": input_format,
    }
    try:
        options = load_options({key: value for key, value in given.items() if value is not None})
        with _open_input(file) as stream:
            summary = speak_stream(stream, options, subtitles=sys.stdout, report=sys.stderr)
    except KeyboardInterrupt:  # Ctrl-C before the pipeline was running, or during clean-up
        raise typer.Exit(130) from None
    except _user_errors() as exc:
        raise fail(str(exc)) from None
    if summary.interrupted:
        raise typer.Exit(130)


def _open_input(file: Path | None) -> contextlib.AbstractContextManager[BinaryIO]:
    """The transcript as bytes: ``file``, or stdin through a reader of our own.

    The pipeline's reading thread may still sit in a read() on stdin when the command ends;
    on the interpreter's shared ``sys.stdin`` buffer that makes shutdown fail, on our own
    reader it does not. A stdin without a descriptor (a test runner's) is used as it is.
    """
    if file is not None and str(file) != "-":
        try:
            return file.open("rb")
        except OSError as exc:
            raise UserError(f"cannot read {file}: {exc.strerror}") from None
    try:
        return contextlib.nullcontext(open(sys.stdin.fileno(), "rb", closefd=False))
    except (AttributeError, OSError, ValueError):
        return contextlib.nullcontext(sys.stdin.buffer)


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors a user can fix, each printed as one line (imported late: their modules are big)."""
    from streamtts.audio import AudioDeviceError
    from streamtts.config import ConfigError
    from streamtts.translate import ModelNotFoundError
    from streamtts.tts import EngineError

    return (UserError, ConfigError, ModelNotFoundError, EngineError, AudioDeviceError)


@app.command()
def sentences(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Transcript to read instead of stdin ('-' is stdin).", show_default=False
        ),
    ] = None,
    input_format: Annotated[
        InputFormat,
        typer.Option("--format", help="Input format; auto detects it from the first events."),
    ] = "auto",
) -> None:
    """Print each sentence exactly as it would be handed to translation, one per line."""
    from streamtts.source import SourceStats, read_pieces
    from streamtts.text import segment

    stats = SourceStats()
    try:
        with _open_input(file) as stream:
            for sentence in segment(read_pieces(stream, fmt=input_format, stats=stats)):
                typer.echo(sentence.text)
    except UserError as exc:
        raise fail(str(exc)) from None
    logging.getLogger(__name__).info(
        "%d lines (%s), %d malformed, %d long lines skimmed",
        stats.lines,
        stats.format,
        stats.malformed,
        stats.skimmed,
    )


@app.command()
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
            envvar="STREAMTTS_MODEL_DIR",
            help="Output model directory (default: streamtts/nllb-200-distilled-600M-mlx "
            "in the user cache directory).",
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
    force: Annotated[bool, typer.Option(help="Replace an existing output directory.")] = False,
) -> None:
    """Fetch NLLB-200 from the Hugging Face hub (or --from DIR) and port it to MLX."""
    from streamtts.convert.hub import fetch
    from streamtts.convert.nllb import ConvertOptions, check_options, convert_checkpoint
    from streamtts.errors import StreamttsError
    from streamtts.translate import default_model_dir

    options = ConvertOptions(
        dtype=dtype, quantize=quantize, group_size=group_size, prune_vocab=prune_vocab, force=force
    )
    out = out or default_model_dir()
    try:
        check_options(options, out)  # options and output path: before a long download
        checkpoint = from_dir if from_dir is not None else fetch(model_id)
        result = convert_checkpoint(checkpoint, out, options=options)
    except StreamttsError as exc:
        raise fail(str(exc)) from None
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
            envvar="STREAMTTS_XTTS_DIR",
            help="Model directory (default: streamtts/XTTS-v2 in the user cache dir).",
            show_default=False,
        ),
    ] = None,
    revision: Annotated[
        str | None, typer.Option(help="Hub branch, tag or commit.", show_default=False)
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing model directory.")] = False,
) -> None:
    """Fetch XTTS v2 once from the Hugging Face hub (or --from DIR) for `--tts xtts`."""
    from streamtts.convert.xtts import LICENSE_NOTE, install_xtts
    from streamtts.errors import StreamttsError, from_os_error
    from streamtts.tts.xtts import default_model_dir

    out = out or default_model_dir()
    try:
        size = install_xtts(out, source=from_dir, repo_id=repo_id, revision=revision, force=force)
    except StreamttsError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(str(from_os_error("write", out, exc))) from None
    typer.echo(f"wrote {out} ({size / 1e6:.1f} MB); {LICENSE_NOTE}")


@app.command()
def translate(
    texts: Annotated[
        list[str] | None,
        typer.Argument(
            help="Sentences to translate; without any, each line of stdin.", show_default=False
        ),
    ] = None,
    model_dir: Annotated[
        Path | None,
        typer.Option(
            help="Converted NLLB model directory (from `streamtts convert`).", show_default=False
        ),
    ] = None,
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
            "--raw", help="Turn every decoding guard off: plain greedy decoding, as transformers."
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON object per input: text, translation, tokens (generated ids) "
            "and ms (after one warm-up translation).",
        ),
    ] = False,
) -> None:
    """Translate sentences with the converted NLLB-200 model, one output line per input."""
    import dataclasses
    import json

    from streamtts.nllb.generate import GenerateOptions
    from streamtts.translate import ModelNotFoundError, NllbTranslator

    if raw:
        options = GenerateOptions.raw(max_new_tokens=max_tokens)
    else:
        options = GenerateOptions(max_new_tokens=max_tokens)
    try:
        translator = NllbTranslator(model_dir, src_lang=src, tgt_lang=tgt, options=options)
        if as_json:
            translator.warmup()  # so that ms is the steady figure, not the first call's
        for text in texts or (line.rstrip("\r\n") for line in sys.stdin):
            [result] = translator.translate_detailed([text])
            if as_json:
                record = dataclasses.asdict(result) | {"ms": round(result.ms, 3)}
                typer.echo(json.dumps(record, ensure_ascii=False))
            else:
                typer.echo(result.translation)
    except (ModelNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None


@app.command()
def say(
    text: Annotated[
        str | None,
        typer.Argument(
            help="Japanese text to speak; read from stdin when omitted.", show_default=False
        ),
    ] = None,
    tts: Annotated[
        str, typer.Option(help="Speech engine, or a fallback chain such as kokoro,openjtalk.")
    ] = "kokoro",
    voice: Annotated[
        str | None,
        typer.Option(help="The engine's voice (see `streamtts voices`).", show_default=False),
    ] = None,
    speed: Annotated[
        float, typer.Option(help="Speaking rate; 1.0 is the engine's normal pace.")
    ] = 1.0,
    output: Annotated[
        Path | None,
        typer.Option(
            help="Write the speech to this WAV file (add --play to hear it as well).",
            show_default=False,
        ),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(
            help="Sound device name or index (see `streamtts devices`).", show_default=False
        ),
    ] = None,
    play: Annotated[
        bool | None,
        typer.Option(
            "--play/--no-play",
            help="Play through the sound device (default: play unless --output).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Speak Japanese text with a local engine, clause by clause as it is synthesized."""
    from streamtts.audio import open_sink
    from streamtts.tts import load_engine, split_for_engine

    if text is None:
        text = sys.stdin.read()
    if not text.strip():
        raise fail("nothing to say: give TEXT or pipe it to stdin")
    try:
        engine = load_engine(tts, voice=voice, speed=speed)
    except _user_errors() as exc:
        raise fail(str(exc)) from None
    try:
        sink = open_sink(
            output=output, device=device, play=output is None if play is None else play
        )
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror}") from None
    except _user_errors() as exc:
        raise fail(str(exc)) from None
    # Pieces no longer than the engine handles well; each engine streams a piece its own way.
    pieces = split_for_engine(text, engine.max_chars, first_clause=False)
    try:
        sink.play(
            (audio for piece in pieces for audio in engine.synthesize(piece)), engine.sample_rate
        )
    except _user_errors() as exc:
        sink.close(discard=True)
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        sink.close(discard=True)
        raise typer.Exit(130) from None
    sink.close()


@app.command()
def voices() -> None:
    """List the speech engines, whether each runs on this machine, and their voices."""
    from streamtts.tts import describe_engines

    for engine in describe_engines():
        status = "available" if engine.available else "not available"
        typer.echo(f"{engine.name:<10} {status:<13} {engine.note}")
        if engine.voices:
            typer.echo(f"{'':<10} voices: {', '.join(engine.voices)}")


@app.command()
def devices() -> None:
    """List the sound output devices (* marks the default); pass a name or index to --device."""
    from streamtts.audio import AudioDeviceError, output_devices

    try:
        found = output_devices()
    except AudioDeviceError as exc:
        raise fail(str(exc)) from None
    if not found:
        raise fail("no sound output device found; use --output FILE.wav to write speech to a file")
    for device in found:
        mark = "*" if device.default else " "
        typer.echo(
            f"{mark} {device.index:>3}  {device.name}  "
            f"({device.host_api}, {device.channels} ch, {device.sample_rate} Hz)"
        )
