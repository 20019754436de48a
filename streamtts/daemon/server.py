"""``streamtts serve``: the resident daemon that keeps the models warm and owns the speaker.

One ``Pipeline`` runs for the daemon's whole life, fed by every client through one queue,
so the translator and the voice are loaded and warmed up once and two sessions never talk
over each other. The main thread follows the pipeline's events and routes each back to
the client whose sentence it was; each connection has a thread of its own that reads its
lines (``Daemon.handle``). Several sources are ordered by a policy: ``queue`` speaks
everything in arrival order and skips a sentence that waited longer than ``max_age``;
``latest`` silences the sentences of every other turn as soon as a new turn's first
sentence arrives, as a generation id would. ``stop``, ``skip`` and a client that goes
away cancel sentences through ``Pipeline.cancel``, which silences the sink at once.
Its socket and lock are ``listener.Listener``; each client is a ``peer.Peer``.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamtts import __version__
from streamtts.claude.hooks import HookInputError, HookTurns
from streamtts.daemon.ledger import Ledger, ledger_path
from streamtts.daemon.listener import Listener
from streamtts.daemon.peer import Peer
from streamtts.daemon.protocol import (
    MAX_AGE,
    MAX_LINE,
    OPS,
    POLICIES,
    OptionsConflict,
    conflicts,
    decode,
    speech_options,
)
from streamtts.errors import StreamttsError
from streamtts.pipeline.core import Finished, Ready, Started
from streamtts.pipeline.inbox import Inbox
from streamtts.pipeline.run import blas_in_use, build_pipeline
from streamtts.pipeline.stats import SentenceRecord, startup_line
from streamtts.text.segmenter import Sentence

if TYPE_CHECKING:
    from streamtts.config import SpeakOptions
    from streamtts.pipeline.core import Pipeline

log = logging.getLogger(__name__)

ACCEPT_RETRY = 0.1  # seconds between accepts while the process has no descriptor free


@dataclass
class _Tag:
    """Whose a sentence in the pipeline is."""

    client: Peer | None  # None: a hook's, nobody waits for its records
    seq: int  # the client's number for it
    session: str
    turn: str


@dataclass
class _Counts:
    spoken: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


class Daemon:
    """Speaks what its clients send through one pipeline until ``shutdown``.

    It opens the sink the options describe and listens at ``path`` from the moment it is
    made; ``run`` loads the models (while clients may already send) and serves.
    """

    def __init__(
        self,
        options: SpeakOptions,
        *,
        path: Path,
        policy: str = "queue",
        max_age: float | None = MAX_AGE,
    ) -> None:
        from streamtts.audio.output import open_sink

        if policy not in POLICIES:
            raise StreamttsError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
        if max_age is not None and not max_age > 0:
            raise StreamttsError(f"--max-age must be a positive number of seconds, not {max_age}")
        self.options = options
        self.policy = policy
        sink = open_sink(output=options.output, device=options.sound_device, play=options.plays)
        self._sink = sink
        try:
            self._listener = Listener(path)
        except BaseException:
            sink.close(discard=True)
            raise
        try:
            self._pipeline: Pipeline = build_pipeline(
                options, sink, max_age=max_age if policy == "queue" else None
            )
        except BaseException:  # a signal too: the socket is not left behind
            self._listener.close()
            sink.close(discard=True)
            raise
        self._ledger = Ledger(ledger_path(path))
        self._max_age = max_age
        self._feed: Inbox = Inbox()  # every client's sentences, in arrival order
        self._tags: dict[int, _Tag] = {}
        self._lock = threading.Lock()  # tags, counts, the next seq, the current turn
        self._next_seq = 0
        self._turn: str | None = None  # the turn speaking now, under ``latest``
        self._counts = _Counts()
        self._hooks = HookTurns()
        self._startup: dict[str, float] = {}
        self._playing: SentenceRecord | None = None
        self._paused = False
        self._since = time.time()
        self._shutdown = threading.Event()
        self.failed: str | None = None  # why the pipeline stopped, if it failed

    # -- the main thread --------------------------------------------------------------------

    def run(self) -> None:
        """Accept clients and speak until ``shutdown`` or Ctrl-C/SIGTERM (then silence).

        The socket is removed however ``run`` ends, a signal at any moment of it included:
        everything it does is inside the ``try``.
        """
        # The pipeline silences and closes the sink however its run ends: only shutdown(), a
        # signal or a model that fails to load end it, as the feed stays open till then.
        try:
            log.info("serving at %s", self._listener.path)
            threading.Thread(target=self._accept, name="streamtts-accept", daemon=True).start()
            for event in self._pipeline.run(self._feed):
                if isinstance(event, Ready):
                    self._startup = event.startup
                    chosen = speech_options(self.options).items()
                    models = ", ".join(f"{k} {v}" for k, v in chosen if v is not None)
                    log.info("ready (%s): %s", models, startup_line(event.startup))
                elif isinstance(event, Started):
                    self._playing = event.record
                    self._route("started", event.record)
                elif isinstance(event, Finished):
                    self._finish(event.record)
        except Exception as error:
            # A model that does not load (none converted, an engine not installed): say so
            # to every client and in `status` until shut down, rather than exit and be
            # started again by the next hook call, and the next.
            self.failed = str(error)
            log.error("cannot speak: %s", error)
            while not self._shutdown.wait(0.5):
                pass
        finally:
            self._feed.close()
            self._listener.close()
            self._ledger.close()
            with self._lock:
                spoken, skipped = self._counts.spoken, sum(self._counts.skipped.values())
            log.info("stopped: spoken %d, skipped %d", spoken, skipped)

    def shutdown(self) -> None:
        """Silence everything and end ``run`` (from any thread)."""
        self._shutdown.set()
        self._pipeline.stop()

    def _finish(self, record: SentenceRecord) -> None:
        if self._playing is record:
            self._playing = None
        with self._lock:
            if record.skipped is None:
                self._counts.spoken += 1
            else:
                self._counts.skipped[record.skipped] += 1
        self._route("finished", record)
        with self._lock:
            tag = self._tags.pop(record.seq, None)
        if tag is not None:
            self._ledger.write(
                client="hook" if tag.client is None else "client",
                session=tag.session,
                turn=tag.turn,
                text=record.text,
                spoken=record.skipped is None,
                skipped=record.skipped,
                detail=record.detail or None,
            )
        client = tag.client if tag else None
        if client is not None:
            client.open.discard(record.seq)
            self._close_if_done(client)

    def _route(self, event: str, record: SentenceRecord) -> None:
        with self._lock:
            tag = self._tags.get(record.seq)
        if tag is not None and tag.client is not None:
            fields = asdict(record)
            fields["seq"] = tag.seq
            tag.client.send({"event": event, "record": fields})

    def _close_if_done(self, client: Peer) -> None:
        if client.ended and not client.open and client.finish_once():
            client.send(
                {
                    "event": "done",
                    "startup": self._startup,
                    "underflows": self._sink.underflows - client.sink_base[0],
                    "gap_seconds": self._sink.gap_seconds - client.sink_base[1],
                    "blas": blas_in_use(),
                }
            )

    # -- connections ------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._shutdown.is_set():
            try:
                conn, _ = self._listener.socket.accept()
            except OSError as error:
                if error.errno not in _OUT_OF_RESOURCES:  # the listener was closed: the end
                    return
                # Out of descriptors or memory: the connection waits in the backlog until
                # some client closes one, so try again rather than stop listening for good.
                log.warning("cannot accept a client: %s", error.strerror)
                self._shutdown.wait(ACCEPT_RETRY)
                continue
            client = Peer(conn)
            try:
                threading.Thread(target=client.write_out, daemon=True).start()
                threading.Thread(target=self._serve, args=(client,), daemon=True).start()
            except RuntimeError as error:  # no thread to be had: this client only is refused
                log.warning("cannot serve a client: %s", error)
                client.close()
                conn.close()

    def _serve(self, client: Peer) -> None:
        reader = client.conn.makefile("rb")
        try:
            while line := reader.readline(MAX_LINE):
                if not line.endswith(b"\n") and len(line) >= MAX_LINE:
                    client.send(_error(f"a line longer than {MAX_LINE} bytes"))
                    break
                client.send(self.handle(client, line))
                self._close_if_done(client)  # after the reply to its ``end``
        except OSError:
            pass
        finally:
            client.close()  # what is queued still goes (an error reply); nothing more
            self.cancel(lambda tag: tag.client is client, "disconnected")
            with contextlib.suppress(OSError):
                reader.close()

    def handle(self, client: Peer, line: bytes) -> dict[str, Any]:
        """Carry out one message and return the reply; a bad message is an error reply."""
        try:
            message = decode(line)
        except RecursionError:
            return _error("a message nested too deeply to read")
        except ValueError as error:
            return _error(f"not JSON: {error}")
        if not isinstance(message, dict):
            return _error("a message is a JSON object")
        op = message.get("op")
        if op not in OPS:
            return _error(f"unknown op {op!r}; expected one of {', '.join(OPS)}")
        if self.failed is not None and op not in ("ping", "status", "shutdown"):
            return _error(f"this daemon cannot speak: {self.failed}; then `streamtts shutdown`")
        try:
            return {"ok": True, "op": op, **getattr(self, f"_op_{op}")(client, message)}
        except OptionsConflict as differ:
            return {**_error(f"this daemon speaks with {differ}"), "conflict": str(differ)}
        except (HookInputError, StreamttsError, TypeError, ValueError) as error:
            return _error(str(error))

    def _op_ping(self, client: Peer, message: dict[str, Any]) -> dict[str, Any]:
        return {"pid": os.getpid(), "version": __version__}

    def _op_status(self, client: Peer, message: dict[str, Any]) -> dict[str, Any]:
        playing = self._playing
        with self._lock:
            queued = len(self._tags) - (playing is not None)  # waiting, not the one playing
            spoken, skipped = self._counts.spoken, dict(self._counts.skipped)
        return {
            "pid": os.getpid(),
            "version": __version__,
            "since": self._since,
            "socket": str(self._listener.path),
            "ready": bool(self._startup),
            "error": self.failed,
            "startup": self._startup,
            "options": speech_options(self.options),
            "policy": self.policy,
            "max_age": self._max_age,
            "paused": self._paused,
            "playing": playing.text if playing is not None else None,
            "queued": queued,
            "spoken": spoken,
            "skipped": sum(skipped.values()),
            "skipped_by": skipped,
        }

    def _op_stop(self, client: Peer, message: dict[str, Any]) -> dict[str, Any]:
        return {"cancelled": self.cancel(lambda tag: True, "stopped")}

    def _op_skip(self, client: Peer, message: dict[str, Any]) -> dict[str, Any]:
        playing = self._playing
        if playing is None:
            return {"cancelled": 0}
        return {"cancelled": self._pipeline.cancel(lambda r: r is playing, "skipped")}

    def _op_pause(self, client: Peer, message: dict[str, Any]) -> dict[str, Any]:
        self._paused = True
        self._sink.pause(True)
        return {}

    def _op_resume(self, client: Peer, message: dict[str, Any]) -> dict[str, Any]:
        self._paused = False
        self._sink.pause(False)
        return {}

    def _op_shutdown(self, client: Peer, message: dict[str, Any]) -> dict[str, Any]:
        threading.Timer(0.05, self.shutdown).start()  # after the reply has gone
        return {}

    def _op_hook(self, client: Peer, message: dict[str, Any]) -> dict[str, Any]:
        with self._lock:  # hook calls of one session arrive in order; keep them so
            said = self._hooks.handle(message.get("input"))
        if self.policy == "latest":
            if said.new_prompt:
                self.cancel(
                    lambda t: t.session == said.session and t.turn != said.turn, "new-prompt"
                )
            if said.stale:  # a late input of a turn the session has moved on from
                with self._lock:
                    self._counts.skipped["superseded"] += len(said.sentences)
                return {"queued": 0}
        for text in said.sentences:
            self._enqueue(None, 0, text, session=said.session, turn=said.turn)
        return {"queued": len(said.sentences)}

    def _op_speak(self, client: Peer, message: dict[str, Any]) -> dict[str, Any]:
        """Begin a stream of sentences; a client wanting other speech options is refused."""
        differ = conflicts(message.get("options", {}), speech_options(self.options))
        if differ is not None:
            raise OptionsConflict(differ)
        if client.speaking is not None:
            raise StreamttsError("this connection is speaking already")
        source = message.get("source")
        client.speaking = str(source) if source else f"client-{id(client)}"
        client.sink_base = (self._sink.underflows, self._sink.gap_seconds)
        return {"now": time.perf_counter(), "ready": bool(self._startup)}

    def _op_sentence(self, client: Peer, message: dict[str, Any]) -> dict[str, Any]:
        text, seq = message.get("text"), message.get("seq")
        if client.speaking is None:
            raise StreamttsError("send {'op': 'speak'} before its sentences")
        if not isinstance(text, str) or not isinstance(seq, int):
            raise StreamttsError("a sentence has a string text and an integer seq")
        self._enqueue(client, seq, text, session=client.speaking, turn=client.speaking)
        return {"seq": seq}

    def _op_end(self, client: Peer, message: dict[str, Any]) -> dict[str, Any]:
        client.ended = True
        return {}

    # -- the queue ----------------------------------------------------------------------------

    def _enqueue(self, client: Peer | None, seq: int, text: str, *, session: str, turn: str):
        with self._lock:
            ours = self._next_seq
            self._next_seq += 1
            self._tags[ours] = _Tag(client, seq, session, turn)
            new_turn = self.policy == "latest" and turn != self._turn
            self._turn = turn
        if client is not None:
            client.open.add(ours)
        if new_turn:
            self.cancel(lambda tag: tag.turn != turn, "superseded")
        self._feed.put(Sentence(ours, text, time.perf_counter()))

    def cancel(self, which, reason: str) -> int:
        """Cancel the sentences whose tag ``which`` accepts; how many were.

        Those the pipeline has not taken yet (it reads ``READ_AHEAD`` ahead) are taken out
        of the feed and finished here as skipped; the pipeline cancels the others.
        """

        def chosen(seq: int) -> bool:
            tag = self._tags.get(seq)
            return tag is not None and which(tag)

        waiting = self._feed.remove(lambda sentence: chosen(sentence.seq))
        for sentence in waiting:
            record = SentenceRecord(sentence.seq, sentence.text, sentence.t_ready)
            record.skip(reason)
            self._finish(record)
        return len(waiting) + self._pipeline.cancel(lambda r: chosen(r.seq), reason)


_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def _error(text: str) -> dict[str, Any]:
    return {"ok": False, "error": text}
