"""Incidents: precedence links, root choice, causal order, order independence, independent failures."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from triage.incidents import (
    binomial_upper_tail, incident_for, incident_id, incidents_by_cluster, link_incidents, short_title,
)
from triage.model import Cluster, Occurrence, Rule, Severity

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


def rule(rule_id: str, role: str | None) -> Rule:
    return Rule(id=rule_id, title=rule_id, priority="P1", category="test", match={}, role=role)


class Events:
    """Collect occurrences per cluster name, then build clusters."""

    def __init__(self) -> None:
        self.occurrences: dict[str, list[Occurrence]] = defaultdict(list)

    def add(
        self, name: str, seconds: float, instance: str | None, trace: str | None = None, revision: str | None = "app-001",
        stream: str | None = None, source: str | None = None, order: int | None = None, severity: Severity | None = None,
    ) -> None:
        self.occurrences[name].append(
            Occurrence(T0 + timedelta(seconds=seconds), instance, trace, revision, stream, source, order, severity)
        )

    def clusters(self, kinds: dict[str, tuple[str, Severity, str | None]]) -> list[Cluster]:
        result = []
        for name, occurrences in self.occurrences.items():
            title, severity, role = kinds[name]
            occurrences.sort(key=lambda o: o.timestamp)
            result.append(
                Cluster(
                    fingerprint=f"fp-{name}",
                    title=title,
                    template=title,
                    severity=severity,
                    count=len(occurrences),
                    first_seen=occurrences[0].timestamp,
                    last_seen=occurrences[-1].timestamp,
                    services={"api": len(occurrences)},
                    revisions={"app-001": len(occurrences)},
                    samples=(),
                    rule=rule(name, role) if role else None,
                    occurrences=tuple(occurrences),
                )
            )
        return result


KINDS = {
    "sdk": ("Optional SDK not installed: No module named 'fancy_sdk'", Severity.WARNING, "cause"),
    "config": ("Config value DATABASE_URL sanitized", Severity.WARNING, None),
    "import": ("ModuleNotFoundError: No module named 'billing.core'", Severity.ERROR, "cause"),
    "boot": ("Worker failed to boot", Severity.ERROR, "symptom"),
    "exit": ("Container called exit(3)", Severity.ERROR, "symptom"),
    "http503": ("Cloud Run 503 - malformed response", Severity.ERROR, "symptom"),
    "redis": ("Redis connection refused", Severity.ERROR, "cause"),
    "timeout": ("Request to upstream timed out", Severity.ERROR, None),
    "slow": ("Slow request", Severity.WARNING, "symptom"),
}


def crash_loop(events: Events, instance: str, start: float, loops: int = 5) -> None:
    """Every 2 s a worker boots: start-up warnings, the import error, boot failure; then exit and 503s."""
    for loop in range(loops):
        t = start + 2.0 * loop
        events.add("sdk", t, instance)
        events.add("config", t + 0.01, instance)
        events.add("import", t + 0.05, instance)
        events.add("boot", t + 0.10, instance)
    end = start + 2.0 * loops
    events.add("exit", end, instance)
    events.add("http503", end + 0.5, instance)
    events.add("http503", end + 0.6, instance)


def cascade() -> list[Cluster]:
    events = Events()
    for number, instance in enumerate(["i-1", "i-2", "i-3"]):
        crash_loop(events, instance, start=60.0 * number)
    for number, instance in enumerate(["i-7", "i-8", "i-9"]):  # healthy instances log the warnings once
        events.add("sdk", 300.0 + number, instance)
        events.add("config", 300.01 + number, instance)
    return events.clusters(KINDS)


def test_cascade_root_is_the_import_error_not_the_startup_warnings():
    (incident,) = link_incidents(cascade())
    assert incident.root == "fp-import"
    assert incident.clusters == ("fp-import", "fp-boot", "fp-exit", "fp-http503")
    assert incident.instances == ("i-1", "i-2", "i-3")
    assert incident.revisions == ("app-001",)
    assert incident.first_seen == T0 + timedelta(seconds=0.05)
    assert incident.last_seen == T0 + timedelta(seconds=130.6)
    assert incident.summary == (
        "ModuleNotFoundError: No module named 'b… (15) → Worker failed to boot (15) → "
        "Container called exit(3) (3) → Cloud Run 503 - malformed response (6)"
    )
    assert incident.id == incident_id("fp-import", incident.first_seen)
    assert incident.id.startswith("inc-") and len(incident.id) == 14


def test_shuffled_input_gives_the_same_incidents():
    clusters = cascade()
    expected = link_incidents(clusters)
    rng = random.Random(7)
    for _ in range(5):
        shuffled = [
            Cluster(**{**{f: getattr(c, f) for f in Cluster.__slots__}, "occurrences": tuple(rng.sample(c.occurrences, len(c.occurrences)))})
            for c in clusters
        ]
        rng.shuffle(shuffled)
        assert link_incidents(shuffled) == expected


def test_two_overlapping_independent_failures_stay_two_incidents():
    events = Events()
    crash_loop(events, "i-1", start=0.0)
    crash_loop(events, "i-2", start=1.0)
    for k in range(10):  # redis failures at the same times, on other instances
        events.add("sdk", 0.1 + k, "i-5")  # the same start-up warning must not bridge the two
        events.add("redis", 0.2 + k, "i-5")
        events.add("timeout", 0.3 + k, "i-5")
        events.add("slow", 0.4 + k, "i-5")
    clusters = events.clusters(KINDS)
    incidents = link_incidents(clusters)
    assert [i.root for i in incidents] == ["fp-import", "fp-redis"]
    assert incidents[1].clusters == ("fp-redis", "fp-timeout", "fp-slow")
    assert incidents[1].instances == ("i-5",)


@pytest.mark.parametrize("offset", [0.0, 10.0])
def test_a_failure_that_fires_every_few_seconds_is_no_cause_of_what_happens_near_it(offset):
    """A heartbeat error every 2 s precedes, within 5 s, everything on its instance: an unrelated failure at
    random moments is not its symptom, whether the heartbeat covers the whole scan or nearly all of it."""
    events, spread = Events(), random.Random(7)
    for k in range(300):
        events.add("redis", offset + 2.0 * k, "i-1")
    for _ in range(20):
        events.add("timeout", offset + 5 + spread.uniform(0, 590), "i-1")
    assert link_incidents(events.clusters(KINDS)) == ()
    rare = Events()
    rare.occurrences["redis"] = list(events.occurrences["redis"])
    for k in range(3):  # one, two or three unrelated failures amid the beats: too few to test, and the beats go on
        rare.add("boot", offset + 100.0 + 150 * k + 0.7, "i-1")
        assert link_incidents(rare.clusters(KINDS)) == ()
    for k in range(14):  # the same heartbeat, and a failure 0.1 s after some of its beats: that one it causes
        events.add("exit", offset + 40.0 * k + 0.1, "i-1")
    (incident,) = link_incidents(events.clusters(KINDS))
    assert incident.clusters == ("fp-redis", "fp-exit")


@pytest.mark.parametrize("loops", [2, 3, 4])
def test_a_crash_loop_cut_one_turn_after_its_exit_still_links(loops):
    """An export ends while the loop goes on: one more import error after the container's exit, on its instance."""
    events = Events()
    for k in range(loops):
        events.add("import", 10.0 * k, "i-1")
        events.add("exit", 10.0 * k + 1.9, "i-1")
    events.add("import", 10.0 * loops, "i-1")
    (incident,) = link_incidents(events.clusters(KINDS))
    assert incident.clusters == ("fp-import", "fp-exit")


def test_a_text_export_links_within_one_stream_per_service():
    """Text exports carry no instance or trace: a crash loop still links within its service's stream, a failure of
    another service at the same moments does not join it, and occurrences with no stream at all never link."""
    events = Events()
    for k in range(5):
        events.add("import", 10.0 * k, None, revision=None, stream="api")
        events.add("boot", 10.0 * k + 0.1, None, revision=None, stream="api")
        events.add("redis", 10.0 * k + 0.2, None, revision=None, stream="web")
        events.add("timeout", 10.0 * k + 0.3, None, revision=None)
    events.add("exit", 41.9, None, revision=None, stream="api")
    (incident,) = link_incidents(events.clusters(KINDS))
    assert incident.clusters == ("fp-import", "fp-boot", "fp-exit")
    assert incident.instances == ()


TIED = {
    "import": ("ModuleNotFoundError: No module named 'billing.core'", Severity.ERROR, None),
    "boot": ("Worker failed to boot", Severity.ERROR, None),
    "master": ("Shutting down: Master", Severity.ERROR, None),
    "exit": ("Container called exit(3)", Severity.ERROR, None),
}


def crash_loop_in_whole_seconds(events: Events, source: str, turns: range) -> None:
    """A crash loop written to ``source`` with whole-second times: import error, worker boot failure and master
    shutdown in the same second of each turn, in that order."""
    for turn in turns:
        for step, name in enumerate(("import", "boot", "master")):
            events.add(name, 20.0 * turn, None, revision=None, stream="api", source=source, order=100 * turn + step)


def test_failures_stamped_in_the_same_second_link_in_the_order_they_were_written():
    """A text export's whole seconds give a crash loop's import error, worker boot failure and master shutdown the
    same time: their order in their source tells which came first."""
    events = Events()
    crash_loop_in_whole_seconds(events, "app.log", range(5))
    (incident,) = link_incidents(events.clusters(TIED))
    assert incident.root == "fp-import"
    assert incident.clusters == ("fp-import", "fp-boot", "fp-master")


def _links(add) -> list[tuple[str, tuple[str, ...]]]:
    """The incidents of the occurrences ``add(events, with_orders)`` makes, without orders and with them."""
    kinds = {"import": ("ModuleNotFoundError: No module named 'x'", Severity.ERROR, None),
             "boot": ("Worker failed to boot", Severity.ERROR, None), "other": ("Other failure", Severity.ERROR, None)}
    found = []
    for with_orders in (False, True):
        events = Events()
        add(events, with_orders)
        found.append([(i.root, i.clusters) for i in link_incidents(events.clusters(kinds))])
    return found


def test_same_second_entries_of_two_sources_keep_their_tie():
    """Two exports of one service share seconds (say, different filters): the orders of one file say nothing about
    the other's, so their entries of a second keep their tie, both ways counting, as with no orders at all."""
    def add(events: Events, with_orders: bool) -> None:
        for k in range(8):
            events.add("boot", 20.0 * k, None, revision=None, stream="api", source="b.txt",
                       order=1000 + k if with_orders else None)
            if k < 6:
                events.add("import", 20.0 * k, None, revision=None, stream="api", source="a.txt",
                           order=-(k + 1) if with_orders else None)

    without_orders, with_orders = _links(add)
    assert with_orders == without_orders


def test_orders_on_instances_do_not_order_a_trace():
    """Within one trace, occurrences of two instances stamped alike stay tied: their orders on their instances (how
    many entries of the same second came before on each) tell nothing about the trace."""
    def add(events: Events, with_orders: bool) -> None:
        for k in range(6):
            t = 30.0 * k
            events.add("import", t, "i2", source="f.log", order=100 * k + 1 if with_orders else None)
            events.add("import", t, "i2", trace=f"T{k}", source="f.log", order=100 * k + 2 if with_orders else None)
            events.add("boot", t, "i1", trace=f"T{k}", source="f.log", order=100 * k + 50 if with_orders else None)

    without_orders, with_orders = _links(add)
    assert with_orders == without_orders


def test_a_failure_exactly_lag_s_after_its_cause_links_whatever_else_happened_in_its_second():
    """Ordering the entries of a second moves no occurrence past the ``lag_s`` window: an exit exactly 5 s after
    each import error, written after a warning of the same second, still links."""
    events = Events()
    for turn in range(5):
        events.add("import", 20.0 * turn, None, revision=None, stream="api", source="app.log", order=3 * turn)
        events.add("sdk", 20.0 * turn + 5, None, revision=None, stream="api", source="app.log", order=3 * turn + 1)
        events.add("exit", 20.0 * turn + 5, None, revision=None, stream="api", source="app.log", order=3 * turn + 2)
    (incident,) = link_incidents(events.clusters({**TIED, "sdk": KINDS["sdk"]}))
    assert incident.root == "fp-import" and "fp-exit" in incident.clusters


def test_entries_of_one_line_keep_their_tie():
    """Entries of one line (elements of a one-line JSON array) have one order: their tie stays, and both ways count
    as before, so the strength of each direction decides, not the fingerprints."""
    def root(order_of_b: int) -> str:
        events = Events()
        for turn in range(8):
            events.add("import", 20.0 * turn, "i-1", source="a.json", order=7)
            if turn < 6:
                events.add("boot", 20.0 * turn, "i-1", source="a.json", order=order_of_b)
        kinds = {"import": ("Invoice failed", Severity.ERROR, None), "boot": ("Payment failed", Severity.ERROR, None)}
        (incident,) = link_incidents(events.clusters(kinds))
        return incident.root

    unordered = Events()
    for turn in range(8):
        unordered.add("import", 20.0 * turn, "i-1")
        if turn < 6:
            unordered.add("boot", 20.0 * turn, "i-1")
    kinds = {"import": ("Invoice failed", Severity.ERROR, None), "boot": ("Payment failed", Severity.ERROR, None)}
    (without_orders,) = link_incidents(unordered.clusters(kinds))
    assert root(7) == without_orders.root


def test_a_failure_that_fires_every_few_seconds_in_a_text_stream_is_no_cause_of_what_happens_near_it():
    """One stream holds everything a service logged: chance is measured on it as on an instance."""
    events, spread = Events(), random.Random(7)
    for k in range(300):
        events.add("redis", 2.0 * k, None, stream="api")
    for _ in range(20):
        events.add("timeout", 5 + spread.uniform(0, 590), None, stream="api")
    assert link_incidents(events.clusters(KINDS)) == ()
    for k in range(14):
        events.add("exit", 40.0 * k + 0.1, None, stream="api")
    (incident,) = link_incidents(events.clusters(KINDS))
    assert incident.clusters == ("fp-redis", "fp-exit")


def test_a_one_or_two_off_failure_amid_a_burst_is_no_symptom_of_it():
    """A test sweep: errors on an instance, and between them a few client errors, each once or twice. One or two
    hits beat no chance (a binomial tail of c or c², a gap or two below half the chance gap are common); with A
    going on right after them they do not end A's run either."""
    events = Events()
    for sweep in (0.0, 300.0):  # the errors of a sweep, 0.4 s apart, then nothing for minutes
        for k in range(8):
            events.add("redis", sweep + 0.4 * k, "i-1")
    events.add("http503", 0.5, "i-1")  # once, 0.1 s after an error, which goes on 0.3 s later
    events.add("slow", 1.3, "i-1")  # twice, at the same point of both sweeps
    events.add("slow", 301.3, "i-1")
    kinds = {**KINDS, "http503": ("PUT /api/agents/execute → 405", Severity.WARNING, None),
             "slow": ("GET /api/settings → 422", Severity.WARNING, None)}
    assert link_incidents(events.clusters(kinds)) == ()
    events.add("exit", 301.0 + 0.4 * 7, "i-1")  # what the errors end with is still theirs
    (incident,) = link_incidents(events.clusters(kinds))
    assert incident.clusters == ("fp-redis", "fp-exit")
    short = Events()
    for t in (0.0, 0.4, 1.4):  # an error three times in 1.4 s: the client error before its last is amid it
        short.add("timeout", t, "i-1")
    short.add("http503", 1.0, "i-1")
    short.add("redis", 600.0, "i-2")
    assert link_incidents(short.clusters(kinds)) == ()


def test_an_incident_is_where_and_when_its_links_are():
    """Instances and revisions come from the occurrences the links rest on, the time span from the members'
    occurrences in their places, not from every occurrence of every member: an unrelated timeout on another
    service's instance, days earlier or later, brings neither its time nor its instance nor its revision (nor changes
    the incident's id)."""
    events = Events()
    for k in range(6):
        events.add("redis", 86400 + 10.0 * k, "i-1")
        events.add("timeout", 86400 + 10.0 * k + 0.5, "i-1")
    events.add("redis", 86400 + 500.0, "i-1")  # Redis still down there, with no request to fail: part of it
    (alone,) = link_incidents(events.clusters(KINDS))
    events.add("timeout", 0.0, "web-1", revision="web-007")
    events.add("timeout", 9 * 86400, "web-1", revision="web-007")
    (incident,) = link_incidents(events.clusters(KINDS))
    assert incident.clusters == ("fp-redis", "fp-timeout")
    assert (incident.instances, incident.revisions) == (("i-1",), ("app-001",))
    day = T0 + timedelta(days=1)
    assert (incident.first_seen, incident.last_seen) == (day, day + timedelta(seconds=500))
    assert incident.id == alone.id
    text = Events()
    for k in range(6):
        text.add("import", 10.0 * k, None, revision=None, stream="api")
        text.add("boot", 10.0 * k + 0.1, None, revision=None, stream="api")
    assert link_incidents(text.clusters(KINDS))[0].revisions == ()  # the cluster's revisions are not the links'


def test_binomial_upper_tail():
    assert binomial_upper_tail(0, 5, 0.3) == 1.0 and binomial_upper_tail(6, 5, 0.3) == 0.0
    assert binomial_upper_tail(5, 5, 0.5) == pytest.approx(1 / 32)
    assert binomial_upper_tail(1, 2, 0.5) == pytest.approx(0.75)
    assert binomial_upper_tail(20, 20, 1.0) == 1.0 and binomial_upper_tail(1, 2000, 0.0) == 0.0
    assert 0 < binomial_upper_tail(2000, 2000, 0.9) < 1e-90


def test_no_consistent_precedence_means_no_link():
    events = Events()
    for k in range(10):  # A and B on the same instance, B right after A only 3 times out of 10
        events.add("redis", 100.0 * k, "i-1")
        events.add("timeout", 100.0 * k + (1.0 if k < 3 else 50.0), "i-1")
    assert link_incidents(events.clusters(KINDS)) == ()


def test_share_threshold_is_inclusive_and_configurable():
    events = Events()
    for k in range(10):
        events.add("redis", 100.0 * k, "i-1")
        events.add("timeout", 100.0 * k + (1.0 if k < 6 else 50.0), "i-1")
    clusters = events.clusters(KINDS)
    assert [i.clusters for i in link_incidents(clusters)] == [("fp-redis", "fp-timeout")]
    assert link_incidents(clusters, min_share=0.7) == ()
    assert link_incidents(clusters, lag_s=0.5) == ()


def test_trace_links_across_instances_and_missing_instances():
    events = Events()
    for k in range(4):
        events.add("redis", 10.0 * k, f"i-{k}", trace=f"projects/p/traces/{k}")
        events.add("http503", 10.0 * k + 0.3, None, trace=f"projects/p/traces/{k}")
    (incident,) = link_incidents(events.clusters(KINDS))
    assert incident.clusters == ("fp-redis", "fp-http503")
    assert incident.instances == ("i-0", "i-1", "i-2", "i-3")


def test_warning_symptom_after_an_error_joins_but_never_roots():
    events = Events()
    for k in range(5):
        events.add("timeout", 10.0 * k, "i-1")
        events.add("slow", 10.0 * k + 1, "i-1")
    (incident,) = link_incidents(events.clusters(KINDS))
    assert incident.root == "fp-timeout"
    assert incident.clusters == ("fp-timeout", "fp-slow")


def test_a_cluster_with_errors_elsewhere_does_not_link_through_its_warnings():
    # a token check that warns on one instance, 1 ms before a deprecation warning there, and fails (ERROR) on
    # another instance days later: the warning is no cause, whatever else its cluster holds
    events = Events()
    events.add("timeout", 0.0, "i-1", severity=Severity.WARNING)
    events.add("slow", 0.001, "i-1", severity=Severity.WARNING)
    for k in range(5):
        events.add("timeout", 4 * 86400 + 10.0 * k, "i-2", severity=Severity.ERROR)
    assert link_incidents(events.clusters(KINDS)) == ()


def test_a_link_rests_on_the_errors_of_its_source_not_its_warnings():
    events = Events()
    for k in range(5):  # slow requests follow timeout errors on i-1, and timeout warnings on i-2
        events.add("timeout", 10.0 * k, "i-1", severity=Severity.ERROR)
        events.add("slow", 10.0 * k + 1, "i-1", severity=Severity.WARNING)
    for k in range(2):
        events.add("timeout", 10.0 * k, "i-2", revision="app-002", severity=Severity.WARNING)
        events.add("slow", 10.0 * k + 1, "i-2", revision="app-002", severity=Severity.WARNING)
    (incident,) = link_incidents(events.clusters(KINDS))
    assert incident.clusters == ("fp-timeout", "fp-slow")
    assert (incident.instances, incident.revisions) == (("i-1",), ("app-001",))


def test_cause_role_comes_first_even_after_an_earlier_symptom():
    events = Events()
    for k in range(5):  # the request log is stamped at arrival, before the error; the rules say which is which
        events.add("http503", 10.0 * k, "i-1")
        events.add("redis", 10.0 * k + 0.2, "i-1")
        events.add("timeout", 10.0 * k + 0.3, "i-1")
    (incident,) = link_incidents(events.clusters(KINDS))
    assert incident.root == "fp-redis"
    assert incident.clusters == ("fp-redis", "fp-http503", "fp-timeout")


def test_noise_never_links():
    events = Events()
    for k in range(5):
        events.add("timeout", 10.0 * k, "i-1")
        events.add("noise", 10.0 * k + 1, "i-1")
    kinds = {**KINDS, "noise": ("Noisy error", Severity.ERROR, "noise")}
    assert link_incidents(events.clusters(kinds)) == ()


def test_helpers_for_drafts_and_reports():
    clusters = cascade()
    incidents = link_incidents(clusters)
    assert incident_for("fp-boot", incidents) is incidents[0]
    assert incident_for("fp-sdk", incidents) is None
    assert short_title(clusters[0], width=10) == "Optional…"


def test_a_short_title_keeps_the_captures_that_tell_a_rules_clusters_apart():
    rule = Rule(id="ws", title="WebSocket connections rejected", priority="P1", category="websocket", match={})
    base = cascade()[0]
    titled = [
        Cluster(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, "fingerprint": f"fp-{reason}",
                   "title": f"WebSocket connections rejected (reason={reason})", "rule": rule,
                   "captures": {"reason": reason}})
        for reason in ("No JWT", "Invalid JWT")
    ]
    assert [short_title(c) for c in titled] == [
        "WebSocket connections r… (reason=No JWT)", "WebSocket connecti… (reason=Invalid JWT)"]
    assert short_title(titled[0], width=20) == "WebSocket connectio…"  # captures longer than all but a dozen: cut


def test_a_constantly_firing_cluster_does_not_absorb_what_happens_near_it_by_chance():
    """A fires every 6 s: 5 s windows after it cover 5/6 of the hour, so B (5/6 preceded) is chance."""
    events = Events()
    for k in range(600):
        events.add("redis", k * 6.0, "inst-1")
    for k in range(20):
        events.add("timeout", k * 37.0 + 0.5, "inst-1")  # gaps after the last A: 0.5, 1.5, … 5.5 s
    clusters = events.clusters(KINDS)
    assert link_incidents(clusters) == ()
    assert len(link_incidents(clusters, min_share=0.5)) == 0  # the chance floor, not min_share, decides
    sparse = Events()  # the same precedence share with A rare: a real link
    for k in range(20):
        sparse.add("redis", k * 37.0 + (0.5 if k % 6 else 0.0) - 1.0, "inst-1")
        sparse.add("timeout", k * 37.0 + 0.5, "inst-1")
    [incident] = link_incidents(sparse.clusters(KINDS))
    assert incident.root == "fp-redis"


def _brute_force_precedence(
    clusters: list[Cluster], lag_s: float, *, loud_only: bool = False
) -> dict[tuple[int, int], tuple[int, float, float]]:
    """The method's definition, pair by pair: B occurrences with an A occurrence at most ``lag_s`` before them
    (equal times count) on the same instance or in the same trace, the sum of the smallest such gaps, and the
    share of B's occurrences A would precede by chance (the time A's windows cover on their instance, of the time it
    was seen: from its first occurrence of any cluster to its last, plus ``lag_s``). Without an
    instance or a trace, an occurrence's stream stands for its instance. With ``loud_only``, only A's occurrences
    at ERROR or above (an occurrence without a severity has its cluster's) precede."""
    events = [
        [(o.timestamp.timestamp(), o.instance or (None if o.trace else o.stream and ("stream", o.stream)), o.trace,
          (o.severity or c.severity) >= Severity.ERROR)
         for o in c.occurrences if o.timestamp is not None]
        if _role_of(c) != "noise" else []
        for c in clusters
    ]

    def seen(place: str) -> float:
        times = [t for occurrences in events for t, i, _, _ in occurrences if i == place]
        return max(times) - min(times) + lag_s

    def covered(sources: list[tuple], instance: str) -> float:
        starts = sorted(s for s, i, _, _ in sources if i == instance)
        return sum(min(b - a, lag_s) for a, b in zip(starts, starts[1:] + [float("inf")]))

    found: dict[tuple[int, int], tuple[int, float, float]] = {}
    for a, occurrences in enumerate(events):
        sources = [o for o in occurrences if o[3] or not loud_only]
        for b, targets in enumerate(events):
            if a == b:
                continue
            gaps = [
                min(gaps) for t, instance, trace, _ in targets
                if (gaps := [t - s for s, i, tr, _ in sources if 0 <= t - s <= lag_s
                             and ((instance and i == instance) or (trace and tr == trace))])
            ]
            if gaps:
                chance = sum(min(covered(sources, i) / seen(i), 1.0) for _, i, _, _ in targets if i) / len(targets)
                found[(a, b)] = (len(gaps), sum(gaps), chance)
    return found


def _role_of(cluster: Cluster) -> str | None:
    return cluster.rule.role if cluster.rule else None


def test_precedence_is_the_pairwise_definition_without_comparing_all_pairs():
    from triage.incidents import _precedence

    rng = random.Random(11)
    for _ in range(150):
        events = Events()
        names = [f"c{n}" for n in range(rng.randint(2, 12))]
        for name in names:
            for _ in range(rng.choice([1, 2, 5, 20])):
                events.add(
                    name, rng.randrange(0, 240) / 4, rng.choice(["i1", "i2", "i3", None]), rng.choice([None, None, "t1", "t2"]),
                    stream=rng.choice([None, "i1", "api", "web"]),  # a stream named like an instance is no instance
                    severity=rng.choice([None, Severity.ERROR, Severity.CRITICAL, Severity.WARNING, Severity.INFO]),
                )
        kinds = {
            name: (name, rng.choice([Severity.ERROR, Severity.WARNING]), rng.choice([None, None, "noise", "cause"]))
            for name in names
        }
        clusters = sorted(events.clusters(kinds), key=lambda c: c.fingerprint)
        every, loud, _ = _precedence(clusters, 5.0)
        for pairs, loud_only in ((every, False), (loud, True)):
            expected = _brute_force_precedence(clusters, 5.0, loud_only=loud_only)
            assert {pair: (p.hits, p.gap_sum) for pair, p in pairs.items()} == {pair: e[:2] for pair, e in expected.items()}
            assert all(p.expected == pytest.approx(expected[pair][2], abs=1e-12) for pair, p in pairs.items())


def test_thousands_of_one_off_failures_link_only_the_real_cascade():
    events = Events()
    for n in range(3000):  # one-off failures 10 s apart on the same instance: nothing precedes anything twice
        events.add(f"one-off-{n}", 10 * n, "i1")
    for boot in range(4):  # and a crash loop on another instance
        events.add("import", 600 * boot + 3, "i2")
        events.add("boot", 600 * boot + 3.1, "i2")
    kinds = {name: (name, Severity.ERROR, None) for name in events.occurrences}
    clusters = events.clusters(kinds)
    [incident] = link_incidents(clusters)
    by_fingerprint = {c.fingerprint: c.title for c in clusters}
    assert [by_fingerprint[fp] for fp in incident.clusters] == ["import", "boot"]


SHARED_KINDS = {
    **KINDS,
    "http5xx": ("Requests answered with 5xx", Severity.ERROR, "symptom"),
    "deadlock": ("psycopg2.errors.DeadlockDetected: deadlock detected", Severity.ERROR, None),
    "stripe": ("stripe.error.APIConnectionError: could not reach api.stripe.com", Severity.ERROR, None),
}


def test_a_symptom_of_two_failures_that_meet_nowhere_else_does_not_glue_them_into_one_incident():
    """A request log (stamped when the request arrives, before the error it ends with) answers 5xx on every service:
    deadlocks on one service and Stripe errors on another, hours later, are two incidents, each with the 5xx."""
    events = Events()
    for k in range(6):
        events.add("http5xx", 200.0 * k, f"a{k % 2}", trace=f"ta{k}", revision="api-001")
        events.add("deadlock", 200.0 * k + 0.2, f"a{k % 2}", trace=f"ta{k}", revision="api-001")
        events.add("http5xx", 3 * 3600 + 200.0 * k, f"b{k % 2}", trace=f"tb{k}", revision="billing-001")
        events.add("stripe", 3 * 3600 + 200.0 * k + 0.3, f"b{k % 2}", trace=f"tb{k}", revision="billing-001")
    api, billing = incidents = link_incidents(events.clusters(SHARED_KINDS))
    assert (api.root, api.clusters, api.instances) == ("fp-deadlock", ("fp-http5xx", "fp-deadlock"), ("a0", "a1"))
    assert (billing.root, billing.clusters, billing.instances) == ("fp-stripe", ("fp-http5xx", "fp-stripe"), ("b0", "b1"))
    assert (api.first_seen, api.last_seen) == (T0, T0 + timedelta(seconds=1000.2))
    assert billing.revisions == ("billing-001",)
    assert incidents_by_cluster(incidents)["fp-http5xx"] == api.id == incident_for("fp-http5xx", incidents).id


def test_the_causes_of_a_shared_symptom_join_when_their_links_to_it_meet():
    """The same two failures at the same time are one incident: the 5xx glues causes whose links to it overlap."""
    events = Events()
    for k in range(6):
        for prefix, cause, gap in (("a", "deadlock", 0.2), ("b", "stripe", 0.3)):
            events.add("http5xx", 200.0 * k, f"{prefix}{k % 2}", trace=f"t{prefix}{k}")
            events.add(cause, 200.0 * k + gap, f"{prefix}{k % 2}", trace=f"t{prefix}{k}")
    (incident,) = link_incidents(events.clusters(SHARED_KINDS))
    assert (incident.root, incident.clusters) == ("fp-deadlock", ("fp-http5xx", "fp-deadlock", "fp-stripe"))
    assert incident.instances == ("a0", "a1", "b0", "b1")


def test_chance_is_measured_over_the_time_each_instance_was_seen_not_the_whole_scan():
    """An exporter error every 2 s over a short-lived instance's 5 minutes covers all of its time: the failures at
    random moments there are not its symptoms, however long other services make the scan."""
    events, spread = Events(), random.Random(1)
    for k in range(150):
        events.add("redis", 1800 + 2.0 * k, "i-1")
    for _ in range(6):
        events.add("timeout", 1800 + spread.uniform(5, 295), "i-1")
    assert link_incidents(events.clusters(KINDS)) == ()
    for k in range(3):  # another service's nightly failure: the scan now spans two hours
        events.add("boot", 3500.0 * k, "r-1", revision="reports-001")
    assert link_incidents(events.clusters(KINDS)) == ()
