"""Decide and perform what filing a scan's clusters means for their GitHub issues.

:func:`plan` only reads: per cluster, the issue carrying its fingerprint decides the action —
none → create; open with events newer than its marker's ``last_seen`` → comment (and update the body, see
:mod:`triage.issue_body`); closed with events after it was closed → reopen (comment, then label ``regression``
and update), unless it was closed as a duplicate or as not planned; else skip.
:func:`apply` performs the actions one by one and links each issue in the state store as it goes,
so a run stopped halfway (rate limit, outage) keeps what it did, and a rerun neither loses nor repeats a comment.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Callable, Iterator, Sequence

from .drafts import MAX_BODY, Draft, comment_marker, commented_up_to, cut, fence, parse_marker
from .entries import parse_timestamp
from .github import IssueLink, IssueLocked, IssueTracker, TrackedIssue
from .grouping import select_samples
from .issue_body import REFRESHED, owns_title, rewrite
from .model import PRIORITIES, Cluster, Window
from .redact import cluster_secrets, redact_with
from .window import format_time

REGRESSION_LABEL = "regression"
FRESH_SAMPLES_SHOWN = 5
FRESH_SAMPLE_CHARS = 2000  # per sample (its head and tail: drafts.cut), so a comment stays far below 65,536 characters
# how far before an issue's last update for a cluster its comments are looked at for one a failed run posted: a
# log's timestamps come from the clock of whatever wrote it, which may run ahead of GitHub's
COMMENT_LOOKBACK = timedelta(days=1)

Render = Callable[[Cluster, str], Draft]  # (cluster, action kind) → the issue draft
# How people close an issue they do not want back, whatever recurs: GitHub's state_reason → what it says
_NOT_REOPENED = {"duplicate": "a duplicate", "not_planned": "not planned"}


@dataclass(frozen=True, slots=True)
class Action:
    """What filing one cluster does (planned) or did (applied: ``number`` and ``url`` known)."""

    fingerprint: str
    kind: str  # create | comment | reopen | skip
    title: str
    number: int | None = None
    url: str | None = None
    state: str = "open"  # the issue's state after the action
    closed_at: datetime | None = None  # when GitHub closed it, for a closed issue
    reason: str = ""
    labels: tuple[str, ...] = ()  # a new issue's labels; a reopening's priority label (with triage's title)
    drop: tuple[str, ...] = ()  # labels a reopening removes: the priority label triage put there, when it changes
    body: str = field(default="", repr=False)  # the issue body to write (create, comment, reopen)
    comment: str = field(default="", repr=False)  # the comment to add (comment, reopen)
    since: datetime | None = None  # what the comment reports is new since then (comment, reopen)


def plan(
    clusters: Sequence[Cluster],
    tracker: IssueTracker,
    render: Render,
    window: Window,
    labels: Sequence[str] = (),
    linked: Callable[[str], IssueLink | None] = lambda fingerprint: None,
    *,
    follow_symptoms: bool = True,
) -> list[Action]:
    """One action per cluster, in the order to perform them; reads issues, writes nothing. An issue is found by the
    tool's label and its marker, else by the issue ``linked(fingerprint)`` recorded when it was filed (someone
    removed the label or rewrote the body), unless it was recorded in another repository than the one now opened,
    else (with ``follow_symptoms``) as the issue of an incident's root cause that lists the cluster among its
    symptoms: a symptom whose cause left the window is not filed again on its own.

    The clusters of one issue (a person merged their issues) are planned together, a reopening one first, each on
    the issue as the actions before it leave it: one run updates it once per cluster, none undoes another, and
    the others see it open."""
    found = [(cluster, _find(tracker, cluster.fingerprint, linked, follow_symptoms)) for cluster in clusters]
    first = [_plan_one(cluster, issue, render, window, labels) for cluster, issue in found]
    groups: dict[int, list[int]] = defaultdict(list)
    for position, (_, issue) in enumerate(found):
        if issue is not None:
            groups[issue.number].append(position)
    actions: list[Action] = []
    for position, (_, issue) in enumerate(found):
        if issue is None or len(groups[issue.number]) == 1:
            actions.append(first[position])
        elif groups[issue.number][0] == position:  # the group's place: all of it
            members = sorted(groups[issue.number], key=lambda m: _turn(first[m], issue))
            actions += _plan_in_turn([found[m][0] for m in members], issue, render, window, labels)
    return actions


def _turn(action: Action, issue: TrackedIssue) -> tuple[bool, bool]:
    """Order of a merged issue's clusters: reopening ones first, the title's own cluster first (it may retitle)."""
    return action.kind != "reopen", not owns_title(issue, action.fingerprint)


def _plan_in_turn(
    clusters: Sequence[Cluster], issue: TrackedIssue, render: Render, window: Window, labels: Sequence[str]
) -> list[Action]:
    """Plan ``clusters`` of one issue, each on the issue as the actions before it leave it."""
    actions = []
    for cluster in clusters:
        action = _plan_one(cluster, issue, render, window, labels)
        if action.kind in ("comment", "reopen"):
            issue = replace(issue, title=action.title, body=action.body, state="open", state_reason=None)
        actions.append(action)
    return actions


def with_own_issues(
    clusters: Sequence[Cluster], folded: Sequence[tuple[Cluster, Cluster]], tracker: IssueTracker
) -> list[Cluster]:
    """``clusters``, and after them each symptom given way to its root cause (``folded``: symptom, root) that has an
    open issue of its own, not its root cause's: a failure filed before it turned out to be a symptom is updated
    there too, not left to go stale beside the root cause's issue."""
    chosen = {cluster.fingerprint for cluster in clusters}
    extra = []
    for symptom, root in folded:
        if symptom.fingerprint in chosen:
            continue
        own = tracker.find_by_fingerprint(symptom.fingerprint)
        if own is None or own.state != "open":
            continue
        roots = tracker.find_by_fingerprint(root.fingerprint)
        if roots is None or roots.number != own.number:
            extra.append(symptom)
            chosen.add(symptom.fingerprint)
    return [*clusters, *extra]


def _find(
    tracker: IssueTracker, fingerprint: str, linked: Callable[[str], IssueLink | None], follow_symptoms: bool
) -> TrackedIssue | None:
    found = tracker.find_by_fingerprint(fingerprint)
    if found is None and (link := linked(fingerprint)) is not None:
        found = tracker.find_by_number(link, fingerprint)
    if follow_symptoms and (found is None or (found.state == "closed" and found.state_reason in _NOT_REOPENED)):
        found = tracker.find_tracking(fingerprint) or found  # its own issue closed as a duplicate of its root's
    return found


def _plan_one(cluster: Cluster, issue: TrackedIssue | None, render: Render, window: Window, labels: Sequence[str]) -> Action:
    if issue is None:
        draft = render(cluster, "create")
        return Action(cluster.fingerprint, "create", draft.title, body=draft.body,
                      labels=issue_labels(cluster, labels, draft.priority))
    previous = parse_marker(issue.body, cluster.fingerprint) or {}
    last_reported = parse_timestamp(previous.get("last_seen"))
    common = dict(fingerprint=cluster.fingerprint, title=issue.title, number=issue.number, url=issue.url)
    if issue.state == "closed":
        since = issue.closed_at or last_reported
        if issue.state_reason in _NOT_REOPENED:
            return Action(kind="skip", state="closed", closed_at=issue.closed_at,
                          reason=f"closed as {_NOT_REOPENED[issue.state_reason]}: never reopened", **common)
        if not _newer(cluster.last_seen, since):
            return Action(
                kind="skip", state="closed", closed_at=issue.closed_at, reason="closed, no event since it was closed", **common
            )
        kind, headline = "reopen", "Recurred after this issue was closed"
    else:  # reopened for another cluster of the issue (now or earlier): what came before it was closed is no news
        closings = (last_reported, parse_timestamp(previous.get("closed")), issue.closed_at)
        since = max((t for t in closings if t is not None), default=None)
        if not _newer(cluster.last_seen, since):
            return Action(kind="skip", reason="no event since its last update", **common)
        kind, headline = "comment", "Seen again"
    new_events = events_since(cluster, since)
    total = _count(previous.get("count")) + new_events
    draft = render(cluster, kind)
    first_reported = parse_timestamp(previous.get("first_seen"))
    new = rewrite(issue, cluster, draft, window, total, first_reported, reopening=kind == "reopen")
    if len(new.body) >= MAX_BODY:  # a person's long body leaves no room for the marker: updating it would fail each run
        return Action(kind="skip", state=issue.state, closed_at=issue.closed_at, reason=(
            f"{new_events} new event(s), but its body is too long to keep triage's marker: shorten it"), **common)
    comment = update_comment(cluster, headline, since, new_events, total, body_note=new.note)
    common["title"] = new.title
    # a reopening that retitles with triage's title (its priority may have changed) swaps the priority label too
    ours = kind == "reopen" and owns_title(issue, cluster.fingerprint)
    priority = draft.priority or cluster.priority
    add, drop = _priority_swap(issue, priority) if ours and priority else ((), ())
    return Action(kind=kind, reason=f"{new_events} new event(s)", body=new.body, comment=comment, labels=add,
                  drop=drop, since=since, **common)


_TITLE_PRIORITY = re.compile(r"(?<![0-9A-Za-z])P[0-3](?![0-9A-Za-z])")


def _priority_swap(issue: TrackedIssue, priority: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The priority labels to add and to drop when reopening ``issue``, which still has triage's title, with the
    title's new ``priority``: only the label triage put there (the priority its title names, the first one there,
    as triage's titles name it before the failure's own title) gives way to it; a priority label a person set (any
    other) stays, and stands: then none is added."""
    found = _TITLE_PRIORITY.search(issue.title)
    ours = found[0] if found else None
    set_by_a_person = [name for name in issue.labels if name.upper() in PRIORITIES and name.upper() != ours]
    drop = (ours,) if ours is not None and ours != priority else ()
    return (() if set_by_a_person else (priority,)), drop


def apply(actions: Sequence[Action], tracker: IssueTracker, link: Callable[[Action], None]) -> Iterator[Action]:
    """Perform ``actions`` in order, yielding each one done after ``link(action)`` recorded its issue."""
    for action in actions:
        if action.kind == "create":
            issue = tracker.create(action.title, action.body, action.labels)
            action = replace(action, number=issue.number, url=issue.url)
        elif action.kind in ("comment", "reopen"):
            # the comment first, then the body (and its marker's last_seen): should the comment fail, a rerun plans
            # it again, and posts it unless GitHub did anyway (answered 502 to it), which the rerun finds by the
            # comment's marker. A reopening is one request, so a run stopped halfway never leaves an open issue
            # without its label
            if _posted_before(tracker, action):
                action = replace(action, reason=f"{action.reason}; its comment was posted by an earlier run")
            else:
                try:
                    tracker.comment(action.number, action.comment)
                except IssueLocked:  # the update goes on: else every run would stop here, and no later issue be filed
                    action = replace(action, reason=f"{action.reason}; no comment: the issue is locked")
            if action.kind == "reopen":  # with triage's title, triage's priority label follows the title's priority
                tracker.reopen(action.number, action.title, action.body, [REGRESSION_LABEL, *action.labels],
                               action.drop)
            else:
                tracker.update(action.number, action.title, action.body)
        link(action)
        yield action


def _posted_before(tracker: IssueTracker, action: Action) -> bool:
    """Whether the issue has the comment of ``action`` already, or a later one for its cluster: posted by a run that
    stopped before the body (which the rerun plans from) moved on. Comments older than what it reports are not read."""
    own = parse_timestamp(commented_up_to(action.comment, action.fingerprint))
    since = None if action.since is None else action.since - COMMENT_LOOKBACK
    for text in tracker.comments(action.number, since):
        posted = parse_timestamp(commented_up_to(text, action.fingerprint))
        if posted is not None and own is not None and posted >= own:
            return True
    return False


def update_status(kind: str, status: str) -> str:
    """The draft status of an issue being updated: a reopened one regressed; one commented on is not new."""
    if kind == "reopen":
        return "regression"
    return "recurring" if kind == "comment" and status == "new" else status


def issue_labels(cluster: Cluster, extra: Sequence[str], priority: str | None = None) -> tuple[str, ...]:
    """Labels of a new issue besides the tool's own: priority (``priority``, the draft's, else the cluster's),
    category, the rule's labels, the user's."""
    rule = cluster.rule
    names = [priority or cluster.priority, rule.category if rule else None, *(rule.labels if rule else ()), *extra]
    return tuple(dict.fromkeys(name for name in names if name))


def events_since(cluster: Cluster, since: datetime | None) -> int:
    """Events of ``cluster`` after ``since`` (all when ``since`` is unknown or before the first event).

    Counted from the kept occurrences (the newest few thousand), so a lower bound for huge clusters.
    """
    if since is None or (cluster.first_seen is not None and cluster.first_seen > since):
        return cluster.count
    return sum(1 for o in cluster.occurrences if o.timestamp is not None and o.timestamp > since)


def update_comment(
    cluster: Cluster, headline: str, since: datetime | None, new_events: int, total: int, *, body_note: str = REFRESHED
) -> str:
    """The comment for an existing issue: what is new since its last update, with fresh samples, and a hidden marker
    naming the cluster and its last event (so that a rerun after a failure finds it)."""
    since_text = f" since {format_time(since)}" if since else ""
    lines = [
        f"**{headline}:** {new_events} new event(s){since_text}, {total} in total.",
        "",
        f"- Last seen: {format_time(cluster.last_seen)}",
        f"- Events in this scan's window: {cluster.count} (first {format_time(cluster.first_seen)})",
    ]
    fresh = [s for s in cluster.samples if since is None or (s.timestamp is not None and s.timestamp > since)]
    if fresh:
        secrets = cluster_secrets(cluster)
        text = "\n".join(
            f"{format_time(s.timestamp)} {cut(redact_with(s.message, secrets), FRESH_SAMPLE_CHARS)}"
            for s in select_samples(fresh, FRESH_SAMPLES_SHOWN)
        )
        lines += ["", "Fresh samples, newest first:", "", fence(text)]
    lines += ["", body_note, "", comment_marker(cluster.fingerprint, cluster.last_seen)]
    return "\n".join(lines)


def _newer(ts: datetime | None, since: datetime | None) -> bool:
    return ts is not None and (since is None or ts > since)


def _count(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0
