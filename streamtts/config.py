"""Options of ``speak``, ``watch``, ``say``: defaults < config file < environment < command line.

One dataclass names every option once. Its field names are the keys of the TOML config file
and, upper-cased behind ``STREAMTTS_``, the environment variables, so the three spellings cannot
drift apart; the command line passes only the options the user actually gave. Text from the
environment is parsed by the field's declared type, and any bad value (an unknown key, a word
where a number belongs, an unknown mode) is a ``ConfigError`` that names where it came from,
so the CLI can print it as one line.
"""

from __future__ import annotations

import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from streamtts.errors import StreamttsError
from streamtts.paths import user_config_dir
from streamtts.reading.formats import FORMATS
from streamtts.translate import TRANSLATORS

ENV_PREFIX = "STREAMTTS_"
TRANSLATE_MODES = tuple(TRANSLATORS)
INPUT_FORMATS = FORMATS
SPEED_RANGE = (0.25, 4.0)  # slower or faster is unintelligible, and 1e-9 would fill memory
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(StreamttsError, ValueError):
    """A bad option value; the message is one line that says where the value came from."""


@dataclass(frozen=True)
class SpeakOptions:
    """Everything ``streamtts speak`` can be told; each field is also a config key and env var.

    Attributes:
        translate: ``nllb`` (translate everything), ``none`` (speak the text as it is) or
            ``auto`` (translate only what is not already Japanese).
        model_dir: converted NLLB model directory; None means ``default_model_dir()``.
        tts: a speech engine, or a comma-separated fallback chain such as ``kokoro,openjtalk``.
        voice: the engine's voice name; None means the engine's default.
        speed: speaking rate, 1.0 = the engine's normal pace.
        device: sound device name or index; None means the system default.
        output: a WAV file to write the speech to.
        play: play through the sound device; None means "unless ``output`` is given".
        print: print each sentence and its translation to stdout as it is spoken (subtitles).
        max_lag: skip sentences that would start more than this many seconds after they were
            ready; None speaks everything.
        stats: print per-stage latency percentiles and totals on stderr at the end.
        stats_json: write one record per sentence (text, translation, timestamps or skip
            reason) plus the summary to this JSON file.
        format: input format, ``auto`` to detect it from the first events.
        daemon: speak through the resident daemon (``streamtts serve``) when one answers.
        given: the options the command line gave (not a config key): only these are
            requests a running daemon must meet; the others describe an own run.
        readings: the user's dictionary, word → how the voice should say it (a project name,
            a colleague's name); it wins over the glossary. Config file only (a TOML table).
        keep: words the voice is given exactly as written. Config file only (a list).
    """

    translate: str = "nllb"
    model_dir: Path | None = None
    tts: str = "kokoro"
    voice: str | None = None
    speed: float = 1.0
    device: str | None = None
    output: Path | None = None
    play: bool | None = None
    print: bool = False
    max_lag: float | None = None
    stats: bool = False
    stats_json: Path | None = None
    format: str = "auto"
    daemon: bool = True
    readings: dict[str, str] = field(default_factory=dict)
    keep: tuple[str, ...] = ()
    given: frozenset[str] = field(default=frozenset(), compare=False, metadata={"config": False})

    @property
    def plays(self) -> bool:
        """Whether the speech goes to the sound device (the default unless writing a file)."""
        return self.output is None if self.play is None else self.play

    @property
    def sound_device(self) -> str | int | None:
        """``device`` as the sink wants it: an index when it is all digits, else a name."""
        if self.device is not None and self.device.isdigit():
            return int(self.device)
        return self.device


def env_var(key: str) -> str:
    """The environment variable for an option key, e.g. ``max_lag`` → ``STREAMTTS_MAX_LAG``."""
    return ENV_PREFIX + key.upper()


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$STREAMTTS_CONFIG``, else ``config.toml`` in the user config directory.

    That directory is ``~/Library/Application Support/streamtts`` on macOS and
    ``$XDG_CONFIG_HOME/streamtts`` (default ``~/.config/streamtts``) elsewhere.
    """
    environ = os.environ if environ is None else environ
    if environ.get("STREAMTTS_CONFIG"):
        return Path(environ["STREAMTTS_CONFIG"]).expanduser()
    return user_config_dir(environ) / "config.toml"


def check_speed(speed: float) -> float:
    """``speed`` if it lies in ``SPEED_RANGE`` (NaN does not), else a ``ConfigError``."""
    low, high = SPEED_RANGE
    if not low <= speed <= high:
        raise ConfigError(f"speed must be between {low} and {high:g}, not {speed}")
    return speed


def load_options(
    overrides: Mapping[str, object] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> SpeakOptions:
    """Build the options from defaults, the config file, the environment and ``overrides``.

    ``overrides`` holds the options given on the command line (keys are field names; values
    already typed). ``environ`` defaults to ``os.environ`` and ``path`` to ``config_path()``;
    a missing default config file is fine; a ``$STREAMTTS_CONFIG`` that names no file, or an
    unreadable or invalid file, raises ``ConfigError``.
    """
    environ = os.environ if environ is None else environ
    if path is None:
        path = config_path(environ)
        if environ.get("STREAMTTS_CONFIG") and not path.exists():  # /dev/null: no config
            raise ConfigError(f"STREAMTTS_CONFIG names {path}, which does not exist")
    types = _field_types()
    values: dict[str, object] = {}
    if path.is_file():
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
        for key, value in table.items():
            if key not in types:
                known = ", ".join(types)
                raise ConfigError(f"unknown key {key!r} in {path} (known keys: {known})")
            values[key] = _from_toml(key, types[key], value, origin=str(path))
    for key, kind in types.items():
        text = environ.get(env_var(key))
        if text is not None:
            values[key] = _from_text(key, kind, text, origin=env_var(key))
    values.update(overrides or {})
    return _validated(replace(SpeakOptions(), **values, given=frozenset(overrides or {})))


def _field_types() -> dict[str, type]:
    # Optional fields resolve to their non-None type: None is only ever a default here.
    # Collections (the user dictionary) resolve to their container: dict, tuple.
    hints = typing.get_type_hints(SpeakOptions)
    types = {}
    for option in fields(SpeakOptions):
        if not option.metadata.get("config", True):
            continue
        hint = hints[option.name]
        if typing.get_origin(hint) in (dict, tuple):
            types[option.name] = typing.get_origin(hint)
            continue
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        types[option.name] = args[0] if args else hint
    return types


def _from_text(key: str, kind: type, text: str, *, origin: str) -> object:
    if kind in (dict, tuple):
        raise ConfigError(f"{origin}: {key} can only be set in the config file")
    if kind is bool:
        word = text.strip().lower()
        if word in _TRUE | _FALSE:
            return word in _TRUE
        raise ConfigError(f"{origin}={text!r}: expected true or false")
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{origin}={text!r}: expected a number") from None
    if kind is Path:
        if not text:  # Path("") would be the current directory
            raise ConfigError(f"{origin} is empty; name a path or unset it")
        return Path(text).expanduser()
    return text


def _from_toml(key: str, kind: type, value: object, *, origin: str) -> object:
    # TOML already types its values; accept an integer where a float belongs, nothing looser.
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is Path and isinstance(value, str):
        return Path(value).expanduser()
    if kind is dict and isinstance(value, dict):
        if all(isinstance(reading, str) and reading.strip() for reading in value.values()):
            return value
        raise ConfigError(f"[{key}] in {origin}: each reading must be a non-empty string")
    if kind is tuple and isinstance(value, list) and all(isinstance(w, str) for w in value):
        return tuple(value)
    if isinstance(value, kind) and kind is not float:
        return value
    expected = {dict: "a table of readings", tuple: "a list of words"}.get(kind, kind.__name__)
    raise ConfigError(f"{key} = {value!r} in {origin}: expected {expected}")


def _validated(options: SpeakOptions) -> SpeakOptions:
    if options.translate not in TRANSLATE_MODES:
        raise ConfigError(
            f"translate must be one of {', '.join(TRANSLATE_MODES)}, not {options.translate!r}"
        )
    if options.format not in INPUT_FORMATS:
        raise ConfigError(
            f"format must be one of {', '.join(INPUT_FORMATS)}, not {options.format!r}"
        )
    check_speed(options.speed)
    if options.max_lag is not None and not options.max_lag > 0:
        raise ConfigError(f"max_lag must be a positive number of seconds, not {options.max_lag}")
    return options
