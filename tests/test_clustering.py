"""Masking, signatures, order-free mining and stable fingerprints (synthetic messages only)."""

from __future__ import annotations

import json
import random
import traceback
from collections import Counter
from pathlib import Path

import pytest

from triage.clustering import RECIPE_VERSION, Template, group_messages, mask, mine, signature

DEV_EXPORTS = Path(__file__).resolve().parents[2] / "shared" / "netra" / "dev"


@pytest.mark.parametrize(
    ("message", "masked"),
    [
        ("connect to 10.0.3.7:6379 failed", "connect to <IP> failed"),
        ("listening on [fe80::1ff:fe23:4567:890a]", "listening on [<IP>]"),
        ("job 3f2b9c1e-8d4a-4b6f-9e2d-1a2b3c4d5e6f done", "job <UUID> done"),
        ("object at 0x7f3a2c1b9e80 freed", "object at <HEX> freed"),
        ("commit 9fceb02d0ae598e95dc970b74767f19372d61af8 deployed", "commit <HEX> deployed"),
        ("request took 2.1s (budget 5083ms)", "request took <DURATION> (budget <DURATION>)"),
        ("retry 3 of 5", "retry <NUM> of <NUM>"),
        ("at 2025-01-02T03:04:05.678Z the cache expired", "at <TS> the cache expired"),
        ("[2024-05-06 07:08:09 +0000] [7] [ERROR] Worker (pid:8) exited with code 3",
         "[<TS>] [<NUM>] [ERROR] Worker (pid:<NUM>) exited with code <NUM>"),
        ("login at Tue Mar 5 11:12:13 2024 refused", "login at <TS> <NUM> refused"),
        ("session for demo-user-042 expired", "session for <ID> expired"),
        ("closing req_8f3k2j9 and ws_1700000000_ab12cd", "closing <ID> and <ID>"),
        ('File "app/jobs.py", line 42, in run', 'File "app/jobs.py", line <NUM>, in run'),
        ("raised at jobs.py:42", "raised at jobs.py:<NUM>"),
        ("mail to ops7@example.org bounced", "mail to <EMAIL> bounced"),
        ("payload 'this value is long enough to be free text data' rejected", "payload '<STR>' rejected"),
        ("probe failed for pg-replica-1.db.internal", "probe failed for <ID>.db.internal"),  # a dotted name by parts
    ],
)
def test_mask_replaces_variable_parts(message: str, masked: str) -> None:
    assert mask(message) == masked


@pytest.mark.parametrize(
    "message",
    [
        "AttributeError: 'coroutine' object has no attribute 'get'",
        "redis.exceptions.ConnectionError: cannot reach redis.staging.internal",
        "ModuleNotFoundError: No module named 'auth_service'",
        "codec utf8 failed over ipv6",
        "Transaction rolled back: psycopg2.errors.DeadlockDetected",
        "Upstream call failed: (urllib3.exceptions.ReadTimeoutError)",
    ],
)
def test_mask_keeps_the_words_that_tell_failures_apart(message: str) -> None:
    assert mask(message) == message


def _traceback(exception: str, line: int, *, app_file: str = "/srv/app/billing/charge.py") -> str:
    return (
        "Traceback (most recent call last):\n"
        f'  File "{app_file}", line {line}, in charge\n'
        "    client.post(payload)\n"
        '  File "/usr/local/lib/python3.11/site-packages/httpx/_client.py", line 1145, in post\n'
        "    return self.request(...)\n"
        f"{exception}\n"
    )


def test_traceback_signature_uses_exception_type_and_in_app_frames_only() -> None:
    first = signature(_traceback("httpx.ReadTimeout: timed out after 30s", 17))
    second = signature(_traceback("httpx.ReadTimeout: peer 10.1.2.3 stalled", 99))
    assert first == second
    assert "httpx.ReadTimeout" in first and "billing/charge.py:charge" in first
    assert "_client.py" not in first
    assert signature(_traceback("KeyError: 'amount'", 17)) != first
    assert signature(_traceback("httpx.ReadTimeout: x", 17, app_file="/srv/app/billing/refund.py")) != first


def test_chained_traceback_signature_follows_the_final_exception() -> None:
    chained = (
        _traceback("KeyError: 'amount'", 5)
        + "\nDuring handling of the above exception, another exception occurred:\n\n"
        + _traceback("ValueError: bad charge", 9)
    )
    assert signature(chained) == signature(_traceback("ValueError: other text", 12))


def test_traceback_template_reads_as_exception_and_frames() -> None:
    (template,) = mine({signature(_traceback("KeyError: 'amount'", 3)): 1}).values()
    assert template.text == "KeyError in billing/charge.py:charge"


def test_plain_signature_is_the_masked_first_line() -> None:
    assert signature("disk 3 full\nsecond line 4") == "disk <NUM> full"


def test_a_traceback_cut_at_its_start_joins_the_one_whole_traceback_it_is_the_end_of() -> None:
    def traceback_of(*functions: str) -> str:
        frames = "".join(f'  File "/app/api/{f}.py", line {n}, in {f}\n    {f}_next()\n' for n, f in enumerate(functions, 10))
        return f"Traceback (most recent call last):\n{frames}TypeError: unsupported operand"

    whole = traceback_of("create_order", "compute_total")
    cut = whole.split("\n", 3)[3]  # from the innermost frame on: the export began inside it
    assert cut.startswith('  File "/app/api/compute_total.py"')
    keys = group_messages([whole, cut])
    assert keys[0] == keys[1] and group_messages([cut, whole]) == keys[::-1]
    assert mine({signature(cut): 1})[signature(cut)].text == "TypeError in api/compute_total.py:compute_total"  # alone
    # the end of two different tracebacks: which one it was is not known
    other = traceback_of("refund_order", "compute_total")
    assert len(set(group_messages([whole, other, cut]))) == 3


def test_a_message_that_ends_in_an_exception_line_is_told_apart_by_its_exception() -> None:
    """A structured error's ``Type: value`` line, added after "Unhandled exception in request handler"."""
    assert signature("Unhandled exception in request handler\nKeyError: 'thread_id'") == (
        "Unhandled exception in request handler → KeyError")
    assert signature("Request failed: TimeoutError\nTimeoutError: read timed out") == "Request failed: TimeoutError"
    assert signature("Config loaded\nport: 8080") == "Config loaded"  # a line that names no exception
    handlers = [f"Unhandled exception in request handler\n{line}" for line in (
        "KeyError: 'thread_id'", "TimeoutError: read timed out", "PermissionError: [Errno 13] denied",
        "KeyError: 'user_id'")]
    keys = group_messages(handlers)
    assert len(set(keys)) == 3 and keys[0] == keys[3]


@pytest.mark.parametrize(
    "variants",
    [
        # a message's subject (its first word), exception names, dotted names, a coroutine's name
        [f"{name} health check failed" for name in ("Redis", "PostgreSQL", "ClickHouse")],
        [f"Request failed: {name}: upstream" for name in ("TimeoutError", "PermissionError", "KeyError")],
        [f"Rolled back: psycopg2.errors.{name}" for name in ("DeadlockDetected", "SerializationFailure", "UniqueViolation")],
        [f"RuntimeWarning: coroutine '{name}' was never awaited" for name in
         ("RedisManager.connect", "ThreadService.cleanup", "AgentRegistry.register")],
        [f"{name}: health check failed, marking service unready" for name in ("redis", "postgres", "clickhouse")],
        [f"Request to {host} timed out" for host in
         ("oauth2.googleapis.com", "s3.amazonaws.com", "ec2.amazonaws.com", "api.stripe.com", "sqs.amazonaws.com")],
    ],
)
def test_mining_never_makes_a_variable_of_the_words_that_name_a_failure(variants: list[str]) -> None:
    assert len(set(group_messages(variants))) == len(variants)


@pytest.mark.parametrize(
    "variants",
    [
        [f"Timeout talking to node{n}.cluster.local" for n in range(1, 9)],  # numbered hosts
        [f"Upload failed for user{n}.avatar.png" for n in range(1, 9)],
        [f"{tenant} quota exceeded for plan basic" for tenant in ("acme", "globex", "initech", "umbrella")],  # not capitalised
    ],
)
def test_numbered_hosts_and_a_lower_case_first_word_still_vary(variants: list[str]) -> None:
    assert len(set(group_messages(variants))) == 1


USERS = ["alice", "bob", "carol", "dave"]
MESSAGES = (
    [f"[2024-05-06 07:08:{s:02d} +0000] [7] [ERROR] Worker (pid:{s + 10}) exited with code 3" for s in range(5)]
    + [f"WebSocket connection rejected for user {user}: token expired" for user in USERS]
    + [f"cache miss for key session:{n}" for n in range(3)]
    + ["database connection pool exhausted", "database connection pool exhausted"]
    + [f"payment provider returned HTTP {code}" for code in (502, 503)]
)


def test_order_independence() -> None:
    keys = dict(zip(MESSAGES, group_messages(MESSAGES)))
    shuffled = MESSAGES[:]
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert dict(zip(shuffled, group_messages(shuffled))) == keys


def test_recurring_failures_collapse_and_different_ones_stay_apart() -> None:
    keys = group_messages(MESSAGES)
    assert len(set(keys[0:5])) == 1  # pids differ
    assert len(set(keys[5:9])) == 1  # users differ
    assert len(set(keys)) == 5


def test_group_messages_contract() -> None:
    keys = group_messages(MESSAGES)
    assert len(keys) == len(MESSAGES)
    assert group_messages(list(reversed(MESSAGES))) == list(reversed(keys))
    assert keys[12] == keys[13]
    assert group_messages([]) == []


def test_fingerprint_is_stable_across_calls_and_pinned() -> None:
    counts = Counter(signature(message) for message in MESSAGES)
    first, second = mine(counts), mine(dict(counts))
    assert first == second
    template = first[signature(MESSAGES[0])]
    assert template == Template(
        text="[<TS>] [<NUM>] [ERROR] Worker (pid:<NUM>) exited with code <NUM>",
        fingerprint="716f59962711b1e64231",
    ), f"recipe changed: bump RECIPE_VERSION (now {RECIPE_VERSION}) and update this value"


def test_mined_template_shows_the_varying_word_as_wildcard() -> None:
    templates = mine(Counter(signature(message) for message in MESSAGES[5:9]))
    assert {t.text for t in templates.values()} == {"WebSocket connection rejected for user <*> token expired"}


def _dev_messages() -> list[str]:
    messages = []
    for path in sorted(DEV_EXPORTS.glob("*.json")):
        entries = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(entries, dict):
            entries = next((value for value in entries.values() if isinstance(value, list)), [])
        for entry in entries:
            if isinstance(entry, dict):
                message = entry.get("textPayload") or (entry.get("jsonPayload") or {}).get("message")
                if isinstance(message, str) and message.strip():
                    messages.append(message)
    return messages


@pytest.mark.skipif(not DEV_EXPORTS.is_dir(), reason="dev exports (../shared) absent")
def test_dev_exports_collapse_recurring_failures() -> None:
    messages = _dev_messages()
    keys = dict(zip(messages, group_messages(messages)))
    rejected = {keys[m] for m in messages if m.endswith("connection rejected (403 Forbidden)")}
    invalid = {keys[m] for m in messages if m.startswith("WebSocket connection rejected") and "Invalid" in m}
    missing = {keys[m] for m in messages if m.startswith("WebSocket connection rejected") and "No JWT" in m}
    assert len(rejected) == len(invalid) == len(missing) == 1
    assert len(rejected | invalid | missing) == 3
    workers = [f"[2024-02-03 10:11:12 +0000] [21] [ERROR] Worker (pid:{pid}) exited with code 3" for pid in (22, 23)]
    assert len(set(group_messages(messages + workers)[-2:])) == 1


def test_truncated_tracebacks_are_told_apart_by_their_frames() -> None:
    head = "Traceback (most recent call last):\n"
    uvicorn = head + '  File "/usr/local/bin/uvicorn", line 8, in <module>\n    sys.exit(main())'
    config = head + '  File "/app/core/configuration/base.py", line 88, in _load_complete_configuration\n    x = y'
    assert signature(uvicorn) != signature(config)
    (template,) = mine({signature(config): 1}).values()
    assert template.text == "Traceback (no exception line) in configuration/base.py:_load_complete_configuration"


def test_secret_values_are_masked_so_they_neither_split_clusters_nor_reach_titles() -> None:
    assert mask("login failed for admin password=hunter2 api_key=abc&x=1") == (
        "login failed for admin password=<SECRET> api_key=<SECRET>&x=<NUM>")
    assert mask("Authorization: Bearer abc.def.ghi rejected") == "Authorization: Bearer <SECRET> rejected"
    assert signature("db auth failed: password=foo") == signature("db auth failed: password=bar")


def _settings_error(*fields: str) -> str:
    """A pydantic settings ValidationError: field names stand unindented on lines after the exception line."""
    return (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/core/config.py", line 40, in load_settings\n'
        "    return Settings()\n"
        '  File "/usr/local/lib/python3.11/site-packages/pydantic_settings/main.py", line 84, in __init__\n'
        "    super().__init__(**values)\n"
        f"pydantic_core._pydantic_core.ValidationError: {len(fields)} validation errors for Settings\n"
        + "".join(f"{field}\n  Field required [type=missing, input_value={{}}, input_type=dict]\n" for field in fields)
    )


def test_a_multi_line_exception_message_is_keyed_by_its_exception_line_not_a_later_line() -> None:
    key = signature(_settings_error("jwt_secret", "database_url", "redis_host"))
    assert key == signature(_settings_error("smtp_host"))
    (template,) = mine({key: 1}).values()
    assert template.text == "pydantic_core._pydantic_core.ValidationError in core/config.py:load_settings"


def test_a_long_quoted_single_token_is_a_word_not_free_text() -> None:
    first = "KeyError: 'billing.ledger.reconciliation_worker.pending_settlements'"
    second = "KeyError: 'billing.ledger.reconciliation_worker.refund_queue_entries'"
    assert mask(first) == first
    assert len(set(group_messages([first, second]))) == 2
    coroutine = "RuntimeWarning: coroutine 'LedgerReconciliationWorker._settle_pending_batches' was never awaited"
    assert mask(coroutine) == coroutine
    # data inside the token is masked as in any other word; quoted free text still becomes <STR>
    assert mask("cache key 'tenant:1234567:session:9fceb02d0ae598e95dc970b74767f19372d61af8' missing") == (
        "cache key 'tenant:<NUM>:session:<HEX>' missing")
    assert mask("job 'nightly-export' failed: 'the upstream ledger service returned no rows at all' (3 tries)") == (
        "job 'nightly-export' failed: '<STR>' (<NUM> tries)")


def _group_traceback(leaf: str, route: str) -> str:
    """A Python 3.11 exception group traceback (Starlette's BaseHTTPMiddleware) holding one leaf exception."""
    return "\n".join([
        "  + Exception Group Traceback (most recent call last):",
        '  |   File "/usr/local/lib/python3.11/site-packages/starlette/middleware/base.py", line 188, in __call__',
        "  |     with collapse_excgroups():",
        '  |   File "/usr/local/lib/python3.11/contextlib.py", line 158, in __exit__',
        "  |     self.gen.throw(typ, value, traceback)",
        "  | ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)",
        "  +-+---------------- 1 ----------------",
        "    | Traceback (most recent call last):",
        f'    |   File "/srv/app/routes/{route}.py", line 42, in get_{route}',
        "    |     return await store.load(item_id)",
        '    |   File "/srv/app/services/store.py", line 17, in load',
        "    |     return self.cache[key]",
        "    |            ~~~~~~~~~~^^^^^",
        f"    | {leaf}",
        "    +------------------------------------",
    ])


def test_an_exception_group_is_keyed_by_its_leaf_exception_and_frames() -> None:
    key_error = signature(_group_traceback("KeyError: 'thread_id'", "threads"))
    assert key_error == signature(_group_traceback("KeyError: 'tenant_id'", "threads"))
    assert signature(_group_traceback("ValueError: invalid literal for int(): 'abc'", "threads")) != key_error
    assert signature(_group_traceback("KeyError: 'thread_id'", "messages")) != key_error
    (template,) = mine({key_error: 1}).values()
    assert template.text == "KeyError in services/store.py:load < routes/threads.py:get_threads"
    plain = "Traceback (most recent call last):\n" + "\n".join(
        line[6:] for line in _group_traceback("KeyError: 'x'", "threads").splitlines()[8:14])
    assert signature(plain) == key_error  # the same failure raised outside a task group


def test_nested_exception_groups_are_keyed_by_a_leaf_whatever_the_order_of_the_leaves() -> None:
    def group(*children: str) -> str:
        head = [
            "  + Exception Group Traceback (most recent call last):",
            '  |   File "/srv/app/jobs/sync.py", line 30, in run_all',
            "  |     async with asyncio.TaskGroup() as tasks:",
            f"  | ExceptionGroup: unhandled errors in a TaskGroup ({len(children)} sub-exceptions)",
        ]
        parts = [("  +-+" if number == 1 else "    +") + f"---------------- {number} ----------------\n{child}"
                 for number, child in enumerate(children, 1)]
        return "\n".join(head + parts + ["    +------------------------------------"])

    timeout = (
        "    | Traceback (most recent call last):\n"
        '    |   File "/srv/app/jobs/fetch.py", line 9, in fetch\n'
        "    |     await client.get(url)\n"
        "    | TimeoutError"
    )
    nested = (  # a group of errors collected without raising them
        "    | Exception Group Traceback (most recent call last):\n"
        '    |   File "/srv/app/jobs/store.py", line 12, in save\n'
        "    |     raise ExceptionGroup('rows', errors)\n"
        "    | ExceptionGroup: rows (1 sub-exception)\n"
        "    +-+---------------- 1 ----------------\n"
        "      | ValueError: row 7 has no id\n"
        "      +------------------------------------"
    )
    both = signature(group(timeout, nested))
    assert both == signature(group(nested, timeout))
    assert both == "\u27e6traceback\u27e7 TimeoutError in jobs/fetch.py:fetch"
    # a leaf put into a group without being raised has no frames of its own: it takes its group's
    assert signature(group(nested)) == "\u27e6traceback\u27e7 ValueError in jobs/store.py:save"


def test_a_traceback_chained_after_an_exception_group_is_the_final_exception() -> None:
    chained = (
        _group_traceback("KeyError: 'thread_id'", "threads")
        + "\n\nThe above exception was the direct cause of the following exception:\n\n"
        + _traceback("RuntimeError: request failed", 5)
    )
    assert signature(chained) == signature(_traceback("RuntimeError: other text", 8))


def test_exception_groups_split_one_line_per_entry_or_whole_give_one_cluster_per_leaf(cli, tmp_path: Path) -> None:
    entries = []

    def add(text: str, instance: str, second: int, severity: str | None) -> None:
        entry = {
            "insertId": f"e{len(entries)}", "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
            "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api"}},
            "labels": {"instanceId": instance}, "timestamp": f"2025-09-12T16:00:{second:02d}Z", "textPayload": text,
        }
        entries.append(entry | ({"severity": severity} if severity else {}))

    for number, (leaf, route) in enumerate([("KeyError: 'thread_id'", "threads"), ("ValueError: bad id", "messages")]):
        text = _group_traceback(leaf, route)
        add(text, f"whole-{number}", number, "ERROR")
        for line in text.splitlines():
            add(line, f"split-{number}", 10 + number, None)
    source = tmp_path / "groups.ndjson"
    source.write_text("\n".join(json.dumps(entry) for entry in entries) + "\n", encoding="utf-8")
    result = cli("scan", "--source", source, "--no-state", "--format", "json")
    assert result.exit_code == 0, result.output
    clusters = {cluster["title"]: cluster["count"] for cluster in json.loads(result.stdout)["clusters"]}
    assert clusters == {
        "KeyError in services/store.py:load < routes/threads.py:get_threads": 2,
        "ValueError in services/store.py:load < routes/messages.py:get_messages": 2,
    }


def _raised(function) -> BaseException:
    try:
        function()
    except BaseException as error:  # noqa: BLE001 - the test wants the exception whatever it is
        return error
    raise AssertionError("nothing raised")


def _settle_batch() -> None:
    def first() -> None:
        raise ValueError("bad amount 12")

    def second() -> None:
        raise ValueError("bad amount 13")

    raise ExceptionGroup("settle batch", [_raised(first), _raised(second)])


def test_an_exception_group_cut_inside_a_leaf_keeps_the_key_of_its_complete_leaf():
    """An export cut before the last leaf's exception line: the complete leaf still names the group."""
    full = "".join(traceback.format_exception(_raised(_settle_batch)))
    cut = full[: full.rfind("ValueError: bad amount 13")]
    assert signature(cut) == signature(full)
    assert "ValueError in " in signature(full)


def test_an_unraised_leaf_of_an_unraised_nested_group_takes_the_frames_of_the_group_that_was_raised():
    def nested() -> None:
        raise ExceptionGroup("outer", [ExceptionGroup("inner", [ValueError("x")])])

    key = signature("".join(traceback.format_exception(_raised(nested))))
    assert key.endswith("ValueError in tests/test_clustering.py:nested < tests/test_clustering.py:_raised"), key
