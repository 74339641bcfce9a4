import dataclasses
import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import unquote

import pytest

from triage.drafts import (
    MARKER_RE, MAX_BODY, DraftContext, Templates, body_digest, cut, escape_cell, escape_html, fence, fill_placeholders,
    parse_marker, placeholder_values, project_of, render_issue, render_scan_report, title_digest,
)
from triage.errors import TriageError
from triage.incidents import link_incidents
from triage.logs_link import logs_explorer_url, logs_query
from triage.model import Rule, Sample, ScanResult, Severity, Why, Window
from triage.state import StateStore
from conftest import FIXTURES
from cluster_factory import (
    BOOT_FP, HTTP503_FP, ROOT_FP, T0, WINDOW, cascade_clusters, long_traceback, rule_cluster, scan_result,
    unmatched_cluster,
)

SNAPSHOTS = Path(__file__).parent / "snapshots"


def check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_rule_matched_draft_snapshot():
    draft = render_issue(rule_cluster(), DraftContext(WINDOW, "regression", "acme-prod"))
    assert draft.title == "GCP-regression | P0 | Redis host name does not resolve (host=cache.internal, port=6379)"
    check_snapshot("rule_matched.md", draft.as_markdown())


def test_unmatched_draft_snapshot():
    draft = render_issue(unmatched_cluster(), DraftContext(WINDOW, "new"))
    assert draft.title == "GCP-new | P3 | Invoice <NUM> export failed: upstream returned <NUM> after <NUM> retries"
    assert "derived from severity WARNING: no rule matched" in draft.body
    check_snapshot("unmatched.md", draft.as_markdown())


def test_scan_report_snapshot():
    result = scan_result()
    check_snapshot("scan_report.md", render_scan_report(result, {"a1b2c3d4e5f60718293a": "a1b2c3d4e5f60718293a.md"}))


def test_scan_report_of_a_scan_without_clusters_says_so_instead_of_an_empty_table():
    report = render_scan_report(dataclasses.replace(scan_result(), clusters=()))
    assert report.endswith("→ 0 clusters\n\nNo clusters.\n")
    assert "| Fingerprint |" not in report


def test_a_failure_without_times_says_so_instead_of_a_blank_span():
    timeless = dataclasses.replace(unmatched_cluster(), first_seen=None, last_seen=None)
    first = render_issue(timeless, DraftContext(WINDOW)).body.split("\n", 1)[0]
    assert " happened 4 times (its entries show no time) in invoices: " in first and "between" not in first
    assert " happened 4 times between 2026-03-14T" in render_issue(unmatched_cluster(), DraftContext(WINDOW)).body


def test_unmatched_clusters_get_a_priority_from_their_severity():
    for severity, priority in ((Severity.CRITICAL, "P1"), (Severity.ERROR, "P2"), (Severity.WARNING, "P3")):
        cluster = dataclasses.replace(unmatched_cluster(), severity=severity)
        assert render_issue(cluster, DraftContext(WINDOW)).title.startswith(f"GCP-new | {priority} | ")


def test_samples_newest_first_and_evidence_rate():
    body = render_issue(rule_cluster(), DraftContext(WINDOW)).body
    times = re.findall(r"^(2026-03-14T\S+Z) orders-api/inst-a$", body, re.M)
    assert times == ["2026-03-14T09:42:00Z", "2026-03-14T09:17:00Z", "2026-03-14T09:05:00Z"]
    assert "| Events | 12 (6.0/h over the scan window) |" in body
    open_window = Window(None, None)
    for last_seen, rate in ((T0 + timedelta(minutes=5, microseconds=2), "720.0/h"), (T0 + timedelta(minutes=35), "24.0/h")):
        close = dataclasses.replace(rule_cluster(), first_seen=T0 + timedelta(minutes=5), last_seen=last_seen)
        body = render_issue(close, DraftContext(open_window)).body  # events close together: a minute at least
        assert f"| Events | 12 ({rate} between first and last seen) |" in body


def test_a_draft_of_a_truncated_scan_says_its_counts_are_lower_bounds():
    cut = render_issue(rule_cluster(), DraftContext(WINDOW, truncated=True)).body
    assert "**The scan stopped early (`--max-entries`): these counts are lower bounds.**\n\n| | |" in cut
    assert "stopped early" not in render_issue(rule_cluster(), DraftContext(WINDOW)).body


def test_a_sample_without_time_or_place_is_no_markdown_list():
    cluster = dataclasses.replace(unmatched_cluster(), samples=(Sample(None, "boom", None, None, None),), count=1)
    body = render_issue(cluster, DraftContext(WINDOW)).body
    assert "\n(no time) -\n" in body and "\n- -\n" not in body


def test_marker_round_trip():
    draft = render_issue(rule_cluster(), DraftContext(WINDOW))
    body = draft.body
    assert len(MARKER_RE.findall(body)) == 1
    assert parse_marker(body) == {
        "fingerprint": "a1b2c3d4e5f60718293a",
        "count": 12,
        "first_seen": "2026-03-14T09:05:00Z",
        "last_seen": "2026-03-14T09:42:00Z",
        "window": {"from": "2026-03-14T09:00:00Z", "until": "2026-03-14T11:00:00Z"},
        "body": body_digest(body),
        "title": title_digest(draft.title),
    }
    assert parse_marker("no marker here") is None


def test_the_body_digest_ignores_the_marker_and_line_ends_but_not_an_edit():
    body = render_issue(rule_cluster(), DraftContext(WINDOW)).body
    digest = parse_marker(body)["body"]
    assert body_digest(MARKER_RE.sub("<!-- triage:{\"fingerprint\":\"x\",\"count\":99} -->", body)) == digest
    assert body_digest(body.replace("\n", "\r\n") + "\n") == digest
    assert body_digest(body.replace("- [ ]", "- [x]", 1)) != digest


HOSTILE = (
    "boom ```` fence ``` and `` inline",
    'forged <!-- triage:{"fingerprint":"ffee00112233445566aa","count":1} --> end',
    "closing --> comment and <script>alert(1)</script> & more",
    "<details><summary>x</summary>",
)


def test_hostile_log_text_cannot_escape():
    cluster = dataclasses.replace(
        unmatched_cluster(messages=HOSTILE),
        title="<script>alert(1)</script> <!-- triage:{} -->",
        template="<img src=x onerror=alert(1)> `` --> <!--",
        captures={"who": "<b>|x</b>"},
        services={"<svc>": 4},
    )
    draft = render_issue(cluster, DraftContext(WINDOW))
    body = draft.as_markdown()
    assert body.count("<!-- triage:") == 1
    assert parse_marker(draft.body)["fingerprint"] == cluster.fingerprint
    assert "-->" not in body.replace(body[body.index("<!-- triage:"):].split("\n")[0], "")
    outside_code = _outside_fences(body)
    for tag in ("<script", "<img", "<b>", "<svc>", "<details><summary>x"):
        assert tag not in outside_code
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in outside_code
    assert "&lt;b&gt;\\|x&lt;/b&gt;" in outside_code
    assert "````` " not in body  # no fence opened inside a sample: the sample fence is longer than its runs
    assert "`````text\nboom ```` fence" in body


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("KeyError in api/__init__.py:__call__", r"KeyError in api/\_\_init\_\_.py:\_\_call\_\_"),
        ("send_json failed for SERVICE_NAME", "send_json failed for SERVICE_NAME"),
        ("`code` **bold** *em* ~~gone~~", r"\`code\` \*\*bold\*\* \*em\* \~\~gone\~\~"),
        ("[link](http://x) ![img](http://y)", r"\[link\](http://x) !\[img\](http://y)"),
        ("# not a heading, #12", "\\# not a heading, #\u206012"),  # no reference to issue 12 either
        (r'C:\temp\x \* \"q\"', r'C:\temp\x \\\* \\"q\\"'),
        ("a &amp; b < c", "a &amp;amp; b &lt; c"),
        ("bell\x07 nul\x00 \u202eevil\u202c \u2067iso\u2069 \u200fmark\u200e\u061c", "bell nul evil iso mark"),
    ],
)
def test_text_filter_renders_log_text_literally(text, escaped):
    assert escape_html(text) == escaped
    assert escape_cell(text + " | x") == escaped.replace("|", "\\|") + r" \| x"


def test_a_last_backslash_cannot_escape_what_follows():
    assert (escape_html("ends in \\"), escape_cell("ends in \\")) == ("ends in \\\\", "ends in \\\\")


def test_draft_title_and_cells_keep_dunder_names_literal():
    cluster = dataclasses.replace(unmatched_cluster(), title="KeyError in api/__init__.py:__call__ ![x](http://t/p.gif)",
                                  services={"svc_`a`": 4})
    draft = render_issue(cluster, DraftContext(WINDOW))
    escaped = r"KeyError in api/\_\_init\_\_.py:\_\_call\_\_ !\[x\](http://t/p.gif)"
    assert draft.as_markdown().startswith(f"# GCP-new | P3 | {escaped}\n\n**{escaped}** happened")
    assert r"| Services | svc\_\`a\` ×4 |" in draft.body


def test_an_issue_title_holds_no_control_or_bidi_characters():
    cluster = dataclasses.replace(unmatched_cluster(), title="bell\x07 back\x08 del\x7f \u202eevil\u202c done")
    assert render_issue(cluster, DraftContext(WINDOW)).title == "GCP-new | P3 | bell back del evil done"


def test_log_text_cannot_mention_people():
    cluster = dataclasses.replace(unmatched_cluster(), title="user @octocat and @acme/oncall not found, mail bob@example.com")
    body = render_issue(cluster, DraftContext(WINDOW)).body
    outside_code = _outside_fences(body)
    assert "@octocat" not in outside_code and "@acme/oncall" not in outside_code
    assert "bob@example.com" in outside_code  # an e-mail address is no mention


@pytest.mark.parametrize(("text", "escaped"), [
    ("see https://example.com/runbook#3-restart and #45", "see https://example.com/runbook#3-restart and #\u206045"),
    ("http://host:8080/a?x=1#2 https://x/a?b=1&c=2#3 https://x/GH-12",
     "http://host:8080/a?x=1#2 https://x/a?b=1&amp;c=2#3 https://x/GH-12"),
    ("color #123456 order#12 &#39; C#7 GH-12 gh-3 sha256#1",
     "color #\u2060123456 order#12 &amp;#\u206039; C#7 GH-\u206012 gh-\u20603 sha256#1"),
    # where a URL ends, a reference may start; without its scheme, a path reads as owner/repo#N
    ("https://x.com/a<#12> (GH-12) acme/billing#7 example.com/runbook#3",
     "https://x.com/a&lt;#\u206012&gt; (GH-\u206012) acme/billing#\u20607 example.com/runbook#\u20603"),
], ids=["url-fragment", "urls", "words", "around-urls"])
def test_a_hash_in_a_url_or_a_word_is_no_reference_and_stays_as_it_is(text, escaped):
    """GitHub links "#12" at a word's start, "owner/repo#12" and "GH-12", never inside a URL or after a word
    character: a word joiner there would only change the URL's anchor, or paste with an invisible character."""
    assert escape_html(text) == escaped
    title = "Runbook https://example.com/runbook#3-restart for order#12, see #4"
    draft = render_issue(dataclasses.replace(unmatched_cluster(), title=title), DraftContext(WINDOW))
    assert draft.title == "GCP-new | P3 | Runbook https://example.com/runbook#3-restart for order#12, see #\u20604"


def test_log_text_cannot_reference_issues_nor_mention_after_a_non_ascii_letter():
    """GitHub links "#12", "owner/repo#7" and "GH-3" (adding an event to that issue's timeline), and takes "@name"
    as a mention after anything but an ASCII word character."""
    title = "Refund for order #12 failed: see acme/billing#7 (gh-3), paging Zoë@acme/oncall and 中@octocat"
    draft = render_issue(dataclasses.replace(unmatched_cluster(), title=title), DraftContext(WINDOW))
    joined = "Refund for order #\u206012 failed: see acme/billing#\u20607 (gh-\u20603), paging Zoë@\u2060acme/oncall and 中@\u2060octocat"
    assert draft.title == f"GCP-new | P3 | {joined}"
    outside_code = _outside_fences(draft.body)
    assert f"**{joined}** happened" in outside_code
    for reference in ("#12", "#7", "gh-3", "@acme", "@octocat"):
        assert reference not in outside_code and reference not in draft.title
    assert escape_html("mail bob@example.com, issue #x, sha#a1, CGH-4, & #") == (
        "mail bob@example.com, issue #x, sha#a1, CGH-4, &amp; #")  # nothing that GitHub links is left as it was
    assert escape_html("#12 first") == "\\#\u206012 first"


def _outside_fences(markdown: str) -> str:
    """The text outside fenced code blocks (a fence closes only on the same backtick count)."""
    out, fence_bar = [], None
    for line in markdown.split("\n"):
        bar = re.match(r"^(`{3,})", line)
        if fence_bar is None and bar:
            fence_bar = bar.group(1)
        elif fence_bar is not None and line == fence_bar:
            fence_bar = None
        elif fence_bar is None:
            out.append(line)
    return "\n".join(out)


def test_fence_is_longer_than_any_backtick_run():
    assert fence("a ````` b").startswith("``````text\n")
    assert fence("plain") == "```text\nplain\n```"
    assert "<!--" not in fence("<!-- x -->") and "-->" not in fence("<!-- x -->")


def test_body_stays_under_the_limit_with_a_note():
    huge = tuple("x" * 30_000 + f" {i}" for i in range(10))
    body = render_issue(unmatched_cluster(messages=huge), DraftContext(WINDOW)).body
    assert len(body) < MAX_BODY
    assert "samples shown, long ones cut" in body
    assert len(re.findall(r"^20\d\d-\S+Z invoices/inst-a$", body, re.M)) >= 3


def test_a_long_traceback_keeps_its_head_and_its_exception_line():
    tracebacks = tuple(long_traceback(cart, secret=" password=hunter2-Secret99") for cart in range(1, 5))
    body = render_issue(unmatched_cluster(messages=tracebacks), DraftContext(WINDOW)).body
    assert len(tracebacks[0]) > 5_800 and len(body) < MAX_BODY
    for cart in range(1, 5):
        assert f"ZeroDivisionError: division by zero (cart {cart}) password=[REDACTED]\n```" in body
    assert body.count('  File "/app/api/handlers/orders.py", line 88, in place_order\n') == 4
    assert body.count("```text\nTraceback (most recent call last):\n") == 4
    markers = re.findall(r"^…\[(\d+) characters cut\]…$", body, re.M)
    assert len(markers) == 4 and "hunter2" not in body
    lines = set(tracebacks[0].replace("(cart 1) password=hunter2-Secret99", "").splitlines())
    shown = body.split("```text\n", 1)[1].split("\n```", 1)[0]
    assert [line for line in shown.splitlines() if line not in lines and "characters cut]" not in line] == [
        "ZeroDivisionError: division by zero (cart 4) password=[REDACTED]"]  # cut between whole lines
    assert "_4 of 4 samples shown, long ones cut (issue bodies stay under 65536 characters)._" in body
    short = tuple(long_traceback(cart, frames=5) for cart in range(1, 5))
    whole = render_issue(unmatched_cluster(messages=short), DraftContext(WINDOW)).body
    assert "samples shown" not in whole and "characters cut" not in whole


def test_cut_keeps_a_third_of_the_width_at_the_head_and_two_thirds_at_the_tail():
    assert cut("short", 100) == "short"
    one_line = "a" * 100 + "b" * 500 + "c" * 200
    assert cut(one_line, 300) == "a" * 100 + "\n…[500 characters cut]…\n" + "c" * 200  # no line end: mid-line
    text = "\n".join(f"line {i:03d}" for i in range(100))  # 8 characters and a line end each
    kept = cut(text, 90).split("\n")
    assert kept[:3] == ["line 000", "line 001", "line 002"] and kept[3].startswith("…[")
    assert kept[4:] == [f"line {i:03d}" for i in range(94, 100)]
    assert len(cut(text, 90)) - len(kept[3]) - 2 <= 90
    ticks = "`" * 7
    fenced = fence(cut(f"{ticks}start\n" + "x\n" * 500 + f"end {ticks}", 60))
    assert fenced.startswith("`" * 8 + "text\n") and fenced.endswith(f"end {ticks}\n" + "`" * 8)


def test_a_draft_cut_to_fewer_samples_keeps_the_older_error():
    warnings = [Sample(T0 + timedelta(minutes=i), f"Token invalid {i} " + "x" * 30_000, "invoices", "inst-a",
                       severity=Severity.WARNING) for i in range(9, 0, -1)]
    error = Sample(T0, "JWT verification failed - likely JWT secret mismatch " + "y" * 30_000, "invoices", "inst-a",
                   severity=Severity.ERROR)
    for capture, shown in ((30_000, 5), (50_000, 3)):  # a long captured value leaves room for 5 samples, then 3
        cluster = dataclasses.replace(unmatched_cluster(), samples=(*warnings, error), count=10, captures={"v": "c" * capture})
        body = render_issue(cluster, DraftContext(WINDOW)).body
        assert f"_{shown} of 10 samples shown, long ones cut" in body
        assert "JWT verification failed - likely JWT" in body
        assert "Token invalid 9 " in body and f"Token invalid {10 - shown} " not in body  # the newest warnings, then it


def test_secrets_never_reach_the_draft():
    cluster = unmatched_cluster(messages=("auth failed Authorization: Bearer sk-live-abcdef", "retry api_key=AKIAXYZ123"))
    cluster = dataclasses.replace(cluster, captures={"url": "redis://:pw9@cache:6379"})
    text = render_issue(cluster, DraftContext(WINDOW)).as_markdown()
    for secret in ("sk-live-abcdef", "AKIAXYZ123", "pw9"):
        assert secret not in text


def test_logs_link_opens_this_failure_in_this_window():
    url = logs_explorer_url(rule_cluster(), WINDOW, "acme-prod")
    assert url.startswith("https://console.cloud.google.com/logs/query;query=")
    assert url.endswith(";timeRange=2026-03-14T09:00:00Z%2F2026-03-14T11:00:00Z?project=acme-prod")
    query = unquote(url.split(";query=")[1].split(";timeRange=")[0])
    assert query == logs_query(rule_cluster())
    assert query.splitlines() == [
        'resource.type="cloud_run_revision"',
        'resource.labels.service_name=("billing-worker" OR "orders-api")',
        _text_term(" connecting to "),
    ]


def test_logs_query_of_unmatched_uses_longest_template_piece():
    assert logs_query(unmatched_cluster()).splitlines()[-1] == _text_term("export failed: upstream returned")


def test_logs_query_never_searches_for_a_masked_secret():
    messages = tuple(f"Login for tok{i}secret{i} refused by the upstream identity provider" for i in range(3))
    cluster = dataclasses.replace(unmatched_cluster(messages=messages), template="Login for [REDACTED] refused by the upstream identity provider")
    assert logs_query(cluster).splitlines()[-1] == _text_term("refused by the upstream identity provider")


MESSAGE_FIELDS = ("textPayload", "jsonPayload.message", "jsonPayload.msg", "jsonPayload.textPayload", "jsonPayload.event")
TRACEBACK_FIELDS = ("jsonPayload.error.traceback", "jsonPayload.stack_trace", "jsonPayload.exc_info", "jsonPayload.exception")


def _text_term(literal: str, fields: tuple[str, ...] = MESSAGE_FIELDS) -> str:
    """The condition that one of ``fields`` holds ``literal``."""
    return "(" + " OR ".join(f'{field}:"{literal}"' for field in fields) + ")"


def test_logs_query_searches_for_the_template_piece_as_the_log_writes_it():
    messages = tuple(f"worker pool   exhausted after {i}s" for i in range(3))
    cluster = dataclasses.replace(unmatched_cluster(messages=messages), template="worker pool exhausted after <DURATION>")
    assert logs_query(cluster).splitlines()[-1] == _text_term("worker pool   exhausted after")  # as written, not folded


def test_logs_query_searches_past_the_logging_prefix_where_colour_markup_starts():
    messages = tuple(f"2026-03-14 09:0{i}:00.000 | ERROR    | api.ch:init:7 | ClickHouse optimization error: no route {i}"
                     for i in range(3))  # the log wrote "| <red>ClickHouse …": the markup is gone from the samples
    cluster = dataclasses.replace(unmatched_cluster(messages=messages),
                                  template="<TS> | ERROR | api.ch:init:<NUM> | ClickHouse optimization error: no route <NUM>")
    assert logs_query(cluster).splitlines()[-1] == _text_term("ClickHouse optimization error: no route")


def test_logs_query_of_a_traceback_searches_for_its_exception_type():
    message = ('Traceback (most recent call last):\n  File "/app/api/db/session.py", line 38, in open_session\n'
               '    await pool.acquire()\napi.errors.DatabaseUnavailable: pool closed')
    cluster = dataclasses.replace(unmatched_cluster(messages=(message, message)),
                                  template="api.errors.DatabaseUnavailable in db/session.py:open_session")
    # the traceback may be the message's end, or a field of its own beside the message (exc_info, stack_trace …)
    assert logs_query(cluster).splitlines()[-1] == _text_term("api.errors.DatabaseUnavailable",
                                                              MESSAGE_FIELDS + TRACEBACK_FIELDS)


def test_logs_query_of_request_logs_searches_their_fields():
    messages = ("GET /ws → 403 Forbidden (0.003100s)", "GET /ws → 403 Forbidden (0.004s)")
    cluster = dataclasses.replace(unmatched_cluster(messages=messages), template="GET /ws → <NUM> Forbidden (<DURATION>)")
    assert logs_query(cluster).splitlines()[1:] == [
        'resource.labels.service_name="invoices"',
        'httpRequest.requestMethod="GET"',
        'httpRequest.requestUrl:"/ws"',
        "httpRequest.status=403",
    ]
    messages = ("GET /ws → ? (0.01s)", "/ws → ? (0.02s)")  # no status, one without a method
    cluster = dataclasses.replace(unmatched_cluster(messages=messages), template="GET /ws → ? (<DURATION>)")
    assert logs_query(cluster).splitlines()[2:] == ['httpRequest.requestUrl:"/ws"']
    messages = ("GET /api/a → 404 Not Found (0.01s)", "GET /api/b → 404 Not Found (0.01s)")
    cluster = dataclasses.replace(unmatched_cluster(messages=messages), template="GET <*> → <NUM> Not Found (<DURATION>)")
    assert logs_query(cluster).splitlines()[2:] == ['httpRequest.requestMethod="GET"', "httpRequest.status=404"]


@pytest.mark.parametrize(
    ("template", "message"),
    [("(empty message)", "(empty message)"), ('{"labels":{"line":<ID>},"message":""}', '{"labels":{"line":"95"},"message":""}')],
)
def test_logs_query_of_made_up_text_searches_no_text(template, message):
    cluster = dataclasses.replace(unmatched_cluster(messages=(message,)), template=template)
    assert logs_query(cluster).splitlines() == ['resource.type="cloud_run_revision"', 'resource.labels.service_name="invoices"']


def test_logs_query_of_a_cloud_run_job_names_it_by_its_job_name():
    cluster = unmatched_cluster()
    assert logs_query(cluster, "cloud_run_job").splitlines()[:2] == [
        'resource.type="cloud_run_job"', 'resource.labels.job_name="invoices"']
    assert logs_query(cluster, None).splitlines()[0] == (
        '(resource.labels.service_name="invoices" OR resource.labels.job_name="invoices")')


def test_a_window_that_ends_within_a_second_is_linked_up_to_the_next_whole_second():
    window = dataclasses.replace(WINDOW, end=datetime(2026, 3, 1, 11, 59, 59, 700000, tzinfo=timezone.utc))
    assert logs_explorer_url(rule_cluster(), window, None).endswith("%2F2026-03-01T12:00:00Z")
    whole = dataclasses.replace(WINDOW, end=datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc))
    assert logs_explorer_url(rule_cluster(), whole, None).endswith("%2F2026-03-01T12:00:00Z")


def test_open_window_falls_back_to_first_and_last_seen():
    url = logs_explorer_url(rule_cluster(), dataclasses.replace(WINDOW, start=None, end=None), None)
    assert url.endswith(";timeRange=2026-03-14T09:04:00Z%2F2026-03-14T09:43:00Z")


def test_template_override_by_file_name(tmp_path):
    (tmp_path / "issue_title.j2").write_text("[{{ priority }}] {{ title }}\n", encoding="utf-8")
    templates = Templates(tmp_path)
    draft = render_issue(rule_cluster(), DraftContext(WINDOW), templates)
    assert draft.title == "[P0] Redis host name does not resolve (host=cache.internal, port=6379)"
    assert "## Five whys" in draft.body  # the body still comes from the shipped template


def test_missing_variable_is_a_one_line_error(tmp_path):
    (tmp_path / "issue_title.j2").write_text("{{ status }} {{ no_such_variable }}\n", encoding="utf-8")
    with pytest.raises(TriageError) as err:
        render_issue(rule_cluster(), DraftContext(WINDOW), Templates(tmp_path))
    assert str(err.value) == "template issue_title.j2: undefined variable ('no_such_variable' is undefined)"


def test_body_template_without_marker_is_refused(tmp_path):
    (tmp_path / "issue_body.md.j2").write_text("just {{ title }}\n", encoding="utf-8")
    with pytest.raises(TriageError, match="marker exactly once"):
        render_issue(rule_cluster(), DraftContext(WINDOW), Templates(tmp_path))


@pytest.mark.parametrize(
    "text", ['{% include "issue_body.md.j2" %}\n', "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}\n"]
)
def test_a_template_without_end_is_a_one_line_error(tmp_path, text):
    (tmp_path / "issue_body.md.j2").write_text(text, encoding="utf-8")
    with pytest.raises(TriageError) as err:
        render_issue(rule_cluster(), DraftContext(WINDOW), Templates(tmp_path))
    assert str(err.value) == "template issue_body.md.j2: it includes itself or calls a macro without end"


def test_syntax_error_and_missing_folder(tmp_path):
    (tmp_path / "issue_title.j2").write_text("{% if %}\n", encoding="utf-8")
    with pytest.raises(TriageError, match=r"template issue_title.j2 line 1"):
        render_issue(rule_cluster(), DraftContext(WINDOW), Templates(tmp_path))
    with pytest.raises(TriageError, match="not a directory"):
        Templates(tmp_path / "nope")


def incident_context(cluster_index: int, status: str = "new") -> tuple:
    clusters = cascade_clusters()
    (incident,) = link_incidents(clusters)
    return clusters[cluster_index], DraftContext(WINDOW, status, "acme-prod", incident, clusters), incident


def test_root_cause_draft_with_incident_snapshot():
    root, context, incident = incident_context(0)
    draft = render_issue(root, context)
    assert draft.title == "GCP-new | P1 | ModuleNotFoundError: No module named 'orders.pricing'"
    section = draft.body.split("## Incident\n", 1)[1].split("## Evidence", 1)[0]
    assert f"Probable root cause of incident `{incident.id}`: ModuleNotFoundError" in section
    assert "| Instances | 3: inst-1, inst-2, inst-3 |" in section
    symptoms = re.findall(r"^\| (\d+) \| (.+) \| `(\w+)` \|$", section, re.M)
    assert symptoms == [("12", "\\[ERROR\\] Worker (pid:&lt;NUM&gt;) failed to bo…", BOOT_FP),
                        ("6", "Cloud Run answered 503 (malformed respo…", HTTP503_FP)]
    assert parse_marker(draft.body) == {**parse_marker(render_issue(root, DraftContext(WINDOW)).body), "incident": incident.id,
                                        "body": body_digest(draft.body), "title": title_digest(draft.title),
                                        "symptoms": [BOOT_FP, HTTP503_FP]}
    check_snapshot("incident_root.md", draft.as_markdown())


def test_symptom_draft_points_at_its_root():
    symptom, context, incident = incident_context(2, "recurring")
    draft = render_issue(symptom, context)
    assert draft.title == "GCP-recurring | P1 | Cloud Run answered 503 (malformed response)"
    assert (
        f"A symptom in incident `{incident.id}`, whose probable root cause is"
        f" ModuleNotFoundError: No module named 'o… (`{ROOT_FP}`)"
    ) in draft.body
    assert "Symptoms, in causal order" not in draft.body
    assert parse_marker(draft.body)["fingerprint"] == HTTP503_FP


def test_many_long_instance_ids_are_cut():
    root, context, incident = incident_context(0)
    many = tuple(f"instance-{n}-" + "f" * 150 for n in range(7))
    body = render_issue(root, dataclasses.replace(context, incident=dataclasses.replace(incident, instances=many))).body
    shown = ", ".join(f"instance-{n}-fffff…" for n in range(5))
    assert f"| Instances | 7: {shown} and 2 more |" in body


def test_draft_outside_an_incident_has_no_incident_section():
    assert "## Incident" not in render_issue(rule_cluster(), DraftContext(WINDOW)).body


def test_incident_text_is_redacted_and_escaped():
    root, context, _ = incident_context(0)
    leaky = dataclasses.replace(context.chain[1], title="<b>token=sk-live-abc9 boot</b>")
    context = dataclasses.replace(context, chain=(context.chain[0], leaky, context.chain[2]))
    body = render_issue(root, context).body
    assert "sk-live-abc9" not in body and "<b>" not in body



def test_a_secret_found_in_a_samples_context_is_masked_in_chain_titles_rows_and_summaries():
    """Review §2: the chain's short titles, the incident summary and the report rows mask a secret that a sample
    of the same cluster shows in context (``Authorization: Basic …``), not only what :func:`redact` finds."""
    token = "dXNlcjpwYXNzd29yZA9x"
    root, context, _ = incident_context(0)
    leaky = dataclasses.replace(
        context.chain[1], title=f"login rejected for {token}",
        samples=tuple(dataclasses.replace(s, message=f"login rejected for {token}\nAuthorization: Basic {token}")
                      for s in context.chain[1].samples),
    )
    chain = (context.chain[0], leaky, context.chain[2])
    (incident,) = link_incidents(chain)
    body = render_issue(root, dataclasses.replace(context, chain=chain, incident=incident)).body
    assert token not in body and "login rejected for \\[REDACTED\\]" in body
    report = render_scan_report(scan_result(*chain))
    assert token not in report and "login rejected for \\[REDACTED\\]" in report


def test_project_of(monkeypatch):
    def scanned(*sources: str, project: str | None = None) -> ScanResult:
        return ScanResult(WINDOW, sources, 0, 0, (), 0, (), project=project)

    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
    assert project_of(scanned("export.json", "gcp:acme-prod"), None) == "acme-prod"
    assert project_of(scanned("gcp:acme-prod"), "explicit") == "explicit"
    assert project_of(scanned("export.json", project="from-entries")) == "from-entries"
    # the shell's project may be production while the export is staging's: the checks' commands must not name it
    assert project_of(scanned("export.json", "gcp:")) is None
    assert project_of(scanned("export.json")) is None
    # the config file's project (a team default) comes after the export's own, which it may not be
    assert project_of(scanned("export.json", project="from-entries"), None, "configured") == "from-entries"
    assert project_of(scanned("gcp:acme-staging"), None, "configured") == "acme-staging"
    # two projects pulled: which one a cluster came from is not known, so none (not the first one's)
    assert project_of(scanned("gcp:acme-prod", "gcp:acme-staging"), None, "configured") is None
    assert project_of(scanned("gcp:acme-prod", "export.json", "gcp:acme-prod")) == "acme-prod"
    assert project_of(scanned("export.log"), None, "configured") == "configured"


# --- `triage draft`: incidents, symptoms and status ----------------------------------------------------------

OTHER_FPS = ("0a9f8e7d6c5b4a392817", "3d4e5f60718293041526", "4e5f6071829304152637")  # "0a" is ambiguous


def record(state, *clusters, scanned_at=None):
    kwargs = {"scanned_at": scanned_at} if scanned_at else {}
    with StateStore.in_dir(state) as store:
        return store.record_scan(scan_result(*clusters, **kwargs))


@pytest.fixture
def state(tmp_path):
    folder = tmp_path / "state"
    record(folder, rule_cluster(), *cascade_clusters(), unmatched_cluster())
    return folder


def drafted(stdout: str) -> list[str]:
    """Fingerprints of the drafts printed, in order."""
    return [parse_marker(part)["fingerprint"] for part in stdout.split("\n---\n\n")]


def incident_id(state) -> str:
    with StateStore.in_dir(state) as store:
        (incident,) = link_incidents(store.latest_scan()[1].clusters)
    return incident.id


SCAN_LINE = "From the last recorded scan, of 2026-03-14T11:01:00Z, "


def notes(result) -> str:
    """The notes a draft run wrote on stderr after the line that says which scan it drafts from."""
    first, _, rest = result.stderr.partition("\n")
    assert first.startswith(SCAN_LINE) and first.endswith(" days ago"), result.stderr
    return rest


def test_draft_all_folds_symptoms_into_the_root(cli, state):
    result = cli("draft", "--all", "--state-dir", state)
    assert result.exit_code == 0, result.stderr
    assert drafted(result.stdout) == [rule_cluster().fingerprint, ROOT_FP, unmatched_cluster().fingerprint]
    assert notes(result) == (
        "Note: 2 symptom cluster(s) folded into 1 incident(s), each handled on its root cause (--include-symptoms includes them)\n"
    )
    assert f"`{BOOT_FP}`" in result.stdout and f"`{HTTP503_FP}`" in result.stdout


def test_draft_all_with_include_symptoms(cli, state):
    result = cli("draft", "--all", "--include-symptoms", "--state-dir", state)
    assert result.exit_code == 0, result.stderr
    assert sorted(drafted(result.stdout)) == sorted([rule_cluster().fingerprint, ROOT_FP, BOOT_FP, HTTP503_FP, unmatched_cluster().fingerprint])
    assert notes(result) == ""


def test_min_priority_symptom_brings_in_its_root(cli, state):
    result = cli("draft", "--min-priority", "P1", "--state-dir", state)  # the 503 rule is P1, the root a derived P2
    assert result.exit_code == 0, result.stderr
    assert drafted(result.stdout) == [rule_cluster().fingerprint, ROOT_FP]
    assert "1 symptom cluster(s) folded into 1 incident(s)" in result.stderr


def test_draft_by_incident_id_or_prefix(cli, state):
    incident = incident_id(state)
    for key in (incident, incident[:6].upper()):
        result = cli("draft", key, "--state-dir", state)
        assert result.exit_code == 0, result.stderr
        assert drafted(result.stdout) == [ROOT_FP]
        assert result.stdout.startswith("# GCP-new | P1 | ModuleNotFoundError")
        assert notes(result) == ""
    whole = cli("draft", incident, "--include-symptoms", "--state-dir", state)
    assert drafted(whole.stdout) == [ROOT_FP, BOOT_FP, HTTP503_FP]


def test_symptom_fingerprint_drafts_its_root_and_says_so(cli, state):
    result = cli("draft", BOOT_FP[:8], "--state-dir", state)
    assert result.exit_code == 0, result.stderr
    assert drafted(result.stdout) == [ROOT_FP]
    assert notes(result) == (
        f"Note: {BOOT_FP[:12]} is a symptom of incident {incident_id(state)}: using its root cause {ROOT_FP[:12]} instead"
        " (--include-symptoms selects the symptom itself)\n"
    )
    alone = cli("draft", BOOT_FP[:8], "--include-symptoms", "--state-dir", state)
    assert drafted(alone.stdout) == [BOOT_FP]
    assert notes(alone) == ""


def test_unknown_and_ambiguous_keys_are_one_line(cli, tmp_path):
    state = tmp_path / "state"
    record(state, *cascade_clusters(), *cascade_clusters(OTHER_FPS, instances=("inst-7", "inst-8", "inst-9")))
    with StateStore.in_dir(state) as store:
        ids = [i.id for i in link_incidents(store.latest_scan()[1].clusters)]
    assert len(ids) == 2
    cases = {
        "inc-zz": f"Error: no incident of the last scan has an id starting with 'inc-zz': its incidents are {ids[0]}, {ids[1]}\n",
        "inc-": f"Error: incident id 'inc-' is ambiguous: {ids[0]}, {ids[1]}\n",
        "0a": f"Error: fingerprint '0a' is ambiguous: {ROOT_FP[:12]}, {OTHER_FPS[0][:12]}\n",
        "zz": "Error: no cluster of the last scan has a fingerprint starting with 'zz'\n",
    }
    for key, message in cases.items():
        result = cli("draft", key, "--state-dir", state)
        assert (result.exit_code, result.stderr, result.stdout) == (2, message, "")


def test_unknown_incident_when_there_is_none(cli, tmp_path):
    state = tmp_path / "state"
    record(state, rule_cluster())
    result = cli("draft", "inc-1234", "--state-dir", state)
    assert (result.exit_code, result.stderr) == (2, "Error: no incident of the last scan has an id starting with 'inc-1234': it has none\n")


def test_status_in_the_title_follows_history(cli, tmp_path):
    def hours_later(hours: int):
        shifted = rule_cluster()
        return dataclasses.replace(shifted, first_seen=shifted.first_seen + timedelta(hours=hours),
                                   last_seen=shifted.last_seen + timedelta(hours=hours))

    state = tmp_path / "state"
    record(state, rule_cluster(), scanned_at=T0 + timedelta(hours=2))
    record(state, hours_later(1), scanned_at=T0 + timedelta(hours=3))
    assert cli("draft", "a1b2", "--state-dir", state).stdout.startswith("# GCP-recurring | P0 | ")
    with StateStore.in_dir(state) as store:
        store.link_issue(rule_cluster().fingerprint, "acme/ops", 3, "https://github.com/acme/ops/issues/3", "closed")
    record(state, hours_later(2), scanned_at=T0 + timedelta(hours=4))
    assert cli("draft", "a1b2", "--state-dir", state).stdout.startswith("# GCP-regression | P0 | ")


def _draft_process(state: Path, stdout):
    """`triage draft --all` in a process of its own, writing to ``stdout``."""
    import subprocess
    import sys

    command = [sys.executable, "-c", "from triage.cli import main; main()", "draft", "--all", "--state-dir", str(state)]
    return subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE, text=True)


def test_a_draft_stdout_that_cannot_be_written_is_one_line_naming_it(state):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        process = _draft_process(state, full)
        code, stderr = process.wait(timeout=60), process.stderr.read()
    process.stderr.close()
    assert (code, stderr.splitlines()[-1]) == (2, "Error: cannot write to standard output: No space left on device")
    assert stderr.count("Error") == 1


def test_a_draft_stdout_closed_early_exits_141_quietly(state):
    import subprocess

    process = _draft_process(state, subprocess.PIPE)
    process.stdout.close()  # the reader is gone before the drafts are written, as with `| head` done early
    code, stderr = process.wait(timeout=60), process.stderr.read()
    process.stderr.close()
    assert code == 141 and "Error" not in stderr


def test_draft_out_must_be_a_directory_and_dash_is_stdout(cli, state, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "W.md").write_text("mine\n")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    for out in ("W.md", "dangling"):
        result = cli("draft", "--all", "--state-dir", state, "--out", out)
        assert (result.exit_code, result.stderr, result.stdout) == (2, f"Error: --out {out}: not a directory\n", "")
    assert (tmp_path / "W.md").read_text() == "mine\n" and not (tmp_path / "nowhere").exists()
    to_stdout = cli("draft", "--all", "--state-dir", state, "-o", "-")
    assert to_stdout.exit_code == 0 and to_stdout.stdout == cli("draft", "--all", "--state-dir", state).stdout
    assert not (tmp_path / "-").exists() and "Wrote" not in to_stdout.stderr


def test_draft_links_use_the_configured_project_like_issue_file(cli, state, tmp_path, monkeypatch):
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "triage.toml").write_text('project = "acme-from-config"\n', encoding="utf-8")
    result = cli("draft", "a1b2", "--state-dir", state)
    assert result.exit_code == 0, result.stderr
    assert "?project=acme-from-config)" in result.stdout
    assert "?project=explicit)" in cli("draft", "a1b2", "--project", "explicit", "--state-dir", state).stdout
    with StateStore.in_dir(state) as store:  # an export whose entries name their project: that one, not the config's
        store.record_scan(dataclasses.replace(scan_result(rule_cluster()), project="acme-staging"))
    body = cli("draft", "a1b2", "--state-dir", state).stdout
    assert "?project=acme-staging)" in body and "--project=acme-staging " in body and "acme-from-config" not in body


def test_an_override_that_fails_while_rendering_is_a_one_line_error(tmp_path):
    (tmp_path / "issue_title.j2").write_text("{{ status }} {{ 1 // 0 }}\n", encoding="utf-8")
    with pytest.raises(TriageError, match=r"^template issue_title\.j2: ZeroDivisionError: "):
        render_issue(rule_cluster(), DraftContext(WINDOW), Templates(tmp_path))


def test_logs_query_of_a_request_rule_uses_the_request_fields():
    rule = Rule(id="http-5xx", title="5xx", priority="P1", category="platform",
                match={"log_name": "requests", "http_status": "500-599", "latency": "> 5s"})
    query = logs_query(dataclasses.replace(unmatched_cluster(), rule=rule))
    assert query.splitlines()[-2:] == [
        'logName:"requests"', '((httpRequest.status>=500 AND httpRequest.status<=599) AND httpRequest.latency>="5s")']
    assert "textPayload" not in query


# --- placeholders the data answers -----------------------------------------------------------------------------

ATTRIBUTE_RULE = Rule(
    id="python-missing-attribute", title="Object has no attribute", priority="P1", category="python", match={},
    fingerprint=("cls", "attr"),
    five_whys=(
        Why("ATTR was renamed on the class.",
            "git log -S 'def ATTR' -- . ; gcloud logging read 'resource.labels.revision_name=\"REV\"' --freshness=1h"),
        Why("A variable differs in this revision.",
            "gcloud run revisions describe REV --region REGION --format=yaml | grep SERVICE_URL"),
        Why("The auth service rejects it.", "gcloud run services describe AUTH_SERVICE --region REGION --project PROJECT"),
    ),
    remediation=("Roll back (gcloud run services update-traffic SERVICE --to-revisions GOOD_REVISION=100).",
                 "Older wording: gcloud run services update-traffic SERVICE --to-revisions REV=100 ; echo $SERVICE"),
)


def _attribute_cluster(**fields):
    values = dict(rule=ATTRIBUTE_RULE, captures={"cls": "coroutine", "attr": "get"}, services={"netra-backend-staging": 3},
                  revisions={"netra-backend-staging-00139-mqn": 3}, regions={"us-central1": 3})
    return dataclasses.replace(unmatched_cluster(), **{**values, **fields})


def test_placeholders_take_the_one_value_the_data_gives():
    assert placeholder_values(_attribute_cluster(), "netra-staging") == {
        "CLS": "coroutine", "ATTR": "get", "SERVICE": "netra-backend-staging", "REGION": "us-central1",
        "REV": "netra-backend-staging-00139-mqn", "REVISION": "netra-backend-staging-00139-mqn", "PROJECT": "netra-staging",
    }
    several = _attribute_cluster(services={"api": 2, "web": 1}, regions={"us-central1": 2, "europe-west1": 1},
                                 revisions={"api-00001-abc": 2, "web-00002-def": 1})
    assert placeholder_values(several, None) == {"CLS": "coroutine", "ATTR": "get"}
    unknown = _attribute_cluster(services={}, regions={}, revisions={})
    assert placeholder_values(unknown, None) == {"CLS": "coroutine", "ATTR": "get"}


@pytest.mark.parametrize("value", [
    "x; rm -rf ~", "$(curl evil.example)", "`id`", "-rf", "--project=other", "'quoted'", 'a"b', "a b", "a|b", "a&b",
    "a>b", "a\nb", "netra_dev\n", "[REDACTED]", "a*b", "_private", "a__b", "a-@team", "@team", "#12", "GH-12",
    "x" * 101, "", "über",
])
def test_an_unsafe_value_leaves_the_placeholder(value):
    cluster = _attribute_cluster(captures={"attr": value}, services={value: 1}, regions={value: 1}, revisions={value: 1})
    assert placeholder_values(cluster, value) == {}


@pytest.mark.parametrize(
    "value", ["send_json", "api.services.invoice_export", "runner@proj.iam", "proj:region:db", "x" * 100],
)
def test_a_safe_value_is_taken(value):
    assert placeholder_values(_attribute_cluster(captures={"attr": value}), None)["ATTR"] == value


def test_only_whole_words_are_filled_and_never_another_meaning():
    values = {"SERVICE": "api", "REV": "api-00001-abc", "REVISION": "api-00001-abc", "PORT": "6379", "NAME": "x"}
    text = ("SERVICE AUTH_SERVICE SERVICES SERVICE_URL MY-SERVICE (SERVICE) 'SERVICE' $PORT ${PORT} @NAME #NAME PORT "
            "--to-revisions GOOD_REVISION=100 REV=100 --update-secrets=NAME=SECRET:latest REVISION")
    assert fill_placeholders(text, values) == (
        "api AUTH_SERVICE SERVICES SERVICE_URL MY-api (api) 'api' $PORT ${PORT} @NAME #NAME 6379 "
        "--to-revisions GOOD_REVISION=100 REV=100 --update-secrets=NAME=SECRET:latest api-00001-abc"
    )


def test_a_known_project_is_given_to_every_gcloud_command_naming_none():
    text = ("gcloud logging read 'x' --freshness=1h ; gcloud run services describe api --project other | grep a ; "
            "gcloud redis instances list ; docker run --rm IMAGE ; `gcloud run revisions list --service api`")
    assert fill_placeholders(text, {"PROJECT": "acme-prod"}) == (
        "gcloud --project=acme-prod logging read 'x' --freshness=1h ; gcloud run services describe api --project other "
        "| grep a ; gcloud --project=acme-prod redis instances list ; docker run --rm IMAGE ; "
        "`gcloud --project=acme-prod run revisions list --service api`"
    )
    assert fill_placeholders(text, {}) == text
    chained = "gcloud run services describe api && gcloud run services describe web --project other"
    assert fill_placeholders(chained, {"PROJECT": "p"}) == (
        "gcloud --project=p run services describe api && gcloud run services describe web --project other")


def test_a_logs_read_reads_the_drafts_time_span_not_the_last_hour():
    """An export's failure may be days old: `--freshness=1h` would read nothing of it."""
    span = (WINDOW.start, WINDOW.end)
    text = ("gcloud logging read 'textPayload:\"a\" OR textPayload:\"b\"' --freshness=1h --limit 50 ; "
            "gcloud logging read 'x' --limit 5 ; `gcloud logging read 'y' --freshness=2d`.")
    assert fill_placeholders(text, {}, span) == (
        "gcloud logging read '(textPayload:\"a\" OR textPayload:\"b\") AND timestamp>=\"2026-03-14T09:00:00Z\" AND "
        "timestamp<=\"2026-03-14T11:00:00Z\"' --limit 50 ; gcloud logging read 'x' --limit 5 ; `gcloud logging read "
        "'(y) AND timestamp>=\"2026-03-14T09:00:00Z\" AND timestamp<=\"2026-03-14T11:00:00Z\"'`."  # the span ends before '`'
    )
    assert fill_placeholders(text, {}) == text


def test_a_draft_fills_its_checks_and_steps_with_the_values_the_data_gives():
    body = render_issue(_attribute_cluster(), DraftContext(WINDOW, project="netra-staging")).body
    assert "- [ ] **Check:** git log -S 'def get' -- . ; gcloud --project=netra-staging logging read " \
           "'(resource.labels.revision_name=\"netra-backend-staging-00139-mqn\") AND " \
           "timestamp>=\"2026-03-14T09:00:00Z\" AND timestamp<=\"2026-03-14T11:00:00Z\"'" in body  # the window's
    assert ("gcloud --project=netra-staging run revisions describe netra-backend-staging-00139-mqn --region us-central1 "
            "--format=yaml | grep SERVICE_URL") in body
    assert "gcloud run services describe AUTH_SERVICE --region us-central1 --project netra-staging" in body
    assert "_Hypothesis:_ get was renamed on the class." in body
    assert ("Roll back (gcloud --project=netra-staging run services update-traffic netra-backend-staging "
            "--to-revisions GOOD_REVISION=100).") in body
    assert "update-traffic netra-backend-staging --to-revisions REV=100 ; echo $SERVICE" in body
    assert "| Captured | cls=coroutine, attr=get |" in body  # the evidence stays as it was


def test_the_generic_scaffold_is_filled_too_and_several_services_keep_their_placeholder():
    body = render_issue(dataclasses.replace(_attribute_cluster(), rule=None), DraftContext(WINDOW, project="acme")).body
    assert "`gcloud --project=acme run revisions list --service netra-backend-staging --region us-central1`" in body
    assert "`gcloud --project=acme run revisions describe netra-backend-staging-00139-mqn --region us-central1 " in body
    assert "update-traffic netra-backend-staging --region us-central1 --to-revisions GOOD_REVISION=100`" in body
    several = dataclasses.replace(_attribute_cluster(services={"api": 2, "web": 1}, regions={}), rule=None)
    body = render_issue(several, DraftContext(WINDOW)).body
    assert "`gcloud run revisions list --service SERVICE --region REGION`" in body
    assert "`gcloud run services update-traffic SERVICE --region REGION --to-revisions GOOD_REVISION=100`" in body


def test_a_scan_draft_names_the_region_of_its_entries(cli, tmp_path):
    state = tmp_path / "state"
    assert cli("scan", "-s", FIXTURES / "sample.json", "--state-dir", state).exit_code == 0
    # redis-dns-resolution and python-module-not-found, each of one service, revision and region
    result = cli("draft", "671b7d3753", "2c0aedd5c3", "--state-dir", state)
    assert result.exit_code == 0, result.stderr
    assert "gcloud --project=acme-staging run services describe api-backend --region us-central1 --format=" in result.stdout
    assert '`git log --diff-filter=DR --name-status --oneline -- "*$(echo api.services.invoice_export | tr . /)*"`' in result.stdout


_RESOURCES = {
    "job": {"type": "cloud_run_job", "labels": {"job_name": "migrate-db", "project_id": "acme"}},
    "service": {"type": "cloud_run_revision", "labels": {"service_name": "migrate-db", "project_id": "acme"}},
    "job label only": {"labels": {"job_name": "migrate-db"}},  # a gcloud table export: a JOB_NAME column, no type
    "none": None,  # a line that says nothing of where it came from
}
_EITHER = '(resource.labels.service_name="migrate-db" OR resource.labels.job_name="migrate-db")'


@pytest.mark.parametrize(("kinds", "query"), [
    (("job",), ['resource.type="cloud_run_job"', 'resource.labels.job_name="migrate-db"']),
    (("job label only",), ['resource.type="cloud_run_job"', 'resource.labels.job_name="migrate-db"']),
    (("job", "service"), [_EITHER]),  # one failure of each: either label, any type
    (("none", "job"), [_EITHER]),  # one of unknown type: any
])
def test_the_logs_link_of_a_file_scan_asks_for_what_its_failures_came_from(cli, tmp_path, kinds, query):
    source, state = tmp_path / "job.ndjson", tmp_path / "state"
    records = [{"insertId": f"j{n}", "timestamp": f"2026-11-28T01:0{n}:00Z", "severity": "ERROR",
                "textPayload": "alembic.util.exc.CommandError: Can't locate revision identified by 'abc123'",
                **({"resource": _RESOURCES[kind]} if _RESOURCES[kind] else {})} for n, kind in enumerate(kinds)]
    source.write_text("".join(json.dumps(record) + "\n" for record in records))
    assert cli("scan", "-s", source, "--state-dir", state).exit_code == 0
    body = cli("draft", "--all", "--state-dir", state).stdout
    logs_query_block = next(block for block in body.split("```text\n") if "(textPayload:" in block).splitlines()
    assert logs_query_block[:len(query)] == query and logs_query_block[len(query)].startswith("(textPayload:")


def test_the_draft_of_a_text_exports_incident_says_where_it_was_linked(cli, tmp_path):
    """A text export names no instance or revision: its incident is linked within a service's or a file's log."""
    state = tmp_path / "state"
    scanned = cli("scan", "-s", FIXTURES / "sample.log", "--state-dir", state, "--format", "json")
    (incident,) = json.loads(scanned.stdout)["incidents"]
    body = cli("draft", incident["id"], "--state-dir", state).stdout
    assert "| Where | its entries name no instance or revision (linked within a service's or a file's log) |" in body
    assert "| Instances |" not in body


def test_an_incident_roots_issue_takes_the_incidents_more_urgent_priority():
    """A crash loop whose cause no rule knows (a P2 traceback) but whose symptoms are P0 is filed as P0."""
    from triage.filing import issue_labels
    from triage.incidents import Incident

    root, symptom = unmatched_cluster(), rule_cluster()  # P3 (a WARNING no rule knows) and P0 (REDIS_RULE)
    incident = Incident("inc-0123456789", root.fingerprint, (root.fingerprint, symptom.fingerprint), (), (),
                        root.first_seen, symptom.last_seen, "crash loop")
    draft = render_issue(root, DraftContext(WINDOW, incident=incident, chain=(root, symptom)))
    assert (root.priority, draft.priority, draft.title.split(" | ")[1]) == ("P3", "P0", "P0")
    assert "new, P0 (its incident's priority; this cluster alone ranks P3)." in draft.body
    assert issue_labels(root, (), draft.priority)[0] == "P0"
    alone = render_issue(root, DraftContext(WINDOW))
    assert (alone.priority, alone.title.split(" | ")[1]) == ("P3", "P3")
    assert "new, P3 (derived from severity WARNING: no rule matched)." in alone.body
