"""Read and validate rule files into :class:`LoadedRule` records (matching lives in :mod:`triage.rules`).

A rule file is a YAML list of rules, or a mapping with a single ``rules:`` list. Every problem is reported as
one line ``file:line rule-id: problem`` (``file:line: problem`` when no rule id is known yet).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import regex
import yaml

from .errors import TriageError
from .model import PRIORITIES, Entry, Rule, Severity, Why

RULE_KEYS = frozenset(
    {"id", "title", "priority", "category", "match", "fingerprint", "five_whys", "remediation", "labels",
     "status", "role", "examples"}
)
REQUIRED_KEYS = ("id", "title", "priority", "category", "match")
MATCH_KEYS = frozenset({"contains", "contains_any", "regex", "severity", "service", "log_name", "http_status", "latency"})
EXAMPLE_KEYS = frozenset({"message", "captures", "severity", "service", "http_status", "latency_s", "log_name"})
STATUSES = ("experimental", "stable", "deprecated")
ROLES = ("cause", "symptom", "noise")
MAX_WHYS = 5
_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]*")
_LATENCY = re.compile(r"\s*(>=|<=|>|<)\s*(\d+(?:\.\d+)?)\s*(ms|s|m)\s*")
_STATUS_RANGE = re.compile(r"\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?")
_COMPARE: dict[str, Callable[[float, float], bool]] = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0}


class RuleError(TriageError):
    """Rules cannot be used. ``problems`` holds every ``file:line rule-id: problem`` found; the message is the
    first one, with a count of the others (exit 2)."""

    def __init__(self, message: str, problems: Sequence[str] = ()):
        self.problems = tuple(problems) or (message,)
        more = len(self.problems) - 1
        super().__init__(self.problems[0] + (f" (and {more} more problem(s): see `triage rules test`)" if more else ""))

    @classmethod
    def combine(cls, errors: Sequence["RuleError"]) -> "RuleError":
        problems = [problem for error in errors for problem in error.problems]
        return cls(problems[0], problems)


def rule_error(file: str, line: int, rule_id: str | None, problem: str) -> RuleError:
    where = f"{file}:{line}"
    return RuleError(f"{where} {rule_id}: {problem}" if rule_id else f"{where}: {problem}")


@dataclass(frozen=True, slots=True)
class MatchSpec:
    """A rule's validated ``match`` conditions; all must hold. Texts are lowercased for substring tests."""

    contains: tuple[str, ...] = ()
    contains_any: tuple[str, ...] = ()
    regex: regex.Pattern | None = None
    min_severity: Severity | None = None
    services: tuple[str, ...] = ()
    log_names: tuple[str, ...] = ()
    http_status: tuple[tuple[int, int], ...] = ()
    latency: tuple[str, float] | None = None  # (comparison, seconds)

    def fields_hold(self, entry: Entry) -> bool:
        """The conditions on entry fields (everything but the message text)."""
        if self.min_severity is not None and entry.severity < self.min_severity:
            return False
        if self.services and entry.service not in self.services:
            return False
        if self.log_names and not (entry.log_name and any(n in entry.log_name.lower() for n in self.log_names)):
            return False
        return self.request_holds(entry.http_status, entry.latency_s)

    def request_holds(self, http_status: int | None, latency_s: float | None) -> bool:
        """The conditions on request fields alone (true when there are none)."""
        if self.http_status:
            if http_status is None:
                return False
            for lo, hi in self.http_status:
                if lo <= http_status <= hi:
                    break
            else:
                return False
        if self.latency is not None:
            op, seconds = self.latency
            if latency_s is None or not _COMPARE[op](latency_s, seconds):
                return False
        return True

    @property
    def on_fields(self) -> bool:
        """True when the rule has conditions besides the text."""
        return self.min_severity is not None or bool(self.services) or bool(self.log_names) or self.on_requests

    @property
    def on_requests(self) -> bool:
        """True when the rule looks at request fields, which may match entries below the scan's severity floor."""
        return bool(self.http_status) or self.latency is not None


@dataclass(frozen=True, slots=True)
class Example:
    """One ``examples`` item: a message (plus optional entry fields) that must or must not hit its rule."""

    message: str
    should_match: bool
    line: int
    captures: Mapping[str, str] | None = None  # None: not checked
    severity: Severity = Severity.ERROR
    service: str | None = None
    log_name: str | None = None
    http_status: int | None = None
    latency_s: float | None = None

    def entry(self, file: str) -> Entry:
        return Entry(
            timestamp=None, severity=self.severity, message=self.message, service=self.service,
            log_name=self.log_name, http_status=self.http_status, latency_s=self.latency_s,
            location=f"{file}:{self.line}",
        )


@dataclass(frozen=True, slots=True)
class LoadedRule:
    rule: Rule
    spec: MatchSpec
    examples: tuple[Example, ...]


def rule_files(paths: Sequence[Path]) -> list[Path]:
    """Expand each path (file, or directory of ``*.yaml``/``*.yml`` sorted by name) in the order given."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise RuleError(f"{path}: no such rule file or directory")
    return files


def read_rule_file(path: Path) -> list[LoadedRule]:
    """Parse and validate one rule file (ids are checked for duplicates across files by the caller)."""
    file = str(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506 - safe loader subclass
    except OSError as err:
        raise RuleError(f"{file}: cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise RuleError(f"{file}: not UTF-8 text") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        problem = getattr(err, "problem", None) or str(err)
        raise rule_error(file, mark.line + 1 if mark else 1, None, f"invalid YAML: {problem}") from None
    if data is None:
        return []
    if isinstance(data, _Map):
        _reject_duplicates(data, file, None)
        if set(data) != {"rules"}:
            raise rule_error(file, data.line, None, "expected a list of rules or a mapping with only a 'rules' key")
        data = data["rules"]
    if not isinstance(data, _Seq):
        raise rule_error(file, 1, None, "expected a list of rules or a mapping with only a 'rules' key")
    rules, errors = [], []
    for item, line in zip(data, data.item_lines):
        try:
            rules.append(_read_rule(item, line, file))
        except RuleError as err:  # report every broken rule of the file, not only the first
            errors.append(err)
    if errors:
        raise RuleError.combine(errors)
    return rules


# --- YAML with line numbers -------------------------------------------------------------------------------


class _Map(dict):
    """A YAML mapping that remembers its line, each key's line and any duplicate keys."""

    line: int
    key_lines: dict[Any, int]
    duplicates: list[tuple[Any, int]]


class _Seq(list):
    """A YAML sequence that remembers each item's line."""

    def __init__(self, items: Sequence[Any] = (), lines: Sequence[int] = ()):
        super().__init__(items)
        self.item_lines = list(lines)


# libyaml's parser when PyYAML was built with it (loads the pack in a third of the time), else the pure-Python
# one; both give every node its line.
class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    pass


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    result = _Map()
    result.line, result.key_lines, result.duplicates = node.start_mark.line + 1, {}, []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            seen = key in result
        except TypeError:
            raise yaml.constructor.ConstructorError(None, None, "unhashable mapping key", key_node.start_mark) from None
        line = key_node.start_mark.line + 1
        if seen:
            result.duplicates.append((key, line))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> _Seq:
    return _Seq([loader.construct_object(child, deep=True) for child in node.value],
                [child.start_mark.line + 1 for child in node.value])


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def _reject_duplicates(value: Any, file: str, rule_id: str | None) -> None:
    if isinstance(value, _Map):
        if value.duplicates:
            key, line = value.duplicates[0]
            raise rule_error(file, line, rule_id, f"duplicate key {key!r}")
        children = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return
    for child in children:
        _reject_duplicates(child, file, rule_id)


# --- one rule ---------------------------------------------------------------------------------------------


class _Fields:
    """Typed access to one rule mapping; every failure names the file, the key's line and the rule id."""

    def __init__(self, data: _Map, file: str, rule_id: str | None):
        self.data, self.file, self.rule_id = data, file, rule_id

    def error(self, key: str | None, problem: str, line: int | None = None) -> RuleError:
        line = line or (self.data.key_lines.get(key, self.data.line) if key else self.data.line)
        return rule_error(self.file, line, self.rule_id, problem)

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.data.get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.error(key, f"'{key}' must be a non-empty string")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        """A string or a list of non-empty strings."""
        value = self.data.get(key, [])
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
            raise self.error(key, f"'{key}' must be a string or a list of non-empty strings")
        return tuple(items)

    def choice(self, key: str, choices: Sequence[str], default: str | None = None) -> str | None:
        value = self.data.get(key, default)
        if value is not None and value not in choices:
            raise self.error(key, f"bad {key} {value!r} (expected one of {', '.join(choices)})")
        return value


def _read_rule(data: Any, line: int, file: str) -> LoadedRule:
    if not isinstance(data, _Map):
        raise rule_error(file, line, None, "a rule must be a mapping")
    raw_id = data.get("id")
    rule_id = raw_id if isinstance(raw_id, str) else None
    fields = _Fields(data, file, rule_id)
    _reject_duplicates(data, file, rule_id)
    for key in REQUIRED_KEYS:
        if key not in data:
            raise fields.error(None, f"missing required key '{key}'")
    unknown = sorted(str(k) for k in data if k not in RULE_KEYS)
    if unknown:
        raise fields.error(unknown[0], f"unknown key '{unknown[0]}'")
    if rule_id is None or not _ID_PATTERN.fullmatch(rule_id):
        raise fields.error("id", f"bad id {raw_id!r} (expected a lowercase slug)")
    spec = _read_match(data["match"], fields)
    fingerprint = fields.texts("fingerprint")
    groups = set(spec.regex.groupindex) if spec.regex is not None else set()
    for name in fingerprint:
        if name not in groups:
            raise fields.error("fingerprint", f"fingerprint name '{name}' is not a named group of the regex")
    examples = _read_examples(data.get("examples"), fields)
    status = fields.choice("status", STATUSES, "experimental")
    if status == "stable":
        n_match = sum(e.should_match for e in examples)
        if n_match < 2 or len(examples) - n_match < 1:
            raise fields.error(
                "status", f"stable rules need at least 2 match and 1 no_match examples (has {n_match} and "
                f"{len(examples) - n_match})"
            )
    rule = Rule(
        id=rule_id,
        title=fields.text("title"),
        priority=fields.choice("priority", PRIORITIES),
        category=fields.text("category"),
        match=dict(data["match"]),
        fingerprint=fingerprint,
        five_whys=_read_whys(data.get("five_whys", _Seq()), fields),
        remediation=fields.texts("remediation"),
        labels=fields.texts("labels"),
        status=status,
        role=fields.choice("role", ROLES),
        examples_match=tuple(e.message for e in examples if e.should_match),
        examples_no_match=tuple(e.message for e in examples if not e.should_match),
        file=file,
        line=line,
    )
    return LoadedRule(rule, spec, examples)


def _read_match(data: Any, fields: _Fields) -> MatchSpec:
    if not isinstance(data, _Map) or not data:
        raise fields.error("match", "'match' must be a non-empty mapping of conditions")
    unknown = sorted(str(k) for k in data if k not in MATCH_KEYS)
    if unknown:
        raise fields.error(None, f"unknown match key '{unknown[0]}'", data.key_lines.get(unknown[0]))
    sub = _Fields(data, fields.file, fields.rule_id)
    return MatchSpec(
        contains=tuple(t.lower() for t in sub.texts("contains")),
        contains_any=tuple(t.lower() for t in sub.texts("contains_any")),
        regex=_compile_regex(sub),
        min_severity=_parse_severity(sub),
        services=sub.texts("service"),
        log_names=tuple(t.lower() for t in sub.texts("log_name")),
        http_status=_parse_status_ranges(sub),
        latency=_parse_latency(sub),
    )


def _compile_regex(fields: _Fields) -> regex.Pattern | None:
    pattern = fields.text("regex")
    if pattern is None:
        return None
    try:
        return regex.compile(pattern)
    except regex.error as err:
        raise fields.error("regex", f"invalid regex: {err}") from None


def _parse_severity(fields: _Fields) -> Severity | None:
    value = fields.text("severity")
    if value is None:
        return None
    try:
        return Severity.parse(value)
    except ValueError as err:
        raise fields.error("severity", str(err)) from None


def status_ranges(value: Any) -> tuple[tuple[int, int], ...] | None:
    """A rule's ``http_status`` (``503``, ``"500-599"`` or a list of those) as ranges; None when malformed, out of
    100–599 or a range runs backwards (it would match nothing)."""
    ranges = []
    for item in value if isinstance(value, list) else [value]:
        found = _STATUS_RANGE.fullmatch(str(item)) if isinstance(item, (int, str)) else None
        if not found:
            return None
        low = int(found.group(1))
        high = int(found.group(2) or low)
        if not 100 <= low <= high <= 599:
            return None
        ranges.append((low, high))
    return tuple(ranges)


def latency_condition(value: Any) -> tuple[str, float] | None:
    """A rule's ``latency`` (``"> 5s"``, ``">= 500ms"``) as (comparison, seconds); None when malformed."""
    found = _LATENCY.fullmatch(value) if isinstance(value, str) else None
    if not found:
        return None
    op, number, unit = found.groups()
    return op, float(number) * _UNIT_SECONDS[unit]


def _parse_status_ranges(fields: _Fields) -> tuple[tuple[int, int], ...]:
    value = fields.data.get("http_status", [])
    ranges = status_ranges(value)
    if ranges is None:
        raise fields.error(
            "http_status", f"bad http_status {value!r} (expected statuses within 100-599: 503, \"500-599\" or a list)"
        )
    return ranges


def _parse_latency(fields: _Fields) -> tuple[str, float] | None:
    value = fields.data.get("latency")
    if value is None:
        return None
    condition = latency_condition(value)
    if condition is None:
        raise fields.error("latency", f"bad latency {value!r} (expected e.g. \"> 5s\" or \">= 500ms\")")
    return condition


def _read_whys(data: Any, fields: _Fields) -> tuple[Why, ...]:
    if not isinstance(data, _Seq):
        raise fields.error("five_whys", "'five_whys' must be a list of {hypothesis, check}")
    if len(data) > MAX_WHYS:
        raise fields.error("five_whys", f"too many whys ({len(data)} > {MAX_WHYS})")
    whys = []
    for item, line in zip(data, data.item_lines):
        if not (isinstance(item, _Map) and set(item) == {"hypothesis", "check"}
                and all(isinstance(v, str) and v.strip() for v in item.values())):
            raise fields.error(None, "each why needs exactly a 'hypothesis' and a 'check' (non-empty strings)", line)
        whys.append(Why(hypothesis=item["hypothesis"], check=item["check"]))
    return tuple(whys)


def _read_examples(data: Any, fields: _Fields) -> tuple[Example, ...]:
    if data is None:
        return ()
    if not isinstance(data, _Map) or not set(data) <= {"match", "no_match"}:
        raise fields.error("examples", "'examples' must be a mapping with 'match' and/or 'no_match' lists")
    examples = []
    for key, should_match in (("match", True), ("no_match", False)):
        items = data.get(key, _Seq())
        if not isinstance(items, _Seq):
            raise fields.error(None, f"examples.{key} must be a list", data.key_lines.get(key))
        examples.extend(_read_example(item, line, should_match, fields) for item, line in zip(items, items.item_lines))
    return tuple(examples)


def _read_example(item: Any, line: int, should_match: bool, fields: _Fields) -> Example:
    if isinstance(item, str):
        return Example(message=item, should_match=should_match, line=line)
    if not isinstance(item, _Map) or not isinstance(item.get("message"), str):
        raise fields.error(None, "an example is a message string or a mapping with a 'message'", line)
    sub = _Fields(item, fields.file, fields.rule_id)
    unknown = sorted(str(k) for k in item if k not in EXAMPLE_KEYS)
    if unknown:
        raise sub.error(unknown[0], f"unknown example key '{unknown[0]}'")
    captures = item.get("captures")
    if captures is not None and not (
        isinstance(captures, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in captures.items())
    ):
        raise sub.error("captures", "example captures must map group names to strings")
    severity = _parse_severity(sub)
    status, latency = item.get("http_status"), item.get("latency_s")
    if status is not None and not (isinstance(status, int) and not isinstance(status, bool)):
        raise sub.error("http_status", "example http_status must be an integer")
    if latency is not None and not (isinstance(latency, (int, float)) and not isinstance(latency, bool)):
        raise sub.error("latency_s", "example latency_s must be a number of seconds")
    return Example(
        message=item["message"], should_match=should_match, line=line,
        captures=dict(captures) if captures is not None else None,
        severity=severity if severity is not None else Severity.ERROR,
        service=sub.text("service"), log_name=sub.text("log_name"), http_status=status,
        latency_s=float(latency) if latency is not None else None,
    )
