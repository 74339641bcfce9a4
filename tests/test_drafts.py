import dataclasses
import os
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest

from triage.drafts import (
    MARKER_RE, MAX_BODY, DraftContext, Templates, cluster_status, fence, parse_marker, render_issue, render_scan_report,
)
from triage.errors import TriageError
from triage.logs_link import logs_explorer_url, logs_query
from triage.model import Severity
from triage.state import StateStore
from cluster_factory import T0, WINDOW, rule_cluster, scan_result, unmatched_cluster

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


def test_unmatched_error_gets_p2():
    cluster = dataclasses.replace(unmatched_cluster(), severity=Severity.CRITICAL)
    assert render_issue(cluster, DraftContext(WINDOW)).title.startswith("GCP-new | P2 | ")


def test_samples_newest_first_and_evidence_rate():
    body = render_issue(rule_cluster(), DraftContext(WINDOW)).body
    times = re.findall(r"^(2026-03-14T\S+Z) orders-api/inst-a$", body, re.M)
    assert times == ["2026-03-14T09:42:00Z", "2026-03-14T09:17:00Z", "2026-03-14T09:05:00Z"]
    assert "| Events | 12 (6.0/h over the scan window) |" in body


def test_marker_round_trip():
    body = render_issue(rule_cluster(), DraftContext(WINDOW)).body
    assert len(MARKER_RE.findall(body)) == 1
    assert parse_marker(body) == {
        "fingerprint": "a1b2c3d4e5f60718293a",
        "count": 12,
        "first_seen": "2026-03-14T09:05:00Z",
        "last_seen": "2026-03-14T09:42:00Z",
        "window": {"from": "2026-03-14T09:00:00Z", "until": "2026-03-14T11:00:00Z"},
    }
    assert parse_marker("no marker here") is None


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
        '(textPayload:" connecting to " OR jsonPayload.message:" connecting to ")',
    ]


def test_logs_query_of_unmatched_uses_longest_template_piece():
    assert logs_query(unmatched_cluster()).splitlines()[-1] == (
        '(textPayload:"export failed: upstream returned" OR jsonPayload.message:"export failed: upstream returned")'
    )


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


def test_syntax_error_and_missing_folder(tmp_path):
    (tmp_path / "issue_title.j2").write_text("{% if %}\n", encoding="utf-8")
    with pytest.raises(TriageError, match=r"template issue_title.j2 line 1"):
        render_issue(rule_cluster(), DraftContext(WINDOW), Templates(tmp_path))
    with pytest.raises(TriageError, match="not a directory"):
        Templates(tmp_path / "nope")


def test_cluster_status_from_the_store(tmp_path):
    fp = rule_cluster().fingerprint
    with StateStore.in_dir(tmp_path) as store:
        first = store.record_scan(scan_result(rule_cluster(), scanned_at=T0))
        second = store.record_scan(scan_result(scanned_at=T0 + timedelta(hours=1)))
        assert cluster_status(store, fp, first) == "new"
        assert cluster_status(store, fp, second) == "recurring"
        assert cluster_status(store, unmatched_cluster().fingerprint, second) == "new"
        store.link_issue(fp, "acme/ops", 3, "https://github.com/acme/ops/issues/3", "closed")
        assert cluster_status(store, fp, second) == "regression"
