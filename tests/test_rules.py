"""Rule loading, validation errors, matching order, prefilter, captures, field conditions and timeouts."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from triage.model import Entry, Severity
from triage.rules import MAX_LINE, RuleError, check_examples, load_rules

DATA = Path(__file__).parent / "rules_data"


def entry(message: str, severity: Severity = Severity.ERROR, **fields) -> Entry:
    return Entry(timestamp=None, severity=severity, message=message, location="test:1", **fields)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(*names: str) -> str:
    with pytest.raises(RuleError) as caught:
        load_rules([DATA / n for n in names])
    return str(caught.value)


# --- validation errors: one line, file:line rule-id: problem ----------------------------------------------


def test_bad_yaml() -> None:
    message = load_error("bad_yaml.yaml")
    assert message.startswith(f"{DATA / 'bad_yaml.yaml'}:4: invalid YAML: ")


def test_duplicate_key() -> None:
    assert load_error("duplicate_key.yaml") == f"{DATA / 'duplicate_key.yaml'}:7 dup-key: duplicate key 'contains'"


def test_unknown_rule_key() -> None:
    assert load_error("unknown_key.yaml") == f"{DATA / 'unknown_key.yaml'}:6 unknown-key: unknown key 'severity'"


def test_unknown_match_key() -> None:
    message = load_error("unknown_match_key.yaml")
    assert message == f"{DATA / 'unknown_match_key.yaml'}:7 unknown-match-key: unknown match key 'startswith'"


def test_duplicate_id_across_files() -> None:
    message = load_error("duplicate_id_a.yaml", "duplicate_id_b.yaml")
    assert message == (
        f"{DATA / 'duplicate_id_b.yaml'}:7 same-id: duplicate id (first defined at {DATA / 'duplicate_id_a.yaml'}:1)"
    )


def test_bad_priority() -> None:
    message = load_error("bad_priority.yaml")
    assert message == f"{DATA / 'bad_priority.yaml'}:3 bad-priority: bad priority 'P5' (expected one of P0, P1, P2, P3)"


def test_invalid_regex() -> None:
    message = load_error("invalid_regex.yaml")
    assert message.startswith(f"{DATA / 'invalid_regex.yaml'}:6 invalid-regex: invalid regex: ")


def test_fingerprint_name_not_a_group() -> None:
    message = load_error("fingerprint_not_group.yaml")
    assert message == (
        f"{DATA / 'fingerprint_not_group.yaml'}:7 fingerprint-not-group: "
        "fingerprint name 'host' is not a named group of the regex"
    )


def test_missing_required_key() -> None:
    assert load_error("missing_key.yaml") == f"{DATA / 'missing_key.yaml'}:1 missing-key: missing required key 'category'"


def test_too_many_whys() -> None:
    assert load_error("too_many_whys.yaml") == f"{DATA / 'too_many_whys.yaml'}:6 too-many-whys: too many whys (6 > 5)"


def test_stable_rule_needs_examples() -> None:
    message = load_error("stable_few_examples.yaml")
    assert message == (
        f"{DATA / 'stable_few_examples.yaml'}:5 stable-few-examples: "
        "stable rules need at least 2 match and 1 no_match examples (has 1 and 1)"
    )


def test_missing_path() -> None:
    assert load_error("nope.yaml") == f"{DATA / 'nope.yaml'}: no such rule file or directory"


def test_bad_condition_values(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", """\
        - id: bad-latency
          title: t
          priority: P2
          category: c
          match: {latency: "slow"}
        """)
    with pytest.raises(RuleError, match=r"r\.yaml:5 bad-latency: bad latency 'slow'"):
        load_rules([path])



@pytest.mark.parametrize("status", ['"599-500"', '"600-700"', "42", '["500-599", "5000"]'])
def test_a_status_no_response_can_have_is_refused(tmp_path: Path, status: str) -> None:
    """A range that runs backwards or leaves 100-599 would match nothing: a typo that silently disables the rule."""
    path = write(tmp_path, "r.yaml", f"""\
        - id: bad-status
          title: t
          priority: P2
          category: c
          match: {{http_status: {status}, log_name: requests}}
        """)
    with pytest.raises(RuleError, match=r"r\.yaml:5 bad-status: bad http_status .* \(expected statuses within 100-599"):
        load_rules([path])

# --- matching ---------------------------------------------------------------------------------------------


def test_captures_become_the_hit_captures(tmp_path: Path) -> None:
    rules = load_rules([DATA / "passing.yaml"])
    hit = rules.match(entry("disk nvme1 full"))
    assert hit is not None and hit.rule.id == "passing-rule"
    assert dict(hit.captures) == {"disk": "nvme1"}
    assert rules.match(entry("disk nvme1 fine")) is None


def test_contains_is_case_insensitive_and_all_must_appear(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", """\
        - id: both
          title: t
          priority: P2
          category: c
          match: {contains: [Connection Reset, upstream]}
        - id: either
          title: t
          priority: P3
          category: c
          match: {contains_any: [EOF, broken pipe]}
        """)
    rules = load_rules([path])
    assert rules.match(entry("UPSTREAM connection reset by peer")).rule.id == "both"
    assert rules.match(entry("connection reset by peer")) is None
    assert rules.match(entry("write: Broken Pipe")).rule.id == "either"
    assert rules.match(entry("unexpected eof")).rule.id == "either"


def test_order_is_priority_then_file_order(tmp_path: Path) -> None:
    folder = tmp_path / "pack"
    folder.mkdir()
    write(folder, "b.yaml", """\
        - {id: b-p1, title: t, priority: P1, category: c, match: {contains: boom}}
        - {id: b-p0, title: t, priority: P0, category: c, match: {contains: boom}}
        """)
    write(folder, "a.yaml", """\
        - {id: a-p1, title: t, priority: P1, category: c, match: {contains: boom}}
        - {id: a-p1-second, title: t, priority: P1, category: c, match: {contains: boom}}
        """)
    rules = load_rules([folder])
    assert [r.id for r in rules.rules] == ["b-p0", "a-p1", "a-p1-second", "b-p1"]
    assert rules.match(entry("boom")).rule.id == "b-p0"


def test_paths_replace_the_default_pack() -> None:
    assert [r.id for r in load_rules([DATA / "passing.yaml"]).rules] == ["passing-rule"]


def test_field_conditions(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", """\
        - id: server-errors
          title: t
          priority: P1
          category: c
          match: {http_status: ["500-599", 429], log_name: requests}
        - id: slow
          title: t
          priority: P2
          category: c
          match: {latency: "> 5s", log_name: [requests]}
        - id: api-warning
          title: t
          priority: P3
          category: c
          match: {contains: retry, severity: WARNING, service: [api, worker]}
        """)
    rules = load_rules([path])
    requests = "projects/p/logs/run.googleapis.com%2Frequests"
    assert rules.match(entry("GET /", http_status=503, log_name=requests)).rule.id == "server-errors"
    assert rules.match(entry("GET /", http_status=429, log_name=requests)).rule.id == "server-errors"
    assert rules.match(entry("GET /", http_status=404, log_name=requests)) is None
    assert rules.match(entry("GET /", http_status=503, log_name="run.googleapis.com%2Fstdout")) is None
    slow = entry("GET /", Severity.INFO, latency_s=5.5, log_name=requests)
    assert rules.match(slow).rule.id == "slow"
    assert rules.match(entry("GET /", latency_s=5.0, log_name=requests)) is None
    assert rules.needs_below_floor(slow)
    assert not rules.needs_below_floor(entry("GET /", Severity.INFO, latency_s=0.2, log_name=requests))
    assert rules.match(entry("will retry", Severity.WARNING, service="api")).rule.id == "api-warning"
    assert rules.match(entry("will retry", Severity.INFO, service="api")) is None
    assert rules.match(entry("will retry", Severity.ERROR, service="web")) is None


def test_a_remembered_answer_is_only_reused_for_the_same_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", """\
        - {id: api-retry, title: t, priority: P1, category: c, match: {contains: retry, service: api}}
        - {id: any-retry, title: t, priority: P2, category: c, match: {contains: retry}}
        """)
    rules = load_rules([path])
    answers = [rules.match(entry("will retry", service=service)).rule.id for service in ("api", "web", "api", "web")]
    assert answers == ["api-retry", "any-retry", "api-retry", "any-retry"]


def test_latency_units(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", """\
        - {id: fast-enough, title: t, priority: P2, category: c, match: {latency: "<= 250ms"}}
        """)
    rules = load_rules([path])
    assert rules.match(entry("x", latency_s=0.25)) is not None
    assert rules.match(entry("x", latency_s=0.26)) is None


def test_deprecated_rules_never_match(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", """\
        - {id: old, title: t, priority: P0, category: c, status: deprecated, match: {contains: boom}}
        - {id: new, title: t, priority: P1, category: c, match: {contains: boom}}
        """)
    rules = load_rules([path])
    assert [r.id for r in rules.rules] == ["old", "new"]
    assert rules.match(entry("boom")).rule.id == "new"


def test_regex_timeout_is_reported_once_and_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", r"""
        - id: catastrophic
          title: t
          priority: P0
          category: c
          match: {regex: '^(a|aa)+$'}
        - id: fallback
          title: t
          priority: P1
          category: c
          match: {contains: aaa}
        """)
    rules = load_rules([path])
    line = "a" * 5000 + "b"
    first = Entry(timestamp=None, severity=Severity.ERROR, message=line, location="app.log:7")
    second = Entry(timestamp=None, severity=Severity.ERROR, message=line, location="app.log:8")
    assert rules.match(first).rule.id == "fallback"
    assert rules.match(second).rule.id == "fallback"
    assert rules.timeouts == ["rule catastrophic: regex timed out on app.log:7; rule skipped for that entry"]


def test_a_long_message_is_matched_on_its_head_and_tail(tmp_path: Path) -> None:
    """A deep traceback ends in the exception line rules look for: it is kept; only the middle is left out."""
    path = write(tmp_path, "r.yaml", r"""
        - {id: module, title: t, priority: P0, category: c, match: {regex: 'No module named .(?P<module>[\w.]+).'}}
        """)
    rules = load_rules([path])
    frames = "".join(f'  File "/app/m{i}.py", line {i}, in <module>\n    import m{i + 1}\n' for i in range(400))
    traceback = "Traceback (most recent call last):\n" + frames + "ModuleNotFoundError: No module named 'app.monitoring'"
    assert len(traceback) > 2 * MAX_LINE
    assert rules.match(entry(traceback)).captures == {"module": "app.monitoring"}
    middle = "x" * MAX_LINE + "No module named 'lost'" + "x" * MAX_LINE
    assert rules.match(entry(middle)) is None
    assert rules.match(entry("x" * MAX_LINE + "No module named 'kept'")).captures == {"module": "kept"}


def test_fuzzy_regex_is_not_prefiltered_on_its_literal_text(tmp_path: Path) -> None:
    """`{e<=1}` is the `regex` module's fuzzy matching, not text a message must contain."""
    path = write(tmp_path, "r.yaml", r"""
        - {id: fuzzy, title: t, priority: P2, category: c, match: {regex: '(?:connection refused){e<=1}'}, fingerprint: []}
        """)
    rules = load_rules([path])
    assert rules.match(entry("redis: connection refusd")).rule.id == "fuzzy"
    assert rules.match(entry("redis: connection refused")).rule.id == "fuzzy"


def test_regex_without_literal_still_matches(tmp_path: Path) -> None:
    """A pattern the prefilter cannot derive a literal from is always tried."""
    path = write(tmp_path, "r.yaml", r"""
        - {id: digits, title: t, priority: P2, category: c, match: {regex: '^\d{3}$'}, fingerprint: []}
        """)
    assert load_rules([path]).match(entry("503")).rule.id == "digits"


def test_check_examples_reports_shadowing_and_wrong_captures() -> None:
    count, failures = check_examples(load_rules([DATA / "failing_examples.yaml"]))
    file = DATA / "failing_examples.yaml"
    assert count == 4
    assert [str(f) for f in failures] == [
        f"{file}:29 wrong-capture: captures {{'code': '3'}} != declared {{'code': '4'}}",
        f"{file}:18 narrow-timeout: example matched by broad-error first: 'error: timeout after 5s'",
    ]


# --- the default pack -------------------------------------------------------------------------------------


def test_default_pack_examples_all_pass() -> None:
    rules = load_rules()
    count, failures = check_examples(rules)
    assert failures == []
    assert count >= 2 * len(rules.rules)


def test_default_pack_rules_are_complete() -> None:
    for rule in load_rules().rules:
        assert rule.status == "stable", rule.id
        assert rule.five_whys and rule.remediation, rule.id
        assert rule.role in ("cause", "symptom", "noise"), rule.id


@pytest.mark.parametrize(
    ("message", "rule_id", "captures"),
    [
        ("Cache init failed: Error -3 connecting to sessions.cache.local:6390. Temporary failure in name resolution.",
         "redis-dns-resolution", {"errno": "-3", "host": "sessions.cache.local", "port": "6390"}),
        ("AttributeError: 'InvoiceStore' object has no attribute 'flush_all'", "python-missing-attribute",
         {"cls": "InvoiceStore", "attr": "flush_all"}),
        ("ModuleNotFoundError: No module named 'payments.gateway'", "python-module-not-found",
         {"module": "payments.gateway"}),
        ("RACE CONDITION DETECTED: Startup phase 'cache_warm' did not reach 'serving' within 4.5s",
         "startup-race-condition", {"phase": "cache_warm", "target": "serving"}),
        ("JWT=REDACTED verification failed for websocket user 9", "auth-jwt-rejected", {}),
        ("Container called exit(137).", "container-exit", {"code": "137"}),
    ],
)
def test_default_pack_matches_new_wordings(message: str, rule_id: str, captures: dict) -> None:
    hit = load_rules().match(entry(message))
    assert hit is not None and hit.rule.id == rule_id
    assert dict(hit.captures) == captures


def test_default_pack_ignores_healthy_lines() -> None:
    rules = load_rules()
    for message in ("GET /health 200 OK", "Started server process [8]", "Application startup complete."):
        assert rules.match(entry(message, Severity.INFO)) is None


def test_default_pack_regexes_all_have_a_prefilter_literal() -> None:
    # a pattern the stdlib parser cannot read (a group name used twice, say) gets no literal: the rule then runs
    # on every line of every scan
    from triage.rules import regex_literals

    for rule in load_rules().rules:
        if "regex" in rule.match:
            assert regex_literals(rule.match["regex"]), rule.id


def test_default_pack_leaves_a_wrapped_python_error_to_the_python_rules() -> None:
    # the wrapper's line, then the traceback of the error it caught (stitched into one message)
    message = ("Token validation failed\nTraceback (most recent call last):\n"
               '  File "/app/auth/cache.py", line 12, in store\n    self.cache.cache_token(token)\n'
               "AttributeError: 'TokenCache' object has no attribute 'cache_token'")
    hit = load_rules().match(entry(message))
    assert (hit.rule.id, dict(hit.captures)) == ("python-missing-attribute", {"cls": "TokenCache", "attr": "cache_token"})


def test_prefilter_with_overlapping_and_long_literals(tmp_path: Path) -> None:
    long_literal = "payload " * 20
    path = write(tmp_path, "r.yaml", f"""\
        - {{id: longer, title: t, priority: P1, category: c, match: {{contains: "disk full on"}}}}
        - {{id: shorter, title: t, priority: P2, category: c, match: {{contains_any: [disk, "disk f"]}}}}
        - {{id: long, title: t, priority: P3, category: c, match: {{contains: "{long_literal}"}}}}
        """)
    rules = load_rules([path])
    assert rules.match(entry("DISK FULL ON /var")).rule.id == "longer"
    assert rules.match(entry("disk ok")).rule.id == "shorter"
    assert rules.match(entry("x " + long_literal)).rule.id == "long"
    assert rules.match(entry("x " + long_literal[:-9])) is None


def test_patterns_with_regex_only_syntax_get_no_wrong_prefilter() -> None:
    from triage.rules import regex_literals

    assert regex_literals("code [[:digit:]] timeout") == ()
    assert regex_literals(r"\p{Lu}+ failed") == ()
    assert regex_literals("redis error -3") == ("redis error -3",)


def test_a_capture_is_one_line_whichever_way_the_message_arrived():
    rules = load_rules()
    whole = 'Connectivity test failed: database "netra_dev\n" does not exist'  # a line break in one message
    joined = 'Connectivity test failed: database "netra_dev\\n" does not exist'  # two parts stitching joined
    hits = [rules.match(entry(text)) for text in (whole, joined)]
    assert [(hit.rule.id, dict(hit.captures)) for hit in hits] == [("postgres-database-missing", {"database": "netra_dev\\n"})] * 2


@pytest.mark.parametrize("wrapper", ["Invalid token for user; ", "auth service unavailable, ", "Failed to create database session, "])
def test_a_wrapper_rules_exception_check_runs_once_not_at_every_mention(wrapper):
    """The "not when an AttributeError follows" check of a wrapper rule is made once per message: repeated at each
    of hundreds of mentions, it timed out on a 16 KiB message and the rule was skipped."""
    rules = load_rules()
    message = wrapper * 600 + "\n'TokenCache' object has no attribute 'cache_token'"
    assert rules.match(entry(message)).rule.id == "python-missing-attribute"
    assert rules.timeouts == []


def test_white_space_after_an_import_error_costs_no_timeout():
    rules = load_rules()
    for message in ("No module named 'billing.core'" + " " * 4000, "No module named 'billing.core'" + "\n   " * 1000):
        assert rules.match(entry(message)).rule.id == "python-module-not-found"
    assert rules.timeouts == []


@pytest.mark.parametrize("severity", [Severity.WARNING, Severity.ERROR])
@pytest.mark.parametrize(
    "message",
    [
        "JWT token is required for WebSocket connection",
        "JWT token not set in request headers",
        "OAuth state is required but was not provided by the client",
        "client_id is required in the request body",
        "OTEL_EXPORTER_OTLP_ENDPOINT is not set. Telemetry export disabled.",
        "LANGSMITH_API_KEY is not set; tracing disabled",
        "Invalid token count in prompt: 5000 > 4096",
    ],
)
def test_default_pack_leaves_client_credentials_and_optional_integrations_to_no_rule(message, severity) -> None:
    # a client that sent no token, or an optional integration the service runs without, is no outage: no rule
    # claims it, so it is clustered on its own with a priority from its severity
    assert load_rules().match(entry(message, severity)) is None


@pytest.mark.parametrize(
    ("message", "rule_id"),
    [
        ("SENTRY_DSN is not set, Sentry disabled", "sentry-sdk-missing"),
        ("GOOGLE_CLOUD_PROJECT is not set, inferring from metadata server", "config-warning"),
        ("HF_TOKEN is not set", "config-validation-failed"),
        ("WebSocket rejected: JWT is required", "websocket-connection-rejected"),
        ("jose.exceptions.JWTError: Signature verification failed.", "auth-jwt-rejected"),
        ("Could not connect to server: clickhouse.internal:8443", "clickhouse-unreachable"),
        ("Database health: connection refused by redis at 10.0.0.3:6379", "redis-connection-refused"),
        ("could not connect to server: Connection refused\n\tIs the server running on host \"10.0.0.5\" and "
         "accepting TCP/IP connections on port 5432?", "postgres-unreachable"),
        ("No module named 'uvloop'; using asyncio event loop", "optional-module-missing"),
    ],
)
def test_default_pack_sends_reviewed_lines_to_the_right_rule(message: str, rule_id: str | None) -> None:
    hit = load_rules().match(entry(message))
    assert (hit.rule.id if hit else None) == rule_id
