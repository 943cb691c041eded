"""How an `ivr` command fails (docs/contract.md, "Exit status"): one line on standard error,
never a traceback for what an operator can fix. A bad argument or setting: exit status 2, the
command never ran; a database that cannot be used: 1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import click
from sqlalchemy.exc import (
    ArgumentError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
)

from ivr.settings import SettingsError

F = TypeVar("F", bound=Callable[..., Any])


class _BadSettings(click.ClickException):
    exit_code = 2  # as for a bad argument: the command was never run


def fails_cleanly(command: F) -> F:
    """A bad setting or argument ends the command with one line on stderr, exit status 2."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SettingsError as error:
            raise _BadSettings(str(error)) from None
        except (OperationalError, ProgrammingError, ArgumentError, NoSuchModuleError) as error:
            # Unreachable, locked, not made, not migrated: one line, not a traceback. Any
            # other statement refused is a fault of ours, shown whole.
            lines = str(getattr(error, "orig", None) or error).strip().splitlines()
            reason = lines[0] if lines else type(error).__name__
            not_made = any(sign in reason for sign in _NOT_MADE)
            if isinstance(error, ProgrammingError) and not not_made:
                raise
            hint = " (`ivr db upgrade` makes or migrates its schema)" if not_made else ""
            raise click.ClickException(
                f"the database of DATABASE_URL cannot be used: {reason}{hint}"
            ) from None

    return run  # type: ignore[return-value]


# How SQLite and PostgreSQL say the schema is not there (yet).
_NOT_MADE = ("unable to open database file", "no such table", 'relation "')


class _BadArgument(click.ClickException):
    exit_code = 2


class _NamesItself(click.Command):
    """A command whose bad argument says which command it is (click leaves some, such as an
    option without its value, without one)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            error.ctx = error.ctx or ctx
            raise


class Commands(_NamesItself, click.Group):
    """A bad argument is one line on standard error, exit status 2 (docs/contract.md): the
    reason and where help is, not click's usage block. A command group given no command
    still shows its help."""

    command_class = _NamesItself
    group_class = type  # its groups are of this class too

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with _one_line():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with _one_line():
            return super().invoke(ctx)


@contextmanager
def _one_line() -> Iterator[None]:
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:
        raise
    except click.UsageError as error:
        command = error.ctx.command_path if error.ctx else "ivr"
        reason = f"{error.format_message()} (`{command} --help` says what it takes)"
        raise _BadArgument(" ".join(reason.split())) from None
