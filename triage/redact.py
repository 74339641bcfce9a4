"""Redact secrets from log text before anything is rendered.

Covered: ``Bearer …`` tokens, ``Authorization: <scheme> …`` headers (also a header map's list, Go's
``Authorization:[Bearer …]``) and ``Basic <base64>``; JWT-shaped
strings (three base64url segments, the first a JSON header ``eyJ…``; also cut after the second); PEM private
key blocks (also over several lines, or cut before their END line); passwords in URLs (``scheme://user:pass@host``) and in
``curl -u user:pass``; well-known token shapes (GitHub ``ghp_…``/``github_pat_…``, Stripe ``sk_live_…``,
Slack ``xoxb-…`` and webhook URLs, AWS access key ids ``AKIA…``, Google API keys ``AIza…``, Google OAuth
access tokens ``ya29.…``, client secrets ``GOCSPX-…`` and authorization codes ``4/0A…``, OpenAI and
Anthropic API keys ``sk-…``, ``sk-proj-…``, ``sk-ant-…``); ``Cookie:`` and ``Set-Cookie:`` values; values of
``key=``, ``secret=``, ``token=``, ``password=``, ``pass=``, ``api_key=`` and the like (any name ending in key,
secret, token, password, passwd, pwd or credentials, e.g. ``client_secret=``); signatures of 16+ characters after
``sig=``, ``signature=``, ``X-Goog-Signature:`` or ``"signature":``; bare values right after ``=``, quoted values also after `` = ``, unquoted ones after
``password = `` (or, when the value looks like a secret, any kept name below: ``aws_secret_access_key = …``) and ``--password`` / ``--db-pass``, a quoted value holding a digit right after ``password``, the JSON /
dict forms ``"token": "…"`` (also ``b'…'``, and Ruby's ``"password"=>"…"``), header or YAML forms ``password: …`` / ``db_password: …`` /
``X-Api-Key: …``, any quoted value after a secret's name and a colon (``api_key: '…'``, also camelCase as
Node prints an object: ``clientSecret: '…'``, ``secretAccessKey: '…'``), and ``token: …`` /
``client_secret: …`` when the value looks like a secret (8+ characters, letters and digits).
Replacements keep the name and put :data:`MASK` in place of the value.

Each pattern comes with the lower-case words one of which it needs, so text holding none of them skips it
(and text holding none at all skips every pattern at once).

A secret often shows twice: in context (``password=…``, ``Authorization: Basic …``) and bare (a title, a
capture, the first line of the same sample). :func:`redact_found` reports the values the patterns masked (the
value only, :data:`MIN_SECRET`+ characters) and :func:`redact_with` masks those values as substrings wherever
they stand; :func:`redact_cluster` does both over all of a cluster's log-derived text.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from typing import Iterable

from .model import Cluster

MASK = "[REDACTED]"

_NOT_MASK = rf"(?!{re.escape(MASK)})"
# the end of a secret-ish name: only the end matters, the name itself is kept
_NAME_END = r"(?:key|secret|token|passw(?:or)?d|pwd|credentials?|(?<![a-z0-9])pass)"
# a whole name, for forms that start at a quote
_NAME = r"(?:[\w.-]*?(?:key|secret|token|password|passwd|pwd|credentials?)|(?:[\w.-]*?[_.-])?pass)"
# a name that says its value is kept secret ("cache key" does not), also the last word of a camelCase name
# (clientSecret, secretAccessKey)
_KEPT_NAME = r"(?:[\w.-]*?(?:[_.-]|(?-i:(?<=[a-z0-9])(?=[A-Z]))))?(?:(?:api|access|private|secret|signing)[-_]?key|secret|token|passw(?:or)?d|pwd|credentials?)"
_SECRET_WORD = r"(?:secret|passw(?:or)?d|pwd)"
_PEM_LABEL = r"[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
_NAMES = ("key", "secret", "token", "pass", "pwd", "credential")

_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    # a PEM private key up to its END line, or (cut) as far as base64, line breaks and its headers (Proc-Type:) go
    (("-----begin",), re.compile(rf"-----BEGIN{_PEM_LABEL}(?:.*?-----END{_PEM_LABEL}|[\w+/=\\\s:,.-]*)", re.S), MASK),
    (("authorization",),
     # also a header map's list of values: Go's Authorization:[Bearer …], Java's Authorization=[…], JSON's ["…"]
     re.compile(rf"(?i)(\bauthorization\b[\"']?\s*[:=]\s*{_NOT_MASK}(?:\[\s*)?[\"']?)(?:[a-z-]+\s+)?(?P<v>(?!\[)[^\s\"',;\]]+)"),
     rf"\g<1>{MASK}"),
    (("bearer",), re.compile(r"(?i)(\bbearer\s+)(?P<v>[a-z0-9\-._~+/]+=*)"), rf"\g<1>{MASK}"),
    # Basic dXNlcjpw… (base64 holding a digit, + / or padding: not "Basic authentication failed")
    (("basic",), re.compile(r"(?i)(\bbasic\s+)(?P<v>(?=[a-z0-9+/]*[0-9+/=])[a-z0-9+/]{8,}={0,2})"), rf"\g<1>{MASK}"),
    # a JWT, also cut before its signature (its claims are there)
    (("eyj",), re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?"), MASK),
    # scheme://user:pass@host, up to the last "@" before the path (an unescaped "@" inside the password)
    (("@",), re.compile(r"(://[^\s:/@]*:)(?P<v>[^\s/]+)@"), rf"\g<1>{MASK}@"),
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "k_live_", "k_test_", "xox", "akia", "asia", "aiza", "sk-",
      "ya29.", "gocspx-", "4/0a", "4%2f0a"),
     re.compile(
         r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|[sr]k_(?:live|test)_[A-Za-z0-9]{10,}"
         # OpenAI sk-<32+ letters and digits>, sk-proj-… (also svcacct, admin); Anthropic sk-ant-api03-… (not a
         # name such as sk-payments-gateway-00042)
         r"|sk-(?:(?:proj|svcacct|admin)-|ant-[a-z]+\d\d-)[\w-]{20,}|sk-[A-Za-z0-9]{32,}"
         r"|xox[abprs]-[A-Za-z0-9-]{10,}|(?:AKIA|ASIA)[A-Z0-9]{16}\b|AIza[\w-]{35}(?![\w-])"
         # Google OAuth access tokens (ya29.…, with or without "Bearer"), OAuth client secrets (GOCSPX-…) and
         # authorization codes (4/0A…, as in ?code=4/0AX4…)
         r"|ya29\.[\w-]{20,}|GOCSPX-[\w-]{20,}|(?<![\w/%])4(?:/|%2F)0A[\w-]{20,})"
     ),
     MASK),
    (("hooks.slack.com",), re.compile(r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/)(?P<v>[\w/<>*-]+)"),
     rf"\g<1>{MASK}"),
    # Cookie: sid=…; csrftoken=… and Set-Cookie: sid=…; Path=/ (a session is a credential): the whole value
    (("cookie",),
     re.compile(r"""(?i)(\b(?:set-)?cookie["']?\s*:\s*["']?)(?P<v>[^\s=;"']+=[^\s;"']+(?:;\s*[^\s=;"']+(?:=[^\s;"']*)?)*)"""),
     rf"\g<1>{MASK}"),
    # a signature of a signed URL or request: sig=, signature=, X-Goog-Signature: / "signature": "…" (16+ characters of
    # base64 or hex, so "signature mismatch" is prose)
    (("sig",),
     re.compile(r"""(?i)((?:[?&;]sig|\b(?:[\w-]*-)?signature)["']?\s*[:=]\s*["']?)(?P<v>[A-Za-z0-9%+/=_.-]{16,})"""),
     rf"\g<1>{MASK}"),
    # curl -u user:pass, curl --user=user:pass
    (("curl",), re.compile(r"""(?i)(\bcurl\b[^\n]*?\s(?:-u|--user)[\s=]*["']?[^\s:"']+:)(?P<v>[^\s"']+)"""), rf"\g<1>{MASK}"),
    # "token": "v", 'password': 'v'  (JSON, Python dict reprs), "password"=>"v" (Ruby)
    (_NAMES, re.compile(rf"""(?i)((["']){_NAME}\2\s*(?::|=>)\s*b?)(["'])(?P<v>(?:\\.|(?!\3).)*)\3"""), rf"\g<1>\g<3>{MASK}\g<3>"),
    # the same inside a JSON string: \"token\": \"v\"
    (_NAMES, re.compile(rf"""(?i)(\\["']{_NAME}\\["']\s*:\s*\\["'])(?P<v>.*?)(\\["'])"""), rf"\g<1>{MASK}\g<3>"),
    # password="v", api_key = 'v'
    (_NAMES, re.compile(rf"""(?i)({_NAME_END}\s*=\s*)(["']){_NOT_MASK}(?P<v>(?:\\.|(?!\2).)*)\2"""), rf"\g<1>{MASK}"),
    # PASSWORD = v (unquoted, spaced; `password = settings.PASSWORD` in a traceback's code line is kept)
    (("secret", "pass", "pwd"),
     re.compile(rf"""(?i)({_SECRET_WORD}(?:\s+=\s*|=\s+)){_NOT_MASK}(?P<v>(?![=\s])[^\s"'&,;()\[\]{{}}.]+)(?=\.?(?:[\s,;&]|$))"""),
     rf"\g<1>{MASK}"),
    # aws_secret_access_key = v, session_token = v: after another kept name only a value that looks like a secret (8+
    # characters, letters and digits: not "token = None", "maxToken = 4096"); the name starts a token, so that a
    # long run of word characters is not searched again from each of its word boundaries
    (_NAMES,
     re.compile(rf"""(?i)((?<![\w.-]){_KEPT_NAME}(?:\s+=\s*|=\s+))(?P<v>(?=[^\s"',;]*\d)(?=[^\s"',;]*[a-z])"""
                rf"""[^\s"'&,;()\[\]{{}}]{{7,}}[^\s"'&,;()\[\]{{}}.:!?])(?=[.:!?]?(?:[\s,;&)\]}}]|$))"""),
     rf"\g<1>{MASK}"),
    # invalid password 'Zx9!Qw8@Er7#' (a quoted value with a digit right after the word: not "password 'reset'")
    (("pass", "pwd"),
     re.compile(rf"""(?i)(\b(?:passw(?:or)?d|pwd)\s+)(["']){_NOT_MASK}(?P<v>(?=[^"'\s]*\d)[^"'\s]{{6,}})\2"""),
     rf"\g<1>\g<2>{MASK}\g<2>"),
    # --password v, --api-key v (command lines)
    (("--",), re.compile(rf"""(?i)(--(?:[\w-]*?(?:{_SECRET_WORD}|token|api-key)|(?:[\w-]*[-_])?pass)\s+){_NOT_MASK}(?P<v>(?![-"'])[^\s"']+)"""),
     rf"\g<1>{MASK}"),
    # password: v, X-Api-Key: v (headers, YAML)
    (("pass", "pwd", "key"),
     re.compile(r"""(?i)((?:\b|_)(?:password|passwd|pwd|api[-_]?key)\s*:\s*)(?![\s\["'{]|\[REDACTED)(?P<v>[^\s"',;]+)"""),
     rf"\g<1>{MASK}"),
    # api_key: 'v', secret: "v" (YAML, log text: a quoted value is a value, prose or not)
    (_NAMES, re.compile(rf"""(?i)((?<![\w.-]){_KEPT_NAME}\s*:\s*)(["']){_NOT_MASK}(?P<v>(?:\\.|(?!\2).)*)\2"""), rf"\g<1>\g<2>{MASK}\g<2>"),
    # token: v, client_secret: v only when v looks like one ("token: 401 - Unauthorized" is prose)
    (("secret", "token", "credential"),
     re.compile(r"""(?i)((?:secret|token|credentials?)["']?\s*:\s*)(?P<v>(?=[^\s"',;]*\d)(?=[^\s"',;]*[a-z])[\w+/=.~-]{8,})(?![^\s"',;])"""),
     rf"\g<1>{MASK}"),
    # token=v (no spaces: query strings, logfmt, env dumps; `key = expr` in a traceback's code line is kept);
    # a PEM value runs to the line's end
    (_NAMES,
     re.compile(rf"""(?i)({_NAME_END}=)(?![=\s]){_NOT_MASK}(?P<v>-----BEGIN[^"'&\r\n]*|[^\s"'&,;)}}\]]+)"""),
     rf"\g<1>{MASK}"),
)


# Any word that lets a pattern run (each pattern runs only when one of its words is in the lowered text).
_ANY_HINT = re.compile("|".join(sorted({re.escape(word) for words, _, _ in _PATTERNS for word in words})))


def redact(text: str) -> str:
    """``text`` with every recognised secret replaced by :data:`MASK`."""
    return redact_found(text)[0]


MIN_SECRET = 8
"""Shortest value :func:`redact_found` reports: a shorter one is masked where its context gives it away, but not
looked for elsewhere (``password=secret`` must not mask every "secret")."""


def redact_found(text: str) -> tuple[str, frozenset[str]]:
    """:func:`redact` of ``text`` and the secret values it masked there (the value only, not ``password=`` or
    ``Basic ``; each :data:`MIN_SECRET`+ characters; a PEM block gives the words of its body), for
    :func:`redact_with` to mask wherever they show without their context."""
    lower = text.lower()
    if not _ANY_HINT.search(lower):
        return text, frozenset()
    found: set[str] = set()

    def masked(match: re.Match[str], replacement: str) -> str:
        value = match["v"] if "v" in match.re.groupindex else match[0]
        if len(value) >= MIN_SECRET:
            _add_values(value, found)
        return match.expand(replacement)

    for words, pattern, replacement in _PATTERNS:
        if any(word in lower for word in words):
            text = pattern.sub(lambda match, r=replacement: masked(match, r), text)
    return text, frozenset(found)


# a PEM armor line (maybe cut), and what separates a PEM body's lines (also escaped: \n in a JSON string)
_PEM_ARMOR = re.compile(r"-----(?:BEGIN|END)[A-Z0-9 ]*(?:-----)?")
_PEM_BREAK = re.compile(r"(?:\s|\\[nr])+")


def _add_values(value: str, found: set[str]) -> None:
    for piece in value.split(MASK):  # a part already masked by an earlier pattern
        if "-----" in piece or "\n" in piece or "\\n" in piece:  # a PEM block: the words of its body
            found.update(w for w in _PEM_BREAK.split(_PEM_ARMOR.sub(" ", piece)) if len(w) >= MIN_SECRET)
        elif len(piece := piece.strip()) >= MIN_SECRET and piece not in MASK:  # password=REDACTED
            found.add(piece)


def found_secrets(texts: Iterable[str]) -> frozenset[str]:
    """The secret values :func:`redact` masks in ``texts`` (see :func:`redact_found`)."""
    found: set[str] = set()
    for text in texts:
        found.update(redact_found(text)[1])
    return frozenset(found)


def redact_with(text: str, secrets: frozenset[str]) -> str:
    """:func:`redact` of ``text`` that also masks each value in ``secrets`` wherever it occurs, also inside a word
    (``x=<secret>``, ``(<secret>)``): a secret found in context elsewhere may stand here without it (bare in a
    title, or a key's first line taken for a traceback's exception type)."""
    text = redact(text)
    if not secrets or not any(secret in text for secret in secrets):
        return text
    return _masker(secrets).sub(MASK, text)


@functools.lru_cache(maxsize=64)
def _masker(secrets: frozenset[str]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(s) for s in sorted(secrets, key=lambda s: (-len(s), s))))


def cluster_secrets(cluster: Cluster) -> frozenset[str]:
    """The secret values found in the cluster's log-derived text: samples, title, template and captures."""
    return found_secrets(
        itertools.chain((s.message for s in cluster.samples), (cluster.title, cluster.template), cluster.captures.values())
    )


def redact_title(cluster: Cluster) -> str:
    """The cluster's title, redacted, with the secrets found in its samples masked too."""
    return redact_with(cluster.title, cluster_secrets(cluster))


def redact_cluster(cluster: Cluster) -> Cluster:
    """A copy of ``cluster`` whose log-derived text (title, template, samples, captures) is redacted; a secret
    found anywhere in that text is masked everywhere in it, also where it stands without its context."""
    secrets = cluster_secrets(cluster)
    return dataclasses.replace(
        cluster,
        title=redact_with(cluster.title, secrets),
        template=redact_with(cluster.template, secrets),
        samples=tuple(dataclasses.replace(s, message=redact_with(s.message, secrets)) for s in cluster.samples),
        captures={name: redact_with(value, secrets) for name, value in cluster.captures.items()},
    )
