"""Where streamtts keeps its settings, models and caches: the platform's per-user directories."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path


def user_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``~/Library/Application Support/streamtts`` on macOS, else ``$XDG_CONFIG_HOME/streamtts``.

    ``$XDG_CONFIG_HOME`` defaults to ``~/.config``.
    """
    environ = os.environ if environ is None else environ
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "streamtts"


def user_cache_dir() -> Path:
    """``~/Library/Caches/streamtts`` on macOS; ``$XDG_CACHE_HOME/streamtts`` elsewhere.

    ``$XDG_CACHE_HOME`` defaults to ``~/.cache``.
    """
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "streamtts"
