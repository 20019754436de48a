"""Where streamtts keeps models and caches: the platform's per-user cache directory."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def user_cache_dir() -> Path:
    """``~/Library/Caches/streamtts`` on macOS; ``$XDG_CACHE_HOME/streamtts`` elsewhere.

    ``$XDG_CACHE_HOME`` defaults to ``~/.cache``.
    """
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "streamtts"
