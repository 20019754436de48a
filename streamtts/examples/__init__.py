"""Bundled example transcripts, used by the README's first command and by the tests."""

from pathlib import Path

EXAMPLES_DIR = Path(__file__).parent


def example_path(name: str) -> Path:
    """Path of a bundled example file, e.g. ``example_path("claude-partial.jsonl")``."""
    return EXAMPLES_DIR / name
