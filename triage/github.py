"""GitHub issues behind a small :class:`IssueTracker` interface, with PyGithub as the implementation.

Never a duplicate: writes (POST, PATCH) are never retried automatically, since GitHub may have performed
a request it answered with 502; existing issues are found by listing the tool's label in every state (and the
newest issues whatever their labels) and matching the hidden marker's fingerprint exactly (issue search lags and
may skip HTML comments).
Rate limits are waited out up to a cap; every other failure becomes one :class:`GitHubError` line that
never contains the token.
"""

from __future__ import annotations

import itertools
import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Iterable, TypeVar
from urllib.parse import urlsplit

import requests
from github import Auth, Github, GithubException, UnknownObjectException
from github.Issue import Issue
from github.Repository import Repository
from github.Requester import Requester
from urllib3.util.retry import Retry

from .drafts import MAX_BODY, marker_symptoms
from .errors import TriageError
from .redact import redact

DEFAULT_API_URL = "https://api.github.com"
TOOL_LABEL = "triage"
SECONDARY_RATE_LIMIT_WAIT_S = 60.0  # GitHub's advice when a rate limit answer names no time
NEWEST_LOOKED_AT = 100  # newest issues looked at whatever their labels (one page)

T = TypeVar("T")


class GitHubError(TriageError):
    """GitHub refused or failed a request (exit 2)."""


class IssueLocked(GitHubError):
    """GitHub refused a comment: the issue is locked (a token without push access may not comment on it)."""


@dataclass(frozen=True, slots=True)
class TrackedIssue:
    """An issue of the tool's label, as listed."""

    number: int
    url: str  # the html_url people open
    state: str  # open | closed
    title: str
    body: str
    labels: tuple[str, ...]
    closed_at: datetime | None
    state_reason: str | None = None  # how it was closed: completed | not_planned | duplicate (None: unknown)


@dataclass(frozen=True, slots=True)
class IssueLink:
    """The issue number recorded for a fingerprint, with the repository it was filed in: GitHub's numeric id of the
    repository and the API's host (None in records written before triage kept them)."""

    number: int
    repo_id: int | None = None
    api_host: str | None = None


class IssueTracker(ABC):
    """Where issues are filed; all methods raise :class:`GitHubError` on failure."""

    @abstractmethod
    def find_by_fingerprint(self, fingerprint: str) -> TrackedIssue | None: ...

    @abstractmethod
    def find_by_number(self, link: IssueLink, fingerprint: str) -> TrackedIssue | None:
        """The issue ``link`` recorded as filed for ``fingerprint``; None when it is gone, or when it was recorded in
        another repository (or through another GitHub host) than the one now opened."""

    @abstractmethod
    def find_tracking(self, fingerprint: str) -> TrackedIssue | None:
        """The issue of an incident's root cause that lists ``fingerprint`` among its symptoms."""

    @abstractmethod
    def create(self, title: str, body: str, labels: Iterable[str]) -> TrackedIssue: ...

    @abstractmethod
    def comment(self, number: int, body: str) -> None: ...

    @abstractmethod
    def comments(self, number: int, since: datetime | None) -> list[str]:
        """The text of the issue's comments last updated at or after ``since`` (all of them when None)."""

    @abstractmethod
    def update(self, number: int, title: str, body: str) -> None: ...

    @abstractmethod
    def reopen(self, number: int, title: str, body: str, labels: Iterable[str], drop: Iterable[str] = ()) -> None:
        """Reopen the issue, retitle it, replace its body, remove the labels ``drop`` and add ``labels``, all in one
        request."""


@dataclass(frozen=True, slots=True)
class Pacing:
    """Spacing and waiting between requests; tests inject a recording ``sleep`` and zero intervals."""

    request_interval_s: float = 0.25  # PyGithub's defaults, GitHub's advice for writes
    write_interval_s: float = 1.0
    retry_backoff_s: float = 0.5  # urllib3 backoff factor for retried GETs and connection failures
    rate_limit_cap_s: float = 60.0  # total wait for rate limits before giving up
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time


DEFAULT_PACING = Pacing()


class _WriteSafeRetry(Retry):
    """urllib3's Retry, except that a request other than GET or HEAD is never sent again once it may have reached
    the server: urllib3 retries its "other" errors (an SSL error or a broken TLS record while reading the answer,
    say) for every method, which would re-send a POST that GitHub performed. Only a failure to connect (the request
    never left) is retried for a write."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if error is not None and method is not None and not self._is_method_retryable(method) \
                and not self._is_connection_error(error):
            raise error.with_traceback(_stacktrace)
        return super().increment(method, url, response, error, _pool, _stacktrace)


def no_write_retry(backoff_s: float) -> Retry:
    """Retry connection failures and GET 5xx briefly; never re-send a POST or PATCH that may have reached GitHub."""
    return _WriteSafeRetry(
        total=3,
        backoff_factor=backoff_s,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
        respect_retry_after_header=False,
    )


class GitHubTracker(IssueTracker):
    """Issues of one repository carrying ``label``, through PyGithub."""

    def __init__(
        self,
        repo: str,
        token: str,
        *,
        base_url: str = DEFAULT_API_URL,
        label: str = TOOL_LABEL,
        pacing: Pacing = DEFAULT_PACING,
        markers_of: Callable[[str], list[dict]],
        notice: Callable[[str], None] = lambda message: None,
    ):
        self.repo_name = repo
        self.label = label
        self._token = token
        self._base_url = base_url.rstrip("/")
        self._pacing = pacing
        self._markers_of = markers_of
        self._notice = notice
        self._rate_limit_waited = 0.0  # over the tracker's life: the cap bounds a whole run, not each request
        try:
            parts = urlsplit(self._base_url)
            parts.port  # noqa: B018 (raises ValueError for a port that is no number, or out of range)
        except ValueError as err:  # a port that is no number, unbalanced IPv6 brackets
            raise self._error(
                f"the GitHub API URL {self._base_url!r} is not a valid URL ({err}): check GITHUB_API_URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self._error(f"the GitHub API URL {self._base_url!r} is not an http(s) URL (check GITHUB_API_URL)")
        self.api_host = _api_host(parts.scheme, parts.hostname, parts.port)  # recorded with each issue link
        try:
            self._client = Github(
                base_url=self._base_url,
                auth=Auth.Token(token),
                retry=no_write_retry(pacing.retry_backoff_s),
                per_page=100,
                seconds_between_requests=pacing.request_interval_s,
                seconds_between_writes=pacing.write_interval_s,
            )
        except (ValueError, AssertionError) as err:
            raise self._error(f"the GitHub API URL {self._base_url!r} is not usable ({err}): check GITHUB_API_URL") from None
        self._repo = self._call(lambda: self._client.get_repo(repo), f"open repository {repo}")
        full_name = self._repo.raw_data.get("full_name")
        if not isinstance(full_name, str):  # PyGithub takes any answer for the repository
            raise self._error(
                f"{self._base_url} answered with something other than GitHub's API (a sign-in or proxy page?): check"
                " GITHUB_API_URL"
            )
        self.repo_name = full_name  # as GitHub spells it (--repo may be written in another case)
        repo_id = self._repo.raw_data.get("id")
        # which repository it is, whatever its name (recorded with each issue link; see find_by_number)
        self.repo_id: int | None = repo_id if isinstance(repo_id, int) and not isinstance(repo_id, bool) else None
        self._issues: dict[int, Issue] | None = None
        self._by_fingerprint: dict[str, int] = {}
        self._by_symptom: dict[str, int] = {}  # clusters an incident's root-cause issue tracks besides its own

    def __repr__(self) -> str:
        return f"GitHubTracker(repo={self.repo_name!r}, base_url={redact(_without_userinfo(self._base_url))!r})"

    def close(self) -> None:
        self._client.close()

    # IssueTracker --------------------------------------------------------------------------------

    def find_by_fingerprint(self, fingerprint: str) -> TrackedIssue | None:
        issues = self._load()
        number = self._by_fingerprint.get(fingerprint)
        return _tracked(issues[number]) if number is not None else None

    def find_tracking(self, fingerprint: str) -> TrackedIssue | None:
        issues = self._load()
        number = self._by_symptom.get(fingerprint)
        return _tracked(issues[number]) if number is not None else None

    def find_by_number(self, link: IssueLink, fingerprint: str) -> TrackedIssue | None:
        """The issue ``link`` recorded as filed for ``fingerprint``, whatever it now holds: a person may have taken
        it over (rewritten its body, swapped the label for their own), or merged another issue into it. None when it
        is gone, or when the record names another repository than the one now opened (its numeric id, or the API
        host, differs: a repository deleted or renamed and its name taken by another, or another GitHub host), where
        the number names someone else's issue, which triage must not write to. A record without them (written by an
        older triage) is trusted."""
        number = link.number
        other_repo = link.repo_id is not None and self.repo_id is not None and link.repo_id != self.repo_id
        other_host = link.api_host is not None and link.api_host != self.api_host
        if other_repo or other_host:
            was = f"the GitHub API at {link.api_host}" if other_host else f"repository id {link.repo_id}"
            now = f"reached at {self.api_host}" if other_host else f"repository id {self.repo_id}"
            why = "another GitHub host" if other_host else "a reused repository name?"
            self._notice(
                f"issue #{number}, recorded for {fingerprint[:12]}, was filed in {was}, but {self.repo_name} is"
                f" {now}: taking the record as stale ({why}) and looking for its issue as for an unlinked failure"
            )
            return None
        issue = self._call(lambda: _issue_or_none(self._repo, number), f"read issue #{number}")
        if issue is None or "/pull/" in issue.html_url:
            return None
        self._remember(issue)
        return _tracked(issue)

    def create(self, title: str, body: str, labels: Iterable[str]) -> TrackedIssue:
        _check_body(body)
        names = list(dict.fromkeys([self.label, *labels]))
        issue = self._call(
            lambda: self._repo.create_issue(title=title, body=body, labels=names),
            "create an issue",
            maybe_done=_MAYBE_CREATED,
        )
        self._check_answer(issue, "number", "create an issue", _MAYBE_CREATED)
        self._remember(issue)
        tracked = _tracked(issue)
        if self.label.lower() not in {name.lower() for name in tracked.labels}:  # dropped without push access
            self._notice(
                f"GitHub created {tracked.url} without its {self.label!r} label (the token needs push access to label"
                " issues): later runs find it through the state store; add the label by hand so that a run without"
                " that store finds it too"
            )
        return tracked

    def comment(self, number: int, body: str) -> None:
        _check_body(body)
        issue = self._issue(number)
        made = self._call(lambda: issue.create_comment(body), f"comment on issue #{number}", maybe_done=_MAYBE_POSTED)
        self._check_answer(made, "id", f"comment on issue #{number}", _MAYBE_POSTED)

    def comments(self, number: int, since: datetime | None) -> list[str]:
        issue = self._issue(number)
        return self._call(
            lambda: [comment.body or "" for comment in (
                issue.get_comments() if since is None else issue.get_comments(since=since.astimezone(timezone.utc)))],
            f"read the comments of issue #{number}",
        )

    def update(self, number: int, title: str, body: str) -> None:
        _check_body(body)
        issue = self._issue(number)
        self._call(lambda: issue.edit(title=title, body=body), f"update issue #{number}")

    def reopen(self, number: int, title: str, body: str, labels: Iterable[str], drop: Iterable[str] = ()) -> None:
        _check_body(body)
        issue = self._issue(number)
        dropped = {name.lower() for name in drop}
        kept = [label.name for label in issue.labels if label.name.lower() not in dropped]
        names = list(dict.fromkeys([*kept, *labels]))
        self._call(lambda: issue.edit(state="open", title=title, body=body, labels=names), f"reopen issue #{number}")

    # internals -----------------------------------------------------------------------------------

    def _load(self) -> dict[int, Issue]:
        """The issues of the tool's label, and the newest issues whatever their labels: GitHub drops the labels of an
        issue created with a token that lacks push access, and a create answered with a 5xx never told its number."""
        if self._issues is None:
            listing = self._call(
                lambda: list(self._repo.get_issues(state="all", labels=[self.label])),
                f"list issues labelled {self.label!r}",
            )
            newest = self._call(
                lambda: list(itertools.islice(self._repo.get_issues(state="all", sort="created", direction="desc"),
                                              NEWEST_LOOKED_AT)),
                "list the newest issues",
            )
            self._issues = {}
            unique = {issue.number: issue for issue in [*listing, *newest]}
            for number in sorted(unique):  # oldest first: among equals the oldest stands for a fingerprint
                if "/pull/" not in unique[number].html_url:  # the issues listing includes pull requests
                    self._remember(unique[number])
        return self._issues

    def _remember(self, issue: Issue) -> None:
        issues = self._load() if self._issues is None else self._issues
        issues[issue.number] = issue
        found = self._markers_of(issue.body or "")  # several when a person merged issues into this one
        own = [data["fingerprint"] for data in found]
        listed = [fp for data in found for fp in marker_symptoms(data)]
        for fingerprint, by in [(fp, self._by_fingerprint) for fp in own] + [(fp, self._by_symptom) for fp in listed]:
            known = by.get(fingerprint)
            if known is None or self._standing(issue) < self._standing(issues[known]):
                by[fingerprint] = issue.number

    def _standing(self, issue: Issue) -> tuple[int, int, int]:
        """Which of the issues carrying one fingerprint stands for it (smallest first): an open one, else one closed
        as done, else one closed as a duplicate or not planned; among equals the one holding the most markers (the
        issue others were merged into), then the oldest."""
        if issue.state == "open":
            rank = 0
        else:
            rank = 2 if issue.state_reason in ("duplicate", "not_planned") else 1
        return rank, -len(self._markers_of(issue.body or "")), issue.number

    def _issue(self, number: int) -> Issue:
        issues = self._load()
        if number not in issues:
            raise GitHubError(f"issue #{number} of {self.repo_name} is not a {self.label!r} issue")
        return issues[number]

    def _call(self, request: Callable[[], T], action: str, *, maybe_done: str = "") -> T:
        """Run one PyGithub request, waiting out rate limits while the tracker's total wait stays within the cap;
        map failures to GitHubError (a write that may have been performed anyway says ``maybe_done``)."""
        while True:
            try:
                return request()
            except GithubException as err:
                wait = _rate_limit_wait(err, self._pacing.clock())
                if wait is None:
                    error = self._error(_describe(err, action, self.repo_name, maybe_done))
                    if err.status == 403 and "locked" in _message(err).lower():
                        raise IssueLocked(str(error)) from None
                    raise error from None
                waited = self._rate_limit_waited
                if waited + wait > self._pacing.rate_limit_cap_s:
                    after = f" after {waited:.0f} s of waiting on rate limits already," if waited else ""
                    raise self._error(
                        f"GitHub rate limit reached while trying to {action}: it asks to wait {wait:.0f} s,{after}"
                        f" beyond the {self._pacing.rate_limit_cap_s:.0f} s cap; try again later"
                    ) from None
                self._notice(f"GitHub rate limit: waiting {wait:.0f} s before trying to {action} again")
                self._pacing.sleep(wait)
                self._rate_limit_waited += wait
            except requests.RequestException as err:
                message = f"no answer from GitHub at {self._base_url} while trying to {action} ({type(err).__name__})"
                message += maybe_done
                raise self._error(message) from None
            except RuntimeError as err:  # PyGithub refuses a redirect to another scheme or host (http:// for https)
                if "redirected" not in str(err):
                    raise
                reason = str(err).split(", please")[0].split(", you may")[0].replace("Github", "GitHub")
                raise self._error(
                    f"{self._base_url} redirected the request to {action} ({reason}): correct GITHUB_API_URL") from None
            except AssertionError as err:  # PyGithub refuses a URL in an answer outside the API URL's host and port
                raise self._error(
                    f"{self._base_url} answered the request to {action} with a URL outside it ({err}): check"
                    " GITHUB_API_URL (its host, port and path as GitHub itself names them)") from None
            except (ValueError, TypeError) as err:  # an answer that is no JSON (cut), or not of the shape asked for
                message = (
                    f"{self._base_url} answered the request to {action} with something other than GitHub's API"
                    f" ({type(err).__name__}; a sign-in or proxy page, or a cut answer?): check GITHUB_API_URL"
                )
                raise self._error(message + maybe_done) from None

    def _check_answer(self, made: object, key: str, action: str, maybe_done: str) -> None:
        """A one-line error when the answer to a write is not GitHub's (PyGithub takes a sign-in or proxy page for one:
        the write may or may not have been done)."""
        data = getattr(made, "raw_data", None)
        if not isinstance(data, dict) or not isinstance(data.get(key), int):
            raise self._error(
                f"{self._base_url} answered the request to {action} with something other than GitHub's API (a sign-in"
                f" or proxy page?): check GITHUB_API_URL{maybe_done}"
            )

    def _error(self, message: str) -> GitHubError:
        """One line without the token, nor the ``user[:password]@`` of a URL in it (GITHUB_API_URL=https://user:pass@…
        or https://TOKEN@…: the whole part goes)."""
        message = _without_userinfo(message)
        return GitHubError(redact(message.replace(self._token, "***") if self._token else message))


_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s]*@")  # up to the last "@" before the path


def _without_userinfo(text: str) -> str:
    """``text`` with the ``user[:password]@`` part of each URL in it removed."""
    return _URL_USERINFO.sub(r"\1", text)


_MAYBE_CREATED = "; GitHub may have created it anyway: run the command again, it finds the issue instead of filing a duplicate"
_MAYBE_POSTED = "; GitHub may have posted it anyway: run the command again, it finds the comment instead of posting it twice"


def _api_host(scheme: str, hostname: str, port: int | None) -> str:
    """``host`` or ``host:port`` (a port other than the scheme's own), in lower case: which GitHub the API URL names."""
    host = f"[{hostname}]" if ":" in hostname else hostname
    return host if port in (None, {"http": 80, "https": 443}[scheme]) else f"{host}:{port}"


def _rate_limit_wait(err: GithubException, now: float) -> float | None:
    """Seconds GitHub asks to wait before retrying, or None when ``err`` is no rate limit."""
    headers = {k.lower(): v for k, v in (err.headers or {}).items()}
    message = _message(err)
    limited = err.status == 429 or (
        err.status == 403
        and ("retry-after" in headers or headers.get("x-ratelimit-remaining") == "0" or Requester.isRateLimitError(message))
    )
    if not limited:
        return None
    retry_after = headers.get("retry-after", "")
    if retry_after.strip().isdigit():
        return max(float(retry_after), 1.0)  # "0" would retry at once, for ever
    reset = headers.get("x-ratelimit-reset", "")
    if headers.get("x-ratelimit-remaining") == "0" and reset.strip().isdigit():
        return max(float(reset) - now, 0.0) + 1.0
    return SECONDARY_RATE_LIMIT_WAIT_S


def _describe(err: GithubException, action: str, repo: str, maybe_done: str) -> str:
    message = _message(err)
    if err.status == 401:
        return "GitHub rejected the token (401 Bad credentials): check GH_TOKEN or GITHUB_TOKEN"
    if err.status == 403 and any(word in message.lower() for word in ("locked", "archived")):
        return f"GitHub denied the request to {action} (403 {message})"  # the issue or repository, not the token
    if err.status == 403:
        return f"GitHub denied the request to {action} (403 {message or 'Forbidden'}): the token needs Issues read and write access to {repo}"
    if err.status == 404 and action.startswith("open repository"):
        return f"repository {repo} not found (404), or the token cannot see it"
    text = f"GitHub answered {err.status} while trying to {action}" + (f": {message}" if message else "")
    if err.status >= 500:
        text += maybe_done
    return text


def _message(err: GithubException) -> str:
    data = err.data
    return str(data.get("message") or "") if isinstance(data, dict) else ""


def _issue_or_none(repo: Repository, number: int) -> Issue | None:
    """Issue ``number``; None when there is none (404) or it was deleted (410 Gone)."""
    try:
        return repo.get_issue(number)
    except UnknownObjectException:
        return None
    except GithubException as err:
        if err.status == 410:
            return None
        raise


def _check_body(body: str) -> None:
    """Refuse a body GitHub would reject (422) before sending it."""
    if len(body) >= MAX_BODY:
        raise GitHubError(f"an issue body or comment of {len(body)} characters exceeds GitHub's limit of {MAX_BODY}")


def _tracked(issue: Issue) -> TrackedIssue:
    closed_at = issue.closed_at
    if closed_at is not None and closed_at.tzinfo is None:
        closed_at = closed_at.replace(tzinfo=timezone.utc)
    return TrackedIssue(
        number=issue.number,
        url=issue.html_url,
        state=issue.state,
        title=issue.title,
        body=issue.body or "",
        labels=tuple(label.name for label in issue.labels),
        closed_at=closed_at,
        state_reason=issue.state_reason if issue.state == "closed" else None,
    )
