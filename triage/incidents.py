"""Link the clusters of one scan into incidents: which failure probably caused the others.

Method. Cluster B is linked to cluster A when at least ``min_share`` of B's timestamped
occurrences are preceded, within ``lag_s`` seconds (equal times count), by an occurrence of A at ERROR or above
on the same instance or in the same trace; an occurrence with neither (as in a text export) stands in
its stream, its service's or else its file's, as on an instance. Occurrences of one place and source with the
same time (a text export's whole seconds) are ordered as their entries were written (see
:func:`_tie_offsets`). Occurrences are sorted once by
instance (and by trace) and time; for each cluster only the windows of ``lag_s`` after its own
occurrences are looked up (binary search), so the cost follows the occurrences that fall in such
windows and memory the pairs that do precede each other: thousands of one-off failures cost neither
all pairs of occurrences nor of clusters.

When both directions of a pair qualify (a crash loop repeats A, B, A, B…), the direction with the
smaller mean gap wins (the import error 0.1 s before "worker failed to boot", not the boot failure
1.9 s before the next import error). Only occurrences at ERROR or above precede (and cover time by chance),
and a link is kept only when its winning source is at ERROR or above: a warning that precedes an error (a
missing optional SDK or a sanitized config value logged at every start) is context, never a cause, and so never
joins failures together, also when its cluster holds an error elsewhere. A link
from a ``role: symptom`` rule to a ``role: cause`` rule is turned around (a request log is stamped
when the request arrives, before the error it ends with). Rules with ``role: noise`` never link.

Each group of links joined through their clusters is an incident: two links through a cluster join when it is
the cause end of both (the end :func:`_rank` puts first), else only when they share a place or overlap in time. So
a symptom of several failures (the 5xx request logs of every service) glues nothing together: deadlocks on one
service and payment errors on another hours later, each answered 5xx, are two incidents, each holding the 5xx
cluster (which the rest of the tool counts in the first, see :func:`incidents_by_cluster`). Its root is the earliest
cluster in causal order at ERROR or above, preferring rules with ``role: cause`` and avoiding ``role: symptom``.
Causal order is topological along the links; ties (and cycles) are broken by
first seen, then fingerprint. The result depends only on the set of clusters, not their order.

Chance. A cluster that fires constantly on an instance precedes whatever else happens there. So the
share that qualifies a link is raised above chance: if A's occurrences, each followed by ``lag_s``
seconds, cover a fraction c of the time B's instance was seen (from its first occurrence of any cluster to its
last, plus ``lag_s``: not the whole scan, which other services' failures stretch), A would precede about c of B's
occurrences at random, and the link needs a share of at least ``max(min_share, c + (1 - c) * LIFT)``. And the
link must beat chance in one of two ways: so many hits are unlikely (at most :data:`CHANCE_LEVEL` for B's
occurrences, each preceded with probability c: a binomial tail), or B follows A much sooner than a chance hit
would (a mean gap at most :data:`TIGHTER` of the gap expected when B falls at random in A's windows). A heartbeat
error every 2 s covers all of the time: an unrelated failure follows it at every one of its occurrences, but no
sooner than chance would have it, so it links nothing; a crash loop's "worker failed to boot" 0.1 s after each
import error links however often the loop turns. A B seen fewer than :data:`MIN_TESTED` times is too rare to
test: one or two hits beat no chance (their binomial tail is c or c², small whenever A is rare on the clock, though
a test sweep puts all its failures in the same few seconds; one gap below half the chance gap comes a time in four).
So it links only when A stopped with it on B's instances: A quiet for ``lag_s`` after B's last occurrence there, and
at most one turn later (a container exit 1.9 s after the last boot failure of a loop), not when A goes on after it
or around it (a one-off 405 amid the errors of a sweep).

An incident's instances and revisions are those of the occurrences its links rest on (the hits, and the
occurrence of the source before each), not every occurrence of its clusters.

Limits: precedence is correlation. Two unrelated failures interleaved on the same instances within
``lag_s`` still link when both are rare; a burst that covers all the time an instance is seen links nothing;
causes of one shared symptom at the same time on different instances make one incident; only
the occurrences kept per cluster (the newest 2000) are compared; a stream holds all of a service's
instances, where chance covers more of the time than on one instance; entries without an instance, a
trace, a service and a file (results stored by an older version) cannot link.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Hashable, Iterable, Mapping, Sequence

import numpy as np

from .model import Cluster, Occurrence, Severity
from .redact import cluster_secrets, redact_with

SHORT_TITLE = 40
LIFT = 0.5  # a link must close at least half the distance between chance and certainty
CHANCE_LEVEL = 0.05  # the largest probability that chance alone gives the hits of a link
MIN_TESTED = 5  # a target with fewer timestamped occurrences is judged by its share alone: too few to test
TIGHTER = 0.5  # or: the largest mean gap of a link, as a share of the mean gap of hits by chance
TIE_SPAN_S = 5e-7  # what orders occurrences with the same time: below the microsecond of times (see _tie_offsets)
_SLACK_S = 1e-3  # a window looks this much further, so that rounding never hides an occurrence at lag_s


@dataclass(frozen=True, slots=True)
class Incident:
    """A connected group of clusters with a probable root cause."""

    id: str
    root: str  # fingerprint of the probable root cause
    clusters: tuple[str, ...]  # fingerprints in causal order
    instances: tuple[str, ...]
    revisions: tuple[str, ...]
    first_seen: datetime | None
    last_seen: datetime | None
    summary: str


@dataclass(frozen=True, slots=True)
class _Link:
    source: int
    target: int
    share: float
    mean_gap: float
    instances: frozenset[str]  # of the occurrences it rests on (see :class:`_Precedence`)
    revisions: frozenset[str]
    places: frozenset[Hashable]  # their places (see :func:`_place`)
    first_seen: datetime  # the first and last time of those occurrences
    last_seen: datetime


def link_incidents(clusters: Sequence[Cluster], *, lag_s: float = 5.0, min_share: float = 0.6) -> tuple[Incident, ...]:
    """The incidents among ``clusters``, ordered by first seen then id."""
    ordered = sorted(clusters, key=lambda c: c.fingerprint)
    links = _oriented_links(ordered, lag_s, min_share)
    incidents = [_incident(ordered, group) for group in _components(ordered, links)]
    return tuple(sorted(incidents, key=lambda i: (_time_key(i.first_seen), i.id)))


def incident_for(fingerprint: str, incidents: Iterable[Incident]) -> Incident | None:
    """The incident holding this cluster, if any."""
    return next((incident for incident in incidents if fingerprint in incident.clusters), None)


def short_title(cluster: Cluster, width: int = SHORT_TITLE) -> str:
    """The cluster's title on one line, secrets redacted (also those found in its samples), cut to ``width``; a rule
    cluster's captures (``(reason=No JWT)``), which tell apart the clusters of one rule, are kept, and the rule's
    title cut instead, while a dozen characters of it remain."""
    secrets = cluster_secrets(cluster)
    title = redact_with(" ".join(redact_with(cluster.title, secrets).split()), secrets)
    if len(title) <= width:
        return title
    head, opening, captured = title.rpartition(" (")
    if cluster.rule is not None and cluster.captures and opening and captured.endswith(")") and "=" in captured:
        kept = opening + captured
        if len(kept) <= width - 12:
            return head[: width - len(kept) - 1].rstrip() + "…" + kept
    return title[: width - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class _Precedence:
    """How often ``source`` precedes ``target``: ``hits`` target occurrences with a source occurrence at most
    ``lag_s`` before them on the same instance or trace, ``gap_sum`` the sum of those (smallest) gaps, and
    ``expected`` the share of the target's occurrences the source would precede by chance (see
    :meth:`_Layout.coverage`), ``chance_gap`` the mean gap of such chance hits; ``instances``, ``revisions``,
    ``places`` and the ``first`` and ``last`` times of the hits and of the source occurrence nearest before each."""

    hits: int
    gap_sum: float
    expected: float
    chance_gap: float
    instances: frozenset[str]
    revisions: frozenset[str]
    places: frozenset[Hashable]
    first: datetime
    last: datetime


def _precedence(
    clusters: Sequence[Cluster], lag_s: float
) -> tuple[dict[tuple[int, int], _Precedence], dict[tuple[int, int], _Precedence], np.ndarray]:
    """The pairs of clusters of which one precedes the other at least once: by any occurrence, and by an occurrence
    at ERROR or above; and ``totals[B]``: B's timestamped occurrences. Noise clusters take no part."""
    size = len(clusters)
    times: list[float] = []
    stamps: list[datetime] = []
    owners: list[int] = []
    places: list[Hashable | None] = []
    sources: list[Hashable | None] = []  # (place, source) of an occurrence whose order in its source is known
    orders: list[int] = []
    traces: list[str | None] = []
    names: dict[Hashable, int] = {}  # instance and revision names and places, by code
    instances: list[int] = []
    revisions: list[int] = []
    loud: list[bool] = []  # may precede: at ERROR or above
    for index, cluster in enumerate(clusters):
        if _role(cluster) == "noise":
            continue
        for occurrence in cluster.occurrences:
            if occurrence.timestamp is not None:
                times.append(occurrence.timestamp.timestamp())
                stamps.append(occurrence.timestamp)
                owners.append(index)
                loud.append((cluster.severity if occurrence.severity is None else occurrence.severity) >= Severity.ERROR)
                place = _place(occurrence)
                places.append(place)
                known = place is not None and occurrence.source is not None and occurrence.order is not None
                sources.append((place, occurrence.source) if known else None)
                orders.append(occurrence.order if known else 0)
                traces.append(occurrence.trace or None)
                instance, revision = occurrence.instance, occurrence.revision
                instances.append(names.setdefault(instance, len(names)) if instance else -1)
                revisions.append(names.setdefault(revision, len(names)) if revision else -1)
    owner = np.array(owners, dtype=np.int64)
    totals = np.bincount(owner, minlength=size)
    if not times:
        return {}, {}, totals
    t = np.array(times) - min(times)
    offsets = _tie_offsets(t, sources, np.array(orders, dtype=np.int64))
    codes = [np.array(found, dtype=np.int64) for found in (
        instances, revisions, [-1 if place is None else names.setdefault(place, len(names)) for place in places])]
    occurrences_of = _Positions(owner)

    def pairs_from(preceding: np.ndarray, sources: np.ndarray) -> dict[tuple[int, int], _Precedence]:
        """The pairs of these ``sources``, when only the ``preceding`` occurrences precede."""
        layouts = [_Layout(t, offsets, owner, preceding, places, lag_s), _Layout(t, np.zeros(t.size), owner, preceding, traces, lag_s)]
        compared = _Compared(owner, layouts, codes, list(names))
        by_place = compared.layouts[0]
        pairs: dict[tuple[int, int], _Precedence] = {}
        for source in sources:
            occurrence, gap, before = compared.nearest_after(int(source))
            if not occurrence.size:
                continue
            where = compared.where(occurrence, before)
            targets, compact = np.unique(owner[occurrence], return_inverse=True)
            firsts, lasts = _spans(t, np.concatenate((occurrence, before)), np.concatenate((compact, compact)), targets.size)
            hits = np.bincount(compact)
            gap_sums = np.bincount(compact, weights=gap)
            coverage, chance_gap = by_place.coverage(int(source)), by_place.chance_gap(int(source))
            theirs = [occurrences_of[target] for target in targets.tolist()]  # each ascending: summed in order
            chances = np.bincount(
                np.repeat(np.arange(targets.size), [len(t) for t in theirs]),
                weights=by_place.chance(coverage, np.concatenate(theirs)), minlength=targets.size,
            )
            for target, n, gap_sum, chance, first, last in zip(
                targets.tolist(), hits.tolist(), gap_sums.tolist(), chances.tolist(), firsts.tolist(), lasts.tolist()
            ):
                pairs[(int(source), target)] = _Precedence(
                    n, gap_sum, chance / max(int(totals[target]), 1), chance_gap,
                    *where.get(target, (frozenset(), frozenset(), frozenset())), stamps[first], stamps[last],
                )
        return pairs

    every = pairs_from(np.ones(t.size, dtype=bool), np.unique(owner))
    louder = np.array(loud, dtype=bool)
    if louder.all():
        return every, every, totals
    mixed = np.unique(owner[~louder])  # the sources with an occurrence below ERROR: the others precede alike
    unchanged = set(np.unique(owner).tolist()) - set(mixed.tolist())
    loud_pairs = {pair: found for pair, found in every.items() if pair[0] in unchanged}
    loud_pairs.update(pairs_from(louder, mixed))
    return every, loud_pairs, totals


def _spans(t: np.ndarray, rows: np.ndarray, groups: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Of each of ``size`` groups (numbered from 0, each holding some of ``rows``): its row of the earliest time in
    ``t`` and its row of the latest."""
    order = np.lexsort((t[rows], groups))
    starts = np.searchsorted(groups[order], np.arange(size))
    ends = np.append(starts[1:], rows.size) - 1
    return rows[order[starts]], rows[order[ends]]


def _tie_offsets(t: np.ndarray, sources: list[Hashable | None], orders: np.ndarray) -> np.ndarray:
    """Offsets (each below :data:`TIE_SPAN_S`) that order the occurrences of one place and source stamped with the
    same time (a text export's whole seconds) as their entries were written: by their ``orders`` in their source
    (its lines, read backwards in a source read newest first). Occurrences with the same order (entries of one
    line), of different sources or with no known order (``sources`` None: stored by an older version) keep their
    tie: each then counts as before the other."""
    codes: dict[Hashable, int] = {}
    group = np.array([-1 if key is None else codes.setdefault(key, len(codes)) for key in sources], dtype=np.int64)
    offsets = np.zeros(t.size)
    known = np.flatnonzero(group >= 0)
    if known.size < 2:
        return offsets
    group, t, orders = group[known], t[known], orders[known]
    by_time = np.lexsort((orders, t, group))
    group, t, orders = group[by_time], t[by_time], orders[by_time]
    same_tie = (group[1:] == group[:-1]) & (t[1:] == t[:-1])
    starts = np.flatnonzero(np.concatenate(([True], ~same_tie)))  # the first of each run of equal (place, source, time)
    lengths = np.diff(np.append(starts, group.size))
    rank = np.cumsum(np.concatenate(([0], (orders[1:] != orders[:-1]) & same_tie)).astype(np.int64))
    rank -= np.repeat(rank[starts], lengths)  # from 0 in each run
    span = np.maximum.reduceat(rank, starts) + 1  # the distinct orders of each run
    offsets[known[by_time]] = rank / np.repeat(span, lengths) * TIE_SPAN_S
    return offsets


def _place(occurrence: Occurrence) -> Hashable | None:
    """The stream an occurrence is compared in besides its trace: its instance; without an instance or a trace
    (a text export), its service's or source's."""
    if occurrence.instance:
        return ("instance", occurrence.instance)
    return ("stream", occurrence.stream) if occurrence.stream and not occurrence.trace else None


@dataclass(frozen=True)
class _Compared:
    """The timestamped occurrences compared (rows): the cluster of each, their layouts by place and by trace, and
    the instance, revision and place of each (``codes``, three arrays of codes into ``names``; -1: none)."""

    owner: np.ndarray
    layouts: list["_Layout"]
    codes: list[np.ndarray]
    names: list[Hashable]

    def nearest_after(self, source: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The other clusters' occurrences (ascending) with a ``source`` occurrence at most ``lag_s`` before them in
        some layout, the smallest such gap of each, and that ``source`` occurrence."""
        found = [layout.gaps_from(source) for layout in self.layouts]
        occurrence, gap, before = (np.concatenate([part[k] for part in found]) for k in range(3))
        order = np.lexsort((gap, occurrence))
        occurrence, gap, before = occurrence[order], gap[order], before[order]
        first = np.ones(occurrence.size, dtype=bool)
        first[1:] = occurrence[1:] != occurrence[:-1]
        first &= self.owner[occurrence] != source
        return occurrence[first], gap[first], before[first]

    def where(self, hits: np.ndarray, before: np.ndarray) -> dict[int, tuple[frozenset, frozenset, frozenset]]:
        """By the cluster of each of ``hits``: the instances, revisions and places of its hits and of the occurrences
        ``before`` them (one pass for all the clusters a source precedes)."""
        targets = np.concatenate((self.owner[hits], self.owner[hits]))
        rows = np.concatenate((hits, before))
        found: dict[int, tuple[set, set, set]] = defaultdict(lambda: (set(), set(), set()))
        width = len(self.names) + 1
        for kind, codes in enumerate(self.codes):
            for key in np.unique(targets * width + codes[rows] + 1).tolist():
                target, code = divmod(key, width)
                if code:
                    found[target][kind].add(self.names[code - 1])
        return {target: tuple(map(frozenset, sets)) for target, sets in found.items()}


class _Positions:
    """The positions of each value in an array of small integers, ascending."""

    def __init__(self, values: np.ndarray) -> None:
        self.order = np.argsort(values, kind="stable")
        self.bounds = np.searchsorted(values[self.order], np.arange(int(values.max(initial=-1)) + 2))

    def __getitem__(self, value: int) -> np.ndarray:
        if value + 1 >= self.bounds.size:
            return self.order[:0]
        return self.order[self.bounds[value] : self.bounds[value + 1]]


class _Layout:
    """Occurrences sorted once by (instance or trace, time); each group is shifted far past the previous one
    on one time axis, so that a window of ``lag_s`` after an occurrence never reaches into another group.
    ``offsets`` order occurrences with the same time (see :func:`_tie_offsets`); gaps are measured without them.
    Windows open after the ``preceding`` occurrences only (those at ERROR or above)."""

    def __init__(
        self, t: np.ndarray, offsets: np.ndarray, owner: np.ndarray, preceding: np.ndarray, keys: list[Hashable | None],
        lag_s: float,
    ) -> None:
        numbers: dict[Hashable, int] = {}
        group = np.array([-1 if key is None else numbers.setdefault(key, len(numbers)) for key in keys], dtype=np.int64)
        self.group_of = group  # per occurrence (-1: none)
        self.rows = np.flatnonzero(group >= 0)
        spacing = float(t.max()) + 2 * lag_s + 1
        # rounding never reverses the offsets' order; on an axis too long for them (thousands of places over
        # days) they vanish, and the ties they would order stay ties
        shifted = t[self.rows] + offsets[self.rows] + group[self.rows] * spacing
        order = np.argsort(shifted, kind="stable")
        self.rows, self.shifted = self.rows[order], shifted[order]
        self.times = t[self.rows]
        self.owner = owner[self.rows]
        self.group = group[self.rows]
        self.groups = int(group.max()) + 1 if self.rows.size else 0
        self.spans = self._observed(lag_s)  # per group: the time against which chance is measured
        self.lag_s = lag_s
        self.preceding_of = _Positions(np.where(preceding[self.rows], self.owner, -1))  # by cluster: where windows open

    def _observed(self, lag_s: float) -> np.ndarray:
        """Per group: the time it was seen, from its first occurrence of any cluster to its last, plus ``lag_s``
        (a short-lived instance is not measured against the whole scan)."""
        if not self.rows.size:
            return np.zeros(0)
        starts = np.searchsorted(self.group, np.arange(self.groups))
        return np.maximum.reduceat(self.times, starts) - np.minimum.reduceat(self.times, starts) + lag_s

    def coverage(self, source: int) -> np.ndarray:
        """Per group: the share of the time it was seen (see :meth:`_observed`) that lies within ``lag_s`` after some
        ``source`` occurrence in it, i.e. the chance that ``source`` precedes an occurrence there at random."""
        covered, groups = self._covered(source)
        if not covered.size:
            return np.zeros(self.groups)
        return np.minimum(np.bincount(groups, weights=covered, minlength=self.groups) / self.spans, 1.0)

    def chance_gap(self, source: int) -> float:
        """The mean gap since the latest ``source`` occurrence of a time drawn at random within its windows: over
        each stretch of length L that a window covers, L / 2, weighted by L."""
        covered, _ = self._covered(source)
        return float((covered**2).sum() / (2 * covered.sum())) if covered.size else 0.0

    def _covered(self, source: int) -> tuple[np.ndarray, np.ndarray]:
        """The stretches of time after each ``source`` occurrence that its window covers before the next one (the
        union of [t, t + lag] over its occurrences), and the group of each."""
        mine = self.preceding_of[source]
        times, groups = self.shifted[mine], self.group[mine]  # sorted; groups lie far apart on the axis
        if not times.size:
            return times, groups
        return np.append(np.minimum(np.diff(times), self.lag_s), self.lag_s), groups

    def chance(self, coverage: np.ndarray, occurrences: np.ndarray) -> np.ndarray:
        """Per occurrence: the coverage of its group (0 without one)."""
        groups = self.group_of[occurrences]
        return np.where(groups >= 0, coverage[np.maximum(groups, 0)] if coverage.size else 0.0, 0.0)

    def gaps_from(self, source: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The occurrences at most ``lag_s`` after a ``source`` occurrence in their group (equal times count, unless
        their offsets order them), the seconds since the latest one, and that one: only the windows after
        ``source``'s preceding occurrences are looked at."""
        own = self.preceding_of[source]
        mine = self.shifted[own]
        if not mine.size:
            return self.rows[:0], self.shifted[:0], self.rows[:0]
        starts = np.searchsorted(self.shifted, mine, side="left")
        ends = np.searchsorted(self.shifted, mine + (self.lag_s + _SLACK_S), side="right")
        starts = np.maximum(starts, np.concatenate(([0], ends[:-1])))  # ends ascend: drop what a window before covers
        lengths = np.maximum(ends - starts, 0)
        positions = np.arange(int(lengths.sum())) + np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
        latest = np.searchsorted(mine, self.shifted[positions], side="right") - 1
        gap = self.times[positions] - self.times[own[latest]]
        near = gap <= self.lag_s
        return self.rows[positions[near]], gap[near], self.rows[own[latest[near]]]


def _oriented_links(clusters: Sequence[Cluster], lag_s: float, min_share: float) -> list[_Link]:
    """The links kept: the direction of a pair is decided on all occurrences (a warning at every start that
    precedes an error in the same second wins that pair, and so links nothing); a link the clock orients must also
    qualify on the source's occurrences at ERROR or above alone, and rests on those."""
    every, loud, totals = _precedence(clusters, lag_s)
    qualified = _qualified(clusters, every, totals, lag_s, min_share)
    qualified_loud = qualified if loud is every else _qualified(clusters, loud, totals, lag_s, min_share)
    links = []
    for (source, target), link in sorted(qualified.items()):
        reverse = qualified.get((target, source))
        if reverse is not None and _strength(reverse, clusters) < _strength(link, clusters):
            continue
        if _role(clusters[source]) == "symptom" and _role(clusters[target]) == "cause":
            link = replace(link, source=target, target=source)  # the rule pack knows better than the clock
        elif (source, target) in qualified_loud:
            link = qualified_loud[(source, target)]
        else:
            continue  # it rests on warnings of the source
        if clusters[link.source].severity >= Severity.ERROR:
            links.append(link)
    return links


def _qualified(
    clusters: Sequence[Cluster], pairs: Mapping[tuple[int, int], _Precedence], totals: np.ndarray, lag_s: float,
    min_share: float,
) -> dict[tuple[int, int], _Link]:
    """The pairs whose precedence beats ``min_share`` and chance (see the module's docstring), as links."""
    qualified: dict[tuple[int, int], _Link] = {}
    for (source, target), found in pairs.items():
        share = found.hits / totals[target]
        chance = found.expected
        mean_gap = found.gap_sum / found.hits
        if share >= max(min_share, chance + (1 - chance) * LIFT) and (
            _ends_with(clusters[source], clusters[target], lag_s) if totals[target] < MIN_TESTED
            else binomial_upper_tail(found.hits, int(totals[target]), chance) <= CHANCE_LEVEL
            or mean_gap <= TIGHTER * found.chance_gap
        ):
            qualified[(source, target)] = _Link(
                source, target, float(share), float(mean_gap), found.instances, found.revisions, found.places, found.first,
                found.last
            )
    return qualified


def _ends_with(source: Cluster, target: Cluster, lag_s: float) -> bool:
    """Whether ``source`` stopped with ``target`` on each instance where ``target`` happened: none within
    ``lag_s`` after ``target``'s last there, and at most one later (a crash loop ends with the container's
    exit, or is cut one turn later; a heartbeat error, or a burst of failures, goes on after whatever happens
    amid it). Instances are places (:func:`_place`); the occurrences in none count as one."""
    last: dict[Hashable | None, datetime] = {}
    for occurrence in target.occurrences:
        if occurrence.timestamp is not None:
            key = _place(occurrence)
            last[key] = max(last.get(key, occurrence.timestamp), occurrence.timestamp)
    after: dict[Hashable | None, int] = defaultdict(int)
    for occurrence in source.occurrences:
        key = _place(occurrence)
        if occurrence.timestamp is not None and key in last and occurrence.timestamp > last[key]:
            after[key] += 1 if (occurrence.timestamp - last[key]).total_seconds() > lag_s else 2
    return bool(last) and all(count <= 1 for count in after.values())


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """``P[X ≥ k]`` for ``X ~ Binomial(n, p)``, its terms computed in log space (``math.lgamma``)."""
    if k <= 0 or p >= 1:
        return 1.0
    if p <= 0 or k > n:
        return 0.0
    log_p, log_q, log_n = math.log(p), math.log1p(-p), math.lgamma(n + 1)
    return min(1.0, sum(
        math.exp(log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q) for i in range(k, n + 1)
    ))


def _role(cluster: Cluster) -> str | None:
    return cluster.rule.role if cluster.rule else None


def _strength(link: _Link, clusters: Sequence[Cluster]) -> tuple:
    """Smaller is the more plausible direction: shorter mean gap, higher share, earlier source."""
    source = clusters[link.source]
    return (link.mean_gap, -link.share, _time_key(source.first_seen), source.fingerprint)


def _components(clusters: Sequence[Cluster], links: list[_Link]) -> list[list[_Link]]:
    """The links of each incident: two links through one cluster join when it is the cause end of both (see
    :func:`_cause_end`), or when they share a place or overlap in time; so a cluster that is a symptom of several
    failures (the 5xx answers of every service) does not glue together causes that meet nowhere else."""
    parent = list(range(len(links)))

    def find(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    def join(first: int, second: int) -> None:
        a, b = find(first), find(second)
        parent[max(a, b)] = min(a, b)

    through: dict[int, list[int]] = defaultdict(list)  # cluster → the links through it
    for number, link in enumerate(links):
        through[link.source].append(number)
        through[link.target].append(number)
    for node, numbers in through.items():
        causes = [number for number in numbers if _cause_end(links[number], clusters) == node]
        for first, second in zip(causes, causes[1:]):
            join(first, second)
        for first in set(numbers) - set(causes):
            for second in numbers:
                if second != first and _meet(links[first], links[second]):
                    join(first, second)
    groups: dict[int, list[_Link]] = defaultdict(list)
    for number, link in enumerate(links):
        groups[find(number)].append(link)
    return list(groups.values())


def _cause_end(link: _Link, clusters: Sequence[Cluster]) -> int:
    """The end of a link that would rather be the root (see :func:`_rank`): its source, unless its target ranks
    before it (the error a request log stamped at its arrival ends with)."""
    return link.target if _rank(clusters[link.target]) < _rank(clusters[link.source]) else link.source


def _meet(a: _Link, b: _Link) -> bool:
    """Whether two links rest on occurrences in a common place, or over overlapping times."""
    return bool(a.places & b.places) or (a.first_seen <= b.last_seen and b.first_seen <= a.last_seen)


def _causal_order(clusters: Sequence[Cluster], members: list[int], links: list[_Link]) -> list[int]:
    """Topological along the links; ready nodes (and cycle breaks) by first seen, then fingerprint."""
    inside = set(members)
    successors: dict[int, list[int]] = defaultdict(list)
    indegree = {node: 0 for node in members}
    for link in links:
        if link.source in inside:
            successors[link.source].append(link.target)
            indegree[link.target] += 1

    def key(node: int) -> tuple:
        return (_time_key(clusters[node].first_seen), clusters[node].fingerprint, node)

    ready = [key(node) for node in members if indegree[node] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    placed: set[int] = set()
    while len(order) < len(members):
        if not ready:  # a cycle: start from its earliest member
            heapq.heappush(ready, min(key(node) for node in members if node not in placed))
        node = heapq.heappop(ready)[-1]
        if node in placed:
            continue
        placed.add(node)
        order.append(node)
        for target in successors[node]:
            indegree[target] -= 1
            if indegree[target] == 0 and target not in placed:
                heapq.heappush(ready, key(target))
    return order


_ROLE_RANK = {"cause": 0, None: 1, "symptom": 2, "noise": 3}


def _rank(cluster: Cluster) -> tuple[bool, int]:
    """Smaller is the likelier root: at ERROR or above, then ``role: cause``, no role, ``role: symptom``."""
    return (cluster.severity < Severity.ERROR, _ROLE_RANK.get(_role(cluster), 1))


def _root(clusters: Sequence[Cluster], order: list[int]) -> int:
    return order[min(range(len(order)), key=lambda position: (*_rank(clusters[order[position]]), position))]


def _incident(clusters: Sequence[Cluster], links: list[_Link]) -> Incident:
    """The incident of these ``links``' clusters; its instances and revisions are those of the occurrences its links
    rest on, its time span that of its clusters' occurrences in the places of those (a cluster's other occurrences,
    elsewhere, may have nothing to do with it: a stray 404 of last week on another service)."""
    members = sorted({node for link in links for node in (link.source, link.target)})
    order = _causal_order(clusters, members, links)
    root = clusters[_root(clusters, order)]
    chain = [clusters[node] for node in order]
    places = frozenset().union(*(link.places for link in links))
    times = [o.timestamp for c in chain for o in c.occurrences if o.timestamp is not None and _place(o) in places]
    times += [moment for link in links for moment in (link.first_seen, link.last_seen)]  # linked by trace alone, too
    first_seen, last_seen = min(times), max(times)
    instances = frozenset().union(*(link.instances for link in links))
    revisions = frozenset().union(*(link.revisions for link in links))
    return Incident(
        id=incident_id(root.fingerprint, first_seen),
        root=root.fingerprint,
        clusters=tuple(c.fingerprint for c in chain),
        instances=tuple(sorted(instances)),
        revisions=tuple(sorted(revisions)),
        first_seen=first_seen,
        last_seen=last_seen,
        summary=" → ".join(f"{short_title(c)} ({c.count})" for c in chain),
    )


def incident_id(root: str, first_seen: datetime | None) -> str:
    """``inc-`` and 10 hex digits of a hash of the root fingerprint and the incident's first time."""
    stamp = first_seen.isoformat() if first_seen else "-"
    return "inc-" + hashlib.sha256(f"{root}|{stamp}".encode()).hexdigest()[:10]


def _time_key(ts: datetime | None) -> float:
    return ts.timestamp() if ts is not None else float("inf")


def incident_priority(incident: Incident, clusters: Mapping[str, Cluster]) -> str:
    """The most urgent priority among the incident's clusters (a P0 symptom makes a P0 incident)."""
    return min(clusters[fp].priority for fp in incident.clusters if fp in clusters)


def incidents_by_cluster(incidents: Iterable[Incident]) -> Mapping[str, str]:
    """fingerprint → incident id, for every cluster in an incident; a symptom of several, the first (as
    :func:`incident_for`)."""
    found: dict[str, str] = {}
    for incident in incidents:
        for fp in incident.clusters:
            found.setdefault(fp, incident.id)
    return found
