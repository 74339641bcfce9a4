"""Cloud Logging source: the real google-cloud-logging client against the loopback fake of entries.list."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fake_logging import DROP, PROXY_PAGE, FakeLogging, Raw, run_entry
from triage.errors import SourceError
from triage.sources import Record, Truncated
from triage.sources.gcp import Backoff, Pull, RequestPacer, default_project, endpoint, make_client, pull

NOW = "2026-03-01T12:00:00Z"
FILTER = 'timestamp>="2026-03-01T00:00:00Z" AND timestamp<"2026-03-01T12:00:00Z"'


class FakeTime:
    """A clock that only moves when slept on: records every sleep, never waits."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def numbered(count: int) -> list[dict]:
    return [run_entry(f"2026-03-01T{10 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z", f"event {i}", severity="ERROR")
            for i in range(count)]


@pytest.fixture
def env(monkeypatch, tmp_path):
    """No project, credentials or gcloud configuration from the machine leak into a test."""
    for name in ("GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT", "TRIAGE_LOGGING_ENDPOINT",
                 "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_ACTIVE_CONFIG_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def run_pull(fake: FakeLogging, request: Pull, time: FakeTime | None = None, **kwargs) -> list:
    time = time or FakeTime()
    client = make_client(request.project, {"TRIAGE_LOGGING_ENDPOINT": fake.url})
    return list(pull(request, client, pacer=RequestPacer(clock=time.clock, sleep=time.sleep),
                     backoff=Backoff(sleep=time.sleep, rng=random.Random(7)), api_url=fake.url, **kwargs))


def test_every_page_is_followed_including_an_empty_page_with_a_token():
    with FakeLogging(numbered(2500)) as fake:
        fake.empty_page_at.add(1000)
        pages: list[tuple[int, int]] = []
        records = run_pull(fake, Pull("test-proj", FILTER), on_page=lambda e, p: pages.append((e, p)))
    assert [r.data["textPayload"] for r in records] == [f"event {i}" for i in range(2500)]
    assert records[0] == Record("gcp:test-proj", 1, fake.entries[0], "#")
    assert [r.get("pageToken") for r in fake.requests] == [None, "t1000", "e1000", "t2000"]
    assert pages == [(1000, 1), (1000, 2), (2000, 3), (2500, 4)]
    first = fake.requests[0]
    assert (first["resourceNames"], first["filter"], first["orderBy"], first["pageSize"]) == (
        ["projects/test-proj"], FILTER, "timestamp asc", 1000)


def test_429_backs_off_and_resumes_from_the_same_page_token():
    time = FakeTime()
    with FakeLogging(numbered(2100)) as fake:
        requests = fake.requests
        original = fake.answer

        def answer(body):  # two 429s for the second page only
            if body.get("pageToken") == "t1000" and sum(r.get("pageToken") == "t1000" for r in requests) < 2:
                fake.faults.append(429)
            return original(body)

        fake.answer = answer
        records = run_pull(fake, Pull("test-proj", FILTER), time)
    assert [r.get("pageToken") for r in requests] == [None, "t1000", "t1000", "t1000", "t2000"]
    assert len(records) == 2100 and len({r.data["insertId"] for r in records}) == 2100
    backoffs = [s for s in time.sleeps if s >= 0.5]
    assert len(backoffs) == 2 and 0.5 <= backoffs[0] <= 1.0 and 1.0 <= backoffs[1] <= 2.0


def test_endless_429_gives_up_with_the_count_fetched():
    time = FakeTime()
    with FakeLogging(numbered(1500)) as fake:
        original = fake.answer
        fake.answer = lambda body: (fake.faults.append(429) if body.get("pageToken") else None) or original(body)
        with pytest.raises(SourceError) as caught:
            run_pull(fake, Pull("test-proj", FILTER), time)
    assert str(caught.value) == (
        "Cloud Logging quota exhausted for project test-proj (429): Quota exceeded for quota metric 'Read requests' "
        "and limit 'Read requests per minute'; gave up after 6 retries (after 1,000 entries in 1 page; no partial report)"
    )
    assert len(fake.requests) == 8


def test_server_errors_and_a_dropped_connection_mid_pull_are_retried_from_the_same_page_token():
    time = FakeTime()
    with FakeLogging(numbered(2100)) as fake:
        original = fake.answer
        faults = [500, 502, 504, DROP]

        def answer(body):  # the second page fails four ways before it is served
            if body.get("pageToken") == "t1000" and faults:
                fake.faults.append(faults.pop(0))
            return original(body)

        fake.answer = answer
        retries: list[str] = []
        records = run_pull(fake, Pull("test-proj", FILTER), time, on_retry=retries.append)
    assert [r.get("pageToken") for r in fake.requests] == [None] + ["t1000"] * 5 + ["t2000"]
    assert [r.data["textPayload"] for r in records] == [f"event {i}" for i in range(2100)]
    assert retries == [  # said as they happen: a wait of up to a minute is no silence
        "Cloud Logging answered 500: retrying (1 of 6)", "Cloud Logging answered 502: retrying (2 of 6)",
        "Cloud Logging answered 504: retrying (3 of 6)", "Cloud Logging dropped the connection: retrying (4 of 6)",
    ]


def test_a_connection_dropped_before_any_answer_is_not_retried():
    """A wrong endpoint fails at once instead of after a minute of backoff."""
    time = FakeTime()
    with FakeLogging(numbered(10)) as fake:
        fake.faults.append(DROP)
        with pytest.raises(SourceError, match=r"^cannot reach Cloud Logging at http://127\.0\.0\.1:\d+: network error$"):
            run_pull(fake, Pull("test-proj", FILTER), time)
    assert len(fake.requests) == 1 and not [s for s in time.sleeps if s >= 0.5]


def test_an_answer_that_is_not_the_apis_json_is_one_line():
    with FakeLogging(numbered(10)) as fake:
        fake.faults.append(PROXY_PAGE)
        with pytest.raises(SourceError) as caught:
            run_pull(fake, Pull("test-proj", FILTER))
    assert str(caught.value) == (
        f"Cloud Logging at {fake.url} answered with something other than the API's JSON (a proxy's page?)")


def test_a_token_refresh_that_cannot_reach_google_names_the_token_service():
    from google.auth.exceptions import TransportError

    class Api:
        def api_request(self, *args, **kwargs):
            raise TransportError("HTTPSConnectionPool(host='oauth2.googleapis.com'): Name or service not known")

    class Client:
        logging_api = Api()

    with pytest.raises(SourceError) as caught:
        list(pull(Pull("test-proj", FILTER), Client(), pacer=RequestPacer(clock=lambda: 0.0, sleep=lambda s: None)))
    assert str(caught.value) == "cannot reach Google's token service to refresh the credentials: DNS lookup failed"


def failing_on_page_two(error: Exception) -> tuple[object, list]:
    """A client whose logging API answers one page of one entry, then raises ``error``; and its list of calls."""
    calls = []

    class Api:
        def api_request(self, *args, **kwargs):
            calls.append(kwargs)
            if len(calls) == 1:
                return {"entries": [{"insertId": "a", "timestamp": "2026-03-01T11:00:00Z"}], "nextPageToken": "t1"}
            raise error

    class Client:
        logging_api = Api()

    return Client(), calls


@pytest.mark.parametrize("timeout", ["ReadTimeout", "ConnectTimeout"])
def test_a_timeout_mid_pull_is_not_retried(timeout):
    """Each try already waited a minute: retrying would hold the on-call engineer for several more."""
    import requests

    client, calls = failing_on_page_two(getattr(requests, timeout)("timed out"))
    waits: list[float] = []
    with pytest.raises(SourceError) as caught:
        list(pull(Pull("test-proj", FILTER), client, pacer=RequestPacer(clock=lambda: 0.0, sleep=lambda s: None),
                  backoff=Backoff(sleep=waits.append), api_url="https://logging.example"))
    assert str(caught.value) == (
        "Cloud Logging at https://logging.example did not answer in time (after 1 entry in 1 page; no partial report)")
    assert len(calls) == 2 and waits == []


def test_an_empty_next_page_token_ends_the_pull():
    with FakeLogging(numbered(10)) as fake:
        original = fake.answer
        fake.answer = lambda body: (lambda status, page: (status, {**page, "nextPageToken": ""}))(*original(body))
        records = run_pull(fake, Pull("test-proj", FILTER))
    assert len(records) == 10 and len(fake.requests) == 1


@pytest.mark.parametrize("value", ["user:hunter2@127.0.0.1:9", "ftp://127.0.0.1", "http://", "http://h:port"])
def test_an_endpoint_that_is_no_http_url_is_one_line_without_its_password(value):
    with pytest.raises(SourceError) as caught:
        endpoint({"TRIAGE_LOGGING_ENDPOINT": value})
    assert str(caught.value) == (
        "TRIAGE_LOGGING_ENDPOINT is not an http:// or https:// URL with a host (such as https://logging.googleapis.com)")


def test_an_endpoint_with_blanks_around_it_is_still_plain_http():
    def refuse(environ):
        raise AssertionError("credentials looked up for a plain-HTTP endpoint")

    client = make_client("p", {"TRIAGE_LOGGING_ENDPOINT": " http://127.0.0.1:9 "}, credentials_finder=refuse)
    assert type(client._credentials).__name__ == "AnonymousCredentials"


def test_max_entries_stops_early_and_says_so():
    with FakeLogging(numbered(2500)) as fake:
        records = run_pull(fake, Pull("test-proj", FILTER, max_entries=1200))
    assert len(records) == 1201 and records[-1] == Truncated(
        "gcp:test-proj", "stopped at --max-entries 1200 (the newest); more entries match")
    assert [records[0].data["textPayload"], records[-2].data["textPayload"]] == ["event 2499", "event 1300"]
    assert fake.requests[0]["orderBy"] == "timestamp desc"
    assert len(fake.requests) == 2
    with FakeLogging(numbered(700)) as fake:
        records = run_pull(fake, Pull("test-proj", FILTER, max_entries=700))
    assert len(records) == 700 and not any(isinstance(r, Truncated) for r in records)
    assert fake.requests[0]["pageSize"] == 700


def test_pacer_keeps_a_long_pull_under_the_quota():
    time = FakeTime()
    pacer = RequestPacer(per_minute=50, burst=5, clock=time.clock, sleep=time.sleep)
    starts = []
    for _ in range(200):
        pacer.wait()
        starts.append(time.now)
    busiest = max(sum(1 for t in starts if s <= t < s + 60) for s in starts)
    assert busiest <= 55
    assert starts[4] == starts[0]  # the burst goes out at once


def test_backoff_is_exponential_jittered_and_capped():
    time = FakeTime()
    backoff = Backoff(base=1, cap=8, sleep=time.sleep, rng=random.Random(1))
    for retry in range(6):
        backoff.pause(retry)
    for retry, slept in enumerate(time.sleeps):
        ceiling = min(8, 2**retry)
        assert ceiling / 2 <= slept <= ceiling
    assert len(set(time.sleeps)) == 6


def test_default_project_from_env_then_gcloud_configuration(tmp_path):
    config = tmp_path / "gcloud"
    (config / "configurations").mkdir(parents=True)
    (config / "configurations" / "config_work.ini").write_text("[core]\naccount = a@b.c\nproject = from-gcloud\n")
    (config / "active_config").write_text("work\n")
    assert default_project({"CLOUDSDK_CONFIG": str(config)}) == "from-gcloud"
    assert default_project({"CLOUDSDK_CONFIG": str(config), "CLOUDSDK_ACTIVE_CONFIG_NAME": "other"}) is None
    assert default_project({"CLOUDSDK_CONFIG": str(config), "CLOUDSDK_CORE_PROJECT": "core"}) == "core"
    assert default_project({"CLOUDSDK_CONFIG": str(config), "GOOGLE_CLOUD_PROJECT": "g", "CLOUDSDK_CORE_PROJECT": "c"}) == "g"
    assert default_project({"CLOUDSDK_CONFIG": str(tmp_path / "none")}) is None


# --- through the CLI ---------------------------------------------------------------------------------------------

def scan_json(cli, *args):
    result = cli("scan", "--now", NOW, "--format", "json", "--no-state", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result


def _pulled_as_exported(cli, env, tmp_path, entries: list[dict]) -> dict:
    """The scan of ``entries`` pulled from the fake Cloud Logging, checked to give the clusters their export gives."""
    with FakeLogging(entries) as server:
        env.setenv("TRIAGE_LOGGING_ENDPOINT", server.url)
        from_gcp, _ = scan_json(cli, "--source", "gcp:test-proj", "--since", "1h")
    export = tmp_path / "export.json"
    export.write_text(json.dumps(entries))
    from_file, _ = scan_json(cli, "--source", export, "--since", "1h")
    assert from_gcp["clusters"] == from_file["clusters"]
    return from_gcp


def incident_entries() -> list[dict]:
    """A synthetic hour of one Cloud Run service: errors of three eras, noise, and entries out of scope."""
    at = lambda m, s=0: f"2026-03-01T11:{m:02d}:{s:02d}.{m:03d}Z"  # noqa: E731
    entries = []
    for m in range(0, 50, 5):
        entries += [
            run_entry(at(m), f"2026-03-01 11:{m:02d}:00.000 | ERROR | app.db:connect:{40 + m} | pool exhausted after {m}s"),
            run_entry(at(m, 1), f"2026-03-01 11:{m:02d}:01.000 | INFO | app.web:handle:9 | request {m} ok"),
            run_entry(at(m, 2), payload={"message": f"payment {m} declined by provider", "severity": "ERROR"}, severity="ERROR"),
            run_entry(at(m, 3), payload={"message": "user loaded", "error": {"message": "Missing field"}}, severity="INFO", log="stdout"),
            run_entry(at(m, 4), severity="ERROR", log="requests",
                      http={"requestMethod": "GET", "requestUrl": f"https://api.example.test/v1/items/{m}", "status": 503, "latency": "0.2s"}),
            run_entry(at(m, 5), severity="INFO", log="requests",
                      http={"requestMethod": "GET", "requestUrl": "https://api.example.test/health", "status": 200, "latency": "0.01s"}),
        ]
    for m in (12, 31):  # a traceback printed line by line on stderr: DEFAULT entries at one instant
        entries += [run_entry(at(m, 30), line, instance=f"inst-{m}") for line in (
            "Traceback (most recent call last):",
            '  File "/app/worker.py", line 88, in run',
            "    total = compute(order)",
            '  File "/app/pricing.py", line 12, in compute',
            "    return order.amount / order.count",
            "ZeroDivisionError: division by zero",
        )]
    entries += [
        run_entry("2026-03-01T10:30:00Z", "| ERROR | app:old:1 | before the window"),
        run_entry(at(20), "| ERROR | app:x:1 | other service", service="billing"),
    ]
    return entries


@pytest.fixture
def fake(env):
    with FakeLogging(incident_entries()) as server:
        env.setenv("TRIAGE_LOGGING_ENDPOINT", server.url)
        yield server


def test_scan_through_the_fake_equals_a_scan_of_the_same_entries_from_a_file(cli, fake, tmp_path):
    from_gcp, _ = scan_json(cli, "--source", "gcp:test-proj", "--since", "1h", "--service", "api")
    export = tmp_path / "export.json"
    export.write_text(json.dumps(fake.entries))
    from_file, _ = scan_json(cli, "--source", export, "--since", "1h", "--service", "api")
    assert from_gcp["clusters"] == from_file["clusters"]
    assert len(from_gcp["clusters"]) >= 4 and from_gcp["truncated"] is False
    assert from_gcp["entries_read"] < from_file["entries_read"]  # the filter kept the INFO noise off the wire
    assert "ZeroDivisionError" in json.dumps(from_gcp["clusters"])


def test_a_pull_of_two_services_asks_for_either_and_gets_both(cli, fake, tmp_path):
    services = ("--service", "api", "--service", "billing")
    from_gcp, _ = scan_json(cli, "--source", "gcp:test-proj", "--since", "1h", *services)
    export = tmp_path / "export.json"
    export.write_text(json.dumps(fake.entries))
    from_file, _ = scan_json(cli, "--source", export, "--since", "1h", *services)
    assert from_gcp["clusters"] == from_file["clusters"]
    assert {name for c in from_gcp["clusters"] for name in c["services"]} == {"api", "billing"}
    assert 'resource.labels.service_name=("api" OR "billing")' in fake.requests[-1]["filter"]


def test_a_traceback_tagged_info_line_by_line_is_fetched_whole(cli, env, tmp_path):
    """Runtimes that tag stdout lines INFO send a traceback as INFO entries: its code lines and exception line must
    cross the wire too, or Cloud Logging would give other clusters than the export of the same entries."""
    lines = ["Traceback (most recent call last):", '  File "/app/worker.py", line 88, in run', "    total = compute(order)",
             '  File "/app/pricing.py", line 12, in compute', "    return order.amount / order.count",
             "ZeroDivisionError: division by zero"]
    entries = [run_entry(f"2026-03-01T11:30:00.{i:06d}Z", line, severity="INFO", log="stdout")
               for i, line in enumerate(lines)]
    entries.append(run_entry("2026-03-01T11:31:00Z", "INFO: 10.0.0.1 - GET /health 200", severity="INFO", log="stdout"))
    from_gcp = _pulled_as_exported(cli, env, tmp_path, entries)
    assert "ZeroDivisionError" in from_gcp["clusters"][0]["title"]
    assert from_gcp["entries_read"] == 6  # the access line stays off the wire


def test_save_raw_replays_to_the_same_clusters(cli, fake, tmp_path):
    raw = tmp_path / "window.ndjson"
    from_gcp, _ = scan_json(cli, "--source", "gcp:test-proj", "--since", "1h", "--save-raw", raw)
    lines = raw.read_text().splitlines()
    assert len(lines) == from_gcp["entries_read"] and json.loads(lines[0]) in fake.entries
    replayed, _ = scan_json(cli, "--source", raw)
    assert replayed["clusters"] == from_gcp["clusters"]
    fake.faults.append(403)  # a scan that fails keeps the earlier copy, and leaves no temporary file
    failed = cli("scan", "--source", "gcp:test-proj", "--since", "1h", "--now", NOW, "--save-raw", raw)
    assert failed.exit_code == 2 and raw.read_text().splitlines() == lines
    assert [path.name for path in tmp_path.iterdir()] == ["window.ndjson"]


def test_save_raw_to_a_gz_name_is_gzip(cli, fake, tmp_path):
    import gzip

    raw = tmp_path / "window.ndjson.gz"
    from_gcp, _ = scan_json(cli, "--source", "gcp:test-proj", "--since", "1h", "--save-raw", raw)
    lines = gzip.decompress(raw.read_bytes()).decode().splitlines()  # zcat reads it
    assert len(lines) == from_gcp["entries_read"] and json.loads(lines[0]) in fake.entries
    replayed, _ = scan_json(cli, "--source", raw)
    assert replayed["clusters"] == from_gcp["clusters"]


def test_configured_project_is_the_default_source_and_config_rules_apply(cli, fake, tmp_path):
    rules = tmp_path / "myrules"
    rules.mkdir()
    (rules / "pool.yaml").write_text(
        "rules:\n  - id: db-pool-exhausted\n    title: Database pool exhausted\n    priority: P1\n    category: db\n"
        "    match:\n      contains: pool exhausted\n")
    (tmp_path / "triage.toml").write_text('project = "test-proj"\nrules = ["myrules"]\nsince = "1h"\n')
    data, _ = scan_json(cli)
    assert data["sources"] == ["gcp:test-proj"]
    assert any(c["rule"] == "db-pool-exhausted" and c["count"] == 10 for c in data["clusters"])
    assert fake.requests[0]["filter"].startswith('timestamp>="2026-03-01T11:00:00Z" AND timestamp<"2026-03-01T12:00:00Z"')


def test_max_entries_reports_truncation(cli, fake):
    data, result = scan_json(cli, "--source", "gcp:test-proj", "--since", "1h", "--max-entries", "5")
    assert data["truncated"] is True and data["entries_read"] == 5
    assert "Warning: gcp:test-proj: stopped at --max-entries 5 (the newest); more entries match\n" in result.stderr
    for fmt in ("table", "markdown"):  # also where the warning on stderr is not seen (-o, 2>/dev/null)
        shown = cli("scan", "--source", "gcp:test-proj", "--since", "1h", "--now", NOW, "--max-entries", "5", "-f", fmt)
        kept = r"TRUNCATED: --max-entries kept the newest entries \(those from 2026-03-01T11:\d\d:\d\d[.\d]*Z on\); more match"
        assert "5 entries read" in shown.stdout and re.search(kept, " ".join(shown.stdout.split()))
        untruncated = cli("scan", "--source", "gcp:test-proj", "--since", "1h", "--now", NOW, "-f", fmt)
        assert untruncated.exit_code == 0 and "TRUNCATED" not in untruncated.stdout
    shown = cli("scan", "--source", "gcp:test-proj", "--since", "1h", "--now", NOW, "--max-entries", "5", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(shown.stdout)))  # CSV has no banner: a column says it on every row
    assert rows and {row["truncated"] for row in rows} == {"1"}


def test_a_pull_cut_by_max_entries_rates_its_failures_over_the_minutes_it_kept(cli, env, tmp_path):
    """A request a minute for an hour and three failures in its last minutes; the newest 20 entries kept cover
    11:43 to 11:59:30: the rate is over those 16.5 minutes, not the hour nor the 2.5 minutes since the first failure."""
    entries = [run_entry(f"2026-03-01T11:{m:02d}:00Z", f"| INFO | app.web:handle:9 | request {m} ok") for m in range(60)]
    entries += [run_entry(f"2026-03-01T11:{m}:30Z", f"| ERROR | app.ledger:sync:3 | ledger sync failed #{m}")
                for m in (57, 58, 59)]
    with FakeLogging(entries) as server:
        env.setenv("TRIAGE_LOGGING_ENDPOINT", server.url)
        result = cli("scan", "-s", "gcp:test-proj", "--since", "1h", "--now", NOW, "--max-entries", "20", "-f", "json",
                     "--state-dir", tmp_path / "state")
    data = json.loads(result.stdout)
    [cluster] = data["clusters"]
    assert data["truncated"] and cluster["count"] == 3
    assert cluster["rate"] == pytest.approx(3 / (16.5 / 60), abs=1e-3)


def test_user_filter_is_anded_in_and_a_rejected_filter_is_one_line(cli, fake):
    scan_json(cli, "--source", "gcp:test-proj", "--since", "1h", "--filter", 'logName:"requests"')
    assert fake.requests[-1]["filter"].endswith(' AND (logName:"requests")')
    result = cli("scan", "--source", "gcp:test-proj", "--now", NOW, "--filter", "severity>=")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("Error: Cloud Logging rejected the query (400): Invalid filter: ")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "status, message",
    [
        (403, "Error: permission denied on the logs of project test-proj (403): Permission 'logging.logEntries.list' "
              "denied on resource (or it may not exist) (needs roles/logging.viewer)\n"),
        (404, "Error: project test-proj not found by Cloud Logging (404): Project does not exist: test-proj\n"),
        (401, "Error: Cloud Logging at URL asks for credentials (401), which triage never sends to an http:// "
              "endpoint\n"),
    ],
)
def test_api_errors_are_one_clear_line(cli, fake, status, message):
    fake.faults.append(status)
    result = cli("scan", "--source", "gcp:test-proj", "--now", NOW)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message.replace("URL", fake.url))


def test_unknown_project_is_a_404(cli, fake):
    result = cli("scan", "--source", "gcp:nope", "--now", NOW)
    assert result.exit_code == 2
    assert result.stderr == "Error: project nope not found by Cloud Logging (404): Project does not exist: ['projects/nope']\n"


@pytest.mark.parametrize("spec", ["gcp:", "gcp: "])
def test_a_gcp_source_with_an_empty_project_is_an_error_not_the_default_project(cli, fake, spec):
    fake.project = "default-proj"
    env_project = cli("scan", "--source", spec, "--now", NOW, "--project", "default-proj")
    assert (env_project.exit_code, env_project.stdout) == (2, "")
    assert env_project.stderr.startswith(f"Error: --source {spec!r} names no project\n")
    assert fake.requests == []


def test_a_service_cloud_logging_holds_nothing_of_says_so(cli, fake):
    result = cli("scan", "--source", "gcp:test-proj", "--since", "1h", "--now", NOW, "--service", "apii", "-f", "json")
    assert result.exit_code == 0 and json.loads(result.stdout)["clusters"] == []
    assert result.stderr == ("Note: Cloud Logging returned no entry of --service apii at this severity in the window: "
                             "a healthy service, or a misspelt name (`gcloud run services list` shows them)\n")


def test_a_configured_service_cloud_logging_holds_nothing_of_is_named_as_the_config_files(cli, fake, tmp_path):
    (tmp_path / "triage.toml").write_text('services = ["apii"]\n')
    result = cli("scan", "--source", "gcp:test-proj", "--since", "1h", "--now", NOW, "-f", "json", "--no-state")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("Note: Cloud Logging returned no entry of service apii (the config file's "
                                    "`services`) at this severity in the window: a healthy service, or a misspelt name")


def test_an_error_mid_pagination_aborts_without_a_report(cli, env):
    with FakeLogging(numbered(1500)) as server:
        env.setenv("TRIAGE_LOGGING_ENDPOINT", server.url)
        original = server.answer
        server.answer = lambda body: (server.faults.append(403) if body.get("pageToken") else None) or original(body)
        result = cli("scan", "--source", "gcp:test-proj", "--now", NOW, "--since", "12h")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.endswith("(needs roles/logging.viewer) (after 1,000 entries in 1 page; no partial report)\n")


def _closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_endpoint(cli, env):
    port = _closed_port()
    env.setenv("TRIAGE_LOGGING_ENDPOINT", f"http://127.0.0.1:{port}")
    result = cli("scan", "--source", "gcp:test-proj", "--now", NOW)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"Error: cannot reach Cloud Logging at http://127.0.0.1:{port}: connection refused\n"


def test_missing_adc_names_the_gcloud_command(cli, env):
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    def no_credentials(**kwargs):
        raise DefaultCredentialsError("Your default credentials were not found.")

    env.setattr(google.auth, "default", no_credentials)
    result = cli("scan", "--source", "gcp:test-proj", "--now", NOW)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "Error: no Google Cloud credentials found: run `gcloud auth application-default login`\n"


def test_missing_adc_with_the_real_discovery(tmp_path):
    """The real google.auth.default in a clean environment (no metadata-server probe): the same one line."""
    environ = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CLOUDSDK_CONFIG": str(tmp_path),
               "NO_GCE_CHECK": "true", "GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9"}
    triage = Path(sys.executable).parent / "triage"
    done = subprocess.run([triage, "scan", "--source", "gcp:p"], env=environ,
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "Error: no Google Cloud credentials found: run `gcloud auth application-default login`\n"


def test_show_filter_needs_no_credentials_or_project(cli, env):
    result = cli("scan", "--show-filter", "--now", NOW, "--min-severity", "DEFAULT")
    assert (result.exit_code, result.stdout) == (
        0, 'timestamp>="2026-03-01T11:00:00Z" AND timestamp<"2026-03-01T12:00:00Z" AND resource.type="cloud_run_revision"\n')


def test_gcp_source_without_a_project_is_one_line(cli, env):
    result = cli("scan", "--source", "gcp")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --source gcp: no Cloud Logging project set\n")
    env.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
    assert cli("scan", "--show-filter").exit_code == 0


def test_save_raw_never_names_a_source_or_the_output(cli, fake, tmp_path):
    export = tmp_path / "previous.ndjson"
    export.write_text('{"textPayload": "kept"}\n')
    emptied = cli("scan", "-s", export, "-s", "gcp:test-proj", "--now", NOW, "--save-raw", export)
    assert (emptied.exit_code, emptied.stderr) == (
        2, f"Error: --save-raw {export} is the source {export}: writing it would replace the export\n")
    assert export.read_text() == '{"textPayload": "kept"}\n' and fake.requests == []
    same = cli("scan", "-s", "gcp:test-proj", "--now", NOW, "--save-raw", tmp_path / "x", "-o", tmp_path / "x")
    assert (same.exit_code, same.stderr) == (2, f"Error: --output and --save-raw name the same file {tmp_path / 'x'}\n")


def test_gcp_only_options_refuse_file_sources(cli, env, tmp_path):
    export = tmp_path / "e.json"
    export.write_text("[]")
    result = cli("scan", "--source", export, "--max-entries", "3")
    assert (result.exit_code, result.stderr) == (2, "Error: --max-entries needs a Cloud Logging source (--source gcp)\n")
    result = cli("scan", "--source", export, "--filter", "severity>=ERROR", "--resource-type", "any", "--project", "p")
    assert (result.exit_code, result.stderr) == (
        2, "Error: --filter, --resource-type and --project need a Cloud Logging source (--source gcp)\n")
    assert cli("scan", "--source", export, "--source", "gcp:test-proj", "--filter", "severity>=ERROR",
               "--show-filter").exit_code == 0


def test_endpoint_credentials_never_reach_the_error(cli, env):
    port = _closed_port()
    env.setenv("TRIAGE_LOGGING_ENDPOINT", f"http://user:hunter2@127.0.0.1:{port}/")
    result = cli("scan", "--source", "gcp:test-proj", "--now", NOW)
    assert result.exit_code == 2
    assert result.stderr == f"Error: cannot reach Cloud Logging at http://127.0.0.1:{port}: connection refused\n"


def test_an_export_beside_cloud_logging_keeps_its_own_window(cli, fake, tmp_path):
    """Without window options Cloud Logging pulls the default hour, but an old export is still read whole."""
    export = tmp_path / "old.ndjson"
    export.write_text(json.dumps({"timestamp": "2020-01-01T00:00:00Z", "severity": "ERROR", "textPayload": "old failure"}) + "\n")
    both, _ = scan_json(cli, "--source", "gcp:test-proj", "--source", export)
    assert any(c["samples"][0]["message"] == "old failure" for c in both["clusters"])
    assert both["window"] == {"from": None, "until": None}


@pytest.mark.parametrize("scheme", ["http", "HTTP", "Http"])
def test_a_plain_http_endpoint_never_gets_real_credentials(scheme):
    def refuse(environ):
        raise AssertionError("credentials looked up for a plain-HTTP endpoint")

    client = make_client("p", {"TRIAGE_LOGGING_ENDPOINT": f"{scheme}://127.0.0.1:9"}, credentials_finder=refuse)
    assert type(client._credentials).__name__ == "AnonymousCredentials"


# --- credentials that cannot be used: one line, exit 2, nothing of the file --------------------------------------

SECRET_KEY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC-FAKE-SECRET-KEY-MATERIAL"
SERVICE_ACCOUNT = {"type": "service_account", "project_id": "p", "private_key_id": "0123abcd",
                   "private_key": f"-----BEGIN PRIVATE KEY-----\n{SECRET_KEY}\n-----END PRIVATE KEY-----\n",
                   "client_email": "sa@p.iam.gserviceaccount.com", "token_uri": "https://oauth2.googleapis.com/token"}


@pytest.fixture
def https_endpoint(env):
    """An https endpoint on a closed loopback port: real credentials are looked up, nothing is ever sent."""
    env.setenv("TRIAGE_LOGGING_ENDPOINT", f"https://127.0.0.1:{_closed_port()}")
    env.setenv("NO_GCE_CHECK", "true")
    env.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    env.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    return env


@pytest.mark.parametrize("encoding", ["utf-16", "latin-1"])
def test_a_credentials_file_that_is_not_utf8_never_shows_its_content(cli, https_endpoint, tmp_path, encoding):
    """PowerShell's `>` saves a key as UTF-16; one Latin-1 byte does it too. The decoding error's repr holds the
    file's bytes: none of them may reach the error line."""
    key = tmp_path / "sa.json"
    text = json.dumps({**SERVICE_ACCOUNT, "project_id": "p\xe9"}, indent=2, ensure_ascii=False)
    key.write_bytes(text.encode(encoding))
    https_endpoint.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    result = cli("scan", "--source", "gcp:p", "--now", NOW)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"Error: GOOGLE_APPLICATION_CREDENTIALS: File {key} is not a valid json file (not "
                                    "UTF-8 text")
    assert result.stderr.count("\n") == 1 and len(result.stderr) < 300
    for secret in ("FAKE", "PRIVATE", "0123abcd", "\\x", "service_account"):
        assert secret not in result.stderr
    if encoding == "utf-16":
        assert "saved as UTF-16?" in result.stderr


@pytest.mark.parametrize("content, message", [
    (None, "Error: GOOGLE_APPLICATION_CREDENTIALS: cannot read {path}: Is a directory\n"),
    ("[1, 2]", 'Error: GOOGLE_APPLICATION_CREDENTIALS: {path} holds no credentials (a JSON object with a "type")\n'),
    ("42", 'Error: GOOGLE_APPLICATION_CREDENTIALS: {path} holds no credentials (a JSON object with a "type")\n'),
])
def test_credentials_that_are_no_credentials_file_are_one_line(cli, https_endpoint, tmp_path, content, message):
    path = tmp_path / "creds"
    if content is None:
        path.mkdir()
    else:
        path.write_text(content)
    https_endpoint.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    result = cli("scan", "--source", "gcp:p", "--now", NOW)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message.format(path=path))


def test_an_unreadable_credentials_file_is_one_line(cli, https_endpoint, tmp_path):
    import google.auth

    path = tmp_path / "sa.json"

    def unreadable(**kwargs):  # as a non-root user gets it (the tests may run as root, which reads anything)
        raise PermissionError(13, "Permission denied", str(path))

    https_endpoint.setattr(google.auth, "default", unreadable)
    https_endpoint.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    result = cli("scan", "--source", "gcp:p", "--now", NOW)
    assert (result.exit_code, result.stderr) == (
        2, f"Error: GOOGLE_APPLICATION_CREDENTIALS: cannot read {path}: Permission denied\n")


@pytest.mark.parametrize("error, message", [
    ("OAuthError", "Google Cloud credentials were refused (Error code invalid_grant: The token has expired): "
                   "run `gcloud auth application-default login`"),
    ("RefreshError", "Google Cloud credentials were refused (invalid_grant: Bad Request): run `gcloud auth "
                     "application-default login`"),
    ("TransportError", "cannot reach Google's token service to refresh the credentials: connection refused"),
    ("GoogleAuthError", "Google Cloud credentials were refused (something new): run `gcloud auth application-default "
                        "login`"),
])
def test_a_token_exchange_that_fails_while_credentials_are_looked_up_is_one_line(env, error, message):
    import google.auth
    from google.auth import exceptions as auth_errors

    from triage.sources.gcp import find_credentials

    text = {"OAuthError": "Error code invalid_grant: The token has expired.", "RefreshError": "invalid_grant: Bad Request",
            "TransportError": "[Errno 111] Connection refused", "GoogleAuthError": "something new"}[error]

    def failing(**kwargs):
        raise getattr(auth_errors, error)(text, '{"error": "invalid_grant", "access_token_hint": "ya29.SECRET"}')

    env.setattr(google.auth, "default", failing)
    with pytest.raises(SourceError) as caught:
        find_credentials({}, "p")
    assert str(caught.value) == message


def _wif_credentials(tmp_path, token_url: str) -> Path:
    """A workload-identity-federation configuration (as GitHub Actions uses) whose token service is ``token_url``."""
    subject = tmp_path / "oidc-token"
    subject.write_text("eyJhbGciOiJSUzI1NiJ9.e30.sig")
    config = tmp_path / "wif.json"
    config.write_text(json.dumps({
        "type": "external_account",
        "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "token_url": token_url,
        "credential_source": {"file": str(subject)}}))
    return config


@pytest.mark.parametrize("project_env", [None, "my-proj"])
@pytest.mark.parametrize("sts", ["rejects", "unreachable"])
def test_workload_identity_whose_token_is_refused_is_one_line(cli, https_endpoint, tmp_path, project_env, sts):
    """The token service (a loopback one) refuses the CI's OIDC token, or cannot be reached: one line, exit 2,
    whether GOOGLE_CLOUD_PROJECT is set (the token is exchanged on the first request) or not (google.auth would
    exchange it to find the project)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading

    class Sts(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.dumps({"error": "invalid_grant", "error_description": "The token has expired."}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sts)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1] if sts == "rejects" else _closed_port()
    try:
        https_endpoint.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(_wif_credentials(tmp_path, f"http://127.0.0.1:{port}/v1/token")))
        if project_env:
            https_endpoint.setenv("GOOGLE_CLOUD_PROJECT", project_env)
        result = cli("scan", "--source", "gcp:my-proj", "--now", NOW)
    finally:
        server.shutdown()
        server.server_close()
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    if sts == "rejects":
        assert result.stderr == ("Error: Google Cloud credentials were refused (Error code invalid_grant: The token has "
                                 "expired): check the credentials GOOGLE_APPLICATION_CREDENTIALS names "
                                 f"({tmp_path / 'wif.json'})\n")
    else:
        assert result.stderr == ("Error: cannot reach Google's token service to refresh the credentials: connection "
                                 "refused\n")
    assert "GOOGLE_CLOUD_PROJECT" not in os.environ or project_env


def test_a_workload_identity_token_refused_mid_pull_is_one_line():
    """An OAuthError (not a RefreshError) while the credentials refresh between pages: one line, with the count."""
    from google.auth.exceptions import OAuthError

    client, _ = failing_on_page_two(
        OAuthError("Error code invalid_grant: The token has expired.", '{"error": "invalid_grant"}'))
    with pytest.raises(SourceError) as caught:
        list(pull(Pull("test-proj", FILTER), client, pacer=RequestPacer(clock=lambda: 0.0, sleep=lambda s: None)))
    assert str(caught.value).startswith("Google Cloud credentials were refused (Error code invalid_grant: The token has "
                                        "expired): ")
    assert str(caught.value).endswith(" (after 1 entry in 1 page; no partial report)")


# --- error answers of any shape: the HTTP status decides ---------------------------------------------------------

@pytest.mark.parametrize("body, detail", [
    ({"error": "forbidden"}, "forbidden"),
    ({"error": "access_denied", "error_description": "The caller is not allowed"}, "access_denied: The caller is not allowed"),
    ("Forbidden", "Forbidden"),
    (Raw(b"<html><body>403 Forbidden by the proxy</body></html>"), "an HTML page"),
    (Raw(b"blocked by policy\nline two"), "blocked by policy"),
    ({"error": {"message": 7}}, "no details"),
    (Raw(b"denied " + b"x" * 300), "denied " + "x" * 93 + "…"),
])
def test_an_error_answer_of_another_shape_is_told_by_its_status(cli, fake, body, detail):
    """Gateways, IAP and proxies in front of a private endpoint answer in shapes other than Google's: the status is
    named, with a short excerpt of the answer, but no diagnosis meant for the API's own errors (no IAM role)."""
    fake.faults.append((403, body))
    result = cli("scan", "--source", "gcp:test-proj", "--now", NOW)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (f"Error: Cloud Logging at {fake.url} answered 403 ({detail}), not with the API's own "
                             "error: a proxy or gateway in between?\n")


@pytest.mark.parametrize("body", [{"error": {"code": 403, "message": "Denied in a list", "status": "PERMISSION_DENIED"}},
                                  [{"error": {"code": 403, "message": "Denied in a list"}}]])
def test_the_apis_own_403_gets_the_iam_hint(cli, fake, body):
    fake.faults.append((403, body))
    result = cli("scan", "--source", "gcp:test-proj", "--now", NOW)
    assert result.stderr == ("Error: permission denied on the logs of project test-proj (403): Denied in a list "
                             "(needs roles/logging.viewer)\n")


@pytest.mark.parametrize("body, detail", [(Raw(b""), "no details"), (Raw(b"<!DOCTYPE html><html>404</html>"), "an HTML page"),
                                          ({"error": "not found"}, "not found")])
def test_a_404_that_is_not_the_apis_does_not_say_the_project_is_missing(cli, fake, body, detail):
    """Something between triage and the API (a middlebox, a gateway) answers 404 for any request."""
    fake.faults.append((404, body))
    result = cli("scan", "--source", "gcp:test-proj", "--now", NOW)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (f"Error: Cloud Logging at {fake.url} answered 404 ({detail}), not with the API's own "
                             "error: a proxy or gateway in between?\n")


def test_an_endpoint_with_a_path_is_named_as_the_cause_of_a_404(cli, env, fake):
    """An endpoint pasted from the API's reference (…/v2) asks for /v2/v2/entries:list, which Google's front end
    answers with its HTML 404 page."""
    env.setenv("TRIAGE_LOGGING_ENDPOINT", f"{fake.url}/v2")
    result = cli("scan", "--source", "gcp:test-proj", "--now", NOW)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (f"Error: Cloud Logging at {fake.url}/v2 answered 404 (an HTML page), not with the API's "
                             "own error: TRIAGE_LOGGING_ENDPOINT has a path (/v2), which it must not have (such as "
                             "https://logging.googleapis.com)\n")


@pytest.mark.parametrize("body", [{"error": "bad gateway"}, "upstream failed", Raw(b"<html>502</html>"), Raw(b"")])
def test_a_502_of_another_shape_mid_pull_is_retried_and_keeps_the_pages_fetched(body):
    time = FakeTime()
    with FakeLogging(numbered(2100)) as fake:
        original = fake.answer
        faults = [(502, body), (503, body)]

        def answer(request):
            if request.get("pageToken") == "t1000" and faults:
                fake.requests.append(request)
                return faults.pop(0)
            return original(request)

        fake.answer = answer
        records = run_pull(fake, Pull("test-proj", FILTER), time)
    assert [r.get("pageToken") for r in fake.requests] == [None, "t1000", "t1000", "t1000", "t2000"]
    assert [r.data["textPayload"] for r in records] == [f"event {i}" for i in range(2100)]


@pytest.mark.parametrize(
    "body",
    [
        Raw(b""), [1], "ok",
        # a proxy's JSON with a 200 status: not a page without entries (an all-clear)
        {"error": {"code": 407, "message": "Proxy Authentication Required"}}, {"message": "Access denied by proxy"},
        {"entries": None}, {"entries": "oops"}, {"entries": [1, 2]}, {"entries": [], "nextPageToken": 7},
    ],
)
def test_a_success_answer_that_is_no_page_of_entries_is_one_line(body):
    with FakeLogging(numbered(10)) as fake:
        fake.faults.append((200, body))
        with pytest.raises(SourceError) as caught:
            run_pull(fake, Pull("test-proj", FILTER))
    assert str(caught.value) == (
        f"Cloud Logging at {fake.url} answered with something other than the API's JSON (a proxy's page?)")


@pytest.mark.parametrize("status, body", [(403, Raw(b" \n")), (407, Raw(b"\n")), (403, " "),
                                          (418, Raw(b"refused for http://oncall:s3cretpw@127.0.0.1/v2"))])
def test_the_endpoints_password_never_reaches_an_error_whatever_the_body(cli, env, status, body):
    with FakeLogging(numbered(10)) as server:
        env.setenv("TRIAGE_LOGGING_ENDPOINT", server.url.replace("http://", "http://oncall:s3cretpw@"))
        server.faults.append((status, body))
        result = cli("scan", "--source", "gcp:test-proj", "--now", NOW)
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    assert "s3cretpw" not in result.stderr and "oncall" not in result.stderr and result.stderr.count("\n") == 1


def test_an_api_error_that_names_the_url_with_its_password_is_masked():
    """The client library's own messages start "POST <url>: " (the body after it may be empty) and a body may
    echo the URL or the password: none of it is shown."""
    from google.api_core import exceptions as api_errors

    messages = iter(["POST http://oncall:s3cretpw@h:1/v2/entries:list?prettyPrint=false:",
                     "POST http://oncall:s3cretpw@h:1/v2/entries:list?prettyPrint=false: the password s3cretpw expired",
                     "denied for http://oncall:s3cretpw@h:1/v2"])
    shown = []
    for _ in range(3):
        class Api:
            def api_request(self, *args, **kwargs):
                raise api_errors.Forbidden(next(messages))

        class Client:
            logging_api = Api()

        with pytest.raises(SourceError) as caught:
            list(pull(Pull("p", FILTER), Client(), pacer=RequestPacer(clock=lambda: 0.0, sleep=lambda s: None),
                      api_url="http://oncall:s3cretpw@h:1"))
        shown.append(str(caught.value))
    assert shown == [
        "permission denied on the logs of project p (403): no details (needs roles/logging.viewer)",
        "permission denied on the logs of project p (403): the password [REDACTED] expired (needs roles/logging.viewer)",
        "permission denied on the logs of project p (403): denied for http://h:1/v2 (needs roles/logging.viewer)",
    ]


@pytest.mark.parametrize("key", ["message", "msg", "textPayload"])
def test_a_traceback_logged_as_structured_info_entries_is_fetched_whole(cli, env, tmp_path, key):
    """A log wrapper that writes each traceback line as a JSON object tagged INFO: its message is the payload's
    ``message`` (``msg``, ``textPayload``), where the pushed-down text terms must look too."""
    lines = ["Traceback (most recent call last):", '  File "/app/x.py", line 3, in f', "    return table[key]",
             "KeyError: 'k'"]
    entries = [run_entry(f"2026-03-01T11:30:00.{i:06d}Z", payload={key: line, "logger": "app"}, severity="INFO",
                         log="stdout") for i, line in enumerate(lines)]
    entries.append(run_entry("2026-03-01T11:31:00Z", payload={key: "GET /health 200"}, severity="INFO", log="stdout"))
    from_gcp = _pulled_as_exported(cli, env, tmp_path, entries)
    assert "KeyError" in from_gcp["clusters"][0]["title"]
    assert from_gcp["entries_read"] == 4  # the access line stays off the wire


# --- an empty pull names what narrowed it ------------------------------------------------------------------------

def test_a_retry_is_said_on_stderr(cli, fake):
    fake.faults.append(503)
    result = cli("scan", "--source", "gcp:test-proj", "--since", "1h", "--now", NOW, "--no-state", "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert "Note: Cloud Logging answered 503: retrying (1 of 6)\n" in result.stderr


def test_a_project_given_twice_is_pulled_once(cli, fake):
    once = cli("scan", "--source", "gcp:test-proj", "--since", "1h", "--now", NOW, "--no-state", "-f", "json")
    requests = len(fake.requests)
    twice = cli("scan", "--source", "gcp:test-proj", "--source", "gcp", "--project", "test-proj", "--since", "1h",
                "--now", NOW, "--no-state", "-f", "json")
    assert twice.exit_code == 0, twice.stderr
    assert len(fake.requests) == 2 * requests  # this run's requests: as many as one pull's
    assert twice.stderr == "Warning: --source gcp:test-proj is given twice: pulled once\n"
    assert json.loads(twice.stdout)["clusters"] == json.loads(once.stdout)["clusters"]


def test_drafts_of_a_scan_of_any_resource_type_do_not_pin_cloud_run_revision(cli, fake, tmp_path):
    state = str(tmp_path / "state")
    for kind, term in (("any", None), ("cloud_run_revision", 'resource.type="cloud_run_revision"')):
        scanned = cli("scan", "-s", "gcp:test-proj", "--since", "1h", "--now", NOW, "--resource-type", kind,
                      "--state-dir", state)
        assert scanned.exit_code == 0, scanned.stderr
        drafted = cli("draft", "--all", "--state-dir", state)
        assert drafted.exit_code == 0, drafted.stderr
        pinned = "resource.type%3D%22cloud_run_revision%22" in drafted.stdout or "\nresource.type=" in drafted.stdout
        assert pinned == (term is not None), kind


def test_a_live_report_names_the_project_it_read(cli, fake, tmp_path, monkeypatch):
    """A project taken from the environment may be the wrong one: an all-clear says for which."""
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "test-proj")
    table = cli("scan", "--since", "1h", "--now", NOW, "--no-state")
    assert table.exit_code == 0, table.stderr
    assert table.stdout.splitlines()[1] == "Cloud Logging project test-proj"
    markdown = cli("scan", "--since", "1h", "--now", NOW, "--no-state", "-f", "markdown")
    assert "\nCloud Logging project test-proj\n" in markdown.stdout
    export = tmp_path / "export.json"
    export.write_text("[]")
    assert "Cloud Logging" not in cli("scan", "-s", export, "--no-state").stdout  # a file names itself


def test_a_misspelt_resource_type_is_named_when_nothing_comes_back(cli, fake, tmp_path):
    """An empty answer is no all-clear when a misspelt type selected nothing (also from triage.toml)."""
    result = cli("scan", "--source", "gcp:test-proj", "--since", "1h", "--now", NOW, "--no-state", "--fail-on", "P3",
                 "--resource-type", "cloud_run_revison")
    assert result.exit_code == 0 and "No failures" in result.stdout
    assert result.stderr == ("Note: Cloud Logging returned no entry of resource type cloud_run_revison at this severity "
                             "in the window: a misspelt type? (`--resource-type any` takes all)\n")
    (tmp_path / "triage.toml").write_text('project = "test-proj"\nresource_type = "cloud_run_jobb"\n')
    both = cli("scan", "--since", "1h", "--now", NOW, "--no-state", "--service", "apii", "--filter", "severity>=ERROR")
    assert both.stderr == (
        "Note: Cloud Logging returned no entry of resource type cloud_run_jobb and --service apii and --filter at this "
        "severity in the window: a misspelt type? (`--resource-type any` takes all); a misspelt service? (`gcloud run "
        "services list` shows them); `--show-filter` prints the query\n")


def test_an_empty_pull_of_the_default_scope_says_it_came_from_cloud_logging(cli, env):
    with FakeLogging([]) as server:
        env.setenv("TRIAGE_LOGGING_ENDPOINT", server.url)
        result = cli("scan", "--source", "gcp:test-proj", "--since", "1h", "--now", NOW, "--no-state")
    assert result.stderr == "Note: Cloud Logging returned no entry at this severity in the window\n"


@pytest.mark.parametrize("value", ["any", "ANY", " Any "])
def test_resource_type_any_is_read_whatever_its_case(cli, env, value):
    assert cli("scan", "--show-filter", "--now", NOW, "--min-severity", "DEFAULT", "--resource-type", value).stdout == (
        'timestamp>="2026-03-01T11:00:00Z" AND timestamp<"2026-03-01T12:00:00Z"\n')


DISABLED = ("Cloud Logging API has not been used in project 764086051850 before or it is disabled. Enable it by visiting "
            "https://console.developers.google.com/apis/api/logging.googleapis.com/overview?project=764086051850 then "
            "retry.")
NO_QUOTA_PROJECT = ("Your application is authenticating by using local Application Default Credentials. The "
                    "logging.googleapis.com API requires a quota project, which is not set by default.")


def _error_info(reason: str) -> list[dict]:
    return [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com",
             "metadata": {"service": "logging.googleapis.com", "consumer": "projects/764086051850"}}]


@pytest.mark.parametrize("message, details, shown", [
    (DISABLED, _error_info("SERVICE_DISABLED"),
     f"the Cloud Logging API is disabled in the project the request is billed to (403): {DISABLED[:-1]} (enable "
     "logging.googleapis.com there, or, with user credentials, `gcloud auth application-default set-quota-project "
     "test-proj`)"),
    (DISABLED, [], None),  # told by the text when no reason comes with it
    ("Caller does not have required permission to use project other-proj.", _error_info("USER_PROJECT_DENIED"),
     "Cloud Logging refused the request's quota project (403): Caller does not have required permission to use "
     "project other-proj (`gcloud auth application-default set-quota-project test-proj`; using a project as the "
     "quota project needs roles/serviceusage.serviceUsageConsumer on it)"),
    (NO_QUOTA_PROJECT, _error_info("SERVICE_DISABLED"), None),
    ("Permission 'logging.logEntries.list' denied on resource (or it may not exist).", _error_info("IAM_PERMISSION_DENIED"),
     "permission denied on the logs of project test-proj (403): Permission 'logging.logEntries.list' denied on "
     "resource (or it may not exist) (needs roles/logging.viewer)"),
])
def test_a_403_for_a_disabled_api_or_quota_project_gets_its_own_hint(cli, fake, message, details, shown):
    fake.faults.append((403, {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": message,
                                        "details": details}}))
    result = cli("scan", "--source", "gcp:test-proj", "--now", NOW)
    assert (result.exit_code, result.stdout) == (2, "")
    if shown is not None:
        assert result.stderr == f"Error: {shown}\n"
    elif message == DISABLED:
        assert result.stderr.startswith("Error: the Cloud Logging API is disabled in the project the request is billed to")
    else:
        assert result.stderr.startswith("Error: Cloud Logging refused the request's quota project (403): ")
    assert "roles/logging.viewer" not in result.stderr or "IAM" in str(details)


# --- checked before the pull; blanks; google.auth's warnings ---------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda path: None, "{path}: no such file"),
    (lambda path: path.mkdir(), "{path} is a directory, not a log export"),
])
def test_an_export_that_cannot_be_read_beside_cloud_logging_is_told_before_the_pull(cli, fake, tmp_path, make, message):
    path = tmp_path / "no-such-export.json"
    make(path)
    result = cli("scan", "-s", "gcp:test-proj", "-s", path, "--now", NOW, "--since", "1h", "--no-state")
    assert (result.exit_code, result.stderr) == (2, f"Error: {message.format(path=path)}\n")
    assert fake.requests == []


@pytest.mark.parametrize("how", ["toml", "source", "option"])
def test_blanks_around_a_project_name_are_dropped(cli, fake, tmp_path, how):
    args = ["scan", "--now", NOW, "--since", "1h", "--no-state", "-f", "json"]
    if how == "toml":
        (tmp_path / "triage.toml").write_text('project = " test-proj "\n')
    elif how == "source":
        args += ["--source", "gcp: test-proj "]
    else:
        args += ["--source", "gcp", "--project", "test-proj "]
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sources"] == ["gcp:test-proj"]
    assert fake.requests[0]["resourceNames"] == ["projects/test-proj"]


def test_google_auths_warning_about_a_missing_quota_project_is_not_shown(env, tmp_path):
    """An ADC file as older `gcloud auth application-default login` wrote it: google.auth warns (a UserWarning
    with a source line) on every lookup. Nothing is refreshed, nothing goes over the network."""
    import warnings

    from triage.sources.gcp import find_credentials

    gcloud = tmp_path / "gcloud"
    gcloud.mkdir()
    (gcloud / "application_default_credentials.json").write_text(json.dumps({
        "type": "authorized_user", "client_id": "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com",
        "client_secret": "x", "refresh_token": "1//0-fake"}))
    env.setenv("PATH", str(tmp_path))  # no gcloud to ask for its project
    env.setenv("NO_GCE_CHECK", "true")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        credentials = find_credentials({}, "test-proj")
    assert type(credentials).__name__ == "Credentials" and caught == []


@pytest.mark.parametrize(("userinfo", "pair"), [("oncall:s3cretpw", b"oncall:s3cretpw"),
                                                ("on%40call:p%C3%A4ss%3Aword", "on@call:päss:word".encode("latin-1")),
                                                ("tok_ABCDEFGH12345678:", b"tok_ABCDEFGH12345678:")])
def test_the_endpoints_credentials_echoed_as_basic_auth_are_masked(userinfo, pair):
    """requests sends the endpoint's user:password@ (decoded) as "Authorization: Basic <base64>": a proxy that echoes
    the request's headers in its error page must not get them printed."""
    import base64

    echoed = base64.b64encode(pair).decode()
    with FakeLogging(numbered(10)) as fake:
        fake.faults.append((400, Raw(f"Bad Request: Authorization: Basic {echoed}".encode())))
        url = fake.url.replace("http://", f"http://{userinfo}@")
        with pytest.raises(SourceError) as caught:
            list(pull(Pull("test-proj", FILTER), make_client("test-proj", {"TRIAGE_LOGGING_ENDPOINT": url}),
                      pacer=RequestPacer(clock=lambda: 0.0, sleep=lambda s: None), api_url=url))
        assert fake.headers[-1]["Authorization"] == f"Basic {echoed}"
    assert echoed not in str(caught.value) and "Authorization: [REDACTED]" in str(caught.value)


# --- the live credential never reaches a message: echoed bearer tokens, token-service pages --------------------

YA29 = "ya29.SECRETACCESSTOKENabcdef123456"
OPAQUE = "opaque-live-token-0f3c9b"  # a token of no known shape: masked because it is the credential's


def _bearer_client(url: str, token: str):
    """A client on the HTTP transport that sends ``Authorization: Bearer <token>`` (as over https in production)."""
    from google.auth.credentials import Credentials
    from google.cloud import logging

    class StaticToken(Credentials):  # "refreshed" to the same token after a 401, as a service account's would be
        def refresh(self, request):
            self.token = token

    credentials = StaticToken()
    credentials.token = token
    return logging.Client(project="test-proj", credentials=credentials, _use_grpc=False,
                          client_options={"api_endpoint": url})


def _authorization(fake: FakeLogging) -> str:
    return {name.lower(): value for name, value in fake.headers[-1].items()}["authorization"]


@pytest.mark.parametrize("token", [YA29, OPAQUE])
@pytest.mark.parametrize("status, echo", [
    (403, lambda auth: {"error": {"code": 403, "status": "PERMISSION_DENIED",
                                  "message": f"Access denied for request with Authorization: {auth}"}}),
    (401, lambda auth: {"error": {"code": 401, "status": "UNAUTHENTICATED", "message": f"Invalid credentials: {auth}"}}),
    (400, lambda auth: {"error": f"bad request (token {auth.split()[-1]})"}),
    (502, lambda auth: Raw(f"Bad gateway; request headers: Authorization: {auth}".encode())),
    (404, lambda auth: Raw(f"no route; you sent {auth.split()[-1]}".encode())),
])
def test_an_error_answer_that_echoes_the_bearer_token_never_shows_it(token, status, echo):
    """A proxy or gateway may echo the request's headers in its error answer: the live token (valid for an hour)
    must not land in cron mail or a CI log, whatever its shape and whether "Bearer" stands before it."""
    time = FakeTime()
    with FakeLogging(numbered(10)) as fake:
        def answer(body):
            fake.requests.append(body)
            return status, echo(_authorization(fake))

        fake.answer = answer
        with pytest.raises(SourceError) as caught:
            list(pull(Pull("test-proj", FILTER), _bearer_client(fake.url, token),
                      pacer=RequestPacer(clock=time.clock, sleep=time.sleep), backoff=Backoff(sleep=time.sleep),
                      api_url=fake.url))
        assert _authorization(fake) == f"Bearer {token}"
    message = str(caught.value)
    assert token not in message and token[-12:] not in message and "[REDACTED]" in message, message
    assert "\n" not in message


@contextlib.contextmanager
def _token_service(answer):
    """A loopback OAuth token service: ``answer(form_body) -> (status, content_type, body)``; yields its URL."""
    from http.server import BaseHTTPRequestHandler

    from conftest import serving

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            status, content_type, body = answer(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with serving(Handler) as root:
        yield f"{root}/token"


def _echoing_page(form: bytes) -> tuple[int, str, bytes]:
    return 400, "text/html", b"<html>proxy refused request: " + form + b"</html>"


def _echoing_text(form: bytes) -> tuple[int, str, bytes]:
    return 400, "text/plain", b"refused: " + form


@pytest.mark.parametrize("answer", [_echoing_page, _echoing_text])
def test_a_token_service_answer_that_is_no_oauth_json_never_shows_the_signed_assertion(cli, https_endpoint, tmp_path,
                                                                                       answer):
    """A service account's key signs a JWT that is exchanged for a token: a proxy page that echoes the POSTed form
    holds that assertion (good for new tokens until it expires). One short line, no body beyond a redacted excerpt."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    forms: list[bytes] = []
    with _token_service(lambda form: forms.append(form) or answer(form)) as token_url:
        path = tmp_path / "sa.json"
        path.write_text(json.dumps({**SERVICE_ACCOUNT, "private_key": key, "token_uri": token_url}))
        https_endpoint.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
        result = cli("scan", "--source", "gcp:p", "--now", NOW)
    assertion = forms[0].decode().partition("assertion=")[2].partition("&")[0]
    assert assertion.startswith("eyJ") and len(assertion) > 200
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.count("\n") == 1 and len(result.stderr) < 300, result.stderr
    assert assertion[:40] not in result.stderr and assertion[-40:] not in result.stderr
    assert result.stderr.startswith("Error: Google Cloud credentials were refused (")
    reason = result.stderr.partition("refused (")[2].partition("): check")[0]
    if answer is _echoing_page:
        assert reason == "the token service answered with an HTML page, not OAuth's JSON (a proxy's?)"
    else:
        assert reason.startswith("refused: assertion=[REDACTED]&") and len(reason) <= 111, reason


@pytest.mark.parametrize("body", [b"<html>Proxy login</html>", b"not json", b"[]"])
def test_a_token_service_that_answers_200_with_no_oauth_json_is_one_line(cli, https_endpoint, tmp_path, body):
    """google.auth reads such an answer as OAuth's JSON unchecked (a TypeError deep inside it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    with _token_service(lambda form: (200, "text/html", body)) as token_url:
        path = tmp_path / "sa.json"
        path.write_text(json.dumps({**SERVICE_ACCOUNT, "private_key": key, "token_uri": token_url}))
        https_endpoint.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
        result = cli("scan", "--source", "gcp:p", "--now", NOW)
    assert (result.exit_code, result.stdout, result.stderr) == (
        2, "", "Error: Google's token service answered with something other than OAuth's JSON (a proxy's page?)\n")


def test_a_refresh_answered_with_an_echo_of_the_form_never_shows_the_refresh_token_or_client_secret():
    """User credentials (`gcloud auth application-default login`) POST their refresh token and client secret."""
    from google.cloud import logging
    from google.oauth2.credentials import Credentials

    refresh_token, client_secret = "1//0gOpaqueRefresh7x", "opaque-client-secret-9z"
    with _token_service(_echoing_text) as token_url, FakeLogging(numbered(10)) as fake:
        credentials = Credentials(None, refresh_token=refresh_token, client_id="764086051850.apps.googleusercontent.com",
                                  client_secret=client_secret, token_uri=token_url)
        client = logging.Client(project="test-proj", credentials=credentials, _use_grpc=False,
                                client_options={"api_endpoint": fake.url})
        with pytest.raises(SourceError) as caught:
            list(pull(Pull("test-proj", FILTER), client, pacer=RequestPacer(clock=lambda: 0.0, sleep=lambda s: None),
                      api_url=fake.url))
    message = str(caught.value)
    assert message.startswith("Google Cloud credentials were refused (refused: ") and "\n" not in message
    assert len(message.partition("(")[2].partition("): ")[0]) <= 111, message
    assert refresh_token not in message and client_secret not in message, message


def test_save_raw_of_a_pull_cut_by_max_entries_replays_as_truncated(cli, fake, tmp_path):
    """A replay of a capped pull holds only the newest entries: it must say so, as the pull did."""
    raw = tmp_path / "window.ndjson"
    pulled, _ = scan_json(cli, "--source", "gcp:test-proj", "--since", "1h", "--max-entries", "5", "--save-raw", raw)
    lines = raw.read_text().splitlines()
    assert len(lines) == 6 and json.loads(lines[-1]) == {
        "triageTruncated": "gcp:test-proj stopped at --max-entries 5 (the newest); more entries match"}
    replayed, result = scan_json(cli, "--source", raw)
    assert replayed["truncated"] is True and replayed["entries_read"] == 5 and replayed["entries_skipped"]["count"] == 0
    assert replayed["clusters"] == pulled["clusters"]
    assert (f"Warning: {raw}:6: gcp:test-proj stopped at --max-entries 5 (the newest); more entries match"
            in " ".join(result.stderr.split()))
    whole = tmp_path / "whole.ndjson"  # a pull that was not cut has no such line
    scan_json(cli, "--source", "gcp:test-proj", "--since", "1h", "--max-entries", "100000", "--save-raw", whole)
    assert "triageTruncated" not in whole.read_text()
