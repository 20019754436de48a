"""The command line's standard streams, errors and exit: the edges every command shares.

Every command runs inside ``one_line_errors``: a ``StreamttsError`` (each error a user can
fix subclasses it) is printed as ``streamtts: <one line>`` with exit 1, and Ctrl-C (or
SIGTERM and SIGHUP, inside ``signals_interrupt``) ends it with exit 130, never with a
traceback. Stdin is read as bytes and decoded with replacement; stdout that cannot be
written (a full device, a closed pipe) is one error line, not a traceback at exit.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NoReturn, TextIO

import typer

from streamtts.errors import StreamttsError, detach_output, from_os_error


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``streamtts: <message>`` on stderr and return the Exit to raise."""
    typer.echo(f"streamtts: {message}", err=True)
    return typer.Exit(code)


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Run a command: a StreamttsError is one line and exit 1, Ctrl-C is exit 130.

    Used as a decorator on every command, so no command lists exception types of its own.
    """
    try:
        yield
    except StreamttsError as error:
        raise fail(str(error)) from None
    except KeyboardInterrupt:
        exit_interrupted()


def exit_interrupted(code: int = 130) -> NoReturn:
    """Flush what was written and end the process with exit ``code`` (130), at once.

    ``os._exit`` on purpose: after Ctrl-C the reading thread may sit for good in a read()
    on a pipe (closing that file, or the interpreter's exit, then waits for it), and MLX or
    ONNX Runtime work may still run in a daemon thread, whose C++ threads abort the process
    ("terminate called without an active exception", exit 134) when the interpreter tears
    them down. Everything the command had to say (totals line, stats file) is written by
    then; only the teardown is skipped.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt, so they end a run as Ctrl-C does."""
    names = ("SIGTERM", "SIGHUP")
    signals = [getattr(signal, name) for name in names if hasattr(signal, name)]
    if threading.current_thread() is not threading.main_thread():
        signals = []  # handlers can only be set on the main thread
    previous = {number: signal.signal(number, signal.default_int_handler) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def open_input(file: Path | None) -> contextlib.AbstractContextManager[BinaryIO]:
    """The transcript as bytes: ``file``, or stdin through a reader of our own.

    The pipeline's reading thread may still sit in a read() on stdin when the command ends;
    on the interpreter's shared ``sys.stdin`` buffer that makes shutdown fail, on our own
    reader it does not. A stdin without a descriptor (a test runner's) is used as it is.
    """
    if file is not None and str(file) != "-":
        try:
            return file.open("rb")
        except OSError as error:
            raise from_os_error("read", file, error) from None
    try:
        return contextlib.nullcontext(open(_stdin().fileno(), "rb", closefd=False))
    except (AttributeError, OSError, ValueError):
        return contextlib.nullcontext(_stdin().buffer)


def _stdin() -> TextIO:
    """``sys.stdin``, or a one-line error when the shell closed it (``<&-``)."""
    if sys.stdin is None:
        raise StreamttsError("stdin is closed: pipe the input in or name a FILE")
    return sys.stdin


def stdin_text() -> TextIO:
    """Stdin as UTF-8 text, undecodable bytes replaced (U+FFFD) rather than fatal."""
    return io.TextIOWrapper(_stdin().buffer, encoding="utf-8", errors="replace")


def replace_unencodable() -> None:
    """Print what the terminal cannot encode (a lone surrogate in a transcript) as "?"."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")


def print_line(line: str) -> None:
    """Write one line to stdout now; a full or closed stdout is one error line."""
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except OSError as error:
        detach_output(sys.stdout)
        raise from_os_error("write", "stdout", error) from None
