"""Spikes: is a cluster's rate in this scan significantly above its baseline from earlier scans?

Method. A cluster's *rate* is its count in this scan divided by the hours the scan covers (at least one
minute, see :func:`triage.history.covered_hours`). Its
*baseline rate* is the sum of its counts over the earlier stored scans divided by the sum of the
hours those scans cover (scans that overlap count twice in both sums, so the ratio stays fair; one that first
saw the cluster between this scan's first and last event of it, a rescan, is left out); a new cluster (no
earlier scan saw it happen before this scan did) has no baseline and is never a spike. Under the baseline, the
count in this scan is Poisson with mean ``λ = baseline_rate × hours``; the p-value is the exact upper tail ``P[X ≥ k | λ]``,
summed term by term from ``k`` in log space (no normal approximation). The
p-values of all the clusters tested in one scan are adjusted with Holm's step-down correction.
A cluster is a spike when its adjusted p-value is at most α = 0.01, *and* it has at least 5 events,
*and* its rate is at least 3× the baseline: significance alone flags tiny but certain changes
of busy clusters, the two floors keep the flag for changes worth a look.

Limits: the Poisson model ignores burstiness (retries, crash loops), so a cluster that is bursty
by nature spikes more easily; the baseline mixes every hour of the day; a short scan window
tests few events and rarely reaches significance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

ALPHA = 0.01
MIN_COUNT = 5
MIN_RATIO = 3.0


@dataclass(frozen=True, slots=True)
class Baseline:
    """A cluster's events over the hours covered by the earlier scans."""

    events: int
    hours: float

    @property
    def rate(self) -> float:
        return self.events / self.hours


@dataclass(frozen=True, slots=True)
class SpikeTest:
    """One cluster's rate against its baseline; ``p_value`` is Holm-adjusted (None when untested)."""

    count: int
    rate: float | None  # per hour; None when the scan covers no measurable time
    baseline_rate: float | None  # per hour; None when the cluster has no baseline
    p_value: float | None
    spike: bool


def poisson_upper_tail(k: int, mean: float) -> float:
    """``P[X ≥ k]`` for ``X ~ Poisson(mean)``, exact to double precision.

    The terms ``e^-mean mean^i / i!`` are summed from the mode side outward, starting from one term
    computed in log space (``math.lgamma``), so nothing overflows and small tails keep full
    relative precision.
    """
    if k <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    if k > mean:  # terms fall from i = k upward
        i, term, total = k, _term(k, mean), 0.0
        while term > 0 and term >= total * 1e-17:
            total += term
            i += 1
            term *= mean / i
        return min(1.0, total)
    i, term, below = k - 1, _term(k - 1, mean), 0.0  # 1 - P[X < k]; terms fall from i = k - 1 downward
    while i >= 0 and term > 0 and term >= below * 1e-17:
        below += term
        term *= i / mean
        i -= 1
    return max(0.0, 1.0 - below)


def _term(i: int, mean: float) -> float:
    return math.exp(-mean + i * math.log(mean) - math.lgamma(i + 1))


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm step-down adjusted p-values (monotone, capped at 1)."""
    ordered = sorted(p_values.items(), key=lambda kv: (kv[1], kv[0]))
    m = len(ordered)
    adjusted: dict[str, float] = {}
    running = 0.0
    for rank, (key, p) in enumerate(ordered):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[key] = running
    return adjusted


def detect_spikes(
    counts: Mapping[str, int],
    hours: float,
    baselines: Mapping[str, Baseline],
    *,
    alpha: float = ALPHA,
    min_count: int = MIN_COUNT,
    min_ratio: float = MIN_RATIO,
) -> dict[str, SpikeTest]:
    """Test every cluster of one scan (``counts``: fingerprint → events over ``hours``)."""
    measurable = hours > 0
    tested = {
        fp: poisson_upper_tail(k, baselines[fp].rate * hours)
        for fp, k in counts.items()
        if measurable and fp in baselines and baselines[fp].hours > 0
    }
    adjusted = holm(tested)
    results = {}
    for fp, k in counts.items():
        rate = k / hours if measurable else None
        baseline = baselines[fp].rate if fp in baselines and baselines[fp].hours > 0 else None
        p = adjusted.get(fp)
        spike = p is not None and p <= alpha and k >= min_count and rate >= min_ratio * baseline
        results[fp] = SpikeTest(k, rate, baseline, p, spike)
    return results
