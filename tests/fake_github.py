"""A loopback fake of the few GitHub REST endpoints PyGithub calls to file issues.

Serves ``http://127.0.0.1:<port>/api/v3`` (a GitHub Enterprise-style base URL) from a thread:
``GET /repos/{o}/{r}``, ``GET /repos/{o}/{r}/issues`` (labels, state, per_page/page with a Link header),
``POST …/issues``, ``GET``/``PATCH …/issues/{n}`` (410 once deleted), ``POST …/issues/{n}/comments``,
``GET …/issues/{n}/comments`` (``since``, one page), ``POST …/issues/{n}/labels``.
Faults are scripted per request (status, headers, message), optionally *after* the write happened,
like GitHub answering 502 to a POST it did perform.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PREFIX = "/api/v3"


@dataclass
class Fault:
    method: str
    path: re.Pattern
    status: int
    headers: dict[str, str]
    message: str
    after: bool  # perform the request, then answer with the fault
    times: int
    skip: int  # matching requests let through first


@dataclass
class FakeIssue:
    number: int
    title: str
    body: str
    labels: list[str]
    state: str = "open"
    closed_at: str | None = None
    comments: list[str] = field(default_factory=list)
    commented_at: list[str] = field(default_factory=list)  # when each comment was posted (and last updated)
    pull_request: bool = False
    state_reason: str | None = None  # completed | not_planned | duplicate | reopened


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeGitHub:
    """GitHub for one repository and one accepted token; records every request."""

    def __init__(self, repo: str = "acme/shop", token: str = "test-token", max_per_page: int = 100):
        self.repo = repo
        self.repo_id = 1  # GitHub's numeric id of the repository (another one: the name was deleted and reused)
        self.token = token
        self.max_per_page = max_per_page
        self.drop_labels = False  # like GitHub for a token without push access: new issues lose their labels
        self.deleted: set[int] = set()  # numbers of deleted issues: 410 Gone, and left out of listings
        self.listing_delay_s = 0.0  # how long each issue listing takes (to hold two clients in it at once)
        self.issues: dict[int, FakeIssue] = {}
        self.requests: list[tuple[str, str]] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{PREFIX}"

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m != "GET"]

    def __enter__(self) -> "FakeGitHub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_issue(self, title: str, body: str, labels=("triage",), state: str = "open", closed_at: str | None = None, pull_request=False) -> FakeIssue:
        issue = FakeIssue(len(self.issues) + 1, title, body, list(labels), state, closed_at, pull_request=pull_request,
                          state_reason="completed" if state == "closed" else None)
        self.issues[issue.number] = issue
        return issue

    def add_comment(self, number: int, body: str, at: str | None = None) -> None:
        """A comment on issue ``number``, posted at ``at`` (now by default)."""
        self.issues[number].comments.append(body)
        self.issues[number].commented_at.append(at or _now())

    def fail(self, method: str, path: str, status: int, *, headers=None, message: str = "Server Error", after: bool = False, times: int = 1, skip: int = 0) -> None:
        """Answer ``times`` requests matching ``method`` and the ``path`` regex with ``status``, after ``skip`` of them."""
        self._faults.append(Fault(method, re.compile(path), status, dict(headers or {}), message, after, times, skip))

    # request handling ---------------------------------------------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.times > 0 and fault.method == method and fault.path.search(path):
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                fault.times -= 1
                return fault
        return None

    def handle(self, method: str, target: str, headers, body: bytes) -> tuple[int, dict[str, str], object]:
        parts = urlsplit(target)
        path = parts.path.removeprefix(PREFIX)
        if method == "GET" and path.endswith("/issues") and self.listing_delay_s:
            time.sleep(self.listing_delay_s)
        with self._lock:
            self.requests.append((method, path))
            if headers.get("Authorization") != f"token {self.token}":
                return 401, {}, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
            fault = self._take_fault(method, path)
            if fault and not fault.after:
                return fault.status, fault.headers, {"message": fault.message}
            status, extra, payload = self._route(method, path, parse_qs(parts.query), json.loads(body) if body else None)
            if fault:
                return fault.status, fault.headers, {"message": fault.message}
            return status, extra, payload

    def _route(self, method: str, path: str, query: dict, data):
        base = f"/repos/{self.repo}"
        if not path.lower().startswith(base.lower()):  # GitHub reads owner and name in any case
            return 404, {}, {"message": "Not Found"}
        rest = path[len(base):]
        if method == "GET" and rest == "":
            return 200, {}, self._repo_json()
        if method == "GET" and rest == "/issues":
            return self._list(query)
        if method == "POST" and rest == "/issues":
            issue = self.add_issue(data["title"], data.get("body", ""), [] if self.drop_labels else data.get("labels", []))
            return 201, {}, self._issue_json(issue)
        match = re.fullmatch(r"/issues/(\d+)(/comments|/labels)?", rest)
        if match and int(match[1]) in self.deleted:
            return 410, {}, {"message": "This issue was deleted"}
        if not match or int(match[1]) not in self.issues:
            return 404, {}, {"message": "Not Found"}
        issue = self.issues[int(match[1])]
        if method == "GET" and match[2] is None:
            return 200, {}, self._issue_json(issue)
        if method == "PATCH" and match[2] is None:
            issue.title = data.get("title", issue.title)
            issue.body = data.get("body", issue.body)
            issue.labels = list(data.get("labels", issue.labels))
            if data.get("state") in ("open", "closed") and data["state"] != issue.state:
                issue.state = data["state"]
                issue.closed_at = _now() if issue.state == "closed" else None
                issue.state_reason = data.get("state_reason", "completed") if issue.state == "closed" else "reopened"
            return 200, {}, self._issue_json(issue)
        if method == "POST" and match[2] == "/comments":
            self.add_comment(issue.number, data["body"])
            return 201, {}, self._comment_json(issue, len(issue.comments) - 1)
        if method == "GET" and match[2] == "/comments":  # GitHub's since: last updated at or after it
            since = query.get("since", [""])[0]
            return 200, {}, [self._comment_json(issue, i) for i, at in enumerate(issue.commented_at) if at >= since]
        if method == "POST" and match[2] == "/labels":
            names = data["labels"] if isinstance(data, dict) else data  # GitHub takes either shape
            issue.labels += [name for name in names if name not in issue.labels]
            return 200, {}, [{"name": name} for name in issue.labels]
        return 404, {}, {"message": "Not Found"}

    def _list(self, query: dict):
        state = query.get("state", ["open"])[0]
        wanted = [name for name in query.get("labels", [""])[0].split(",") if name]
        found = [
            issue
            for issue in sorted(self.issues.values(), key=lambda i: -i.number)
            if (state == "all" or issue.state == state) and all(name in issue.labels for name in wanted)
            and issue.number not in self.deleted
        ]
        per_page = min(int(query.get("per_page", ["30"])[0]), self.max_per_page)
        page = int(query.get("page", ["1"])[0])
        chunk = found[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(found):
            params = f"state={state}&labels={','.join(wanted)}&per_page={per_page}&page={page + 1}"
            headers["Link"] = f'<{self._api(f"/repos/{self.repo}/issues")}?{params}>; rel="next"'
        return 200, headers, [self._issue_json(issue) for issue in chunk]

    def _api(self, path: str) -> str:
        return f"{self.url}{path}" if path.startswith("/repos") else f"{self.url}/repos/{self.repo}{path}"

    def _repo_json(self) -> dict:
        owner, name = self.repo.split("/")
        return {
            "id": self.repo_id,
            "name": name,
            "full_name": self.repo,
            "owner": {"login": owner},
            "url": self._api(f"/repos/{self.repo}"),
            "html_url": f"https://github.example/{self.repo}",
        }

    def _comment_json(self, issue: FakeIssue, index: int) -> dict:
        return {
            "id": issue.number * 1000 + index + 1,
            "body": issue.comments[index],
            "created_at": issue.commented_at[index],
            "updated_at": issue.commented_at[index],
            "user": {"login": "triage-bot"},
            "url": self._api(f"/issues/comments/{issue.number * 1000 + index + 1}"),
            "html_url": f"https://github.example/{self.repo}/issues/{issue.number}#issuecomment-{issue.number * 1000 + index + 1}",
        }

    def _issue_json(self, issue: FakeIssue) -> dict:
        data = {
            "id": issue.number,
            "number": issue.number,
            "title": issue.title,
            "body": issue.body,
            "state": issue.state,
            "closed_at": issue.closed_at,
            "state_reason": issue.state_reason,
            "labels": [{"name": name} for name in issue.labels],
            "comments": len(issue.comments),
            "url": self._api(f"/issues/{issue.number}"),
            "html_url": f"https://github.example/{self.repo}/{'pull' if issue.pull_request else 'issues'}/{issue.number}",
        }
        if issue.pull_request:
            data["pull_request"] = {"url": self._api(f"/pulls/{issue.number}")}
        return data


def _handler(fake: FakeGitHub):
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, headers, payload = fake.handle(self.command, self.path, self.headers, self.rfile.read(length))
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, *args) -> None:
            pass

    return Handler
