"""The `ivr` command as operators and the acceptance checks run it (docs/contract.md)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import socket
import sqlite3
import sys
import termios
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from click.testing import CliRunner

from ivr.adapters.db import Database
from ivr.adapters.orm import AlertRow
from ivr.cli import main
from tests.conftest import AUTH_TOKEN, DEMO, new_call, running_ivr


@pytest.fixture
def ivr(db, database_url):
    """Run `ivr ARGS` in-process against the test database; returns the click result."""
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None):
        return runner.invoke(
            main, list(args), input=input, env={"DATABASE_URL": database_url, **(env or {})}
        )

    return run


@pytest.fixture
def loaded(ivr):
    assert ivr("import", "directory", str(DEMO)).exit_code == 0
    assert ivr("import", "clients", str(DEMO / "clients.csv")).exit_code == 0


def test_db_upgrade_says_what_it_did_and_is_idempotent(tmp_path):
    """An operator installing or upgrading reads whether the schema was made, migrated, or
    already there."""
    from ivr.adapters.migrations import head_revision, upgrade

    def db_upgrade(name: str) -> str:
        url = f"sqlite:///{tmp_path / name}"
        result = CliRunner().invoke(main, ["db", "upgrade"], env={"DATABASE_URL": url})
        assert result.exit_code == 0, result.output
        return result.output.strip()

    upgrade(Database(f"sqlite:///{tmp_path / 'older.sqlite3'}").engine, "0010")
    head = head_revision()
    assert head != "0010"
    assert db_upgrade("new.sqlite3") == f"database schema created, at {head}"
    assert db_upgrade("new.sqlite3") == f"database schema already at {head}: nothing to do"
    assert db_upgrade("older.sqlite3") == f"database schema migrated from 0010 to {head}"


def test_import_prints_counts(ivr):
    result = ivr("import", "directory", str(DEMO))
    assert result.exit_code == 0, result.output
    assert "agencies.csv : 4 ajoutés, 0 modifié, 0 retiré" in result.output
    result = ivr("import", "clients", str(DEMO / "clients.csv"))
    assert result.exit_code == 0
    assert (
        "Import du fichier clients accepté depuis clients.csv : 51 lignes ; "
        "51 ajoutés, 0 modifié, 0 retiré"
    ) in result.output


def test_a_failed_systemd_unit_raises_an_alert(ivr, db):
    """What ivr-unit-failed@.service runs (deploy/systemd): the alert reaches the operator."""
    result = ivr("unit-failed", "ivr-import-clients")
    assert result.exit_code == 0, result.output
    with db.snapshot() as session:
        alerts = session.execute(sa.select(AlertRow.kind, AlertRow.message)).all()
    message = "ivr-import-clients failed: journalctl -u ivr-import-clients"
    assert alerts == [("unit_failed", message)]
    refused = ivr("unit-failed", "x; rm -rf /")
    assert refused.exit_code == 2 and "not a systemd unit name" in refused.output


def test_rejected_import_exits_nonzero_with_its_report(ivr, loaded, tmp_path):
    bad = tmp_path / "clients.csv"
    lines = (DEMO / "clients.csv").read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace(";standard;", ";gold;")
    bad.write_text("\n".join(lines), encoding="utf-8")
    result = ivr("import", "clients", str(bad))
    assert result.exit_code == 1
    assert "erreur : clients.csv, ligne 4 : colonne « contract » : « gold »" in result.output
    summary = (
        "Import du fichier clients refusé : 1 erreur dans clients.csv ; "
        "les données en vigueur n'ont pas changé"
    )
    assert result.output.count(summary) == 1


def test_a_file_removing_more_than_a_tenth_of_the_clients_needs_allow_shrink(ivr, loaded, tmp_path):
    """5 rows replacing 51: refused with how many it would remove, unless confirmed."""
    short = tmp_path / "clients.csv"
    short.write_text(
        "\n".join((DEMO / "clients.csv").read_text(encoding="utf-8").splitlines()[:6]),
        encoding="utf-8",
    )
    refused = ivr("import", "clients", str(short))
    assert refused.exit_code == 1
    assert "retirerait 46 des 51 clients en vigueur (90 %)" in refused.output
    assert "--allow-shrink" in refused.output and "refusé" in refused.output
    still = ivr("route", "--client-id", "40000001", "--at", "2026-12-24T23:00")
    assert json.loads(still.output)["action"] != "not_covered"  # the file in force is whole
    confirmed = ivr("import", "clients", str(short), "--allow-shrink")
    assert confirmed.exit_code == 0, confirmed.output
    assert "retire 46 des 51 clients en vigueur (90 %), comme confirmé" in confirmed.output
    assert "0 ajouté, 0 modifié, 46 retirés" in confirmed.output
    gone = ivr("route", "--client-id", "40000001", "--at", "2026-12-24T23:00")
    assert json.loads(gone.output)["action"] == "not_covered"


def test_allow_shrink_is_for_the_client_file_only(ivr):
    result = ivr("import", "directory", str(DEMO), "--allow-shrink")
    assert result.exit_code == 2
    assert "--allow-shrink : seulement pour « ivr import clients »" in result.output


def test_route_prints_the_contract_json(ivr, loaded):
    result = ivr("route", "--client-id", "10000001", "--at", "2026-12-24T19:30")
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert set(decision) == {"action", "call_at", "call_numbers", "fax_numbers", "reason"}
    assert decision["action"] == "call_next_morning"
    assert decision["call_at"] == "2026-12-25T08:00:00+01:00"
    assert decision["call_numbers"][0].startswith("+33")


def test_route_with_danger_and_an_offset(ivr, loaded):
    result = ivr("route", "--client-id", "30000002", "--at", "2026-12-26T02:00:00Z", "--danger")
    decision = json.loads(result.output)
    assert decision["action"] == "escalate"
    assert decision["call_at"] == "2026-12-26T03:00:00+01:00"
    assert len(decision["fax_numbers"]) == 2


def test_route_unknown_client_is_not_covered(ivr, loaded):
    decision = json.loads(ivr("route", "--client-id", "999", "--at", "2026-12-24T23:00").output)
    assert decision == {
        "action": "not_covered",
        "call_at": None,
        "call_numbers": [],
        "fax_numbers": [],
        "reason": decision["reason"],
    }


def test_route_national_duty_number_for_unknown_danger(ivr, loaded):
    result = ivr(
        "route",
        "--client-id",
        "999",
        "--at",
        "2026-12-24T23:00",
        "--danger",
        env={"NATIONAL_DUTY_NUMBER": "01 99 00 99 99"},
    )
    assert json.loads(result.output)["call_numbers"] == ["+33199009999"]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["route", "--client-id", "1", "--at", "yesterday"], {}, "ISO 8601"),
        (["route", "--at", "2026-12-24T23:00"], {}, "--client-id"),
        (
            ["route", "--client-id"],
            {},
            "requires an argument. (`main route --help`",
        ),  # CliRunner: main
        (
            ["route", "--client-id", "1", "--at", "2026-12-24T23:00"],
            {"FAX_TRANSPORT": "pigeon"},
            "FAX_TRANSPORT",
        ),
        (
            ["route", "--client-id", "1", "--at", "2026-12-24T23:00"],
            {"OPERATOR_NUMBER": "12"},
            "OPERATOR_NUMBER",
        ),
        (
            ["route", "--client-id", "1", "--at", "2026-12-24T23:00"],
            {"IVR_CLOCK": "soon"},
            "IVR_CLOCK",
        ),
        (["serve", "--bind", "127.0.0.1:99999"], {}, "a port from 1 to 65535"),
        (["serve", "--workers", "0"], {}, "--workers"),
    ],
    ids=[
        "bad instant",
        "missing option",
        "option without its value",
        "bad fax transport",
        "bad phone",
        "bad clock",
        "bad port",
        "no workers",
    ],
)
def test_bad_arguments_exit_nonzero_with_a_reason(ivr, args, env, message):
    result = ivr(*args, env=env)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_serve_answers_the_front_page_to_an_account_only(database_url, loaded, ivr):
    """`ivr serve` under gunicorn, over real HTTP: a visitor sees the login page; an account
    made with `ivr user add` (password on stdin) sees the data in force."""
    made = ivr(
        "user", "add", "Admin@Example.fr", "--role", "admin", input="correct horse battery\n"
    )
    assert made.exit_code == 0, made.output
    # No SECRET_KEY: the key drawn at start must sign for every worker, not one each.
    with running_ivr(database_url, IVR_CLOCK="2026-12-24T23:00:00", SECRET_KEY="") as base:
        browser = requests.Session()
        login = browser.get(f"{base}/", timeout=5)
        assert login.url.startswith(f"{base}/login") and "Mot de passe" in login.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
        form = {"email": "admin@example.fr", "password": "correct horse battery"}
        refused = browser.post(f"{base}/login", data=form, timeout=5)
        assert refused.status_code == 400  # no CSRF token
        home = browser.post(f"{base}/login", data={**form, "csrf_token": token}, timeout=5)
        assert "Accueil des appels hors heures ouvrables" in home.text
        assert "51 <small>clients" in home.text and "24/12/2026 23:" in home.text
        for _ in range(12):  # each on a new connection, taken by either worker
            again = requests.get(f"{base}/", cookies=browser.cookies, timeout=5)
            assert "Accueil des appels hors heures ouvrables" in again.text
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            assert json.loads(response.read()) == {"status": "ok"}


def test_serve_leaves_nothing_in_its_home_which_hosts_share(database_url, loaded, tmp_path):
    """The user ivr's home is the folder every host shares (docs/operations.md): gunicorn's
    control socket, made by default in $XDG_RUNTIME_DIR or $HOME, would be one file for every
    host's server."""
    home, runtime = tmp_path / "home", tmp_path / "run"
    home.mkdir(), runtime.mkdir()
    with running_ivr(database_url, HOME=str(home), XDG_RUNTIME_DIR=str(runtime)) as base:
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            assert response.status == 200
        assert list(home.iterdir()) == [] and list(runtime.iterdir()) == []


def test_serve_prints_json_lines_only_in_production_gunicorns_own_too(
    database_url, loaded, tmp_path
):
    """A log collector reads each line as JSON: the server's start, each request, the app's
    own events, with the caller's number masked."""
    log = tmp_path / "serve.log"
    env = {"LOG_FORMAT": "json", "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
    with running_ivr(database_url, log_to=log, **env) as base:
        assert new_call(f"{base}/twilio/voice")[0] == 200
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    said = {(line["logger"], line["event"].split(" ")[0]) for line in lines}
    assert {("gunicorn.error", "Listening"), ("gunicorn.error", "Booting")} <= said
    answered = [line["event"] for line in lines if line["logger"] == "gunicorn.access"]
    assert [event for event in answered if '"POST /twilio/voice" 200' in event]
    assert "+33611111111" not in log.read_text()


@pytest.mark.parametrize("command", [["serve"], ["worker", "--burst"]])
def test_calls_are_not_answered_without_a_last_resort_for_danger(ivr, command):
    """Outside the demo, start-up refuses: a danger call must always reach someone."""
    twilio = {
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "IVR_CALLER_ID": "+33199000000",
    }
    refused = ivr(*command, env=twilio)
    assert refused.exit_code == 2 and "NATIONAL_DUTY_NUMBER is needed" in refused.output
    if command[0] == "worker":  # the demo runs without one (`serve` would not return)
        demo = ivr(*command, env={**twilio, "IVR_SIMULATOR": "true"})
        assert demo.exit_code == 0, demo.output


def test_a_worker_without_twilio_runs_the_rest_and_says_so(ivr, db):
    """The sheets and imports go on; the operator is told at once, not the first night."""
    from sqlalchemy import select

    from ivr.adapters.orm import AlertRow

    ran = ivr("worker", "--burst", env={"NATIONAL_DUTY_NUMBER": "+33199009999"})
    assert ran.exit_code == 0 and "jobs run" in ran.stdout
    missing = "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, IVR_CALLER_ID not set"
    assert missing in ran.stderr
    with db.snapshot() as session:
        alerts = session.execute(select(AlertRow.kind, AlertRow.message)).all()
    assert [(kind, missing in message) for kind, message in alerts] == [("twilio_unset", True)]


def test_user_add_refuses_what_cannot_be_right(ivr, loaded):
    assert ivr("user", "add", "a@b.fr", "--role", "agency", input="long enough pw\n").exit_code == 1
    short = ivr("user", "add", "a@b.fr", "--role", "admin", input="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    unknown = ivr("user", "add", "a@b.fr", "--role", "manager", "--region", "XX", input="x" * 12)
    assert "no region 'XX'" in unknown.output
    assert (
        ivr(
            "user", "add", "m@b.fr", "--role", "manager", "--region", "IDF", input="x" * 12
        ).exit_code
        == 0
    )
    again = ivr("user", "add", "M@b.fr", "--role", "admin", input="x" * 12)
    assert again.exit_code == 1 and "already has an account" in again.output


def test_user_add_reads_a_piped_password_without_asking_or_showing_it(ivr, db):
    from ivr.services.accounts import authenticate
    from ivr.settings import Settings

    made = ivr("user", "add", "ops@example.fr", "--role", "admin", input="piped secret pw\n")
    assert made.exit_code == 0, made.output
    assert made.output == "ops@example.fr: admin (everything)\n"  # no prompt, no password
    clock = Settings(DATABASE_URL="sqlite://").make_clock()
    assert authenticate(db, clock, "ops@example.fr", "piped secret pw") is not None
    garbled = ivr("user", "add", "n@example.fr", "--role", "admin", input=b"\xff\xfesecret pw\n")
    assert garbled.exit_code == 1
    assert garbled.output == "Error: the password read is not text in UTF-8\n"


IVR = Path(sys.executable).parent / "ivr"


def _typed_at_a_terminal(args: list[str], env: dict[str, str], answers: list[bytes]) -> bytes:
    """Run `ivr ARGS` on a pseudo-terminal of its own (its controlling terminal, as a login
    shell's), answering each prompt in turn as a person would, once the program is reading
    (a hidden prompt: once it turned the terminal's echo off); all the terminal showed."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: becomes `ivr`, or exits at once
        try:
            os.execve(IVR, [str(IVR), *args], env)
        finally:
            os._exit(127)
    shown, deadline = b"", time.monotonic() + 30
    pending = list(answers)
    while time.monotonic() < deadline:
        ready, _, _ = select.select([terminal], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(terminal, 1024)
        except OSError:  # the child is gone: the terminal is closed
            break
        if not chunk:
            break
        shown += chunk
        if pending and shown.rstrip().endswith(b":"):
            _until_echo_is_off(terminal)
            os.write(terminal, pending.pop(0))
    os.close(terminal)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, shown
    return shown


def _until_echo_is_off(terminal: int, wait: float = 5) -> None:
    """Wait (a while, no more: a program that never hides its input fails the test on what
    the terminal showed) for the terminal to stop echoing what is typed."""
    deadline = time.monotonic() + wait
    while termios.tcgetattr(terminal)[3] & termios.ECHO and time.monotonic() < deadline:
        time.sleep(0.01)


def test_user_add_at_a_terminal_asks_twice_and_never_shows_the_password(database_url, db):
    """A terminal echoes what is typed unless the program turns echo off: the password must
    not appear on it."""
    from ivr.services.accounts import authenticate
    from ivr.settings import Settings

    env = {**os.environ, "DATABASE_URL": database_url}
    password = b"terminal secret pw"
    shown = _typed_at_a_terminal(
        ["user", "add", "tty@example.fr", "--role", "admin"], env, [password + b"\n"] * 2
    )
    assert b"Password:" in shown and b"Repeat for confirmation:" in shown
    assert password not in shown
    assert b"tty@example.fr: admin (everything)" in shown
    clock = Settings(DATABASE_URL="sqlite://").make_clock()
    assert authenticate(db, clock, "tty@example.fr", password.decode()) is not None


def test_settings_are_checked_and_kept(ivr, db, loaded):
    from ivr.adapters.orm import AppSettingRow

    assert ivr("setting", "set", "record_calls", "on").exit_code == 0
    result = ivr("setting", "set", "gas_emergency_number:0751", "0800473333")
    assert result.exit_code == 0 and "0 800 47 33 33" in result.output
    assert ivr("setting", "set", "record_calls", "maybe").exit_code == 2
    assert ivr("setting", "set", "colour", "blue").exit_code == 2
    unknown = ivr("setting", "set", "gas_emergency_number:9999", "0800473333")
    assert unknown.exit_code == 2 and "no agency '9999'" in unknown.output
    with db.snapshot() as session:
        assert session.get(AppSettingRow, "record_calls").value == "on"
        assert session.get(AppSettingRow, "gas_emergency_number:0751").updated_by.startswith("cli:")
        assert session.get(AppSettingRow, "gas_emergency_number:9999") is None


def test_a_database_that_cannot_be_used_is_said_in_one_line_and_not_made(ivr, tmp_path):
    with socket.socket() as probe:  # a port where nothing listens once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mistyped = tmp_path / "no-such-folder" / "ivr.sqlite3"
    unmigrated = tmp_path / "unmigrated.sqlite3"
    sqlite3.connect(unmigrated).close()  # a file, but no schema
    for url, reason, made_by_upgrade in (
        (f"sqlite:///{mistyped}", "unable to open database file", True),
        (f"sqlite:///{unmigrated}", "no such table", True),
        (f"postgresql://postgres@127.0.0.1:{port}/test", "Connection refused", False),
    ):
        result = ivr(
            "route", "--client-id", "1", "--at", "2026-12-24T23:00", env={"DATABASE_URL": url}
        )
        assert result.exit_code == 1, result.output
        [line] = result.output.splitlines()
        assert line.startswith("Error: the database of DATABASE_URL cannot be used: ")
        assert reason in line and ("ivr db upgrade" in line) == made_by_upgrade
    assert not mistyped.parent.exists()
    made = ivr("db", "upgrade", env={"DATABASE_URL": f"sqlite:///{mistyped}"})
    assert made.exit_code == 0 and mistyped.exists()
