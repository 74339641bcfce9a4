"""The server-side Cloud Logging filter: exact text per option, and what it keeps out (via the fake's evaluator)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from fake_logging import compile_filter, run_entry
from triage.errors import UsageError
from triage.gcp_filter import MAX_FILTER_CHARS, build_filter, closed_window
from triage.model import Severity, Window

START = datetime(2026, 3, 1, 11, 0, tzinfo=timezone.utc)
END = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
WINDOW = Window(START, END)
BOUNDS = 'timestamp>="2026-03-01T11:00:00Z" AND timestamp<"2026-03-01T12:00:00Z"'
FIELDS = ("textPayload", "jsonPayload.message", "jsonPayload.msg", "jsonPayload.textPayload", "jsonPayload.event")


def _per_field(terms: str) -> str:
    """``terms`` written for textPayload, repeated for every field a message can be in."""
    return " OR ".join(terms.replace("textPayload", field) for field in FIELDS)


TEXT_TERMS = (
    'textPayload:"Traceback (most recent call last)" OR textPayload:"File \\"" OR '
    'textPayload:"During handling of the above exception" OR textPayload:"The above exception was the direct cause"'
)
ERROR_MARKERS = (
    'textPayload:"| ERROR |" OR textPayload:" - ERROR - " OR textPayload:"[ERROR]" OR '
    'textPayload:"| CRITICAL |" OR textPayload:" - CRITICAL - " OR textPayload:"[CRITICAL]"'
)
TRACEBACK_REGEXES = (
    'textPayload=~"^\\\\s" OR '
    'textPayload=~"^([A-Za-z_]\\\\w*\\\\.)*[A-Za-z_]\\\\w*(Error|Exception|Exit|Interrupt|Warning|Failure|Timeout)(:|$)"'
)


def test_default_scope():
    assert build_filter(WINDOW, min_severity=Severity.ERROR) == (
        f'{BOUNDS} AND resource.type="cloud_run_revision" AND '
        f"(severity>=ERROR OR severity=DEFAULT OR {_per_field(f'{TEXT_TERMS} OR {ERROR_MARKERS}')} OR "
        f"{_per_field(TRACEBACK_REGEXES)})"
    )


def test_years_below_1000_have_four_digits():
    window = Window(datetime(999, 1, 1, tzinfo=timezone.utc), datetime(999, 1, 1, 0, 0, 0, 5, tzinfo=timezone.utc))
    assert build_filter(window, min_severity=Severity.DEFAULT, resource_type=None) == (
        'timestamp>="0999-01-01T00:00:00Z" AND timestamp<"0999-01-01T00:00:00.000005Z"'
    )


def test_services_resource_type_and_user_filter():
    text = build_filter(WINDOW, ("worker", "api"), Severity.DEFAULT, "cloud_run_revision", 'logName:"stderr" OR x=1')
    assert text == (
        f'{BOUNDS} AND resource.type="cloud_run_revision" AND '
        'resource.labels.service_name=("api" OR "worker") AND (logName:"stderr" OR x=1)'
    )


@pytest.mark.parametrize(("resource_type", "term"), [
    ("cloud_run_job", 'resource.labels.job_name="migrate"'),  # a job has no service_name label
    (None, '(resource.labels.service_name="migrate" OR resource.labels.job_name="migrate")'),
    ("k8s_container", '(resource.labels.service_name="migrate" OR resource.labels.job_name="migrate")'),
])
def test_a_service_filter_names_a_cloud_run_job_by_its_job_name(resource_type, term):
    assert build_filter(WINDOW, ("migrate",), Severity.DEFAULT, resource_type).endswith(f" AND {term}")


@pytest.mark.parametrize("extra", [
    "a) OR (b",
    "(a OR b",
    'textPayload:"cut',
    '-- (\nseverity>=ERROR) OR (true -- )\nAND textPayload:"x"',  # balanced only if the API ignored comments
    "severity>=ERROR -- ) OR (true",  # balanced only if the API read the comment as query
])
def test_a_user_filter_that_could_escape_its_parentheses_is_refused(extra):
    with pytest.raises(UsageError, match=r"^--filter must balance its parentheses and quotes"):
        build_filter(WINDOW, extra=extra)


def test_parentheses_and_escaped_quotes_inside_quoted_strings_do_not_count():
    extra = r'textPayload:"a) OR (b \" -- )" AND (severity=ERROR)'
    assert build_filter(WINDOW, extra=extra).endswith(f" AND ({extra})")


def test_a_comment_in_the_user_filter_cannot_swallow_the_closing_parenthesis():
    assert build_filter(WINDOW, extra="severity>=ERROR -- only errors").endswith(
        " AND (severity>=ERROR -- only errors\n)")


def test_one_service_no_resource_type_and_quoting():
    text = build_filter(WINDOW, ('we"ird\\name',), Severity.DEFAULT, None)
    assert text == (f'{BOUNDS} AND (resource.labels.service_name="we\\"ird\\\\name"'
                    ' OR resource.labels.job_name="we\\"ird\\\\name")')
    assert compile_filter(text)(run_entry("2026-03-01T11:30:00Z", "x", service='we"ird\\name'))


def test_fractional_bounds_keep_microseconds():
    window = Window(START + timedelta(microseconds=500), END)
    assert build_filter(window, min_severity=Severity.DEFAULT, resource_type=None).startswith(
        'timestamp>="2026-03-01T11:00:00.000500Z" AND'
    )


def test_open_window_is_refused_and_closed_window_fills_both_bounds():
    with pytest.raises(ValueError):
        build_filter(Window(START, None))
    assert closed_window(Window(None, None), timedelta(hours=1), END) == WINDOW
    assert closed_window(Window(START, None), timedelta(days=9), END) == WINDOW
    assert closed_window(Window(None, END), timedelta(minutes=30), END + timedelta(days=1)) == Window(
        END - timedelta(minutes=30), END
    )


def test_filter_stays_well_under_the_limit_and_a_huge_one_is_refused():
    services = tuple(f"service-{i}" for i in range(20))
    assert len(build_filter(WINDOW, services, Severity.INFO)) < 5000  # the text terms, on each of the 4 fields a message can be in
    with pytest.raises(UsageError, match="limit is 20000"):
        build_filter(WINDOW, extra="x" * MAX_FILTER_CHARS)


def _kept(text: str, entries: dict[str, dict]) -> set[str]:
    keep = compile_filter(text)
    return {name for name, entry in entries.items() if keep(entry)}


def test_the_filter_keeps_candidates_and_keeps_out_the_rest():
    at = "2026-03-01T11:30:00Z"
    entries = {
        "json error": run_entry(at, payload={"message": "db down"}, severity="ERROR"),
        "json warning": run_entry(at, payload={"message": "slow"}, severity="WARNING"),
        "json info": run_entry(at, payload={"message": "ok", "error": {"message": "Missing field"}}, severity="INFO"),
        "loguru error on stderr (DEFAULT)": run_entry(at, "2026-03-01 11:30:00.1 | ERROR | app:run:3 | boom"),
        "loguru info on stderr (DEFAULT)": run_entry(at, "2026-03-01 11:30:00.1 | INFO | app:run:3 | hello"),
        "traceback frame (DEFAULT)": run_entry(at, '  File "/app/main.py", line 3, in run'),
        "traceback header tagged INFO": run_entry(at, "Traceback (most recent call last):", severity="INFO", log="stdout"),
        "gunicorn error tagged INFO": run_entry(at, "[2026-03-01 11:30:00 +0000] [7] [ERROR] Worker exited", severity="INFO"),
        "request 503": run_entry(at, severity="ERROR", log="requests", http={"status": 503}),
        "request 200": run_entry(at, severity="INFO", log="requests", http={"status": 200}),
        "other service": run_entry(at, "x", severity="ERROR", service="billing"),
        "other resource type": run_entry(at, "x", severity="ERROR", resource_type="gce_instance"),
        "before the window": run_entry("2026-03-01T10:59:59Z", "x", severity="ERROR"),
        "after the window": run_entry("2026-03-01T12:00:01Z", "x", severity="ERROR"),
        "on the start bound": run_entry("2026-03-01T11:00:00Z", "x", severity="CRITICAL"),
        "on the end bound (exclusive)": run_entry("2026-03-01T12:00:00Z", "x", severity="CRITICAL"),
    }
    kept = _kept(build_filter(WINDOW, ("api",), Severity.WARNING), entries)
    assert kept == {
        "json error", "json warning", "loguru error on stderr (DEFAULT)", "loguru info on stderr (DEFAULT)",
        "traceback frame (DEFAULT)", "traceback header tagged INFO", "gunicorn error tagged INFO", "request 503",
        "on the start bound",
    }
    strict = _kept(build_filter(WINDOW, ("api",), Severity.ERROR), entries)
    assert kept - strict == {"json warning"}
    everything = _kept(build_filter(WINDOW, (), Severity.DEFAULT, None), entries)
    assert everything == set(entries) - {"before the window", "after the window", "on the end bound (exclusive)"}


def test_rule_conditions_on_requests_fetch_slow_and_failing_requests_at_any_severity():
    from triage.rules import load_rules

    text = build_filter(WINDOW, min_severity=Severity.WARNING, requests=load_rules().request_specs)
    assert text.endswith(' OR (httpRequest.status>=500 AND httpRequest.status<=599) OR httpRequest.latency>="5s")')
    keep = compile_filter(text)
    at = "2026-03-01T11:30:00Z"
    slow = run_entry(at, severity="INFO", log="requests", http={"status": 200, "latency": "12.5s"})
    fast = run_entry(at, severity="INFO", log="requests", http={"status": 200, "latency": "0.25s"})
    failed = run_entry(at, severity="INFO", log="requests", http={"status": 502, "latency": "0.1s"})
    assert keep(slow) and keep(failed) and not keep(fast)


def test_closed_window_before_year_one_is_a_usage_error():
    with pytest.raises(UsageError, match="before year 1"):
        closed_window(Window(None, datetime(1, 1, 2, tzinfo=timezone.utc)), timedelta(days=3), END)


@pytest.mark.parametrize(
    "window",
    [Window(END + timedelta(days=1), None),  # --from tomorrow: upside down once "now" ends it
     Window(None, END + timedelta(hours=3)),  # --until 3 h ahead (a local time taken for UTC): all of it ahead
     Window(END, END + timedelta(hours=1))],
)
def test_a_window_that_starts_at_now_or_later_is_a_usage_error_not_an_all_clear(window):
    with pytest.raises(UsageError, match=r"^the window starts at .*, not before now \(2026-03-01T12:00:00Z\): Cloud "
                                         r"Logging holds nothing there yet \(a time without an offset is UTC\)$"):
        closed_window(window, timedelta(hours=1), END)
    assert closed_window(Window(None, END + timedelta(minutes=30)), timedelta(hours=1), END).start < END


def test_a_window_after_an_anchoring_now_but_before_the_clock_is_pulled():
    """--now anchors only what it ends; a past window after it still holds entries."""
    window = Window(END + timedelta(hours=1), END + timedelta(hours=2))
    assert closed_window(window, timedelta(hours=1), END, present=END + timedelta(days=1)) == window
