"""streamtts: speak a coding agent's prose aloud in Japanese, entirely on this machine."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("streamtts")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
