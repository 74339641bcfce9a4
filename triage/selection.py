"""Which clusters of a scan `triage draft` and `triage issue file` act on, and the context each is drafted in.

Keys name clusters by fingerprint prefix, or incidents by id (``inc-…``, or a unique prefix of one); no keys
means every cluster. An incident is drafted and filed once, on its root cause: without
``include_symptoms`` a symptom gives way to its incident's root (a symptom named by its fingerprint says so
in a note; symptoms taken in by ``--all`` or ``--min-priority`` are counted in one note). So a symptom at or
above ``--min-priority`` brings in its root even when the root ranks lower. Naming an incident selects its
root, or its whole chain with ``include_symptoms``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .drafts import TITLE_STATUS, DraftContext, at_or_above
from .errors import TriageError
from .history import annotate
from .incidents import Incident, incident_for
from .model import Cluster, ScanResult
from .state import StateStore

INCIDENT_PREFIX = "inc-"
CANDIDATES_SHOWN = 5


@dataclass(frozen=True, slots=True)
class Selection:
    clusters: tuple[Cluster, ...]  # to draft or file, each once, in the order named (else rank order)
    notes: tuple[str, ...] = ()  # one line each, for stderr
    folded: tuple[tuple[Cluster, Cluster], ...] = ()  # (symptom, its root cause) for each symptom given way


def select(
    result: ScanResult,
    incidents: Sequence[Incident],
    keys: Sequence[str] = (),
    *,
    floor: str | None = None,
    include_symptoms: bool = False,
) -> Selection:
    """The clusters named by ``keys`` (else all of them) at or above ``floor``, symptoms folded into their root."""
    by_fp = {c.fingerprint: c for c in result.clusters}
    candidates: list[tuple[Cluster, bool]] = []  # (cluster, named by its own fingerprint)
    for key in keys:
        found = resolve_key(key, result, incidents)
        if isinstance(found, Incident):
            candidates += [(by_fp[fp], False) for fp in found.clusters if fp in by_fp]
        else:
            candidates.append((found, True))
    if not keys:
        candidates = [(c, False) for c in result.clusters]
    chosen: dict[str, Cluster] = {}
    notes: list[str] = []
    folded: set[str] = set()
    folded_into: set[str] = set()
    gave_way: dict[str, tuple[Cluster, Cluster]] = {}
    for cluster, named in candidates:
        if floor is not None and not at_or_above(cluster, floor):
            continue
        incident = None if include_symptoms else incident_for(cluster.fingerprint, incidents)
        if incident is not None and incident.root != cluster.fingerprint and incident.root in by_fp:
            if named:
                notes.append(
                    f"Note: {cluster.fingerprint[:12]} is a symptom of incident {incident.id}: using its root cause"
                    f" {incident.root[:12]} instead (--include-symptoms selects the symptom itself)"
                )
            elif not keys:
                folded.add(cluster.fingerprint)
                folded_into.add(incident.id)
            gave_way.setdefault(cluster.fingerprint, (cluster, by_fp[incident.root]))
            cluster = by_fp[incident.root]
        chosen.setdefault(cluster.fingerprint, cluster)
    if folded:
        notes.append(
            f"Note: {len(folded)} symptom cluster(s) folded into {len(folded_into)} incident(s), each handled on its"
            " root cause (--include-symptoms includes them)"
        )
    return Selection(tuple(chosen.values()), tuple(notes), tuple(gave_way.values()))


def resolve_key(key: str, result: ScanResult, incidents: Sequence[Incident]) -> Cluster | Incident:
    """The incident (key ``inc-…``) or the cluster (fingerprint prefix) ``key`` names uniquely."""
    wanted = key.strip().lower()
    if not wanted.startswith(INCIDENT_PREFIX):
        return resolve_fingerprint(key, result)
    ids = [incident.id for incident in incidents]
    found = [incident for incident in incidents if incident.id.startswith(wanted)]
    if len(found) == 1:
        return found[0]
    if found:
        raise TriageError(f"incident id {key!r} is ambiguous: {_listing([i.id for i in found])}")
    known = f"its incidents are {_listing(ids)}" if ids else "it has none"
    raise TriageError(f"no incident of the last scan has an id starting with {key!r}: {known}")


def resolve_fingerprint(prefix: str, result: ScanResult) -> Cluster:
    """The cluster of ``result`` whose fingerprint starts with ``prefix`` (unique, like a git hash)."""
    wanted = prefix.strip().lower()
    if not wanted:
        raise TriageError("empty fingerprint")
    found = [c for c in result.clusters if c.fingerprint.lower().startswith(wanted)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise TriageError(f"no cluster of the last scan has a fingerprint starting with {prefix!r}")
    raise TriageError(f"fingerprint {prefix!r} is ambiguous: {_listing([c.fingerprint[:12] for c in found])}")


def draft_contexts(
    store: StateStore, scan_id: int, result: ScanResult, incidents: Sequence[Incident], project: str | None
) -> dict[str, DraftContext]:
    """Per fingerprint: the draft context with the history-aware status and the cluster's incident chain."""
    annotated = annotate(store, result, scan_id, incidents=incidents)
    by_fp = {c.fingerprint: c for c in result.clusters}
    contexts = {}
    for fp, context in annotated.items():
        incident = incident_for(fp, incidents)
        chain = tuple(by_fp[member] for member in incident.clusters if member in by_fp) if incident else ()
        contexts[fp] = DraftContext(
            result.window, TITLE_STATUS[context.status], project, incident, chain, result.truncated, result.resource_type
        )
    return contexts


def _listing(names: Sequence[str]) -> str:
    more = f" and {len(names) - CANDIDATES_SHOWN} more" if len(names) > CANDIDATES_SHOWN else ""
    return ", ".join(names[:CANDIDATES_SHOWN]) + more
