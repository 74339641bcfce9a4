"""The PyGithub adapter against the loopback fake: finding by marker, writes, retries, rate limits, errors."""

from __future__ import annotations

import http.server
import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from conftest import serving
from fake_github import FakeGitHub
from triage.github import GitHubError, GitHubTracker, IssueLink, Pacing, no_write_retry

TOKEN = "ghp_adapterSECRET0123456789"


def markers_of(body: str) -> list[dict]:
    return [json.loads(found) for found in re.findall(r"<!-- triage:(\{.*?\}) -->", body)]


def body_for(fingerprint: str) -> str:
    return f"evidence\n<!-- triage:{json.dumps({'fingerprint': fingerprint})} -->\n"


@pytest.fixture
def fake():
    with FakeGitHub(token=TOKEN) as server:
        yield server


def tracker(fake: FakeGitHub, slept: list | None = None, cap: float = 60.0, clock=lambda: 1_000.0) -> GitHubTracker:
    sleep = (slept.append if slept is not None else _no_sleep)
    pacing = Pacing(request_interval_s=0, write_interval_s=0, retry_backoff_s=0, rate_limit_cap_s=cap, sleep=sleep, clock=clock)
    return GitHubTracker("acme/shop", TOKEN, base_url=fake.url, pacing=pacing, markers_of=markers_of)


def _opening_error(url: str) -> GitHubError:
    """The one-line error of opening acme/shop through the GitHub API at ``url``."""
    pacing = Pacing(request_interval_s=0, write_interval_s=0, retry_backoff_s=0, sleep=_no_sleep)
    with pytest.raises(GitHubError) as caught:
        GitHubTracker("acme/shop", TOKEN, base_url=url, pacing=pacing, markers_of=markers_of)
    return caught.value


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected sleep of {seconds} s")


def test_finds_issue_by_exact_fingerprint_across_pages_and_states(fake):
    fake.max_per_page = 2
    fake.add_issue("prefix clash", body_for("abc123ff"))
    fake.add_issue("a pull request", body_for("abc123"), pull_request=True)
    fake.add_issue("closed one", body_for("abc123"), state="closed", closed_at="2025-05-01T10:00:00Z")
    fake.add_issue("unlabelled", body_for("abc1234"), labels=())
    fake.add_issue("no marker", "just text")
    found = tracker(fake).find_by_fingerprint("abc123")
    assert (found.number, found.state, found.title) == (3, "closed", "closed one")
    assert found.closed_at.isoformat() == "2025-05-01T10:00:00+00:00"
    # four labelled issues and the five newest, two per page
    assert fake.requests.count(("GET", "/repos/acme/shop/issues")) == 2 + 3


def test_an_issue_created_without_the_label_is_found_among_the_newest(fake):
    """A token without push access: GitHub drops the labels; a 502 on the create: its number was never learnt."""
    fake.add_issue("labelled, closed", body_for("fp1"), state="closed", closed_at="2025-05-01T10:00:00Z")
    fake.add_issue("filed without its label", body_for("fp1"), labels=())
    assert tracker(fake).find_by_fingerprint("fp1").number == 2


def test_open_issue_wins_over_closed_duplicate(fake):
    fake.add_issue("old", body_for("fp1"), state="closed", closed_at="2025-01-01T00:00:00Z")
    fake.add_issue("current", body_for("fp1"))
    assert tracker(fake).find_by_fingerprint("fp1").number == 2


def test_create_comment_reopen_label_update(fake):
    t = tracker(fake)
    closed = fake.add_issue("closed", body_for("fp0"), state="closed", closed_at="2025-01-01T00:00:00Z")
    created = t.create("Title", body_for("fp1"), ["P1", "triage", "db"])
    assert (created.number, created.url) == (2, "https://github.example/acme/shop/issues/2")
    assert fake.issues[2].labels == ["triage", "P1", "db"]
    assert t.find_by_fingerprint("fp1").number == 2  # known without listing again
    t.comment(2, "new events")
    t.update(2, "renamed", body_for("fp1") + "refreshed")
    assert (fake.issues[2].title, fake.issues[2].body.endswith("refreshed")) == ("renamed", True)
    patches = len([r for r in fake.requests if r[0] == "PATCH"])
    t.reopen(closed.number, "new title", body_for("fp0") + "more", ["regression"])
    assert len([r for r in fake.requests if r[0] == "PATCH"]) == patches + 1  # one request: never half reopened
    assert fake.issues[2].comments == ["new events"]
    assert (closed.state, closed.labels, closed.title, closed.body.endswith("more")) == ("open", ["triage", "regression"], "new title", True)
    assert fake.requests.count(("GET", "/repos/acme/shop/issues")) == 2  # listed once: labelled, and the newest


def test_post_is_not_retried_after_502_but_get_is(fake):
    fake.fail("GET", r"/issues$", 502)
    fake.fail("POST", r"/issues$", 502, after=True)
    t = tracker(fake)
    assert t.find_by_fingerprint("fp1") is None
    with pytest.raises(GitHubError, match="502 while trying to create an issue.*run the command again"):
        t.create("Title", body_for("fp1"), [])
    assert fake.writes == [("POST", "/repos/acme/shop/issues")]
    assert len(fake.issues) == 1  # GitHub did create it
    assert tracker(fake).find_by_fingerprint("fp1").number == 1


def test_retry_policy_excludes_writes():
    retry = no_write_retry(0.5)
    assert not retry.is_retry("POST", 502) and not retry.is_retry("PATCH", 502)
    assert retry.is_retry("GET", 502)


def test_retry_policy_never_resends_a_write_after_an_error_that_is_not_a_connect_failure():
    """urllib3 files an SSL error while reading the answer under "other", which it retries for every method."""
    from urllib3.exceptions import NewConnectionError, ProtocolError, SSLError

    retry = no_write_retry(0)
    for method in ("POST", "PATCH"):
        for error in (SSLError("bad record mac"), ProtocolError("Connection aborted.")):
            with pytest.raises(type(error)):
                retry.increment(method, "/repos/acme/shop/issues", error=error)
    assert retry.increment("GET", "/repos/acme/shop/issues", error=SSLError("bad record mac")).total == 2
    refused = NewConnectionError(None, "Connection refused")  # never sent: safe to try again
    assert retry.increment("POST", "/repos/acme/shop/issues", error=refused).total == 2


def test_a_post_whose_answer_breaks_at_the_tls_layer_is_not_sent_again(fake, monkeypatch):
    """GitHub performed the create, then the TLS stream broke (a flaky proxy): one POST, one issue, one line."""
    import ssl

    import urllib3.connection

    real = urllib3.connection.HTTPConnection.getresponse
    broken = []

    def getresponse(self):
        response = real(self)  # the fake has performed the request
        if self._method == "POST" and not broken:
            broken.append(True)
            raise ssl.SSLError(1, "[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC] decryption failed or bad record mac")
        return response

    monkeypatch.setattr(urllib3.connection.HTTPConnection, "getresponse", getresponse)
    t = tracker(fake)
    with pytest.raises(GitHubError) as caught:
        t.create("Title", body_for("fp1"), [])
    assert fake.writes == [("POST", "/repos/acme/shop/issues")]
    assert len(fake.issues) == 1
    assert str(caught.value).startswith("no answer from GitHub at ") and "(SSLError)" in str(caught.value)
    assert "run the command again" in str(caught.value) and TOKEN not in str(caught.value)
    assert tracker(fake).find_by_fingerprint("fp1").number == 1


def test_waits_retry_after_then_succeeds(fake):
    slept = []
    fake.fail("POST", r"/issues$", 429, headers={"Retry-After": "7"}, message="You have exceeded a secondary rate limit")
    fake.fail("POST", r"/issues$", 403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1020"}, message="API rate limit exceeded")
    t = tracker(fake, slept)
    t.create("Title", body_for("fp1"), [])
    assert slept == [7.0, 21.0]  # reset 20 s after the clock, plus one
    assert len(fake.issues) == 1


def test_stops_when_the_wait_exceeds_the_cap(fake):
    slept = []
    fake.fail("GET", r"/issues$", 429, headers={"Retry-After": "40"}, times=2)
    with pytest.raises(GitHubError, match=r"rate limit .* wait 40 s, after 40 s of waiting on rate limits already, beyond the 60 s cap; try again later"):
        tracker(fake, slept).find_by_fingerprint("fp1")
    assert slept == [40.0]


def test_the_cap_bounds_the_waits_of_a_whole_run_not_each_request(fake):
    slept = []
    t = tracker(fake, slept)
    fake.fail("POST", r"/issues$", 429, headers={"Retry-After": "35"})
    t.create("First", body_for("fp1"), [])
    fake.fail("POST", r"/issues$", 429, headers={"Retry-After": "35"})
    with pytest.raises(GitHubError, match=r"wait 35 s, after 35 s of waiting on rate limits already, beyond the 60 s cap"):
        t.create("Second", body_for("fp2"), [])
    assert slept == [35.0]
    assert [issue.title for issue in fake.issues.values()] == ["First"]


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (401, "Bad credentials", "GitHub rejected the token (401 Bad credentials): check GH_TOKEN or GITHUB_TOKEN"),
        (403, "Resource not accessible by integration", "GitHub denied the request to open repository acme/shop (403 Resource not accessible by integration): the token needs Issues read and write access to acme/shop"),
        (404, "Not Found", "repository acme/shop not found (404), or the token cannot see it"),
        (403, "Repository was archived so is read-only.",
         "GitHub denied the request to open repository acme/shop (403 Repository was archived so is read-only.)"),
    ],
)
def test_errors_become_one_line(fake, status, message, expected):
    fake.fail("GET", r"^/repos/acme/shop$", status, message=message)
    with pytest.raises(GitHubError) as caught:
        tracker(fake)
    assert str(caught.value) == expected
    assert TOKEN not in repr(caught.value)


def test_wrong_token_is_rejected(fake):
    fake.token = "another"
    with pytest.raises(GitHubError, match="401 Bad credentials"):
        tracker(fake)


def test_unreachable_server_is_one_line():
    with FakeGitHub() as gone:
        url = gone.url
    assert re.match(r"no answer from GitHub at http://127\.0\.0\.1:\d+/api/v3 while trying to open repository",
                    str(_opening_error(url)))


def test_repr_hides_the_token(fake):
    assert TOKEN not in repr(tracker(fake))


def test_a_body_over_the_limit_is_refused_before_sending(fake):
    t = tracker(fake)
    issue = t.create("Title", body_for("fp1"), [])
    with pytest.raises(GitHubError, match="exceeds GitHub's limit of 65536"):
        t.comment(issue.number, "x" * 65_536)
    assert fake.issues[issue.number].comments == []


def test_an_issue_created_without_the_label_is_kept_and_said(fake):
    """Without push access GitHub drops the labels: the issue is returned (so it is linked and found by its
    number later) and a note says so."""
    fake.drop_labels = True
    notes: list[str] = []
    t = tracker(fake)
    t._notice = notes.append
    created = t.create("Title", body_for("fp1"), ["P1"])
    assert created.number == 1 and len(fake.issues) == 1
    assert notes == ["GitHub created https://github.example/acme/shop/issues/1 without its 'triage' label (the token needs"
                     " push access to label issues): later runs find it through the state store; add the label by hand"
                     " so that a run without that store finds it too"]


def test_a_locked_issue_is_said_to_be_locked_not_blamed_on_the_token(fake):
    fake.add_issue("locked", body_for("fp1"))
    fake.fail("POST", r"/issues/1/comments$", 403, message="Unable to create comment because issue is locked.")
    with pytest.raises(GitHubError) as caught:
        tracker(fake).comment(1, "new events")
    assert str(caught.value) == (
        "GitHub denied the request to comment on issue #1 (403 Unable to create comment because issue is locked.)")


def test_comments_since_a_time_are_read_in_utc_and_a_failure_is_one_line(fake):
    fake.add_issue("recurring", body_for("fp1"))
    fake.add_comment(1, "old", at="2025-06-01T11:00:00Z")
    fake.add_comment(1, "new", at="2025-06-01T12:00:00Z")
    t = tracker(fake)
    assert t.comments(1, None) == ["old", "new"]
    assert t.comments(1, datetime(2025, 6, 1, 13, 30, tzinfo=timezone(timedelta(hours=2)))) == ["new"]  # 11:30Z
    assert ("GET", "/repos/acme/shop/issues/1/comments") in fake.requests
    fake.fail("GET", r"/issues/1/comments$", 404, times=4)
    with pytest.raises(GitHubError, match=r"^GitHub answered 404 while trying to read the comments of issue #1: "):
        t.comments(1, None)


def test_a_comment_answered_502_may_have_been_posted(fake):
    fake.add_issue("recurring", body_for("fp1"))
    fake.fail("POST", r"/issues/1/comments$", 502, after=True)
    with pytest.raises(GitHubError) as caught:
        tracker(fake).comment(1, "new events")
    assert str(caught.value) == (
        "GitHub answered 502 while trying to comment on issue #1: Server Error; GitHub may have posted it anyway: run"
        " the command again, it finds the comment instead of posting it twice")
    assert fake.issues[1].comments == ["new events"]


def test_a_retry_after_of_zero_waits_a_second_instead_of_spinning(fake):
    slept = []
    fake.fail("POST", r"/issues$", 429, headers={"Retry-After": "0"}, times=3)
    tracker(fake, slept).create("Title", body_for("fp1"), [])
    assert slept == [1.0, 1.0, 1.0] and len(fake.issues) == 1


def test_a_deleted_issue_is_not_found_by_its_number(fake):
    fake.add_issue("gone", body_for("fp1"))
    fake.deleted.add(1)
    assert tracker(fake).find_by_number(IssueLink(1), "fp1") is None


def test_an_issue_is_found_by_its_recorded_number_whatever_a_person_made_of_it(fake):
    """A person took it over (rewrote the body, swapped the label for a team's), or merged another issue into it:
    recorded in this very repository, it is still the issue filed for the fingerprint; so is any issue recorded by
    an older triage, which kept no repository id."""
    fake.add_issue("taken over", "Root cause: pgbouncer pool size. Owner: @alice.", labels=("team-db", "P1"))
    fake.add_issue("merged, unlabelled", body_for("fp2") + body_for("fp1"), labels=())
    fake.add_issue("a pull request", "", labels=(), pull_request=True)
    notes: list[str] = []
    t = tracker(fake)
    t._notice = notes.append
    assert (t.repo_id, t.api_host) == (1, fake.url.split("/")[2])
    here = dict(repo_id=1, api_host=t.api_host)
    assert [getattr(t.find_by_number(IssueLink(n, **here), "fp1"), "number", None) for n in (1, 2, 3)] == [1, 2, None]
    assert t.find_by_number(IssueLink(1), "fp1").number == 1  # recorded before triage kept the repository's id
    assert t.find_by_number(IssueLink(1, repo_id=1), "fp1").number == 1
    assert notes == [] and fake.writes == []
    t.comment(1, "new events")  # found by its number, it can be written to
    assert fake.issues[1].comments == ["new events"]


def test_a_record_of_another_repository_or_host_is_stale_and_its_number_never_read(fake):
    """The name was deleted (or renamed) and taken by a new repository, or the record was made through another
    GitHub host: the recorded number names someone else's issue, whatever it holds."""
    fake.add_issue("Login page typo", body_for("fp1"), labels=("triage",))  # even one that looks like triage's
    notes: list[str] = []
    t = tracker(fake)
    t._notice = notes.append
    before = len(fake.requests)
    assert t.find_by_number(IssueLink(1, repo_id=7, api_host=t.api_host), "fp1") is None
    assert t.find_by_number(IssueLink(1, repo_id=1, api_host="ghe.example.com"), "fp1") is None
    assert t.find_by_number(IssueLink(1, api_host="ghe.example.com"), "fp1") is None
    assert len(fake.requests) == before  # not even read
    assert notes[0] == (
        "issue #1, recorded for fp1, was filed in repository id 7, but acme/shop is repository id 1: taking the"
        " record as stale (a reused repository name?) and looking for its issue as for an unlinked failure")
    assert notes[1] == (
        f"issue #1, recorded for fp1, was filed in the GitHub API at ghe.example.com, but acme/shop is reached at"
        f" {t.api_host}: taking the record as stale (another GitHub host) and looking for its issue as for an"
        " unlinked failure")
    assert len(notes) == 3 and fake.writes == []


@pytest.mark.parametrize(("url", "host"), [
    ("https://API.GitHub.com", "api.github.com"),
    ("https://api.github.com:443/", "api.github.com"),
    ("https://ghe.example.com:8443/api/v3", "ghe.example.com:8443"),
    ("http://ghe.example.com:80/api/v3", "ghe.example.com"),
    ("http://[::1]:8080/api/v3", "[::1]:8080"),
])
def test_the_api_host_recorded_names_the_github_whatever_the_spelling(url, host):
    from urllib.parse import urlsplit

    from triage.github import _api_host

    parts = urlsplit(url)
    assert _api_host(parts.scheme, parts.hostname, parts.port) == host


def test_a_password_in_the_api_url_never_shows():
    with FakeGitHub() as gone:
        url = gone.url.replace("http://", "http://admin:hunter2pw@")
    error = _opening_error(url)
    assert "no answer from GitHub" in str(error) and "hunter2pw" not in str(error)


@pytest.mark.parametrize(("url", "shown"), [
    ("https://tok_ABCDEFGH12345678@127.0.0.1:x", "the GitHub API URL 'https://127.0.0.1:x' is not a valid URL ("),
    ("https://bob:p@ss:w0rdXYZ@127.0.0.1:x/api", "the GitHub API URL 'https://127.0.0.1:x/api' is not a valid URL ("),
    ("https://bob:Hunter2Secret@[::1/api/v3", "the GitHub API URL 'https://[::1/api/v3' is not a valid URL ("),
    ("ftp://tok_ABCDEFGH12345678@ghe.example.com/api/v3",
     "the GitHub API URL 'ftp://ghe.example.com/api/v3' is not an http(s) URL (check GITHUB_API_URL)"),
    ("GONE", "no answer from GitHub at http://127.0.0.1:"),
], ids=["token-alone", "at-in-password", "bad-ipv6", "not-http", "no-answer"])
def test_a_token_or_user_name_in_the_api_url_never_shows(url, shown):
    """Not only a password: a token used alone as the URL's user name (https://TOKEN@host) is a secret too, so the
    whole user[:password]@ part goes from every GITHUB_API_URL message."""
    if url == "GONE":
        with FakeGitHub() as gone:
            url = gone.url.replace("http://", "http://tok_ABCDEFGH12345678@")
    message = str(_opening_error(url))
    assert message.startswith(shown)
    for secret in ("tok_ABCDEFGH12345678", "bob", "w0rdXYZ", "Hunter2Secret", "@"):
        assert secret not in message


def test_an_api_url_that_answers_a_web_page_is_one_line():
    class SignIn(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server API)
            page = b"<html><body>Sign in to Acme SSO</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    with serving(SignIn) as url:
        error = _opening_error(url)
    assert str(error) == (
        f"{url} answered with something other than GitHub's API (a sign-in or proxy page?): check GITHUB_API_URL")


@pytest.mark.parametrize("listing", [b"<html><body>Sign in to Acme SSO</body></html>", b'[{"number": 1, "title"'])
def test_an_answer_that_is_no_api_json_after_the_repository_is_one_line(listing):
    # the repository answers as GitHub would; the issue listing is a sign-in page, or JSON cut short
    class HalfProxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server API)
            url = f"http://127.0.0.1:{self.server.server_address[1]}"
            page = json.dumps({"full_name": "acme/shop", "id": 1, "url": f"{url}/repos/acme/shop"}).encode()
            if "/issues" in self.path:
                page = listing
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    pacing = Pacing(request_interval_s=0, write_interval_s=0, retry_backoff_s=0, sleep=_no_sleep)
    with serving(HalfProxy) as url:
        github = GitHubTracker("acme/shop", TOKEN, base_url=url, pacing=pacing, markers_of=markers_of)
        with pytest.raises(GitHubError) as caught:
            github.find_by_fingerprint("fp-1")
    message = str(caught.value)
    assert message.startswith(f"{url} answered the request to ") and "\n" not in message
    assert "with something other than GitHub's API" in message and message.endswith("check GITHUB_API_URL")


@pytest.mark.parametrize("kind", ["create", "comment"])
def test_a_write_answered_with_something_other_than_the_api_is_one_line(fake, kind):
    github = tracker(fake)
    first = github.create("first", body_for("fp-1"), [])
    fake.fail("POST", r"/issues$" if kind == "create" else r"/comments$", 201, message="Sign in to Acme SSO")
    with pytest.raises(GitHubError) as caught:
        github.create("second", body_for("fp-2"), []) if kind == "create" else github.comment(first.number, "news")
    action, done = ("create an issue", "created") if kind == "create" else (f"comment on issue #{first.number}", "posted")
    assert str(caught.value).startswith(
        f"{fake.url} answered the request to {action} with something other than GitHub's API (a sign-in or proxy"
        f" page?): check GITHUB_API_URL; GitHub may have {done} it anyway: run the command again")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:notaport/api/v3", "Port could not be cast to integer value as 'notaport'"),
        ("http://127.0.0.1:99999/api/v3", "Port out of range 0-65535"),
        ("http://[::1/api/v3", "Invalid IPv6 URL"),
    ],
)
def test_an_api_url_that_is_no_url_is_one_line(url, reason):
    error = _opening_error(url)
    assert str(error) == f"the GitHub API URL {url!r} is not a valid URL ({reason}): check GITHUB_API_URL"


def test_an_http_api_url_redirected_to_https_is_one_line():
    """GitHub Enterprise answers http:// with a 301 to https://; PyGithub refuses to follow it."""
    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server API)
            self.send_response(301)
            self.send_header("Location", f"https://127.0.0.1:{self.server.server_address[1]}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    with serving(Redirect) as root:
        url = root + "/api/v3"
        error = _opening_error(url)
    assert str(error) == (f"{url} redirected the request to open repository acme/shop (GitHub server redirected"
                                 " from http protocol to https): correct GITHUB_API_URL")


def test_an_answer_naming_a_url_outside_the_api_url_is_one_line(fake, monkeypatch):
    """A proxy or a GITHUB_API_URL with another port than GitHub's own: the next page's link points elsewhere."""
    fake.max_per_page = 1
    fake.add_issue("one", body_for("fp1"))
    fake.add_issue("two", body_for("fp2"))
    real = fake._list

    def elsewhere(query):
        status, headers, payload = real(query)
        if "Link" in headers:
            headers["Link"] = headers["Link"].replace("/api/v3/", "/v3/")  # another path
        return status, headers, payload

    monkeypatch.setattr(fake, "_list", elsewhere)
    with pytest.raises(GitHubError) as caught:
        tracker(fake).find_by_fingerprint("fp1")
    assert str(caught.value).startswith(f"{fake.url} answered the request to list issues labelled 'triage' with a URL"
                                        " outside it (")
    assert str(caught.value).endswith("): check GITHUB_API_URL (its host, port and path as GitHub itself names them)")
