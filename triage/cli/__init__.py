"""The `triage` command line: parse options, call the library, map expected errors to one-line messages.

Each command group lives in its own module here and registers itself on :data:`app`.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sqlite3
import sys
from typing import NoReturn

import typer
from typer.core import TyperGroup

from ..errors import TriageError

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader went away
EXIT_INTERRUPTED = 130  # 128 + SIGINT
# click's error for a bad command line (unknown option, missing or bad value), which typer may ship as its own copy
_USAGE_ERROR = next(kind for kind in typer.BadParameter.__mro__ if kind.__name__ == "UsageError")


class CommandGroup(TyperGroup):
    """Every command: an empty argument is an error; a bad command line is one ``Error:`` line and a hint (not
    click's usage block); a reader that closes stdout early (``| head``) ends it quietly with exit 141; Ctrl-C
    says "Interrupted." and exits 130."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        _reject_empty(args)
        try:
            return super().parse_args(ctx, args)
        except _USAGE_ERROR as err:
            _usage_error(err, ctx)

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except _USAGE_ERROR as err:
            _usage_error(err, ctx)
        except BrokenPipeError:
            _silence_stdout()
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        except KeyboardInterrupt:  # Ctrl-C: one line, not typer's silent exit
            typer.echo("Interrupted.", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except sqlite3.Error as err:  # a state store that opened but cannot be read (damaged, missing tables)
            fatal(f"the state store cannot be read: {err}", hint="check --state-dir, or move the damaged state.db aside")


def _usage_error(err: Exception, ctx: typer.Context) -> NoReturn:
    """One ``Error:`` line for a bad command line, and where its usage is told (a group named alone shows its help,
    as click does)."""
    if type(err).__name__ == "NoArgsIsHelpError":
        raise err
    where = getattr(err, "ctx", None)
    path = where.command_path if where is not None else " ".join(filter(None, (ctx.command_path, ctx.invoked_subcommand)))
    fatal(err.format_message(), getattr(err, "exit_code", 2), hint=f"see `{path} --help`")


def _reject_empty(args: list[str]) -> None:
    """An empty value (an unset shell variable, say) is an error, never the same as leaving the option out."""
    for i, arg in enumerate(args):
        if arg == "":
            option = args[i - 1] if i and args[i - 1].startswith("-") else None
            fatal(f"{option}: empty value" if option else "empty argument")
        if arg.startswith("--") and arg.find("=") == len(arg) - 1:  # --option= (not --filter=x=, a value ending in =)
            fatal(f"{arg[:-1]}: empty value")


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit does not fail (and print) once more."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # not a real file (tests): nothing is flushed at exit
        pass


app = typer.Typer(
    name="triage",
    cls=CommandGroup,
    help="Find what is broken in Cloud Run logs: rules, clusters, priorities, drafts and issues.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


def fatal(message: str, code: int = 2, hint: str | None = None) -> NoReturn:
    """Print one `Error: …` line (plus an optional hint line) on stderr and exit."""
    typer.echo(f"Error: {message}", err=True)
    if hint:
        typer.echo(f"Hint: {hint}", err=True)
    raise typer.Exit(code)


def fail_from(err: TriageError) -> NoReturn:
    fatal(str(err), err.exit_code, err.hint)


def _register() -> None:
    """Import every ``*_cmd`` module of this package; each adds its commands to :data:`app`."""
    for module in sorted(pkgutil.iter_modules(__path__)):
        if module.name.endswith("_cmd"):
            importlib.import_module(f"{__name__}.{module.name}")


def main() -> None:
    """Console entry point: never shows a traceback unless TRIAGE_DEBUG is set."""
    _register()
    try:
        app()
    except Exception as err:  # a bug: one line, with the way to get the details
        if os.environ.get("TRIAGE_DEBUG"):
            raise
        typer.echo(f"Error: internal error ({type(err).__name__}); rerun with TRIAGE_DEBUG=1 for details", err=True)
        sys.exit(70)
