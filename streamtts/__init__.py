"""streamtts: speak a coding agent's prose aloud in Japanese, entirely on this machine.

One package per stage, in the order a sentence goes through them: ``reading`` (the agent's
output → text pieces), ``text`` (→ sentences, and the readings of code words),
``translate`` (→ Japanese; the NLLB port itself is ``nllb``), ``tts`` (→ audio), ``audio``
(→ the speaker), joined by ``pipeline``. ``session`` runs one source through a pipeline of
its own or the resident ``daemon``; ``claude`` is Claude Code's hooks and settings; ``cli``
is the command line, ``hook`` the hook command. ``config`` holds the speech options,
``paths`` and ``errors`` what all share, ``blas`` the BLAS that MLX uses on a CPU.
"""

import os

# No cloud service anywhere, not even a dependency's: every command of streamtts opens no
# internet socket. Each library reads its switch when it is imported, and every import of
# streamtts passes here first. ONNX Runtime (Kokoro) sends telemetry, a DNS lookup every
# few seconds from a daemon that stays up; Hugging Face's hub (only `streamtts convert`
# downloads, and keeps its own offline switch) would report its use.
NO_NETWORK = {"ORT_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1"}
for _name, _value in NO_NETWORK.items():
    os.environ.setdefault(_name, _value)


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
