"""Fixtures shared by every layer of tests.

The database is SQLite unless DATABASE_URL names a PostgreSQL server; there the tests work in
a schema of their own, created at the start and dropped at the end, so that nothing else in
that database is touched. The few tests of PostgreSQL itself (`postgres_demo`) run on that
server, else on the local one (`LOCAL_POSTGRES`): they are skipped, loudly, only where no
server listens there; one that listens but refuses makes them fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import create_engine, delete, text

from ivr.adapters.db import Database
from ivr.adapters.migrations import upgrade
from ivr.adapters.orm import Base, ReferenceState
from ivr.clock import Clock
from ivr.domain.local_time import parse_instant
from ivr.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
NGINX = Path("/usr/sbin/nginx")
CHROMIUM = Path("/usr/bin/chromium")
DEMO = ROOT / "config" / "demo"
LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"  # the project's machines have it

# What a run without a program leaves out, said in the skip reason and in the run's header.
_NO_CHROMIUM = "no /usr/bin/chromium (apt-get install chromium)"
_NO_NGINX = "no /usr/sbin/nginx (apt-get install nginx-light)"
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"BROWSER TEST SKIPPED: {_NO_CHROMIUM}"
)
needs_nginx = pytest.mark.skipif(not NGINX.exists(), reason=f"NGINX TEST SKIPPED: {_NO_NGINX}")


def _postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgresql", "postgres://")) else None


def _local_postgres_missing() -> str | None:
    """Why no PostgreSQL server is there locally, or None when one listens. Only an absent
    server skips: one that listens but refuses (a role, a database missing) fails the tests
    that need it, with its own error."""
    where = conninfo_to_dict(LOCAL_POSTGRES)
    address = (str(where["host"]), int(where["port"] or 5432))
    try:
        socket.create_connection(address, timeout=2).close()
    except OSError as error:
        return f"no server listens at {address[0]}:{address[1]} ({error})"
    return None


def _postgres_server() -> str:
    """The PostgreSQL server the tests of PostgreSQL itself run on: DATABASE_URL's, else the
    local one; where none listens, the test is skipped, saying why."""
    url = _postgres_url()
    if url is not None:
        return url
    missing = _local_postgres_missing()
    if missing:
        pytest.skip(f"POSTGRESQL TEST SKIPPED: {missing}")
    return LOCAL_POSTGRES


def pytest_report_header() -> list[str]:
    """Say loudly what this run does not cover: PostgreSQL, the browser tests."""
    url = _postgres_url()
    lines = [
        f"database: PostgreSQL ({url.split('@')[-1]}) in a throwaway schema"
        if url
        else "database: SQLite (set DATABASE_URL=postgresql://... to run the suite on "
        "PostgreSQL too, as .ci/run does)"
    ]
    missing = None if url else _local_postgres_missing()
    if missing:
        lines.append(f"!!! PostgreSQL tests SKIPPED: {missing}")
    if not CHROMIUM.exists():
        lines.append(f"!!! browser tests SKIPPED: {_NO_CHROMIUM}")
    if not NGINX.exists():
        lines.append(f"!!! nginx front tests SKIPPED: {_NO_NGINX}")
    return lines


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database for this test session."""
    pg = _postgres_url()
    if pg is None:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        upgrade(Database(url).engine)
        yield url
        return
    with _throwaway_schema(pg) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url(database_url: str) -> Iterator[str]:
    """A migrated, empty PostgreSQL database, for the tests of PostgreSQL itself: the suite's
    own when it runs on PostgreSQL, else a schema on the local server. Skipped only where no
    server listens."""
    if database_url.startswith("postgresql"):
        yield database_url
        return
    with _throwaway_schema(_postgres_server()) as url:
        yield url


@pytest.fixture
def unmigrated_postgres_url() -> Iterator[str]:
    """An empty schema on the PostgreSQL server of `postgres_url`, not migrated: for the
    tests of a migration. Skipped only where no server listens."""
    with _throwaway_schema(_postgres_server(), migrated=False) as url:
        yield url


@contextmanager
def _throwaway_schema(server: str, *, migrated: bool = True) -> Iterator[str]:
    """A schema of its own on `server`, migrated unless told; dropped at the end."""
    pg = Settings(DATABASE_URL=server).DATABASE_URL
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in pg else "?"
    url = f"{pg}{separator}options=-csearch_path%3D{schema}"
    try:
        if migrated:
            upgrade(Database(url).engine)
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The test database, emptied after each test."""
    with _emptied_after(database_url) as database:
        yield database


@contextmanager
def _emptied_after(url: str) -> Iterator[Database]:
    database = Database(url)
    yield database
    with database.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))
        connection.execute(ReferenceState.__table__.insert().values(id=1))
    database.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        DATABASE_URL=database_url,
        FAX_FOLDER=tmp_path / "faxes",
        UPLOAD_FOLDER=tmp_path / "uploads",
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN="test-token",
        # Calls a test places one after the other need not wait a second each (the pacing
        # has tests of its own, at Twilio's default rate).
        TWILIO_CALLS_PER_SECOND=50,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(parse_instant("2026-11-26T10:00:00"))


# --- Calls: an app on the demo data, signed requests, Twilio's schema ----------------------

BASE_URL = "http://127.0.0.1:8000"
AUTH_TOKEN = "test-token"


@pytest.fixture
def demo(db: Database, clock: Clock) -> Database:
    """The test database with the demo directory and clients loaded."""
    return _with_demo(db, clock)


@pytest.fixture
def postgres_demo(postgres_url: str, clock: Clock) -> Iterator[Database]:
    """A PostgreSQL database (`postgres_url`) with the demo data, emptied after the test."""
    with _emptied_after(postgres_url) as database:
        yield _with_demo(database, clock)


def _with_demo(db: Database, clock: Clock) -> Database:
    from ivr.services.importing import import_clients, import_directory

    assert import_directory(db, DEMO, clock).accepted
    assert import_clients(db, DEMO / "clients.csv", clock).accepted
    return db


@pytest.fixture
def make_app(settings: Settings, demo: Database):
    """`make_app(at="2026-12-22T23:00", **settings)`: the app, its clock at `at`; its
    database connections closed when the test ends."""
    from ivr.composition import create_app, dispose

    built: list[Flask] = []

    def build(at: str = "2026-12-22T23:00", **overrides: object):
        values = {
            "IVR_CLOCK": parse_instant(at),
            "PUBLIC_BASE_URL": BASE_URL,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            **overrides,
        }
        app = create_app(settings.model_copy(update=values))
        app.testing = True
        built.append(app)
        return app

    yield build
    for app in built:
        dispose(app)


@pytest.fixture(scope="session")
def twiml_schema():
    """Twilio's TwiML schema (vendored in ivr/simulator/schema): raises on an invalid answer."""
    from ivr.simulator.twiml_schema import validate

    return validate


@contextmanager
def failing_inserts(db: Database, table: str, when: str) -> Iterator[None]:
    """The database refuses the rows inserted into `table` that match `when` (SQL on NEW), as
    a real fault would: a trigger, in every connection, until the block ends."""
    if db.engine.dialect.name == "sqlite":
        create = [
            f"CREATE TRIGGER injected_fault BEFORE INSERT ON {table} WHEN {when} "
            "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
        ]
        drop = ["DROP TRIGGER injected_fault"]
    else:
        create = [
            "CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'injected fault'; END $$",
            f"CREATE TRIGGER injected_fault BEFORE INSERT ON {table} FOR EACH ROW "
            f"WHEN ({when}) EXECUTE FUNCTION injected_fault()",
        ]
        drop = [f"DROP TRIGGER injected_fault ON {table}", "DROP FUNCTION injected_fault()"]
    with db.engine.begin() as connection:
        for statement in create:
            connection.exec_driver_sql(statement)
    try:
        yield
    finally:
        with db.engine.begin() as connection:
            for statement in drop:
                connection.exec_driver_sql(statement)


def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    from twilio.request_validator import RequestValidator

    return RequestValidator(token).compute_signature(url, params)


def new_call(url: str, sid: str = "CA" + "7" * 32, timeout: float = 8, context=None):
    """Twilio posting a new call to `url` over HTTP(S), signed: (status, TwiML)."""
    import urllib.parse

    params = {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": "+33611111111",
        "To": "+33199000000",
    }
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(params).encode(),
        headers={"X-Twilio-Signature": sign(url, params)},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        return response.status, response.read().decode()


def wait_until(condition: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    """Until `condition()` holds (looked at every 50 ms); past `timeout`, fail naming `what`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.05)


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except urllib.error.HTTPError:
        raise  # answering, but wrongly
    except OSError:
        return False  # not listening yet
    return True


@contextmanager
def running_ivr(database_url: str, log_to: Path | None = None, **env: str) -> Iterator[str]:
    """`ivr serve` (gunicorn, 2 workers) on a free loopback port; yields its base URL. What it
    prints goes to `log_to` if given."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    output = log_to.open("w") if log_to else subprocess.DEVNULL
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "ivr"),
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "PUBLIC_BASE_URL": base,
            "NATIONAL_DUTY_NUMBER": "+33199009999",
            **env,
        },
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: _answers(f"{base}/livez"), "ivr serve to answer")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=15)
        if log_to:
            output.close()


# --- The back office: a logged-in client, a real browser -----------------------------------


def log_in(app, email: str, password: str):
    """A test client of `app` logged in as `email`, and its CSRF token."""
    import re

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"email": email, "password": password, "csrf_token": token}
    assert client.post("/login", data=form).status_code == 302, email
    return client, token


@pytest.fixture
def browser():
    """Debian's Chromium, headless (Playwright); audio may play without a click."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
            headless=True,
        )
        yield chromium
        chromium.close()
