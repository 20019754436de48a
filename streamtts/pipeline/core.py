"""The overlapping speak pipeline: sentences in, events out; translate → synthesize → play.

The pipeline only moves records. It takes an iterator of ``Sentence``s (where they come
from, and what is done with what it reports, belong to its caller: ``streamtts.session``)
and yields events: ``Ready`` once both models are warm, ``Started`` when a sentence's first
sample plays and ``Finished`` when it has played or was skipped. Each stage is a thread
joined to the next by an ``Inbox``, a queue that gives up when the run stops, and every
sentence travels as one ``SentenceRecord`` that each stage stamps, so while sentence N
plays, N+1 is synthesized and N+2 translated. The translator is loaded, warmed up and used
on its own thread (MLX work stays on one thread), the speech engine likewise on the
synthesis thread, both while the first input is still awaited. Sentences that wait for the
translator together go as one batch, of at most one more sentence than are already on
their way to the player: a burst's first sentence goes alone, and no batch takes much
longer than the speech queued ahead of it. Synthesis streams: a sentence goes to the
player with its first chunk, the rest following through its own inbox.

An estimate of when the player will be free (the time the audio queued for it will have
played) decides ``max_lag`` before any compute, at translation and again at synthesis, so
a sentence too late to speak is never synthesized; and synthesis waits while more than
``max_ahead`` seconds of audio wait to be played. Skipped sentences flow through every
stage too, so the events come out complete and in order. The caller's thread follows each
playback to stamp audio start and end; it is also where Ctrl-C lands, and one stop event
ends every stage.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from streamtts.audio.sink import Playback
from streamtts.pipeline.inbox import Inbox, Stopped
from streamtts.pipeline.stats import SentenceRecord

if TYPE_CHECKING:
    from streamtts.audio.sink import AudioSink
    from streamtts.text.segmenter import Sentence
    from streamtts.translate.base import Translator
    from streamtts.tts import TTSEngine

log = logging.getLogger(__name__)


class _WarmsUp(Protocol):
    def warmup(self) -> None: ...


_Part = TypeVar("_Part", bound=_WarmsUp)  # the translator or the speech engine

_POLL = 0.1  # seconds between stop-event checks while waiting for room or for a playback
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


def _as_written(text: str) -> str:
    return text


@dataclass(frozen=True)
class Ready:
    """Both models are loaded and warm: seconds per load and warm-up, and ``total`` since the
    run started."""

    startup: dict[str, float]


@dataclass(frozen=True)
class Started:
    """The sentence's first sample is playing (``record.t_audio_start``)."""

    record: SentenceRecord


@dataclass(frozen=True)
class Finished:
    """The sentence has played to its end, or was skipped (``record.skipped`` says why)."""

    record: SentenceRecord


Event = Ready | Started | Finished


class _PlayerClock:
    """When the player will be free: the time the audio queued for it will have played.

    A chunk plays after what is queued ahead of it, or at once if the player ran dry. A
    sink that takes audio as fast as it comes (a file) is never busy: it is free now.
    """

    def __init__(self, realtime: bool) -> None:
        self._realtime = realtime
        self._free_at = 0.0  # written by the synthesis thread only

    def free_at(self) -> float:
        return max(time.perf_counter(), self._free_at)

    def ahead(self) -> float:
        """Seconds of audio queued for the player and not yet played."""
        return self.free_at() - time.perf_counter()

    def queue(self, seconds: float) -> None:
        """Count ``seconds`` more audio queued for the player."""
        if self._realtime:
            self._free_at = self.free_at() + seconds


@dataclass
class _Utterance:
    """A sentence on its way to the player: its record and its audio, still arriving."""

    record: SentenceRecord
    sample_rate: int
    chunks: Inbox


class Pipeline:
    """Speaks a stream of sentences stage by stage and reports each as it starts and ends.

    ``load_translator`` and ``load_engine`` are called on the thread that will use what they
    return, so model loading and warm-up overlap the wait for input. ``max_lag`` skips a
    sentence that would start playing more than that many seconds after it was ready, before
    any work is spent on it; ``max_age`` is the same limit by another name (the daemon's
    queue policy, so its skips are counted apart). ``max_ahead`` bounds the seconds of
    audio synthesized before the player needs them. ``cancel`` skips sentences already
    taken (the resident daemon's stop, skip and latest-turn policy). ``read`` turns each
    translation into what the voice is given (``streamtts.text.readings``; default: as written),
    on the translation thread. A pipeline runs once.
    """

    def __init__(
        self,
        *,
        load_translator: Callable[[], Translator],
        load_engine: Callable[[], TTSEngine],
        sink: AudioSink,
        max_lag: float | None = None,
        max_age: float | None = None,
        max_ahead: float = MAX_AHEAD,
        read: Callable[[str], str] | None = None,
    ) -> None:
        self._load_translator = load_translator
        self._reading = read or _as_written
        self._load_engine = load_engine
        self._sink = sink
        self._max_lag = max_lag
        self._max_age = max_age
        self._max_ahead = max_ahead
        self._clock = _PlayerClock(sink.realtime)
        self._warned: set[str] = set()  # translation errors already logged as warnings
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._to_translate = Inbox(self._stop, READ_AHEAD)
        self._to_synthesize = Inbox(self._stop, HAND_OFF)
        self._to_play = Inbox(self._stop, HAND_OFF)
        self._events = Inbox(self._stop)  # to the caller: Ready, (record, playback or None)
        self._startup: dict[str, float] = {}
        self._startup_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._in_flight = 0  # sentences handed on by the translator, not yet finished
        self._in_flight_lock = threading.Lock()
        # Sentences taken and not yet finished, and the playbacks of those handed to the
        # sink: what cancel() can still silence.
        self._live: dict[int, SentenceRecord] = {}
        self._playbacks: dict[int, Playback] = {}
        self._live_lock = threading.Lock()
        self._t0 = time.perf_counter()

    def run(self, sentences: Iterable[Sentence]) -> Iterator[Event]:
        """Start every stage on ``sentences`` and yield the events of the run, in order.

        Closing the generator early (or an exception such as KeyboardInterrupt in the
        caller) stops every stage and silences the sink; a stage's error is raised here.
        """
        self._t0 = time.perf_counter()
        interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        stages = [(self._read, sentences), (self._translate,), (self._synthesize,), (self._play,)]
        for target, *args in stages:
            name = f"streamtts-{target.__name__.strip('_')}"
            # Daemon threads: the reader may sit in a read() on stdin that nothing can cancel.
            thread = threading.Thread(target=self._guard, args=(target, *args), name=name)
            thread.daemon = True
            thread.start()
            self._threads.append(thread)
        finished = False
        try:
            for item in self._events:
                if isinstance(item, Ready):
                    yield item
                    continue
                record, playback = item
                if playback is not None:
                    yield from self._follow(record, playback)
                with self._in_flight_lock:
                    self._in_flight -= 1
                with self._live_lock:
                    self._live.pop(record.seq, None)
                    self._playbacks.pop(record.seq, None)
                yield Finished(record)
            finished = True
        except Stopped:  # a stage failed, or stop() was called from another thread
            if self._error is not None:
                raise self._error from None
        finally:
            sys.setswitchinterval(interval)
            self.stop(silence=not finished)

    def stop(self, *, silence: bool = True) -> None:
        """Stop every stage; ``silence`` closes the sink with ``discard=True`` first, so sound
        stops at once rather than after the stages wind down."""
        self._stop.set()
        if silence:
            self._sink.close(discard=True)
        # A stage busy in a model call finishes that call first.
        self.join(STOP_WAIT)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the stages to end, ``timeout`` seconds at most in all; None: however long
        the model call each is in takes, as a caller must before its interpreter exits (a
        thread still inside ONNX Runtime or MLX then aborts the process). The reader is not
        waited for: it may be blocked in a read() for good."""
        deadline = None if timeout is None else time.perf_counter() + timeout
        for thread in self._threads[1:]:
            thread.join(None if deadline is None else max(0.0, deadline - time.perf_counter()))

    def cancel(self, which: Callable[[SentenceRecord], bool], reason: str) -> int:
        """Skip, as ``reason``, every sentence taken and not finished for which ``which`` holds.

        Callable from any thread: a sentence waiting is never translated or synthesized, one
        being synthesized stops at its next chunk, and one in the sink is silenced at once.
        Returns how many were cancelled.
        """
        with self._live_lock:
            chosen = [r for r in self._live.values() if r.skipped is None and which(r)]
            for record in chosen:
                record.skip(reason)
                if record.seq in self._playbacks:
                    self._sink.cancel(self._playbacks[record.seq])
        return len(chosen)

    # -- stages ---------------------------------------------------------------------------

    def _guard(self, stage: Callable[..., None], *args: object) -> None:
        # A stage that fails (a model that does not load) ends the run with its error.
        try:
            stage(*args)
        except Stopped:
            pass
        except BaseException as exc:
            if not self._stop.is_set():
                self._error = exc
                self._stop.set()

    def _read(self, sentences: Iterable[Sentence]) -> None:
        for sentence in sentences:
            if self._stop.is_set():  # a sentence that comes after the stop is not taken
                return
            record = SentenceRecord(sentence.seq, sentence.text, sentence.t_ready)
            with self._live_lock:
                self._live[record.seq] = record
            self._to_translate.put(record)
        self._to_translate.close()

    def _translate(self) -> None:
        translator = self._prepare("translator", self._load_translator)
        for first in self._to_translate:
            # One more than the sentences already on their way to the player, so the batch
            # translates in about the time their speech takes.
            with self._in_flight_lock:
                limit = min(MAX_BATCH, self._in_flight + 1)
            batch = [first, *self._to_translate.take_waiting(limit - 1)]
            waiting = [record for record in batch if not self._dropped(record)]
            if waiting:
                self._translate_batch(translator, waiting)
            for record in batch:
                with self._in_flight_lock:
                    self._in_flight += 1
                self._to_synthesize.put(record)
        self._to_synthesize.close()

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
        spoken = [self._reading(translation) for translation in translations]
        done = time.perf_counter()
        for record, translation, said in zip(records, translations, spoken, strict=True):
            record.translation, record.spoken, record.t_translated = translation, said, done
            if not said.strip():
                record.skip("empty", "nothing left to speak after translation")

    def _synthesize(self) -> None:
        engine = self._prepare("tts", self._load_engine)
        for record in self._to_synthesize:
            if not record.skipped:
                self._wait_for_room()
            if self._dropped(record):
                self._to_play.put(record)
            else:
                self._synthesize_one(engine, record)
        self._to_play.close()

    def _wait_for_room(self) -> None:
        """Wait while more than ``max_ahead`` seconds of audio wait for the player."""
        while (excess := self._clock.ahead() - self._max_ahead) >= 0:
            if self._stop.wait(min(_POLL, excess + 0.001)):
                raise Stopped

    def _synthesize_one(self, engine: TTSEngine, record: SentenceRecord) -> None:
        """Stream one sentence's audio to the player as it is synthesized."""
        utterance = _Utterance(record, engine.sample_rate, Inbox(self._stop))
        record.t_synth_start = time.perf_counter()
        try:
            # The whole sentence: the engine splits it into the chunks it speaks.
            for chunk in engine.synthesize(record.spoken):
                if record.skipped:  # cancelled while it was being synthesized
                    break
                if record.t_first_chunk is None:
                    record.t_first_chunk = time.perf_counter()
                    self._to_play.put(utterance)
                seconds = len(chunk) / engine.sample_rate
                record.audio_seconds += seconds
                self._clock.queue(seconds)
                utterance.chunks.put(chunk)
        except Exception as exc:
            log.warning("sentence %d: synthesis failed: %s", record.seq, exc)
            if record.t_first_chunk is None:
                record.skip("synthesis-failed", str(exc))
            else:  # what was synthesized still plays; say why the rest is missing
                record.detail = f"synthesis failed part way: {exc}"
        record.t_synth_end = time.perf_counter()
        utterance.chunks.close()
        if record.t_first_chunk is None:
            record.skip("empty", "the engine produced no audio")
            self._to_play.put(record)

    def _play(self) -> None:
        last: Playback | None = None
        for item in self._to_play:
            if isinstance(item, SentenceRecord):  # skipped: it comes as its bare record
                self._events.put((item, None))
                continue
            record = item.record
            # A sink that takes audio as fast as it comes (a file) is never waited for: what
            # a sentence waits there is the backlog of the stages, not latency.
            idle = last is None or last.done.is_set()
            record.player_idle = idle if self._sink.realtime else None
            record.t_handoff = time.perf_counter()
            # Followed from the caller's thread before the sink has taken the last chunk, so
            # Started comes when the sentence starts playing, not when synthesis ends.
            last = Playback()
            with self._live_lock:
                self._playbacks[record.seq] = last
                if record.skipped:  # cancelled on its way here
                    self._sink.cancel(last)
            self._events.put((record, last))
            self._sink.play(item.chunks, item.sample_rate, playback=last)
        self._events.close()

    # -- the caller's side --------------------------------------------------------------------

    def _follow(self, record: SentenceRecord, playback: Playback) -> Iterator[Started]:
        """Wait for a sentence's playback to start (yield Started) and to end."""
        while not playback.started.wait(_POLL):
            self._check_stop()
        record.t_audio_start = playback.t_start
        if record.t_audio_start is not None:
            yield Started(record)
        while not playback.done.wait(_POLL):
            self._check_stop()
        record.t_audio_end = playback.t_end

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise Stopped

    # -- plumbing -----------------------------------------------------------------------------

    def _prepare(self, part: str, load: Callable[[], _Part]) -> _Part:
        """Load and warm up one model on the calling thread; the second one ready says Ready."""
        started = time.perf_counter()
        loaded_part = load()
        loaded = time.perf_counter()
        loaded_part.warmup()
        now = time.perf_counter()
        with self._startup_lock:
            self._startup[f"{part} load"] = loaded - started
            self._startup[f"{part} warm-up"] = now - loaded
            if len(self._startup) == 4:
                # Reported in stage order, whichever of the two threads finished first.
                order = ["translator load", "translator warm-up", "tts load", "tts warm-up"]
                self._startup = {name: self._startup[name] for name in order}
                self._startup["total"] = now - self._t0
                log.info("ready in %.2f s", self._startup["total"])
                self._events.put(Ready(dict(self._startup)))
        return loaded_part

    def _dropped(self, record: SentenceRecord) -> bool:
        """Whether ``record`` is out: skipped already, or now (and then marked) for lagging.

        A sentence lags when it would start more than ``max_lag`` (or ``max_age``) seconds
        after it was ready: it cannot start before the player is free. Decided before any
        compute, so the synthesis of a sentence that passed can add its first chunk's time.
        """
        if record.skipped:
            return True
        lag = self._clock.free_at() - record.t_ready
        for kind, limit in (("max-lag", self._max_lag), ("max-age", self._max_age)):
            if limit is not None and lag > limit:
                record.skip(kind, f"would start {lag:.1f} s after it was ready")
                return True
        return False
