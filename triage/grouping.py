"""Accumulate events into clusters: counts, first/last seen, services, samples and occurrences.

What is kept never depends on arrival order: samples are chosen (:func:`select_samples`) from the newest few of each
severity by (time, message), and occurrences are the newest ones by time, so shuffled input gives the same clusters.
Reports and drafts that show fewer samples choose them with :func:`select_samples` too.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from itertools import islice
from typing import Iterable, Iterator, Mapping

from .clustering import mask
from .model import Cluster, Entry, Occurrence, Rule, Sample, Severity

SAMPLES_KEPT = 10
DISTINCT_KEPT = 5  # at most this many samples are chosen for being the newest of their severity and masked first line
OCCURRENCES_KEPT = 2000  # the newest per cluster: enough to link incidents, flat memory on long windows
_NO_TIME = datetime.min.replace(tzinfo=timezone.utc)


class Accumulator:
    """Running totals of one group of events."""

    __slots__ = (
        "count", "first", "last", "severity", "least", "services", "revisions", "regions", "_samples", "_occurrences",
        "_seq",
    )

    def __init__(self) -> None:
        self.count = 0
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.severity = Severity.DEFAULT
        self.least: Severity | None = None
        self.services: Counter[str] = Counter()
        self.revisions: Counter[str] = Counter()
        self.regions: Counter[str] = Counter()
        # items: (time, message or instance, tie-breakers…, sequence number, fields of the value); the
        # sequence number only ever decides between events identical in every kept field. Samples: per severity.
        self._samples: dict[Severity, _Newest] = {}
        self._occurrences = _Newest(OCCURRENCES_KEPT)
        self._seq = 0

    def add(self, entry: Entry) -> None:
        self.count += 1
        ts = entry.timestamp
        if ts is not None:
            if self.first is None or ts < self.first:
                self.first = ts
            if self.last is None or ts > self.last:
                self.last = ts
        if entry.severity > self.severity:
            self.severity = entry.severity
        if self.least is None or entry.severity < self.least:
            self.least = entry.severity
        service, instance, revision = entry.service, entry.instance, entry.revision
        if service:
            self.services[service] += 1
        if revision:
            self.revisions[revision] += 1
        if entry.region:
            self.regions[entry.region] += 1
        key = ts or _NO_TIME
        self._seq += 1
        message = entry.message
        samples = self._samples.get(entry.severity)
        if samples is None:
            samples = self._samples[entry.severity] = _Newest(SAMPLES_KEPT)
        samples.add(
            (key, message, instance or "", service or "", revision or "", self._seq, (ts, message, service, instance, revision))
        )
        source, position = entry.source or None, entry.position
        trace, stream = entry.trace, service or source
        severity = entry.severity
        self._occurrences.add(
            (key, instance or "", trace or "", revision or "", stream or "", source or "",
             -1 if position is None else position, severity, self._seq,
             (ts, instance, trace, revision, stream, source, position, severity))
        )

    def merge(self, other: "Accumulator") -> None:
        self.count += other.count
        for ts in (other.first, other.last):
            if ts is not None:
                self.first = ts if self.first is None or ts < self.first else self.first
                self.last = ts if self.last is None or ts > self.last else self.last
        self.severity = max(self.severity, other.severity)
        if other.least is not None and (self.least is None or other.least < self.least):
            self.least = other.least
        self.services.update(other.services)
        self.revisions.update(other.revisions)
        self.regions.update(other.regions)
        for severity, theirs in other._samples.items():
            self._take(self._samples.setdefault(severity, _Newest(SAMPLES_KEPT)), theirs)
        self._take(self._occurrences, other._occurrences)

    def _take(self, mine: _Newest, theirs: _Newest) -> None:
        for item in theirs.newest():
            self._seq += 1
            mine.add((*item[:-2], self._seq, item[-1]))

    def most_severe_message(self) -> str:
        """The message of the newest event of the highest severity."""
        return self._samples[max(self._samples)].newest()[0][1]

    def to_cluster(
        self, fingerprint: str, title: str, template: str, rule: Rule | None = None, captures: Mapping[str, str] | None = None,
        newest_first: Mapping[str, bool] | None = None,
    ) -> Cluster:
        """The cluster of these events; ``newest_first`` tells the sources read newest first (the order of their
        occurrences runs against their positions)."""
        kept = (Sample(*item[-1], severity) for severity, items in self._samples.items() for item in items.newest())
        samples = tuple(select_samples(kept, SAMPLES_KEPT))
        backwards = newest_first or {}
        occurrences = tuple(
            Occurrence(
                *fields, None if position is None else -position if backwards.get(fields[-1]) else position, severity
            )
            for *fields, position, severity in (item[-1] for item in reversed(self._occurrences.newest()))
        )
        return Cluster(
            fingerprint=fingerprint,
            title=title,
            template=template,
            severity=self.severity,
            count=self.count,
            first_seen=self.first,
            last_seen=self.last,
            services=_by_count(self.services),
            revisions=_by_count(self.revisions),
            samples=samples,
            rule=rule,
            captures=dict(captures or {}),
            occurrences=occurrences,
            least_severity=self.least,
            regions=_by_count(self.regions),
        )


def _by_count(counts: Counter[str]) -> dict[str, int]:
    """``counts`` most common first (ties by name)."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def masked_first_line(message: str) -> str:
    """A rule cluster's template: the message's first line, masked."""
    return mask(message.splitlines()[0])


def select_samples(samples: Iterable[Sample], n: int) -> list[Sample]:
    """``n`` of ``samples``, newest first, whatever their order: first the newest of each severity and masked first
    line, most severe first (an older ERROR is not crowded out by newer warnings), up to half of ``n`` rounded up
    and at most DISTINCT_KEPT; then the newest of the rest (so a cut to two or more shows the newest). Samples of a
    result stored by an older version (no severity): the newest ``n``."""
    newest = sorted(samples, key=_age, reverse=True)
    if len(newest) <= n or any(s.severity is None for s in newest):
        return newest[:n]
    chosen = list(islice(_distinct(newest), min(DISTINCT_KEPT, (n + 1) // 2)))
    taken = {id(s) for s in chosen}
    others = [s for s in newest if id(s) not in taken]
    return sorted(chosen + others[: n - len(chosen)], key=_age, reverse=True)


def _age(sample: Sample) -> tuple:
    """A total order of samples, oldest first (one with no time before any)."""
    return (sample.timestamp or _NO_TIME, sample.message, sample.instance or "", sample.service or "",
            sample.revision or "", sample.severity or 0)


def _distinct(newest: list[Sample]) -> Iterator[Sample]:
    """The newest sample of each severity and masked first line, most severe first (``newest``: newest first)."""
    seen = set()
    for sample in sorted(newest, key=lambda s: s.severity, reverse=True):  # stable: newest first within a severity
        key = (sample.severity, masked_first_line(sample.message))
        if key not in seen:
            seen.add(key)
            yield sample


class _Newest:
    """The ``limit`` largest of the items added (tuples, compared as a whole), trimmed now and then: cheaper
    per item than a heap, and the same items in the end."""

    __slots__ = ("limit", "items")

    def __init__(self, limit: int):
        self.limit = limit
        self.items: list[tuple] = []

    def add(self, item: tuple) -> None:
        self.items.append(item)
        if len(self.items) >= 2 * self.limit:
            self._trim()

    def newest(self) -> list[tuple]:
        """The kept items, largest first."""
        self._trim()
        return self.items[::-1]

    def _trim(self) -> None:
        self.items.sort()
        del self.items[: -self.limit]


PRIORITY_ORDER = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}


def rank(clusters: list[Cluster]) -> tuple[Cluster, ...]:
    """Priority (P0 first; a rule's before a derived one), then count (largest first), then fingerprint."""
    return tuple(sorted(clusters, key=lambda c: (PRIORITY_ORDER[c.priority], c.priority_derived, -c.count, c.fingerprint)))
