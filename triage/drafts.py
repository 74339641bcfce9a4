"""Render five-whys issue drafts, worklog sections and scan reports from Jinja templates.

Templates live in ``templates/`` (shipped in the wheel); ``--templates DIR`` overrides any of them by file
name. A missing variable is an error (``StrictUndefined``), reported as one line naming the template.

Log text is untrusted. Before rendering, secrets are redacted (:mod:`triage.redact`); in the templates it
only ever goes through one of three filters: ``fence`` (a code block fenced longer than any backtick run it
holds), ``cell`` and ``text`` (``&``, ``<``, ``>`` escaped, so no HTML and no comment can open; Markdown
punctuation backslash-escaped, so no emphasis, code, link or image starts; control and bidi override characters
dropped; the ``@`` of a mention broken, so no one is notified). Inside code, ``<!--`` and ``-->`` are broken with a zero-width joiner,
so log text can never forge the hidden marker ``<!-- triage:{json} -->`` that the issue filer finds its issues
by (:data:`MARKER_RE`, :func:`parse_marker`), nor the ``<!-- triage:comment {json} -->`` of its comments
(:func:`comment_marker`), by which a rerun finds a comment a failed run posted.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .errors import TriageError
from .grouping import select_samples
from .history import MIN_COVERED
from .incidents import Incident, incident_priority, link_incidents, short_title
from .logs_link import logs_explorer_url, logs_query, time_range
from .model import DEFAULT_RESOURCE_TYPE, PRIORITIES, Cluster, Sample, ScanResult, Severity, Window
from .redact import redact, redact_cluster, redact_title
from .resources import data_dir
from .window import format_time, iso_z

MAX_BODY = 65_536
MARKER_HEADROOM = 8192  # room for the issue filer's markers (counters, symptoms and theirs) within MAX_BODY
SYMPTOMS_KEPT = 20  # symptom fingerprints a root cause's marker lists (about 500 characters)
ZWJ = "\u200d"
WORD_JOINER = "\u2060"  # after "@": log text cannot @mention (notify) people or teams in an issue
# GitHub takes "@name" as a mention after anything but an ASCII word character (so after "ü" or "中" too)
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@(?=[A-Za-z0-9])")
# and "#12" (at a word's start), "owner/repo#12" and "GH-12" as references, which add a "mentioned this" event to
# that issue; never inside a URL (GitHub links the URL instead), nor after a word character ("order#12", "C#7"). A
# URL runs from its "scheme://" to a blank, or to what ends it in issue text ("<", ">", also escaped, a backslash,
# a backquote): a "#12" after one of those is broken (so is "example.com/runbook#3" without its scheme: it reads
# as owner/repo#3)
_URL = r"[A-Za-z][A-Za-z0-9+.-]*://(?:(?!&lt;|&gt;)[^\s<>\\`])*"
_REFERENCE = re.compile(
    rf"(?P<url>{_URL})|(?<![A-Za-z0-9_])#(?=[0-9])|/[A-Za-z0-9_.-]+#(?=[0-9])|(?<![A-Za-z0-9_])GH-(?=[0-9])",
    re.IGNORECASE,
)
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Markdown that log text must not start: a backslash before punctuation (or last), code, emphasis, links and
# images, strikethrough, a heading; "_" inside a word (snake_case) opens nothing and stays as it is
_MARKDOWN = re.compile(r"\\(?=[!-/:-@\[-`{-~]|$)|[`*\[\]~]|(?<![^\W_])_|_(?![^\W_])|^#")
TITLE_LIMIT = 256  # GitHub's limit for issue titles
MARKER_RE = re.compile(r"<!-- triage:(\{.*?\}) -->")
COMMENT_MARKER_RE = re.compile(r"<!-- triage:comment (\{.*?\}) -->")  # an update comment's (comment_marker)
STATUSES = ("new", "recurring", "regression")
TITLE_STATUS = {"new": "new", "recurring": "recurring", "regressed": "regression"}  # history status → draft status
INSTANCES_SHOWN = 5
INSTANCE_WIDTH = 16  # Cloud Run instance ids run to 150 hex digits; their first 16 tell them apart
# (samples kept, characters per sample): tried in order until the body fits in MAX_BODY
_SAMPLE_BUDGETS = ((10, 4000), (5, 2000), (3, 1000), (3, 300), (3, 100))


@dataclass(frozen=True, slots=True)
class Draft:
    title: str  # plain text (GitHub shows titles as text)
    body: str  # Markdown
    fingerprint: str
    priority: str | None = None  # the issue's (its title's and label's): an incident root's is its incident's

    def as_markdown(self) -> str:
        """The draft as one Markdown file: the title as a heading, then the body."""
        return f"# {escape_html(self.title)}\n\n{self.body}"


@dataclass(frozen=True, slots=True)
class DraftContext:
    """What a draft needs besides its cluster."""

    window: Window
    status: str = "new"  # new | recurring | regression
    project: str | None = None  # for the Logs Explorer link
    incident: Incident | None = None  # the incident holding the cluster
    chain: tuple[Cluster, ...] = ()  # the incident's clusters in causal order
    truncated: bool = False  # the scan stopped early (--max-entries): its counts are lower bounds
    resource_type: str | None = DEFAULT_RESOURCE_TYPE  # what the scan selected, for the Logs Explorer query (None: any)


# --- templates --------------------------------------------------------------------------------------------


class Templates:
    """The template set: ``override_dir`` first (any subset of the file names), then the shipped ones."""

    def __init__(self, override_dir: Path | None = None):
        dirs = [data_dir("templates")]
        if override_dir is not None:
            if not override_dir.is_dir():
                raise TriageError(f"--templates {override_dir}: not a directory")
            dirs.insert(0, override_dir)
        import jinja2  # here: a scan's report imports this module for its escaping, and renders no template

        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            fence=fence, cell=escape_cell, text=escape_html, utc=format_time, pretty_json=pretty_json,
            fill=fill_placeholders,
        )

    def render(self, name: str, **variables: Any) -> str:
        import jinja2

        try:
            return self.env.get_template(name).render(**variables)
        except jinja2.UndefinedError as err:
            raise TriageError(f"template {name}: undefined variable ({err.message})") from None
        except jinja2.TemplateSyntaxError as err:
            raise TriageError(f"template {err.name or name} line {err.lineno}: {err.message}") from None
        except jinja2.TemplateNotFound as err:
            raise TriageError(f"template {err.name} not found") from None
        except RecursionError:  # a template that includes itself, a macro that calls itself
            raise TriageError(f"template {name}: it includes itself or calls a macro without end") from None
        except (jinja2.TemplateError, ArithmeticError, LookupError, TypeError, ValueError, AssertionError) as err:
            raise TriageError(f"template {name}: {type(err).__name__}: {err}") from None


# --- escaping ---------------------------------------------------------------------------------------------


def printable(text: str) -> str:
    """``text`` without control characters (but tab and newline) and bidi marks, overrides and isolates."""
    return _UNPRINTABLE.sub("", text)


def csv_text(text: str) -> str:
    """Log text for a CSV cell: printable (so no carriage return), and with a ``'`` before a leading ``=``,
    ``+``, ``-``, ``@`` or tab, so a spreadsheet does not run it as a formula (OWASP, CSV injection)."""
    text = printable(text)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


_FORMULA_STARTS = ("=", "+", "-", "@", "\t")


def escape_html(text: str) -> str:
    """Plain text for Markdown outside code, on one line and printable: ``&``, ``<``, ``>`` escaped (no HTML),
    the punctuation that opens emphasis, code, links, images or strikethrough backslash-escaped (``__init__``
    stays literal), ``@mentions`` and issue references broken."""
    text = _MARKDOWN.sub(r"\\\g<0>", " ".join(printable(text).split()))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return break_references(text)


def break_references(text: str) -> str:
    """``@mentions`` and issue references (``#12``, ``owner/repo#12``, ``GH-12``) broken with a word joiner, so that
    log text shown in an issue notifies nobody and adds nothing to other issues' timelines; a ``#`` inside a URL
    (``https://example.com/runbook#3-restart``) or a word (``order#12``), which GitHub links to no issue, stays as it
    is."""
    text = _MENTION.sub("@" + WORD_JOINER, text)
    return _REFERENCE.sub(lambda found: found[0] if found["url"] else found[0] + WORD_JOINER, text)


def escape_cell(text: str) -> str:
    """:func:`escape_html` plus ``|`` escaped, for a table cell."""
    return escape_html(text).replace("|", "\\|")


def neutralize_comments(text: str) -> str:
    """Break ``<!--`` and ``-->`` with a zero-width joiner (for text shown inside code)."""
    return text.replace("<!--", f"<!{ZWJ}--").replace("-->", f"--{ZWJ}>")


def pretty_json(value: Any) -> str:
    """Indented JSON for a code block (``fence`` it: only code keeps ``<`` harmless)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def fence(text: str, info: str = "text") -> str:
    """``text`` as a fenced code block whose fence is longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    bar = "`" * max(3, longest + 1)
    return f"{bar}{info}\n{neutralize_comments(text)}\n{bar}"


# --- placeholders ------------------------------------------------------------------------------------------

# A value put into a command: it starts with a letter or digit (no option, no quote, no shell syntax), "_" and "@"
# only right after a letter or digit (no emphasis, no mention); 100 characters at most
SAFE_VALUE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.:/-]|(?<=[A-Za-z0-9])[_@](?=[A-Za-z0-9])){0,99}")
# a whole upper-case word; not a $VARIABLE or ${VARIABLE}, nor after "@" or "#" (a mention, an issue reference),
# nor the key of KEY=VALUE (``--to-revisions REV=100`` names the revision to roll back to, which a rule pack or a
# scan stored before GOOD_REVISION may still say)
_PLACEHOLDER = re.compile(r"(?<![\w$@#])(?<!\$\{)[A-Z][A-Z0-9_]+(?![\w=])")
# a gcloud command that names no project (up to its end: ; | & ` or a line end)
_GCLOUD_WITHOUT_PROJECT = re.compile(r"\bgcloud (?=[a-z][a-z-]* )(?![^;|&`\n]*--project\b)")
# a `gcloud logging read 'FILTER'` that reads the last hour (--freshness=1h), up to the command's end
_LOGS_OF_THE_LAST = re.compile(r"(\bgcloud logging read ')([^'\n]*)'([^;|&`\n]*?) --freshness=\d+[smhdw]\b")


def safe_value(value: str) -> bool:
    """Whether ``value`` may stand in a command an engineer pastes into a shell, and in Markdown as it is:
    :data:`SAFE_VALUE`, and no issue reference (``GH-12``)."""
    return SAFE_VALUE.fullmatch(value) is not None and break_references(value) == value


def placeholder_values(cluster: Cluster, project: str | None) -> dict[str, str]:
    """The placeholders the data answers, with their values: SERVICE, REGION, REV and REVISION when the cluster has
    exactly one service, region and revision, PROJECT, and the rule's captures by their upper-cased names (``attr``:
    ATTR); each only with a :func:`safe_value`."""
    revision = _only(cluster.revisions)
    values = {name.upper(): value for name, value in cluster.captures.items()}
    values.update(
        SERVICE=_only(cluster.services), REGION=_only(cluster.regions), REV=revision, REVISION=revision, PROJECT=project
    )
    return {name: value for name, value in values.items() if value and safe_value(value)}


def _only(counts: Mapping[str, int]) -> str | None:
    return next(iter(counts)) if len(counts) == 1 else None


def fill_placeholders(text: str, values: Mapping[str, str], span: tuple[datetime, datetime] | None = None) -> str:
    """``text`` (a rule's check or remediation step) with each whole-word placeholder of ``values`` replaced; with a
    ``span`` (the draft's time range), each ``gcloud logging read`` reads that span instead of the last hour (an
    export's failure may be days old); with a PROJECT value, ``--project`` given to each ``gcloud`` command naming
    none (``gcloud secrets``, ``sql``, ``redis`` … act on gcloud's active project otherwise)."""
    text = _PLACEHOLDER.sub(lambda found: values.get(found[0], found[0]), text)
    if span is not None:
        bounds = f'timestamp>="{format_time(span[0])}" AND timestamp<="{format_time(span[1])}"'
        text = _LOGS_OF_THE_LAST.sub(lambda found: f"{found[1]}({found[2]}) AND {bounds}'{found[3]}", text)
    if "PROJECT" in values:
        text = _GCLOUD_WITHOUT_PROJECT.sub(f"gcloud --project={values['PROJECT']} ", text)
    return text


# --- priorities and project --------------------------------------------------------------------------------


def at_or_above(cluster: Cluster, floor: str) -> bool:
    return PRIORITIES.index(cluster.priority) <= PRIORITIES.index(floor)


def project_of(result: ScanResult, explicit: str | None = None, configured: str | None = None) -> str | None:
    """``explicit`` (``--project``), else the project of the ``gcp:PROJECT`` source, else the one the entries name,
    else ``configured`` (the config file's: a text export names none). Not $GOOGLE_CLOUD_PROJECT, and the config
    only last: the shell's or the team's default project need not be the export's, and the checks' commands name
    it. A scan of several projects names none (the links and commands keep their placeholder): which project a
    cluster's entries came from is not recorded."""
    if explicit:
        return explicit
    pulled = {source[4:] for source in result.sources if source.startswith("gcp:") and len(source) > 4}
    if pulled:
        return pulled.pop() if len(pulled) == 1 else None
    return result.project or configured or None


# --- issue drafts -----------------------------------------------------------------------------------------


def marker(
    cluster: Cluster, window: Window, incident: str | None = None, body: str | None = None, title: str | None = None,
    symptoms: Sequence[str] = (),
) -> str:
    """The hidden marker: fingerprint, counters, window (and incident id) as JSON in an HTML comment; ``body`` and
    ``title`` are the digests (:func:`body_digest`, :func:`title_digest`) of the body and title triage last wrote
    (:data:`NOT_OURS`: a body a person wrote); ``symptoms`` the fingerprints of the incident's other clusters, which
    this issue tracks (the first :data:`SYMPTOMS_KEPT`)."""
    data = {
        "fingerprint": cluster.fingerprint,
        "count": cluster.count,
        "first_seen": iso_z(cluster.first_seen),
        "last_seen": iso_z(cluster.last_seen),
        "window": {"from": iso_z(window.start), "until": iso_z(window.end)},
    }
    if incident:
        data["incident"] = incident
    if body:
        data["body"] = body
    if title:
        data["title"] = title
    if symptoms:
        data["symptoms"] = list(symptoms[:SYMPTOMS_KEPT])
    return marker_text(data)


def marker_text(data: dict) -> str:
    """The hidden marker holding ``data`` (no ``<`` or ``>`` in it, so no text can close the comment early)."""
    return f"<!-- triage:{_hidden_json(data)} -->"


def comment_marker(fingerprint: str, last_seen: datetime | None) -> str:
    """The hidden marker of an update's comment: the cluster it reports on and its last event it reports (which
    :func:`commented_up_to` reads back). Not a body marker (:data:`MARKER_RE` does not match it)."""
    return f"<!-- triage:comment {_hidden_json({'fingerprint': fingerprint, 'last_seen': iso_z(last_seen)})} -->"


def commented_up_to(text: str, fingerprint: str) -> str | None:
    """The ``last_seen`` of the last well-formed comment marker of ``fingerprint`` in ``text`` (a comment), or None."""
    found = None
    for match in COMMENT_MARKER_RE.finditer(text):
        try:
            data = json.loads(match.group(1))
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("fingerprint") == fingerprint and isinstance(data.get("last_seen"), str):
            found = data["last_seen"]
    return found


def _hidden_json(data: dict) -> str:
    """``data`` as JSON with no ``<`` or ``>`` in it, so no text can close its HTML comment early."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


NOT_OURS = "-"  # the marker's "body" when a person wrote the body: no digest matches it


def body_digest(body: str) -> str:
    """A digest of an issue body without its marker (and blanks at its ends, line ends as ``\\n``), kept in the
    marker: a body that no longer matches it was edited by a person since triage wrote it."""
    text = MARKER_RE.sub("", body).replace("\r\n", "\n").strip()
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def title_digest(title: str) -> str:
    """A digest of an issue title (its blanks folded), kept in the marker: a title that no longer matches it was
    chosen by a person."""
    return hashlib.sha256(" ".join(title.split()).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def markers(body: str) -> list[tuple[re.Match[str], dict]]:
    """Each well-formed marker in ``body`` (one with a fingerprint), in order, with its data. A body may hold more
    than one: a person merged two issues by pasting one's body into the other."""
    found = []
    for match in MARKER_RE.finditer(body):
        try:
            data = json.loads(match.group(1))
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("fingerprint"), str):
            found.append((match, data))
    return found


def parse_marker(body: str, fingerprint: str | None = None) -> dict | None:
    """The data of the last well-formed marker in ``body`` (the last one of ``fingerprint``, when given), or None."""
    return next((data for _, data in reversed(markers(body)) if fingerprint in (None, data["fingerprint"])), None)


def marker_symptoms(data: dict | None) -> list[str]:
    """A marker's symptom list (a hand-edited value that is no list of text counts as none)."""
    listed = data.get("symptoms") if data else None
    return [fp for fp in listed if isinstance(fp, str)] if isinstance(listed, list) else []


def marker_data(body: str) -> list[dict]:
    """The data of each well-formed marker of ``body``, in order."""
    return [data for _, data in markers(body)]


def render_issue(cluster: Cluster, context: DraftContext, templates: Templates | None = None) -> Draft:
    """Title and body of the issue for ``cluster`` (secrets redacted, body under :data:`MAX_BODY`)."""
    templates = templates or Templates()
    if context.status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, not {context.status!r}")
    safe = redact_cluster(cluster)
    priority, derived = safe.priority, safe.priority_derived
    own_priority = None  # set when the issue takes the more urgent priority of the incident it is the root of
    incident = context.incident
    is_root = incident is not None and incident.root == safe.fingerprint
    if is_root and context.chain:
        urgent = incident_priority(incident, {c.fingerprint: c for c in context.chain})
        if PRIORITIES.index(urgent) < PRIORITIES.index(priority):
            priority, own_priority = urgent, priority
    common = {
        "status": context.status,
        "priority": priority,
        "priority_derived": derived and own_priority is None,
        "own_priority": own_priority,
        "title": " ".join(safe.title.split()),
        "fingerprint": safe.fingerprint,
    }
    title = break_references(" ".join(printable(templates.render("issue_title.j2", **common)).split()))[:TITLE_LIMIT]
    placeholders = placeholder_values(safe, context.project)
    for kept, width in _SAMPLE_BUDGETS:
        shown = [_sample_view(s, width) for s in select_samples(safe.samples, kept)]
        body = templates.render(
            "issue_body.md.j2", **common, **_evidence(safe, context),
            samples=shown, samples_note=_samples_note(len(safe.samples), shown),
            rule=safe.rule, rule_file=f"{Path(safe.rule.file).name}:{safe.rule.line}" if safe.rule else None,
            placeholders=placeholders, span=time_range(safe, context.window),
            incident=_incident_view(safe.fingerprint, context),
            marker=marker(safe, context.window, context.incident.id if context.incident else None),
        )
        if len(body) < MAX_BODY - MARKER_HEADROOM:
            break
    else:
        raise TriageError(f"the draft for {cluster.fingerprint[:12]} exceeds {MAX_BODY} characters even with short samples")
    if body.count("<!-- triage:") != 1:
        raise TriageError("template issue_body.md.j2 must contain the hidden marker exactly once: {{ marker }}")
    digest = body_digest(body)
    symptoms = [fp for fp in incident.clusters if fp != incident.root] if is_root else []
    body = MARKER_RE.sub(
        lambda _: marker(safe, context.window, incident.id if incident else None, digest, title_digest(title), symptoms),
        body, count=1,
    )
    return Draft(title, body, cluster.fingerprint, priority)


def _evidence(cluster: Cluster, context: DraftContext) -> dict[str, Any]:
    hours = _hours(cluster, context.window)
    return {
        "count": cluster.count,
        "rate": f"{cluster.count / hours:.1f}/h" if hours else "n/a",
        "rate_basis": "over the scan window" if context.window.start and context.window.end else "between first and last seen",
        "severity": cluster.severity.name,
        "first_seen": format_time(cluster.first_seen),
        "last_seen": format_time(cluster.last_seen),
        "window_from": format_time(context.window.start) if context.window.start else "open",
        "window_until": format_time(context.window.end) if context.window.end else "open",
        "services": list(cluster.services.items()),
        "revisions": list(cluster.revisions.items()),
        "captures": list(cluster.captures.items()),
        "template": cluster.template,
        "logs_url": logs_explorer_url(cluster, context.window, context.project, context.resource_type),
        "logs_query": logs_query(cluster, context.resource_type),
        "project": context.project,
        "truncated": context.truncated,
    }


def _incident_view(fingerprint: str, context: DraftContext) -> dict[str, Any] | None:
    """The incident section: the whole chain for its root, a pointer to the root for a symptom."""
    incident = context.incident
    if incident is None:
        return None
    members = [replace(c, title=redact_title(c)) for c in context.chain]
    root = next((c for c in members if c.fingerprint == incident.root), None)
    shown = incident.instances[:INSTANCES_SHOWN]
    more = len(incident.instances) - len(shown)
    return {
        "id": incident.id,
        "is_root": fingerprint == incident.root,
        "root": incident.root,
        "root_title": short_title(root) if root else "an unknown cluster",
        "summary": redact(incident.summary),
        "instances": len(incident.instances),
        "instances_shown": ", ".join(_cut(i, INSTANCE_WIDTH) for i in shown) + (f" and {more} more" if more else ""),
        "revisions": ", ".join(incident.revisions),
        "first_seen": format_time(incident.first_seen),
        "last_seen": format_time(incident.last_seen),
        "symptoms": [(c.count, short_title(c), c.fingerprint) for c in members if c.fingerprint != incident.root],
    }


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width] + "…"


def _hours(cluster: Cluster, window: Window) -> float:
    """The hours the rate is taken over: the window, else first to last seen; at least a minute, as a scan's rate
    (one event at one instant: 60/h, not a division by nothing)."""
    start, end = (window.start, window.end) if window.start and window.end else (cluster.first_seen, cluster.last_seen)
    if not start or not end or end < start:
        return 0.0
    return max(end - start, MIN_COVERED).total_seconds() / 3600


def cut(text: str, width: int) -> str:
    """``text`` in ``width`` characters and a marker line: its first third and its last two thirds, with a line
    ``…[N characters cut]…`` between (a message starts with what matters, a traceback ends with it: the innermost
    frames and the exception). The first part ends at a line end, the last starts at one, when that keeps at least
    half of the part."""
    if len(text) <= width:
        return text
    head_width = width // 3
    tail_width = width - head_width
    head_end = text.rfind("\n", 0, head_width + 1)
    if head_end < head_width // 2:
        head_end = head_width
    tail_start = len(text) - tail_width
    line_start = text.find("\n", tail_start - 1) + 1  # 0: no line end from tail_start - 1 on
    if tail_start <= line_start <= tail_start + tail_width // 2:
        tail_start = line_start
    return f"{text[:head_end]}\n…[{tail_start - head_end} characters cut]…\n{text[tail_start:]}"


def _sample_view(sample: Sample, width: int) -> dict[str, Any]:
    message = cut(sample.message, width)
    where = "/".join(part for part in (sample.service, sample.instance) if part) or "-"
    time = format_time(sample.timestamp) if sample.timestamp else "(no time)"  # a line "- -" would be a Markdown list
    return {"time": time, "where": where, "message": message, "cut": message != sample.message}


def _samples_note(total: int, shown: list[dict[str, Any]]) -> str:
    cut = any(s["cut"] for s in shown)
    if len(shown) == total and not cut:
        return ""
    return f"{len(shown)} of {total} samples shown{', long ones cut' if cut else ''} (issue bodies stay under {MAX_BODY} characters)."


# --- scan-level renderings --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One cluster line of a worklog section or scan report."""

    fingerprint: str
    priority: str
    priority_derived: bool
    count: int
    title: str
    draft: str | None  # link target of its draft, if one was written


def cluster_rows(result: ScanResult, floor: str | None = None, drafts: dict[str, str] | None = None) -> list[Row]:
    rows = []
    for cluster in result.clusters:
        if floor is not None and not at_or_above(cluster, floor):
            continue
        priority, derived = cluster.priority, cluster.priority_derived
        rows.append(Row(cluster.fingerprint, priority, derived, cluster.count, redact_title(cluster),
                        (drafts or {}).get(cluster.fingerprint)))
    return rows


def scan_variables(result: ScanResult, rows: Iterable[Row], floor: str | None) -> dict[str, Any]:
    rows = list(rows)
    return {
        "window_from": _bound(result.window.start, result.failure_span()[0], "first failure"),
        "window_until": _bound(result.window.end, result.failure_span()[1], "last failure"),
        "scanned_at": format_time(result.scanned_at),
        "sources": [redact(s) for s in result.sources],
        "entries_read": result.entries_read,
        "entries_skipped": result.entries_skipped,
        "entries_in_window": result.entries_in_window,
        "truncated": result.truncated,
        "scope": scope_line(result),
        "cluster_count": len(result.clusters),
        "rows": rows,
        "omitted": len(result.clusters) - len(rows),
        "min_priority": floor,
        "incidents": _incident_rows(result),
    }


def scope_line(result: ScanResult) -> str | None:
    """``Scope: only services a, b · severity floor ERROR`` when the scan was narrowed or widened from the defaults (a
    flag, or triage.toml), else None."""
    services = printable(", ".join(result.services))
    parts = [f"only service{'s' if len(result.services) > 1 else ''} {services}"] if result.services else []
    if result.min_severity is not Severity.WARNING:
        parts.append(f"severity floor {result.min_severity.name}")
    return ("Scope: " + " · ".join(parts)) if parts else None


def _bound(bound: datetime | None, seen: datetime | None, what: str) -> str:
    """A window bound in UTC; an open one shows when the failures start or end instead."""
    if bound is not None:
        return format_time(bound)
    return f"open ({what} {format_time(seen)})" if seen is not None else "open"


def _incident_rows(result: ScanResult) -> list[dict[str, str]]:
    """The scan's incidents, most urgent first: id, priority and the redacted chain summary."""
    by_fp = {c.fingerprint: c for c in result.clusters}
    incidents = sorted(link_incidents(result.clusters), key=lambda i: (incident_priority(i, by_fp), i.id))
    return [{"id": i.id, "priority": incident_priority(i, by_fp), "summary": redact(i.summary)} for i in incidents]


def render_scan_report(result: ScanResult, drafts: dict[str, str] | None = None, templates: Templates | None = None) -> str:
    """The scan as Markdown (the index of a drafts folder)."""
    rows = cluster_rows(result, None, drafts)
    return _one_newline((templates or Templates()).render("scan_report.md.j2", **scan_variables(result, rows, None)))


def render_worklog_section(
    result: ScanResult,
    now: datetime,
    floor: str | None = None,
    drafts: dict[str, str] | None = None,
    templates: Templates | None = None,
) -> str:
    """A dated worklog section; ``now`` must be timezone-aware (its offset is shown as local time)."""
    rows = cluster_rows(result, floor, drafts)
    return _one_newline((templates or Templates()).render(
        "worklog_section.md.j2",
        **scan_variables(result, rows, floor),
        now_utc=now.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        now_local=now.strftime("%Y-%m-%d %H:%M") + _offset(now),
    ))


def render_worklog_new(title: str, now: datetime, templates: Templates | None = None) -> str:
    return _one_newline((templates or Templates()).render(
        "worklog_new.md.j2", title=escape_html(title), date=now.strftime("%Y-%m-%d")
    ))


def _one_newline(text: str) -> str:
    return text.rstrip("\n") + "\n"


def _offset(now: datetime) -> str:
    text = now.strftime("%z") or "+0000"
    return f" UTC{text[:3]}:{text[3:]}"
