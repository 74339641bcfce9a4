"""Put a scan in context: link its clusters into incidents, annotate each cluster with its status, spike test
and linked issue against the earlier scans in the state store, and record it there."""

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


def assess(result: ScanResult, state_dir: Path | None, *, history: bool = True) -> ScanReport:
    """Link incidents; with ``history``, annotate the clusters against the scans recorded in ``state_dir``."""
    incidents = link_incidents(result.clusters)
    if not history:
        return ScanReport(result, incidents)
    with StateStore.in_dir(state_dir) as store:
        context = annotate(store, result, incidents=incidents)
    return ScanReport(result, incidents, context)


def record(result: ScanResult, state_dir: Path | None, keep: timedelta) -> int:
    """Store the scan in ``state_dir``, prune the scans recorded more than ``keep`` ago; return its id."""
    with StateStore.in_dir(state_dir) as store:
        scan_id = store.record_scan(result)
        store.prune(keep)
    return scan_id
