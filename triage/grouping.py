"""Accumulate events into clusters: counts, first/last seen, services, samples and occurrences.

What is kept never depends on arrival order: samples are the newest few by (time, message), and
occurrences the newest ones by time, so shuffled input gives the same clusters.
"""

from __future__ import annotations

import heapq
from collections import Counter
from datetime import datetime, timezone
from typing import Mapping

from .model import Cluster, Entry, Occurrence, Rule, Sample, Severity

SAMPLES_KEPT = 10
OCCURRENCES_KEPT = 2000  # the newest per cluster: enough to link incidents, flat memory on long windows
_NO_TIME = datetime.min.replace(tzinfo=timezone.utc)


class Accumulator:
    """Running totals of one group of events."""

    __slots__ = ("count", "first", "last", "severity", "services", "revisions", "_samples", "_occurrences", "_seq")

    def __init__(self) -> None:
        self.count = 0
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.severity = Severity.DEFAULT
        self.services: Counter[str] = Counter()
        self.revisions: Counter[str] = Counter()
        # heap items: (time, message or instance, tie-breakers…, sequence number, value); the sequence number
        # only ever decides between events identical in every kept field.
        self._samples: list[tuple] = []
        self._occurrences: list[tuple] = []
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
        if entry.service:
            self.services[entry.service] += 1
        if entry.revision:
            self.revisions[entry.revision] += 1
        key = ts or _NO_TIME
        self._seq += 1
        sample = Sample(ts, entry.message, entry.service, entry.instance, entry.revision)
        _keep_newest(self._samples, (key, entry.message, entry.instance or "", entry.service or "", self._seq, sample), SAMPLES_KEPT)
        occurrence = Occurrence(ts, entry.instance, entry.trace, entry.revision)
        _keep_newest(self._occurrences, (key, entry.instance or "", entry.trace or "", self._seq, occurrence), OCCURRENCES_KEPT)

    def merge(self, other: "Accumulator") -> None:
        self.count += other.count
        for ts in (other.first, other.last):
            if ts is not None:
                self.first = ts if self.first is None or ts < self.first else self.first
                self.last = ts if self.last is None or ts > self.last else self.last
        self.severity = max(self.severity, other.severity)
        self.services.update(other.services)
        self.revisions.update(other.revisions)
        for item in other._samples:
            self._seq += 1
            _keep_newest(self._samples, (*item[:4], self._seq, item[-1]), SAMPLES_KEPT)
        for item in other._occurrences:
            self._seq += 1
            _keep_newest(self._occurrences, (*item[:3], self._seq, item[-1]), OCCURRENCES_KEPT)

    def newest_message(self) -> str:
        return max(self._samples, key=lambda item: item[:-2])[1]

    def to_cluster(
        self, fingerprint: str, title: str, template: str, rule: Rule | None = None, captures: Mapping[str, str] | None = None
    ) -> Cluster:
        samples = tuple(item[-1] for item in sorted(self._samples, key=lambda item: item[:-2], reverse=True))
        occurrences = tuple(item[-1] for item in sorted(self._occurrences, key=lambda item: item[:-2]))
        return Cluster(
            fingerprint=fingerprint,
            title=title,
            template=template,
            severity=self.severity,
            count=self.count,
            first_seen=self.first,
            last_seen=self.last,
            services=dict(sorted(self.services.items(), key=lambda kv: (-kv[1], kv[0]))),
            revisions=dict(sorted(self.revisions.items(), key=lambda kv: (-kv[1], kv[0]))),
            samples=samples,
            rule=rule,
            captures=dict(captures or {}),
            occurrences=occurrences,
        )


def _keep_newest(heap: list, item: tuple, limit: int) -> None:
    """Keep the ``limit`` largest items of a min-heap, comparing all but the sequence number and value."""
    if len(heap) < limit:
        heapq.heappush(heap, item)
    elif item[:-2] > heap[0][:-2]:
        heapq.heapreplace(heap, item)


PRIORITY_ORDER = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}


def rank(clusters: list[Cluster]) -> tuple[Cluster, ...]:
    """Priority (P0 first; a rule's before a derived one), then count (largest first), then fingerprint."""
    return tuple(sorted(clusters, key=lambda c: (PRIORITY_ORDER[c.priority], c.priority_derived, -c.count, c.fingerprint)))
