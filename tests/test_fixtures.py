"""The synthetic fixtures and the benchmark generator (benchmarks/generate.py)."""

from __future__ import annotations

import gzip
import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from conftest import load_generator

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
ISO_ROW = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


gen = load_generator()


def _message(entry: dict) -> str:
    if "textPayload" in entry:
        return entry["textPayload"]
    return (entry.get("jsonPayload") or {}).get("message", "")


def _ndjson(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.splitlines()]


@pytest.fixture(scope="module")
def entries() -> list[dict]:
    return gen.scenario(gen.FIXTURE_START)


# ------------------------------------------------------------------------------------------ scenario


def test_scenario_is_deterministic(entries):
    assert gen.scenario(gen.FIXTURE_START) == entries


def test_scenario_moves_with_its_start(entries):
    later = gen.scenario(gen.FIXTURE_START + timedelta(days=1))
    assert len(later) == len(entries)
    assert later[0]["timestamp"] == "2026-11-29" + entries[0]["timestamp"][10:]


def test_scenario_shape(entries):
    assert 300 <= len(entries) <= 600
    stamps = [e["timestamp"] for e in entries]
    assert stamps == sorted(stamps, reverse=True)
    assert all(ISO_ROW.match(s) and len(s) == 27 for s in stamps)
    first, last = (datetime.fromisoformat(s.replace("Z", "+00:00")) for s in (stamps[-1], stamps[0]))
    assert timedelta(hours=1, minutes=45) <= last - first <= timedelta(hours=2)
    assert len({e["insertId"] for e in entries}) == len(entries)
    assert {e["resource"]["type"] for e in entries} == {"cloud_run_revision"}
    labels = [e["resource"]["labels"] for e in entries]
    assert {la["service_name"] for la in labels} == {"api-backend", "web-frontend", "auth-service"}
    assert len({la["revision_name"] for la in labels}) >= 2
    assert 3 <= len({e["labels"]["instanceId"] for e in entries}) <= 6
    assert {e["logName"].split("/logs/")[1] for e in entries} == {
        f"run.googleapis.com%2F{s}" for s in ("stdout", "stderr", "requests", "varlog%2Fsystem")
    }
    assert all(("textPayload" in e) + ("jsonPayload" in e) <= 1 for e in entries)


@pytest.mark.parametrize(
    "needle",
    [
        "Error -3 connecting to redis-cache.acme-staging.internal:6379. Temporary failure in name resolution.",
        "Connection refused.",
        "timed out after 5.0s",
        "'UserContext' object has no attribute 'tenant_id'",
        "'NoneType' object has no attribute 'send_json'",
        "ModuleNotFoundError: No module named",
        "Reason: Worker failed to boot.",
        "Container called exit(3).",
        "The request failed because either the HTTP response was malformed",
        "RACE CONDITION DETECTED: websocket_hub did not reach ready within 10s",
        'WebSocket is not connected. Need to call "accept" first.',
        "closed with code 1011",
        "WebSocket connection rejected for demo-user-",
        "Slow query took 5.2s",
        "Failed to open database session",
        "JWT=REDACTED verification failed",
        "OAuth provider",
        "SessionMiddleware must be installed",
        "Sentry SDK not installed",
        "Config value REDIS_URL sanitized",
        "Environment variable CLICKHOUSE_URL is not set",
        "During handling of the above exception, another exception occurred:",
        "Booting worker with pid: 12",
        "Default STARTUP TCP probe succeeded",
        "<red>",
        "\x1b[31m",
        " - api.db - WARNING - ",
    ],
)
def test_scenario_covers_failure_family(entries, needle):
    assert any(needle in _message(e) for e in entries)


def test_crash_loop_spans_instances_and_pids(entries):
    exits = [e for e in entries if re.search(r"Worker \(pid:\d+\) exited with code 3", _message(e))]
    assert len({e["labels"]["instanceId"] for e in exits}) == 3
    assert len({re.search(r"pid:(\d+)", _message(e)).group(1) for e in exits}) >= 4
    assert {e["resource"]["labels"]["revision_name"] for e in exits} == {"api-backend-00042-q9d"}
    failed = [e for e in entries if e.get("httpRequest", {}).get("status") == 503]
    assert failed and all(e["textPayload"].startswith("The request failed") for e in failed)


def test_chained_traceback_shares_instant_and_instance(entries):
    glue = [e for e in entries if _message(e).startswith("During handling")]
    assert len(glue) == 2 and all("severity" not in e for e in glue)
    instant = [e for e in entries if e["timestamp"] == glue[0]["timestamp"]]
    assert [e.get("severity") for e in instant] == ["ERROR", None, "ERROR", None, "ERROR"]
    assert len({e["labels"]["instanceId"] for e in instant}) == 1


def test_split_traceback_is_one_line_per_entry(entries):
    start = next(i for i, e in enumerate(entries) if _message(e) == "KeyError: 'key-2026-11'")
    lines = entries[start : start + 6]
    assert _message(lines[-1]) == "Traceback (most recent call last):"
    assert all("severity" not in e and "\n" not in _message(e) for e in lines)
    assert len({e["labels"]["instanceId"] for e in lines}) == 1
    assert lines[0]["timestamp"] > lines[-1]["timestamp"]


def test_missing_field_error_rides_on_info_lines(entries):
    carriers = [e for e in entries if (e.get("jsonPayload") or {}).get("error") == {"message": "Missing field"}]
    assert carriers and all(e["severity"] == "INFO" and e["logName"].endswith("stdout") for e in carriers)


def test_some_entries_have_empty_messages(entries):
    assert sum(1 for e in entries if _message(e) == "" and ("textPayload" in e or "jsonPayload" in e)) == 2


# ------------------------------------------------------------------------------------------ fixtures


def test_generator_rewrites_committed_fixtures_byte_for_byte(tmp_path):
    assert gen.main(["--fixtures", str(tmp_path)]) == 0
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(FIXTURES) for p in FIXTURES.rglob("*") if p.is_file() and p.name != "README.md")
    assert written == committed
    for relative in written:
        assert (tmp_path / relative).read_bytes() == (FIXTURES / relative).read_bytes(), relative


def test_fixtures_are_small():
    assert all(p.stat().st_size < 300_000 for p in FIXTURES.rglob("*") if p.is_file())


def test_every_shape_holds_the_same_entries(entries):
    as_json = json.loads((FIXTURES / "sample.json").read_text())
    as_ndjson = _ndjson((FIXTURES / "sample.ndjson").read_bytes())
    as_gzip = _ndjson(gzip.decompress((FIXTURES / "sample.ndjson.gz").read_bytes()))
    client = json.loads((FIXTURES / "sample.client.json").read_text())
    assert as_json == as_ndjson == as_gzip == entries
    assert client["project"] == "acme-staging"
    assert [e["insert_id"] for e in client["entries"]] == [e["insertId"] for e in entries]
    for name in ("sample.table.txt", "sample.value.txt"):
        rows = [line for line in (FIXTURES / name).read_text().splitlines() if ISO_ROW.match(line)]
        assert [row[:27] for row in rows] == [e["timestamp"] for e in entries], name


def test_client_dump_uses_snake_case_keys():
    client = json.loads((FIXTURES / "sample.client.json").read_text())
    keys = set().union(*(e.keys() for e in client["entries"]))
    assert {"log_name", "insert_id", "text_payload", "json_payload", "http_request", "span_id"} <= keys
    assert not any(re.search("[A-Z]", key) for key in keys)
    request = next(e["http_request"] for e in client["entries"] if e["http_request"])
    assert {"request_method", "request_url", "status", "latency"} <= request.keys()
    assert all(e["timestamp"].endswith("+00:00") for e in client["entries"])


def test_table_layout(entries):
    lines = (FIXTURES / "sample.table.txt").read_text().splitlines()
    assert lines[0] == "TIMESTAMP                    SEVERITY  TEXT_PAYLOAD"
    payload_column = lines[0].index("TEXT_PAYLOAD")
    assert all(line == line.rstrip() for line in lines)
    continuations = [line for line in lines[1:] if not ISO_ROW.match(line)]
    assert continuations and all(line[:payload_column].isspace() for line in continuations)
    assert any(line.startswith("  File ", payload_column) for line in continuations)
    no_severity = next(e for e in entries if "severity" not in e and e.get("textPayload"))
    assert f"{no_severity['timestamp']}{' ' * 12}{no_severity['textPayload'].splitlines()[0]}" in lines
    request_only = next(e for e in entries if "httpRequest" in e and "textPayload" not in e)
    assert f"{request_only['timestamp']}  {request_only['severity']}" in lines


def test_value_rows_are_tab_separated(entries):
    text = (FIXTURES / "sample.value.txt").read_text()
    rows = [line.split("\t") for line in text.splitlines() if ISO_ROW.match(line)]
    assert all(len(row) == 3 for row in rows)
    assert rows[0] == [entries[0]["timestamp"], entries[0].get("severity", ""), entries[0].get("textPayload", "")]


def test_plain_log_keeps_continuations_indented():
    lines = (FIXTURES / "sample.log").read_text().splitlines()
    assert lines and all(line for line in lines)
    assert not any(line.lstrip().startswith("{") for line in lines)
    traceback_start = lines.index("[2026-11-28 02:02:01 +0000] [12] [ERROR] Exception in worker process")
    assert lines[traceback_start + 1].startswith("  Traceback")
    assert lines[traceback_start + 14] == "  ModuleNotFoundError: No module named 'api.services.invoice_export'"


def test_bad_fixtures():
    bad = FIXTURES / "bad"
    with pytest.raises(json.JSONDecodeError):
        json.loads((bad / "truncated.json").read_text())
    with pytest.raises(UnicodeDecodeError):
        (bad / "junk.bin").read_bytes().decode("utf-8")
    assert (bad / "empty.json").read_bytes() == b""
    assert json.loads((bad / "empty_array.json").read_text()) == []
    kinds = []
    for line in (bad / "mixed.ndjson").read_bytes().split(b"\n")[:-1]:
        try:
            value = json.loads(line.decode("utf-8"))
        except UnicodeDecodeError:
            kinds.append("undecodable")
        except json.JSONDecodeError:
            kinds.append("blank" if not line.strip() else "malformed")
        else:
            kinds.append("entry" if isinstance(value, dict) else "not an object")
    assert kinds.count("entry") == 8
    assert {"undecodable", "blank", "malformed", "not an object"} <= set(kinds)


# ------------------------------------------------------------------------------------------ generate


def _failure_shapes(n: int) -> set[str]:
    shapes = set()
    for entry in gen.generate(n, seed=3):
        message = _message(entry)
        if entry.get("severity") in ("WARNING", "ERROR") or re.search(r"WARNING|ERROR|CRITICAL|Traceback", message):
            shapes.add(re.sub(r"\d+", "0", message))
    return shapes


@pytest.mark.parametrize("n", [0, 1, 7, 2500])
def test_generate_yields_exactly_n(n):
    assert sum(1 for _ in gen.generate(n)) == n


def test_generate_is_deterministic_and_seeded():
    assert list(gen.generate(200, seed=5)) == list(gen.generate(200, seed=5))
    assert list(gen.generate(200, seed=5)) != list(gen.generate(200, seed=6))


@pytest.mark.parametrize("descending", [False, True])
def test_generate_orders_timestamps(descending):
    stamps = [e["timestamp"] for e in gen.generate(500, descending=descending)]
    assert stamps == sorted(stamps, reverse=descending)


def test_generate_failure_variety_is_bounded():
    small, large = _failure_shapes(3_000), _failure_shapes(15_000)
    assert 15 <= len(large) <= 40
    assert len(large - small) <= 2  # five times the entries, (almost) no new failure shapes


def test_generate_is_mostly_healthy():
    sample = list(gen.generate(4_000, seed=2))
    failing = sum(1 for e in sample if e.get("severity") in ("WARNING", "ERROR") or "textPayload" in e
                  and re.search(r"WARNING|ERROR|CRITICAL", e["textPayload"]))
    assert 0.08 <= failing / len(sample) <= 0.2


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_cli_streams_entries(tmp_path, fmt):
    out = tmp_path / f"bench.{fmt}"
    assert gen.main(["--n", "40", "--format", fmt, "--seed", "9", "--out", str(out)]) == 0
    data = out.read_bytes()
    parsed = json.loads(data) if fmt == "json" else _ndjson(data)
    assert parsed == list(gen.generate(40, seed=9, descending=True))
    if fmt == "json":
        assert data.decode() == gen.to_json(parsed)


def test_cli_json_with_zero_entries_is_an_empty_array(tmp_path):
    out = tmp_path / "empty.json"
    gen.main(["--n", "0", "--out", str(out)])
    assert json.loads(out.read_text()) == []
