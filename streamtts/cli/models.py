"""The model commands: ``convert`` NLLB-200 to MLX, ``fetch-xtts``, ``translate`` with the
converted model, and the ``voices`` and ``devices`` there are to speak with.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from streamtts.cli.console import one_line_errors, print_line, stdin_text
from streamtts.cli.options import FLAG, ModelDir
from streamtts.errors import StreamttsError

commands = typer.Typer()


@commands.command()
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


@commands.command("fetch-xtts")
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


@commands.command()
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


@commands.command()
@one_line_errors()
def voices() -> None:
    """List the speech engines, whether each runs on this machine, and their voices."""
    from streamtts.tts import describe_engines

    for engine in describe_engines():
        status = "available" if engine.available else "not available"
        print_line(f"{engine.name:<10} {status:<13} {engine.note}")
        if engine.voices:
            print_line(f"{'':<10} voices: {', '.join(engine.voices)}")


@commands.command()
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
