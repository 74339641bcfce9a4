"""Stitch Python tracebacks that arrive split over several entries back into one event.

Used per source, on the entry stream, before the window/severity filter, rules and clustering. Records
the scan's sieve clears are never built into entries; :meth:`Stitcher.skip` takes note of them as feeding
them would, so the events do not depend on the severity floor.

Rules
-----
* Entries are grouped by *stream*: (instance, log_name) when the entry has an instance, else
  (service, log_name). Lines of one traceback are contiguous within their stream; other streams may
  interleave freely.
* Each line is classified: a header (``Traceback (most recent call last):``, possibly after a log prefix;
  ``Exception Group Traceback …`` too), a frame (``  File "…", line N``, also loguru's ``> File``), an
  indented line (code, ``^^^^`` markers, ``raise X from e``, nested group lines), a chain joiner
  (``During handling of the above exception, another exception occurred:`` / ``The above exception was
  the direct cause of the following exception:``), an exception line (``[module.]Name[: message]``) or
  other. A multi-line entry is judged by its first and last lines, and whether any line is a header.
* Consecutive candidate entries of a stream (any class but "other", or severity ERROR+) form a pending
  *run*. A run ends at a non-candidate entry of the same stream, when an entry of any stream is more than
  ``max_gap`` away in time from the run's last entry, after ``max_lines`` entries, or at the end.
* A run is put in emit order, then parsed: an event starts at a header (or a header-bearing entry), a
  frame (headerless traceback), a joiner, or an ERROR+ entry; while the traceback is open (last line a
  header, frame or indented line) frames, indented lines, the exception line and a joiner continue it;
  once closed (exception line or a complete block) only a joiner continues it; after a joiner the next
  traceback start or ERROR+ entry continues it. Everything else passes through unchanged.
* A message Cloud Run split in two at a line break inside it is joined again: an entry whose raw text leaves a
  loguru colour open (``<red>… database "netra_dev``; colours by name only, not ``<b>`` or ``</>``) followed, in
  emit order within its run and unless a traceback goes on there, by one that closes that colour without opening
  it (``" does not exist</red>``), at most :data:`SPLIT_GAP` later. Both are candidates. The joined entry is the
  first part's, at the higher of the two levels, its message the two parts with the break shown as ``\\n`` (a
  title shows one line: the break is what it must show). Only two parts are joined (a middle line without markup
  is no candidate), and two such messages of one stream whose parts interleave pair wrongly, as interleaved
  tracebacks do.
* An event of two or more entries becomes one :class:`Entry` built from its first entry (in emit order)
  with ``dataclasses.replace``: ``message`` is the members' messages joined with ``"\\n"`` in emit order;
  ``severity`` is the highest of ERROR and the members' severities, ``severity_inferred`` is False only
  when a member declared that severity itself; ``timestamp`` is the first member's (first non-None);
  ``raw``, ``insert_id``, ``trace`` and the other fields are the first member's (``raw`` stays one
  record, so consumers see one shape whatever was stitched).
* Emit order of a run: its own timestamps decide when the first and last differ (descending → reversed).
  With equal timestamps the structure decides (the order in which more lines form header-first
  tracebacks); if that ties, the direction of the stream seen so far (``gcloud logging read`` prints
  newest first, and ties come in reverse emit order); if nothing is known, file order.
* Output keeps arrival order: a stitched event takes the place of its earliest-arriving member (so a
  descending stream stays descending), every other entry keeps its own place, and entries of other
  streams that arrive while a run is pending wait behind it.

Limits
------
* Memory holds only the pending runs (at most ``max_lines`` entries each, one per active stream) and the
  output queue behind the oldest one (past ``max_lines`` entries that run is stitched as it stands), so
  any stream, even an endless one, is processed lazily. Each cut can split a traceback.
* Tracebacks written concurrently by two processes on one instance (e.g. gunicorn workers) interleave
  line by line and cannot be told apart; an unrelated line of the same stream inside a traceback splits it.
* Only the first line of a multi-line exception message is recognised; later lines pass through.
* A joiner with no traceback or ERROR+ entry within ``max_gap`` on its stream is left as it is.
* Entries without timestamps are taken as simultaneous with their neighbours.
* Only Python tracebacks are recognised (not Java/Go/Node stack traces), and the log line that
  ``logger.exception`` writes before the traceback stays a separate entry.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from .entries import markup_balance, stream_key, stream_of
from .model import Entry, Severity

MAX_GAP = timedelta(milliseconds=500)
SPLIT_GAP = timedelta(milliseconds=10)  # the parts of one message Cloud Run split are microseconds apart
MAX_LINES = 2000
_SKIPPED = None  # the place of a skipped entry in the output queue
# Severity.ERROR looked up once: a class attribute of an enum is read through its metaclass's __getattr__ hook,
# as slow as a function call, and this is read for every entry fed.
_ERROR = Severity.ERROR


class _Line:
    """What a line is to a traceback. Plain strings, as are :class:`_State`'s: an Enum's members are read through
    its metaclass's ``__getattr__`` hook, each as slow as a call, and these are read several times per entry."""

    HEADER = "header"
    FRAME = "frame"
    INDENTED = "indented"
    JOINER = "joiner"
    EXCEPTION = "exception"
    OTHER = "other"


class _State:
    """Where a traceback stands after an entry."""

    OPEN = "open"  # frames may follow
    CLOSED = "closed"  # exception line seen: only a joiner continues
    JOINED = "joined"  # a joiner seen: the next traceback continues
    MARKUP = "markup"  # a message's loguru markup left open: the next entry may be its rest


_FRAME = re.compile(r"""^\s*>?\s*File ["'].*["'], line \d+""")
_JOINER = re.compile(
    r"^(?:During handling of the above exception, another exception occurred"
    r"|The above exception was the direct cause of the following exception):\s*$"
)
_HEADER = re.compile(r"Traceback \(most recent call last\):\s*$")
_HEADER_LINE = re.compile(r"^\S.*Traceback \(most recent call last\):[ \t]*\r?$", re.MULTILINE)
_EXCEPTION = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?::(?:\s.*)?)?$")
_OPEN_ENDS = (_Line.HEADER, _Line.FRAME, _Line.INDENTED)


def _kind(line: str) -> str:
    if "File " in line and _FRAME.match(line):
        return _Line.FRAME
    if line[:1].isspace():
        return _Line.INDENTED
    if line[:1] in "DT" and _JOINER.match(line):
        return _Line.JOINER
    if "Traceback" in line and _HEADER.search(line):
        return _Line.HEADER
    if _EXCEPTION.match(line):
        return _Line.EXCEPTION
    return _Line.OTHER


@dataclass(slots=True)
class _Shape:
    """How an entry may take part in a traceback (not frozen: one is built per entry fed, and a frozen dataclass's
    ``__init__`` is slow; none is changed once built)."""

    first: str  # a _Line
    last: str
    has_header: bool
    error: bool
    opens_markup: str | None = None  # the loguru colour left open: the message goes on in the next entry
    closes_markup: str | None = None  # a colour closed that this entry did not open: the rest of a message

    @property
    def candidate(self) -> bool:
        return (self.error or self.has_header or self.first is not _Line.OTHER or self.last is not _Line.OTHER
                or self.opens_markup is not None or self.closes_markup is not None)

    @property
    def starts(self) -> bool:
        return self.has_header or self.error or self.first in (_Line.FRAME, _Line.JOINER)

    def continues(self, state: str) -> bool:
        if state is _State.OPEN:
            return self.first in (_Line.FRAME, _Line.INDENTED, _Line.EXCEPTION, _Line.JOINER)
        if state is _State.CLOSED:
            return self.first is _Line.JOINER
        return self.starts

    @property
    def state_after(self) -> str:
        if self.last is _Line.JOINER:
            return _State.JOINED
        return _State.OPEN if self.last in _OPEN_ENDS else _State.CLOSED


def _shape(entry: Entry) -> _Shape:
    shape = _text_shape(entry.message, entry.severity >= _ERROR)
    raw = entry.raw.get("textPayload") if isinstance(entry.raw, dict) else None
    if isinstance(raw, str) and "<" in raw:
        closes, opens = markup_balance(raw)
        if closes is not None or opens is not None:
            return replace(shape, opens_markup=opens, closes_markup=closes)
    return shape


def _text_shape(message: str, error: bool) -> _Shape:
    message = message.rstrip("\r\n")
    first = _kind(message.partition("\n")[0])
    last = _kind(message.rpartition("\n")[2]) if "\n" in message else first
    has_header = first is _Line.HEADER or ("\n" in message and bool(_HEADER_LINE.search(message)))
    return _Shape(first, last, has_header, error)


def traceback_after(text: str, state: str | None) -> str | None:
    """Where a traceback stands after ``text`` when ``text`` goes on with one that stands at ``state`` (None: not
    begun, and only a ``Traceback …`` header begins one), by the rules events are parsed with; None when ``text``
    is no part of it."""
    shape = _text_shape(text, False)
    if state is None:
        return shape.state_after if shape.first is _Line.HEADER else None
    return shape.state_after if shape.continues(state) else None


def _events(shapes: Sequence[_Shape]) -> tuple[list[list[int]], set[int]]:
    """Group the positions of ``shapes`` (given in emit order) into events; one-entry events pass through. Also the
    indexes of the events that are one message in two parts (see :func:`_rejoin`), not a traceback."""
    events: list[list[int]] = []
    rejoined: set[int] = set()
    state: str | None = None  # a _State
    for position, shape in enumerate(shapes):
        if state is _State.MARKUP:  # the entry before left its colour open: this one may be the rest
            state = None
            if shape.closes_markup == shapes[position - 1].opens_markup and shape.opens_markup is None:
                events[-1].append(position)
                rejoined.add(len(events) - 1)
                continue
        if state is not None and shape.continues(state):  # a traceback goes on first
            events[-1].append(position)
        elif shape.opens_markup is not None and shape.closes_markup is None and not shape.has_header:
            events.append([position])
            state = _State.MARKUP
            continue
        else:
            events.append([position])
            if not shape.starts:
                state = None
                continue
        state = shape.state_after
    return events, rejoined


def _score(shapes: Sequence[_Shape]) -> int:
    """Entries that end up in multi-entry events starting with a traceback header."""
    return sum(len(event) for event in _events(shapes)[0] if len(event) > 1 and shapes[event[0]].has_header)


@dataclass(slots=True)
class _Trend:
    """Direction of the stream so far, from consecutive timestamps. ``ties``, when a list, notes the counts each
    time they decide a run's order (see :meth:`Stitcher.note_tie_breaks`)."""

    ascending: int = 0
    descending: int = 0
    last: datetime | None = None
    ties: list[tuple[int, int]] | None = None

    def newest_first(self) -> bool:
        if self.ties is not None:
            self.ties.append((self.ascending, self.descending))
        return self.descending > self.ascending

    def observe(self, ts: datetime | None) -> None:
        if ts is None:
            return
        if self.last is not None:
            if ts > self.last:
                self.ascending += 1
            elif ts < self.last:
                self.descending += 1
        self.last = ts


@dataclass(slots=True)
class _Slot:
    """A place in the output queue, filled when its run is stitched."""

    run: _Run
    entries: list[Entry] = field(default_factory=list)
    ready: bool = False


@dataclass(slots=True)
class _Run:
    """Pending candidate entries of one stream, in arrival order, with their output slots."""

    key: Hashable
    entries: list[Entry] = field(default_factory=list)
    shapes: list[_Shape] = field(default_factory=list)
    slots: list[_Slot] = field(default_factory=list)
    last_time: datetime | None = None

    def add(self, entry: Entry, shape: _Shape) -> _Slot:
        self.entries.append(entry)
        self.shapes.append(shape)
        self.slots.append(_Slot(self))
        if entry.timestamp is not None:
            self.last_time = entry.timestamp
        return self.slots[-1]

    def stale(self, ts: datetime | None, max_gap: timedelta) -> bool:
        return ts is not None and self.last_time is not None and abs(ts - self.last_time) > max_gap

    def fill(self, trend: _Trend) -> None:
        """Stitch the run: each event goes to the slot of its earliest-arriving member."""
        if len(self.entries) == 1:
            self.slots[0].entries.append(self.entries[0])
            self.slots[0].ready = True
            return
        order = list(range(len(self.entries)))
        if _is_reversed(self, trend):
            order.reverse()
        events, rejoined = _events([self.shapes[i] for i in order])
        for index, event in enumerate(events):
            arrivals = [order[position] for position in event]
            members = [self.entries[i] for i in arrivals]
            if index not in rejoined:
                self.slots[min(arrivals)].entries.append(_merge(members))
            elif _written_together(members):
                self.slots[min(arrivals)].entries.append(_rejoin(members))
            else:  # two messages that happen to open and close a colour
                for arrival, member in zip(arrivals, members):
                    self.slots[arrival].entries.append(member)
        for slot in self.slots:
            slot.ready = True


def _is_reversed(run: _Run, trend: _Trend) -> bool:
    """True when the run arrived newest first."""
    times = [entry.timestamp for entry in run.entries if entry.timestamp is not None]
    if times and times[0] != times[-1]:
        return times[-1] < times[0]
    forward, backward = _score(run.shapes), _score(run.shapes[::-1])
    if forward != backward:
        return backward > forward
    return trend.newest_first()


def _written_together(parts: list[Entry]) -> bool:
    """Whether the parts' times are as close as those of one write Cloud Run split (microseconds apart)."""
    times = [part.timestamp for part in parts if part.timestamp is not None]
    return len(times) < 2 or abs(times[1] - times[0]) <= SPLIT_GAP


def _rejoin(parts: list[Entry]) -> Entry:
    """The two parts of one message that Cloud Run split at a line break inside it, as one entry of the first part
    (its time; the higher level of the two), the break shown as ``\\n``: ``database "netra_dev\\n" does not exist``
    tells that the name ends in a line break."""
    first, rest = parts
    louder = rest if rest.severity > first.severity else first
    return replace(first, message=first.message + "\\n" + rest.message, severity=louder.severity,
                   severity_inferred=louder.severity_inferred)


def _merge(event: list[Entry]) -> Entry:
    first = event[0]
    if len(event) == 1:
        return first
    severity = max(_ERROR, *(entry.severity for entry in event))
    declared = any(not entry.severity_inferred and entry.severity == severity for entry in event)
    return replace(
        first,
        timestamp=next((entry.timestamp for entry in event if entry.timestamp is not None), None),
        message="\n".join(entry.message for entry in event),
        severity=severity,
        severity_inferred=not declared,
    )


class Stitcher:
    """Stitches the entries fed to it, one at a time; :func:`stitch` over an iterable.

    A caller that drops an entry without feeding it (one it can tell is no stitching candidate and of no
    use downstream) calls :meth:`skip` instead, so that the entry still counts where it would have counted:
    the events are the same as if it had been fed.
    """

    def __init__(self, *, max_gap: timedelta = MAX_GAP, max_lines: int = MAX_LINES):
        self.max_gap = max_gap
        self.max_lines = max_lines
        self._runs: dict[Hashable, _Run] = {}
        self._queue: deque[Entry | _Slot | None] = deque()  # None: a skipped entry's place
        self._trend = _Trend()
        self._calm: tuple[datetime, datetime] | None = None  # times at which no pending run is stale

    @property
    def direction(self) -> tuple[int, int, datetime | None]:
        """The stream's direction so far: (ascending steps, descending steps, the last time seen)."""
        return self._trend.ascending, self._trend.descending, self._trend.last

    def count_steps(self, ascending: int, descending: int, last: datetime | None) -> None:
        """Count in the direction steps a pass over the rest of the stream took, up to its ``last`` time (see
        :mod:`triage.split`): the direction is then that of the whole stream."""
        self._trend.ascending += ascending
        self._trend.descending += descending
        self._trend.last = last

    def note_tie_breaks(self) -> list[tuple[int, int]]:
        """From now on, note the (ascending, descending) counts each time the stream's direction decides the order
        of a run (its times and its structure do not): what another start of the stream could change. Returns the
        list it keeps adding to."""
        self._trend.ties = []
        return self._trend.ties

    @property
    def pending(self) -> bool:
        """True while some stream has a run that a later entry may extend."""
        return bool(self._runs)

    def feed(self, entry: Entry) -> list[Entry]:
        """Take ``entry``; return the entries now ready, in arrival order."""
        self._trend.observe(entry.timestamp)
        self._finish_stale(entry.timestamp)
        key = stream_key(entry.instance, entry.service, entry.log_name)
        shape = _shape(entry)
        candidate = shape.candidate
        run = self._runs.get(key)
        if run is not None and (not candidate or len(run.entries) >= self.max_lines):
            self._finish(run)
            run = None
        if not candidate:
            self._queue.append(entry)
        else:
            if run is None:
                run = self._runs[key] = _Run(key)
            self._queue.append(run.add(entry, shape))
            self._narrow_calm(entry.timestamp)
        return self._emit()

    def skip(self, timestamp: datetime | None, data: Mapping[str, Any]) -> list[Entry]:
        """An entry that is no candidate and is not wanted downstream arrived at ``timestamp``: take note of it
        as feeding it would (the stream's direction, runs gone stale, the run of its stream, the queue's
        length) and return the entries now ready. Its stream is read from ``data``, its camelCase LogEntry
        mapping (see :func:`~triage.entries.stream_of`), only while :attr:`pending`."""
        self._trend.observe(timestamp)
        if not self._runs:
            return []  # nothing waits: a fed entry would pass straight through
        finished = self._finish_stale(timestamp)
        run = self._runs.get(stream_of(data)) if self._runs else None
        if run is not None:
            self._finish(run)
            finished = True
        queue = self._queue
        if queue:
            queue.append(_SKIPPED)  # it takes its place in the queue, as a fed entry would
            if len(queue) > self.max_lines:
                return self._emit()
        return _ready(queue) if finished else []  # else the head of the queue still waits

    def close(self) -> list[Entry]:
        """The end of the input: stitch every pending run; return the rest of the entries."""
        for run in list(self._runs.values()):
            self._finish(run)
        return _ready(self._queue)

    def _emit(self) -> list[Entry]:
        """The entries now ready, after stitching the run at the head of the queue if more than ``max_lines``
        entries wait behind it."""
        queue = self._queue
        if len(queue) > self.max_lines and isinstance(queue[0], _Slot) and not queue[0].ready:
            self._finish(queue[0].run)
        return _ready(queue)

    def _finish_stale(self, timestamp: datetime | None) -> bool:
        """Stitch the runs that ``timestamp`` is more than ``max_gap`` away from; True if there were any."""
        if timestamp is None or not self._runs:
            return False
        if self._calm is None:
            times = [run.last_time for run in self._runs.values() if run.last_time is not None]
            if not times:
                return False  # a run without times is never stale
            self._calm = (max(times) - self.max_gap, min(times) + self.max_gap)
        if self._calm[0] <= timestamp <= self._calm[1]:
            return False
        stale = [run for run in self._runs.values() if run.stale(timestamp, self.max_gap)]
        for run in stale:
            self._finish(run)
        return bool(stale)

    def _narrow_calm(self, timestamp: datetime | None) -> None:
        """A run's last time became ``timestamp``: keep the calm bounds, narrowed to stay within ``max_gap``
        of it (still calm for every run; recomputed once a run is finished)."""
        if self._calm is not None and timestamp is not None:
            low, high = self._calm
            self._calm = (max(low, timestamp - self.max_gap), min(high, timestamp + self.max_gap))

    def _finish(self, run: _Run) -> None:
        run.fill(self._trend)
        del self._runs[run.key]
        self._calm = None


def stitch(
    entries: Iterable[Entry], *, max_gap: timedelta = MAX_GAP, max_lines: int = MAX_LINES
) -> Iterator[Entry]:
    """Yield ``entries`` with split tracebacks and chained exceptions joined into single events (lazily).

    Output keeps arrival order: an event takes the place of its earliest-arriving member, and entries that
    arrive while a run is pending wait behind it (at most ``max_lines`` of them).
    """
    stitcher = Stitcher(max_gap=max_gap, max_lines=max_lines)
    for entry in entries:
        yield from stitcher.feed(entry)
    yield from stitcher.close()


def _ready(queue: deque[Entry | _Slot | None]) -> list[Entry]:
    """Pop the front of ``queue`` up to the first slot still pending; return its entries."""
    out: list[Entry] = []
    while queue:
        head = queue[0]
        if isinstance(head, Entry):
            out.append(head)
        elif head is _SKIPPED:
            pass
        elif head.ready:
            out.extend(head.entries)
        else:
            break
        queue.popleft()
    return out
