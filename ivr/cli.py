"""The `ivr` command (docs/contract.md, "Running it")."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from pathlib import Path

import click

from ivr.adapters.db import Database
from ivr.cli_errors import Commands, fails_cleanly
from ivr.settings import Settings, SettingsError, check_for_calls, load_settings


class Context:
    """What every command needs, built lazily so that `--help` works without settings."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._db: Database | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def db(self) -> Database:
        if self._db is None:
            # Only `ivr db upgrade` makes a database: a mistyped path is reported, not made.
            self._db = Database(self.settings.DATABASE_URL, create=False)
        return self._db


@click.group(cls=Commands)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Out-of-hours call handling: voice flow, dispatcher and back office."""
    ctx.obj = Context()


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.pass_obj
@fails_cleanly
def db_upgrade(obj: Context) -> None:
    """Create or migrate the schema of DATABASE_URL."""
    from ivr.adapters.migrations import revisions, upgrade

    engine = Database(obj.settings.DATABASE_URL).engine
    with engine.connect() as connection:
        before, head = revisions(connection)
    upgrade(engine, clock=obj.settings.make_clock())
    if before is None:
        click.echo(f"database schema created, at {head}")
    elif before == head:
        click.echo(f"database schema already at {head}: nothing to do")
    else:
        click.echo(f"database schema migrated from {before} to {head}")


@main.command("import")
@click.argument("kind", type=click.Choice(["directory", "clients"]))
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--allow-shrink",
    is_flag=True,
    help="clients: import a file that removes more than 10 % of the clients in force "
    "(refused without it, in case the file was cut short).",
)
@click.pass_obj
@fails_cleanly
def import_(obj: Context, kind: str, path: Path, allow_shrink: bool) -> None:
    """Load the company's reference data (docs/formats.md), all or nothing: `directory DIR`,
    the five directory files of DIR; `clients FILE`, the weekly client file."""
    from ivr.services.importing import import_clients, import_directory

    clock = obj.settings.make_clock()
    if kind == "clients":
        report = import_clients(obj.db, path, clock, allow_shrink=allow_shrink)
    elif allow_shrink:  # said in French, as the report is: the operators are French
        click.echo("--allow-shrink : seulement pour « ivr import clients »", err=True)
        sys.exit(2)
    else:
        report = import_directory(obj.db, path, clock)
    summary = report.summary()
    for line in report.lines():  # a refusal's errors and summary to stderr, once each
        click.echo(line, err=not report.accepted and (line.startswith("erreur") or line == summary))
    if not report.accepted:
        sys.exit(1)


@main.command()
@click.option("--client-id", required=True, help="The contract number the caller keyed.")
@click.option("--at", "at_text", required=True, help="ISO 8601 instant (no offset: Paris).")
@click.option("--danger", is_flag=True, help="The caller reports a danger.")
@click.pass_obj
@fails_cleanly
def route(obj: Context, client_id: str, at_text: str, danger: bool) -> None:
    """Print, as JSON, what the rules decide for such a call."""
    from ivr.services.routing import route_call

    at = _instant(at_text)
    decision = route_call(obj.db, obj.settings, client_id.strip(), at, danger=danger)
    click.echo(json.dumps(decision.as_json(), ensure_ascii=False))


def _instant(text: str) -> datetime:
    """`--at`: an instant the program is told to run at."""
    from ivr.domain.local_time import FIRST_YEAR, LAST_YEAR, given_instant

    try:
        return given_instant(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 instant of the years {FIRST_YEAR} to {LAST_YEAR}",
            param_hint="--at",
        ) from None


def _host_port(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """`--bind` as gunicorn reads it, with its port in range: gunicorn would take a port
    out of range and fail in a traceback."""
    from gunicorn.util import parse_address

    try:
        address = parse_address(value)
    except RuntimeError as error:
        raise click.BadParameter(str(error)) from None
    if isinstance(address, tuple) and not 0 < address[1] < 65536:
        raise click.BadParameter(f"{value!r}: HOST:PORT, with a port from 1 to 65535")
    return value


@main.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True, callback=_host_port)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="gunicorn workers (default: 2 x cores)",
)
@click.option(
    "--threads",
    default=None,
    type=click.IntRange(1, 32),
    help="threads a worker (default: 1 on SQLite, which takes one writer at a time; 4 else)",
)
@click.pass_obj
@fails_cleanly
def serve(obj: Context, bind: str, workers: int | None, threads: int | None) -> None:
    """Serve the web app with gunicorn."""
    from ivr.composition import serve as run

    check_for_calls(obj.settings)
    run(obj.settings, bind=bind, workers=workers, threads=threads)


@main.command()
@click.option("--burst", is_flag=True, help="Run every job due now, then exit.")
@click.pass_obj
@fails_cleanly
def worker(obj: Context, burst: bool) -> None:
    """Run the dispatcher's jobs as they fall due (calls, text messages, summary sheets)."""
    import signal
    import threading

    from ivr.adapters import logs
    from ivr.composition import make_worker
    from ivr.services.dispatch import make_dispatcher

    settings = obj.settings
    check_for_calls(settings)
    clock = settings.make_clock()
    logs.configure(settings.LOG_FORMAT == "json", clock)
    _without_twilio(obj.db, settings, clock.now())
    runner = make_worker(make_dispatcher(obj.db, settings, clock))
    if burst:
        click.echo(f"{runner.burst()} jobs run")
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    runner.run(stop, threads=settings.WORKER_THREADS)


def _without_twilio(db: Database, settings: Settings, now: datetime) -> None:
    """A worker without Twilio's settings runs all the same: the sheets, imports and the rest
    go on, while each call and text fails visibly (its chain goes on to the sheet). The
    operator is told at once, on standard error and by an alert, not the first night."""
    from ivr.services.trace import alert_on_failure

    names = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "IVR_CALLER_ID")
    missing = ", ".join(name for name in names if not getattr(settings, name))
    if missing:
        message = f"{missing} not set: every call and text message will fail"
        click.echo(f"warning: {message}; sheets and imports go on", err=True)
        alert_on_failure(db, now, "twilio_unset", message)


# What systemd passes as %N: a unit's name, its odd characters escaped as \xNN.
_UNIT_NAME = re.compile(r"[\w:.@\\-]{1,200}", re.ASCII)


@main.command("unit-failed")
@click.argument("unit")
@click.pass_obj
@fails_cleanly
def unit_failed(obj: Context, unit: str) -> None:
    """Raise a `unit_failed` alert for the systemd unit UNIT: started by systemd when an ivr
    unit fails (OnFailure=, deploy/systemd), so that a refused weekly import or a service
    that gave up reaches ALERT_EMAILS and ALERT_SMS_NUMBERS like any alert."""
    from ivr.services.trace import record_alert

    if not _UNIT_NAME.fullmatch(unit):
        raise click.BadParameter("not a systemd unit name", param_hint="UNIT")
    with obj.db.session() as session:
        now = obj.settings.make_clock().now()
        record_alert(session, now, "unit_failed", f"{unit} failed: journalctl -u {unit}")


@main.command()
@click.option("--from", "caller", default="+33611111111", show_default=True, help="Who calls.")
@click.option("--at", "at_text", default=None, help="When (ISO 8601; no offset: Paris).")
@click.option(
    "--callee",
    "callees",
    multiple=True,
    metavar="NUMBER=take|ring|voicemail|busy",
    help="How a technician's or manager's phone behaves (default: take).",
)
@click.option(
    "--follow/--no-follow",
    default=True,
    show_default=True,
    help="Move the clock to the jobs scheduled later (next-morning calls) and run them.",
)
@click.argument("steps", nargs=-1)
@click.pass_obj
@fails_cleanly
def simulate(
    obj: Context,
    caller: str,
    at_text: str | None,
    callees: tuple[str, ...],
    follow: bool,
    steps: tuple[str, ...],
) -> None:
    """Place a call through the phone simulator, as `make run`'s page does, and print it.

    STEPS, in order: keys (`10000002#`, `1`), `say:WORDS`, `message:SECONDS`, `silence`,
    `hangup`. Then the dispatcher's work is run and printed: its calls (answered as
    `--callee` says), text messages, summary sheets. Uses DATABASE_URL: the demo's, say.
    """
    from ivr.composition import serve_demo
    from ivr.simulator.script import run_script

    at = _instant(at_text) if at_text else None
    behaviours = {}
    for item in callees:
        number, _, how = item.partition("=")
        if how not in ("take", "ring", "voicemail", "busy"):
            raise click.BadParameter(
                f"{item!r}: NUMBER=take|ring|voicemail|busy", param_hint="--callee"
            )
        behaviours[number.strip()] = how
    with serve_demo(obj.settings, at) as stack:
        # A database not made yet would fail the call at its first turn, in tracebacks.
        health = stack.app.test_client().get("/healthz")
        if health.status_code != 200:
            raise click.ClickException(
                f"the database of DATABASE_URL is not ready ({health.get_json()['status']}): "
                "`make run` prepares the demo's, or run `ivr db upgrade` and the imports"
            )
        for line in run_script(stack, caller, steps, behaviours, follow):
            click.echo(line)


@main.group()
def user() -> None:
    """Back-office accounts."""


@user.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["admin", "manager", "agency"]))
@click.option("--region", default=None, help="A manager's region code.")
@click.option("--agency", default=None, help="An agency account's CIA.")
@click.option("--exists-ok", is_flag=True, help="An account already there is no error (scripts).")
@click.pass_obj
@fails_cleanly
def user_add(
    obj: Context, email: str, role: str, region: str | None, agency: str | None, exists_ok: bool
) -> None:
    """Create an account; the password is asked for, unseen, twice at a terminal, else read
    from standard input (scripts pipe it): never an argument, which `ps` would show."""
    from ivr.services.accounts import AccountError, AccountExists, add_user

    password = _password()
    try:
        created = add_user(obj.db, obj.settings.make_clock(), email, password, role, region, agency)
    except AccountExists as error:
        if not exists_ok:
            raise click.ClickException(str(error)) from None
        click.echo(str(error))
        return
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    scope = created.region or created.agency or "everything"
    click.echo(f"{created.email}: {created.role} ({scope})")


def _password() -> str:
    """A person at a terminal is asked, and what they type is not shown; a script's line is
    read as it comes."""
    if sys.stdin.isatty():
        typed: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return typed
    try:
        line = sys.stdin.readline().rstrip("\r\n")
        line.encode("utf-8")  # a byte the terminal's encoding had no letter for, say
    except UnicodeError:
        raise click.ClickException("the password read is not text in UTF-8") from None
    return line


@main.group()
def pin() -> None:
    """The PINs of on-call lines and regional managers (the staff's side of the number)."""


@pin.command("set")
@click.argument("number")
@click.pass_obj
@fails_cleanly
def pin_set(obj: Context, number: str) -> None:
    """Set NUMBER's PIN (4 to 8 digits), read from standard input; stored hashed."""
    from ivr.domain.phones import InvalidPhoneNumber, to_e164
    from ivr.services.reference import ReferenceCache
    from ivr.services.staff import StaffError, set_pin

    try:
        e164 = to_e164(number)
    except InvalidPhoneNumber as error:
        raise click.BadParameter(str(error), param_hint="NUMBER") from None
    code = sys.stdin.readline().strip()
    directory = ReferenceCache().directory(obj.db)
    try:
        set_pin(obj.db, obj.settings.make_clock(), directory, e164, code, "ivr pin set")
    except StaffError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"PIN set for {e164}")


@main.group()
def twilio() -> None:
    """Going live with Twilio (docs/twilio.md)."""


@twilio.command("configure")
@click.option("--number", required=True, help="The out-of-hours number, e.g. +33970000000.")
@click.pass_obj
@fails_cleanly
def twilio_configure(obj: Context, number: str) -> None:
    """Point the number's voice URL, fallback URL and status callback at PUBLIC_BASE_URL."""
    from ivr.adapters.providers import ProviderError
    from ivr.adapters.twilio_rest import TwilioRest, configure_number
    from ivr.domain.phones import InvalidPhoneNumber, to_e164

    settings = obj.settings
    if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
        raise SettingsError("invalid settings: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are needed")
    try:
        e164 = to_e164(number)
    except InvalidPhoneNumber as error:
        raise click.BadParameter(str(error), param_hint="--number") from None
    rest = TwilioRest(
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_API_BASE_URL
    )
    try:
        done = configure_number(rest, e164, settings.PUBLIC_BASE_URL)
    except ProviderError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{e164} ({done.sid}):")
    click.echo(f"  a call comes in        POST {done.voice_url}")
    click.echo(f"  primary handler fails  POST {done.fallback_url}")
    click.echo(f"  call status changes    POST {done.status_callback}")
    click.echo(f"  a message comes in     POST {done.sms_url}")


@main.group()
def setting() -> None:
    """Settings administrators change at run time (also in the back office)."""


@setting.command("set")
@click.argument("key")
@click.argument("value")
@click.pass_obj
@fails_cleanly
def setting_set(obj: Context, key: str, value: str) -> None:
    """Set KEY to VALUE: `record_calls on|off`, `gas_emergency_number:CIA NUMBER`."""
    import getpass

    from ivr.services.app_settings import set_setting

    try:
        stored = set_setting(
            obj.db, obj.settings.make_clock(), key, value, by=f"cli:{getpass.getuser()}"
        )
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    click.echo(f"{key} = {stored}")
