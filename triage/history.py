"""What earlier scans say about this one: status, spikes, incidents, linked issues; and history buckets.

Status of a cluster in a scan, against the scans recorded before it:

- ``regressed``: its linked issue is closed; or it recurs (below), was absent from every scan that looked at
  the 24 hours before its first event here (at least one such scan), and it is back;
- ``recurring``: an earlier scan saw it happen before this scan first saw it;
- ``new``: nothing recorded saw it before its first event here. Status goes by event time, not by the order
  scans were recorded: a rescan of the same window (or an overlapping ``--since 1h`` a few minutes later) sees a
  failure that began in it as new still, and a scan of an older export recorded after a newer one sees what
  began in it as new. A new cluster has no baseline.

Covered hours of a scan: its window; an open start (a whole file read) falls back to the first
failure it saw, an open end to the scan time when the start was given and Cloud Logging was read (a pull runs up
to now), else to the last failure (a file ends where it ends). A scan cut short (a pull cut by ``--max-entries``
keeps the newest entries, a cut file the oldest) covers the span of the entries it kept in its window, and gives no
baseline. A span shorter than :data:`MIN_COVERED` (every failure at the same instant, a 0.5 s window) counts as
that long, for the rate of a scan and the baselines alike: one event at one instant is 60 per hour.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Sequence, TypeVar

from .incidents import Incident, incidents_by_cluster, link_incidents
from .model import Cluster, ScanResult, Severity, Window
from .redact import redact
from .spikes import Baseline, detect_spikes
from .serialize import time_from_text
from .sources import is_live
from .state import ClusterRow, LinkedIssue, ScanInfo, StateStore
from .window import format_time, iso_z

T = TypeVar("T")  # a value compared by :func:`_extreme`

QUIET_BEFORE_REGRESSION = timedelta(hours=24)
MIN_COVERED = timedelta(minutes=1)  # the shortest span a rate is taken over
HOURLY_UP_TO = timedelta(hours=48)  # longer spans are bucketed by day
SPARK_LEVELS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True, slots=True)
class ClusterContext:
    """A cluster of one scan seen against the earlier ones."""

    status: str  # new | recurring | regressed
    spike: bool
    rate: float | None  # events per hour in this scan
    baseline_rate: float | None  # events per hour over the earlier scans; None for a new cluster
    incident: str | None  # incident id
    issue: str | None  # linked issue URL


def annotate(
    store: StateStore, result: ScanResult, scan_id: int | None = None, *, incidents: Sequence[Incident] | None = None
) -> dict[str, ClusterContext]:
    """Context for every cluster of ``result``, keyed by fingerprint.

    ``scan_id`` is the id under which ``result`` was recorded (None when it was not): only scans
    recorded before it count as history. ``incidents`` defaults to :func:`link_incidents` of the scan.
    """
    at = result.scanned_at or datetime.now(timezone.utc)
    earlier = _earlier_scans(store, at, scan_id)
    fingerprints = [c.fingerprint for c in result.clusters]
    # A failure another project had is new in this one: only scans of this project (or of an unknown one) count.
    same_project = {scan.scan_id for scan in earlier if _same_project(scan, result)}
    seen = _sightings(store, fingerprints, same_project)
    hours, covered = _scan_coverage(store, earlier)
    scopes: dict[tuple, list[ScanInfo]] = defaultdict(list)  # few distinct scopes, many scans
    for scan in earlier:
        scopes[(scan.services, scan.min_severity, scan.project)].append(scan)
    looked: dict[str, list[ScanInfo]] = {}  # fingerprint → the earlier scans whose scope takes its cluster in
    before: dict[str, set[int]] = {}  # fingerprint → the earlier scans that saw it happen before its first event here
    baselines = {}
    for cluster in result.clusters:
        fp = cluster.fingerprint
        looked[fp] = [scan for group in scopes.values() if _takes_in(group[0], cluster, result) for scan in group]
        counts = seen.get(fp, {})
        before[fp] = {scan for scan, (_, first) in counts.items() if _earlier_event(first, cluster.first_seen)}
        # a scan that first saw it within its span here saw these same events (a rescan): no baseline of them
        base = [scan for scan in looked[fp] if not _rescan(counts.get(scan.scan_id), cluster)]
        events = sum(counts[scan.scan_id][0] for scan in base if scan.scan_id in counts and hours[scan.scan_id] > 0)
        if events and before[fp]:
            baselines[fp] = Baseline(events, sum(hours[scan.scan_id] for scan in base))
    firsts = [c.first_seen for c in result.clusters if c.first_seen]
    lasts = [c.last_seen for c in result.clusters if c.last_seen]
    window_hours = covered_hours(
        result.window, at, min(firsts, default=None), max(lasts, default=None),
        live=any(map(is_live, result.sources)), kept=result.entries_span if result.truncated else None,
    )
    spikes = detect_spikes({c.fingerprint: c.count for c in result.clusters}, window_hours, baselines)
    incident_of = incidents_by_cluster(link_incidents(result.clusters) if incidents is None else incidents)
    contexts = {}
    last_seen = {c.fingerprint: c.last_seen for c in result.clusters}
    first_seen = {c.fingerprint: c.first_seen for c in result.clusters}
    for fp in fingerprints:
        issue = store.linked_issue(fp)
        # the scans that looked at the day before its first event here (not one of a later period, such as a newer
        # export scanned first: it says nothing of whether the failure had stopped)
        recent = {
            scan.scan_id for scan in looked[fp]
            if _looked_at_the_day_before(covered[scan.scan_id], scan.scanned_at, first_seen[fp], at)
        }
        if _back_after_closing(issue, last_seen[fp]) or (before[fp] and recent and not recent & seen[fp].keys()):
            status = "regressed"
        else:
            status = "recurring" if before[fp] else "new"
        test = spikes[fp]
        contexts[fp] = ClusterContext(
            status, test.spike, test.rate, test.baseline_rate, incident_of.get(fp), issue.url if issue else None
        )
    return contexts


def _takes_in(scan: ScanInfo, cluster: Cluster, result: ScanResult) -> bool:
    """Whether an earlier ``scan``'s scope takes in ``cluster`` of ``result``: it kept its whole window, its
    --service filter, if any, names one of the cluster's services, its severity floor is no higher than this scan's
    or than every event of the cluster (else it counted only part of a cluster of mixed severities), and it read
    the same project (when both name theirs). A scan of another scope that did not see the cluster says nothing
    about it (no regression, no share of its baseline)."""
    if scan.truncated or (scan.services and not cluster.services.keys() & set(scan.services)):
        return False
    on_requests = cluster.rule is not None and ("http_status" in cluster.rule.match or "latency" in cluster.rule.match)
    least = cluster.least_severity
    if scan.min_severity > result.min_severity and not on_requests and (least is None or least < scan.min_severity):
        return False  # (a rule on request fields keeps its requests whatever the floor)
    return _same_project(scan, result)


def _same_project(scan: ScanInfo, result: ScanResult) -> bool:
    """The earlier ``scan`` read the project ``result`` read, or one of them names none."""
    return scan.project is None or result.project is None or scan.project == result.project


def _back_after_closing(issue: LinkedIssue | None, last_seen: datetime | None) -> bool:
    """Its issue is closed, and the failure happened after the closing (when that time is known)."""
    if issue is None or issue.state != "closed":
        return False
    return issue.closed_at is None or last_seen is None or last_seen > issue.closed_at


def covered_hours(
    window: Window, scanned_at: datetime | None, first: datetime | None, last: datetime | None,
    *, live: bool = False, kept: Window | None = None,
) -> float:
    """Hours a scan covers, at least :data:`MIN_COVERED` (see the module docstring); 0 when unknown. ``kept``: the
    first and last time of the entries a scan cut short kept (a pull cut by --max-entries keeps the newest, a cut file
    the oldest): it covers those."""
    if kept is not None:
        window = Window(max(filter(None, (window.start, kept.start))), min(filter(None, (window.end, kept.end))))
    return _span_hours(covered_span(window, scanned_at, first, last, live=live))


def covered_span(window: Window, scanned_at: datetime | None, first: datetime | None, last: datetime | None,
                 *, live: bool = False) -> Window:
    """The span a scan covers: its window; an open start falls back to its first failure, an open end to the scan
    time for a pull given a start, else to its last failure (see the module docstring). A bound may stay unknown."""
    return Window(window.start or first, window.end or (scanned_at if window.start and live else last))


def _span_hours(span: Window) -> float:
    if span.start is None or span.end is None or span.end < span.start:
        return 0.0
    return max(span.end - span.start, MIN_COVERED).total_seconds() / 3600


def _earlier_scans(store: StateStore, at: datetime, scan_id: int | None) -> list[ScanInfo]:
    scans = store.scans()
    if scan_id is None:
        return [s for s in scans if s.scanned_at <= at]
    this = next((s for s in scans if s.scan_id == scan_id), None)
    if this is None:
        return [s for s in scans if s.scanned_at <= at]
    return [s for s in scans if (s.scanned_at, s.scan_id) < (this.scanned_at, this.scan_id)]


def _sightings(
    store: StateStore, fingerprints: Sequence[str], scan_ids: set[int]
) -> dict[str, dict[int, tuple[int, datetime | None]]]:
    """fingerprint → {earlier scan id: (count, first seen)}, for the given fingerprints."""
    rows = store.db.execute(
        "SELECT fingerprint, scan_id, count, first_seen FROM scan_clusters"
        " WHERE fingerprint IN (SELECT value FROM json_each(?))",
        (json.dumps(list(fingerprints)),),
    )
    seen: dict[str, dict[int, tuple[int, datetime | None]]] = defaultdict(dict)
    for fp, scan, count, first in rows:
        if scan in scan_ids:
            total, earliest = seen[fp].get(scan, (0, None))
            first = time_from_text(first)
            seen[fp][scan] = (total + count, first if earliest is None or (first and first < earliest) else earliest)
    return seen


def _earlier_event(seen_first: datetime | None, first_here: datetime | None) -> bool:
    """Whether an earlier scan that first saw a failure at ``seen_first`` saw it happen before this scan's first
    event of it; without both times, by the order the scans were recorded (yes)."""
    return seen_first is None or first_here is None or seen_first < first_here


def _rescan(sighting: tuple[int, datetime | None] | None, cluster: Cluster) -> bool:
    """Whether an earlier scan's ``sighting`` of ``cluster`` (count, first seen) began within the cluster's span in
    this scan: it saw (some of) the same events."""
    if sighting is None or sighting[1] is None or cluster.first_seen is None or cluster.last_seen is None:
        return False
    return cluster.first_seen <= sighting[1] <= cluster.last_seen


def _scan_coverage(store: StateStore, scans: Iterable[ScanInfo]) -> tuple[dict[int, float], dict[int, Window]]:
    """The hours each scan covers, and the span it covers (see :func:`covered_hours`; a bound may be unknown)."""
    spans = {
        scan: (first, last)
        for scan, first, last in store.db.execute(
            "SELECT scan_id, MIN(first_seen), MAX(last_seen) FROM scan_clusters GROUP BY scan_id"
        )
    }
    hours, covered = {}, {}
    for s in scans:
        first, last = (time_from_text(t) for t in spans.get(s.scan_id, (None, None)))
        covered[s.scan_id] = covered_span(s.window, s.scanned_at, first, last, live=s.live)
        hours[s.scan_id] = _span_hours(covered[s.scan_id])
    return hours, covered


def _looked_at_the_day_before(covered: Window, scanned_at: datetime, first_here: datetime | None, at: datetime) -> bool:
    """Whether a scan that covered ``covered`` looked at some of the day before a failure's first event here (by
    event time; by when it was recorded, within the day before this scan, when a time is unknown)."""
    if first_here is None or covered.start is None or covered.end is None:
        return scanned_at >= at - QUIET_BEFORE_REGRESSION
    return covered.start < first_here and covered.end > first_here - QUIET_BEFORE_REGRESSION


# --- history buckets ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClusterHistory:
    fingerprint: str
    title: str
    rule_id: str | None
    severity: str
    scans: int  # scans it appeared in
    total: int
    first_seen: datetime | None
    last_seen: datetime | None
    counts: tuple[int, ...]  # per bucket


@dataclass(frozen=True, slots=True)
class History:
    since: datetime
    until: datetime
    bucket: str  # hour | day
    buckets: tuple[datetime, ...]  # bucket starts, UTC
    clusters: tuple[ClusterHistory, ...]  # most events first


def bucket_history(
    rows: Sequence[ClusterRow], since: datetime, until: datetime, first_scan: datetime | None = None
) -> History:
    """Per-cluster counts summed over the scans recorded in each hourly (spans up to 48 h) or daily bucket. The
    buckets start at ``since``, or at the bucket of ``first_scan`` (the first scan recorded in the span) when that
    is later: a store holds nothing before it (and ``--since 100w`` would make thousands of empty buckets)."""
    import pandas as pd  # imported here: only `triage history` needs it, and it costs a scan 0.3 s to load

    bucket, freq = ("hour", "h") if until - since <= HOURLY_UP_TO else ("day", "D")
    start = min(max(since, first_scan), until) if first_scan is not None else since
    edges = pd.date_range(pd.Timestamp(start).floor(freq), pd.Timestamp(until).floor(freq), freq=freq)
    starts = tuple(t.to_pydatetime() for t in edges)
    rows = [r for r in rows if since <= r.scanned_at <= until]
    if not rows:
        return History(since, until, bucket, starts, ())
    frame = pd.DataFrame(
        {
            "fingerprint": [r.fingerprint for r in rows],
            "scan_id": [r.scan_id for r in rows],
            "bucket": pd.DatetimeIndex([r.scanned_at for r in rows]).floor(freq),
            "count": [r.count for r in rows],
        }
    )
    table = frame.pivot_table(index="fingerprint", columns="bucket", values="count", aggfunc="sum", fill_value=0)
    table = table.reindex(columns=edges, fill_value=0)
    by_fp = frame.groupby("fingerprint")
    scans, totals = by_fp["scan_id"].nunique(), by_fp["count"].sum()
    shown = _title_rows(rows)
    severest = _extreme(((r.fingerprint, Severity[r.severity]) for r in rows), max)  # over the span, not the newest
    firsts = _extreme(((r.fingerprint, r.first_seen) for r in rows), min)
    lasts = _extreme(((r.fingerprint, r.last_seen) for r in rows), max)
    clusters = [
        ClusterHistory(
            fingerprint=fp,
            title=redact(shown[fp].title),
            rule_id=shown[fp].rule_id,
            severity=severest[fp].name,
            scans=int(scans[fp]),
            total=int(totals[fp]),
            first_seen=firsts.get(fp),
            last_seen=lasts.get(fp),
            counts=tuple(int(n) for n in table.loc[fp]),
        )
        for fp in table.index
    ]
    clusters.sort(key=lambda c: (-c.total, c.fingerprint))
    return History(since, until, bucket, starts, tuple(clusters))


def _title_rows(rows: Sequence[ClusterRow]) -> dict[str, ClusterRow]:
    """Per fingerprint, the row whose title the history shows: that of the scan holding the most of its events
    in the span, the newest of those on a tie (``rows`` come oldest first)."""
    shown: dict[str, ClusterRow] = {}
    for row in rows:
        if row.fingerprint not in shown or row.count >= shown[row.fingerprint].count:
            shown[row.fingerprint] = row
    return shown


def _extreme(pairs: Iterable[tuple[str, T | None]], pick: Callable[[T, T], T]) -> dict[str, T]:
    """Per fingerprint, ``pick`` (min, max) of its values that are not None."""
    found: dict[str, T] = {}
    for fp, ts in pairs:
        if ts is not None:
            found[fp] = pick(found[fp], ts) if fp in found else ts
    return found


def sparkline(counts: Sequence[int]) -> str:
    """One character per bucket: a space for none, then ▁…█ scaled to the largest bucket."""
    top = max(counts, default=0)
    if top <= 0:
        return " " * len(counts)
    levels = len(SPARK_LEVELS)
    return "".join(" " if n <= 0 else SPARK_LEVELS[min(levels, -(-n * levels // top)) - 1] for n in counts)


# --- rendering ----------------------------------------------------------------------------------------------

HISTORY_FORMATS = ("table", "json", "csv")


def history_json_data(history: History) -> dict:
    return {
        "since": iso_z(history.since),
        "until": iso_z(history.until),
        "bucket": history.bucket,
        "buckets": [iso_z(t) for t in history.buckets],
        "clusters": [
            {
                "fingerprint": c.fingerprint,
                "title": c.title,
                "rule": c.rule_id,
                "severity": c.severity,
                "scans": c.scans,
                "total": c.total,
                "first_seen": iso_z(c.first_seen),
                "last_seen": iso_z(c.last_seen),
                "counts": list(c.counts),
            }
            for c in history.clusters
        ],
    }


def render_history(history: History, fmt: str, width: int = 80) -> str:
    if fmt == "json":
        import orjson

        return orjson.dumps(history_json_data(history), option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "csv":
        return _history_csv(history)
    return _history_table(history, width)


def _history_csv(history: History) -> str:
    import csv
    import io

    from .drafts import csv_text  # drafts reads MIN_COVERED from here

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("fingerprint", "bucket", "count", "title"))
    for c in history.clusters:
        for start, count in zip(history.buckets, c.counts):
            writer.writerow((c.fingerprint, iso_z(start), count, csv_text(c.title)))
    return buffer.getvalue()


_ADVERB = {"hour": "hourly", "day": "daily"}
_TABLE_FIXED = 33  # the fingerprint, scans and total columns and the gaps around the trend
_TITLE_MIN = 30


def _history_table(history: History, width: int) -> str:
    """At most ``width`` columns (at least 80): the trend takes one character per bucket, or per group of
    buckets when there are more than fit beside a title of ``_TITLE_MIN`` characters."""
    import io

    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from .drafts import printable

    buffer = io.StringIO()
    width = max(width, 80)
    console = Console(file=buffer, width=width, no_color=True, highlight=False)
    per_char = -(-len(history.buckets) // max(width - _TABLE_FIXED - _TITLE_MIN, 8)) or 1
    grouping = f", {per_char} per trend character" if per_char > 1 else ""
    clusters = len(history.clusters)
    console.print(f"History {format_time(history.since)} → {format_time(history.until)}", markup=False)
    console.print(
        f"{len(history.buckets)} {_ADVERB[history.bucket]} bucket{'s' * (len(history.buckets) != 1)}{grouping}; "
        f"{clusters} cluster{'s' * (clusters != 1)}",
        markup=False,
    )
    if not history.clusters:
        console.print("No scans recorded in this span.", markup=False)
        return buffer.getvalue()
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("FINGERPRINT", no_wrap=True)
    table.add_column("SCANS", justify="right", no_wrap=True)
    table.add_column("TOTAL", justify="right", no_wrap=True)
    table.add_column("TREND", no_wrap=True)
    table.add_column("FAILURE / LAST SEEN", overflow="fold")
    for c in history.clusters:
        newest_first = c.counts[::-1]  # a partial group is the oldest one: the newest character is a whole group
        trend = sparkline([sum(newest_first[i : i + per_char]) for i in range(0, len(c.counts), per_char)][::-1])
        table.add_row(c.fingerprint[:10], str(c.scans), str(c.total), trend, Text(f"{printable(c.title)}\n{format_time(c.last_seen)}"))
    console.print(table)
    return "\n".join(line.rstrip() for line in buffer.getvalue().split("\n"))


