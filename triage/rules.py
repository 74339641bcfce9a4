"""Match log entries against the rule pack: the first matching rule wins.

Match order: priority first (P0 before P1 …), then file order — paths in the order given, the files of a
directory sorted by name — then the order of rules within a file. Deprecated rules are loaded (their ids stay
reserved) but never match.

Speed: every rule gets *trigger* literals, lowercase strings of which at least one must occur in the
lowercased message (the longest ``contains`` item, the ``contains_any`` items, or the longest literal run the
regex requires). One regex over the prefix trie of all triggers tells whether any occurs; a message with none
is only offered to rules without triggers (pure field rules such as slow requests), so a healthy line costs one
pass. A message longer than twice :data:`MAX_LINE` characters is matched on its first and last
:data:`MAX_LINE` characters (a long traceback ends in the exception line rules look for); each regex runs with
:data:`REGEX_TIMEOUT_S`, and a rule that times out is skipped for that entry and reported once in
:attr:`RuleSet.timeouts`.
"""

from __future__ import annotations

import re
import re._parser as sre_parse  # the stdlib regex parser, used only to find required literals
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from .model import PRIORITIES, Entry, Rule
from .resources import data_dir
from .rules_load import LoadedRule, MatchSpec, RuleError, read_rule_file, rule_error, rule_files

__all__ = ["MAX_LINE", "REGEX_TIMEOUT_S", "RuleError", "RuleHit", "RuleSet", "ExampleFailure", "check_examples",
           "load_rules"]

MAX_LINE = 8192
REGEX_TIMEOUT_S = 0.1
_REMEMBERED = 4096  # answers kept for repeated messages, of at most _REMEMBERED_CHARS characters
_REMEMBERED_CHARS = 1024
_FUZZY = re.compile(r"\{[^{}]*[eisd]\s*(?:<=?|=)")  # the `regex` module's fuzzy constraints: {e<=1}, {i<=2,d<=1}
_PREFIX = 32  # the combined prefilter looks for trigger prefixes: still necessary, and keeps its regex small


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule: Rule
    captures: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class _Compiled:
    loaded: LoadedRule
    triggers: tuple[str, ...]  # empty: the rule has no text condition to prefilter on
    on_fields: bool  # the rule has conditions on fields besides the text

    @property
    def rule(self) -> Rule:
        return self.loaded.rule

    @property
    def spec(self) -> MatchSpec:
        return self.loaded.spec


class RuleSet:
    """Rules in match order; :meth:`match` finds the first rule that matches an entry."""

    def __init__(self, loaded: Sequence[LoadedRule]):
        order = sorted(range(len(loaded)), key=lambda i: (PRIORITIES.index(loaded[i].rule.priority), i))
        self._all = tuple(_Compiled(loaded[i], _triggers(loaded[i].spec), loaded[i].spec.on_fields) for i in order)
        active = [c for c in self._all if c.rule.status != "deprecated"]
        self._ungated = tuple(c for c in active if not c.triggers)
        self._active = tuple(active)
        self._any_trigger = _literal_search({t[:_PREFIX] for c in active for t in c.triggers})
        self.request_specs = tuple(c.spec for c in active if c.spec.on_requests)  # rules on http status / latency
        self._timeouts: dict[str, str] = {}  # rule id → the warning about its first timeout
        self._recent: dict[tuple, RuleHit | None] = {}
        self.rules: tuple[Rule, ...] = tuple(c.rule for c in self._all)

    def match(self, entry: Entry) -> RuleHit | None:
        """The first rule (in match order) whose conditions all hold for ``entry``, with its regex captures.

        Failures repeat: the answers for recent messages (with the fields rules look at) are remembered."""
        if len(entry.message) > _REMEMBERED_CHARS:
            return self._match(entry)
        key = (entry.message, entry.severity, entry.service, entry.log_name, entry.http_status, entry.latency_s)
        try:
            return self._recent[key]
        except KeyError:
            pass
        if len(self._recent) >= _REMEMBERED:
            self._recent.clear()
        hit = self._recent[key] = self._match(entry)
        return hit

    def _match(self, entry: Entry) -> RuleHit | None:
        text = matched_text(entry.message)
        lowered = text.lower()
        candidates = self._active if self._any_trigger(lowered) else self._ungated
        for compiled in candidates:
            if compiled.triggers:  # one must occur (a plain loop: this is the hot path)
                for trigger in compiled.triggers:
                    if trigger in lowered:
                        break
                else:
                    continue
            captures = self._match_one(compiled, entry, text, lowered)
            if captures is not None:
                return RuleHit(compiled.rule, captures)
        return None

    def needs_below_floor(self, entry: Entry) -> bool:
        """True when a rule on request fields (http status, latency) could match ``entry`` whatever its severity."""
        if entry.http_status is None and entry.latency_s is None:
            return False
        return any(spec.fields_hold(entry) for spec in self.request_specs)

    def may_want_request(self, http_status: int | None, latency_s: float | None) -> bool:
        """False when no rule on requests can match a request of this status and latency, whatever else the
        entry holds (a quick test on the raw record; :meth:`needs_below_floor` decides on the entry)."""
        if http_status is None and latency_s is None:
            return False
        for spec in self.request_specs:
            if spec.request_holds(http_status, latency_s):
                return True
        return False

    def _match_one(self, compiled: _Compiled, entry: Entry, text: str, lowered: str) -> dict[str, str] | None:
        spec = compiled.spec
        if compiled.on_fields and not spec.fields_hold(entry):
            return None
        for literal in spec.contains:
            if literal not in lowered:
                return None
        if spec.contains_any and not any(t in lowered for t in spec.contains_any):
            return None
        if spec.regex is None:
            return {}
        try:
            found = spec.regex.search(text, timeout=REGEX_TIMEOUT_S)
        except TimeoutError:
            self._report_timeout(compiled.rule, entry)
            return None
        if found is None:
            return None
        return {name: _one_line(value) for name, value in found.groupdict().items() if value is not None}

    @property
    def timeouts(self) -> list[str]:
        """One warning per rule whose regex timed out, about its first timeout."""
        return list(self._timeouts.values())

    def timeouts_by_rule(self) -> dict[str, str]:
        """The warnings of :attr:`timeouts`, by rule id (for :meth:`take_timeouts` of another copy)."""
        return dict(self._timeouts)

    def take_timeouts(self, found: Mapping[str, str]) -> None:
        """Add the timeouts another copy of this set met later in the same scan (rules already reported stay)."""
        for rule_id, warning in found.items():
            self._timeouts.setdefault(rule_id, warning)

    def forget(self) -> None:
        """Drop the timeouts met and the answers remembered so far (a timed-out rule is remembered as no match)."""
        self._timeouts.clear()
        self._recent.clear()

    def _report_timeout(self, rule: Rule, entry: Entry) -> None:
        if rule.id not in self._timeouts:
            where = entry.location or "an entry"
            self._timeouts[rule.id] = f"rule {rule.id}: regex timed out on {where}; rule skipped for that entry"


def matched_text(message: str) -> str:
    """What rules are matched against: ``message``, or of a longer one its first and last :data:`MAX_LINE`
    characters on lines of their own."""
    if len(message) <= 2 * MAX_LINE:
        return message
    return message[:MAX_LINE] + "\n" + message[-MAX_LINE:]


def load_rules(paths: Sequence[Path] | None = None) -> RuleSet:
    """Load and validate rule files; ``None`` loads the default pack. Raises :class:`RuleError`."""
    files = rule_files([data_dir("rules")] if paths is None else paths)
    loaded: list[LoadedRule] = []
    seen: dict[str, Rule] = {}
    errors: list[RuleError] = []
    for path in files:
        try:
            items = read_rule_file(path)
        except RuleError as err:  # go on: every file's problems are reported at once
            errors.append(err)
            continue
        for item in items:
            first = seen.get(item.rule.id)
            if first is not None:
                errors.append(rule_error(
                    item.rule.file, item.rule.line, item.rule.id, f"duplicate id (first defined at {first.file}:{first.line})"
                ))
                continue
            seen[item.rule.id] = item.rule
            loaded.append(item)
    if errors:
        raise RuleError.combine(errors)
    if not loaded:  # an empty file or a folder of them: a mistake, not a way to turn rules off
        raise RuleError(f"no rule in {', '.join(str(path) for path in paths or files) or 'the rule pack'}")
    return RuleSet(loaded)


@dataclass(frozen=True, slots=True)
class ExampleFailure:
    location: str  # file:line of the example
    rule_id: str
    problem: str

    def __str__(self) -> str:
        return f"{self.location} {self.rule_id}: {self.problem}"


def check_examples(rule_set: RuleSet) -> tuple[int, list[ExampleFailure]]:
    """Run every active rule's examples through the whole set; return (examples run, failures).

    A ``match`` example must be hit by its own rule (not an earlier one) with the declared captures; a
    ``no_match`` example must not be hit by its own rule.
    """
    failures: list[ExampleFailure] = []
    count = 0
    for compiled in rule_set._active:
        rule = compiled.rule
        for example in compiled.loaded.examples:
            count += 1
            entry = example.entry(rule.file)
            hit = rule_set.match(entry)
            hit_id = hit.rule.id if hit else None
            problem = None
            if example.should_match and hit_id is None:
                problem = f"example not matched: {example.message!r}"
            elif example.should_match and hit_id != rule.id:
                problem = f"example matched by {hit_id} first: {example.message!r}"
            elif example.should_match and example.captures is not None and dict(hit.captures) != example.captures:
                problem = f"captures {dict(hit.captures)} != declared {example.captures}"
            elif not example.should_match and hit_id == rule.id:
                problem = f"no_match example matched: {example.message!r}"
            if problem:
                failures.append(ExampleFailure(entry.location, rule.id, problem))
    return count, failures


def _one_line(value: str) -> str:
    """A capture as one line: its line breaks and tabs written ``\\n``, ``\\r``, ``\\t``, as a message Cloud Run
    split and stitching joined again shows them (one failure, one fingerprint, whichever way it arrived)."""
    return value.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


# --- trigger literals -------------------------------------------------------------------------------------


def _literal_search(words: set[str]) -> Callable[[str], object]:
    """One pass over a text that finds whether any of ``words`` occurs: a regex over the words' prefix trie."""
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict) -> str:
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        group = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:  # a word ends here: the rest is optional
            return f"(?:{group})?" if len(branches) == 1 else group + "?"
        return group

    return re.compile(pattern(trie)).search if words else lambda text: None


def _triggers(spec: MatchSpec) -> tuple[str, ...]:
    """The cheapest necessary condition on the lowercased text: one of these strings must occur."""
    options = []
    if spec.contains:
        options.append((max(spec.contains, key=len),))
    if spec.contains_any:
        options.append(spec.contains_any)
    if spec.regex is not None:
        options.append(regex_literals(spec.regex.pattern))
    options = [o for o in options if o]
    return max(options, key=lambda o: min(map(len, o))) if options else ()


def regex_literals(pattern: str) -> tuple[str, ...]:
    """Lowercased literals of which one must occur in any text the pattern matches; () when unknown."""
    if "[[:" in pattern or "\\p{" in pattern or "\\X" in pattern or _FUZZY.search(pattern):
        return ()  # `regex`-only syntax that `re` reads otherwise (a fuzzy ``{e<=1}`` as literal text)
    try:
        parsed = sre_parse.parse(pattern)
    except Exception:  # noqa: BLE001 - syntax of the `regex` module that `re` does not know: no prefilter
        return ()
    return tuple(t.lower() for t in _required(list(parsed)))


def _required(items: list) -> tuple[str, ...]:
    """Best required-literal alternatives of a parsed sequence: the option whose shortest literal is longest."""
    options: list[tuple[str, ...]] = []
    run: list[str] = []

    def close_run() -> None:
        if run:
            options.append(("".join(run),))
            run.clear()

    for op, arg in items:
        if op == sre_parse.LITERAL:
            run.append(chr(arg))
            continue
        close_run()
        if op == sre_parse.SUBPATTERN:
            options.append(_required(list(arg[-1])))
        elif op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, sre_parse.POSSESSIVE_REPEAT) and arg[0] >= 1:
            options.append(_required(list(arg[2])))
        elif op == sre_parse.BRANCH:
            branches = [_required(list(b)) for b in arg[1]]
            if all(branches):
                options.append(tuple(dict.fromkeys(t for b in branches for t in b)))
    close_run()
    options = [o for o in options if o]
    return max(options, key=lambda o: min(map(len, o))) if options else ()
