"""`triage issue file` end to end: real PyGithub against the loopback fake, scans recorded in a temp state store."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

import triage.github
from cluster_factory import BOOT_FP, HTTP503_FP, ROOT_FP, T0 as CASCADE_T0, cascade_clusters, long_traceback
from fake_github import FakeGitHub
from triage.drafts import COMMENT_MARKER_RE, MARKER_RE, commented_up_to, marker_data, parse_marker
from triage.filing import events_since, update_comment
from triage.github import Pacing
from triage.incidents import link_incidents
from triage.model import Cluster, Occurrence, Rule, Sample, ScanResult, Severity, Window
from triage.state import StateStore

TOKEN = "ghp_DISTINCTIVEsecret9f8e7d6c5b4a"
REPO = "acme/shop"
T0 = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
DB_RULE = Rule(id="db-pool-exhausted", title="Database pool exhausted", priority="P1", category="database", match={"message": "pool"}, labels=("db",))


def cluster(fingerprint: str, start: datetime, events: int, rule: Rule | None = DB_RULE, title: str = "Database pool exhausted") -> Cluster:
    """``events`` one minute apart, on an instance of its own (so that clusters never link into incidents)."""
    times = [start + timedelta(minutes=i) for i in range(events)]
    instance = f"inst-{fingerprint[:4]}"
    return Cluster(
        fingerprint=fingerprint,
        title=title,
        template="QueuePool limit of size <*> overflow <*> reached",
        severity=Severity.ERROR,
        count=events,
        first_seen=times[0],
        last_seen=times[-1],
        services={"api": events},
        revisions={"api-00042-abc": events},
        samples=tuple(Sample(t, f"QueuePool limit reached, attempt {i}", "api", instance) for i, t in reversed(list(enumerate(times)))),
        rule=rule,
        occurrences=tuple(Occurrence(t, instance, None) for t in times),
    )


def record(state_dir, *clusters: Cluster) -> None:
    start = min(c.first_seen for c in clusters)
    end = max(c.last_seen for c in clusters) + timedelta(minutes=1)
    result = ScanResult(Window(start, end), ("export.json",), 100, 0, (), 100, clusters, scanned_at=end)
    with StateStore.in_dir(state_dir) as store:
        store.record_scan(result)


DB = "a1b2c3d4e5f6a7b8"
WORKER = "f0e1d2c3b4a59687"


@pytest.fixture
def fake():
    with FakeGitHub(repo=REPO, token=TOKEN) as server:
        yield server


@pytest.fixture
def slept(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(triage.github, "DEFAULT_PACING", Pacing(0, 0, retry_backoff_s=0, sleep=waits.append, clock=lambda: 0.0))
    return waits


@pytest.fixture
def run(cli, fake, slept, tmp_path, monkeypatch):
    """``run(*args)`` → `triage issue file … --repo acme/shop --state-dir DIR`, against the fake."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    monkeypatch.setenv("GITHUB_API_URL", fake.url)

    def invoke(*args: str, repo: str | None = REPO):
        options = ["--state-dir", str(tmp_path / "state")] + (["--repo", repo] if repo else [])
        result = cli("issue", "file", *args, *options)
        assert TOKEN not in result.stdout and TOKEN not in result.stderr
        return result

    return invoke


@pytest.fixture
def state(tmp_path):
    return tmp_path / "state"


def shown(comment: str) -> str:
    """A comment as people read it: without its hidden marker."""
    return COMMENT_MARKER_RE.sub("", comment).rstrip()


def only_issue(fake: FakeGitHub, fingerprint: str):
    found = [i for i in fake.issues.values() if (parse_marker(i.body) or {}).get("fingerprint") == fingerprint]
    assert len(found) == 1, f"{len(found)} issues carry {fingerprint}"
    return found[0]


def test_creates_one_issue_per_cluster_with_labels_and_links(run, fake, state):
    record(state, cluster(DB, T0, 3), cluster(WORKER, T0, 2, rule=None, title="Worker exited with code 3"))
    result = run("--all", "--label", "team-payments")
    assert result.exit_code == 0, result.stderr
    db, worker = only_issue(fake, DB), only_issue(fake, WORKER)
    assert db.labels == ["triage", "P1", "database", "db", "team-payments"]
    assert worker.labels == ["triage", "P2", "team-payments"]  # unmatched ERROR cluster: derived P2
    assert db.title == "GCP-new | P1 | Database pool exhausted"
    assert parse_marker(db.body)["count"] == 3
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ACTION", "FINGERPRINT", "ISSUE", "URL", "NOTE"]
    assert lines[1].split() == ["created", DB[:12], f"#{db.number}", f"https://github.example/{REPO}/issues/{db.number}"]
    with StateStore.in_dir(state) as store:
        assert (store.linked_issue(DB).number, store.linked_issue(WORKER).number) == (db.number, worker.number)
        assert store.linked_issue("0000") is None
        assert store.linked_issue(DB).url == f"https://github.example/{REPO}/issues/{db.number}"


def test_project_option_sets_the_project_of_the_issue_links_and_checks(run, fake, state):
    record(state, cluster(DB, T0, 3))  # a result that names no project (a text export's)
    assert run("--all", "--project", "shop-prod-1").exit_code == 0
    body = only_issue(fake, DB).body
    assert "project=shop-prod-1" in body and "project unknown" not in body


def test_rerun_of_the_same_scan_writes_nothing(run, fake, state):
    record(state, cluster(DB, T0, 3))
    run("--all")
    writes = len(fake.writes)
    result = run("--all")
    assert result.exit_code == 0
    assert len(fake.writes) == writes
    assert result.stdout.splitlines()[1].split()[0] == "skipped"
    assert "no event since its last update" in result.stdout


def test_new_events_add_one_comment_and_refresh_the_body(run, fake, state):
    record(state, cluster(DB, T0, 3))  # 12:00–12:02
    run("--all")
    record(state, cluster(DB, T0 + timedelta(minutes=1), 4))  # 12:01–12:04: two events are new
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    issue = only_issue(fake, DB)
    assert len(issue.comments) == 1
    comment = issue.comments[0]
    assert comment.startswith("**Seen again:** 2 new event(s) since 2025-06-01T12:02:00Z, 5 in total.")
    assert "2025-06-01T12:04:00Z QueuePool limit reached, attempt 3" in comment
    assert "attempt 1" not in comment  # already reported
    marker = parse_marker(issue.body)
    assert (marker["count"], marker["first_seen"], marker["last_seen"]) == (5, "2025-06-01T12:00:00Z", "2025-06-01T12:04:00Z")
    assert issue.body.count("<!-- triage:") == 1
    assert result.stdout.splitlines()[1].split()[:3] == ["commented", DB[:12], f"#{issue.number}"]


def test_closed_issue_that_recurs_is_reopened_as_regression(run, fake, state):
    record(state, cluster(DB, T0, 3))
    run("--all")
    issue = only_issue(fake, DB)
    issue.state, issue.closed_at = "closed", "2025-06-01T13:00:00Z"
    record(state, cluster(DB, T0 + timedelta(hours=2), 2))
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    assert (issue.state, issue.labels[-1]) == ("open", "regression")
    assert issue.title == "GCP-regression | P1 | Database pool exhausted"
    assert issue.comments[0].startswith("**Recurred after this issue was closed:** 2 new event(s) since 2025-06-01T13:00:00Z")
    assert len(fake.issues) == 1
    with StateStore.in_dir(state) as store:
        assert store.linked_issue(DB).state == "open"


def test_closed_issue_without_new_events_stays_closed(run, fake, state):
    fake.add_issue("old", f"<!-- triage:{json.dumps({'fingerprint': DB})} -->", state="closed", closed_at="2025-06-02T00:00:00Z")
    record(state, cluster(DB, T0, 3))
    result = run("--all")
    assert result.exit_code == 0
    assert fake.writes == []
    assert "closed, no event since it was closed" in result.stdout
    with StateStore.in_dir(state) as store:
        assert store.linked_issue(DB).state == "closed"


def test_502_after_create_then_rerun_keeps_exactly_one_issue(run, fake, state):
    record(state, cluster(DB, T0, 3))
    fake.fail("POST", r"/issues$", 502, message="Server Error", after=True)
    first = run("--all")
    assert first.exit_code == 2
    assert first.stderr.startswith("Error: GitHub answered 502 while trying to create an issue: Server Error; GitHub may have created it anyway")
    assert fake.writes == [("POST", f"/repos/{REPO}/issues")]  # not retried
    second = run("--all")
    assert second.exit_code == 0, second.stderr
    issue = only_issue(fake, DB)
    assert len(fake.issues) == 1 and issue.comments == []
    with StateStore.in_dir(state) as store:
        assert store.linked_issue(DB).number == issue.number  # the rerun links what the failed run created


def test_failed_comment_is_not_repeated_by_the_rerun(run, fake, state):
    record(state, cluster(DB, T0, 3))
    run("--all")
    record(state, cluster(DB, T0, 5))
    fake.fail("POST", r"/comments$", 502, after=True)
    assert run("--all").exit_code == 2
    assert run("--all").exit_code == 0
    assert len(only_issue(fake, DB).comments) == 1


def test_a_locked_issue_gets_its_body_updated_and_the_run_goes_on(run, fake, state):
    record(state, cluster(DB, T0, 3), cluster(WORKER, T0, 2, rule=None, title="Worker exited with code 3"))
    run("--all")
    record(state, cluster(DB, T0, 5), cluster(WORKER, T0, 4, rule=None, title="Worker exited with code 3"))
    locked = only_issue(fake, DB)
    fake.fail("POST", rf"/issues/{locked.number}/comments$", 403, message="Unable to create comment because issue is locked.")
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    assert "no comment: the issue is locked" in result.stdout
    assert parse_marker(locked.body)["count"] == 5 and locked.comments == []
    assert len(only_issue(fake, WORKER).comments) == 1  # the issue after it is still updated
    assert "no event since its last update" in run("--all").stdout


def recurred(state, fake, kind: str):
    """The issue of DB, filed from 12:00–12:02, with two events after (12:03, 12:04) recorded: commented on, or
    (closed at 12:02:30) reopened by the next run."""
    record(state, cluster(DB, T0, 3))
    issue = only_issue(fake, DB)
    if kind == "reopen":
        issue.state, issue.closed_at = "closed", "2025-06-01T12:02:30Z"
    record(state, cluster(DB, T0, 5))
    return issue


@pytest.mark.parametrize("kind", ["comment", "reopen"])
def test_a_comment_github_did_not_post_is_posted_by_the_rerun(run, fake, state, kind):
    record(state, cluster(DB, T0, 3))
    run("--all")
    issue = recurred(state, fake, kind)
    fake.fail("POST", r"/comments$", 500)  # not performed
    assert run("--all").exit_code == 2
    assert (issue.comments, parse_marker(issue.body)["last_seen"]) == ([], "2025-06-01T12:02:00Z")  # nothing moved on
    assert run("--all").exit_code == 0
    assert len(issue.comments) == 1 and "2 new event(s)" in issue.comments[0]
    assert (issue.state, parse_marker(issue.body)["last_seen"]) == ("open", "2025-06-01T12:04:00Z")
    assert run("--all").stdout.splitlines()[1].split()[0] == "skipped" and len(issue.comments) == 1


@pytest.mark.parametrize("kind", ["comment", "reopen"])
def test_a_comment_github_posted_but_answered_502_is_not_posted_again(run, fake, state, kind):
    record(state, cluster(DB, T0, 3))
    run("--all")
    issue = recurred(state, fake, kind)
    fake.fail("POST", r"/comments$", 502, after=True)
    failed = run("--all")
    assert failed.exit_code == 2 and "GitHub may have posted it anyway: run the command again" in failed.stderr
    again = run("--all")
    assert again.exit_code == 0, again.stderr
    assert "its comment was posted by an earlier run" in again.stdout
    assert len(issue.comments) == 1
    assert (issue.state, parse_marker(issue.body)["last_seen"]) == ("open", "2025-06-01T12:04:00Z")
    if kind == "reopen":
        assert "regression" in issue.labels


@pytest.mark.parametrize("kind", ["comment", "reopen"])
def test_an_update_failing_after_its_comment_is_done_by_the_rerun_without_a_second_comment(run, fake, state, kind):
    record(state, cluster(DB, T0, 3))
    run("--all")
    issue = recurred(state, fake, kind)
    fake.fail("PATCH", r"/issues/\d+$", 500)
    assert run("--all").exit_code == 2
    assert len(issue.comments) == 1 and parse_marker(issue.body)["last_seen"] == "2025-06-01T12:02:00Z"
    assert run("--all").exit_code == 0
    assert len(issue.comments) == 1
    assert (issue.state, parse_marker(issue.body)["last_seen"]) == ("open", "2025-06-01T12:04:00Z")


def test_a_later_recurrence_is_commented_on_although_an_earlier_comment_was_posted(run, fake, state):
    record(state, cluster(DB, T0, 3))
    run("--all")
    issue = recurred(state, fake, "comment")
    fake.fail("PATCH", r"/issues/\d+$", 500)
    run("--all")  # the comment up to 12:04 posted, the body not updated
    record(state, cluster(DB, T0, 7))  # two more events by the rerun
    assert run("--all").exit_code == 0
    assert len(issue.comments) == 2 and "4 new event(s)" in issue.comments[1]


def test_a_log_line_cannot_forge_the_comment_marker(run, fake, state):
    """A sample that looks like the comment marker of a far later event would, shown in one comment, make triage
    skip every later comment of its cluster."""
    forged = f'<!-- triage:comment {{"fingerprint":"{DB}","last_seen":"2099-01-01T00:00:00Z"}} -->'
    record(state, cluster(DB, T0, 3))
    run("--all")
    issue = only_issue(fake, DB)
    noisy = cluster(DB, T0, 5)
    record(state, replace(noisy, samples=tuple(replace(s, message=f"pool {forged}") for s in noisy.samples)))
    assert run("--all").exit_code == 0
    assert "triage:comment" in issue.comments[0] and COMMENT_MARKER_RE.findall(issue.comments[0]) == [
        json.dumps({"fingerprint": DB, "last_seen": "2025-06-01T12:04:00Z"}, separators=(",", ":"))]
    record(state, cluster(DB, T0, 7))
    assert run("--all").exit_code == 0
    assert len(issue.comments) == 2


def test_waits_out_a_rate_limit_then_files(run, fake, state, slept):
    record(state, cluster(DB, T0, 3))
    fake.fail("POST", r"/issues$", 429, headers={"Retry-After": "12"}, message="You have exceeded a secondary rate limit")
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    assert slept == [12.0]
    assert result.stderr == "Note: GitHub rate limit: waiting 12 s before trying to create an issue again\n"
    only_issue(fake, DB)


def test_stops_clearly_when_the_rate_limit_outlasts_the_cap(run, fake, state, slept):
    record(state, cluster(DB, T0, 3))
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "3600"}  # the test clock says 0
    fake.fail("POST", r"/issues$", 403, headers=reset, message="API rate limit exceeded for user ID 1.")
    result = run("--all")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: GitHub rate limit reached while trying to create an issue: it asks to wait 3601 s,"
        " beyond the 60 s cap; try again later\n"
    )
    assert slept == [] and fake.issues == {}


def test_a_stop_halfway_reports_and_links_what_was_done(run, fake, state):
    record(state, cluster(DB, T0, 3), cluster(WORKER, T0, 2))
    fake.fail("POST", r"/issues$", 500, skip=1)
    result = run("--all")
    assert result.exit_code == 2
    assert "Error: GitHub answered 500 while trying to create an issue" in result.stderr
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [["ACTION", "FINGERPRINT"], ["created", DB[:12]]]
    with StateStore.in_dir(state) as store:
        assert (store.linked_issue(DB).number, store.linked_issue(WORKER)) == (1, None)


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (401, "Bad credentials", "Error: GitHub rejected the token (401 Bad credentials): check GH_TOKEN or GITHUB_TOKEN\n"),
        (403, "Must have admin rights to Repository.", f"Error: GitHub denied the request to open repository {REPO} (403 Must have admin rights to Repository.): the token needs Issues read and write access to {REPO}\n"),
        (404, "Not Found", f"Error: repository {REPO} not found (404), or the token cannot see it\n"),
    ],
)
def test_auth_and_repo_errors_are_one_line(run, fake, state, status, message, expected):
    record(state, cluster(DB, T0, 3))
    fake.fail("GET", rf"^/repos/{REPO}$", status, message=message)
    result = run("--all")
    assert (result.exit_code, result.stderr, result.stdout) == (2, expected, "")


def test_a_wrong_token_never_shows(run, fake, state, monkeypatch):
    record(state, cluster(DB, T0, 3))
    fake.token = "the-right-one"
    result = run("--all", "--format", "json")
    assert result.exit_code == 2
    assert "401 Bad credentials" in result.stderr  # and run() asserted the token is absent


def test_dry_run_writes_nothing_and_tells_what_would_happen(run, fake, state):
    fake.add_issue("GCP-new | P1 | Database pool exhausted", f"<!-- triage:{json.dumps({'fingerprint': DB, 'count': 1, 'last_seen': '2025-06-01T11:00:00Z'})} -->")
    record(state, cluster(DB, T0, 3), cluster(WORKER, T0, 2, rule=None, title="Worker exited"))
    result = run("--all", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert fake.writes == []
    rows = [line.split(None, 4) for line in result.stdout.splitlines()]
    assert rows[1][:4] == ["would", "comment", DB[:12], "#1"]
    assert rows[2][:4] == ["would", "create", WORKER[:12], "-"]
    assert rows[2][4].startswith("GCP-new | P2 | Worker exited")
    with StateStore.in_dir(state) as store:
        assert store.linked_issue(DB) is None


def test_json_output(run, fake, state):
    record(state, cluster(DB, T0, 3))
    result = run(DB[:6], "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"fingerprint": DB, "action": "create", "dry_run": False, "number": 1, "url": f"https://github.example/{REPO}/issues/1",
         "title": "GCP-new | P1 | Database pool exhausted", "note": ""}
    ]


def test_min_priority_selects_and_repo_comes_from_config(run, fake, state, tmp_path):
    (tmp_path / "triage.toml").write_text(f'github_repo = "{REPO}"\n')
    record(state, cluster(DB, T0, 3), cluster(WORKER, T0, 2, rule=None, title="Worker exited"))
    result = run("--min-priority", "p1", repo=None)
    assert result.exit_code == 0, result.stderr
    assert [i.title for i in fake.issues.values()] == ["GCP-new | P1 | Database pool exhausted"]


@pytest.mark.parametrize(
    ("args", "repo", "env", "message"),
    [
        (("--all",), REPO, {"GITHUB_TOKEN": ""}, "Error: no GitHub token\nHint: set GH_TOKEN or GITHUB_TOKEN to a token that can write issues\n"),
        (("--all",), REPO, {"GITHUB_TOKEN": "\u201cghp_pasted\u201d"},
         "Error: the GitHub token holds characters no token has (quotes pasted with it?)\n"
         "Hint: set GH_TOKEN or GITHUB_TOKEN to the token alone\n"),
        (("--all",), REPO, {"GITHUB_TOKEN": "ghp_one two"},
         "Error: the GitHub token holds characters no token has (quotes pasted with it?)\n"
         "Hint: set GH_TOKEN or GITHUB_TOKEN to the token alone\n"),
        (("--all",), "not-a-repo", {}, "Error: --repo 'not-a-repo' is not OWNER/REPO\n"),
        (("--all",), None, {}, "Error: no repository given\nHint: pass --repo OWNER/REPO or set github_repo in triage.toml\n"),
        ((), REPO, {}, "Error: no cluster selected\nHint: name fingerprints or incident ids, or pass --all or --min-priority P1\n"),
        (("--all", "--min-priority", "P9"), REPO, {}, "Error: unknown --min-priority 'P9': use P0, P1, P2 or P3\n"),
        (("--all", "--format", "csv"), REPO, {}, "Error: unknown --format 'csv': use table or json\n"),
    ],
)
def test_usage_errors(run, fake, state, monkeypatch, args, repo, env, message):
    record(state, cluster(DB, T0, 3))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = run(*args, repo=repo)
    assert (result.exit_code, result.stderr) == (2, message)
    assert fake.requests == []


def test_a_token_read_from_a_file_with_its_line_end_works(run, fake, state, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN + "\r\n")
    record(state, cluster(DB, T0, 3))
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    assert len(fake.issues) == 1


def test_gh_token_is_accepted(run, fake, state, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    record(state, cluster(DB, T0, 3))
    assert run("--all").exit_code == 0
    only_issue(fake, DB)


def test_a_blank_gh_token_leaves_github_token_in_use(run, fake, state, monkeypatch):
    monkeypatch.setenv("GH_TOKEN", " \n")
    record(state, cluster(DB, T0, 3))
    assert run("--all").exit_code == 0
    only_issue(fake, DB)


def test_json_of_a_selection_that_matches_nothing_is_an_empty_list(run, fake, state):
    record(state, cluster(DB, T0, 3))  # a P1 cluster
    result = run("--min-priority", "P0", "--format", "json")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "[]\n", "Note: no cluster matched the selection.\n")
    assert fake.requests == []


def test_bad_api_url_is_one_line(run, fake, state, monkeypatch):
    record(state, cluster(DB, T0, 3))
    monkeypatch.setenv("GITHUB_API_URL", "ghe.example/api/v3")
    result = run("--all")
    assert (result.exit_code, result.stderr) == (2, "Error: the GitHub API URL 'ghe.example/api/v3' is not an http(s) URL (check GITHUB_API_URL)\n")


def test_api_url_with_trailing_slash(run, fake, state, monkeypatch):
    record(state, cluster(DB, T0, 3))
    monkeypatch.setenv("GITHUB_API_URL", fake.url + "/")
    assert run("--all").exit_code == 0
    only_issue(fake, DB)


def test_no_scan_recorded(run, fake):
    result = run("--all")
    assert result.exit_code == 2 and result.stderr.startswith("Error: no scan recorded in ")


def test_events_since_counts_only_later_occurrences():
    c = cluster(DB, T0, 5)
    assert events_since(c, None) == 5
    assert events_since(c, T0 - timedelta(seconds=1)) == 5
    assert events_since(c, T0 + timedelta(minutes=2)) == 2
    assert events_since(c, T0 + timedelta(hours=1)) == 0


def test_comment_with_huge_fresh_samples_stays_under_the_limit():
    c = cluster(DB, T0, 5)
    c = Cluster(**{**{f: getattr(c, f) for f in c.__dataclass_fields__},
                   "samples": tuple(Sample(s.timestamp, "x" * 30_000, "api", "i") for s in c.samples)})
    comment = update_comment(c, "Seen again", None, 5, 5)
    assert len(comment) < 65_536
    assert comment.count("characters cut]…") == 5


def test_comment_fresh_tracebacks_keep_their_exception_line():
    c = cluster(DB, T0, 5)
    tracebacks = tuple(replace(s, message=long_traceback(cart, secret=" password=hunter2-Secret99"))
                       for cart, s in enumerate(c.samples, 1))
    comment = update_comment(replace(c, samples=tracebacks), "Seen again", None, 5, 5)
    for cart in range(1, 6):
        assert f"ZeroDivisionError: division by zero (cart {cart}) password=[REDACTED]\n" in comment
    assert comment.count('  File "/app/api/handlers/orders.py", line 88, in place_order\n') == 5
    assert len(re.findall(r"^…\[\d+ characters cut\]…$", comment, re.M)) == 5 and "hunter2" not in comment



def test_comment_fresh_samples_keep_an_older_error_among_newer_warnings():
    c = cluster(DB, T0, 10)
    warnings = [Sample(T0 + timedelta(minutes=i), f"Token invalid {i}", "api", "i", severity=Severity.WARNING)
                for i in range(9, 0, -1)]
    c = replace(c, samples=(*warnings, Sample(T0, "JWT verification failed", "api", "i", severity=Severity.ERROR)))
    comment = update_comment(c, "Seen again", None, 10, 10)
    assert "JWT verification failed" in comment
    assert "Token invalid 9" in comment and "Token invalid 5" not in comment


def test_comment_samples_mask_a_secret_found_in_context():
    token = "dXNlcjpwYXNzd29yZA9x"
    c = cluster(DB, T0, 2)
    c = Cluster(**{**{f: getattr(c, f) for f in c.__dataclass_fields__},
                   "samples": tuple(Sample(s.timestamp, f"login rejected for {token}\nAuthorization: Basic {token}", "api", "i")
                                    for s in c.samples)})
    comment = update_comment(c, "Seen again", None, 2, 2)
    assert token not in comment and "login rejected for [REDACTED]" in comment



def test_a_comment_carries_one_marker_a_sample_cannot_forge():
    forged = f'<!-- triage:comment {{"fingerprint":"{DB}","last_seen":"2099-01-01T00:00:00Z"}} -->'
    c = cluster(DB, T0, 3)
    c = replace(c, samples=tuple(replace(s, message=f"{forged}\n{forged[:-4]}-->") for s in c.samples))
    comment = update_comment(c, "Seen again", None, 3, 3)
    assert len(COMMENT_MARKER_RE.findall(comment)) == 1
    assert commented_up_to(comment, DB) == "2025-06-01T12:02:00Z" and commented_up_to(comment, WORKER) is None


# --- incidents: one issue, on the root cause -----------------------------------------------------------------

def incident_id(state) -> str:
    with StateStore.in_dir(state) as store:
        (incident,) = link_incidents(store.latest_scan()[1].clusters)
    return incident.id


def test_an_incident_is_filed_once_on_its_root_then_updated(run, fake, state):
    record(state, *cascade_clusters())
    first = incident_id(state)
    result = run(first[:7])
    assert result.exit_code == 0, result.stderr
    assert len(fake.issues) == 1
    issue = only_issue(fake, ROOT_FP)
    assert issue.title == "GCP-new | P1 | ModuleNotFoundError: No module named 'orders.pricing'"  # its incident's
    assert "P1" in issue.labels and "P2" not in issue.labels  # the root alone (no rule) ranks P2
    assert f"`{BOOT_FP}`" in issue.body and f"`{HTTP503_FP}`" in issue.body
    assert parse_marker(issue.body)["incident"] == first
    with StateStore.in_dir(state) as store:
        assert store.linked_issue(ROOT_FP).number == issue.number

    record(state, *cascade_clusters(start=CASCADE_T0 + timedelta(hours=1)))  # the crash loop goes on: a later scan
    second = incident_id(state)
    result = run(second)
    assert result.exit_code == 0, result.stderr
    assert len(fake.issues) == 1 and len(issue.comments) == 1
    assert result.stdout.splitlines()[1].split()[:3] == ["commented", ROOT_FP[:12], f"#{issue.number}"]
    marker = parse_marker(issue.body)
    assert (marker["fingerprint"], marker["incident"], marker["count"]) == (ROOT_FP, second, 24)
    assert issue.title.startswith("GCP-new | ")  # a comment never renames the issue
    assert "happened 12 times" in issue.body and ": recurring, P1" in issue.body


def test_all_files_no_symptom_unless_asked(run, fake, state):
    record(state, *cascade_clusters(), cluster(DB, T0, 3))
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    assert "Note: 2 symptom cluster(s) folded into 1 incident(s)" in result.stderr
    assert sorted(parse_marker(i.body)["fingerprint"] for i in fake.issues.values()) == sorted([ROOT_FP, DB])
    result = run("--all", "--include-symptoms")
    assert result.exit_code == 0, result.stderr
    assert sorted(parse_marker(i.body)["fingerprint"] for i in fake.issues.values()) == sorted([ROOT_FP, BOOT_FP, HTTP503_FP, DB])
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]].count("created") == 2


def test_symptom_key_files_its_root(run, fake, state):
    record(state, *cascade_clusters())
    result = run(HTTP503_FP[:10])
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith(f"Note: {HTTP503_FP[:12]} is a symptom of incident inc-")
    only_issue(fake, ROOT_FP)
    assert len(fake.issues) == 1


def test_unknown_incident_is_one_line_and_touches_nothing(run, fake, state):
    record(state, *cascade_clusters())
    result = run("inc-zz")
    assert (result.exit_code, result.stderr) == (2, f"Error: no incident of the last scan has an id starting with 'inc-zz': its incidents are {incident_id(state)}\n")
    assert fake.writes == []


def test_refreshed_counters_never_push_a_full_body_over_the_limit():
    from triage.drafts import MAX_BODY, DraftContext, render_issue
    from triage.filing import plan
    from triage.github import TrackedIssue

    samples = tuple(Sample(T0 + timedelta(minutes=i), f"{i} " + "q" * 3900, "api", "i") for i in range(10))
    base = cluster(DB, T0, 10)
    def with_capture(n: int) -> Cluster:
        return Cluster(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, "samples": samples, "captures": {"v": "y" * n}})
    context = DraftContext(Window(T0, T0 + timedelta(hours=1)))
    n = 20_000
    n += MAX_BODY - 5 - len(render_issue(with_capture(n), context).body)  # a body 5 characters under the limit, if allowed
    big = with_capture(n)
    old_marker = f"<!-- triage:{json.dumps({'fingerprint': DB, 'count': 10**9, 'last_seen': '2025-06-01T11:00:00Z'})} -->"

    class Tracker:
        def find_by_fingerprint(self, fingerprint):
            return TrackedIssue(1, "https://github.example/acme/shop/issues/1", "open", "t", old_marker, ("triage",), None)

    (action,) = plan([big], Tracker(), lambda c, kind: render_issue(c, context), context.window)
    assert action.kind == "comment"
    assert parse_marker(action.body)["count"] == 10**9 + 10
    assert len(action.body) < MAX_BODY


def test_an_error_before_any_write_prints_no_empty_json_result(run, fake, state):
    record(state, cluster(DB, T0, 3))
    fake.fail("GET", rf"^/repos/{REPO}$", 404, message="Not Found")
    result = run("--all", "--format", "json")
    assert (result.exit_code, result.stdout) == (2, "")


def test_rerun_with_sub_second_times_writes_nothing(run, fake, state):
    """Real timestamps carry microseconds: the marker must keep them, or every rerun sees a 'new' event."""
    record(state, cluster(DB, T0 + timedelta(microseconds=7404), 3))
    run("--all")
    writes = len(fake.writes)
    result = run("--all")
    assert len(fake.writes) == writes
    assert result.stdout.splitlines()[1].split()[0] == "skipped"


@pytest.mark.parametrize(("reason", "said"), [("duplicate", "a duplicate"), ("not_planned", "not planned")])
def test_an_issue_closed_as_duplicate_or_not_planned_is_never_reopened(run, fake, state, reason, said):
    record(state, cluster(DB, T0, 3))
    run("--all")
    issue = only_issue(fake, DB)
    issue.state, issue.closed_at, issue.state_reason = "closed", "2025-06-01T13:00:00Z", reason
    record(state, cluster(DB, T0 + timedelta(hours=2), 2))
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    assert (issue.state, issue.comments, len(fake.issues)) == ("closed", [], 1)
    assert result.stdout.splitlines()[1].split()[0] == "skipped" and f"closed as {said}: never reopened" in result.stdout


def test_an_issue_filed_without_its_label_is_not_filed_again(run, fake, state):
    """A token without push access: GitHub files the issue but drops its labels; the rerun finds it by number."""
    fake.drop_labels = True
    record(state, cluster(DB, T0, 3))
    first = run("--all")
    assert first.exit_code == 0 and "without its 'triage' label" in first.stderr
    record(state, cluster(DB, T0 + timedelta(hours=1), 2))
    second = run("--all")
    assert second.exit_code == 0, second.stderr
    assert len(fake.issues) == 1 and len(fake.issues[1].comments) == 1


def test_an_issue_whose_body_a_person_rewrote_keeps_it_and_is_not_filed_again(run, fake, state):
    record(state, cluster(DB, T0, 3))
    run("--all")
    issue = only_issue(fake, DB)
    issue.body = "Root cause: pgbouncer pool size. Fixed in #42."  # the marker went with the rest
    record(state, cluster(DB, T0 + timedelta(hours=1), 2))
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    assert len(fake.issues) == 1 and len(issue.comments) == 1
    assert issue.body.startswith("Root cause: pgbouncer pool size. Fixed in #42.\n\n<!-- triage:")
    assert parse_marker(issue.body)["count"] == 2  # what was counted before the marker was lost is not known
    again = run("--all")  # the marker it got back tells that nothing happened since
    assert again.stdout.splitlines()[1].split()[0] == "skipped" and len(issue.comments) == 1


def test_an_edited_body_is_kept_and_only_its_counters_move_on(run, fake, state):
    record(state, cluster(DB, T0, 3))
    run("--all")
    issue = only_issue(fake, DB)
    untouched = issue.body
    record(state, cluster(DB, T0 + timedelta(hours=1), 2))
    run("--all")
    assert issue.body != untouched and parse_marker(issue.body)["count"] == 5  # triage's own body is refreshed
    issue.body = issue.body.replace("- [ ]", "- [x]", 1) + "\n\nNotes: pgbouncer pool_size is 20 in prod.\n"
    edited = MARKER_RE.sub("", issue.body)
    for hours in (2, 3):  # stays the person's through later updates
        record(state, cluster(DB, T0 + timedelta(hours=hours), 2))
        assert run("--all").exit_code == 0
        assert MARKER_RE.sub("", issue.body) == edited
    assert parse_marker(issue.body)["count"] == 9 and len(issue.comments) == 3
    assert shown(issue.comments[-1]).endswith("The issue body is kept as it was edited; only its hidden counters were updated.")
    assert shown(issue.comments[0]).endswith("The issue body now shows the evidence of the latest window.")


def test_a_deleted_issue_is_filed_again_and_blocks_nothing(run, fake, state):
    record(state, cluster(DB, T0, 3), cluster(WORKER, T0, 2, rule=None, title="Worker exited with code 3"))
    run("--all")
    fake.deleted.add(only_issue(fake, DB).number)
    record(state, cluster(DB, T0 + timedelta(hours=1), 2), cluster(WORKER, T0 + timedelta(hours=1), 2, rule=None,
                                                                   title="Worker exited with code 3"))
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == ["created", "commented"]


def test_a_repo_named_in_another_case_finds_the_issue_recorded_under_its_name(run, fake, state):
    record(state, cluster(DB, T0, 3))
    run("--all", repo=REPO.upper())
    filed = only_issue(fake, DB)
    with StateStore.in_dir(state) as store:
        assert store.linked_issue(DB).repo == REPO  # as GitHub spells it
    filed.labels.remove("triage")
    record(state, cluster(DB, T0 + timedelta(hours=1), 2))
    result = run("--all", repo=REPO.title())
    assert result.exit_code == 0, result.output
    assert len(fake.issues) == 1 and len(filed.comments) == 1


def test_a_config_repo_with_blanks_around_it_is_read(run, fake, state, tmp_path):
    (tmp_path / "triage.toml").write_text(f'github_repo = " {REPO} "\n')
    record(state, cluster(DB, T0, 3))
    assert run("--all", repo=None).exit_code == 0 and len(fake.issues) == 1


def test_an_issue_that_lost_its_label_is_found_by_its_recorded_number(run, fake, state):
    record(state, cluster(DB, T0, 3))
    run("--all")
    filed = only_issue(fake, DB)
    filed.labels.remove("triage")  # someone tidied the labels
    record(state, cluster(DB, T0 + timedelta(hours=1), 2))
    result = run("--all")
    assert result.exit_code == 0, result.output
    assert only_issue(fake, DB).number == filed.number  # commented, not filed again
    assert len(filed.comments) == 1


def test_an_issue_a_person_merged_another_into_is_found_by_either_marker(run, fake, state):
    """Issue B's body, marker and all, pasted into issue A (same root cause): both clusters now update A."""
    record(state, cluster(DB, T0, 3), cluster(WORKER, T0, 2, rule=None, title="Worker exited with code 3"))
    run("--all")
    a, b = only_issue(fake, DB), only_issue(fake, WORKER)
    a.body += f"\n\n---\nMerged from #{b.number} (same root cause):\n\n{b.body}"
    b.state, b.closed_at, b.state_reason = "closed", "2025-06-01T13:00:00Z", "duplicate"
    record(state, cluster(DB, T0 + timedelta(hours=1), 2))
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    assert len(fake.issues) == 2 and len(a.comments) == 1
    assert parse_marker(a.body, DB)["count"] == 5 and parse_marker(a.body, WORKER)["count"] == 2


def test_a_copy_of_the_marker_pasted_below_does_not_comment_on_every_rerun(run, fake, state):
    record(state, cluster(DB, T0, 3))
    run("--all")
    issue = only_issue(fake, DB)
    issue.body = issue.body + "\n\nMy notes. Original text kept below:\n\n" + issue.body
    record(state, cluster(DB, T0 + timedelta(hours=1), 2))
    for _ in range(3):  # the same scan, filed three times
        assert run("--all").exit_code == 0
    assert len(issue.comments) == 1


def test_a_person_body_too_long_for_the_marker_is_skipped_not_a_failed_run(run, fake, state):
    record(state, cluster(DB, T0, 3), cluster(WORKER, T0, 2, rule=None, title="Worker exited with code 3"))
    run("--all")
    issue = only_issue(fake, DB)
    issue.body = "postmortem\n" + "x" * 65_500  # a pasted postmortem; the marker lost
    record(state, cluster(DB, T0 + timedelta(hours=1), 2),
           cluster(WORKER, T0 + timedelta(hours=1), 2, rule=None, title="Worker exited with code 3"))
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    rows = {line.split()[1]: line for line in result.stdout.splitlines()[1:]}
    assert "body is too long to keep triage's marker" in rows[DB[:12]] and rows[WORKER[:12]].startswith("commented")


def test_a_repository_renamed_since_keeps_finding_its_issues(run, fake, state, monkeypatch):
    """Issues linked under the old name stay found once GitHub answers with the new one (it redirects the old)."""
    record(state, cluster(DB, T0, 3))
    run("--all")
    filed = only_issue(fake, DB)
    original = fake._repo_json
    monkeypatch.setattr(fake, "_repo_json", lambda: {**original(), "full_name": "acme/storefront"})  # renamed
    filed.labels.remove("triage")
    record(state, cluster(DB, T0 + timedelta(hours=1), 2))
    assert run("--all").exit_code == 0  # --repo still gives the old name
    assert len(fake.issues) == 1 and len(filed.comments) == 1
    with StateStore.in_dir(state) as store:
        assert store.linked_issue(DB, "acme/storefront").number == filed.number


def test_a_repository_named_by_an_old_name_finds_the_issues_linked_under_its_new_one(run, fake, state, monkeypatch):
    original = fake._repo_json
    monkeypatch.setattr(fake, "_repo_json", lambda: {**original(), "full_name": "acme/storefront"})
    record(state, cluster(DB, T0, 3))
    run("--all")  # --repo acme/shop, which GitHub redirects to acme/storefront
    filed = only_issue(fake, DB)
    filed.labels.remove("triage")
    record(state, cluster(DB, T0 + timedelta(hours=1), 2))
    assert run("--all").exit_code == 0
    assert len(fake.issues) == 1 and len(filed.comments) == 1


def test_a_reopened_issue_keeps_a_title_a_person_chose(run, fake, state):
    record(state, cluster(DB, T0, 3), cluster(WORKER, T0, 2, rule=None, title="Worker exited with code 3"))
    run("--all")
    renamed, untouched = only_issue(fake, DB), only_issue(fake, WORKER)
    renamed.title = "DB pool exhausted: pgbouncer limit (PR #42)"
    for issue in (renamed, untouched):
        issue.state, issue.closed_at = "closed", "2025-06-01T13:00:00Z"
    record(state, cluster(DB, T0 + timedelta(hours=2), 2),
           cluster(WORKER, T0 + timedelta(hours=2), 2, rule=None, title="Worker exited with code 3"))
    assert run("--all").exit_code == 0
    assert (renamed.state, renamed.title, renamed.labels[-1]) == ("open", "DB pool exhausted: pgbouncer limit (PR #42)",
                                                                  "regression")
    assert untouched.title == "GCP-regression | P2 | Worker exited with code 3"
    for issue in (renamed, untouched):  # and the next reopening still tells them apart
        issue.state, issue.closed_at = "closed", "2025-06-01T16:00:00Z"
    record(state, cluster(DB, T0 + timedelta(hours=5), 2),
           cluster(WORKER, T0 + timedelta(hours=5), 2, rule=None, title="Worker exited with code 3"))
    assert run("--all").exit_code == 0
    assert (renamed.state, renamed.title) == ("open", "DB pool exhausted: pgbouncer limit (PR #42)")
    assert untouched.title == "GCP-regression | P2 | Worker exited with code 3" and untouched.state == "open"


def _worker(start, n: int) -> Cluster:
    return cluster(WORKER, start, n, rule=None, title="Worker exited with code 3")


def _merge(into, merged, closed_at: str = "2025-06-01T12:30:00Z") -> None:
    """What a person does: paste the merged issue's body (its marker with it), close that one as a duplicate."""
    into.body += f"\n\n---\nMerged from #{merged.number}:\n\n{merged.body}"
    merged.state, merged.closed_at, merged.state_reason = "closed", closed_at, "duplicate"


def _merged_and_closed(run, fake, state):
    """Issue b merged into a, then a closed as done."""
    record(state, cluster(DB, T0, 3), _worker(T0, 2))
    run("--all")
    a, b = only_issue(fake, DB), only_issue(fake, WORKER)
    _merge(a, b)
    a.state, a.closed_at, a.state_reason = "closed", "2025-06-01T13:00:00Z", "completed"
    return a, b


def test_both_clusters_of_a_merged_issue_in_one_run_keep_both_counters_and_a_retitle(run, fake, state):
    a, _ = _merged_and_closed(run, fake, state)
    record(state, cluster(DB, T0 + timedelta(hours=3), 2), _worker(T0 + timedelta(hours=3), 2))
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == ["reopened", "commented"]
    assert (a.state, a.title) == ("open", "GCP-regression | P1 | Database pool exhausted")
    assert parse_marker(a.body, DB)["count"] == 5 and parse_marker(a.body, WORKER)["count"] == 4
    assert len(a.comments) == 2
    assert run("--all").exit_code == 0 and len(a.comments) == 2  # the same scan again: nothing is new


def test_a_fingerprint_in_a_duplicate_and_in_the_issue_it_was_merged_into_goes_to_the_latter(run, fake, state):
    record(state, cluster(DB, T0, 3), _worker(T0, 2))
    run("--all")
    a, b = only_issue(fake, DB), only_issue(fake, WORKER)  # a is the older
    _merge(b, a)
    b.state, b.closed_at, b.state_reason = "closed", "2025-06-01T13:00:00Z", "completed"
    record(state, cluster(DB, T0 + timedelta(hours=3), 2))
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    assert (a.state, b.state, len(fake.issues)) == ("closed", "open", 2)  # the regression is not lost


def test_a_marker_pasted_alone_makes_the_body_a_persons_and_survives(run, fake, state):
    record(state, cluster(DB, T0, 3), _worker(T0, 2))
    run("--all")
    a, b = only_issue(fake, DB), only_issue(fake, WORKER)
    a.body += "\n" + MARKER_RE.search(b.body)[0] + "\n"
    b.state, b.closed_at, b.state_reason = "closed", "2025-06-01T12:30:00Z", "duplicate"
    record(state, cluster(DB, T0 + timedelta(hours=1), 2))
    assert run("--all").exit_code == 0
    assert parse_marker(a.body, WORKER) is not None
    record(state, _worker(T0 + timedelta(hours=2), 2))
    assert run("--all").exit_code == 0
    assert parse_marker(a.body, WORKER)["count"] == 4 and b.state == "closed"


@pytest.mark.parametrize("comment_first", [False, True])
def test_a_title_renamed_with_the_marker_gone_stays_through_reopenings(run, fake, state, comment_first):
    record(state, cluster(DB, T0, 3))
    run("--all")
    issue = only_issue(fake, DB)
    issue.body = "Postmortem: pgbouncer pool size. Fixed in #42."
    issue.title = "DB pool: pgbouncer limit (postmortem)"
    if comment_first:  # an update while open brings the marker back first
        record(state, cluster(DB, T0 + timedelta(hours=1), 2))
        assert run("--all").exit_code == 0
    issue.state, issue.closed_at = "closed", "2025-06-01T14:00:00Z"
    record(state, cluster(DB, T0 + timedelta(hours=3), 2))
    assert run("--all").exit_code == 0
    assert (issue.state, issue.title) == ("open", "DB pool: pgbouncer limit (postmortem)")


def test_an_issue_rewritten_then_merged_into_is_found_by_its_number(run, fake, state):
    record(state, cluster(DB, T0, 3), _worker(T0, 2))
    run("--all")
    a, b = only_issue(fake, DB), only_issue(fake, WORKER)
    a.body = "Root cause: pgbouncer pool size."  # its own marker gone
    _merge(a, b)
    record(state, cluster(DB, T0 + timedelta(hours=1), 2))
    assert run("--all").exit_code == 0
    assert len(fake.issues) == 2 and len(a.comments) == 1 and parse_marker(a.body, DB)["count"] == 2


@pytest.mark.parametrize("worker_first", [False, True])
def test_a_merged_issue_reopened_for_one_cluster_is_linked_open_for_all_and_retitled(run, fake, state, worker_first):
    a, _ = _merged_and_closed(run, fake, state)
    record(state, cluster(DB, T0 + timedelta(hours=3), 2), _worker(T0, 2))  # only DB recurs after the close
    keys = [WORKER[:8], DB[:8]] if worker_first else [DB[:8], WORKER[:8]]
    result = run(*keys)
    assert result.exit_code == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()[1:]] == ["reopened", "skipped"]
    assert (a.state, a.title) == ("open", "GCP-regression | P1 | Database pool exhausted")
    with StateStore.in_dir(state) as store:
        assert [(store.linked_issue(fp).number, store.linked_issue(fp).state) for fp in (DB, WORKER)] == [
            (a.number, "open"), (a.number, "open")]


def test_a_merged_issue_reopened_by_a_cluster_merged_into_it_keeps_its_subject(run, fake, state):
    a, _ = _merged_and_closed(run, fake, state)
    record(state, _worker(T0 + timedelta(hours=3), 2))  # only the merged-in cluster recurs
    assert run(WORKER[:8]).exit_code == 0
    assert (a.state, a.title, a.labels[-1]) == ("open", "GCP-new | P1 | Database pool exhausted", "regression")


def test_events_from_before_a_merged_issue_was_closed_are_no_news_once_it_reopens(run, fake, state):
    """WORKER's events came after its last report but before the close: neither this run nor the next reports them."""
    a, _ = _merged_and_closed(run, fake, state)
    record(state, cluster(DB, T0 + timedelta(hours=3), 2), _worker(T0 + timedelta(minutes=40), 2))
    for _ in range(2):
        assert run("--all").exit_code == 0
    assert len(a.comments) == 1 and a.comments[0].startswith("**Recurred after this issue was closed:**")


@pytest.mark.parametrize("reason", ["null", "absent"])
def test_without_state_reason_the_issue_others_were_merged_into_stands_for_them(run, fake, state, monkeypatch, reason):
    """Older GitHub Enterprise gives no state_reason: the issue holding more markers stands, not the older one."""
    record(state, cluster(DB, T0, 3), _worker(T0, 2))
    run("--all")
    a, b = only_issue(fake, DB), only_issue(fake, WORKER)
    _merge(b, a)
    b.state, b.closed_at = "closed", "2025-06-01T13:00:00Z"
    a.state_reason = b.state_reason = None
    if reason == "absent":
        original = fake._issue_json
        monkeypatch.setattr(fake, "_issue_json", lambda i: {k: v for k, v in original(i).items() if k != "state_reason"})
    record(state, cluster(DB, T0 + timedelta(hours=3), 2))
    assert run("--all").exit_code == 0
    assert (a.state, b.state) == ("closed", "open")


@pytest.mark.parametrize("worker_first", [False, True])
def test_a_merged_issue_both_clusters_recur_is_retitled_whatever_their_order(run, fake, state, worker_first):
    a, _ = _merged_and_closed(run, fake, state)
    later = T0 + timedelta(hours=3)
    record(state, cluster(DB, later, 2), _worker(later, 2))
    assert run(*([WORKER[:8], DB[:8]] if worker_first else [DB[:8], WORKER[:8]])).exit_code == 0
    assert (a.state, a.title) == ("open", "GCP-regression | P1 | Database pool exhausted")


def test_symptoms_whose_root_cause_left_the_window_go_to_its_issue_not_a_new_one(run, fake, state):
    record(state, *cascade_clusters())
    assert run("--all").exit_code == 0
    root_issue = only_issue(fake, ROOT_FP)
    assert parse_marker(root_issue.body, ROOT_FP)["symptoms"] == [BOOT_FP, HTTP503_FP]
    _, boot, http503 = cascade_clusters(start=CASCADE_T0 + timedelta(days=1))
    record(state, boot, http503)  # the import error is out of this window; the workers still fail to boot
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    assert len(fake.issues) == 1 and len(root_issue.comments) == 1
    assert parse_marker(root_issue.body, ROOT_FP)["symptoms"] == [BOOT_FP, HTTP503_FP]  # kept for the next time
    assert run("--all").exit_code == 0 and len(root_issue.comments) == 1  # and found again, by its own marker now
    assert run("--all", "--include-symptoms").exit_code == 0  # asked for: a symptom not linked yet gets its own
    assert len(fake.issues) == 2 and only_issue(fake, HTTP503_FP).number == 2


def test_a_symptom_filed_before_it_turned_out_to_be_one_is_updated_in_its_own_issue(run, fake, state):
    _, boot, _ = cascade_clusters()
    record(state, boot)  # the workers fail to boot: no cause seen yet
    assert run("--all").exit_code == 0
    own = only_issue(fake, BOOT_FP)
    record(state, *cascade_clusters(start=CASCADE_T0 + timedelta(hours=1)))  # now with the import error before them
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    root = only_issue(fake, ROOT_FP)
    assert len(own.comments) == 1 and own.state == "open"  # not left to go stale beside the root cause's issue
    assert [line.split()[:2] for line in result.stdout.splitlines()[1:]] == [
        ["created", ROOT_FP[:12]], ["commented", BOOT_FP[:12]]]
    assert "one that has an open issue of its own is updated there too" in root.body
    assert run("--all").exit_code == 0 and len(own.comments) == 1 and len(fake.issues) == 2  # no news, no more


def _filed_incident(run, fake, state):
    """The cascade filed as one issue on its root cause."""
    record(state, *cascade_clusters())
    assert run("--all").exit_code == 0
    return only_issue(fake, ROOT_FP)


def _symptoms_alone(state, days: int = 1, fingerprints=(ROOT_FP, BOOT_FP, HTTP503_FP)) -> None:
    """A later scan holding the symptoms only (the root cause is out of its window)."""
    _, boot, http503 = cascade_clusters(fingerprints, start=CASCADE_T0 + timedelta(days=days))
    record(state, boot, http503)


def test_a_followed_symptom_leaves_the_root_causes_body_triages(run, fake, state):
    issue = _filed_incident(run, fake, state)
    _symptoms_alone(state)
    assert run("--all").exit_code == 0
    assert shown(issue.comments[0]).endswith("its body stays the root cause's.")
    record(state, *cascade_clusters(start=CASCADE_T0 + timedelta(days=2)))  # the root cause is back
    assert run("--all").exit_code == 0
    assert shown(issue.comments[1]).endswith("The issue body now shows the evidence of the latest window.")
    assert parse_marker(issue.body, BOOT_FP) is not None  # the refresh kept the followed symptom's marker
    _symptoms_alone(state, days=3)
    assert run("--all").exit_code == 0 and shown(issue.comments[2]).endswith("its body stays the root cause's.")
    assert run("--all").exit_code == 0 and len(issue.comments) == 3  # the same scan again: no news


def test_a_root_cause_recurring_alone_keeps_its_symptoms_listed(run, fake, state):
    issue = _filed_incident(run, fake, state)
    root, _, _ = cascade_clusters(start=CASCADE_T0 + timedelta(hours=3))
    record(state, root)
    assert run("--all").exit_code == 0
    assert parse_marker(issue.body, ROOT_FP)["symptoms"] == [BOOT_FP, HTTP503_FP]
    _symptoms_alone(state)
    assert run("--all").exit_code == 0 and len(fake.issues) == 1


def test_a_symptom_whose_own_issue_was_closed_as_a_duplicate_goes_to_the_root_causes(run, fake, state):
    issue = _filed_incident(run, fake, state)
    record(state, *cascade_clusters(start=CASCADE_T0 + timedelta(hours=1)))
    assert run("--all", "--include-symptoms").exit_code == 0
    own = only_issue(fake, BOOT_FP)
    own.state, own.closed_at, own.state_reason = "closed", "2026-03-14T12:00:00Z", "duplicate"
    comments = len(issue.comments)
    _symptoms_alone(state)
    assert run("--all").exit_code == 0
    assert own.state == "closed" and len(issue.comments) == comments + 1


def test_a_followed_symptom_that_became_a_root_cause_lists_its_own_symptoms(run, fake, state):
    issue = _filed_incident(run, fake, state)
    other = "8a8b8c8d8e8f80818283"
    _symptoms_alone(state, fingerprints=(ROOT_FP, BOOT_FP, other))  # the workers fail, and `other` follows them
    assert run("--all").exit_code == 0
    assert parse_marker(issue.body, BOOT_FP)["symptoms"] == [other]
    _, _, alone = cascade_clusters((ROOT_FP, BOOT_FP, other), start=CASCADE_T0 + timedelta(days=2))
    record(state, alone)
    assert run("--all").exit_code == 0 and len(fake.issues) == 1


def test_a_symptoms_events_from_before_its_root_causes_issue_was_closed_are_no_news(run, fake, state):
    issue = _filed_incident(run, fake, state)
    _, _, http503 = cascade_clusters(start=CASCADE_T0 + timedelta(days=1))  # before the close
    _, boot, _ = cascade_clusters(start=CASCADE_T0 + timedelta(days=1, hours=2))  # after it
    issue.state, issue.closed_at, issue.state_reason = "closed", "2026-03-15T10:30:00Z", "completed"
    record(state, boot, http503)
    assert run("--all").exit_code == 0
    assert issue.state == "open" and len(issue.comments) == 1


@pytest.mark.parametrize("value", ["null", "5", '"1b2c3d4e5f6071829304"', '{"a": 1}', '[1, null, "1b2c3d4e5f6071829304"]'])
def test_a_hand_edited_symptom_list_is_no_crash(run, fake, state, value):
    issue = _filed_incident(run, fake, state)
    data = parse_marker(issue.body, ROOT_FP)
    text = json.dumps({**data, "symptoms": "@@"}, separators=(",", ":")).replace('"@@"', value)
    issue.body = "Edited by a person.\n" + MARKER_RE.sub(lambda _: f"<!-- triage:{text} -->", issue.body)
    record(state, *cascade_clusters(start=CASCADE_T0 + timedelta(hours=1)))
    assert run("--all").exit_code == 0
    _symptoms_alone(state)
    assert run("--all").exit_code == 0


def test_an_incident_whose_root_cause_flips_and_back_keeps_one_marker_each(run, fake, state):
    """BOOT leads one scan (ROOT its symptom, followed into ROOT's issue), then ROOT leads again, scan after scan."""
    issue = _filed_incident(run, fake, state)
    record(state, *cascade_clusters((BOOT_FP, ROOT_FP, HTTP503_FP), start=CASCADE_T0 + timedelta(days=1)))
    assert run("--all").exit_code == 0
    for day in range(2, 5):
        record(state, *cascade_clusters(start=CASCADE_T0 + timedelta(days=day)))
        assert run("--all").exit_code == 0
        comments = len(issue.comments)
        assert run("--all").exit_code == 0 and len(issue.comments) == comments  # the same scan again: no news
        fingerprints = [data["fingerprint"] for data in marker_data(issue.body)]
        assert fingerprints.count(ROOT_FP) == 1 and ROOT_FP not in parse_marker(issue.body, ROOT_FP)["symptoms"]
        assert shown(issue.comments[-1]).endswith("The issue body now shows the evidence of the latest window.")
    assert len(fake.issues) == 1


def _incident_of(root: str | None, symptoms: list[str], day: int) -> list[Cluster]:
    """``root`` (if any) then each symptom 0.1 s later on the same three instances, four boots each, on ``day``."""
    start = CASCADE_T0 + timedelta(days=day, minutes=10)
    clusters = []
    for k, fp in enumerate(([root] if root else []) + symptoms):
        occurrences = sorted(
            (Occurrence(start + timedelta(minutes=5 * boot, seconds=n + 0.1 * k), f"inst-{n}", None, "rev-1")
             for n in range(3) for boot in range(4)), key=lambda o: o.timestamp)
        last = occurrences[-1]
        clusters.append(Cluster(
            fingerprint=fp, title=f"failure {fp[:6]}", template=f"failure {fp[:6]}", severity=Severity.ERROR,
            count=len(occurrences), first_seen=occurrences[0].timestamp, last_seen=last.timestamp,
            services={"api": len(occurrences)}, revisions={"rev-1": len(occurrences)},
            samples=(Sample(last.timestamp, f"failure {fp[:6]}", "api", last.instance, "rev-1"),),
            occurrences=tuple(occurrences)))
    return clusters


def test_more_symptoms_than_a_marker_lists_never_freeze_the_root_causes_body(run, fake, state):
    root, first = "9999" + "cd" * 8, "0000" + "ab" * 8
    record(state, *_incident_of(root, [first], 1))
    assert run("--all").exit_code == 0
    issue = only_issue(fake, root)
    record(state, *_incident_of(None, [first], 2))  # followed into the root cause's issue
    assert run("--all").exit_code == 0
    record(state, *_incident_of(root, [f"{i:04d}" + "ab" * 8 for i in range(100, 120)], 3))  # 20 others at once
    assert run("--all").exit_code == 0
    listed = parse_marker(issue.body, root)["symptoms"]
    assert len(listed) == 20 and first in listed and parse_marker(issue.body, first) is not None
    record(state, *_incident_of(root, ["0200" + "ab" * 8], 4))
    assert run("--all").exit_code == 0
    assert shown(issue.comments[-1]).endswith("The issue body now shows the evidence of the latest window.")


def test_an_issue_created_without_label_and_answered_502_is_not_filed_again(run, fake, state):
    """No push access (GitHub drops the labels) and a 502 to the create GitHub did perform: no label, no number."""
    fake.drop_labels = True
    record(state, cluster(DB, T0, 3))
    fake.fail("POST", r"/issues$", 502, after=True)
    assert run("--all").exit_code == 2
    assert run("--all").exit_code == 0
    assert len(fake.issues) == 1


def test_two_runs_at_once_create_the_issue_once(fake, state, tmp_path):
    """A cron run and a person at 3 a.m.: the second waits for the first (saying so), then finds its issue."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    record(state, cluster(DB, T0, 3))
    fake.listing_delay_s = 0.5  # both runs would be reading the issues before either creates one
    env = dict(os.environ, GITHUB_TOKEN=TOKEN, GITHUB_API_URL=fake.url,
               PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    env.pop("GH_TOKEN", None)
    command = [sys.executable, "-m", "triage", "issue", "file", "--all", "--repo", REPO, "--state-dir", str(state)]
    runs = [subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    only_issue(fake, DB)
    assert len(fake.issues) == 1
    verbs = sorted(out.splitlines()[1].split()[0] for out, _ in outputs)
    assert verbs == ["created", "skipped"]
    waited = [err for _, err in outputs if "waiting for it to finish" in err]
    assert len(waited) == 1 and "another `triage issue file` run is filing with this state store" in waited[0]
    assert all(TOKEN not in out + err for out, err in outputs)


def test_a_record_pointing_at_someone_elses_issue_is_stale(run, fake, state):
    """acme/shop deleted and its name taken by a new repository (another id), which uses triage too: the recorded
    #1 is now someone else's issue, whatever its labels say."""
    record(state, cluster(DB, T0, 3))
    assert run("--all").exit_code == 0
    with StateStore.in_dir(state) as store:
        assert (store.linked_issue(DB).repo_id, store.linked_issue(DB).api_host) == (1, fake.url.split("/")[2])
    fake.issues.clear()
    fake.repo_id = 2
    person = fake.add_issue("Login page typo", "The login page says 'Sing in'.", labels=("bug", "triage"))
    record(state, cluster(DB, T0 + timedelta(hours=1), 2))
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    assert (person.title, person.body, person.labels, person.comments) == (
        "Login page typo", "The login page says 'Sing in'.", ["bug", "triage"], [])
    assert [(w[0], w[1]) for w in fake.writes] == [("POST", "/repos/acme/shop/issues")] * 2  # the first run's, this one's
    assert only_issue(fake, DB).number == 2 and result.stdout.splitlines()[1].split()[0] == "created"
    assert ("issue #1, recorded for a1b2c3d4e5f6, was filed in repository id 1, but acme/shop is repository id 2:"
            " taking the record as stale") in result.stderr
    with StateStore.in_dir(state) as store:
        assert (store.linked_issue(DB).number, store.linked_issue(DB).repo_id) == (2, 2)


@pytest.mark.parametrize("recorded_by", ["this triage", "an older triage"])
def test_an_issue_a_person_took_over_is_updated_not_filed_again(run, fake, state, recorded_by):
    """Someone rewrote the body (the marker went with it) and swapped the `triage` label for their team's: the issue
    recorded in this repository is still found by its number; so is one recorded before triage kept repository ids."""
    record(state, cluster(DB, T0, 3))
    assert run("--all").exit_code == 0
    issue = only_issue(fake, DB)
    issue.body, issue.labels = "Root cause: pgbouncer pool size. Owner: @alice.", ["team-db", "P1"]
    if recorded_by == "an older triage":
        with StateStore.in_dir(state) as store:
            store.db.execute("UPDATE issues SET repo_id = NULL, api_host = NULL")
    record(state, cluster(DB, T0 + timedelta(hours=1), 2))
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    assert len(fake.issues) == 1 and len(issue.comments) == 1
    assert result.stdout.splitlines()[1].split()[:3] == ["commented", DB[:12], "#1"]
    assert issue.body.startswith("Root cause: pgbouncer pool size. Owner: @alice.\n\n<!-- triage:")
    assert issue.labels == ["team-db", "P1"] and "stale" not in result.stderr
    with StateStore.in_dir(state) as store:
        assert (store.linked_issue(DB).number, store.linked_issue(DB).repo_id) == (1, 1)


def test_a_busy_state_store_when_linking_says_what_was_created(run, fake, state, monkeypatch):
    """Another triage command holds the store's write lock: the issue is created; the run lists it, says the store
    was busy (not damaged) and how to go on, and exits 2; the rerun finds the issue."""
    import sqlite3

    record(state, cluster(DB, T0, 3), cluster(WORKER, T0, 2, rule=None, title="Worker exited with code 3"))
    other = sqlite3.connect(state / "state.db", isolation_level=None)
    real_connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *args, timeout=5.0, **kwargs: real_connect(*args, timeout=0.1, **kwargs))
    other.execute("BEGIN IMMEDIATE")  # a scan recording its result
    try:
        result = run("--all")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert result.exit_code == 2
    assert len(fake.issues) == 1  # the first create; the run stopped there
    assert result.stdout.splitlines()[1].split()[:4] == [
        "created", DB[:12], "#1", "https://github.example/acme/shop/issues/1"]
    assert "not recorded in the state store" in result.stdout
    assert result.stderr.startswith(f"Error: the state store {state / 'state.db'} stayed busy (another triage command is"
                                    " writing to it): issue #1 was created on GitHub but not recorded; run this command"
                                    " again once that one is done")
    assert "damaged" not in result.stderr and len(result.stderr.splitlines()) == 1
    monkeypatch.setattr(sqlite3, "connect", real_connect)
    again = run("--all")
    assert again.exit_code == 0, again.stderr
    assert len(fake.issues) == 2 and only_issue(fake, DB).number == 1


@pytest.mark.parametrize("url", ["http://127.0.0.1:notaport/api/v3", "http://[::1/api/v3"])
def test_a_broken_github_api_url_is_a_usage_error_not_a_bug(run, state, monkeypatch, url):
    record(state, cluster(DB, T0, 3))
    monkeypatch.setenv("GITHUB_API_URL", url)
    result = run("--all")
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"Error: the GitHub API URL {url!r} is not a valid URL (")
    assert result.stderr.endswith("): check GITHUB_API_URL\n") and len(result.stderr.splitlines()) == 1


def test_a_reopening_with_triages_title_swaps_the_priority_label(run, fake, state):
    """Filed at P2 (ERROR, no rule), back at CRITICAL (P1): the title says P1, so does the label; a title a person
    chose keeps its labels as they are."""
    worker = cluster(WORKER, T0, 2, rule=None, title="Worker exited with code 3")
    other = cluster(DB, T0, 2, rule=None, title="Pool gone")
    record(state, worker, other)
    assert run("--all").exit_code == 0
    issue, chosen = only_issue(fake, WORKER), only_issue(fake, DB)
    assert issue.labels == ["triage", "P2"]
    issue.labels.append("team-payments")
    chosen.title = "Pool gone: pgbouncer (person's title)"
    for closed in (issue, chosen):
        closed.state, closed.closed_at, closed.state_reason = "closed", "2025-06-01T13:00:00Z", "completed"
    later = [replace(c, severity=Severity.CRITICAL) for c in (
        cluster(WORKER, T0 + timedelta(hours=3), 2, rule=None, title="Worker exited with code 3"),
        cluster(DB, T0 + timedelta(hours=3), 2, rule=None, title="Pool gone"))]
    record(state, *later)
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    assert (issue.state, issue.title) == ("open", "GCP-regression | P1 | Worker exited with code 3")
    assert issue.labels == ["triage", "team-payments", "regression", "P1"]
    assert (chosen.state, chosen.labels) == ("open", ["triage", "P2", "regression"])


@pytest.mark.parametrize(("labels", "severity", "title", "after"), [
    # escalated by label alone: stays P0, with no P2 beside it
    (["triage", "P0"], Severity.ERROR, "GCP-regression | P2 | Worker exited with code 3", ["triage", "P0", "regression"]),
    # P0 added beside triage's P2, back at P1: triage's P2 goes, the person's P0 stands
    (["triage", "P2", "P0", "team-payments"], Severity.CRITICAL, "GCP-regression | P1 | Worker exited with code 3",
     ["triage", "P0", "team-payments", "regression"]),
    # triage's label taken off, none set: triage's title's priority is labelled again
    (["triage"], Severity.CRITICAL, "GCP-regression | P1 | Worker exited with code 3", ["triage", "regression", "P1"]),
])
def test_a_reopening_keeps_a_priority_label_a_person_set(run, fake, state, labels, severity, title, after):
    """Only the priority label triage put there (the one its title names) gives way to the title's new priority."""
    record(state, cluster(WORKER, T0, 2, rule=None, title="Worker exited with code 3"))
    assert run("--all").exit_code == 0
    issue = only_issue(fake, WORKER)
    assert (issue.title, issue.labels) == ("GCP-new | P2 | Worker exited with code 3", ["triage", "P2"])
    issue.labels = list(labels)
    issue.state, issue.closed_at, issue.state_reason = "closed", "2025-06-01T13:00:00Z", "completed"
    record(state, replace(cluster(WORKER, T0 + timedelta(hours=3), 2, rule=None, title="Worker exited with code 3"),
                          severity=severity))
    result = run("--all")
    assert result.exit_code == 0, result.stderr
    assert (issue.state, issue.title, issue.labels) == ("open", title, after)
