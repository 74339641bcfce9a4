"""Redact secrets from log text before anything is rendered.

Covered: ``Bearer …`` tokens and ``Authorization: <scheme> …`` headers; JWT-shaped strings (three base64url
segments, the first a JSON header ``eyJ…``); passwords in URLs (``scheme://user:pass@host``); values of
``key=``, ``secret=``, ``token=``, ``password=``, ``api_key=`` and the like (any name ending in key, secret,
token, password, passwd, pwd or credentials, e.g. ``client_secret=``): bare values right after ``=``, quoted
values also after `` = ``, the JSON / dict forms ``"token": "…"`` (also ``b'…'``), and header or YAML forms
``password: …`` / ``X-Api-Key: …``. Replacements keep the name and put :data:`MASK` in place of the value.
"""

from __future__ import annotations

import dataclasses
import re

from .model import Cluster

MASK = "[REDACTED]"

_NAME = r"[\w.-]*?(?:key|secret|token|password|passwd|pwd|credentials?)"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)(\bauthorization\b[\"']?\s*[:=]\s*[\"']?)(?:[a-z-]+\s+)?[^\s\"',;]+"), rf"\g<1>{MASK}"),
    (re.compile(r"(?i)(\bbearer\s+)[a-z0-9\-._~+/]+=*"), rf"\g<1>{MASK}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), MASK),
    # scheme://user:pass@host, up to the last "@" before the path (an unescaped "@" inside the password)
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s/]+@"), rf"\g<1>{MASK}@"),
    # "token": "v", 'password': 'v'  (JSON, Python dict reprs)
    (re.compile(rf"""(?i)((["']){_NAME}\2\s*:\s*b?)(["'])(?:\\.|(?!\3).)*\3"""), rf"\g<1>\g<3>{MASK}\g<3>"),
    # the same inside a JSON string: \"token\": \"v\"
    (re.compile(rf"""(?i)(\\["']{_NAME}\\["']\s*:\s*\\["']).*?(\\["'])"""), rf"\g<1>{MASK}\g<2>"),
    # password="v", api_key = 'v'
    (re.compile(rf"""(?i)(\b{_NAME}\s*=\s*)(["'])(?!{re.escape(MASK)})(?:\\.|(?!\2).)*\2"""), rf"\g<1>{MASK}"),
    # password: v, X-Api-Key: v (headers, YAML); not token:/secret:, whose colon forms in logs are prose
    (re.compile(r"""(?i)(\b(?:password|passwd|pwd|[\w-]*api[-_]?key)\s*:\s*)(?![\s\["'{]|\[REDACTED)[^\s"',;]+"""),
     rf"\g<1>{MASK}"),
    # token=v (no spaces: query strings, logfmt, env dumps; `key = expr` in a traceback's code line is kept)
    (re.compile(rf"""(?i)(\b{_NAME}=)(?![=\s]|{re.escape(MASK)})[^\s"'&,;)}}\]]+"""), rf"\g<1>{MASK}"),
)


def redact(text: str) -> str:
    """``text`` with every recognised secret replaced by :data:`MASK`."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_cluster(cluster: Cluster) -> Cluster:
    """A copy of ``cluster`` whose log-derived text (title, template, samples, captures) is redacted."""
    return dataclasses.replace(
        cluster,
        title=redact(cluster.title),
        template=redact(cluster.template),
        samples=tuple(dataclasses.replace(s, message=redact(s.message)) for s in cluster.samples),
        captures={name: redact(value) for name, value in cluster.captures.items()},
    )
