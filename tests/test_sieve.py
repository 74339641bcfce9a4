"""The sieve: a record it calls quiet is one the full way (entry, stitching, floor, request rules) would drop."""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURES, SHARED
from triage.entries import to_entry
from triage.model import Severity
from triage.rules import load_rules
from triage.scan import ScanOptions, scan
from triage.sieve import Sieve
from triage.sources import Record
from triage.sources.files import read_file
from triage.stitch import _shape

RULES = load_rules()
FLOORS = [Severity.DEBUG, Severity.INFO, Severity.WARNING, Severity.ERROR, Severity.CRITICAL]
REQUESTS = "projects/p/logs/run.googleapis.com%2Frequests"
STDERR = "projects/p/logs/run.googleapis.com%2Fstderr"
STDOUT = "projects/p/logs/run.googleapis.com%2Fstdout"

# Records the sieve must send the full way at the WARNING floor, each for its own reason.
LOUD = {
    "traceback in an INFO error object": {"severity": "INFO", "logName": STDERR, "jsonPayload": {
        "message": "request failed", "error": {"type": "ValueError", "traceback": "Traceback (most recent call last):\n  x"}}},
    "traceback beside the message": {"logName": STDERR, "jsonPayload": {
        "message": "request failed", "exc_info": "Traceback (most recent call last):\n  x\nValueError: bad"}},
    "traceback without a message": {"logName": STDERR, "jsonPayload": {
        "event": "request failed", "exception": "Traceback (most recent call last):\n  x\nValueError: bad"}},
    "error object without text": {"severity": "INFO", "jsonPayload": {"error": {"type": "KeyError", "value": "'id'"}}},
    "error object beside a text": {"severity": "INFO", "logName": STDERR, "jsonPayload": {
        "message": "request failed", "error": {"type": "KeyError", "value": "'id'", "traceback": None}}},
    "header at INFO": {"severity": "INFO", "logName": STDERR, "textPayload": "Traceback (most recent call last):"},
    "frame at INFO": {"severity": "INFO", "logName": STDERR, "textPayload": '  File "/app/x.py", line 3, in f'},
    "exception line at INFO": {"severity": "INFO", "logName": STDERR, "textPayload": "ValueError: bad input"},
    "loguru frame": {"severity": "INFO", "logName": STDERR, "textPayload": '> File "/app/x.py", line 3, in f'},
    "joiner at INFO": {"severity": "INFO", "logName": STDERR,
                       "textPayload": "During handling of the above exception, another exception occurred:"},
    "ANSI-coloured level": {"logName": STDERR, "textPayload": "\x1b[31mERROR\x1b[0m lost connection"},
    "loguru markup": {"logName": STDERR, "textPayload": "<red>boom</red> happened"},
    "second line is a header": {"logName": STDERR, "textPayload": "request failed\nTraceback (most recent call last):"},
    "level word in the text": {"logName": STDERR, "textPayload": "2026-11-28 01:00:00,000 - api - WARNING - slow"},
    "gunicorn error": {"logName": STDERR, "textPayload": "[2026-11-28 01:00:00 +0000] [7] [ERROR] Worker failed"},
    "nginx crit": {"logName": STDERR, "textPayload": "2026/11/28 01:00:00 [crit] 12#12: *1 SSL_do_handshake() failed"},
    "nginx emerg": {"logName": STDERR, "textPayload": "2026/11/28 01:00:00 [emerg] 1#1: bind() to 0.0.0.0:80 failed"},
    "INFO word before a traceback": {"logName": STDERR,
                                     "textPayload": "INFO retry failed\nTraceback (most recent call last):\n  x"},
    "SystemExit": {"logName": STDERR, "textPayload": "worker 7: SystemExit: 3"},
    "level inside the payload": {"logName": STDERR, "jsonPayload": {"message": "disk nearly full", "level": "warning"}},
    "levelname inside the payload": {"logName": STDERR, "jsonPayload": {"message": "disk nearly full", "levelname": "WARNING"}},
    "5xx request": {"severity": "INFO", "logName": REQUESTS, "httpRequest": {"status": 503, "latency": "0.1s"}},
    "slow request": {"severity": "INFO", "logName": REQUESTS, "httpRequest": {"status": 200, "latency": "31.5s"}},
    "snake_case dump": {"severity": "INFO", "text_payload": "fine", "log_name": STDERR},
    "audit log": {"severity": "INFO", "logName": STDERR, "protoPayload": {"status": {"message": "PERMISSION_DENIED"}}},
    "payload without text": {"severity": "INFO", "logName": STDERR, "jsonPayload": {"action": "x"}},
    "request summary shaped like an exception line": {
        "severity": "INFO", "logName": REQUESTS, "httpRequest": {"requestUrl": "Foo_Error: boom", "status": 200}},
    "request method shaped like an exception line": {
        "severity": "INFO", "logName": REQUESTS, "httpRequest": {"requestMethod": "KeyError:", "status": 200}},
    "request latency with an indented line": {"severity": "INFO", "logName": REQUESTS, "httpRequest": {
        "requestMethod": "GET", "requestUrl": "/", "status": 200, "latency": "\n  0.1s"}},
    "payload dump beside an empty request": {"severity": "DEBUG", "logName": STDERR, "httpRequest": {},
                                             "jsonPayload": {"a": "Traceback (most recent call last):"}},
}
QUIET = {
    "request": {"severity": "INFO", "logName": REQUESTS, "httpRequest": {"status": 200, "latency": "0.120s"}},
    "access line": {"logName": STDERR, "textPayload": '203.0.113.7:5000 - "GET /health HTTP/1.1" 200'},
    "INFO chatter": {"severity": "INFO", "logName": STDERR, "jsonPayload": {"message": "Session refreshed for u-1"}},
    "stdlib INFO": {"logName": STDERR, "textPayload": "2026-11-28 01:00:00,000 - auth - INFO - Session refreshed"},
    "nginx notice": {"logName": STDERR, "textPayload": "2026/11/28 01:00:00 [notice] 1#1: start worker processes"},
    "Missing field at INFO": {"severity": "INFO", "logName": STDERR,
                              "jsonPayload": {"message": "Thread list served", "error": {"message": "Missing field"}}},
    "error flag at INFO": {"severity": "INFO", "logName": STDERR,
                           "jsonPayload": {"message": "Thread list served", "error": {"value": False, "type": None}}},
}


def _records(*paths) -> list[dict]:
    return [record.data for path in paths for record in read_file(str(path)) if isinstance(record, Record)]


def _dropped_by_the_full_way(data: dict, floor: Severity) -> bool:
    entry = to_entry(data)
    return entry.severity < floor and not _shape(entry).candidate and not RULES.needs_below_floor(entry)


def _check(records: list[dict], floor: Severity) -> int:
    sieve = Sieve(floor, RULES)
    quiet = [data for data in records if sieve.quiet(data)]
    wrong = [data for data in quiet if not _dropped_by_the_full_way(data, floor)]
    assert wrong == []
    return len(quiet)


@pytest.mark.parametrize("floor", FLOORS, ids=lambda f: f.name)
def test_quiet_fixture_records_are_dropped_by_the_full_way(floor):
    records = _records(*sorted(p for p in FIXTURES.iterdir() if p.is_file()))
    quiet = _check(records, floor)
    if floor is Severity.WARNING:
        assert quiet > len(records) / 3  # the request logs and INFO chatter of the sample


@pytest.mark.parametrize("floor", FLOORS, ids=lambda f: f.name)
def test_quiet_dev_export_records_are_dropped_by_the_full_way(floor):
    dev = SHARED / "netra" / "dev"
    if not dev.is_dir():
        pytest.skip("../shared is absent")
    _check(_records(*sorted(dev.iterdir())), floor)


@pytest.mark.parametrize("floor", FLOORS, ids=lambda f: f.name)
def test_made_up_records_keep_the_property(floor):
    _check([*LOUD.values(), *QUIET.values()], floor)


@pytest.mark.parametrize("name", LOUD)
def test_loud_records_take_the_full_way(name):
    assert not Sieve(Severity.WARNING, RULES).quiet(LOUD[name])


@pytest.mark.parametrize("name", QUIET)
def test_healthy_records_are_only_counted(name):
    assert Sieve(Severity.WARNING, RULES).quiet(QUIET[name])


def test_a_critical_floor_still_sends_errors_to_stitching():
    sieve = Sieve(Severity.CRITICAL, RULES)
    assert not sieve.quiet({"severity": "ERROR", "logName": STDERR, "textPayload": "lost connection"})
    assert sieve.quiet({"severity": "WARNING", "logName": STDERR, "textPayload": "retrying in 5s"})


def test_no_floor_means_nothing_is_quiet():
    assert not Sieve(Severity.DEFAULT, RULES).quiet(QUIET["request"])


def _clusters(records: list[dict], floor: Severity, monkeypatch=None) -> list[tuple]:
    def source(_spec):
        return (Record("test", i, data) for i, data in enumerate(records))

    if monkeypatch is not None:
        monkeypatch.setattr(Sieve, "quiet", lambda self, data: False)
    result = scan(ScanOptions(("test",), min_severity=floor), RULES, source)
    return sorted((c.fingerprint, c.count, tuple(s.message for s in c.samples)) for c in result.clusters)


def _line(text: str, severity: str = "ERROR", log: str = STDERR, at: str | None = None) -> dict:
    record = {"severity": severity, "logName": log, "textPayload": text}
    return record if at is None else {**record, "timestamp": f"2026-11-28T01:{at}Z"}


HEADER, FRAME, RAISED = "Traceback (most recent call last):", '  File "app.py", line 3, in f', "KeyError: 'x'"
STITCHING_CASES = {
    "a request line cuts a run in two": [
        _line(HEADER, at="00:00"), _line(FRAME, at="00:00"),
        {"timestamp": "2026-11-28T01:00:00Z", "severity": "INFO", "logName": STDERR,
         "httpRequest": {"requestUrl": "Foo_Error: boom", "status": 200}}],
    "quiet lines set the direction of equal-time runs": [
        *(_line("request ok", "INFO", at=f"00:{s}") for s in ("30", "20", "10")),
        _line('  File "a.py", line 1, in g', at="00:05"), _line('  File "b.py", line 1, in g', at="00:05")],
    "more quiet lines than a run may wait for": [
        _line(HEADER), *[_line("request done", "INFO", STDOUT)] * 2001, _line(FRAME), _line(RAISED)],
    "a quiet line far later ends a stale run": [
        _line(HEADER, at="00:00"), _line("request done", "INFO", STDOUT, at="05:00"),
        _line(FRAME, at="00:00.1"), _line(RAISED, at="00:00.1")],
}


@pytest.mark.parametrize("case", STITCHING_CASES)
def test_the_sieve_changes_no_event(case, monkeypatch):
    records = STITCHING_CASES[case]
    assert _clusters(records, Severity.WARNING) == _clusters(records, Severity.WARNING, monkeypatch)


def test_the_sieve_changes_no_cluster_of_the_sample(monkeypatch):
    records = _records(FIXTURES / "sample.json")
    assert _clusters(records, Severity.WARNING) == _clusters(records, Severity.WARNING, monkeypatch)


def test_quiet_lines_end_a_pending_traceback_as_fed_ones_do(cli, tmp_path):
    """Stitching does not depend on the floor: an INFO line of the same stream ends a pending run whether
    the scan builds it into an entry (floor INFO) or only counts it (floor WARNING)."""
    lines = [("DEFAULT", "Traceback (most recent call last):"), ("DEFAULT", '  File "/app/api/x.py", line 3, in f'),
             ("INFO", "request served"), ("DEFAULT", '  File "/app/api/y.py", line 9, in g'),
             ("DEFAULT", "ValueError: bad input")]
    path = tmp_path / "split.ndjson"
    path.write_text("".join(
        json.dumps({"timestamp": f"2026-11-28T01:00:00.00000{i}Z", "severity": severity, "textPayload": text,
                    "logName": STDERR, "labels": {"instanceId": "i1"}}) + "\n"
        for i, (severity, text) in enumerate(lines)))

    def error_clusters(floor: str) -> list[tuple]:
        result = cli("scan", "-s", path, "--no-state", "--format", "json", "--min-severity", floor)
        assert result.exit_code == 0, result.output
        clusters = json.loads(result.stdout)["clusters"]
        return sorted((c["fingerprint"], c["count"]) for c in clusters if c["severity"] in ("ERROR", "CRITICAL"))

    assert len(error_clusters("WARNING")) == 2  # the run was cut by the INFO line: two events
    assert error_clusters("WARNING") == error_clusters("INFO")


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]], ids=["ascending", "descending", "shuffled"])
def test_the_span_of_the_entries_read_runs_from_the_first_time_to_the_last_in_any_order(order):
    seconds = ["00.5", "01.5", "02.5", "03.5"]
    records = [_line(f"served request {i}", "INFO", at=f"00:{seconds[i]}") for i in order]
    records.insert(2, _line("lost connection", at="00:02"))  # a failure between them, taken the full way

    def source(_spec):
        return (Record("test", i, data) for i, data in enumerate(records))

    span = scan(ScanOptions(("test",)), RULES, source).entries_span
    assert (span.start.isoformat(), span.end.isoformat()) == (
        "2026-11-28T01:00:00.500000+00:00", "2026-11-28T01:00:03.500000+00:00"
    )
