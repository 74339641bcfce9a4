"""Put a scan in context: record it, link its clusters into incidents, and annotate each cluster with its
status, spike test and linked issue against the earlier scans in the state store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Mapping

from .history import ClusterContext, annotate
from .incidents import Incident, link_incidents
from .model import ScanResult
from .state import StateStore


@dataclass(frozen=True)
class ScanReport:
    """A scan with what is known about it beyond its own entries."""

    result: ScanResult
    incidents: tuple[Incident, ...] = ()
    context: Mapping[str, ClusterContext] = field(default_factory=dict)  # empty when no state is kept


def assess(result: ScanResult, state_dir: Path | None, keep: timedelta | None, *, record: bool = True) -> ScanReport:
    """Link incidents; with ``record``, store the scan, annotate it against history and prune old scans."""
    incidents = link_incidents(result.clusters)
    if not record:
        return ScanReport(result, incidents)
    with StateStore.in_dir(state_dir) as store:
        scan_id = store.record_scan(result)
        context = annotate(store, result, scan_id, incidents=incidents)
        if keep is not None:
            store.prune(keep)
    return ScanReport(result, incidents, context)
