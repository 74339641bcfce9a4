"""Spikes: exact Poisson tails, Holm correction, and the count and ratio floors."""

from __future__ import annotations

import math

import pytest

from triage.spikes import Baseline, detect_spikes, holm, poisson_upper_tail


@pytest.mark.parametrize(
    "k, mean, expected",
    [
        (5, 1.0, 0.0036598468273437),  # 1 - e^-1 (1 + 1 + 1/2 + 1/6 + 1/24)
        (1, 1.0, 1 - math.exp(-1)),
        (10, 10.0, 0.5420702855281478),
        (20, 4.2, 2.2415989852e-08),
        (0, 3.0, 1.0),
        (3, 0.0, 0.0),
    ],
)
def test_poisson_upper_tail_is_exact(k, mean, expected):
    assert poisson_upper_tail(k, mean) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_poisson_tail_far_out_keeps_relative_precision():
    # P[X >= 60 | 2] is dominated by its first term e^-2 2^60 / 60!
    first = math.exp(-2 + 60 * math.log(2) - math.lgamma(61))
    assert poisson_upper_tail(60, 2.0) == pytest.approx(first * (1 + 2 / 61 + 4 / (61 * 62)), rel=1e-6)
    assert poisson_upper_tail(100_000, 100_000.0) == pytest.approx(0.5, abs=0.002)


def test_holm_steps_down_and_stays_monotone():
    adjusted = holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert adjusted == pytest.approx({"a": 0.03, "c": 0.06, "b": 0.06})


def test_spike_when_rate_is_far_above_the_baseline():
    # baseline 1/h; 1 hour with 12 events: p = P[X >= 12 | 1] ≈ 1.1e-9
    results = detect_spikes({"fp": 12}, 1.0, {"fp": Baseline(events=24, hours=24.0)})
    test = results["fp"]
    assert test.spike
    assert test.rate == 12.0 and test.baseline_rate == 1.0
    assert test.p_value == pytest.approx(poisson_upper_tail(12, 1.0))


def test_no_spike_within_noise_or_below_the_floors():
    baselines = {"busy": Baseline(10_000, 100.0), "few": Baseline(1, 100.0), "steady": Baseline(50, 10.0)}
    # busy: 130/h vs 100/h is significant (p ≈ 0.002) but not 3× the baseline
    # few: 4 events vs 0.01/h is very unlikely but under 5 events; steady: 6/h vs 5/h is noise
    results = detect_spikes({"busy": 130, "few": 4, "steady": 6}, 1.0, baselines)
    assert results["busy"].p_value < 0.01
    assert results["few"].p_value < 1e-6
    assert not any(test.spike for test in results.values())


def test_holm_correction_can_remove_a_spike():
    # alone p = P[X >= 7 | 1] ≈ 8.3e-5 passes; among 150 tested clusters it is adjusted to ≈ 0.0125
    alone = detect_spikes({"fp": 7}, 1.0, {"fp": Baseline(10, 10.0)})
    assert alone["fp"].spike
    counts = {"fp": 7} | {f"other{i}": 1 for i in range(149)}
    baselines = {fp: Baseline(10, 10.0) for fp in counts}
    assert not detect_spikes(counts, 1.0, baselines)["fp"].spike


def test_new_cluster_or_unmeasurable_window_has_no_spike():
    results = detect_spikes({"new": 100}, 2.0, {})
    assert results["new"].baseline_rate is None and results["new"].p_value is None and not results["new"].spike
    assert results["new"].rate == 50.0
    unmeasured = detect_spikes({"fp": 100}, 0.0, {"fp": Baseline(1, 10.0)})["fp"]
    assert unmeasured.rate is None and not unmeasured.spike
