"""A bad night for the database: every webhook still answers with speech, at once.

Each fault is real and in another process or socket: a SQLite write lock held by another
process, the real PostgreSQL's `calls` table locked by another process, a "PostgreSQL" that
accepts connections and never replies, a database file moved away. `ivr serve` runs as in
production; the client's timeouts are the bound the caller needs (Twilio gives up at 15 s),
not a measure."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli import main
from tests.conftest import AUTH_TOKEN, DEMO, new_call, running_ivr

SAFE_WORDS = "Nous rencontrons une difficulté technique"
ANSWER_WITHIN = 8  # seconds the test waits for any answer: under Twilio's 15


def webhook(base: str, path: str, sid: str) -> str:
    """Twilio posting a new call (or any step) to `path`, signed; the TwiML that came back."""
    return new_call(base + path, sid, timeout=ANSWER_WITHIN)[1]


def health(base: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=ANSWER_WITHIN) as response:
            return response.status, json.loads(response.read())["status"]
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["status"]


def sid(n: int) -> str:
    return f"CA{n:032x}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite file with the demo data, whatever database the suite runs on."""
    url = f"sqlite:///{tmp_path / 'calls.sqlite3'}"
    runner = CliRunner()
    for args in (
        ["db", "upgrade"],
        ["import", "directory", str(DEMO)],
        ["import", "clients", str(DEMO / "clients.csv")],
    ):
        result = runner.invoke(main, args, env={"DATABASE_URL": url})
        assert result.exit_code == 0, result.output
    return url


@contextmanager
def hold_write_lock(sqlite_url: str) -> Iterator[None]:
    """Another process holds the SQLite file's write lock, until the block ends."""
    path = sqlite_url.removeprefix("sqlite:///")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"c = sqlite3.connect({path!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.kill()
        holder.wait()


def test_a_write_lock_held_by_another_process_the_callers_still_hear_the_safe_answer(
    sqlite_url,
):
    with hold_write_lock(sqlite_url), running_ivr(sqlite_url, TWILIO_AUTH_TOKEN=AUTH_TOKEN) as base:
        with ThreadPoolExecutor(6) as pool:
            heard = list(pool.map(lambda n: webhook(base, "/twilio/voice", sid(n)), range(6)))
        assert all(SAFE_WORDS in twiml and "<Say" in twiml for twiml in heard)
        assert "<Hangup" in webhook(base, "/twilio/voice/goodbye", sid(1))
        assert health(base)[0] == 200  # reads go on: the directory is there


@pytest.fixture
def silent_postgres():
    """A socket that accepts connections and never says a word: a stalled PostgreSQL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"postgresql://postgres@127.0.0.1:{listener.getsockname()[1]}/test"
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    listener.close()


def test_a_database_that_never_replies_every_webhook_answers_with_speech(silent_postgres):
    with running_ivr(silent_postgres, TWILIO_AUTH_TOKEN=AUTH_TOKEN) as base:
        with ThreadPoolExecutor(12) as pool:
            calls = [pool.submit(webhook, base, "/twilio/voice", sid(n)) for n in range(10)]
            goodbye = pool.submit(webhook, base, "/twilio/voice/goodbye", sid(99))
            fallback = pool.submit(webhook, base, "/twilio/voice/fallback", sid(98))
            heard = [call.result() for call in calls]
        assert all(SAFE_WORDS in twiml for twiml in heard)
        assert "<Hangup" in goodbye.result() and SAFE_WORDS in fallback.result()
        assert health(base) == (503, "database unreachable")
        with urllib.request.urlopen(f"{base}/livez", timeout=ANSWER_WITHIN) as response:
            assert response.status == 200


@pytest.fixture
def postgres_locked(postgres_url, postgres_demo):
    """The suite's real PostgreSQL (with the demo data), its `calls` table locked by another
    process: every read and write of a call waits, as behind a stuck migration or a vacuum."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from sqlalchemy import create_engine, text\n"
            "connection = create_engine(sys.argv[1]).connect()\n"
            "connection.execute(text('LOCK TABLE calls IN ACCESS EXCLUSIVE MODE'))\n"
            "print('locked', flush=True)\n"
            "time.sleep(120)\n",
            postgres_url,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield postgres_url
    finally:
        holder.kill()
        holder.wait()


def test_a_real_postgresql_that_holds_every_call_waiting_each_webhook_answers_with_speech(
    postgres_locked,
):
    with running_ivr(postgres_locked, TWILIO_AUTH_TOKEN=AUTH_TOKEN) as base:
        with ThreadPoolExecutor(8) as pool:
            calls = [pool.submit(webhook, base, "/twilio/voice", sid(n)) for n in range(6)]
            fallback = pool.submit(webhook, base, "/twilio/voice/fallback", sid(98))
            heard = [call.result() for call in calls] + [fallback.result()]
        assert all(SAFE_WORDS in twiml and "<Say" in twiml for twiml in heard)
        assert health(base)[0] == 200  # the directory reads on: only the calls are held


def test_a_database_file_moved_away_is_not_made_again_empty(make_app, tmp_path):
    gone = tmp_path / "moved" / "ivr.sqlite3"
    app = make_app(DATABASE_URL=f"sqlite:///{gone}")
    client = app.test_client()
    answer = client.get("/healthz")
    assert answer.status_code == 503 and answer.json == {"status": "database unreachable"}
    assert client.get("/livez").status_code == 200
    assert not gone.exists() and not gone.parent.exists()


def test_health_says_what_keeps_a_call_from_being_answered(settings, db, clock):
    from ivr.composition import create_app
    from ivr.services.importing import import_directory

    app = create_app(settings)
    client = app.test_client()  # the schema is there, no data yet
    assert client.get("/healthz").json["status"].startswith("no directory loaded")
    assert import_directory(db, DEMO, clock).accepted
    app.extensions["ivr.reference"].forget()  # as an import does (else: within a second)
    assert client.get("/healthz").json == {"status": "ok"}


def test_health_is_ready_on_a_newer_schema_and_not_on_an_older_one(make_app, db):
    """A rolling upgrade: `ivr db upgrade` first, then the hosts one by one; the code of the
    release before still answers on the newer schema, never the other way round."""
    from sqlalchemy import text

    client = make_app().test_client()
    with db.engine.connect() as connection:
        ours = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    try:
        for found, ready in (("9999_a_later_release", True), ("0001", False)):
            with db.engine.begin() as connection:
                connection.execute(
                    text("UPDATE alembic_version SET version_num = :v"), {"v": found}
                )
            answer = client.get("/healthz")
            assert (answer.status_code == 200) is ready, (found, answer.json)
    finally:
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": ours})
    assert client.get("/healthz").json == {"status": "ok"}


def test_health_tells_data_this_release_cannot_read_from_a_database_away(make_app, db):
    """A rolling upgrade gone wrong: a newer release wrote an on-call type this code does not
    know. The database answers; saying "unreachable" would send the operator to the wrong
    place at 2 a.m."""
    from sqlalchemy import text

    assert make_app().test_client().get("/healthz").json == {"status": "ok"}  # the demo
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE oncall_windows SET oncall_type = 'drone'"))
    answer = make_app().test_client().get("/healthz")  # a host started on that database
    assert answer.status_code == 503
    assert answer.json["status"] == "the database answers, but this server fails: see its log"
