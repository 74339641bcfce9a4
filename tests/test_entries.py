"""LogEntry → Entry: message fallbacks, severity (declared and inferred), fields, snake_case dumps."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest

from triage.entries import EMPTY_MESSAGE, clean_text, infer_severity, parse_latency, parse_timestamp, strip_log_prefix, to_entry
from triage.model import Severity

CLOUD_RUN = {
    "insertId": "abc123",
    "labels": {"instanceId": "00bf4a"},
    "logName": "projects/acme/logs/run.googleapis.com%2Fstderr",
    "resource": {
        "type": "cloud_run_revision",
        "labels": {"service_name": "api", "revision_name": "api-00042-xyz", "configuration_name": "api", "location": "europe-west1"},
    },
    "timestamp": "2026-11-28T01:02:03.123456789Z",
    "trace": "projects/acme/traces/t1",
}


def test_cloud_run_fields():
    entry = to_entry({**CLOUD_RUN, "severity": "ERROR", "textPayload": "boom"}, "f.json:3")
    assert entry.message == "boom"
    assert entry.severity is Severity.ERROR and not entry.severity_inferred
    assert (entry.service, entry.revision, entry.instance) == ("api", "api-00042-xyz", "00bf4a")
    assert entry.region == "europe-west1"
    assert entry.log_name == "run.googleapis.com/stderr"
    assert entry.timestamp == datetime(2026, 11, 28, 1, 2, 3, 123456, tzinfo=timezone.utc)
    assert (entry.trace, entry.insert_id, entry.location) == ("projects/acme/traces/t1", "abc123", "f.json:3")


def test_a_cloud_run_job_entry_names_its_job_as_its_service():
    job = {"type": "cloud_run_job", "labels": {"job_name": "migrate-db", "location": "europe-west1", "project_id": "acme"}}
    entry = to_entry({"resource": job, "labels": {"run.googleapis.com/execution_name": "migrate-db-x7k2p"},
                      "severity": "ERROR", "textPayload": "alembic.util.exc.CommandError: Can't locate revision"})
    assert (entry.service, entry.region, entry.project) == ("migrate-db", "europe-west1", "acme")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-28 01:02:03.123 | ERROR    | app.db:connect:42 | failed", Severity.ERROR),
        ("2026-11-28 01:02:03.123 | SUCCESS  | app:run:1 | ok", Severity.INFO),
        ("2026-11-28 01:02:03,123 - app.cache - WARNING - slow", Severity.WARNING),
        ("[2026-11-28 01:42:06 +0000] [12] [ERROR] Worker (pid:13) exited with code 3", Severity.ERROR),
        ("ERROR:    Exception in ASGI application", Severity.ERROR),
        ('INFO:     203.0.113.9:0 - "GET /health HTTP/1.1" 200 OK', Severity.INFO),
        ("Traceback (most recent call last):\n  File \"/app/x.py\", line 1", Severity.ERROR),
        ("ModuleNotFoundError: No module named 'foo'", Severity.ERROR),
        ("ERROR:root:database connection refused (postgres at 10.0.0.5:5432)", Severity.ERROR),  # logging's default
        ("CRITICAL:app.db:pool exhausted", Severity.CRITICAL),
        ("WARNING:root:disk almost full", Severity.WARNING),
        ("ERROR something exploded", Severity.ERROR),
        ("FATAL\tcannot bind :8080", Severity.CRITICAL),
        ("ERRORS were counted: 0", None),
        # a printed error: redis-py's connection error, print(f"Error: {e}")
        ("Error -3 connecting to 10.166.204.83:6379. Try again.", Severity.ERROR),
        ("Error 111 connecting to localhost:6379. Connection refused.", Severity.ERROR),
        ("Error: Service Unavailable", Severity.ERROR),
        ("Error handling middleware installed", None),
        ("Errors: 0", None),
        ("2026-01-01 00:00:01,123 ERROR app: boom", Severity.ERROR),  # logging's "%(asctime)s %(levelname)s"
        ("2026-01-01T00:00:01Z WARNING disk at 91%", Severity.WARNING),
        ("2026-11-30 10:00:05 -0800 ERROR app: boom", Severity.ERROR),  # logback's "%d{yyyy-MM-dd HH:mm:ss Z}"
        ("2026-11-30 10:00:05 +01:00 WARNING slow", Severity.WARNING),
        ("2026/01/01 00:00:01 [error] 31#31: *5 connect() failed (111: Connection refused)", Severity.ERROR),  # nginx
        ("2026/01/01 00:00:01 [crit] 31#31: *5 SSL_do_handshake() failed", Severity.CRITICAL),
        ("2026-01-01 00:00:01 Errors seen: none", None),
        ("2026/01/01 00:00:01 [emerg] 1#1: bind() to 0.0.0.0:80 failed", Severity.EMERGENCY),
        ("INFO retry failed\nTraceback (most recent call last):\n  File \"a.py\", line 1", Severity.ERROR),  # outweighs
        ("INFO:root:retry\nTraceback (most recent call last):", Severity.ERROR),
        ("2026-01-01 00:00:01,123 | INFO | app:f:1 | retried\nTraceback (most recent call last):", Severity.INFO),
        ("During handling of the above exception, another exception occurred:", None),
        # Python's warnings module, to stderr: "coroutine … was never awaited" is a real bug
        ("/app/ws/init.py:88: RuntimeWarning: coroutine 'Validator.check_redis' was never awaited\n  v.check_redis()",
         Severity.WARNING),
        (r"C:\app\models.py:198: UserWarning: Field name \"schema\" shadows an attribute", Severity.WARNING),
        ("/app/x.py:3: DeprecationWarning: datetime.utcnow() is deprecated", Severity.WARNING),
        ("<frozen importlib._bootstrap>:241: RuntimeWarning: numpy.ndarray size changed", Severity.WARNING),
        ("see /docs/faq.md:3: Warning: words", None),
        ("just words", None),
    ],
)
def test_inferred_severity(text, expected):
    assert infer_severity(text) == expected


def test_default_severity_is_inferred_from_text():
    entry = to_entry({**CLOUD_RUN, "textPayload": "2026-11-28 01:02:03.123 | ERROR | m:f:1 | x"})
    assert entry.severity is Severity.ERROR and entry.severity_inferred
    entry = to_entry({**CLOUD_RUN, "severity": "DEFAULT", "textPayload": "plain"})
    assert entry.severity is Severity.DEFAULT and not entry.severity_inferred


def test_json_payload_message_severity_and_traceback():
    payload = {
        "severity": "ERROR",
        "message": "Request failed",
        "labels": {"module": "api", "function": "handle", "line": 10},
        "error": {"type": "KeyError", "value": "'id'", "traceback": 'Traceback (most recent call last):\n  File "/app/h.py", line 9, in handle\nKeyError: \'id\''},
    }
    entry = to_entry({**CLOUD_RUN, "jsonPayload": payload})
    assert entry.severity is Severity.ERROR
    assert entry.message.startswith("Request failed\nTraceback (most recent call last):")


_TB = 'Traceback (most recent call last):\n  File "/app/h.py", line 9, in handle\nKeyError: \'id\''


@pytest.mark.parametrize(
    ("payload", "shown"),
    [
        ({"message": "Request failed", "exc_info": _TB}, f"Request failed\n{_TB}"),  # python-json-logger
        ({"message": "Request failed", "stack_trace": _TB + "\n"}, f"Request failed\n{_TB}"),  # Error Reporting's
        ({"event": "request failed", "exception": _TB}, f"request failed\n{_TB}"),  # structlog
        ({"exception": _TB}, _TB),  # no message text: the traceback is the message
        ({"error": {"type": "KeyError", "value": "'id'"}, "exc_info": _TB}, _TB),  # ending in its exception line
        ({"error": {"type": "KeyError", "value": "'id'", "traceback": "  File \"/app/h.py\", line 9, in handle"}},
         "KeyError: 'id'\n  File \"/app/h.py\", line 9, in handle"),  # frames only: the exception line goes first
        ({"error": {"type": "TimeoutError", "value": "", "traceback": "  File \"/app/h.py\", line 9\n    raise TimeoutError()"}},
         "TimeoutError\n  File \"/app/h.py\", line 9\n    raise TimeoutError()"),  # a code line is no exception line
        ({"message": "Unhandled exception", "error": {"type": "KeyError", "value": "'id'",
                                                      "traceback": "  File \"/app/h.py\", line 9, in handle"}},
         "Unhandled exception\nKeyError: 'id'\n  File \"/app/h.py\", line 9, in handle"),
        ({"message": "Request failed", "exc_info": True}, "Request failed"),  # a flag, no traceback
        ({"message": f"Request failed\n{_TB}", "exc_info": _TB.replace("\n", "\r\n")}, f"Request failed\n{_TB}"),  # said
        ({"message": "Request failed", "stack_trace": "java.lang.NullPointerException\n\tat com.acme.Foo.bar(Foo.java:10)"},
         "Request failed\njava.lang.NullPointerException\n\tat com.acme.Foo.bar(Foo.java:10)"),  # any language's
        # the error object's exception line is not added before a traceback that ends in it
        ({"message": "Request failed", "error": {"type": "KeyError", "value": "'id'"}, "exc_info": _TB},
         f"Request failed\n{_TB}"),
    ],
)
def test_a_traceback_beside_the_message_ends_it_and_makes_it_an_error(payload, shown):
    entry = to_entry({**CLOUD_RUN, "jsonPayload": payload})
    assert entry.message == shown
    assert entry.severity is (Severity.ERROR if "\n" in shown else Severity.DEFAULT)


@pytest.mark.parametrize(
    ("message", "error", "shown"),
    [
        ("Unhandled exception in request handler", {"type": "KeyError", "value": "'thread_id'", "traceback": None},
         "Unhandled exception in request handler\nKeyError: 'thread_id'"),
        ("Middleware setup failure details: ModuleNotFoundError: No module named 'm'",
         {"type": "ModuleNotFoundError", "value": "No module named 'm'"},
         "Middleware setup failure details: ModuleNotFoundError: No module named 'm'"),  # said already
        ("Lookup failed for 'thread_id'", {"type": "KeyError", "value": "'thread_id'"}, "Lookup failed for 'thread_id'"),
        ("Handler gave up", {"type": "TimeoutError"}, "Handler gave up\nTimeoutError"),
    ],
)
def test_a_structured_errors_exception_shows_in_the_message_unless_said(message, error, shown):
    entry = to_entry({**CLOUD_RUN, "severity": "ERROR", "jsonPayload": {"message": message, "error": error}})
    assert entry.message == shown


@pytest.mark.parametrize("message", ["request failed", None])
def test_a_deeply_nested_error_value_is_no_exception_line_and_no_crash(message):
    value: object = "bottom"
    for _ in range(1200):
        value = {"inner": value}
    payload = {"error": {"type": "ValueError", "value": value}, **({"message": message} if message else {})}
    entry = to_entry({**CLOUD_RUN, "severity": "ERROR", "jsonPayload": payload})
    assert entry.message.split("\n")[-1] == "ValueError"  # the type alone; an object is no exception value


def test_missing_field_error_object_on_info_is_not_an_error():
    entry = to_entry({**CLOUD_RUN, "severity": "INFO", "jsonPayload": {"message": "user loaded", "error": {"message": "Missing field"}}})
    assert entry.severity is Severity.INFO and entry.message == "user loaded"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"jsonPayload": {"message": "", "textPayload": "inner text"}}, "inner text"),
        ({"jsonPayload": {"message": "", "error": {"type": "ValueError", "value": "bad"}}}, "ValueError: bad"),
        ({"protoPayload": {"status": {"message": "Permission denied"}}}, "Permission denied"),
        ({"httpRequest": {"requestMethod": "GET", "requestUrl": "https://x/a?q=1", "status": 503, "latency": "0.5s"}},
         "GET /a → 503 Service Unavailable (0.5s)"),
        ({"jsonPayload": {"b": 1, "a": "x"}}, '{"a":"x","b":1}'),
        ({"textPayload": 12345, "logName": "x"}, "12345"),
        ({"textPayload": {"detail": "nested"}, "logName": "x"}, '{"detail":"nested"}'),
        ({"jsonPayload": ["a", 1], "logName": "x"}, '["a",1]'),
        ({"jsonPayload": "a string payload", "logName": "x"}, "a string payload"),
        ({"textPayload": ""}, EMPTY_MESSAGE),
        ({"textPayload": "  ", "logName": "x"}, EMPTY_MESSAGE),
        ({}, EMPTY_MESSAGE),
    ],
)
def test_message_fallbacks_never_empty(data, message):
    assert to_entry(data).message == message


def test_a_payload_nested_deeper_than_orjson_writes_is_still_rendered():
    deep = orjson.loads('{"severity": "ERROR", "jsonPayload": {"x": ' + "[" * 300 + "]" * 300 + "}}")  # reads 1024
    assert to_entry(deep).message == '{"x":' + "[" * 300 + "]" * 300 + "}"


def test_an_application_json_line_keeps_its_own_fields_as_payload():
    """A JSON line with no payload (an app's structured stdout) reads as Cloud Run's agent would file it."""
    entry = to_entry({"message": "boom", "level": "error", "tags": ["a"], "time": "2026-11-28T02:00:00Z"})
    assert (entry.message, entry.severity, entry.timestamp) == (
        "boom", Severity.ERROR, datetime(2026, 11, 28, 2, tzinfo=timezone.utc)
    )
    entry = to_entry({"msg": "slow", "severity": "WARNING", "timestamp": "2026-11-28T02:00:00Z", "trace": "t1"})
    assert (entry.message, entry.severity, entry.trace) == ("slow", Severity.WARNING, "t1")
    assert to_entry({"event": "login failed", "user": 7, "severity": "ERROR"}).message == "login failed"  # structlog
    assert to_entry({"action": "login", "user": 7, "severity": "ERROR"}).message == '{"action":"login","user":7}'


def test_an_application_json_line_has_its_agent_fields_read():
    entry = to_entry({
        "message": "boom", "severity": "ERROR", "logger": "api.ws",
        "logging.googleapis.com/trace": "projects/p/traces/abc", "logging.googleapis.com/labels": {"instanceId": "i1"},
        "timestampSeconds": 1795824000, "timestampNanos": 5000,
    })
    assert (entry.trace, entry.instance, entry.timestamp) == (
        "projects/p/traces/abc", "i1", datetime(2026, 11, 28, 0, 0, 0, 5, tzinfo=timezone.utc)
    )
    assert entry.raw["jsonPayload"] == {"message": "boom", "logger": "api.ws"}


def test_a_client_dump_payload_of_any_json_type_is_its_message():
    assert to_entry({"log_name": "x", "payload": ["a", "b"], "severity": "ERROR"}).message == '["a","b"]'
    assert to_entry({"log_name": "x", "payload": 42, "severity": "ERROR"}).message == "42"


@pytest.mark.parametrize(
    "value, expected",
    [("500", Severity.ERROR), ("400", Severity.WARNING), ("550", Severity.DEFAULT), ("²", Severity.DEFAULT),
     ("1" * 5000, Severity.DEFAULT), ("٥٠٠", Severity.DEFAULT)],
)
def test_a_numeric_severity_written_as_text(value, expected):
    assert to_entry({"severity": value, "textPayload": "x"}).severity is expected


def test_http_request_fields():
    entry = to_entry({**CLOUD_RUN, "severity": "ERROR", "httpRequest": {"status": 503, "latency": "12.5s"}})
    assert (entry.http_status, entry.latency_s) == (503, 12.5)


def test_snake_case_client_dump():
    entry = to_entry({
        "log_name": "projects/acme/logs/run.googleapis.com%2Fstdout",
        "insert_id": "i1",
        "severity": "WARNING",
        "text_payload": "careful",
        "http_request": {"request_method": "POST", "status": 500},
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}},
        "timestamp": "2026-11-28T01:00:00+00:00",
    })
    assert (entry.message, entry.severity, entry.service, entry.http_status, entry.insert_id) == ("careful", Severity.WARNING, "api", 500, "i1")


def test_client_dump_bare_payload():
    assert to_entry({"payload": "text here", "insert_id": "1"}).message == "text here"
    assert to_entry({"payload": {"message": "json here"}, "insert_id": "1"}).message == "json here"


def test_ansi_and_loguru_markup_are_stripped_but_html_kept():
    assert clean_text("\x1b[31mred\x1b[0m <red>alert</red> <level>x</level>") == "red alert x"
    assert clean_text("<div>kept</div>") == "<div>kept</div>"


def test_every_terminal_escape_and_loguru_tag_is_stripped():
    # tput sgr0 ends colours with ESC ( B; OSC sets titles and hyperlinks, ended by BEL or ESC \
    assert clean_text("\x1b[31mERROR:\x1b(B\x1b[m  boom") == "ERROR:  boom"
    assert clean_text("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ \x1b]0;title\x07done") == "link done"
    assert clean_text("<r>red</> <lr>light</lr> <RED>bg</RED> <fg #ff0000>hex</fg #ff0000>") == "red light bg hex"
    assert clean_text("List<T> x < y > z <>") == "List<T> x < y > z <>"


def test_an_escape_no_longer_hides_the_level():
    entry = to_entry({"textPayload": "\x1b[31mERROR:\x1b(B\x1b[m  boom"})
    assert (entry.severity, entry.message) == (Severity.ERROR, "ERROR:  boom")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-28T01:00:00Z", datetime(2026, 11, 28, 1, tzinfo=timezone.utc)),
        ("2026-11-28T03:00:00+02:00", datetime(2026, 11, 28, 1, tzinfo=timezone.utc)),
        ("2026-11-28 01:00:00,250", datetime(2026, 11, 28, 1, 0, 0, 250000, tzinfo=timezone.utc)),
        ("2026-11-28t01:00:00.5z", datetime(2026, 11, 28, 1, 0, 0, 500000, tzinfo=timezone.utc)),  # RFC 3339 allows it
        (1795827600, datetime(2026, 11, 28, 1, tzinfo=timezone.utc)),  # Unix seconds
        (1795827600250, datetime(2026, 11, 28, 1, 0, 0, 250000, tzinfo=timezone.utc)),  # milliseconds
        (1795827600.5, datetime(2026, 11, 28, 1, 0, 0, 500000, tzinfo=timezone.utc)),
        (1795827600000000000, datetime(2026, 11, 28, 1, tzinfo=timezone.utc)),  # nanoseconds
        ({"seconds": 1795827600, "nanos": 250000000}, datetime(2026, 11, 28, 1, 0, 0, 250000, tzinfo=timezone.utc)),
        ({"seconds": "1795827600.25"}, datetime(2026, 11, 28, 1, 0, 0, 250000, tzinfo=timezone.utc)),
        ({"seconds": True}, None),
        ({"seconds": "x"}, None),
        ({"date": "2026-11-28"}, None),
        (20260101, None),  # no Unix time: a count, a date written as a number
        (42, None),
        (True, None),
        (float("nan"), None),
        ("not a time", None),
        (None, None),
    ],
)
def test_parse_timestamp(text, expected):
    assert parse_timestamp(text) == expected


def test_a_unix_or_protobuf_time_reads_to_the_microsecond_its_iso_form_does():
    """Binary floats put 1795827600.123456 a hair below its digits, and rounding 123456789 ns gave .123457: the
    same event in two export shapes had two times."""
    iso = parse_timestamp("2026-11-28T01:00:00.123456789Z")
    assert iso.microsecond == 123456
    same = [{"seconds": 1795827600, "nanos": 123456789}, {"seconds": "1795827600", "nanos": 123456999},
            1795827600123456789, 1795827600123456, 1795827600123.456, 1795827600.123456]
    assert [parse_timestamp(value) for value in same] == [iso] * len(same)


class _Text(str):
    """A time string that :func:`parse_timestamp` reads the general way (its fast way takes ``str`` itself only)."""


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28T01:33:19.998308Z", "2026-11-28T01:33:19.998308123Z", "2026-11-28T01:00:00+00:00",
        "2026-11-28T03:00:00+02:00", "2026-11-28 01:00:00,250", "2026-11-28T01:00:00", "2026-11-28",
        "2026-11-28t01:00:00z", " 2026-11-28T01:00:00Z\n", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59.999999Z", "0002-01-01T00:00:00Z", "", "not a time",
    ],
)
def test_a_time_string_reads_the_same_the_fast_way_and_the_general_way(text):
    fast, general = parse_timestamp(text), parse_timestamp(_Text(text))
    assert (fast, getattr(fast, "tzinfo", None)) == (general, getattr(general, "tzinfo", None))


def test_parse_latency():
    assert parse_latency("0.123s") == 0.123
    assert parse_latency({"seconds": 2, "nanos": 500000000}) == 2.5
    assert parse_latency("n/a") is None


@pytest.mark.parametrize(
    "text, body",
    [
        ("2026-11-28 01:02:03.123 | ERROR    | app.db:connect:42 | failed", "failed"),
        ("<TS> | CRITICAL | api.startup:wait_for:<NUM> | RACE CONDITION", "RACE CONDITION"),
        ("<TS> - api.config - WARNING - Config value sanitized", "Config value sanitized"),
        ("<TS> - auth-service - auth.routes - WARNING - Blacklist check", "Blacklist check"),
        ("[<TS>] [<NUM>] [ERROR] Shutting down: Master", "Shutting down: Master"),
        ("ERROR:    Exception in ASGI application", "Exception in ASGI application"),
        ("ERROR:root:database connection refused", "database connection refused"),
        ("<TS> ERROR app: boom", "app: boom"),
        ("2026-11-30 10:00:05 -0800 ERROR app: boom", "app: boom"),
        ("2026/01/01 <TS> [error] 7#7: *5 connect() failed", "7#7: *5 connect() failed"),
        ("Payment provider ERROR 502 from upstream", "Payment provider ERROR 502 from upstream"),
        ("CRITICAL:app.db:pool exhausted: 10/10", "pool exhausted: 10/10"),
        ("plain | text", "plain | text"),
    ],
)
def test_strip_log_prefix(text, body):
    assert strip_log_prefix(text) == body


@pytest.mark.parametrize(
    "odd",
    [
        {"resource": {"labels": ["api"]}},
        {"labels": {"instanceId": ["i1"]}},
        {"logName": ["stderr"]},
        {"trace": {"id": "t"}},
        {"insertId": {"id": 1}},
        {"httpRequest": {"status": "abc", "latency": {"seconds": "x"}}},
        {"httpRequest": {"status": float("inf"), "latency": "NaNs"}},
    ],
)
def test_odd_field_types_never_raise(odd):
    entry = to_entry({"severity": "ERROR", "textPayload": "boom", **odd})
    assert entry.severity is Severity.ERROR
    for value in (entry.service, entry.revision, entry.instance, entry.log_name, entry.trace, entry.insert_id):
        assert value is None or isinstance(value, str)
    assert entry.http_status is None or entry.http_status == 500
    assert entry.latency_s is None


def test_request_summary_of_an_unparsable_url():
    entry = to_entry({"severity": "ERROR", "httpRequest": {"requestMethod": "GET", "requestUrl": "http://[bad/x", "status": 500}})
    assert entry.message == "GET / → 500 Internal Server Error"


def test_numeric_labels_become_text():
    entry = to_entry({"textPayload": "x", "resource": {"labels": {"service_name": 5}}, "labels": {"instanceId": 7}})
    assert (entry.service, entry.instance) == ("5", "7")


def test_timestamp_out_of_range_after_conversion_is_none():
    assert parse_timestamp("0001-01-01T00:00:00+01:00") is None


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00Z", "0001-12-31T23:59:59Z", "9999-12-31T23:59:59.999999Z"])
def test_a_time_at_the_limits_of_datetime_is_no_time(text):
    assert parse_timestamp(text) is None


def test_times_near_the_limits_are_kept():
    assert parse_timestamp("0002-01-01T00:00:00Z") == datetime(2, 1, 1, tzinfo=timezone.utc)
    assert parse_timestamp("9998-12-31T23:59:59.999999Z") == datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)


def test_an_explicit_default_severity_leaves_the_payload_level_to_speak():
    record = {**CLOUD_RUN, "severity": "DEFAULT", "jsonPayload": {"message": "disk full", "level": "error"}}
    assert to_entry(record).severity is Severity.ERROR
    assert to_entry({**record, "severity": None}).severity is Severity.ERROR
    quiet = {**record, "jsonPayload": {"message": "| ERROR | but the payload says info", "level": "info"}}
    assert to_entry(quiet).severity is Severity.INFO
    json_logger = {**record, "jsonPayload": {"message": "disk full", "levelname": "CRITICAL"}}  # python-json-logger
    assert to_entry(json_logger).severity is Severity.CRITICAL
