"""`triage rules list` and `triage rules test`: show the rule pack and run its examples."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer
from rich.console import Console
from rich.table import Table

from . import CommandGroup, app, fail_from, fatal

if TYPE_CHECKING:
    from ..rules import RuleSet

rules_app = typer.Typer(
    cls=CommandGroup, help="List the rules and test them against their own examples.", no_args_is_help=True
)
app.add_typer(rules_app, name="rules")

_COLUMNS = ("id", "priority", "category", "title", "file")


def _load(paths: Optional[List[Path]]) -> "RuleSet":
    """The rules (without ``paths``, those of ``triage.toml``'s ``rules``, as `triage scan` loads them, else the
    shipped pack), or every load problem on its own line (``Error: file:line rule-id: problem``) and exit 2."""
    from ..config import load_config
    from ..errors import TriageError
    from ..rules import RuleError, load_rules  # imported here: `triage --help` needs no rule engine

    try:
        return load_rules(paths or list(load_config(Path.cwd()).rules) or None)
    except RuleError as err:
        for problem in err.problems[:-1]:
            typer.echo(f"Error: {problem}", err=True)
        fatal(err.problems[-1])
    except TriageError as err:  # the config file
        fail_from(err)


@rules_app.command("list")
def list_rules(
    rules: Optional[List[Path]] = typer.Option(
        None, "--rules", metavar="PATH", help="Rule file or directory (repeatable); replaces triage.toml's rules and the default pack."
    ),
) -> None:
    """Print every rule in match order: id, priority, category, title, file."""
    rows = [(r.id, r.priority, r.category, r.title, f"{_shown(r.file)}:{r.line}") for r in _load(rules).rules]
    if sys.stdout.isatty():
        table = Table(*_COLUMNS)
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        return
    widths = [max(len(str(v)) for v in column) for column in zip(_COLUMNS, *rows)]
    for row in (_COLUMNS, *rows):
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def _shown(file: str) -> str:
    """A rule file as a reader wants it: relative to the working directory, or to the shipped pack."""
    from ..resources import data_dir

    path = Path(file).resolve()
    for base, prefix in ((Path.cwd(), ""), (data_dir("rules"), "<pack>/")):
        if path.is_relative_to(base.resolve()):
            return prefix + path.relative_to(base.resolve()).as_posix()
    return file


@rules_app.command("test")
def test_rules(
    paths: Optional[List[Path]] = typer.Argument(None, metavar="PATH", help="Rule files or directories (default: triage.toml's rules, else the shipped pack)."),
) -> None:
    """Validate the rules and run every example through the whole set, in match order."""
    from ..rules import check_examples

    rule_set = _load(paths)
    count, failures = check_examples(rule_set)
    for failure in failures:
        typer.echo(str(failure))
    passed = count - len(failures)
    rules = len(rule_set.rules)
    typer.echo(f"{rules} rule{'s' * (rules != 1)}, {count} examples: {passed} passed, {len(failures)} failed")
    if failures:
        raise typer.Exit(1)
