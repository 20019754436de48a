"""Command-line options that several commands share, declared once as ``Annotated`` aliases.

Options that the config file can also set (``speak``'s) default to None, so that only what
the user typed overrides the file and the environment. Choices are listed in the metavar
rather than enforced by Click, so a bad value is our one-line error (exit 1), not a usage
box. Typer shows a ``<bool>`` type beside plain flags, which reads as if they took a value
(``translate --json true`` would translate "true"); ``FLAG`` blanks it.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from streamtts.config import INPUT_FORMATS, SPEED_RANGE, TRANSLATE_MODES, SpeakOptions, load_options

FLAG = " "  # the metavar of an option that takes no value

# The formats as a choice Typer checks (``sentences --format``), from the format registry.
InputFormat = enum.StrEnum("InputFormat", {name: name for name in INPUT_FORMATS})


def choices(names: tuple[str, ...]) -> str:
    """``[a|b|c]``, as Click shows a choice."""
    return f"[{'|'.join(names)}]"


InputFile = Annotated[
    Path | None,
    typer.Argument(help="Transcript to read instead of stdin ('-' is stdin).", show_default=False),
]
Transcript = Annotated[
    Path | None,
    typer.Argument(
        help="Session transcript (.jsonl) to follow instead of the newest of this project.",
        metavar="TRANSCRIPT",
        show_default=False,
    ),
]
Translate = Annotated[
    str | None,
    typer.Option(
        help="nllb: translate everything; auto: only what is not already Japanese; "
        "none: speak the text as it is. (default: nllb)",
        metavar=choices(TRANSLATE_MODES),
        show_default=False,
    ),
]
ModelDir = Annotated[
    Path | None,
    typer.Option(
        help="Converted NLLB model directory (from `streamtts convert`).", show_default=False
    ),
]
Voice = Annotated[
    str | None,
    typer.Option(help="The engine's voice (see `streamtts voices`).", show_default=False),
]
_SPEED_HELP = (
    f"Speaking rate from {SPEED_RANGE[0]} to {SPEED_RANGE[1]:g}; 1.0 is the engine's pace."
)
Speed = Annotated[float | None, typer.Option(help=_SPEED_HELP, show_default=False)]
Device = Annotated[
    str | None,
    typer.Option(
        help="Sound device name or index (see `streamtts devices`); null: no sound, "
        "but played at real-time pace.",
        show_default=False,
    ),
]
Output = Annotated[
    Path | None,
    typer.Option(
        help="Write the speech to this WAV file (add --play to hear it as well).",
        show_default=False,
    ),
]
Play = Annotated[
    bool | None,
    typer.Option(
        "--play/--no-play",
        help="Play through the sound device. (default: play unless --output)",
        metavar=FLAG,
        show_default=False,
    ),
]
Format = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="Input format; auto detects it from the first events. (default: auto)",
        metavar=choices(INPUT_FORMATS),
        show_default=False,
    ),
]
Tts = Annotated[
    str | None,
    typer.Option(
        help="Speech engine, or a fallback chain such as kokoro,openjtalk. (default: kokoro)",
        show_default=False,
    ),
]
Print = Annotated[
    bool | None,
    typer.Option(
        "--print/--no-print",
        help="Print each sentence and its translation to stdout as it is spoken.",
        metavar=FLAG,
        show_default=False,
    ),
]
MaxLag = Annotated[
    float | None,
    typer.Option(
        help="Skip sentences that would start more than SECONDS after they were ready.",
        metavar="SECONDS",
        show_default=False,
    ),
]
Stats = Annotated[
    bool | None,
    typer.Option(
        "--stats/--no-stats",
        help="Print p50/p95 latency per stage on stderr at the end.",
        metavar=FLAG,
        show_default=False,
    ),
]
StatsJson = Annotated[
    Path | None,
    typer.Option(
        help="Write one record per sentence (text, translation, timestamps) as JSON.",
        show_default=False,
    ),
]
Daemon = Annotated[
    bool | None,
    typer.Option(
        "--daemon/--no-daemon",
        help="Speak through the resident daemon (streamtts serve) when one runs. (default: yes)",
        metavar=FLAG,
        show_default=False,
    ),
]

# Parameter names that are not the option's own (they would shadow builtins).
_OPTION_NAMES = {"subtitles": "print", "input_format": "format"}


def speak_options(given: dict[str, object]) -> SpeakOptions:
    """The options of a run: what was typed over the environment, the config file, defaults."""
    typed = {_OPTION_NAMES.get(key, key): value for key, value in given.items()}
    return load_options({key: value for key, value in typed.items() if value is not None})
