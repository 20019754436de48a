"""Speaking through the resident daemon: the client half of ``speak``, ``say`` and ``watch``.

The client still reads, parses and segments (so ``--format``, the cleaning and the
sentences are exactly those of an in-process run); it sends each sentence to the daemon as
it is certain and gets back the records that an in-process pipeline would have yielded,
as the same ``Started`` and ``Finished`` events. ``streamtts.session`` then prints,
accounts and reports as always, so ``--print``, ``--stats`` and ``--stats-json`` read the
same either way. The daemon stamps with its own clock; the offset to ours is taken when
the stream begins (the socket's round trip, well under a millisecond, is its error), and
each record keeps the client's own ``t_ready``, so latency includes the trip to the
daemon. Closing the connection (Ctrl-C) makes the daemon drop this client's sentences.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from streamtts.daemon.client import Connection, NoDaemon, connect, connect_or_start
from streamtts.daemon.protocol import OptionsConflict, requested, serve_args
from streamtts.errors import StreamttsError
from streamtts.pipeline.core import Event, Finished, Ready, Started
from streamtts.pipeline.stats import SentenceRecord

if TYPE_CHECKING:
    from streamtts.config import SpeakOptions
    from streamtts.text.segmenter import Sentence

log = logging.getLogger(__name__)


class RemoteRun:
    """A pipeline run carried out by the daemon: sentences out, the same events back."""

    def __init__(self, connection: Connection, options: SpeakOptions) -> None:
        started = time.perf_counter()
        reply = connection.request(
            {"op": "speak", "options": requested(options), "source": f"speak-{os.getpid()}"}
        )
        now = time.perf_counter()
        connection.settimeout(None)  # events may be minutes apart: an agent thinks
        self._connection = connection
        self._offset = (started + now) / 2 - reply["now"]  # our clock minus the daemon's
        self._connect_seconds = now - started
        self._error: BaseException | None = None
        self.underflows = 0
        self.gap_seconds = 0.0
        self.blas: str | None = None

    def run(self, sentences: Iterable[Sentence]) -> Iterator[Event]:
        """Send ``sentences`` as they come and yield the daemon's events for them."""
        ready: dict[int, float] = {}
        sender = threading.Thread(target=self._send, args=(sentences, ready), daemon=True)
        sender.start()
        yield Ready({"connect to daemon": self._connect_seconds})
        for message in self._connection.replies():
            event = message.get("event")
            if event == "done":
                self.underflows = message["underflows"]
                self.gap_seconds = message["gap_seconds"]
                self.blas = message["blas"]
                return
            if event in ("started", "finished"):
                record = self._record(message["record"], ready)
                yield Started(record) if event == "started" else Finished(record)
            elif not message.get("ok", True):
                raise StreamttsError(f"the daemon says: {message.get('error')}")
        raise self._error or NoDaemon(f"the daemon at {self._connection.path} went away")

    def close(self, *, completed: bool = True) -> None:
        """Close the connection: the daemon drops whatever of ours it has not spoken."""
        self._connection.close()

    def _send(self, sentences: Iterable[Sentence], ready: dict[int, float]) -> None:
        try:
            for sentence in sentences:
                ready[sentence.seq] = sentence.t_ready
                message = {"op": "sentence", "text": sentence.text, "seq": sentence.seq}
                self._connection.send(message)
            self._connection.send({"op": "end"})
        except BaseException as error:  # reading the input failed, or the daemon went away
            self._error = error
            self.close()

    def _record(self, fields: dict[str, Any], ready: dict[int, float]) -> SentenceRecord:
        for key, value in fields.items():
            if key.startswith("t_") and value is not None:
                fields[key] = value + self._offset
        fields["t_ready"] = ready.get(fields["seq"], fields["t_ready"])
        return SentenceRecord(**fields)


def remote_run(options: SpeakOptions, *, start: bool) -> RemoteRun | None:
    """A run through the daemon when one runs, else None (in-process).

    Never for a file (``--output``) or with ``--no-daemon``. ``start`` starts a daemon with
    these speech options when none answers (``watch``). A daemon that speaks with other
    options than the command line asked for is an error that says what to do: speaking
    in-process beside it would be a second voice over the first.
    """
    if not options.daemon or options.output is not None or not options.plays:
        return None
    try:
        connection = connect_or_start(args=serve_args(options)) if start else connect()
    except NoDaemon as error:
        if start:
            log.warning("%s; speaking in-process", error)
        return None
    try:
        return RemoteRun(connection, options)
    except OptionsConflict as differ:
        connection.close()
        raise OptionsConflict(
            f"the streamtts daemon at {connection.path} speaks with {differ}: "
            "`streamtts shutdown` it to start one with these options, "
            "or add --no-daemon to speak in-process"
        ) from None
    except StreamttsError as error:  # it cannot speak (its models did not load)
        connection.close()
        log.warning("%s; speaking in-process (`streamtts shutdown` ends that daemon)", error)
        return None
