"""ScanResult ⇄ plain JSON-able dicts, exactly: ``scan_result_from_dict(scan_result_to_dict(r)) == r``.

This is the persistence format of the state store (every field, every sample and occurrence, the rule with
its five whys), not the documented ``--format json`` report (see :mod:`triage.report`).
Datetimes keep their offset (ISO-8601); severities travel by name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .model import DEFAULT_RESOURCE_TYPE, Cluster, Occurrence, Problem, Rule, Sample, ScanResult, Severity, Why, Window

FORMAT_VERSION = 1


def time_to_text(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat()


def time_from_text(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def scan_result_to_dict(result: ScanResult) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "window": window_to_dict(result.window),
        "sources": list(result.sources),
        "entries_read": result.entries_read,
        "entries_skipped": result.entries_skipped,
        "skipped_examples": [{"location": p.location, "reason": p.reason} for p in result.skipped_examples],
        "entries_in_window": result.entries_in_window,
        "clusters": [cluster_to_dict(c) for c in result.clusters],
        "truncated": result.truncated,
        "scanned_at": time_to_text(result.scanned_at),
        "warnings": list(result.warnings),
        "project": result.project,
        "services": list(result.services),
        "min_severity": result.min_severity.name,
        "entries_span": None if result.entries_span is None else window_to_dict(result.entries_span),
        "resource_type": result.resource_type,
    }


def scan_result_from_dict(data: dict[str, Any]) -> ScanResult:
    return ScanResult(
        window=window_from_dict(data["window"]),
        sources=tuple(data["sources"]),
        entries_read=data["entries_read"],
        entries_skipped=data["entries_skipped"],
        skipped_examples=tuple(Problem(p["location"], p["reason"]) for p in data["skipped_examples"]),
        entries_in_window=data["entries_in_window"],
        clusters=tuple(cluster_from_dict(c) for c in data["clusters"]),
        truncated=data["truncated"],
        scanned_at=time_from_text(data["scanned_at"]),
        warnings=tuple(data["warnings"]),
        project=data.get("project"),
        services=tuple(data.get("services", ())),  # scans stored before these two were kept: the defaults
        min_severity=Severity[data.get("min_severity", "WARNING")],
        entries_span=window_from_dict(data["entries_span"]) if data.get("entries_span") else None,
        resource_type=data.get("resource_type", DEFAULT_RESOURCE_TYPE),  # stored before it was kept: the default
    )


def window_to_dict(window: Window) -> dict[str, str | None]:
    return {"from": time_to_text(window.start), "until": time_to_text(window.end)}


def window_from_dict(data: dict[str, str | None]) -> Window:
    return Window(time_from_text(data["from"]), time_from_text(data["until"]))


def cluster_to_dict(cluster: Cluster) -> dict[str, Any]:
    return {
        "fingerprint": cluster.fingerprint,
        "title": cluster.title,
        "template": cluster.template,
        "severity": cluster.severity.name,
        "count": cluster.count,
        "first_seen": time_to_text(cluster.first_seen),
        "last_seen": time_to_text(cluster.last_seen),
        "services": dict(cluster.services),
        "revisions": dict(cluster.revisions),
        "regions": dict(cluster.regions),
        "samples": [
            [time_to_text(s.timestamp), s.message, s.service, s.instance, s.revision, _severity_name(s.severity)]
            for s in cluster.samples
        ],
        "rule": None if cluster.rule is None else rule_to_dict(cluster.rule),
        "captures": dict(cluster.captures),
        "occurrences": [
            [time_to_text(o.timestamp), o.instance, o.trace, o.revision, o.stream, o.source, o.order,
             _severity_name(o.severity)]
            for o in cluster.occurrences
        ],
        "least_severity": _severity_name(cluster.least_severity),
    }


def cluster_from_dict(data: dict[str, Any]) -> Cluster:
    return Cluster(
        fingerprint=data["fingerprint"],
        title=data["title"],
        template=data["template"],
        severity=Severity[data["severity"]],
        count=data["count"],
        first_seen=time_from_text(data["first_seen"]),
        last_seen=time_from_text(data["last_seen"]),
        services=dict(data["services"]),
        revisions=dict(data["revisions"]),
        samples=tuple(_sample_from_list(*item) for item in data["samples"]),
        rule=None if data["rule"] is None else rule_from_dict(data["rule"]),
        captures=dict(data["captures"]),
        occurrences=tuple(_occurrence_from_list(*item) for item in data["occurrences"]),
        least_severity=_severity(data.get("least_severity")),
        regions=dict(data.get("regions", {})),  # none in a result stored before regions were kept
    )


def _occurrence_from_list(ts: str | None, *rest: Any) -> Occurrence:
    """Results stored before occurrences kept their stream hold four fields, before they kept their source and
    order five, before they kept their severity seven."""
    if len(rest) == 7:
        *rest, severity = rest
        return Occurrence(time_from_text(ts), *rest, _severity(severity))
    return Occurrence(time_from_text(ts), *rest)


def _sample_from_list(ts: str | None, message: str, service: str | None, instance: str | None, revision: str | None,
                      severity: str | None = None) -> Sample:
    """A stored sample; one stored before samples kept their severity has five fields."""
    return Sample(time_from_text(ts), message, service, instance, revision, _severity(severity))


def _severity_name(severity: Severity | None) -> str | None:
    return None if severity is None else severity.name


def _severity(name: str | None) -> Severity | None:
    return Severity[name] if name else None


def rule_to_dict(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "title": rule.title,
        "priority": rule.priority,
        "category": rule.category,
        "match": dict(rule.match),
        "fingerprint": list(rule.fingerprint),
        "five_whys": [{"hypothesis": w.hypothesis, "check": w.check} for w in rule.five_whys],
        "remediation": list(rule.remediation),
        "labels": list(rule.labels),
        "status": rule.status,
        "role": rule.role,
        "examples_match": list(rule.examples_match),
        "examples_no_match": list(rule.examples_no_match),
        "file": rule.file,
        "line": rule.line,
    }


def rule_from_dict(data: dict[str, Any]) -> Rule:
    return Rule(
        id=data["id"],
        title=data["title"],
        priority=data["priority"],
        category=data["category"],
        match=dict(data["match"]),
        fingerprint=tuple(data["fingerprint"]),
        five_whys=tuple(Why(w["hypothesis"], w["check"]) for w in data["five_whys"]),
        remediation=tuple(data["remediation"]),
        labels=tuple(data["labels"]),
        status=data["status"],
        role=data["role"],
        examples_match=tuple(data["examples_match"]),
        examples_no_match=tuple(data["examples_no_match"]),
        file=data["file"],
        line=data["line"],
    )
