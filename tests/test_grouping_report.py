"""Accumulating events into clusters (order-free), ranking, and the four report formats."""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from triage.grouping import SAMPLES_KEPT, Accumulator, _Newest, rank, select_samples
from triage.model import Cluster, Entry, Problem, Rule, Sample, ScanResult, Severity, Window
from triage.assess import ScanReport
from triage.history import ClusterContext
from triage.incidents import Incident
from triage.report import render, render_csv, render_json, render_markdown, render_table

T0 = datetime(2026, 11, 28, 1, 0, tzinfo=timezone.utc)


def entry(i: int, **kw) -> Entry:
    values = dict(timestamp=T0 + timedelta(seconds=i), severity=Severity.ERROR, message=f"boom {i}",
                  service="api" if i % 3 else "web", instance=f"i{i % 2}", revision="api-001")
    values.update(kw)
    return Entry(**values)


def cluster_of(entries) -> Cluster:
    acc = Accumulator()
    for e in entries:
        acc.add(e)
    return acc.to_cluster("f" * 20, "Boom", "boom <NUM>")


def merged_at(entries, cut: int) -> Cluster:
    """The cluster of ``entries`` taken as two parts, cut at ``cut``, then merged (as the two-core split does)."""
    a, b = Accumulator(), Accumulator()
    for e in entries[:cut]:
        a.add(e)
    for e in entries[cut:]:
        b.add(e)
    a.merge(b)
    return a.to_cluster("f" * 20, "Boom", "boom <NUM>")


def test_accumulator_totals():
    c = cluster_of([entry(i) for i in range(30)] + [entry(99, severity=Severity.CRITICAL)])
    assert c.count == 31
    assert (c.first_seen, c.last_seen) == (T0, T0 + timedelta(seconds=99))
    assert (c.severity, c.least_severity) == (Severity.CRITICAL, Severity.ERROR)
    assert c.services == {"api": 20, "web": 11}
    assert len(c.samples) == SAMPLES_KEPT
    assert [s.message for s in c.samples[:3]] == ["boom 99", "boom 29", "boom 28"]  # newest first
    assert len(c.occurrences) == 31 and c.occurrences[0].timestamp == T0


def test_accumulator_is_order_independent():
    entries = [entry(i % 40, message=f"boom {i}") for i in range(120)]
    shuffled = entries[:]
    random.Random(7).shuffle(shuffled)
    assert cluster_of(entries) == cluster_of(shuffled)


def test_merge_equals_adding_everything():
    entries = [entry(i, severity=Severity.WARNING if i == 17 else Severity.ERROR) for i in range(25)]
    assert merged_at(entries, 10) == cluster_of(entries)
    assert cluster_of(entries).least_severity is Severity.WARNING


def test_regions_are_counted_like_revisions_and_merged():
    entries = [entry(i, region="us-central1" if i % 4 else "europe-west1") for i in range(20)] + [entry(20, region=None)]
    assert cluster_of(entries).regions == {"us-central1": 15, "europe-west1": 5}
    assert merged_at(entries, 7).regions == {"us-central1": 15, "europe-west1": 5}


JWT_ERROR = "JWT verification failed - likely JWT secret mismatch between services"


def warnings_after_errors() -> list[Entry]:
    """Old ERRORs (two lines, one of them twice) and a CRITICAL, then many newer WARNINGs of two lines."""
    severe = [entry(0, message=JWT_ERROR), entry(1, message="Auth service unreachable at 10.0.0.1:8443"),
              entry(2, message=JWT_ERROR), entry(3, severity=Severity.CRITICAL, message="auth worker died")]
    warnings = [entry(i % 40 + 4, severity=Severity.WARNING,
                      message="Token validation failed - invalid or expired" if i % 3 else f"Invalid JWT audience aud-{i}")
                for i in range(120)]
    return severe + warnings


def test_an_older_error_among_many_newer_warnings_is_kept():
    c = cluster_of([entry(0, message=JWT_ERROR)]
                   + [entry(i, severity=Severity.WARNING, message=f"Token invalid {i}") for i in range(1, 40)])
    assert len(c.samples) == SAMPLES_KEPT
    assert [s.message for s in c.samples] == [f"Token invalid {i}" for i in range(39, 30, -1)] + [JWT_ERROR]


def test_samples_keep_the_newest_of_each_severity_and_line_most_severe_first():
    entries = warnings_after_errors()
    samples = cluster_of(entries).samples
    assert [s.message for s in samples[-3:]] == ["auth worker died", JWT_ERROR, "Auth service unreachable at 10.0.0.1:8443"]
    assert samples[-2].timestamp == T0 + timedelta(seconds=2)  # the newest of its line
    warnings = sorted((e for e in entries if e.severity is Severity.WARNING), key=lambda e: (e.timestamp, e.message))
    assert [s.message for s in samples[:7]] == [e.message for e in warnings[::-1][:7]]  # then the newest, newest first


def test_samples_with_severities_are_order_independent():
    entries = warnings_after_errors()
    expected = cluster_of(entries)
    assert JWT_ERROR in {s.message for s in expected.samples}
    for seed in range(5):
        shuffled = entries[:]
        random.Random(seed).shuffle(shuffled)
        assert cluster_of(shuffled) == expected


def test_merge_with_severities_equals_one_pass():
    entries = warnings_after_errors()
    random.Random(3).shuffle(entries)
    expected = cluster_of(entries)
    assert JWT_ERROR in {s.message for s in expected.samples}
    for cut in (0, 1, 30, 70, len(entries)):
        assert merged_at(entries, cut) == expected, cut


def warnings_after_an_error(severity: Severity | None = Severity.WARNING) -> list[Sample]:
    """A cluster's 10 samples, newest first: nine WARNINGs of one line, then the older ERROR that says why."""
    warnings = [Sample(T0 + timedelta(seconds=i), f"Token invalid {i}", "api", "i0", severity=severity)
                for i in range(9, 0, -1)]
    return warnings + [Sample(T0, JWT_ERROR, "api", "i0", severity=severity and Severity.ERROR)]


def test_an_older_error_survives_a_cut_to_five_and_to_three():
    samples = warnings_after_an_error()
    assert select_samples(samples, 5) == samples[:4] + samples[-1:]
    assert select_samples(samples, 3) == samples[:2] + samples[-1:]
    assert select_samples(samples, 10) == samples


def test_a_cut_takes_the_most_severe_lines_first_up_to_half_then_the_newest():
    samples = warnings_after_an_error() + [Sample(T0 - timedelta(seconds=i), f"Pool {i} exhausted: {'ab'[i % 2]}", "api",
                                                  "i0", severity=Severity.CRITICAL) for i in range(1, 5)]
    chosen = select_samples(samples, 3)  # two of three: the newest of each CRITICAL line; then the newest
    assert [s.message for s in chosen] == ["Token invalid 9", "Pool 1 exhausted: b", "Pool 2 exhausted: a"]
    assert [s.message for s in select_samples(samples, 5)] == [
        "Token invalid 9", "Token invalid 8", JWT_ERROR, "Pool 1 exhausted: b", "Pool 2 exhausted: a"]


def test_samples_of_an_older_stored_result_are_cut_to_the_newest():
    samples = warnings_after_an_error(severity=None)
    assert select_samples(samples[::-1], 3) == samples[:3]


def test_selecting_samples_is_deterministic_whatever_their_order():
    samples = warnings_after_an_error() + [replace(s, instance="i1") for s in warnings_after_an_error()]
    for n in (3, 5, 10):
        expected = select_samples(samples, n)
        assert JWT_ERROR in {s.message for s in expected}
        for seed in range(5):
            shuffled = samples[:]
            random.Random(seed).shuffle(shuffled)
            assert select_samples(shuffled, n) == expected


def test_newest_keeps_the_largest_items_whatever_the_order():
    items = [(random.Random(i).randrange(50), i) for i in range(1000)]
    newest = _Newest(30)
    for item in items:
        newest.add(item)
    assert newest.newest() == sorted(items, reverse=True)[:30]


def _rule(priority: str) -> Rule:
    return Rule(id=f"r-{priority}", title="t", priority=priority, category="c", match={})


def test_rank_priority_then_count():
    base = cluster_of([entry(1)])
    clusters = [
        base.__class__(**{**_fields(base), "fingerprint": "a", "count": 50}),
        base.__class__(**{**_fields(base), "fingerprint": "b", "count": 2, "rule": _rule("P1")}),
        base.__class__(**{**_fields(base), "fingerprint": "c", "count": 9, "rule": _rule("P0")}),
        base.__class__(**{**_fields(base), "fingerprint": "d", "count": 7, "rule": _rule("P1")}),
    ]
    assert [c.fingerprint for c in rank(clusters)] == ["c", "d", "b", "a"]


def _fields(c: Cluster) -> dict:
    return {name: getattr(c, name) for name in c.__dataclass_fields__}


def result() -> ScanReport:
    matched = cluster_of([entry(i, message=f"'Foo' object has no attribute 'bar' [{i}]", region="us-central1") for i in range(3)])
    matched = Cluster(**{**_fields(matched), "fingerprint": "0123456789abcdef0123", "rule": _rule("P1"),
                         "title": "Missing attribute (class=Foo, attribute=bar)", "captures": {"class": "Foo"}})
    return ScanReport(ScanResult(
        window=Window(T0, T0 + timedelta(hours=1)),
        sources=("a.json",),
        entries_read=10,
        entries_skipped=1,
        skipped_examples=(Problem("a.json:7", "malformed JSON line"),),
        entries_in_window=9,
        clusters=(matched,),
    ))


def test_json_contract():
    data = json.loads(render_json(result()))
    assert data["schema"] == 1
    assert data["window"] == {"from": "2026-11-28T01:00:00Z", "until": "2026-11-28T02:00:00Z"}
    assert data["entries_skipped"] == {"count": 1, "examples": [{"location": "a.json:7", "reason": "malformed JSON line"}]}
    [c] = data["clusters"]
    assert (c["rule"], c["priority"], c["count"], c["severity"]) == ("r-P1", "P1", 3, "ERROR")
    assert c["first_seen"] == "2026-11-28T01:00:00Z" and c["last_seen"] == "2026-11-28T01:00:02Z"
    assert c["services"] == {"api": 2, "web": 1}
    assert c["regions"] == {"us-central1": 3}
    assert (c["status"], c["spike"], c["incident"], c["issue"]) == (None, None, None, None)
    assert data["incidents"] == []
    assert c["samples"][0] == {"timestamp": "2026-11-28T01:00:02Z", "message": "'Foo' object has no attribute 'bar' [2]",
                               "service": "api", "instance": "i0", "severity": "ERROR"}


def test_a_narrow_terminal_still_gets_the_failure_column():
    narrow = render_table(result(), width=30).splitlines()
    assert max(map(len, narrow)) <= 60 and "FAILURE" in narrow[3]
    assert "Missing attribute" in " ".join(narrow)


def test_table_is_plain_80_columns_and_does_not_interpret_markup():
    text = render_table(result())
    assert "\x1b[" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert text.splitlines()[1] == "10 entries read, 1 skipped, 9 in window → 1 cluster"
    wide = render_table(result(), width=160).splitlines()
    assert [line.split() for line in wide[4:6]] == [
        ["P1", "3", "2026-11-28T01:00:00Z", "Missing", "attribute", "(class=Foo,", "attribute=bar)"],
        ["2026-11-28T01:00:02Z", "0123456789", "·", "ERROR", "·", "api×2,", "web×1"],
    ]
    plain = result().result
    hostile = ScanReport(ScanResult(**{**{k: getattr(plain, k) for k in plain.__dataclass_fields__},
                                       "clusters": (Cluster(**{**_fields(plain.clusters[0]), "title": "[bold]x[/bold] [red]"}),)}))
    assert "[bold]x[/bold] [red]" in render_table(hostile, width=160)


def test_markdown_and_csv():
    md = render_markdown(result())
    assert "| P1 | 3 | 2026-11-28T01:00:00Z | 2026-11-28T01:00:02Z | Missing attribute (class=Foo, attribute=bar) | - | `0123456789` |" in md
    assert "| regressed · spike ×6.0 · #7 |" in render_markdown(with_history())
    assert "- **Incident `inc-0123456789`** (P1): Missing attribute (3) → Boom (3)" in render_markdown(with_history())
    rows = list(csv.DictReader(io.StringIO(render_csv(result()))))
    assert rows[0]["status"] == "" and rows[0]["incident"] == ""
    assert rows[0]["priority"] == "P1" and rows[0]["services"] == "api:2;web:1" and rows[0]["count"] == "3"
    assert render(result(), "csv") == render_csv(result())


def with_history() -> ScanReport:
    plain = result().result
    fp = plain.clusters[0].fingerprint
    incident = Incident("inc-0123456789", fp, (fp, "f" * 20), ("i0",), ("api-001",), T0, T0 + timedelta(seconds=2),
                        "Missing attribute (3) → Boom (3)")
    context = {fp: ClusterContext("regressed", True, 12.0, 2.0, incident.id, "https://github.test/o/r/issues/7")}
    return ScanReport(plain, (incident,), context)


def test_json_carries_incidents_and_history():
    data = json.loads(render_json(with_history()))
    assert data["incidents"] == [{
        "id": "inc-0123456789", "priority": "P1", "root": "0123456789abcdef0123", "clusters": ["0123456789abcdef0123", "f" * 20],
        "instances": ["i0"], "revisions": ["api-001"], "first_seen": "2026-11-28T01:00:00Z",
        "last_seen": "2026-11-28T01:00:02Z", "summary": "Missing attribute (3) → Boom (3)",
    }]
    [c] = data["clusters"]
    assert (c["status"], c["spike"], c["rate"], c["baseline_rate"], c["incident"], c["issue"]) == (
        "regressed", True, 12.0, 2.0, "inc-0123456789", "https://github.test/o/r/issues/7")


def test_table_shows_incidents_first_and_history_tags():
    lines = render_table(with_history(), width=120).splitlines()
    assert lines[1].endswith("→ 1 cluster, 1 incident")
    assert lines[3] == "INCIDENT inc-0123456789 · P1 · 2 clusters"
    assert lines[4].split() == ["root", "Missing", "attribute", "(class=Foo,", "attribute=bar)", "(0123456789)"]
    assert "Clusters outside any incident:" not in lines
    rest = ScanReport(with_history().result, (), with_history().context)
    assert "0123456789 · ERROR · api×2, web×1 · regressed · spike ×6.0 · #7" in render_table(rest, width=160)


def test_an_incident_lists_the_members_whose_history_says_more_than_its_roots_status():
    plain = with_history()
    boom = Cluster(**{**_fields(plain.result.clusters[0]), "fingerprint": "f" * 20, "title": "Boom", "rule": None})
    root_context = plain.context[plain.incidents[0].root]
    for member, shown in ((replace(root_context, spike=False, issue=None), None),
                          (ClusterContext("new", False, 3.0, None, plain.incidents[0].id, None), "also   Boom: new")):
        context = {**plain.context, boom.fingerprint: member}
        lines = render_table(ScanReport(replace(plain.result, clusters=(*plain.result.clusters, boom)),
                                        plain.incidents, context), width=120).splitlines()
        assert lines[5].startswith("status regressed · spike ×6.0")
        assert (lines[6] if lines[6].startswith("also") else None) == shown


def test_every_format_redacts_secrets_in_log_text():
    secret = "token=s3cr3tvalue"
    plain = with_history()
    leaky = Cluster(**{**_fields(plain.result.clusters[0]), "title": f"auth failed {secret}", "template": secret,
                       "captures": {"class": secret},
                       "samples": tuple(Sample(s.timestamp, f"{s.message} {secret}", s.service, s.instance)
                                        for s in plain.result.clusters[0].samples)})
    report = ScanReport(replace(plain.result, clusters=(leaky,)),
                        (replace(plain.incidents[0], summary=f"auth failed {secret} (3)"),), plain.context)
    for fmt, mask in (("table", "[REDACTED]"), ("json", "[REDACTED]"), ("markdown", "\\[REDACTED\\]"), ("csv", "[REDACTED]")):
        text = render(report, fmt)
        assert "s3cr3tvalue" not in text and f"token={mask}" in text, fmt


def _titled(title: str, **fields) -> ScanReport:
    """``result()`` whose one cluster has ``title`` as its title and template."""
    plain = result().result
    cluster = Cluster(**{**_fields(plain.clusters[0]), "title": title, "template": title, **fields})
    return ScanReport(replace(plain, clusters=(cluster,)))


@pytest.mark.parametrize(
    ("title", "cell"),
    [
        ("=cmd|' /C calc'!A0 failed", "'=cmd|' /C calc'!A0 failed"),
        ("+SUM(1+1) unexpected value", "'+SUM(1+1) unexpected value"),
        ("-2+3 formula error", "'-2+3 formula error"),
        ('@HYPERLINK("http://evil") bad', '\'@HYPERLINK("http://evil") bad'),
        ("\tTAB first", "'\tTAB first"),
        ("\r=cmd after a carriage return", "'=cmd after a carriage return"),
        ("a=b, -1 and @x inside are fine", "a=b, -1 and @x inside are fine"),
    ],
)
def test_csv_neutralises_formulas_in_log_text(title, cell):
    text = render_csv(_titled(title, services={"=svc": 2, "api": 1}))
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert (row["title"], row["template"], row["services"]) == (cell, cell, "'=svc:2;api:1")
    assert (row["priority"], row["count"], row["first_seen"]) == ("P1", "3", "2026-11-28T01:00:00Z")


def test_control_and_bidi_characters_never_reach_markdown_csv_or_table():
    report = _titled("Error\x07 bell\x00 nul \u202eevil\u202c \u2066iso\u2069 done\x7f", services={"a\u202eb": 3})
    clean = "Error bell nul evil iso done"
    assert f"| {clean} |" in render_markdown(report)
    [row] = list(csv.DictReader(io.StringIO(render_csv(report))))
    assert (row["title"], row["template"], row["services"]) == (clean, clean, "ab:3")
    table = render_table(report, width=160)
    assert clean in table and "ab×3" in table


def test_markdown_cells_render_log_text_literally():
    title = "KeyError in api/__init__.py:__call__ `x` **b** [l](http://x) ![i](http://y) ~~s~~ snake_case &amp; <br>"
    row = render_markdown(_titled(title)).splitlines()[-1]
    assert row == (
        "| P1 | 3 | 2026-11-28T01:00:00Z | 2026-11-28T01:00:02Z | KeyError in api/\\_\\_init\\_\\_.py:\\_\\_call\\_\\_ "
        "\\`x\\` \\*\\*b\\*\\* \\[l\\](http://x) !\\[i\\](http://y) \\~\\~s\\~\\~ snake_case &amp;amp; &lt;br&gt; | - | `0123456789` |"
    )


@pytest.fixture
def new_york(monkeypatch):
    """This machine's time zone is New York's (EDT, UTC-04:00, until 2026-11-01 06:00Z; EST, UTC-05:00, after)."""
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize(
    ("start", "end", "local"),
    [
        (datetime(2026, 7, 1, 11, tzinfo=timezone.utc), datetime(2026, 7, 1, 12, tzinfo=timezone.utc), "(local UTC-04:00)"),
        (datetime(2026, 12, 1, 11, tzinfo=timezone.utc), datetime(2026, 12, 1, 12, tzinfo=timezone.utc), "(local UTC-05:00)"),
        (datetime(2026, 10, 31, tzinfo=timezone.utc), datetime(2026, 11, 2, tzinfo=timezone.utc), "(local UTC-04:00 → UTC-05:00)"),
        # the window ends (exclusive) at 07:00Z, when EDT begins: all of it is EST
        (datetime(2026, 3, 8, tzinfo=timezone.utc), datetime(2026, 3, 8, 7, tzinfo=timezone.utc), "(local UTC-05:00)"),
    ],
)
def test_the_local_offset_is_the_one_of_the_windows_times(new_york, start, end, local):
    report = replace(result(), result=replace(result().result, window=Window(start, end)))
    assert render_table(report).splitlines()[0].endswith(local)
    assert local in render_markdown(report).splitlines()[0]
