"""Group unmatched messages into recurring failures with stable fingerprints.

Three steps, each a pure function of its input:

1. :func:`mask` replaces the variable parts of a message with readable placeholders (``<IP>``,
   ``<NUM>``, ``<UUID>``, ``<HEX>``, ``<TS>``, ``<DURATION>``, ``<ID>``, ``<EMAIL>``, ``<STR>``).
   Only tokens holding a digit (or ``@``) are touched, so words — class, attribute, module,
   exception and host names — survive and keep different failures apart; a dotted name is masked part
   by part (``psycopg2.errors.DeadlockDetected`` stays, ``pg-replica-1.db.internal`` becomes
   ``<ID>.db.internal``). Quoted free text (41+ characters holding whitespace) becomes ``<STR>``; a
   quoted single token of any length (a dotted name, a dict key) is a word like any other.
2. :func:`signature` is the pre-mining key of one message: for a Python traceback, the final
   exception type (on the exception line: the first unindented line after the last frame, whatever
   lines the message goes on over) plus the innermost in-app frames (file and function; never the
   exception message or line numbers, as Error Reporting and Sentry do); for an exception group's
   traceback, the same of its leaf exception; for a traceback cut at its start (frames, then an exception
   line, no header: an export or window that begins inside it), the same of what is left, and :func:`mine`
   gives it the template of the one whole traceback whose innermost frames those are, if there is
   exactly one; otherwise the masked first line, followed by
   ``→ ExcType`` when the message ends in an exception line its first line does not name (a
   structured error's ``Type: value``, added to "Unhandled exception in request handler").
3. :func:`mine` maps the distinct signatures of a scan to :class:`Template` objects. A signature's
   *shape* is its token list where placeholders, tokens with digits, paths, booleans/nulls and
   empty brackets are ``<*>`` and a run of ``<*>`` counts as one (so value lists of any length
   match). Shapes of equal length that differ at a single position merge when at least
   ``_MIN_VARIANTS`` distinct tokens appear there and ``_MIN_CONSTANTS`` tokens stay constant
   (union-find over "shape with one hole" keys): a position seen with many values is a
   variable (user names), one with two values stays a word (opened/closed). Some words never
   become variables: a message's first word when capitalised or ending in ``:`` (its subject:
   ``Redis health check failed``, Go's ``redis: …``), exception names, dotted names of three parts
   or more, in which only digits vary (``node<*>.cluster.local``), and quoted dotted names (a
   coroutine's).
   The partition is a function of the *set* of signatures only, never of their order.

Fingerprints hash ``RECIPE_VERSION``, the kind and the generalised shape (not the display text),
so they are identical across runs and machines. Limit: mining only generalises a word position
it sees vary ``_MIN_VARIANTS`` times; a window holding one or two variants of a message whose
variable part is a plain word (say a user name) keeps that word, hence another fingerprint than
a window holding many. Masking does most of the work so this stays rare. Bump ``RECIPE_VERSION``
when a change would give a key that already exists another meaning; a change that only tells apart
failures one key held keeps it, so the clusters it does not touch keep their fingerprints (and their
filed issues).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping

RECIPE_VERSION = 1

WILDCARD = "<*>"
TRACEBACK_MARKER = "Traceback (most recent call last):"
_TRACEBACK_KIND = "traceback"
_MESSAGE_KIND = "message"
_TRACEBACK_PREFIX = "\u27e6traceback\u27e7 "  # cannot start a real single-line message in practice
_HEADLESS_PREFIX = "\u27e6cut traceback\u27e7 "  # a traceback without its header: see mine()
_TOP_FRAMES = 3
_INCOMPLETE = "Traceback (no exception line)"
_MAX_LINE = 2000  # a signature looks at most this far into the first line
_MIN_VARIANTS = 3  # distinct tokens seen at one position before it counts as a variable
_MIN_CONSTANTS = 3  # constant tokens two signatures must share to merge
_PUNCTUATION = "()[]{}<>:;,.=\"'/-_#|@"

_TOKEN_CLASS = re.compile(
    "|".join(
        f"(?P<{name}{index}>{pattern})"
        for index, (name, pattern) in enumerate(
            (
                ("UUID", r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
                ("IP", r"(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?"),
                ("TS", r"\d{4}-\d{2}-\d{2}(?:T\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?"),
                ("TS", r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?|[+-]\d{4}"),
                ("IP", r"(?=[0-9a-f:]*::|(?:[0-9a-f]{1,4}:){7})(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}"),
                ("HEX", r"0x[0-9a-f]+|(?=[0-9a-f]*[a-f])[0-9a-f]{8,}"),
                ("DURATION", r"[-+]?\d+(?:\.\d+)?(?:ns|us|µs|ms|s|sec|secs|seconds|min|mins|minutes|h|hours)"),
                ("NUM", r"[-+]?\d+(?:[.,]\d+)*%?"),
                ("EMAIL", r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
            )
        )
    ),
    re.I,
)
_WORD_WITH_VERSION = re.compile(r"[A-Za-z]{2,}\d{1,3}")  # ipv6, utf8, sha256, eth0: names, not data
_PIECE_SEPARATORS = re.compile(r"([=:/,@#|()\[\]{}])")
_OPENERS = "([{<\"'`"  # punctuation around a word that is not part of it
_CLOSERS = ")]}>\"'`,;:.!?"
_DATA_CHAR = re.compile(r"[\d@]")
_MASKED_WORDS: dict[str, str] = {}  # word → masked word; filled up to _MASKED_WORDS_KEPT, then only read
_MASKED_WORDS_KEPT = 65536
_SYSLOG_DATE = re.compile(
    r"\b(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\w* )?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\w* <NUM> <TS>", re.I
)
_TIMESTAMP_RUN = re.compile(r"<TS>(?: <TS>)+")
# values that are secrets: data, and never fit for a title ("password=…" in a word, "Bearer …" across two)
_SECRET_KEY = re.compile(r"(?i)(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)$")
_SECRET_VALUE_END = re.compile(r"[&,;'\"]")
_BEARER = re.compile(r"(?i)(\bbearer )[^\s&,;'\"]+")
_QUOTED_DATA = re.compile(r"""(?P<q>['"])(?P<body>[^'"\n]{41,})(?P=q)""")
_HAS_DIGIT = re.compile(r"\d")
_WHITESPACE = re.compile(r"\s")
_VALUE = re.compile(r"<[A-Z]+>|(?<![^=:(\[{\s])(?:true|false|null|none|nil)(?![^\s,;)\]}])", re.I)
_NULL_WORDS = frozenset(("true", "false", "null", "none", "nil"))  # the words _VALUE treats as values
_EMPTY_BRACKETS = re.compile(r"(\(|\[|\{|\"|')(\)|\]|\}|\"|')")
_PLACEHOLDER = re.compile(r"<[A-Z]+>|<\*>")
_GROUP_WORDS = "Exception Group Traceback"
_GROUP_HEADER = re.compile(r"^[ \t]*\+ Exception Group Traceback \(most recent call last\):", re.M)  # the top group's
_PLAIN_HEADER = re.compile(r"^[ \t]*Traceback \(most recent call last\):", re.M)  # outside a group's gutter
_GROUP_SEPARATOR = re.compile(r"^[ \t]*(?P<first>\+-)?\+-{3,}(?: (?:\d+|\.\.\.) -{3,})?[ \t]*$")
_GROUP_GUTTER = re.compile(r"^(?P<indent>[ \t]*)[|+](?: |$)")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line \d+, in (?P<func>\S+)', re.M)
_FRAME_START = re.compile(r'\s*File "[^"]+", line \d+, in \S+\n(?s:.)*\n[A-Za-z_]')  # frames, then an exception line
_EXCEPTION_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::|$)")
_EXCEPTION_NAME = r"(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*[A-Za-z](?:Error|Exception|Exit|Interrupt|Warning)"
_LAST_EXCEPTION = re.compile(rf"(?P<type>{_EXCEPTION_NAME})(?::.*)?\s*")
# Words mining never turns into a variable: an exception's name (KeyError:), a quoted dotted name (a coroutine's:
# 'Validator.check_redis'), and (see _DOTTED_NAME) a dotted name of three parts or more
_NAMING_WORD = re.compile(r"[A-Za-z](?:Error|Exception|Exit|Interrupt|Warning)\b|^['\"`]\w+(?:\.\w+)+['\"`]")
# A dotted name of three parts or more (psycopg2.errors.DeadlockDetected, api.stripe.com, node1.cluster.local): in a
# shape only its digits vary (node<*>.cluster.local: numbered hosts are one name, oauth2.googleapis.com another)
_DOTTED_NAME = re.compile(r"^[(\[]?[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*){2,}[)\]:,;]*$")
_DIGITS = re.compile(r"\d+")
_LIBRARY_PATH = re.compile(r"site-packages|dist-packages|[/\\]lib[/\\]python\d|^<frozen |^<")


@dataclass(frozen=True)
class Template:
    """A mined template: readable text with placeholders and its stable fingerprint."""

    text: str
    fingerprint: str


def mask(message: str) -> str:
    """Replace the variable parts of ``message`` (numbers, ids, addresses, times…) with placeholders.

    Words without digits are kept (class, attribute, module and host names tell failures apart),
    except quoted free text (41+ characters holding whitespace), which becomes ``<STR>``; a long quoted
    single token is masked as any other word. Runs of spaces within a line become one space.
    """
    if "'" in message or '"' in message:
        message = _QUOTED_DATA.sub(_quoted_data, message)
    if "earer " in message:
        message = _BEARER.sub(r"\1<SECRET>", message)
    if "\n" not in message:
        return _mask_line(message)
    return "\n".join(_mask_line(line) for line in message.split("\n"))


def _quoted_data(match: re.Match[str]) -> str:
    """``'<STR>'`` for quoted free text (it holds whitespace); a quoted single token (a dotted name, a key, a
    coroutine's name) is kept for word masking, as the words it tells failures apart by."""
    if _WHITESPACE.search(match["body"]):
        return f"{match['q']}<STR>{match['q']}"
    return match[0]


def _mask_line(line: str) -> str:
    known = _MASKED_WORDS.get
    masked = " ".join([known(word) or _masked_word(word) for word in line.split()])
    if "<TS>" in masked:
        masked = _TIMESTAMP_RUN.sub("<TS>", _SYSLOG_DATE.sub("<TS>", masked))
    return masked


def _masked_word(word: str) -> str:
    """The masked form of a word not seen yet (kept while the cache has room)."""
    key, equals, value = word.partition("=")
    if equals and _SECRET_KEY.search(key) and value[:1] and not _SECRET_VALUE_END.match(value):
        end = _SECRET_VALUE_END.search(value)  # `api_key=abc&page=2`: only the secret goes
        rest = value[end.start() :] if end else ""
        masked = f"{key}=<SECRET>" + (_mask_word(rest) if _DATA_CHAR.search(rest) else rest)
    else:
        masked = _mask_word(word) if _DATA_CHAR.search(word) else word
    if len(_MASKED_WORDS) < _MASKED_WORDS_KEPT:
        _MASKED_WORDS[word] = masked
    return masked


def _mask_word(word: str) -> str:
    """Mask one space-free word that holds a digit or ``@``, keeping its surrounding punctuation."""
    if word.isdigit() and word.isascii():
        return "<NUM>"
    core = word.lstrip(_OPENERS)
    stripped = core.rstrip(_CLOSERS)
    return word[: len(word) - len(core)] + _mask_core(stripped) + core[len(stripped) :]


@lru_cache(maxsize=8192)
def _mask_core(core: str) -> str:
    if core.isdigit() and core.isascii():  # the most common data word, without a regex
        return "<NUM>"
    found = _TOKEN_CLASS.fullmatch(core)
    if found:
        return f"<{found.lastgroup.rstrip('0123456789')}>"  # type: ignore[union-attr]
    if _PIECE_SEPARATORS.search(core):
        pieces = _PIECE_SEPARATORS.split(core)
        return "".join([_mask_core(piece) if _HAS_DIGIT.search(piece) else piece for piece in pieces])
    if _WORD_WITH_VERSION.fullmatch(core):
        return core
    if "." in core:  # a dotted name (psycopg2.errors.DeadlockDetected, pg-replica-1.db.internal): its words stay
        return ".".join([_mask_core(piece) if _HAS_DIGIT.search(piece) else piece for piece in core.split(".")])
    return "<ID>"


def signature(message: str) -> str:
    """The pre-mining grouping key of one message (see the module docstring)."""
    if TRACEBACK_MARKER in message:
        key = _traceback_key(message)
        if key:
            return _TRACEBACK_PREFIX + key
    elif _FRAME_START.match(message):  # a traceback whose start the export or window cut off
        key = _section_key(f"{TRACEBACK_MARKER}\n{message}")
        if key and not key.startswith(_INCOMPLETE):
            return _HEADLESS_PREFIX + key
    first_line, newline, rest = message.strip().partition("\n")
    masked = mask(first_line[:_MAX_LINE])
    if newline:  # a message that ends in an exception line (a structured error's "Type: value") is told apart by it
        found = _LAST_EXCEPTION.fullmatch(rest.rpartition("\n")[2])
        if found and found["type"] not in first_line:
            return f"{masked} → {found['type']}"
    return masked


def mine(signatures: Mapping[str, int]) -> dict[str, Template]:
    """Map each signature to its template; the result depends only on the set of signatures."""
    templates: dict[str, Template] = {}
    shapes: dict[tuple[str, ...], list[list[str]]] = defaultdict(list)
    sigs_of: dict[tuple[str, ...], list[str]] = defaultdict(list)
    headless = []
    for sig in signatures:
        if sig.startswith(_TRACEBACK_PREFIX):
            key = sig[len(_TRACEBACK_PREFIX) :]
            templates[sig] = _template(_TRACEBACK_KIND, key, key)
            continue
        if sig.startswith(_HEADLESS_PREFIX):
            headless.append(sig)
            continue
        shape, shown = _shape(sig)
        shapes[shape].append(shown)
        sigs_of[shape].append(sig)
    for group in _merge(shapes):
        key = _generalise(group)
        shown = [_common(token, [shown[i] for shape in group for shown in shapes[shape]]) for i, token in enumerate(key)]
        template = _template(_MESSAGE_KIND, " ".join(key), " ".join(shown))
        for shape in group:
            for sig in sigs_of[shape]:
                templates[sig] = template
    wholes = [(s[len(_TRACEBACK_PREFIX) :], t) for s, t in templates.items() if s.startswith(_TRACEBACK_PREFIX)]
    for sig in headless:
        key = sig[len(_HEADLESS_PREFIX) :]
        whole = {template for whole_key, template in wholes if _is_tail(key, whole_key)}
        templates[sig] = whole.pop() if len(whole) == 1 else _template(_TRACEBACK_KIND, key, key)
    return templates


def _is_tail(cut: str, whole: str) -> bool:
    """Whether the key of a traceback cut at its start is that of ``whole``'s last frames (the same exception, its
    innermost frames the same): ``E in a`` of ``E in a < b``."""
    return whole == cut or whole.startswith(cut + " < ")


def clear_caches() -> None:
    """Forget the masked words seen so far (benchmarks time cold runs with it)."""
    _MASKED_WORDS.clear()
    _mask_core.cache_clear()


def group_messages(messages: list[str]) -> list[str]:
    """One group key per message, in order, using the scan's algorithm with default settings."""
    signature_of = {message: signature(message) for message in dict.fromkeys(messages)}
    counts: dict[str, int] = defaultdict(int)
    for message in messages:
        counts[signature_of[message]] += 1
    templates = mine(counts)
    return [templates[signature_of[message]].fingerprint for message in messages]


def fingerprint(kind: str, *parts: str) -> str:
    """The stable fingerprint recipe: a hash of ``RECIPE_VERSION``, the kind and the key parts."""
    return hashlib.sha256("\x1f".join((str(RECIPE_VERSION), kind, *parts)).encode()).hexdigest()[:20]


def _template(kind: str, key: str, text: str) -> Template:
    return Template(text=text, fingerprint=fingerprint(kind, key))


def _common(matched: str, shown: list[str]) -> str:
    """The masked text all signatures show at one position, else the generalised token."""
    return shown[0] if all(token == shown[0] for token in shown) else matched


def _traceback_key(message: str) -> str:
    """``ExcType in file:func < file:func`` from the last traceback of a (chained) message.

    When that last traceback is an exception group's (Python 3.11: ``+ Exception Group Traceback …`` and a
    ``|`` gutter), it is keyed by a leaf exception of the group, see :func:`_group_key`.
    """
    if _GROUP_WORDS in message:
        group = None
        for group in _GROUP_HEADER.finditer(message):
            pass
        if group is not None:
            rest = message[group.start() :]
            chained = None
            for chained in _PLAIN_HEADER.finditer(rest):  # a plain traceback chained after the group comes last
                pass
            if chained is None:
                return _group_key(rest)
            message = rest[chained.start() :]
    return _section_key(message[message.rfind(TRACEBACK_MARKER) :])


def _group_key(text: str) -> str:
    """The key of an exception group's traceback: that of its leaf exception, keyed as a plain traceback.

    The gutter (``  | ``, ``    | ``) is cut off each line; the separators (``+-+---- 1 ----``, ``+----``)
    split the text into blocks, one per exception printed. A block followed by a first-child separator
    (``+-+``) is a group's own (its header, frames and ``ExceptionGroup: …`` line); any other block is a leaf
    (with its own traceback and chained parts, or only its exception line when it was never raised: it then
    takes the frames of the nearest group holding it that has frames). With several leaves, the key that sorts
    first (of those with an exception line, when some have one) stands for the group, so the order in which a task
    group's tasks failed does not matter. Text after the group ends the group. No leaf (a cut-off export): the top
    group is keyed as a plain traceback.
    """
    blocks: list[tuple[int, list[str], bool]] = []  # (indent, lines, is a group's own block)
    lines: list[str] = []
    indent = 0
    for line in text.split("\n"):
        separator = _GROUP_SEPARATOR.match(line)
        if separator:
            if lines:
                blocks.append((indent, lines, bool(separator["first"])))
            lines = []
            continue
        gutter = _GROUP_GUTTER.match(line)
        if gutter is None:
            if line.strip():
                break
            continue
        if not lines:
            indent = len(gutter["indent"])
        lines.append(line[gutter.end() :])
    if lines:
        blocks.append((indent, lines, False))
    if not blocks:
        return ""
    top_frames = _frames("\n".join(blocks[0][1]))
    groups: list[tuple[int, list[tuple[str, str]]]] = []  # the groups holding the current block: (indent, frames)
    keys = []
    for indent, lines, is_group in blocks:
        body = "\n".join(lines)
        while groups and groups[-1][0] >= indent:
            groups.pop()
        if is_group:
            groups.append((indent, _frames(body)))
            continue
        marker = body.rfind(TRACEBACK_MARKER)
        section = body[marker:] if marker >= 0 else "\n" + body  # no header: every line is after it
        outer = next((frames for _, frames in reversed(groups) if frames), top_frames)  # the nearest raised group's
        key = _section_key(section, outer)
        if key:
            keys.append(key)
    if keys:
        return min(keys, key=lambda key: (key.startswith(_INCOMPLETE), key))  # a leaf cut short only when all are
    body = "\n".join(blocks[0][1])
    return _section_key(body[body.rfind(TRACEBACK_MARKER) :])


def _frames(text: str) -> list[tuple[str, str]]:
    return [(match["file"], match["func"]) for match in _FRAME.finditer(text)]


def _section_key(last: str, outer_frames: list[tuple[str, str]] | None = None) -> str:
    """The key of one traceback; ``last`` starts at its header line. ``outer_frames`` stand in for its frames
    when it has an exception line but no frames (an exception put into a group without being raised)."""
    exception = _exception_type(last.splitlines()[1:])
    frames = _frames(last) or (outer_frames if exception and outer_frames else [])
    if not exception and not frames:
        return ""
    in_app = [frame for frame in frames if not _LIBRARY_PATH.search(frame[0])] or frames
    top = reversed(in_app[-_TOP_FRAMES:])
    where = " < ".join(f"{_short_path(path)}:{func}" for path, func in top)
    exception = exception or _INCOMPLETE  # a traceback cut short (a truncated export): its frames still tell
    return f"{exception} in {where}" if where else exception


def _exception_type(lines: list[str]) -> str:
    """The type on the exception line: the first unindented ``Name[: message]`` line after the last frame.

    A message may go on over more lines (pydantic's ``ValidationError`` lists field names, unindented, after
    ``ValidationError: 3 validation errors for Settings``); those lines are not the exception line. When no
    such line follows the last frame, the last one anywhere after the header counts.
    """
    last_frame = max((index for index, line in enumerate(lines) if _FRAME.match(line)), default=-1)
    types = [
        (index, found["type"])
        for index, line in enumerate(lines)
        if not line.startswith(" ") and (found := _EXCEPTION_LINE.match(line))
    ]
    after = [name for index, name in types if index > last_frame]
    return after[0] if after else types[-1][1] if types else ""


def _short_path(path: str) -> str:
    return "/".join(path.replace("\\", "/").split("/")[-2:])


def _shape(sig: str) -> tuple[tuple[str, ...], list[str]]:
    """The matching tokens of a signature (variables as ``<*>``) and the masked text of each.

    Variables: placeholders, tokens holding digits, paths, booleans/nulls (also as ``key=value``
    or ``key:value``) and empty brackets, which stand for an empty value. A run of variables
    counts as one token, so variable-length lists of values do not change the shape.
    """
    shape: list[str] = []
    shown: list[str] = []
    for token in sig.split():
        if token.isalpha() and token.lower() not in _NULL_WORDS:  # a plain word: a constant (the common case)
            shape.append(token)
            shown.append(token)
            continue
        if _DOTTED_NAME.match(token):
            shape.append(_DIGITS.sub(WILDCARD, token))
            shown.append(token)
            continue
        matched = _EMPTY_BRACKETS.sub(_fill_brackets, token) if len(token) > 1 else token
        if _is_variable(matched) and not _NAMING_WORD.search(token):
            if shape and shape[-1] == WILDCARD:
                shown[-1] += " " + token
                continue
            matched = WILDCARD
        else:
            matched = _VALUE.sub(WILDCARD, matched)
        shape.append(matched)
        shown.append(token)
    return tuple(shape), shown


def _fill_brackets(found: re.Match[str]) -> str:
    """``()`` → ``(<*>)``: an empty value is a value."""
    return found[1] + WILDCARD + found[2]


def _is_variable(token: str) -> bool:
    if token.count("/") >= 2 or _HAS_DIGIT.search(token):
        return True
    if "<" not in token:
        return False
    residue, placeholders = _PLACEHOLDER.subn("", token)
    return not residue or (placeholders > 1 and not residue.strip(_PUNCTUATION))


def _merge(shapes: Iterable[tuple[str, ...]]) -> list[list[tuple[str, ...]]]:
    """Group shapes of equal length that differ at a single position (union-find, order-free)."""
    parent: dict[tuple[str, ...], tuple[str, ...]] = {}

    def find(shape: tuple[str, ...]) -> tuple[str, ...]:
        while parent[shape] != shape:
            parent[shape] = parent[parent[shape]]
            shape = parent[shape]
        return shape

    holes: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
    for shape in shapes:
        parent[shape] = shape
        for position, token in enumerate(shape):
            if token != WILDCARD and not _kept_in_mining(token, position):
                holes[shape[:position] + (WILDCARD,) + shape[position + 1 :]].append(shape)
    for key, members in holes.items():
        if _mergeable(key, members):
            for other in members[1:]:
                parent[find(other)] = find(members[0])
    groups: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
    for shape in parent:
        groups[find(shape)].append(shape)
    return list(groups.values())


def _kept_in_mining(token: str, position: int) -> bool:
    """Whether a shape's token names a failure, so mining never makes it a variable: an exception's or a dotted
    name, or a first word that is the message's subject ("Redis health check failed", Go's "redis: …")."""
    if position == 0 and (token[:1].isupper() or token.endswith(":")):
        return True
    return bool(_NAMING_WORD.search(token) or _DOTTED_NAME.match(_PLACEHOLDER.sub("x", token)))  # <*>.amazonaws.com


def _mergeable(key: tuple[str, ...], members: list[tuple[str, ...]]) -> bool:
    return len(members) >= _MIN_VARIANTS and len(key) - key.count(WILDCARD) >= _MIN_CONSTANTS


def _generalise(group: list[tuple[str, ...]]) -> list[str]:
    first = min(group)
    if len(group) == 1:
        return list(first)
    return [token if all(shape[i] == token for shape in group) else WILDCARD for i, token in enumerate(first)]
