"""The demo's phone simulator (IVR_SIMULATOR): the page's API driving whole nights through the
app served on loopback, its fake Twilio REST API answering the dispatcher; the guide's cases
and what they show; the demo data's README against the data."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ivr.composition import serve_demo
from ivr.domain.local_time import parse_instant
from ivr.services.worker import Worker
from ivr.simulator import words
from ivr.simulator.demo import ACCOUNT
from tests.calls.conftest import BACKUP, MANAGER_IDF, TECHNICIAN
from tests.conftest import AUTH_TOKEN

DEMO = Path(__file__).parents[2] / "config" / "demo"
PINS = "+33199002102"  # 10000002, Syndic Résidence Les Pins: collective, Paris Nord
BERARD = "+33199002101"  # 10000001, Mme Hélène Bérard: individual 7/7, Paris Nord
# The simulator's own notation, which the page must never show.
NOTATION = re.compile(
    r"\b(CALL|CALLER|CALLEE|BRIDGED|TECH|IVR|TWILIO|VOICEMAIL|ENDED|presses|answers|hangs|"
    r"dials|beeps|silent|timeout|busy|no answer|stops ringing|cannot)\b"
)


@contextmanager
def demo_served(settings, at: str) -> Iterator[tuple[Any, Worker]]:
    """The demo app on a free loopback port and a worker on its clock, as `make run` runs
    them (`serve_demo`)."""
    with serve_demo(
        settings.model_copy(update={"TWILIO_AUTH_TOKEN": AUTH_TOKEN}), parse_instant(at)
    ) as stack:
        yield stack.app, stack.worker


@pytest.fixture
def demo_app(settings, demo):
    with demo_served(settings, "2026-12-22T23:00") as served:
        yield served


def state(client) -> dict[str, Any]:
    return client.get("/simulator/api/state").get_json()


def the_call(client, call: int) -> dict[str, Any]:
    return next(c for c in state(client)["calls"] if c["id"] == call)


def place(client, caller: str, at: str | None = None) -> int:
    answer = client.post("/simulator/api/calls", json={"from": caller, "at": at})
    assert answer.status_code == 200, answer.get_json()
    return int(answer.get_json()["id"])


def press(client, call: int, *keys: str) -> None:
    for key in keys:
        answer = client.post(f"/simulator/api/calls/{call}/press", json={"value": key})
        assert answer.status_code == 200, answer.get_json()


def phone(client, call: int, number: str, action: str, keys: str = "") -> Any:
    return client.post(
        f"/simulator/api/calls/{call}/transfer",
        json={"number": number, "action": action, "value": keys},
    )


def french(lines: list[str]) -> list[str]:
    """`lines`, once checked to hold none of the simulator's own notation."""
    assert not [line for line in lines if NOTATION.search(line)], lines
    return lines


def test_the_page_is_served_only_with_the_simulator(make_app, demo_app):
    app, _ = demo_app
    page = app.test_client().get("/simulator").get_data(as_text=True)
    assert "Simulateur téléphonique" in page
    assert make_app().test_client().get("/simulator").status_code == 404
    # The guide: which demo client shows what.
    for title in (
        "Un client collectif mis en relation avec le technicien",
        "Un client 7/7 après 18 h : le technicien est appelé le lendemain matin",
        "Un client qui rappelle : où en est sa demande",
        "Un appelant inconnu du fichier clients",
        "Une odeur de gaz",
        "Un technicien injoignable trois fois de suite",
    ):
        assert f"<h3>{title}</h3>" in page
    assert "Appelez le jeudi 24 décembre à 19:00" in page  # the next such evening, from 23:00
    # The caller is a demo client from the start; the date is the simulated clock's.
    assert f'id="from" name="from" value="{PINS}"' in page
    assert 'id="at" name="at" type="datetime-local" value="2026-12-22T23:00"' in page


def test_a_call_still_on_the_line_stays_live_when_the_clock_moves_on(demo_app):
    """The dispatcher asks the demo's Twilio how a quiet call stands: a caller still ringing
    the technician's phone is on the line, one who hung up is not."""
    from sqlalchemy import select

    from ivr.adapters.orm import CallEventRow, CallRow

    app, worker = demo_app
    client = app.test_client()
    call = place(client, PINS)
    press(client, call, "1", "1", "1", "#")
    assert the_call(client, call)["waiting_for"] == "transfer"
    client.post("/simulator/api/clock", json={"minutes": 15})
    worker.run_due()
    db = app.extensions["ivr.db"]
    with db.snapshot() as session:
        assert session.scalars(select(CallRow.ended_at)).one() is None
        assert "status_asked" in session.scalars(select(CallEventRow.kind)).all()
    assert not the_call(client, call)["ended"]


def test_a_live_transfer_rings_the_technicians_phone_which_takes_it(demo_app):
    app, _ = demo_app
    client = app.test_client()
    call = place(client, PINS)
    press(client, call, "1", "1", "1", "#")
    seen = state(client)
    assert seen["transfers_ringing"] == [
        {"call": call, "to": TECHNICIAN, "who": "06 39 98 01 01 (Astreinte Paris Nord - principal)"}
    ]
    caller = the_call(client, call)
    assert caller["waiting_for"] == "transfer" and not caller["can"]["press"]
    assert "le téléphone du technicien (Astreinte Paris Nord - principal" in caller["status"]
    refused = client.post(f"/simulator/api/calls/{call}/press", json={"value": "1"})
    assert (
        refused.status_code == 400
        and "attend d'être mis en relation" in refused.get_json()["error"]
    )

    assert phone(client, call, TECHNICIAN, "answer").status_code == 200
    [technician] = state(client)["transfers"]
    assert technician["waiting"] and technician["to"] == TECHNICIAN
    assert "Pour prendre l'appel, tapez 1" in technician["lines"][-1]
    assert phone(client, call, TECHNICIAN, "press", "*").status_code == 200  # hear it again
    assert phone(client, call, TECHNICIAN, "press", "1").status_code == 200

    caller = the_call(client, call)
    assert caller["ended"] and not any(caller["can"].values())
    lines = french(caller["lines"])
    assert lines[0] == "Appel de 01 99 00 21 02 au numéro d'astreinte (01 99 00 00 00)"
    assert "L'appelant tape 1" in lines
    assert (
        "Mis en relation avec le technicien (Astreinte Paris Nord - principal, 06 39 98 01 01)"
        in lines
    )
    assert not any("Pour prendre l'appel" in line for line in lines)  # on the technician's phone
    [technician] = state(client)["transfers"]
    assert technician["ended"]
    assert french(technician["lines"])[-3:] == [
        "Le technicien tape 1",
        "Mis en relation avec l'appelant (01 99 00 21 02)",
        "Fin de la conversation, au bout de 30 s",
    ]
    ended = client.post(f"/simulator/api/calls/{call}/press", json={"value": "1"})
    assert ended.status_code == 400
    assert ended.get_json()["error"] == "L'appel est terminé : plus de touches."


def test_a_phone_let_ring_then_a_voicemail_the_caller_leaves_a_message(demo_app):
    app, worker = demo_app
    client = app.test_client()
    call = place(client, PINS)
    press(client, call, "1", "1", "1", "#")
    assert phone(client, call, TECHNICIAN, "no-answer").status_code == 200
    assert [r["to"] for r in state(client)["transfers_ringing"]] == [BACKUP]
    assert phone(client, call, BACKUP, "voicemail").status_code == 200
    caller = the_call(client, call)
    assert caller["waiting_for"] == "record" and caller["can"]["message"]
    lines = french(caller["lines"])
    assert "Le technicien (Astreinte Paris Nord - principal, 06 39 98 01 01) ne répond pas" in lines
    assert (
        "La messagerie du technicien (Astreinte Paris Nord - secours, 06 39 98 01 02) répond"
        in (lines)
    )
    assert any("n'a pas répondu" in line for line in lines)
    client.post(f"/simulator/api/calls/{call}/message", json={"value": "20"})
    assert the_call(client, call)["ended"]
    worker.run_due()  # nobody took it: the dispatcher calls the technician again, and texts
    seen = state(client)
    assert [r["to"] for r in seen["ringing"]] == [TECHNICIAN]
    assert seen["messages"][0]["who"] == "06 39 98 01 01 (Astreinte Paris Nord - principal)"
    jobs = {j["what"]: j["state"] for j in seen["jobs"]}
    assert jobs["Appel du technicien (demande en attente)"] == "en attente de l'issue"
    assert jobs["SMS au technicien"] == "faite : envoyé"


def test_the_caller_hangs_up_while_the_technicians_phone_rings(demo_app):
    app, _ = demo_app
    client = app.test_client()
    call = place(client, PINS)
    press(client, call, "1", "1", "1", "#")
    client.post(f"/simulator/api/calls/{call}/hangup")
    seen = state(client)
    assert seen["transfers_ringing"] == []
    lines = french(the_call(client, call)["lines"])
    assert lines[-3:-1] == [
        "L'appelant raccroche",
        "Le téléphone du technicien (Astreinte Paris Nord - principal, 06 39 98 01 01) ne "
        "sonne plus",
    ]
    late = phone(client, call, TECHNICIAN, "answer")
    assert late.status_code == 400 and late.get_json()["error"] == words.PICKUP_REFUSED


def test_a_7_7_client_after_18_00_is_called_the_next_morning_on_the_eve_of_a_holiday(demo_app):
    app, worker = demo_app
    client = app.test_client()
    # On a weekday evening before a working day: nobody is called, the sheet goes out. (Over
    # 24 hours before the next call: that one is no call about a request in progress.)
    call = place(client, BERARD, "2026-12-23T18:30")
    press(client, call, "1", "1", "1", "#")
    client.post(f"/simulator/api/calls/{call}/hangup")
    worker.run_due()
    assert [j["what"] for j in state(client)["jobs"]] == ["Fiche récapitulative (fax)"]

    case = client.post("/simulator/api/guide/7-7-soir").get_json()
    assert case == {"caller": BERARD, "at": "2026-12-24T19:00", "phones": {}}
    call = place(client, case["caller"], case["at"])
    press(client, call, "1", "1", "1", "#")
    lines = french(the_call(client, call)["lines"])
    assert any("Nous appellerons le technicien d'astreinte demain vendredi" in x for x in lines)
    client.post(f"/simulator/api/calls/{call}/hangup")
    worker.run_due()
    assert state(client)["ringing"] == []
    morning = next(j for j in state(client)["jobs"] if j["kind"] == "call_line")
    assert (morning["what"], morning["due"], morning["state"]) == (
        "Appel du technicien (rappel du matin)",
        "25/12 08:00",
        "à venir",
    )
    assert client.post("/simulator/api/clock", json={"next_job": True}).status_code == 200
    assert "vendredi 25 décembre 2026, 08:00" in state(client)["clock"]
    worker.run_due()
    assert [r["to"] for r in state(client)["ringing"]] == [TECHNICIAN]


def test_an_unknown_caller_leaves_a_message_for_the_agency_of_the_postcode(demo_app):
    app, worker = demo_app
    client = app.test_client()
    case = client.post("/simulator/api/guide/inconnu").get_json()
    call = place(client, case["caller"], case["at"])
    assert any("numéro de contrat" in x for x in the_call(client, call)["lines"])
    press(client, call, "11111111#", "11111111#", "11111111#", "75018")
    client.post(f"/simulator/api/calls/{call}/message", json={"value": "10"})
    assert the_call(client, call)["ended"]
    worker.run_due()
    seen = state(client)
    assert seen["ringing"] == [] and seen["transfers"] == []
    [sheet] = seen["sheets"]
    assert re.fullmatch(r"Fiche \d+, pour l'agence", sheet["title"])
    # The sheet, and the caller texted at their mobile that the agency has their request.
    targets = sorted(j["for"] for j in seen["jobs"])
    assert targets == ["01 99 00 11 01 (agence Paris Nord)", "06 39 98 99 99"]
    # The demo's Twilio keeps the message, as Twilio lists it to a worker looking for one
    # whose callback was lost (this one's came).
    listed = client.get(
        f"/simulator/twilio/2010-04-01/Accounts/{ACCOUNT}/Recordings.json",
        query_string={"DateCreated>": "2026-12-21T23:00:00Z"},
    ).get_json()["recordings"]
    assert [(r["duration"], r["source"], r["status"]) for r in listed] == [
        ("10", "RecordVerb", "completed")
    ]


def test_a_gas_smell_rings_the_manager_on_duty_named_as_a_manager(demo_app):
    app, worker = demo_app
    client = app.test_client()
    call = place(client, BERARD)
    press(client, call, "9", "1", "10000001#")
    assert [r["to"] for r in state(client)["transfers_ringing"]] == [MANAGER_IDF]
    assert (
        "le téléphone du cadre (Claire Lefèvre, 06 39 98 02 01)"
        in (the_call(client, call)["status"])
    )
    phone(client, call, MANAGER_IDF, "answer")
    [manager] = state(client)["transfers"]
    assert french(manager["lines"])[0] == "Le cadre décroche"
    phone(client, call, MANAGER_IDF, "press", "1")
    lines = french(the_call(client, call)["lines"])
    assert "Mis en relation avec le cadre (Claire Lefèvre, 06 39 98 02 01)" in lines
    assert any("Urgence Sécurité Gaz" in line for line in lines)
    worker.run_due()
    seen = state(client)
    assert seen["messages"][0]["who"] == "06 39 98 02 01 (Claire Lefèvre)"
    assert sorted(re.sub(r"\d+", "N", s["title"]) for s in seen["sheets"]) == [
        "Fiche N, pour l'agence",
        "Fiche N, pour la direction régionale",
    ]


def test_a_technician_unreachable_three_times_brings_in_the_manager(demo_app):
    app, worker = demo_app
    client = app.test_client()
    case = client.post("/simulator/api/guide/injoignable").get_json()
    assert case["phones"] == {TECHNICIAN: "ring", BACKUP: "ring"}
    assert state(client)["behaviours"] == case["phones"]
    for time in range(3):
        call = place(client, case["caller"])
        if time == 0:
            press(client, call, "1", "1", "1", "#")
        else:  # calling again: where the request stands, then 1: its lines tried again
            heard = " ".join(the_call(client, call)["lines"])
            assert "Nous n'avons pas encore pu joindre le technicien ; nous continuons." in heard
            press(client, call, "1")
            heard = " ".join(the_call(client, call)["lines"])
            assert "Nous essayons de nouveau de joindre le technicien d'astreinte." in heard
        assert state(client)["transfers_ringing"] == []  # they do not answer, by themselves
        client.post(f"/simulator/api/calls/{call}/message", json={"value": "10"})
        assert the_call(client, call)["ended"]
        worker.run_due()
        managers = [r for r in state(client)["ringing"] if r["to"] == MANAGER_IDF]
        assert len(managers) == (1 if time == 2 else 0)
    texted = [m["body"] for m in state(client)["messages"] if m["to"] == MANAGER_IDF]
    assert len(texted) == 1 and "injoignable 3 fois" in texted[0]
    jobs = {j["what"]: j["for"] for j in state(client)["jobs"]}
    assert jobs["Appel du cadre (technicien injoignable)"] == "06 39 98 02 01 (Claire Lefèvre)"
    assert jobs["SMS au cadre (technicien injoignable)"] == "06 39 98 02 01 (Claire Lefèvre)"
    client.post("/simulator/api/guide/collectif")  # the phones ring on the page again
    assert state(client)["behaviours"] == {}


def test_placing_a_call_never_moves_the_clock_backwards(demo_app):
    app, _ = demo_app
    client = app.test_client()
    assert client.post("/simulator/api/clock", json={"minutes": 60}).status_code == 200
    assert state(client)["clock_input"] == "2026-12-23T00:00"
    past = client.post("/simulator/api/calls", json={"from": PINS, "at": "2026-12-22T23:30"})
    assert past.status_code == 400
    assert past.get_json()["error"].startswith(
        "L'horloge simulée est déjà au mercredi 23 décembre 2026, 00:00"
    )
    assert state(client)["calls"] == []
    # The field's own minute (the clock has run on a few seconds since): placed now.
    place(client, PINS, state(client)["clock_input"])
    assert state(client)["clock_input"] == "2026-12-23T00:00"
    place(client, PINS, "2026-12-23T02:15")
    assert state(client)["clock"].startswith("mercredi 23 décembre 2026, 02:15")
    assert client.post("/simulator/api/clock", json={"minutes": -5}).status_code == 400


def test_a_night_from_the_page_the_technician_answers_the_dispatchers_call(demo_app):
    app, worker = demo_app
    client = app.test_client()
    for number in (TECHNICIAN, BACKUP):  # nobody takes it while the caller waits
        client.post("/simulator/api/behaviour", json={"number": number, "behaviour": "ring"})
    call = place(client, "+33611111111")
    press(client, call, "10000002#", "1", "1", "1", "#")
    client.post(f"/simulator/api/calls/{call}/message", json={"value": "20"})
    seen = state(client)
    assert seen["calls"][0]["ended"] and "mardi 22 décembre 2026" in seen["clock"]

    worker.run_due()  # the dispatcher calls the technician through the fake Twilio
    seen = state(client)
    [ringing] = seen["ringing"]
    assert ringing["to"] == TECHNICIAN
    # The technician is texted the request; the caller, on a mobile, its confirmation.
    assert {m["to"] for m in seen["messages"]} == {TECHNICIAN, "+33611111111"}

    sid = ringing["sid"]
    assert client.post(f"/simulator/api/outbound/{sid}/answer").status_code == 200
    [called] = state(client)["outbound"]
    assert called["waiting"] and any("06 11 11 11 11" in line for line in called["lines"])
    assert french(called["lines"])[:2] == [
        "Appel du service d'astreinte (01 99 00 00 00) vers le technicien (Astreinte Paris "
        "Nord - principal, 06 39 98 01 01)",
        "Le technicien décroche",
    ]
    again = client.post(f"/simulator/api/outbound/{sid}/answer")
    assert again.status_code == 400 and again.get_json()["error"] == words.PICKUP_REFUSED
    assert (
        client.post(f"/simulator/api/outbound/{sid}/press", json={"value": "2"}).status_code == 200
    )
    assert "Le technicien tape 2" in state(client)["outbound"][0]["lines"]
    worker.run_due()  # the sheet
    [sheet] = state(client)["sheets"]
    pdf = client.get(f"/simulator/sheets/{sheet['name']}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.get("/simulator/sheets/..%2Fsecret.pdf").status_code == 404


def test_bad_input_gets_a_clear_answer_in_french(demo_app):
    app, _ = demo_app
    client = app.test_client()
    assert client.post("/simulator/api/calls", json={"from": ""}).status_code == 400
    answer = client.post("/simulator/api/calls", json={"from": PINS, "at": "demain"})
    assert answer.status_code == 400 and "illisible" in answer.get_json()["error"]
    assert client.post("/simulator/api/calls/999/press", json={"value": "1"}).status_code == 404
    call = place(client, PINS)
    stray = client.post(f"/simulator/api/calls/{call}/press", json={"value": "x"})
    assert stray.status_code == 400
    assert stray.get_json()["error"] == "Touches inconnues : seulement 0 à 9, * et #."
    message = client.post(f"/simulator/api/calls/{call}/message", json={"value": "5"})
    assert message.status_code == 400 and "attend une réponse" in message.get_json()["error"]
    unknown = client.post("/simulator/api/outbound/CAnope/answer")
    assert unknown.status_code == 400 and unknown.get_json()["error"] == words.PICKUP_REFUSED
    assert client.post("/simulator/api/guide/nope").status_code == 400
    how = client.post("/simulator/api/behaviour", json={"number": TECHNICIAN, "behaviour": "x"})
    assert how.status_code == 400 and how.get_json()["error"] == "Comportement inconnu."
    # More keys than any person keys in one question: the app refuses the request; the page
    # says what Twilio would do, not « Erreur du serveur ».
    stranger = place(client, "+33622222222")  # asked their contract number: any length
    held = client.post(f"/simulator/api/calls/{stranger}/press", json={"value": "1" * 1001 + "#"})
    assert held.status_code == 400 and "l'appel serait coupé" in held.get_json()["error"]


def test_the_words_of_the_jobs_and_sheets():
    assert words.duration(42) == "42 s" and words.duration(125) == "2 min 05 s"
    assert words.duration(120) == "2 min"
    assert words.job_what("call_line", {"role": "manager", "purpose": "danger", "round": 2}) == (
        "Appel du cadre (danger, 2e tour)"
    )
    assert words.job_what("sms", {"role": "technician"}) == "SMS au technicien"
    assert words.job_what("delete_recordings", {}) == "Effacement des enregistrements échus"
    assert words.job_state("done", "reached") == "faite : personne jointe"
    assert words.job_state("done", "12 deleted") == "faite : 12 effacé(s)"
    assert words.job_state("failed", "HTTP 500 from the provider") == "en échec"
    assert words.sheet_title("fiche-7-suite-31-agence-renvoi-2") == (
        "Fiche 7 (suite), pour l'agence, renvoi 2"
    )
    assert words.sheet_title("fiche-7-fax-33199001101") == "Fiche 7, pour le fax 01 99 00 11 01"


def test_ivr_simulate_prints_the_call_and_what_the_dispatcher_did(database_url, demo, tmp_path):
    from click.testing import CliRunner

    from ivr.cli import main

    env = {"DATABASE_URL": database_url, "FAX_FOLDER": str(tmp_path / "faxes")}
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "--at",
            "2026-12-22T23:00",
            "--callee",
            f"{TECHNICIAN}=ring",
            "--callee",
            f"{BACKUP}=voicemail",
            "10000002#",
            "1",
            "1",
            "1",
            "say:Plus de chauffage dans tout l'immeuble",
            "message:20",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert 'CALLER says "Plus de chauffage' in out and "CALLER leaves a 20 s message" in out
    assert f"calls {TECHNICIAN} (ring)" in out and f"calls {BACKUP} (voicemail)" in out
    assert "VOICEMAIL answers" in out and f"text message to {TECHNICIAN}" in out
    assert "summary sheet:" in out  # two rounds without a person: the sheet, "not reached"
    # A step the call cannot take there (keys while a message is recorded) ends the script.
    standard = CliRunner().invoke(
        main, ["simulate", "--from", "+33639981003", "1", "1", "1"], env=env
    )  # identity confirmed, no danger (1), then a key while the message is recorded
    assert standard.exit_code == 0, standard.output
    assert "step '1' not taken: Le serveur vocal enregistre un message" in standard.output
    bad = CliRunner().invoke(main, ["simulate", "--callee", "x=dance"], env=env)
    assert bad.exit_code == 2 and "take|ring|voicemail|busy" in bad.output


def test_ivr_simulate_on_a_database_not_prepared_says_what_to_run(tmp_path):
    from click.testing import CliRunner

    from ivr.cli import main

    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}"}
    missing = CliRunner().invoke(main, ["simulate", "10000002#"], env=env)
    assert missing.exit_code == 1
    assert "not ready (database unreachable)" in missing.output
    assert "ivr db upgrade" in missing.output and "IVR:" not in missing.output
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    empty = CliRunner().invoke(main, ["simulate", "10000002#"], env=env)
    assert empty.exit_code == 1 and "no directory loaded" in empty.output


def test_the_demo_readme_matches_the_demo_data():
    readme = (DEMO / "README.md").read_text(encoding="utf-8")
    with (DEMO / "clients.csv").open(encoding="utf-8") as file:
        clients = {row["client_id"]: row for row in csv.DictReader(file, delimiter=";")}
    assert "(../../docs/formats.md)" in readme and (DEMO / "../../docs/formats.md").is_file()
    memorable = re.findall(r"^\| `(\d{8})` \| (\d{4}) \| (\w+)", readme, re.MULTILINE)
    assert len(memorable) == 7
    for client_id, agency, contract in memorable:
        assert (clients[client_id]["agency"], clients[client_id]["contract"]) == (agency, contract)
    assert f"| `clients.csv` | {len(clients)} clients" in readme
    expired = re.search(r"Expired cover.*: (.*)\.", readme)
    assert expired is not None
    assert {c for c in re.findall(r"`(\d+)`", expired[1])} == {
        c for c, row in clients.items() if row["valid_until"] and row["valid_until"] < "2026-12-22"
    }
    assert "Thursday 24 December at 19:00" in readme  # the guide's evening (first test above)
