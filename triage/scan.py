"""The scan: sources → entries → stitching → window and scope → rules → clustering → ranked ScanResult."""

from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Iterator, Mapping

from . import clustering
from .entries import EMPTY_MESSAGE, parse_timestamp, resource_type_of, service_of, strip_log_prefix, to_entry
from .grouping import Accumulator, masked_first_line, rank
from .model import DEFAULT_RESOURCE_TYPE, Cluster, Entry, Problem, ScanResult, Severity, Window
from .redact import cluster_secrets, redact_with
from .rules import RuleSet
from .sources import Record, Truncated, distinct_files, gcp_project, source_name
from .sieve import Sieve
from .stitch import Stitcher
from .window import format_time

PROBLEMS_KEPT = 5
# Entry counts of a file that look like `gcloud logging read --limit=N` (newest first): the failures before its
# oldest entry are not in it, and nothing in the file says so
LIMIT_LIKE = frozenset((10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10_000, 20_000, 50_000, 100_000))
# Placeholders a title may show the value of: counts, codes and durations; never ids, hex, e-mails, addresses, times
# or quoted text (a single event's title would show a token or a client's address that masking had hidden).
_SHOWN_VALUE = re.compile(r"<(?:NUM|DURATION|\*)>")
_HIDDEN_VALUE = re.compile(r"<(?!(?:NUM|DURATION|\*)>)[A-Z]+>")


@dataclass(frozen=True)
class ScanOptions:
    """What to scan and how to scope it."""

    sources: tuple[str, ...]
    window: Window = Window(None, None)
    services: tuple[str, ...] = ()
    min_severity: Severity = Severity.WARNING


@dataclass
class _Counters:
    read: int = 0
    skipped: int = 0
    in_window: int = 0
    duplicates: int = 0
    timeless: int = 0  # failures a bounded window left out because they carry no readable time
    textless: int = 0  # failures whose entry was exported without its message (see _WHOLE_ENTRY_KEYS)
    problems: list[Problem] = field(default_factory=list)
    truncations: list[str] = field(default_factory=list)
    cuts: list[Problem] = field(default_factory=list)  # sources that end cut short (also counted as skipped)
    outside: tuple[datetime, datetime] | None = None  # the first and last time of the entries the window left out
    inside: tuple[datetime, datetime] | None = None  # the first and last time of the entries in the window

    def skip(self, problem: Problem) -> None:
        self.skipped += 1
        if problem.cut:
            self.cuts.append(problem)
        if len(self.problems) < PROBLEMS_KEPT:
            self.problems.append(problem)

    def left_out(self, timestamp: datetime) -> None:
        """An entry at ``timestamp`` fell outside the window."""
        if self.outside is None:
            self.outside = (timestamp, timestamp)
        elif not self.outside[0] <= timestamp <= self.outside[1]:
            self.outside = (min(self.outside[0], timestamp), max(self.outside[1], timestamp))

    def add(self, later: "_Counters") -> None:
        """Count in what a pass over a later part of the same source counted."""
        self.read += later.read
        self.skipped += later.skipped
        self.problems = (self.problems + later.problems)[:PROBLEMS_KEPT]
        self.in_window += later.in_window
        self.duplicates += later.duplicates
        self.timeless += later.timeless
        self.textless += later.textless
        self.truncations += later.truncations
        self.cuts += later.cuts
        if later.outside is not None:
            self.left_out(later.outside[0])
            self.left_out(later.outside[1])
        if later.inside is not None:
            self.inside = later.inside if self.inside is None else (
                min(self.inside[0], later.inside[0]), max(self.inside[1], later.inside[1]))


class _Scope:
    """The window and --service filter; counts what they admit and, with --service, the entries of each service in
    and outside the window (to explain a --service that matched nothing, or left out entries naming none)."""

    def __init__(self, options: ScanOptions, counters: _Counters):
        self.window = options.window
        self.bounded = not options.window.contains(None)  # an open window holds every time, also none
        self.services = set(options.services)
        self.counters = counters
        self.in_window_services: Counter[str] = Counter()  # "" for entries without a service name
        self.outside_services: Counter[str] = Counter()

    def admits(self, timestamp: datetime | None, service: str | None) -> bool:
        if self.bounded and not self.window.contains(timestamp):
            if timestamp is not None:
                self.counters.left_out(timestamp)
            if self.services:
                self.outside_services[service or ""] += 1
            return False
        if self.services:
            self.in_window_services[service or ""] += 1
            if service not in self.services:
                return False
        counters = self.counters
        counters.in_window += 1
        if timestamp is not None:
            inside = counters.inside
            if inside is None:
                counters.inside = (timestamp, timestamp)
            elif timestamp < inside[0]:  # each record of a sorted export moves one end (no min/max calls)
                counters.inside = (timestamp, inside[1])
            elif timestamp > inside[1]:
                counters.inside = (inside[0], timestamp)
        return True

    def left_out_for_time(self, entry: Entry) -> bool:
        """Whether ``entry`` is out of scope only because it has no time and the window is bounded."""
        return entry.timestamp is None and self.bounded and (
            not self.services or entry.service in self.services
        )


def _reading_order(spec: str) -> str:
    """A source's place in the reading order: its absolute path (./b.json is b.json), or the spec of stdin or a pull."""
    return spec if spec == "-" or gcp_project(spec) is not None else os.path.abspath(spec)


def scan(
    options: ScanOptions,
    rules: RuleSet,
    open_source: Callable[[str], Iterator[Record | Problem | Truncated]],
    *,
    split_files: bool = False,
) -> ScanResult:
    """Run one scan. ``open_source(spec)`` streams the records of one ``--source`` value. With ``split_files``, a
    large NDJSON file or pretty-printed JSON array given alone is read on two cores instead (see
    :mod:`triage.split`), with the same result. A file given twice is read once (with a warning), and the result's
    sources name it once. Sources are read in the order of their absolute paths (see :func:`_reading_order`), so
    the result does not depend on the order they are given in."""
    sources, repeated = distinct_files(options.sources)
    options = replace(options, sources=sources)
    found = Pass(options, rules)
    limit_like = []
    newest_first: dict[str, bool] = {}  # by source: read newest first (its direction, see triage.stitch)
    # by path: which copy of an entry overlapping sources hold is kept (and with it its source's order of entries
    # stamped with the same second) does not depend on the order the sources were given in
    for spec in sorted(options.sources, key=_reading_order):
        stitcher = Stitcher()
        before = found.counters.read + found.counters.skipped
        alone = split_files and len(options.sources) == 1 and gcp_project(spec) is None
        if not (alone and _split(spec, found, stitcher)):
            found.feed(open_source(spec), stitcher)
        found.close(stitcher)
        ascending, descending, _ = stitcher.direction
        newest_first[source_name(spec)] = descending > ascending
        entries = found.counters.read + found.counters.skipped - before
        if entries in LIMIT_LIKE and gcp_project(spec) is None:
            limit_like.append(
                f"{'standard input' if spec == '-' else spec} holds exactly {entries} entries: if it was exported with"
                f" `gcloud logging read --limit={entries}`, it is cut (gcloud reads newest first) and failures before its"
                " oldest entry are missing"
            )
    counters, failures = found.counters, found.failures
    projects = failures.projects | {project for project in map(gcp_project, options.sources) if project}  # read, quiet or not
    kinds = failures.resource_types  # None for a failure whose entry does not say
    return ScanResult(
        window=options.window,
        sources=options.sources,
        entries_read=counters.read,
        entries_skipped=counters.skipped,
        skipped_examples=tuple(counters.problems),
        entries_in_window=counters.in_window,
        clusters=rank(failures.clusters(newest_first)),
        truncated=bool(counters.truncations),
        scanned_at=datetime.now(timezone.utc),
        project=next(iter(projects)) if len(projects) == 1 else None,
        # of files, what their failures came from (Logs Explorer links): one type, else any; the default when none
        # says (a live pull says its own)
        resource_type=DEFAULT_RESOURCE_TYPE if kinds <= {None} else next(iter(kinds)) if len(kinds) == 1 else None,
        services=options.services,
        min_severity=options.min_severity,
        entries_span=None if counters.inside is None else Window(*counters.inside),
        warnings=(
            repeated + tuple(rules.timeouts) + tuple(counters.truncations) + tuple(limit_like)
            + tuple(f"{cut.location}: {cut.reason} (the source is cut short: whatever followed is not in this report)"
                    for cut in counters.cuts)
            + _notes(counters, options, found.scope)
        ),
    )


def _split(spec: str, found: "Pass", stitcher: Stitcher) -> bool:
    from .split import scan_file  # multiprocessing and ctypes: imported only for a file given alone

    return scan_file(spec, found, stitcher)


@dataclass(frozen=True)
class Findings:
    """What a :class:`Pass` found, to hand to another process."""

    counters: _Counters
    in_window_services: Counter[str]
    outside_services: Counter[str]
    by_rule: dict[tuple, Accumulator]
    hits: dict[tuple, tuple]
    by_signature: dict[str, Accumulator]
    projects: set[str]
    resource_types: set[str | None]
    timeouts: dict[str, str]


class Pass:
    """A scan's findings so far, and the loop that takes the records of a source into them."""

    def __init__(self, options: ScanOptions, rules: RuleSet):
        self.options = options
        self.rules = rules
        self.counters = _Counters()
        self.scope = _Scope(options, self.counters)
        self.sieve = Sieve(options.min_severity, rules)
        # Several sources may overlap (exports of overlapping windows, the same entries in two files): their
        # failures with an insertId are counted once. The ids of failures are kept for that, so only when there is
        # more than one source (a file given twice is one: see distinct_files).
        self.failures = _Failures(rules, options.min_severity, self.counters, dedupe=len(options.sources) > 1)

    def feed(
        self, records: Iterable[Record | Problem | Truncated], stitcher: Stitcher, until: int | None = None
    ) -> Record | None:
        """Take ``records`` through the sieve, ``stitcher``, scope and rules into the findings. With ``until``,
        stop before the first record of a line numbered ``until`` or more at which ``stitcher`` has nothing
        pending, and return that record; else return None at the end."""
        counters, scope, sieve, failures = self.counters, self.scope, self.sieve, self.failures
        line = None
        for record in records:
            if not isinstance(record, Record):
                if isinstance(record, Problem):
                    counters.skip(record)
                else:
                    counters.truncations.append(f"{record.location}: {record.reason}")
                continue
            if record.number != line:
                line = record.number
                if until is not None and line >= until and not stitcher.pending:
                    return record
            counters.read += 1
            data = record.data
            if not sieve.quiet(data):
                ready = stitcher.feed(to_entry(data, record.location, record.source, record.number))
            else:  # only counted; stitching still takes note of it
                timestamp = parse_timestamp(data.get("timestamp"))
                scope.admits(timestamp, service_of(data) if scope.services else None)
                ready = stitcher.skip(timestamp, data)
                if not ready:
                    continue
            failures.take(ready, scope)
        return None

    def fresh(self) -> "Pass":
        """A pass of the same scan that has found nothing yet."""
        return Pass(self.options, self.rules)

    def close(self, stitcher: Stitcher) -> None:
        """The end of a source: take what ``stitcher`` still holds."""
        self.failures.take(stitcher.close(), self.scope)

    def findings(self) -> Findings:
        failures = self.failures
        return Findings(
            self.counters, self.scope.in_window_services, self.scope.outside_services, dict(failures.by_rule), failures.hits,
            dict(failures.by_signature), failures.projects, failures.resource_types, self.rules.timeouts_by_rule(),
        )

    def take(self, found: Findings) -> None:
        """Add what a pass over the rest of the same source found (after what this one found)."""
        self.counters.add(found.counters)
        self.scope.in_window_services.update(found.in_window_services)
        self.scope.outside_services.update(found.outside_services)
        failures = self.failures
        for key, acc in found.by_rule.items():
            failures.by_rule[key].merge(acc)
            failures.hits.setdefault(key, found.hits[key])
        for sig, acc in found.by_signature.items():
            failures.by_signature[sig].merge(acc)
        failures.projects |= found.projects
        failures.resource_types |= found.resource_types
        self.rules.take_timeouts(found.timeouts)


class _Failures:
    """Entries at or above the floor (or wanted by a rule on requests), grouped by rule hit or by signature."""

    def __init__(self, rules: RuleSet, floor: Severity, counters: _Counters, *, dedupe: bool):
        self.rules = rules
        self.floor = floor
        self.counters = counters
        self.by_rule: dict[tuple, Accumulator] = defaultdict(Accumulator)
        self.hits: dict[tuple, tuple] = {}
        self.by_signature: dict[str, Accumulator] = defaultdict(Accumulator)
        self.projects: set[str] = set()
        self.resource_types: set[str | None] = set()  # of the failures' entries (see entries.resource_type_of)
        self.kept_ids: set[tuple[str, datetime | None]] | None = set() if dedupe else None

    def take(self, entries: list[Entry], scope: _Scope) -> None:
        for entry in entries:
            if scope.admits(entry.timestamp, entry.service):
                self.add(entry)
            elif scope.left_out_for_time(entry) and self.wants(entry):
                self.counters.timeless += 1

    def wants(self, entry: Entry) -> bool:
        """At or above the floor, or wanted by a rule on requests."""
        return entry.severity >= self.floor or self.rules.needs_below_floor(entry)

    def add(self, entry: Entry) -> None:
        if not self.wants(entry):
            return
        if self.kept_ids is not None and entry.insert_id is not None:
            key = (entry.insert_id, entry.timestamp)
            if key in self.kept_ids:  # overlapping exports, or one export copied into two files
                self.counters.duplicates += 1
                return
            self.kept_ids.add(key)
        if entry.project:
            self.projects.add(entry.project)
        if entry.message == EMPTY_MESSAGE and isinstance(entry.raw, dict) and not entry.raw.keys() & _WHOLE_ENTRY_KEYS:
            self.counters.textless += 1
        self.resource_types.add(resource_type_of(entry.raw) if isinstance(entry.raw, dict) else None)
        hit = self.rules.match(entry)
        if hit is not None:
            fields = tuple(hit.captures.get(name, "") for name in hit.rule.fingerprint)
            key = (hit.rule.id, fields)
            self.by_rule[key].add(entry)
            if key not in self.hits:
                self.hits[key] = (hit.rule, dict(zip(hit.rule.fingerprint, fields)))
        else:
            self.by_signature[clustering.signature(entry.message)].add(entry)

    def clusters(self, newest_first: Mapping[str, bool]) -> list[Cluster]:
        """The clusters found; ``newest_first`` tells the sources read newest first."""
        return _rule_clusters(self.by_rule, self.hits, newest_first) + _mined_clusters(self.by_signature, newest_first)


# A LogEntry exported whole names its log and keeps its message in one of the others: an entry with none of these
# was exported in part (the columns of a gcloud table or value format).
_WHOLE_ENTRY_KEYS = frozenset(("logName", "textPayload", "jsonPayload", "protoPayload", "httpRequest"))


def _notes(counters: "_Counters", options: ScanOptions, scope: _Scope) -> tuple[str, ...]:
    """Warnings that explain a surprising result: failures a window left out for want of a time, duplicates
    dropped, a --service that matched nothing or left out entries that name no service."""
    notes = []
    if counters.in_window == 0 and not scope.in_window_services and counters.outside is not None:
        first, last = format_time(counters.outside[0]), format_time(_next_second(counters.outside[1]))
        notes.append(f"the window holds none of the entries read: their times run from {first} to before {last}")
    if counters.timeless:
        notes.append(
            f"left out {counters.timeless} failure {_entries(counters.timeless)} with no readable time (a window "
            "needs one); scan without --since/--from/--until to see them"
        )
    if counters.duplicates:
        notes.append(
            f"dropped {counters.duplicates} duplicate {_entries(counters.duplicates)} (same insertId and time, e.g. "
            "overlapping exports)"
        )
    unmatched = [name for name in options.services if not scope.in_window_services[name]]
    for name in unmatched:
        if scope.outside_services[name]:
            outside = scope.outside_services[name]
            notes.append(f"--service {name}: none of its {outside} {_entries(outside)} falls in the window")
    unseen = [name for name in unmatched if not scope.outside_services[name]]
    unnamed = scope.in_window_services[""]  # in the window and left out: a --service names some service
    if unseen and counters.read:
        others = Counter({name: n for name, n in scope.in_window_services.items() if name and name not in scope.services})
        seen = ", ".join(f"{name} ({n})" for name, n in others.most_common(8)) or "none"
        outside = Counter({name: n for name, n in scope.outside_services.items() if name and name not in scope.services})
        if not others and outside:
            seen = "none in the window (outside it: " + ", ".join(f"{name} ({n})" for name, n in outside.most_common(8)) + ")"
        notes.append(
            f"--service {', '.join(unseen)} matched no entry; services seen: {seen}"
            + (f"; {unnamed} entries carry no service name (a text export?)" if unnamed else "")
        )
    elif unnamed:
        notes.append(
            f"--service left out {unnamed} {_entries(unnamed)} with no service name (a text export, or a resource other"
            " than a Cloud Run service or job, names none)"
        )
    if counters.textless:
        notes.append(
            f"{counters.textless} failure {_entries(counters.textless)} {'carries' if counters.textless == 1 else 'carry'}"
            " no message at all: the export left it out"
            " (a gcloud table or value format shows only the columns it names, and a structured log keeps its text"
            " in jsonPayload.message); export with --format=json, or name jsonPayload.message among the columns"
        )
    return tuple(notes)


def _next_second(timestamp: datetime) -> datetime:
    """The first whole second after ``timestamp``: an exclusive end (--until) that still holds it."""
    return timestamp.replace(microsecond=0) + timedelta(seconds=1)


def _entries(count: int) -> str:
    return "entry" if count == 1 else "entries"


def _rule_clusters(
    by_rule: dict[tuple, Accumulator], hits: dict[tuple, tuple], newest_first: Mapping[str, bool]
) -> list[Cluster]:
    clusters = []
    for key, acc in by_rule.items():
        rule, captures = hits[key]
        fields = [f"{name}={value}" for name, value in captures.items()]
        fingerprint = clustering.fingerprint("rule", rule.id, *fields)
        shown = [field for field, value in zip(fields, captures.values()) if value]  # not "(host=)"
        title = rule.title + (f" ({', '.join(shown)})" if shown else "")
        template = masked_first_line(acc.most_severe_message())
        clusters.append(acc.to_cluster(fingerprint, title, template, rule, captures, newest_first))
    return clusters


def _mined_clusters(by_signature: dict[str, Accumulator], newest_first: Mapping[str, bool]) -> list[Cluster]:
    templates = clustering.mine({sig: acc.count for sig, acc in by_signature.items()})
    merged: dict[str, tuple[clustering.Template, Accumulator]] = {}
    for sig in sorted(by_signature):
        template = templates[sig]
        if template.fingerprint in merged:
            merged[template.fingerprint][1].merge(by_signature[sig])
        else:
            acc = Accumulator()
            acc.merge(by_signature[sig])
            merged[template.fingerprint] = (template, acc)
    clusters = []
    for fp, (template, acc) in merged.items():
        cluster = acc.to_cluster(fp, "", template.text, newest_first=newest_first)
        clusters.append(replace(cluster, title=_title(template.text, cluster)))
    return clusters


def _title(template: str, cluster: Cluster, width: int = 100) -> str:
    """The template's first line without its logging prefix, redacted and cut to ``width`` (at a word's end, unless
    that loses more than half of it: not mid-name, as in ``base.py:g…``); a count, code or
    duration placeholder shows its value when the samples hold every event of the cluster and all show the same
    value there (``→ 403 Forbidden``); ids, hex, addresses and quoted text stay placeholders. A secret found
    anywhere in the samples or the template is masked in the title and in the sample lines the values come from,
    also where it stands without its context: it is never filled back in."""
    secrets = cluster_secrets(replace(cluster, template=template))
    first = strip_log_prefix(template.strip().splitlines()[0]) if template.strip() else template
    first = redact_with(first, secrets)  # before cutting: a cut secret hides
    if cluster.count <= len(cluster.samples):
        lines = [redact_with(strip_log_prefix(s.message.strip().split("\n", 1)[0]), secrets) for s in cluster.samples]
        first = _fill_common_values(first, lines)
    if len(first) <= width:
        return first
    cut = first[: width - 1]
    end = cut.rfind(" ")
    return (cut[:end].rstrip(" <|,;:-") if end >= width // 2 else cut) + "…"


def _fill_common_values(template: str, lines: list[str]) -> str:
    """Replace each placeholder token of ``template`` that shows a count, code or duration by the word every line
    has at that position, if any. Only when every line is the template's own text: the same words where the
    template has no placeholder (a traceback's template, made of its frames, is not its first line)."""
    tokens = template.split(" ")
    rows = [line.split() for line in lines]
    if not rows or any(len(row) != len(tokens) for row in rows):
        return template
    if any(row[i] != token for row in rows for i, token in enumerate(tokens) if "<" not in token):
        return template
    return " ".join(
        rows[0][i]
        if _SHOWN_VALUE.search(token) and not _HIDDEN_VALUE.search(token) and all(row[i] == rows[0][i] for row in rows)
        else token
        for i, token in enumerate(tokens)
    )
