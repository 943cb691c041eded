"""The agency's morning and the call page, as an assistant reads them at 8 a.m.: each request
with its client, callback number, fault, danger first, who was reached, the message and what
the technician reported; one click to mark it processed, a few minutes to undo it; the call
page's calls and timeline said in French, never in codes. A night's real calls through the app
and the worker (Twilio faked at the HTTP level)."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select, update

from ivr.adapters.orm import CallRow, RecordingRow
from ivr.services.accounts import add_user
from ivr.simulator.dialer import Callee
from ivr.simulator.phone import PhoneCall
from ivr.simulator.transports import FlaskTransport
from tests.calls.conftest import BACKUP, CALLING_AGAIN, TECHNICIAN, identify, through_details
from tests.conftest import AUTH_TOKEN, BASE_URL, DEMO, log_in
from tests.dispatch.test_dispatcher import caller_phone, unanswered_call

PASSWORD = "a long enough password"
PARIS_NORD = ("paris@example.fr", {"agency": "0751"})
# Codes of the trace that must never reach a back-office page.
CODES = ("call_line", "line_called", "no-answer", "not_taken", "no_heating", '"number"', "\\u00")


def logged_in(app, email: str):
    return log_in(app, email, PASSWORD)


def read(answer) -> str:
    """The page's text as a reader sees it (entities such as &#39; undone)."""
    return html.unescape(answer.get_data(as_text=True))


def the_calls(db) -> list[CallRow]:
    with db.snapshot() as session:
        return list(session.scalars(select(CallRow).order_by(CallRow.id)))


@pytest.fixture
def taken_in_hand(night, demo, fake_twilio, clock):
    """Tuesday 23:00: client 10000002 (Paris Nord) leaves a 20 s message, nobody having
    answered; past midnight the dispatcher calls the technician, who takes it in hand."""
    add_user(demo, clock, PARIS_NORD[0], PASSWORD, "agency", **PARIS_NORD[1])
    add_user(demo, clock, "admin@example.fr", PASSWORD, "admin")
    n = night()
    unanswered_call(n)
    n.later(hours=1, minutes=5)  # the worker's first pass comes after midnight
    n.run_worker()
    technician = n.pick_up(fake_twilio.calls[0])
    technician.answer()
    technician.press("2")  # taken in hand
    return n


def test_the_morning_shows_each_request_as_the_assistant_works_from_it(taken_in_hand, demo):
    n = taken_in_hand
    client, _ = logged_in(n.app, PARIS_NORD[0])
    page = read(client.get("/morning"))
    [call] = the_calls(demo)
    with demo.snapshot() as session:
        message = session.scalars(select(RecordingRow.id)).one()
    assert "Syndic Résidence Les Pins, Paris, 37 rue Riquet" in page
    assert 'href="tel:+33611111111"' in page and "06 11 11 11 11" in page
    assert "panne de chauffage (Chaudières murales gaz des 48 logements)" in page
    assert "le technicien d'astreinte de l'agence Paris Nord (06 39 98 01 01)" in page
    assert "pris en charge" in page and "22/12/2026 23:00" in page
    assert f"/recordings/{message}/audio" in page and "<audio" in page
    assert not any(code in page for code in CODES)
    assert call.reached == TECHNICIAN


def test_the_callers_own_words_are_on_the_morning_page_and_the_call_page(night, demo, clock):
    """« Autre problème » says nothing by itself: the caller's words say what it is."""
    add_user(demo, clock, PARIS_NORD[0], PASSWORD, "agency", **PARIS_NORD[1])
    n = night()
    nobody = {TECHNICIAN: Callee(answers=False), BACKUP: Callee(answers=False)}
    call = caller_phone(n, nobody)
    identify(call, "10000002")
    through_details(call, fault="4", description="la chaudière fait un bruit de moteur")
    call.leave_message(15)
    client, _ = logged_in(n.app, PARIS_NORD[0])
    [request] = the_calls(demo)
    for page in (read(client.get("/morning")), read(client.get(f"/calls/{request.id}"))):
        assert "Ses mots" in page and "« la chaudière fait un bruit de moteur »" in page


def test_a_client_who_hung_up_before_the_decision_is_on_the_morning_page(night, demo, clock):
    """Identified, then gone before the fault was said: nobody was called, no sheet went, but
    the agency sees them in the morning, to call them back."""
    add_user(demo, clock, PARIS_NORD[0], PASSWORD, "agency", **PARIS_NORD[1])
    n = night()
    call = caller_phone(n)
    identify(call, "10000002")
    call.press("1")  # the details read back are right
    call.hang_up()  # at the fault's question
    n.run_worker()
    client, _ = logged_in(n.app, PARIS_NORD[0])
    page = read(client.get("/morning"))
    [request] = the_calls(demo)
    assert f'id="request-{request.id}"' in page and "Syndic Résidence Les Pins" in page
    assert "raccroché avant la décision" in page and 'href="tel:+33611111111"' in page
    # Not one who keyed a number and hung up before saying it was theirs: not known to be
    # that client.
    unsure = caller_phone(n, from_="+33622222222")
    unsure.start()
    unsure.press("10000001#")  # read back, not confirmed
    unsure.hang_up()
    page = read(client.get("/morning"))
    assert page.count('id="request-') == 1 and "Bérard" not in page


def test_a_client_who_hung_up_then_called_straight_back_has_one_card(night, demo, clock):
    """The line dropped before the decision; two minutes later the client called again and
    made their request: the agency sees that request, not an undecided call beside it."""
    add_user(demo, clock, PARIS_NORD[0], PASSWORD, "agency", **PARIS_NORD[1])
    n = night()
    dropped = caller_phone(n)
    identify(dropped, "10000002")
    dropped.hang_up()
    n.later(minutes=2)
    unanswered_call(n)  # 10000002 again, their request, a message left
    n.run_worker()
    client, _ = logged_in(n.app, PARIS_NORD[0])
    page = read(client.get("/morning"))
    _, request = the_calls(demo)
    assert page.count('id="request-') == 1 and f'id="request-{request.id}"' in page
    assert "raccroché avant la décision" not in page


def test_a_client_told_of_their_request_who_hangs_up_has_one_card(night, demo, clock):
    add_user(demo, clock, PARIS_NORD[0], PASSWORD, "agency", **PARIS_NORD[1])
    n = night()
    unanswered_call(n)  # 10000002's request, a message left
    n.later(minutes=20)
    again = caller_phone(n)
    assert CALLING_AGAIN in again.start()  # told where their request stands
    again.hang_up()
    client, _ = logged_in(n.app, PARIS_NORD[0])
    assert read(client.get("/morning")).count('id="request-') == 1


def test_danger_comes_first_then_the_oldest(night, demo, clock):
    add_user(demo, clock, PARIS_NORD[0], PASSWORD, "agency", **PARIS_NORD[1])
    n = night()
    unanswered_call(n)
    n.later(minutes=30)
    unanswered_call(n)
    first, second = the_calls(demo)
    with demo.session() as session:  # the later one turned out dangerous
        session.execute(update(CallRow).where(CallRow.id == second.id).values(danger="gas"))
    client, _ = logged_in(n.app, PARIS_NORD[0])
    page = read(client.get("/morning"))
    assert page.index(f'id="request-{second.id}"') < page.index(f'id="request-{first.id}"')
    assert "Danger — Demande n° " in page and "odeur de gaz ou fuite de gaz" in page
    assert "gas" not in page.replace("gaz", "")


def test_marked_processed_in_one_click_undone_for_five_minutes_by_whoever_clicked(
    taken_in_hand, demo
):
    n = taken_in_hand
    [call] = the_calls(demo)
    client, token = logged_in(n.app, PARIS_NORD[0])
    done = read(
        client.post(
            f"/calls/{call.id}/processed", data={"csrf_token": token}, follow_redirects=True
        )
    )
    assert f"Demande n° {call.id} traitée" in done and "Rien à traiter." in done
    assert "traitée par paris@example.fr le 23/12/2026 00:05" in done
    assert f"/calls/{call.id}/unprocessed" in done

    admin, admin_token = logged_in(n.app, "admin@example.fr")  # not theirs to undo
    refused = read(
        admin.post(
            f"/calls/{call.id}/unprocessed", data={"csrf_token": admin_token}, follow_redirects=True
        )
    )
    assert "ne peut plus être remise à traiter" in refused

    undone = read(
        client.post(
            f"/calls/{call.id}/unprocessed", data={"csrf_token": token}, follow_redirects=True
        )
    )
    assert "remise à traiter" in undone and f'id="request-{call.id}"' in undone

    client.post(f"/calls/{call.id}/processed", data={"csrf_token": token})
    n.later(minutes=6)
    late = read(client.get("/morning"))
    assert "traitée par paris@example.fr" in late and f"/calls/{call.id}/unprocessed" not in late
    client.post(f"/calls/{call.id}/unprocessed", data={"csrf_token": token})
    assert the_calls(demo)[0].processed_by == "paris@example.fr"  # too late: it stays


def test_the_call_page_says_who_what_and_every_step_in_french(taken_in_hand, demo):
    n = taken_in_hand
    [call] = the_calls(demo)
    client, _ = logged_in(n.app, PARIS_NORD[0])
    page = read(client.get(f"/calls/{call.id}"))
    top = page[page.index("<h1") : page.index("Enregistrements")]
    assert "Syndic Résidence Les Pins" in top and 'href="tel:+33611111111"' in top
    placed = page[page.index("Appels passés") : page.index("Fiche et tâches")]
    assert "Aucun." not in placed
    assert "le technicien d'astreinte de l'agence Paris Nord (06 39 98 01 01)" in placed
    assert "appelé par le service d'astreinte" in placed and "faite : joint" in placed
    timeline = page[page.index("Déroulé") :]
    assert "Le service d'astreinte appelle le technicien d'astreinte" in timeline
    assert "Panne : panne de chauffage." in timeline and "Message laissé (20 s)." in timeline
    assert "pris en charge" in timeline
    assert "mardi 22/12/2026" in timeline and "mercredi 23/12/2026" in timeline  # past midnight
    assert "Étape «" not in timeline  # every event of a whole night has its sentence
    assert not any(code in page for code in CODES)


def test_an_unknown_callers_number_is_on_the_call_page(night, demo, clock):
    add_user(demo, clock, "admin@example.fr", PASSWORD, "admin")
    n = night()
    call = PhoneCall(FlaskTransport(n.app), BASE_URL, AUTH_TOKEN, from_="+33611111111")
    call.start()
    for keys in ("12345678#", "999#", "87654321#", "78000"):
        call.press(keys)
    call.leave_message(10)
    [stored] = the_calls(demo)
    client, _ = logged_in(n.app, "admin@example.fr")
    page = read(client.get(f"/calls/{stored.id}"))
    assert "Appelant non identifié" in page and "Code postal 78000" in page
    assert 'href="tel:+33611111111"' in page and "06 11 11 11 11" in page
    # Not « Non couvert »: no verdict on a contract, they may be a client who keyed it wrong.
    for listed in (read(client.get("/calls")), read(client.get("/morning"))):
        assert "Appelant non identifié : message pour l'agence" in listed
        assert "Non couvert" not in listed.split("<table")[-1]


def test_an_agency_sees_its_own_counts_and_agencies_only(night, demo, clock):
    add_user(demo, clock, PARIS_NORD[0], PASSWORD, "agency", **PARIS_NORD[1])
    n = night()
    client, _ = logged_in(n.app, PARIS_NORD[0])
    home = read(client.get("/"))
    figures = re.findall(r"<div>(\d+) <small>([^<]+)</small>", home)
    assert figures[0] == ("1", "agence (les vôtres)")
    rows = (DEMO / "clients.csv").read_text(encoding="utf-8").splitlines()[1:]
    own = sum(1 for row in rows if row.split(";")[12] == "0751")
    assert figures[1][0] == str(own) and own > 0
    listing = read(client.get("/calls"))
    agencies = re.search(r'<select name="agency">(.*?)</select>', listing, re.S).group(1)
    assert re.findall(r"<option[^>]*>([^<]+)</option>", agencies) == ["toutes", "0751"]
    assert "heure de Paris" in home and "UTC" not in home


def test_pages_not_found_or_forbidden_are_said_in_french(night, demo, clock):
    add_user(demo, clock, PARIS_NORD[0], PASSWORD, "agency", **PARIS_NORD[1])
    n = night()
    client, _ = logged_in(n.app, PARIS_NORD[0])
    missing = client.get("/calls/999999")
    assert missing.status_code == 404 and "Page introuvable" in read(missing)
    forbidden = client.get("/operations")
    assert forbidden.status_code == 403 and "Accès refusé" in read(forbidden)
    for answer in (missing, forbidden):
        assert "Not Found" not in read(answer) and "Forbidden" not in read(answer)
