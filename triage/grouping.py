"""Accumulate events into clusters: counts, first/last seen, services, samples and occurrences.

What is kept never depends on arrival order: samples are the newest few by (time, message), and
occurrences the newest ones by time, so shuffled input gives the same clusters.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Mapping

from .model import Cluster, Entry, Occurrence, Rule, Sample, Severity

SAMPLES_KEPT = 10
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
        # sequence number only ever decides between events identical in every kept field.
        self._samples = _Newest(SAMPLES_KEPT)
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
        self._samples.add(
            (key, message, instance or "", service or "", revision or "", self._seq, (ts, message, service, instance, revision))
        )
        trace, stream = entry.trace, service or entry.source or None
        self._occurrences.add(
            (key, instance or "", trace or "", revision or "", stream or "", self._seq,
             (ts, instance, trace, revision, stream))
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
        for mine, theirs in ((self._samples, other._samples), (self._occurrences, other._occurrences)):
            for item in theirs.newest():
                self._seq += 1
                mine.add((*item[:-2], self._seq, item[-1]))

    def newest_message(self) -> str:
        return self._samples.newest()[0][1]

    def to_cluster(
        self, fingerprint: str, title: str, template: str, rule: Rule | None = None, captures: Mapping[str, str] | None = None
    ) -> Cluster:
        samples = tuple(Sample(*item[-1]) for item in self._samples.newest())
        occurrences = tuple(Occurrence(*item[-1]) for item in reversed(self._occurrences.newest()))
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
