"""What an update writes into an existing issue: its body and title, keeping what people made of them.

Each cluster's hidden marker (:func:`triage.drafts.marker`) holds, besides its counters, the digests of the body
and the title triage last wrote, and for an incident's root cause the fingerprints of its symptoms. An update:

* refreshes the body with the new draft, unless someone edited or rewrote it, merged another issue into it (it
  holds another cluster's marker), or the cluster is a symptom following its root cause's issue: then only the
  cluster's own marker moves on (and is added when missing). A refreshed body keeps the root cause's symptom list
  and the markers of the symptoms it followed;
* retitles a reopened issue only when its title is still the one triage gave it for this cluster;
* when it reopens an issue, notes the closing time in the other clusters' markers: their events from before it
  are no news.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Sequence

from .drafts import (
    NOT_OURS, SYMPTOMS_KEPT, Draft, body_digest, marker, marker_symptoms, marker_text, markers, parse_marker,
    title_digest,
)
from .entries import parse_timestamp
from .github import TrackedIssue
from .model import Cluster, Window
from .window import iso_z

REFRESHED = "The issue body now shows the evidence of the latest window."
KEPT = "The issue body is kept as it was edited; only its hidden counters were updated."
FOLLOWED = "This failure is a symptom of the root cause this issue is about; its body stays the root cause's."


@dataclass(frozen=True, slots=True)
class Rewrite:
    """The title and body an update writes, and what its comment says of the body (:data:`REFRESHED` …)."""

    title: str
    body: str
    note: str


def rewrite(
    issue: TrackedIssue, cluster: Cluster, draft: Draft, window: Window, total: int, first_reported: datetime | None,
    *, reopening: bool,
) -> Rewrite:
    """The title and body of ``issue`` after an update for ``cluster`` (``draft`` its new draft; ``total`` and
    ``first_reported`` its counters over the issue's life)."""
    previous = parse_marker(issue.body, cluster.fingerprint) or {}
    listed = _listed_symptoms(issue.body)
    # a symptom on its root cause's issue: the body is the root cause's (unless it was written for this cluster)
    followed = cluster.fingerprint in listed and previous.get("body") != body_digest(issue.body)
    listed = [fp for fp in listed if fp != cluster.fingerprint]  # never its own symptom (an incident's root flipped)
    tracked = {data["fingerprint"] for _, data in markers(issue.body)}
    kept = followed or _written_by_a_person(issue.body, previous, listed)
    ours = _titled_by_triage_for(issue.title, issue.body, previous)
    title = draft.title if reopening and ours else issue.title  # a comment never renames an issue
    # the digest of the title triage gave it for this cluster; a title that is not (a person's, another cluster's)
    # keeps a digest that does not match it
    title_mark = title_digest(title) if ours else previous.get("title") or NOT_OURS
    drafted = marker_symptoms(parse_marker(draft.body, cluster.fingerprint))  # of the incident it is the root of now
    if kept:
        symptoms = _capped([*drafted, *marker_symptoms(previous)], tracked, cluster.fingerprint)
        body = _with_counters(issue.body, cluster, window, total, first_reported, previous.get("body") or NOT_OURS,
                              title_mark, symptoms)
    else:  # the markers of the symptoms it lists stay (the last of each)
        symptoms = _capped([*drafted, *listed], tracked, cluster.fingerprint)
        body = _with_counters(draft.body, cluster, window, total, first_reported, None, title_mark, symptoms)
        carried = {data["fingerprint"]: match[0] for match, data in markers(issue.body) if data["fingerprint"] in symptoms}
        body = "".join([body.rstrip("\n"), "\n", *(f"{text}\n" for text in carried.values())])
    if reopening and issue.closed_at is not None:
        body = _note_closing(body, cluster.fingerprint, issue.closed_at)
    return Rewrite(title, body, FOLLOWED if followed else KEPT if kept else REFRESHED)


def _capped(symptoms: Sequence[str], tracked: set[str], own: str) -> list[str]:
    """``symptoms`` (newest incident's first) once each and without ``own``, cut to :data:`SYMPTOMS_KEPT`; those with
    a marker in the body come first, so that the cut never leaves a marker no list names."""
    unique = [fp for fp in dict.fromkeys(symptoms) if fp != own]
    return ([fp for fp in unique if fp in tracked] + [fp for fp in unique if fp not in tracked])[:SYMPTOMS_KEPT]


def owns_title(issue: TrackedIssue, fingerprint: str) -> bool:
    """Whether ``issue`` still has the title triage gave it for the cluster ``fingerprint``."""
    return _titled_by_triage_for(issue.title, issue.body, parse_marker(issue.body, fingerprint) or {})


def _written_by_a_person(body: str, previous: dict, listed: Sequence[str]) -> bool:
    """Whether someone rewrote the issue's body since triage wrote it: its marker is gone, it holds the marker of
    another cluster that is not one of its symptoms (``listed``; issues merged), or it no longer matches the digest in
    the marker (issues filed before digests were kept have none: their body is triage's)."""
    if not previous:
        return True
    ours = {previous["fingerprint"], *listed}
    if any(data["fingerprint"] not in ours for _, data in markers(body)):
        return True
    return "body" in previous and previous["body"] != body_digest(body)


def _listed_symptoms(body: str) -> list[str]:
    """The fingerprints the markers of ``body`` list as the symptoms of an incident this issue is the root cause of,
    in their order."""
    return list(dict.fromkeys(fp for _, data in markers(body) for fp in marker_symptoms(data)))


def _titled_by_triage_for(title: str, body: str, previous: dict) -> bool:
    """Whether the issue still has the title triage gave it for this cluster (whose marker is ``previous``), which a
    reopening may change: not when someone renamed it or its marker went (then it cannot be told), nor when it is
    the title of another cluster merged with this one (the issue keeps its subject). An issue filed before title
    digests were kept has triage's title unless another marker claims it."""
    if not previous:
        return False
    digest = title_digest(title)
    if "title" in previous:
        return previous["title"] == digest
    return not any(data.get("title") == digest for _, data in markers(body))


def _with_counters(
    body: str, cluster: Cluster, window: Window, total: int, first_reported: datetime | None, digest: str | None,
    title: str, symptoms: Sequence[str],
) -> str:
    """``body`` with the marker of ``cluster`` made cumulative over the issue's life, with the title digest
    ``title`` and ``symptoms`` (its incident id kept, and its body digest unless ``digest`` is given; other
    clusters' markers left as they are); a body without one gets it at its end."""
    known = [t for t in (first_reported, cluster.first_seen) if t is not None]
    counted = replace(cluster, count=total, first_seen=min(known, default=None))
    own = [match for match, data in markers(body) if data["fingerprint"] == cluster.fingerprint]
    previous = parse_marker(body, cluster.fingerprint) or {}
    fresh = marker(counted, window, previous.get("incident"), digest or previous.get("body"), title, symptoms)
    if not own:
        return f"{body.rstrip()}\n\n{fresh}\n"
    return body[: own[-1].start()] + fresh + body[own[-1].end() :]


def _note_closing(body: str, fingerprint: str, closed_at: datetime) -> str:
    """``body`` with the markers of the other clusters (issues merged) noting when the issue was closed: reopened,
    it is open again, and their events from before then are no news."""
    for match, data in reversed(markers(body)):
        known = parse_timestamp(data.get("closed"))
        if data["fingerprint"] != fingerprint and (known is None or known < closed_at):
            body = body[: match.start()] + marker_text({**data, "closed": iso_z(closed_at)}) + body[match.end() :]
    return body
