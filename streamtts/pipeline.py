"""The overlapping speak pipeline: source → translate → synthesize → play, one thread per stage.

Each stage is a thread joined to the next by a queue, and every sentence travels as one
``SentenceRecord`` that each stage stamps, so while sentence N plays, N+1 is synthesized and
N+2 translated. The translator is loaded, warmed up and used on its own thread (MLX work stays
on one thread) and the speech engine likewise on the synthesis thread, both while the first
input is still awaited. Sentences that wait for the translator together go as one batch, of
at most one more sentence than are already on their way to the player: a burst's first
sentence goes alone, and no batch takes much longer than the speech queued ahead of it.
Synthesis streams: a sentence is handed to the player with its first chunk and the rest follows
through the sentence's own chunk queue, so the sink can start playing before synthesis ends.
A sink takes whole sentences as fast as they come, so synthesis faster than playback would
pile audio up without end: a sentence's synthesis waits while more than ``max_ahead`` seconds
of audio are synthesized and not yet played.
Skipped sentences flow through every stage too, so the records come out complete and in
order. The caller's thread follows the sink's playbacks to stamp audio start and end; it is
also where Ctrl-C lands, and one stop event ends every stage.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Protocol, TextIO, TypeVar

import numpy as np

from streamtts.audio import Playback
from streamtts.errors import detach_output
from streamtts.source import SourceStats, read_pieces
from streamtts.stats import SentenceRecord
from streamtts.text import segment

if TYPE_CHECKING:
    from streamtts.audio import AudioSink
    from streamtts.translate import Translator
    from streamtts.tts import TTSEngine

log = logging.getLogger(__name__)


class _WarmsUp(Protocol):
    def warmup(self) -> None: ...


_Part = TypeVar("_Part", bound=_WarmsUp)  # the translator or the speech engine

_END = object()  # end of input, passed down the queues after the last sentence
# Seconds between stop-event checks while a stage waits; items wake a stage at once, and
# Ctrl-C silences the sink from the caller's thread without waiting for the stages.
_POLL = 0.1
MAX_BATCH = 16  # sentences translated together at most, so one batch cannot hold up speech
# Bound for sentences waiting to be translated. Generous on purpose: a full queue stops the
# reader, and a reader that stops reading stalls the agent writing into our stdin.
READ_AHEAD = 10_000
HAND_OFF = 4  # bound between translation, synthesis and playback: they pace each other
MAX_AHEAD = 30.0  # seconds of audio synthesized ahead of the player at most (then one sentence)
STOP_WAIT = 2.0  # seconds stop() waits for the stages to wind down
# A stage handing a sentence on wakes the next stage's thread, which then waits for the GIL
# while a busy thread (synthesis, reading) holds it: up to the interpreter's switch
# interval, 5 ms by default. While the pipeline runs the interval is 1 ms instead: that is
# process-wide, for every thread of the program, and restored when the run ends.
SWITCH_INTERVAL = 0.001


@dataclass
class _Utterance:
    """A sentence on its way to the player: its record and its audio, still arriving."""

    record: SentenceRecord
    sample_rate: int
    chunks: queue.Queue = field(default_factory=queue.Queue)


class Pipeline:
    """Speaks what a stream says, stage by stage, with a record per sentence.

    ``load_translator`` and ``load_engine`` are called on the thread that will use what they
    return, so model loading and warm-up overlap the wait for input. ``max_lag`` skips a
    sentence that would start playing more than that many seconds after it was ready.
    ``subtitles`` receives each sentence and its translation as it starts playing.
    ``max_ahead`` bounds the seconds of audio synthesized before the player needs them.
    """

    def __init__(
        self,
        *,
        load_translator: Callable[[], Translator],
        load_engine: Callable[[], TTSEngine],
        sink: AudioSink,
        fmt: str = "auto",
        max_lag: float | None = None,
        subtitles: TextIO | None = None,
        max_ahead: float = MAX_AHEAD,
    ) -> None:
        self._load_translator = load_translator
        self._load_engine = load_engine
        self._sink = sink
        self._fmt = fmt
        self._max_lag = max_lag
        self._subtitles = subtitles
        self._max_ahead = max_ahead
        self._ahead = 0.0  # seconds synthesized whose sentence has not come out of run()
        self._room = threading.Condition()
        self._warned: set[str] = set()  # translation errors already logged as warnings
        self._stop = threading.Event()
        self._records_lock = threading.Lock()  # no record is added once the run stops
        self._error: BaseException | None = None
        self._to_translate: queue.Queue = queue.Queue(READ_AHEAD)
        self._to_synthesize: queue.Queue = queue.Queue(HAND_OFF)
        self._to_play: queue.Queue = queue.Queue(HAND_OFF)
        self._played: queue.Queue = queue.Queue()
        self._ready = {"translator": threading.Event(), "tts": threading.Event()}
        self._threads: list[threading.Thread] = []
        self._in_flight = 0  # sentences handed on by the translator, not yet done playing
        self._in_flight_lock = threading.Lock()
        self.records: list[SentenceRecord] = []
        self.startup: dict[str, float] = {}
        self.source_stats: SourceStats = SourceStats()
        self.t0 = time.perf_counter()
        self.silenced_at: float | None = None  # when stop() silenced the sink

    def run(self, stream: BinaryIO) -> Iterator[SentenceRecord]:
        """Start every stage on ``stream`` and yield each record, in order, once it is done.

        A spoken record is yielded when its audio has finished playing, a skipped one when it
        reaches the player. Closing the generator early (or an exception such as
        KeyboardInterrupt in the caller) stops every stage; sentences left unfinished are
        marked ``interrupted``.
        """
        self.t0 = time.perf_counter()
        interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        stages = [(self._read, (stream,)), (self._translate, ()), (self._synthesize, ())]
        for target, args in [*stages, (self._play, ())]:
            name = f"streamtts-{target.__name__.strip('_')}"
            # Daemon threads: the reader may sit in a read() on stdin that nothing can cancel.
            thread = threading.Thread(target=self._guard, args=(target, *args), name=name)
            thread.daemon = True
            thread.start()
            self._threads.append(thread)
        finished = False
        try:
            while (item := self._get(self._played)) is not _END:
                if item is None:  # a stage failed, or stop() was called from another thread
                    self._check()
                    return
                record = self._follow(*item)
                with self._in_flight_lock:
                    self._in_flight -= 1
                with self._room:
                    self._ahead -= record.audio_seconds
                    self._room.notify()
                yield record
            finished = True
        finally:
            sys.setswitchinterval(interval)
            self.stop(silence=not finished)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the translator and the engine are loaded and warm; False on timeout."""
        deadline = None if timeout is None else time.perf_counter() + timeout
        for event in self._ready.values():
            left = None if deadline is None else max(0.0, deadline - time.perf_counter())
            if not event.wait(left):
                return False
        return True

    def stop(self, *, silence: bool = True) -> None:
        """Stop every stage and mark sentences that did not finish as interrupted.

        ``silence`` closes the sink with ``discard=True`` first, so sound stops at once
        rather than after the stages wind down.
        """
        with self._records_lock:
            self._stop.set()
        if silence:
            self._sink.close(discard=True)
            self.silenced_at = time.perf_counter()
        # A stage busy in a model call finishes that call first; the reader may be blocked
        # in a read() for good, so it is not waited for at all.
        deadline = time.perf_counter() + STOP_WAIT
        for thread in self._threads[1:]:
            thread.join(timeout=max(0.0, deadline - time.perf_counter()))
        for record in self.records:
            if record.t_audio_end is None:
                record.skip("interrupted")

    # -- stages ---------------------------------------------------------------------------

    def _guard(self, stage: Callable[..., None], *args: object) -> None:
        # A stage that fails (a model that does not load) ends the run with its error.
        try:
            stage(*args)
        except BaseException as exc:
            if not self._stop.is_set():
                self._error = exc
                self._stop.set()

    def _read(self, stream: BinaryIO) -> None:
        for sentence in segment(read_pieces(stream, fmt=self._fmt, stats=self.source_stats)):
            record = SentenceRecord(sentence.seq, sentence.text, sentence.t_ready)
            with self._records_lock:  # a sentence read after Ctrl-C is not counted at all
                if self._stop.is_set():
                    return
                self.records.append(record)
            if not self._put(self._to_translate, record):
                return
        self._put(self._to_translate, _END)

    def _translate(self) -> None:
        translator = self._prepare("translator", self._load_translator)
        while (batch := self._next_batch()) is not None:
            waiting = [r for r in batch if r is not _END and not self._dropped(r, r.t_ready)]
            if waiting:
                self._translate_batch(translator, waiting)
            for item in batch:
                if item is not _END:
                    with self._in_flight_lock:
                        self._in_flight += 1
                if not self._put(self._to_synthesize, item):
                    return
            if batch[-1] is _END:
                return

    def _next_batch(self) -> list | None:
        """Block for one sentence, then take what else is already waiting, up to a limit.

        The limit is one more than the sentences already on their way to the player, so the
        batch translates in about the time their speech takes: with nothing downstream the
        first sentence goes alone, and speech neither waits for a big batch nor runs dry.
        """
        first = self._get(self._to_translate)
        if first is None:
            return None
        batch = [first]
        with self._in_flight_lock:
            limit = min(MAX_BATCH, self._in_flight + 1)
        while batch[-1] is not _END and len(batch) < limit:
            try:
                batch.append(self._to_translate.get_nowait())
            except queue.Empty:
                break
        return batch

    def _translate_batch(self, translator: Translator, records: list[SentenceRecord]) -> None:
        start = time.perf_counter()
        for record in records:
            record.t_translate_start = start
        try:
            translations = translator.translate([r.text for r in records])
        except Exception as exc:
            if len(records) == 1:
                # Said once: without a model every sentence would fail with the same words.
                level = logging.INFO if str(exc) in self._warned else logging.WARNING
                self._warned.add(str(exc))
                log.log(level, "sentence %d not translated: %s", records[0].seq, exc)
                records[0].skip("translation-failed", str(exc))
                return
            # One bad sentence must not cost the batch: retry each on its own.
            for record in records:
                self._translate_batch(translator, [record])
            return
        done = time.perf_counter()
        for record, translation in zip(records, translations, strict=True):
            record.translation, record.t_translated = translation, done
            if not translation.strip():
                record.skip("empty", "nothing left to speak after translation")

    def _synthesize(self) -> None:
        engine = self._prepare("tts", self._load_engine)
        while (item := self._get(self._to_synthesize)) is not None:
            if item is _END or self._dropped(item, item.t_ready):
                if not self._put(self._to_play, item) or item is _END:
                    return
            elif not self._wait_for_room() or not self._synthesize_one(engine, item):
                return

    def _wait_for_room(self) -> bool:
        """Wait while ``max_ahead`` seconds of audio wait for the player; False on stop."""
        with self._room:
            while self._ahead >= self._max_ahead and not self._stop.is_set():
                self._room.wait(_POLL)
        return not self._stop.is_set()

    def _synthesize_one(self, engine: TTSEngine, record: SentenceRecord) -> bool:
        """Stream one sentence's audio to the player; False if the run stopped meanwhile."""
        utterance = _Utterance(record, engine.sample_rate)
        record.t_synth_start = time.perf_counter()
        try:
            # The whole sentence: the engine splits it into the chunks it speaks.
            for chunk in engine.synthesize(record.translation):
                if self._stop.is_set():
                    return False
                if record.t_first_chunk is None:
                    record.t_first_chunk = time.perf_counter()
                    if not self._put(self._to_play, utterance):
                        return False
                seconds = len(chunk) / engine.sample_rate
                record.audio_seconds += seconds
                with self._room:
                    self._ahead += seconds
                utterance.chunks.put(chunk)
        except Exception as exc:
            log.warning("sentence %d: synthesis failed: %s", record.seq, exc)
            if record.t_first_chunk is None:
                record.skip("synthesis-failed", str(exc))
            else:  # what was synthesized still plays; say why the rest is missing
                record.detail = f"synthesis failed part way: {exc}"
        record.t_synth_end = time.perf_counter()
        utterance.chunks.put(_END)
        if record.t_first_chunk is not None:
            return True
        record.skip("empty", "the engine produced no audio")
        return self._put(self._to_play, record)

    def _play(self) -> None:
        last: Playback | None = None
        free_at = 0.0  # when the sink will have played everything handed to it so far
        while (item := self._get(self._to_play)) is not None:
            if item is _END:
                self._put(self._played, _END)
                return
            if isinstance(item, SentenceRecord):
                self._put(self._played, (item, None))
                continue
            record = item.record
            idle = last is None or last.done.is_set()
            starts_at = time.perf_counter() if idle else free_at
            if self._dropped(record, starts_at):
                self._put(self._played, (record, None))
                continue
            # A sink that takes audio as fast as it comes (a file) is never waited for: what
            # a sentence waits there is the backlog of the stages, not latency.
            record.player_idle = idle if self._sink.realtime else None
            record.t_handoff = time.perf_counter()
            # Followed from the caller's thread before the sink has taken the last chunk, so
            # a subtitle shows when the sentence starts playing, not when synthesis ends.
            last = Playback()
            if not self._put(self._played, (record, last)):
                return
            self._sink.play(self._chunks(item), item.sample_rate, playback=last)
            free_at = starts_at + record.audio_seconds

    def _chunks(self, utterance: _Utterance) -> Iterator[np.ndarray]:
        while (chunk := self._get(utterance.chunks)) is not None and chunk is not _END:
            yield chunk

    # -- the caller's side --------------------------------------------------------------------

    def _follow(self, record: SentenceRecord, playback: Playback | None) -> SentenceRecord:
        """Wait for a sentence's playback to start (subtitles) and end; return its record."""
        if playback is None:
            return record
        # Sinks stamp the start without an event; a short poll keeps subtitles in step.
        while playback.t_start is None and not playback.done.wait(0.01):
            self._check()
        record.t_audio_start = playback.t_start
        self._show(record)
        while not playback.done.wait(_POLL):
            self._check()
        record.t_audio_end = playback.t_end
        return record

    def _show(self, record: SentenceRecord) -> None:
        if self._subtitles is None:
            return
        lines = [record.text]
        if record.translation != record.text:
            lines.append(f"  {record.translation}")
        try:
            self._subtitles.write("\n".join(lines) + "\n")
            self._subtitles.flush()
        except OSError:  # the reader went away, or a full device: keep speaking, stop printing
            detach_output(self._subtitles)
            self._subtitles = None

    # -- plumbing -----------------------------------------------------------------------------

    def _prepare(self, part: str, load: Callable[[], _Part]) -> _Part:
        """Load and warm up one model on the calling thread, recording both times."""
        started = time.perf_counter()
        loaded_part = load()
        loaded = time.perf_counter()
        loaded_part.warmup()
        now = time.perf_counter()
        self.startup[f"{part} load"] = loaded - started
        self.startup[f"{part} warm-up"] = now - loaded
        self._ready[part].set()
        if all(event.is_set() for event in self._ready.values()):
            self.startup["total"] = now - self.t0
            log.info("ready in %.2f s", self.startup["total"])
        return loaded_part

    def _dropped(self, record: SentenceRecord, starts_at: float) -> bool:
        """Whether ``record`` is out: skipped already, or now (and then marked) for lagging.

        A sentence lags when it would start more than ``max_lag`` seconds after it was ready.
        """
        if record.skipped:
            return True
        if self._max_lag is None:
            return False
        lag = starts_at - record.t_ready
        if lag <= self._max_lag:
            return False
        record.skip("max-lag", f"would start {lag:.1f} s after it was ready")
        return True

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def _get(self, source: queue.Queue) -> object:
        """Next item from ``source``; None once the run is stopping."""
        while not self._stop.is_set():
            try:
                return source.get(timeout=_POLL)
            except queue.Empty:
                continue
        return None

    def _put(self, target: queue.Queue, item: object) -> bool:
        """Put ``item`` on ``target`` unless the run stops first; returns whether it went."""
        while not self._stop.is_set():
            try:
                target.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False
