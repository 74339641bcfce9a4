"""Frozen dataclasses passed between the pipeline stages.

source → :class:`Entry` → rules/clustering → :class:`Cluster` → :class:`ScanResult` → reports, drafts, sinks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any, Mapping


class Severity(IntEnum):
    """Cloud Logging severities with their numeric values (ordering matters)."""

    DEFAULT = 0
    DEBUG = 100
    INFO = 200
    NOTICE = 300
    WARNING = 400
    ERROR = 500
    CRITICAL = 600
    ALERT = 700
    EMERGENCY = 800

    @classmethod
    def parse(cls, text: str) -> "Severity":
        """Parse a level name (case-insensitive; WARN, FATAL, ERR accepted); raise ValueError if unknown."""
        name = text.strip().upper()
        name = _SEVERITY_ALIASES.get(name, name)
        try:
            return cls[name]
        except KeyError:
            raise ValueError(f"unknown severity {text!r}") from None


_SEVERITY_ALIASES = {
    "WARN": "WARNING", "ERR": "ERROR", "FATAL": "CRITICAL", "CRIT": "CRITICAL", "TRACE": "DEBUG", "EMERG": "EMERGENCY",
}

PRIORITIES = ("P0", "P1", "P2", "P3")
DEFAULT_RESOURCE_TYPE = "cloud_run_revision"  # what a live pull selects, and Logs Explorer links, unless told


@dataclass(frozen=True, slots=True)
class Entry:
    """One normalized log entry, whatever source and shape it came from."""

    timestamp: datetime | None  # UTC-aware; None when the input carried no usable time
    severity: Severity  # the entry's own, or inferred from the text when DEFAULT/absent
    message: str  # never empty; ANSI codes and loguru markup stripped
    service: str | None = None
    revision: str | None = None
    region: str | None = None  # the Cloud Run region (resource.labels.location)
    instance: str | None = None
    log_name: str | None = None
    trace: str | None = None
    http_status: int | None = None
    latency_s: float | None = None
    severity_inferred: bool = False
    location: str = ""  # "file:line" (or "gcp:PROJECT#n") for error messages
    insert_id: str | None = None
    project: str | None = None  # the Google Cloud project (resource.labels.project_id)
    source: str = ""  # the file (or "gcp:PROJECT") the entry was read from
    # its line in that file (or its number among the entries fetched): what orders entries stamped with the same
    # time, as a text export's whole seconds are
    position: int | None = None
    raw: Any = field(default=None, compare=False, repr=False)  # the LogEntry as read (dict) or the text line


@dataclass(frozen=True, slots=True)
class Problem:
    """An input record that was skipped, with where and why; ``cut`` when its source ends there, cut short (a
    truncated array, a compressed stream that breaks off): what the source held after it is missing."""

    location: str
    reason: str
    cut: bool = False


@dataclass(frozen=True, slots=True)
class Why:
    """One level of a rule's five whys: a hypothesis and how to check it."""

    hypothesis: str
    check: str


@dataclass(frozen=True, slots=True)
class Rule:
    """A known failure from the rule pack. Matching lives in :mod:`triage.rules`."""

    id: str
    title: str
    priority: str  # one of PRIORITIES
    category: str
    match: Mapping[str, Any]
    fingerprint: tuple[str, ...] = ()
    five_whys: tuple[Why, ...] = ()
    remediation: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    status: str = "experimental"  # experimental | stable | deprecated
    role: str | None = None  # cause | symptom | noise (incident linking hint)
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()
    file: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class Sample:
    """A real message kept as evidence for a cluster."""

    timestamp: datetime | None
    message: str
    service: str | None
    instance: str | None
    revision: str | None = None
    severity: Severity | None = None  # None when not known (a result stored by an older version)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """When and where one event of a cluster happened (used to link clusters into incidents)."""

    timestamp: datetime | None
    instance: str | None
    trace: str | None
    revision: str | None = None
    stream: str | None = None  # the entry's service, else its source: where it is compared without instance and trace
    source: str | None = None  # the file (``<stdin>``, ``gcp:PROJECT``) its entry was read from
    # its entry's place in that source's time order: the entry's position, negated in a source read newest first
    # (what orders occurrences stamped with the same time, see incidents)
    order: int | None = None
    severity: Severity | None = None  # its entry's (None: stored by an older version; its cluster's then stands in)


@dataclass(frozen=True, slots=True)
class Cluster:
    """A recurring failure: every event of one rule hit (per fingerprint fields) or one mined template."""

    fingerprint: str
    title: str
    template: str
    severity: Severity  # the highest seen
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    services: Mapping[str, int]
    revisions: Mapping[str, int]
    samples: tuple[Sample, ...]
    rule: Rule | None = None
    captures: Mapping[str, str] = field(default_factory=dict)
    occurrences: tuple[Occurrence, ...] = ()
    least_severity: Severity | None = None  # the lowest seen; None when not known (a result stored by an older version)
    regions: Mapping[str, int] = field(default_factory=dict)  # Cloud Run regions (empty in a result stored before them)

    @property
    def rule_id(self) -> str | None:
        return self.rule.id if self.rule else None

    @property
    def priority(self) -> str:
        """The rule's priority; for a cluster no rule knows, one derived from its severity."""
        return self.rule.priority if self.rule else derived_priority(self.severity)

    @property
    def priority_derived(self) -> bool:
        """True when :attr:`priority` comes from the severity, not from a rule."""
        return self.rule is None


def derived_priority(severity: Severity) -> str:
    """Priority of an unknown failure: CRITICAL and above P1, ERROR P2, anything lower P3."""
    if severity >= Severity.CRITICAL:
        return "P1"
    return "P2" if severity >= Severity.ERROR else "P3"


@dataclass(frozen=True, slots=True)
class Window:
    """The scan's half-open time window ``[start, end)``; an open bound is None."""

    start: datetime | None
    end: datetime | None

    def contains(self, ts: datetime | None) -> bool:
        """``start <= ts < end``: consecutive windows never share an event. An unknown time only fits an open window."""
        if ts is None:
            return self.start is None and self.end is None
        return (self.start is None or ts >= self.start) and (self.end is None or ts < self.end)


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Everything one scan found, ready to report, persist, draft or file."""

    window: Window
    sources: tuple[str, ...]
    entries_read: int
    entries_skipped: int
    skipped_examples: tuple[Problem, ...]
    entries_in_window: int
    clusters: tuple[Cluster, ...]  # ranked: priority (P0 first; a rule's before a derived one), then count
    truncated: bool = False
    scanned_at: datetime | None = None
    warnings: tuple[str, ...] = ()
    project: str | None = None  # the Google Cloud project of the failures, when they all name the same one
    services: tuple[str, ...] = ()  # the --service filter (empty: every service)
    min_severity: Severity = Severity.WARNING  # the severity floor
    entries_span: Window | None = None  # the first and last time of the entries in the window (None: none had one)
    resource_type: str | None = DEFAULT_RESOURCE_TYPE  # what a live pull selected (None: any); Logs Explorer links too

    def failure_span(self) -> tuple[datetime | None, datetime | None]:
        """When the first and the last failure of the scan happened (None, None without failures)."""
        firsts = [c.first_seen for c in self.clusters if c.first_seen is not None]
        lasts = [c.last_seen for c in self.clusters if c.last_seen is not None]
        return min(firsts, default=None), max(lasts, default=None)
