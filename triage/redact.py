"""Redact secrets from log text before anything is rendered.

Covered: ``Bearer …`` tokens, ``Authorization: <scheme> …`` headers and ``Basic <base64>``; JWT-shaped
strings (three base64url segments, the first a JSON header ``eyJ…``); PEM private key blocks (also over
several lines, or cut before their END line); passwords in URLs (``scheme://user:pass@host``) and in
``curl -u user:pass``; well-known token shapes (GitHub ``ghp_…``/``github_pat_…``, Stripe ``sk_live_…``,
Slack ``xoxb-…`` and webhook URLs, AWS access key ids ``AKIA…``, Google API keys ``AIza…``); values of
``key=``, ``secret=``, ``token=``, ``password=``, ``pass=``, ``api_key=`` and the like (any name ending in
key, secret, token, password, passwd, pwd or credentials, e.g. ``client_secret=``): bare values right after
``=``, quoted values also after `` = ``, unquoted ones after ``password = `` and ``--password``, the JSON /
dict forms ``"token": "…"`` (also ``b'…'``), header or YAML forms ``password: …`` / ``X-Api-Key: …``, and
``token: …`` / ``client_secret: …`` when the value looks like a secret (8+ characters, letters and digits).
Replacements keep the name and put :data:`MASK` in place of the value.

Each pattern comes with the lower-case words one of which it needs, so text holding none of them skips it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Iterable

from .model import Cluster

MASK = "[REDACTED]"

_NOT_MASK = rf"(?!{re.escape(MASK)})"
# the end of a secret-ish name: only the end matters, the name itself is kept
_NAME_END = r"(?:key|secret|token|passw(?:or)?d|pwd|credentials?|(?<![a-z0-9])pass)"
# a whole name, for forms that start at a quote
_NAME = r"(?:[\w.-]*?(?:key|secret|token|password|passwd|pwd|credentials?)|(?:[\w.-]*?[_.-])?pass)"
_SECRET_WORD = r"(?:secret|passw(?:or)?d|pwd)"
_PEM_LABEL = r"[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
_NAMES = ("key", "secret", "token", "pass", "pwd", "credential")

_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    # a PEM private key up to its END line, or (cut) as far as base64 and line breaks go
    (("-----begin",), re.compile(rf"-----BEGIN{_PEM_LABEL}(?:.*?-----END{_PEM_LABEL}|[\w+/=\\\s]*)", re.S), MASK),
    (("authorization",),
     re.compile(r"(?i)(\bauthorization\b[\"']?\s*[:=]\s*[\"']?)(?:[a-z-]+\s+)?[^\s\"',;]+"), rf"\g<1>{MASK}"),
    (("bearer",), re.compile(r"(?i)(\bbearer\s+)[a-z0-9\-._~+/]+=*"), rf"\g<1>{MASK}"),
    # Basic dXNlcjpw… (base64 holding a digit, + / or padding: not "Basic authentication failed")
    (("basic",), re.compile(r"(?i)(\bbasic\s+)(?=[a-z0-9+/]*[0-9+/=])[a-z0-9+/]{8,}={0,2}"), rf"\g<1>{MASK}"),
    (("eyj",), re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), MASK),
    # scheme://user:pass@host, up to the last "@" before the path (an unescaped "@" inside the password)
    (("@",), re.compile(r"(://[^\s:/@]*:)[^\s/]+@"), rf"\g<1>{MASK}@"),
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "k_live_", "k_test_", "xox", "akia", "asia", "aiza"),
     re.compile(
         r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|[sr]k_(?:live|test)_[A-Za-z0-9]{10,}"
         r"|xox[abprs]-[A-Za-z0-9-]{10,}|(?:AKIA|ASIA)[A-Z0-9]{16}\b|AIza[\w-]{35}(?![\w-]))"
     ),
     MASK),
    (("hooks.slack.com",), re.compile(r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/)[\w/<>*-]+"),
     rf"\g<1>{MASK}"),
    # curl -u user:pass, curl --user=user:pass
    (("curl",), re.compile(r"""(?i)(\bcurl\b[^\n]*?\s(?:-u|--user)[\s=]*["']?[^\s:"']+:)[^\s"']+"""), rf"\g<1>{MASK}"),
    # "token": "v", 'password': 'v'  (JSON, Python dict reprs)
    (_NAMES, re.compile(rf"""(?i)((["']){_NAME}\2\s*:\s*b?)(["'])(?:\\.|(?!\3).)*\3"""), rf"\g<1>\g<3>{MASK}\g<3>"),
    # the same inside a JSON string: \"token\": \"v\"
    (_NAMES, re.compile(rf"""(?i)(\\["']{_NAME}\\["']\s*:\s*\\["']).*?(\\["'])"""), rf"\g<1>{MASK}\g<2>"),
    # password="v", api_key = 'v'
    (_NAMES, re.compile(rf"""(?i)({_NAME_END}\s*=\s*)(["']){_NOT_MASK}(?:\\.|(?!\2).)*\2"""), rf"\g<1>{MASK}"),
    # PASSWORD = v (unquoted, spaced; `password = settings.PASSWORD` in a traceback's code line is kept)
    (("secret", "pass", "pwd"),
     re.compile(rf"""(?i)({_SECRET_WORD}(?:\s+=\s*|=\s+)){_NOT_MASK}(?![=\s])[^\s"'&,;()\[\]{{}}.]+(?=\.?(?:[\s,;&]|$))"""),
     rf"\g<1>{MASK}"),
    # --password v, --api-key v (command lines)
    (("--",), re.compile(rf"""(?i)(--[\w-]*?(?:{_SECRET_WORD}|token|api-key)\s+){_NOT_MASK}(?![-"'])[^\s"']+"""),
     rf"\g<1>{MASK}"),
    # password: v, X-Api-Key: v (headers, YAML)
    (("pass", "pwd", "key"),
     re.compile(r"""(?i)((?:\bpassword|\bpasswd|\bpwd|api[-_]?key)\s*:\s*)(?![\s\["'{]|\[REDACTED)[^\s"',;]+"""),
     rf"\g<1>{MASK}"),
    # token: v, client_secret: v only when v looks like one ("token: 401 - Unauthorized" is prose)
    (("secret", "token", "credential"),
     re.compile(r"""(?i)((?:secret|token|credentials?)["']?\s*:\s*)(?=[^\s"',;]*\d)(?=[^\s"',;]*[a-z])[\w+/=.~-]{8,}(?![^\s"',;])"""),
     rf"\g<1>{MASK}"),
    # token=v (no spaces: query strings, logfmt, env dumps; `key = expr` in a traceback's code line is kept);
    # a PEM value runs to the line's end
    (_NAMES,
     re.compile(rf"""(?i)({_NAME_END}=)(?![=\s]){_NOT_MASK}(?:-----BEGIN[^"'&\r\n]*|[^\s"'&,;)}}\]]+)"""),
     rf"\g<1>{MASK}"),
)


def redact(text: str) -> str:
    """``text`` with every recognised secret replaced by :data:`MASK`."""
    lower = text.lower()
    for words, pattern, replacement in _PATTERNS:
        if any(word in lower for word in words):
            text = pattern.sub(replacement, text)
    return text


def secret_words(texts: Iterable[str]) -> frozenset[str]:
    """The words (8+ characters) that :func:`redact` removes from ``texts``: secrets it recognised in context."""
    found: set[str] = set()
    for text in texts:
        kept = set(redact(text).split())
        found.update(word for word in text.split() if len(word) >= 8 and word not in kept)
    return frozenset(found)


def redact_with(text: str, secrets: frozenset[str]) -> str:
    """:func:`redact` of ``text`` that also masks the words in ``secrets``, which may stand there without the
    context that gave them away (a key's first line taken for a traceback's exception type)."""
    text = redact(text)
    return _WORD.sub(lambda word: MASK if word[0] in secrets else word[0], text) if secrets else text


_WORD = re.compile(r"\S+")


def redact_cluster(cluster: Cluster) -> Cluster:
    """A copy of ``cluster`` whose log-derived text (title, template, samples, captures) is redacted; a secret
    found in a sample is masked in the title, template and captures too."""
    secrets = secret_words(s.message for s in cluster.samples)
    return dataclasses.replace(
        cluster,
        title=redact_with(cluster.title, secrets),
        template=redact_with(cluster.template, secrets),
        samples=tuple(dataclasses.replace(s, message=redact(s.message)) for s in cluster.samples),
        captures={name: redact_with(value, secrets) for name, value in cluster.captures.items()},
    )
