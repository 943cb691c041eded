"""A client who calls again about their request in progress: the agency's sheet says what
each later call did (a message added, someone put through, the problem solved), on a short
follow-up when the sheet went already, else on the sheet itself when it goes. Whole calls
through the app, then the worker against a fake Twilio, sheets to a folder."""

from __future__ import annotations

from sqlalchemy import select

from ivr.adapters.orm import CallRow, JobRow
from ivr.simulator.dialer import Callee
from tests.calls.conftest import TECHNICIAN, identify, through_details
from tests.calls.test_staff_calls import NOBODY, unanswered_request
from tests.dispatch.test_sheet_contents import ring_out, sheets
from tests.dispatch.test_staff_dispatch import phone_of

CLIENT = "+33611111111"


def next_morning_request(n) -> None:
    """Friday 19:30: the 7/7 client's technician is to be called Saturday 08:00; the sheet
    goes at once."""
    call = phone_of(n, CLIENT)
    identify(call, "10000001")
    through_details(call)
    call.hang_up()
    n.run_worker()


def the_request(demo) -> int:
    """The one request: the calls that added to it are none of their own."""
    with demo.snapshot() as session:
        query = select(CallRow.id).where(CallRow.flow == "caller", CallRow.request_id.is_(None))
        [request] = session.scalars(query).all()
    return request


def follow_ups(n) -> list[str]:
    return [text for name, text in sorted(sheets(n).items()) if "-suite-" in name]


def line_statuses(demo) -> list[str]:
    with demo.snapshot() as session:
        query = select(JobRow.status).where(JobRow.kind == "call_line").order_by(JobRow.id)
        return list(session.scalars(query))


def test_a_client_who_says_it_is_solved_closes_the_request_and_the_agency_is_told(
    night, demo, fake_twilio
):
    n = night(at="2026-12-18T19:30")
    next_morning_request(n)
    n.later(minutes=30)
    call = phone_of(n, CLIENT)
    heard = call.start()
    assert "Vous nous avez appelés à 19 heures 30" in heard
    assert "Si le problème est réglé, tapez 2" in heard
    assert "votre demande est close" in call.press("2")
    n.run_worker()
    assert line_statuses(demo) == ["cancelled"]  # Saturday's call
    [follow_up] = follow_ups(n)
    request = the_request(demo)
    assert f"Fiche de suite — réf. {request}" in follow_up
    assert "Le vendredi 18 décembre 2026 à 20:00" in follow_up
    assert (
        "Le client a rappelé à 20:00 : le problème est réglé, la demande est close ; les appels "
        "prévus ont été annulés." in follow_up
    )
    n.later(hours=13)
    n.run_worker()
    assert fake_twilio.calls == []  # nobody woken on Saturday morning


def test_a_message_added_follows_the_sheet_and_the_morning_call_stays(night, demo, fake_twilio):
    n = night(at="2026-12-18T19:30")
    next_morning_request(n)
    n.later(minutes=30)
    call = phone_of(n, CLIENT)
    call.start()
    assert "laissez votre message" in call.press("1")
    call.leave_message(15)
    n.run_worker()
    assert line_statuses(demo) == ["pending"]
    [follow_up] = follow_ups(n)
    assert "Le client a rappelé à 20:00 : il a laissé un message de 15 secondes." in follow_up
    request = the_request(demo)
    assert sorted(sheets(n))[0] == f"fiche-{request}-agence"  # one request, one sheet
    assert "Rappels du client" not in sheets(n)[f"fiche-{request}-agence"]  # it went before


def test_put_through_on_calling_again_after_every_round_failed_follows_the_sheet(
    night, demo, fake_twilio
):
    n = night(DISPATCH_ROUNDS=1)
    unanswered_request(phone_of(n, CLIENT, NOBODY))
    ring_out(n, demo)  # nobody: the sheet goes, « Technicien joint : NON »
    request = the_request(demo)
    assert "Technicien joint : NON" in sheets(n)[f"fiche-{request}-agence"]
    n.later(minutes=40)
    call = phone_of(n, CLIENT, {TECHNICIAN: Callee(keys=["1"])})
    call.start()
    call.press("1")  # the lines are tried again at once
    assert f"BRIDGED caller <-> {TECHNICIAN}" in call.transcript
    n.run_worker()
    [follow_up] = follow_ups(n)
    assert (
        "Le client a rappelé à 23:40 : il a été mis en relation avec le technicien d'astreinte "
        "(06 39 98 01 01)." in follow_up
    )


def test_a_sheet_still_to_go_lists_the_calls_again_and_the_closing(night, demo, fake_twilio):
    """Nobody took the request yet, the dispatcher still calls: the client adds a message
    (the lines tried again during the call, in vain), then says it is solved; the sheet goes
    then, once, and says both."""
    n = night()
    unanswered_request(phone_of(n, CLIENT, NOBODY))
    n.run_worker()  # the line called again, and texted; the sheet waits for the outcome
    n.later(minutes=10)
    call = phone_of(n, CLIENT, NOBODY)
    call.start()
    assert "laissez votre message" in call.press("1")
    call.leave_message(15)
    n.run_worker()
    assert list(n.faxes.glob("*.pdf")) == []  # still waiting for the outcome
    n.later(minutes=10)
    call = phone_of(n, CLIENT, NOBODY)
    call.start()
    call.press("2")
    n.run_worker()
    request = the_request(demo)
    sent = sheets(n)
    assert list(sent) == [f"fiche-{request}-agence"]  # no follow-up: the sheet says it
    text = sent[f"fiche-{request}-agence"]
    assert "Fiche récapitulative d'astreinte — demande close par le client" in text
    assert "Technicien joint : NON" in text
    assert (
        "Rappels du client 1er rappel Le client a rappelé à 23:10 : il n'a pu être mis en "
        "relation avec personne et a laissé un message de 15 secondes. 2e rappel Le client a "
        "rappelé à 23:20 : le problème est réglé, la demande est close ; les appels prévus ont "
        "été annulés." in text
    )
    assert "23:10 06 39 98 01 01 technicien d'astreinte pas de réponse" in text  # its tries
    assert "message enregistré (20 s)" in text  # the request's own message
    assert "cancelled" in line_statuses(demo)


def test_put_through_on_calling_again_before_the_sheet_went_is_in_its_box(night, demo, fake_twilio):
    n = night()
    unanswered_request(phone_of(n, CLIENT, NOBODY))
    n.run_worker()
    n.later(minutes=10)
    call = phone_of(n, CLIENT, {TECHNICIAN: Callee(keys=["1"])})
    call.start()
    call.press("1")
    assert f"BRIDGED caller <-> {TECHNICIAN}" in call.transcript
    n.run_worker()
    request = the_request(demo)
    sent = sheets(n)
    assert list(sent) == [f"fiche-{request}-agence"]
    text = sent[f"fiche-{request}-agence"]
    assert "Technicien joint : OUI" in text and "Technicien d'astreinte, 06 39 98 01 01" in text
    assert "mis en relation avec le client quand il a rappelé, 23:10" in text
    assert (
        "1er rappel Le client a rappelé à 23:10 : il a été mis en relation avec le technicien "
        "d'astreinte (06 39 98 01 01)." in text
    )
    assert "23:10 06 39 98 01 01 technicien d'astreinte JOINT" in text
