"""A client who calls again while their request is in progress (docs/call-flow.md, "A caller
who calls again"), as whole calls with the dispatcher between them: they hear where it stands,
and their choice acts on that request; one request, not two. Also the client's texts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ivr.adapters.orm import CallEventRow, CallRow, DialAttemptRow, JobRow
from ivr.services import back_office, caller_texts
from ivr.services.reference import ReferenceCache
from ivr.services.staff import set_pin
from ivr.simulator.dialer import Callee
from ivr.simulator.phone import PhoneCall
from tests.calls.conftest import BACKUP, MANAGER_IDF, TECHNICIAN, identify, through_details
from tests.calls.test_staff_calls import NOBODY, events, pins, unanswered_request
from tests.dispatch.test_staff_dispatch import phone_of

CLIENT = "+33611111111"  # a mobile


def calls(db) -> list[CallRow]:
    with db.snapshot() as session:
        query = select(CallRow).where(CallRow.flow == "caller").order_by(CallRow.id)
        return list(session.scalars(query))


def jobs_of(db, call_id: int, kind: str) -> list[JobRow]:
    with db.snapshot() as session:
        query = select(JobRow).where(JobRow.call_id == call_id, JobRow.kind == kind)
        return list(session.scalars(query.order_by(JobRow.id)))


def dials_of(db, call_id: int) -> list[str]:
    with db.snapshot() as session:
        query = select(DialAttemptRow.number).where(DialAttemptRow.call_id == call_id)
        return list(session.scalars(query.order_by(DialAttemptRow.id)))


def next_morning_request(n) -> CallRow:
    """Friday 19:30: a 7/7 client whose technician is called on Saturday at 08:00."""
    call = phone_of(n, CLIENT)
    identify(call, "10000001")
    through_details(call)
    call.hang_up()
    n.run_worker()
    [request] = calls(n.dispatcher.db)
    return request


def unreachable_three_times(n) -> None:
    """The client's request, then two calls again adding to it: nobody took the line three
    times in a row, and the manager is told."""
    unanswered_request(phone_of(n, CLIENT, NOBODY))
    n.run_worker()
    for _ in range(2):
        n.later(minutes=10)
        again = phone_of(n, CLIENT, NOBODY)
        again.start()
        again.press("1")
        again.leave_message(8)
        n.run_worker()


def technician_reports_on_my_way(n) -> None:
    tech = phone_of(n, TECHNICIAN)
    tech.start()
    tech.press("2468#")
    assert "Syndic Résidence Les Pins" in tech.press("1")  # the request waiting
    tech.press("3")  # what came of it
    assert "C'est noté" in tech.press("4")  # on my way


def test_on_the_way_the_client_calling_again_hears_it_and_nobody_is_called_again(
    night, demo, clock, fake_twilio
):
    pins(demo, clock)
    n = night()  # Tuesday 23:00, agency 0751 on call
    unanswered_request(phone_of(n, CLIENT, NOBODY))
    n.run_worker()
    n.later(minutes=15)
    technician_reports_on_my_way(n)
    n.run_worker()
    told = [m["Body"] for m in fake_twilio.messages if m["To"] == CLIENT]
    [request] = calls(demo)
    assert len(told) == 2 and f"demande n° {request.id}" in told[0]
    assert "Nous n'avons pas encore pu joindre le technicien ; nous continuons." in told[0]
    assert "vous a indiqué être en route" in told[1] and "STOP" in told[1]
    placed = len(fake_twilio.calls)

    n.later(minutes=20)
    again = phone_of(n, CLIENT, NOBODY)
    heard = again.start()
    assert "Vous nous avez appelés à 23 heures." in heard
    assert "a pris votre demande en charge à 23 heures 15 et vous a indiqué être en route" in heard
    assert "ajouter un message à cette demande, tapez 1" in heard
    heard = again.press("1")
    assert "Votre message sera ajouté à votre demande" in heard and "signal sonore" in heard
    again.leave_message(10)
    assert again.ended
    n.run_worker()

    request, added = calls(demo)
    assert added.request_id == request.id and added.action == "added"
    assert dials_of(demo, added.id) == [] and len(fake_twilio.calls) == placed  # nobody woken
    assert jobs_of(demo, added.id, "call_line") == jobs_of(demo, added.id, "sheet") == []
    assert [e["choice"] for e in events(demo, "called_again")] == ["add", "add"]  # both traces
    addition = [j for j in jobs_of(demo, request.id, "sheet") if j.payload.get("change")]
    # The report came before the sheet went (the sheet says it); the call again follows it.
    assert [j.payload["change"]["what"] for j in addition] == ["called_again"]


def test_solved_the_request_is_closed_and_the_next_morning_call_cancelled(night, demo, fake_twilio):
    n = night(at="2026-12-18T19:30")  # Friday evening
    request = next_morning_request(n)
    n.later(minutes=30)
    again = phone_of(n, CLIENT)
    heard = again.start()
    assert "Vous nous avez appelés à 19 heures 30." in heard
    assert "Le technicien sera prévenu demain samedi, à 8 heures." in heard
    heard = again.press("2")
    assert "votre demande est close" in heard and "Au revoir" in heard
    assert again.ended
    n.run_worker()
    [line] = jobs_of(demo, request.id, "call_line")
    assert line.status == "cancelled"
    n.later(hours=13)  # Saturday 08:30
    n.run_worker()
    assert fake_twilio.calls == []
    closing = [j.payload.get("change", {}).get("what") for j in jobs_of(demo, request.id, "sheet")]
    assert closing == [None, "closed_by_caller"]  # the sheet, then what the client said
    assert len(calls(demo)) == 2 and calls(demo)[1].request_id == request.id

    # Closed: the next call is an ordinary one.
    third = phone_of(n, CLIENT)
    assert "Vous nous avez appelés" not in third.start()


def test_calling_again_with_gas_the_danger_path_at_once(night, demo, fake_twilio):
    n = night(at="2026-12-18T19:30")
    request = next_morning_request(n)
    n.later(minutes=40)
    again = phone_of(n, CLIENT)
    assert "Le technicien sera prévenu" in again.start()
    assert "odeur de gaz, tapez 1" in again.press("9")
    heard = again.press("1")  # gas
    assert "ne touchez à aucun interrupteur" in heard
    assert "Nous appelons le responsable d'astreinte" in heard  # the manager, at once
    danger = calls(demo)[1]
    assert danger.action == "escalate" and danger.danger == "gas"
    assert danger.request_id is None  # a danger is a request of its own: its own sheets
    assert danger.client_id == request.client_id  # known from the request: not asked again


def test_nobody_reached_yet_the_lines_are_tried_again_and_the_third_time_raises_the_manager(
    night, demo, fake_twilio
):
    n = night()
    unanswered_request(phone_of(n, CLIENT, NOBODY))  # first time: every line tried
    n.run_worker()
    for minutes in (10, 10):
        n.later(minutes=minutes)
        again = phone_of(n, CLIENT, NOBODY)
        heard = again.start()
        assert "Nous n'avons pas encore pu joindre le technicien ; nous continuons." in heard
        heard = again.press("1")
        assert "Nous essayons de nouveau de joindre le technicien" in heard
        assert "Laissez" in heard or "signal sonore" in heard  # nobody took it: a message
        again.leave_message(8)
        n.run_worker()
    request, second, third = calls(demo)
    assert second.request_id == third.request_id == request.id
    assert second.action == third.action == "call_now"
    assert len(dials_of(demo, third.id)) == 2  # both lines of the agency, at once
    assert len(events(demo, "line_unreachable")) == 3
    assert [e["times"] for e in events(demo, "technician_unreachable")] == [3]
    assert MANAGER_IDF in [c["To"] for c in fake_twilio.calls]
    [told] = [m["Body"] for m in fake_twilio.messages if m["To"] == MANAGER_IDF]
    assert "injoignable 3 fois de suite" in told and told.count("réf.") == 1  # one request
    assert f"réf. {request.id} Paris, 37 rue Riquet, panne de chauffage" in told  # the street
    # One request: the dispatcher calls its lines for it alone; the calls again plan none.
    lines = [j for j in jobs_of(demo, third.id, "call_line") if j.payload["role"] == "technician"]
    assert jobs_of(demo, second.id, "call_line") == lines == []
    assert jobs_of(demo, second.id, "sheet") == jobs_of(demo, third.id, "sheet") == []


def test_texts_go_to_mobiles_only_with_the_reference(night, demo, fake_twilio):
    n = night()
    landline = phone_of(n, "+33145678901", NOBODY)
    unanswered_request(landline)
    n.run_worker()
    assert [m["To"] for m in fake_twilio.messages] == [TECHNICIAN]  # the client: a landline
    n.later(minutes=5)
    mobile = phone_of(n, "+33611223344", NOBODY)  # another request, from a mobile
    identify(mobile, "10000002")
    through_details(mobile)
    mobile.hang_up()
    n.run_worker()
    [_, request] = calls(demo)
    [confirmation] = [m for m in fake_twilio.messages if m["To"] == "+33611223344"]
    assert f"demande n° {request.id}" in confirmation["Body"]
    assert [e["to"] for e in events(demo, "caller_texted")] == ["+33611223344"]  # traced


def test_texts_can_be_switched_off(night, demo, fake_twilio):
    n = night(CALLER_TEXTS=False)
    unanswered_request(phone_of(n, CLIENT, NOBODY))
    n.run_worker()
    assert [m["To"] for m in fake_twilio.messages] == [TECHNICIAN]


def test_the_manager_hears_the_request_raised_on_a_call_again_and_acknowledges_it(
    night, demo, clock, fake_twilio
):
    """The third time came on the client's call again: the manager's alert is the request,
    and taking it in hand clears it."""
    pins(demo, clock)
    set_pin(demo, clock, ReferenceCache().directory(demo), MANAGER_IDF, "8642", "test")
    n = night()
    unreachable_three_times(n)
    [request] = [c for c in calls(demo) if c.request_id is None]
    manager = phone_of(n, MANAGER_IDF)
    manager.start()
    manager.press("8642#")
    heard = manager.press("1")  # the alerts
    assert "technicien injoignable" in heard and heard.count("Syndic Résidence Les Pins") == 1
    manager.press("2")  # taken in hand
    assert [e["by"] for e in events(demo, "staff_outcome")] == [MANAGER_IDF]
    to_manager = [
        j for j in jobs_of(demo, request.id, "call_line") if j.payload["role"] == "manager"
    ]
    assert to_manager and {j.status for j in to_manager} <= {"cancelled", "done"}  # no round more
    with demo.snapshot() as session:
        assert session.get(CallRow, request.id).reached == MANAGER_IDF
    manager = phone_of(n, MANAGER_IDF)
    manager.start()
    manager.press("8642#")
    assert "Syndic Résidence Les Pins" not in manager.press("1")  # acknowledged: no more


def test_a_stop_from_a_technicians_phone_stops_no_staff_text(night, demo, clock, fake_twilio):
    """STOP is the client's: the staff are texted what they need, whatever their phone said."""
    caller_texts.stop(demo, TECHNICIAN, clock.now())
    n = night()
    unanswered_request(phone_of(n, CLIENT, NOBODY))
    n.run_worker()
    assert sorted(m["To"] for m in fake_twilio.messages) == [CLIENT, TECHNICIAN]


def test_a_request_the_client_closed_is_no_longer_waiting_for_the_technician(
    night, demo, clock, fake_twilio
):
    pins(demo, clock)
    n = night()
    unanswered_request(phone_of(n, CLIENT, NOBODY))
    n.run_worker()
    n.later(minutes=10)
    again = phone_of(n, CLIENT, NOBODY)
    again.start()
    assert "votre demande est close" in again.press("2")
    tech = phone_of(n, TECHNICIAN)
    tech.start()
    assert "Syndic Résidence Les Pins" not in tech.press("2468#") + tech.press("1")
    [request, _] = calls(demo)
    assert {j.status for j in jobs_of(demo, request.id, "call_line")} == {"cancelled"}


def test_nobody_left_to_call_the_client_calling_again_gets_a_new_round(night, demo, fake_twilio):
    """The dispatcher's rounds were over (the agency has the sheet): the lines tried again
    while the client waits, in vain, and the client told « nous continuons »: so it does."""
    n = night(DISPATCH_ROUNDS=1)
    unanswered_request(phone_of(n, CLIENT, NOBODY))
    n.run_worker()
    for _ in range(2):  # the technician's line, then the backup line: no answer
        [line] = [j for j in jobs_of(demo, calls(demo)[0].id, "call_line") if j.status == "waiting"]
        n.twilio_posts(f"/twilio/outbound/status?job={line.id}", CallStatus="no-answer")
        n.run_worker()
    placed = len(fake_twilio.calls)
    n.later(minutes=30)
    again = phone_of(n, CLIENT, NOBODY)
    heard = again.start()
    assert "Nous n'avons pas pu joindre le technicien ; votre agence a reçu votre demande." in heard
    assert "Nous essayons de nouveau" in again.press("1")
    again.leave_message(5)
    n.run_worker()
    assert len(fake_twilio.calls) == placed  # not at once: the lines were just tried
    n.later(minutes=10)
    n.run_worker()
    assert fake_twilio.calls[-1]["To"] == TECHNICIAN and len(fake_twilio.calls) == placed + 1


def test_an_unknown_caller_calling_again_hears_who_will_see_to_it_and_when(night, demo):
    """Their postcode's agency, and the day it opens; no agency of ours: the offices, as their
    first call said, never « votre agence »."""
    n = night()  # Tuesday 23:00
    for number, postcode, told in (
        (
            "+33611111112",
            "75019",
            "sera traitée par votre agence dès son ouverture, demain mercredi",
        ),
        ("+33611111113", "13001", "Votre message sera écouté dès l'ouverture de nos bureaux."),
    ):
        first = phone_of(n, number)
        first.start()
        for _ in range(3):
            first.press("12345678#")  # not a contract of ours
        first.press(postcode)
        first.leave_message(20)
        n.run_worker()
        n.later(minutes=10)
        heard = phone_of(n, number).start()
        assert "Vous nous avez appelés à 23 heures" in heard and told in heard
        assert ("votre agence" in heard) is (postcode == "75019")


def test_a_request_its_client_closed_is_not_among_those_the_manager_is_told_of(
    night, demo, fake_twilio
):
    """Three times nobody took the line, but the first request's client said it is solved:
    the manager is told of the one request still waiting, and only it says so."""
    n = night()
    unanswered_request(phone_of(n, CLIENT, NOBODY))
    n.run_worker()
    n.later(minutes=10)
    solved = phone_of(n, CLIENT, NOBODY)
    solved.start()
    assert "votre demande est close" in solved.press("2")
    n.run_worker()
    neighbour = "+33611111119"  # another resident of the same building
    n.later(minutes=10)
    unanswered_request(phone_of(n, neighbour, NOBODY))
    n.run_worker()
    n.later(minutes=10)
    again = phone_of(n, neighbour, NOBODY)
    again.start()
    again.press("1")  # its lines tried again: nobody, the third time
    again.leave_message(8)
    n.run_worker()
    closed, _, waiting, _ = calls(demo)
    [told] = [m["Body"] for m in fake_twilio.messages if m["To"] == MANAGER_IDF]
    assert "injoignable 3 fois de suite" in told
    assert f"réf. {waiting.id} " in told and f"réf. {closed.id} " not in told
    with demo.snapshot() as session:
        alerted = select(CallEventRow.call_id).where(CallEventRow.kind == "manager_alerted")
        assert list(session.scalars(alerted)) == [waiting.id]


def test_a_request_taken_since_the_manager_was_told_leaves_their_alerts(
    night, demo, clock, fake_twilio
):
    """The manager was told of a request; the client then called again and the technician
    took the call: nothing is left for the manager to do about it."""
    set_pin(demo, clock, ReferenceCache().directory(demo), MANAGER_IDF, "8642", "test")
    n = night()
    unreachable_three_times(n)
    assert len(events(demo, "manager_alerted")) == 1
    n.later(minutes=10)
    taken = phone_of(n, CLIENT, {TECHNICIAN: Callee(keys=["1"])})
    taken.start()
    taken.press("1")
    assert f"BRIDGED caller <-> {TECHNICIAN}" in taken.transcript
    taken.hang_up()
    n.run_worker()
    manager = phone_of(n, MANAGER_IDF)
    manager.start()
    manager.press("8642#")
    assert "Aucune alerte" in manager.press("1")


@pytest.mark.parametrize("choice", ["1", "nothing"])
def test_a_request_left_for_the_agency_has_the_technician_called_once_the_window_opens(
    night, demo, fake_twilio, choice
):
    """Friday 17:30, before the 4-hour contract's on-call window (18:00): the request goes to
    the agency. At 19:00 the client calls again, the heating still down: the technician now
    on call is called while they wait (pressing 1, or choosing nothing), and, nobody taking
    it, called again by the dispatcher; still one request."""
    n = night(at="2026-12-18T17:30")
    first = phone_of(n, CLIENT, NOBODY)
    identify(first, "10000002")
    assert "Votre demande est transmise à votre agence" in through_details(first)
    first.leave_message(10)
    n.run_worker()
    [request] = calls(demo)
    assert request.action == "fax_only" and fake_twilio.calls == []
    n.later(minutes=90)  # 19:00, the window open
    again = phone_of(n, CLIENT, NOBODY)
    assert "Vous nous avez appelés à 17 heures 30." in again.start()
    silence = (again.silence() for _ in range(3))
    heard = again.press("1") if choice == "1" else "".join(silence)
    assert "Nous appelons le technicien, restez en ligne." in heard
    assert "de nouveau" not in heard  # nobody was tried before
    [_, added] = calls(demo)
    assert added.request_id == request.id and dials_of(demo, added.id) == [TECHNICIAN, BACKUP]
    again.leave_message(5)
    n.run_worker()
    n.later(minutes=10)
    n.run_worker()
    assert [c["To"] for c in fake_twilio.calls] == [TECHNICIAN]  # a new round, for it
    assert len(calls(demo)) == 2
    [told] = back_office.additions_of(demo, [request.id])[request.id]  # the agency reads
    assert told.said(str) == "technicien appelé, sans réponse ; message ajouté (5 s)"


VASSEUR = "+33199002150"  # Résidence du Parc's and Résidence Secrétan's, one manager's


def vasseur_calls_again(n, callees=None) -> PhoneCall:
    """Résidence du Parc's request at 23:00, a message left; 15 minutes later, a call (not
    started) from the number it shares with Résidence Secrétan."""
    first = phone_of(n, VASSEUR, callees)
    identify(first, "11037264")  # Résidence du Parc
    through_details(first)
    first.leave_message(10)
    n.run_worker()
    n.later(minutes=15)
    return phone_of(n, VASSEUR, callees)


def test_another_request_from_a_number_two_sites_share_asks_which_client(night, demo):
    """§5.1.1: the caller's number brings up the request in progress, but a new request is
    not taken for that request's client unasked: the manager of two residences sharing one
    number calls about the other one."""
    again = vasseur_calls_again(night())
    assert "Vous nous avez appelés à 23 heures." in again.start()
    assert "Appelez-vous pour Cabinet Vasseur" in again.press("3")  # proposed, not assumed
    assert "numéro de contrat" in again.press("2")
    assert "Résidence Secrétan" in again.press("11048816#")
    assert "64 avenue Secrétan" in again.press("1")  # its own details read back
    through_details(again)
    again.leave_message(10)
    assert [(c.client_id, c.request_id) for c in calls(demo)] == [
        ("11037264", None),
        ("11048816", None),
    ]


def test_a_danger_from_a_number_two_sites_share_asks_which_client(night, demo, fake_twilio):
    """Gas, reported on a call again from a number two residences share: the manager is not
    sent to the request's residence unasked; the caller keys their contract after the safety
    instructions, as any caller not identified yet."""
    again = vasseur_calls_again(night())
    again.start()
    again.press("9")
    heard = again.press("1")  # a smell of gas: the safety instructions, then whose
    assert "numéro de contrat" in heard
    again.press("11048816#")  # Résidence Secrétan
    danger = calls(demo)[-1]
    assert (danger.client_id, danger.danger) == ("11048816", "gas")


def test_words_taken_for_a_danger_then_denied_keep_the_request_and_its_client(
    night, demo, fake_twilio
):
    """Words that sound like a danger, denied: back to the request, whose lines are tried
    again; only a danger confirmed asks whose it is on a shared number."""
    again = vasseur_calls_again(night(), NOBODY)
    again.start()
    assert "odeur de gaz" in again.say("il y a une odeur bizarre")
    again.press("2")  # not a danger
    assert "Nous essayons de nouveau" in again.press("1")
