"""streamtts: speak a coding agent's prose aloud in Japanese, entirely on this machine."""


def __getattr__(name: str) -> str:
    # ``__version__`` is looked up only when asked for: importlib.metadata costs ~30 ms,
    # a third of what the Claude Code hook command (streamtts.hook) may take in all.
    if name != "__version__":
        raise AttributeError(f"module 'streamtts' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("streamtts")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"
