"""The technician's side of the number (§6), as whole calls: from the on-call mobile or from
a landline with the agency code, PINs, the waiting requests, outcomes, coverage problems."""

from __future__ import annotations

from sqlalchemy import select

from ivr.adapters.orm import AlertRow, CallEventRow, CallRow
from ivr.services.reference import ReferenceCache
from ivr.services.staff import set_pin
from ivr.simulator.dialer import Callee
from ivr.simulator.phone import PhoneCall
from tests.calls.conftest import BACKUP, MANAGER_IDF, TECHNICIAN, identify, through_details
from tests.conftest import failing_inserts, wait_until

NOBODY = {TECHNICIAN: Callee(answers=False), BACKUP: Callee(answers=False)}


def pins(db, clock) -> None:
    directory = ReferenceCache().directory(db)
    set_pin(db, clock, directory, TECHNICIAN, "2468", "test")
    set_pin(db, clock, directory, BACKUP, "1357", "test")


def unanswered_request(call: PhoneCall) -> None:
    identify(call, "10000002")
    through_details(call)
    call.leave_message(20)


def events(db, kind: str) -> list[dict]:
    with db.snapshot() as session:
        query = select(CallEventRow.detail).where(CallEventRow.kind == kind)
        return list(session.scalars(query.order_by(CallEventRow.id)))


def test_from_the_on_call_mobile_take_a_request_then_book_a_time_slot(phone, demo, clock):
    pins(demo, clock)
    unanswered_request(phone(at="2026-12-22T23:00", callees=NOBODY))
    call = phone(at="2026-12-22T23:20", from_=TECHNICIAN)
    assert "Tapez votre code personnel" in call.start()
    assert "demandes en attente, tapez 1" in call.press("2468#")
    heard = call.press("1")
    assert "Demande 1 sur 1, reçue à 23 heures" in heard
    assert "panne de chauffage, pour Syndic Résidence Les Pins, 37 rue Riquet, à Paris" in heard
    assert "Un message de 20 secondes a été laissé" in heard
    assert "Voici le message laissé" in heard
    played = [line for line in call.transcript if line.startswith("IVR plays ")]
    assert len(played) == 1 and "/Recordings/RE" in played[0] and played[0].endswith(".mp3")
    assert "C'est noté" in call.press("2")  # taken in hand
    assert "Rendez-vous convenu, tapez 3" in call.press("3")
    call.press("3")
    call.press("24")
    assert "C'est noté" in call.press("14")
    call.press("3")
    assert call.ended
    outcomes = events(demo, "staff_outcome")
    assert [o["outcome"] for o in outcomes] == ["acknowledged", "slot"]
    assert (
        outcomes[1]["slot"] == "le jeudi 24 décembre à 14 heures"
        and outcomes[1]["by"] == TECHNICIAN
    )
    with demo.snapshot() as session:
        request = session.scalars(select(CallRow).order_by(CallRow.id)).first()
    assert request.reached == TECHNICIAN  # taken in hand: no longer waiting


def test_a_technician_takes_a_request_in_hand_then_calls_the_client(phone, demo, clock):
    call = technician_hearing_the_request(phone, demo, clock)
    assert "C'est noté" in call.press("2")  # taken in hand: no longer waiting for anyone
    assert "Nous appelons le client" in call.press("1")  # the same keys: put through
    assert "BRIDGED caller <-> +33611111111" in call.transcript
    assert "Résolu à distance, tapez 1" in call.said_since_last_input  # then: what came of it


def test_a_client_who_does_not_answer_the_technician_is_said_so_and_the_request_read_again(
    phone, demo, clock
):
    """Not asked what came of a conversation that never was: back to the request."""
    call = technician_hearing_the_request(
        phone, demo, clock, callees={"+33611111111": Callee(answers=False)}
    )
    heard = call.press("1")
    assert "Nous appelons le client" in heard and "Votre correspondant n'a pas répondu." in heard
    assert "Résolu à distance" not in heard
    assert "Demande 1 sur 1" in heard.split("n'a pas répondu.")[1]  # the same request
    assert events(demo, "staff_outcome") == []
    played = [line for line in call.transcript if line.startswith("IVR plays ")]
    assert len(played) == 1  # the message, once: not again on coming back
    call.press("*")  # « again »: the message too
    assert len([line for line in call.transcript if line.startswith("IVR plays ")]) == 2
    call.press("0")  # the menu, then the waiting requests again: the message too
    call.press("1")
    assert len([line for line in call.transcript if line.startswith("IVR plays ")]) == 3


def test_a_technician_who_hangs_up_while_the_client_rings_is_told_nothing_more(phone, demo, clock):
    call = technician_hearing_the_request(
        phone, demo, clock, callees={"+33611111111": Callee(live=True)}
    )
    call.press("1")
    assert call.waiting_for == "transfer"
    call.hang_up()  # while the client's line rings: nobody left to tell
    said = [e["prompt"] for e in events(demo, "prompt") if "prompt" in e]
    assert "staff_not_answered" not in said and said[-1] == "staff_goodbye"


def test_a_report_that_cannot_be_written_loses_nothing_and_the_same_request_applies_it(
    phone, demo, clock
):
    call = technician_hearing_the_request(phone, demo, clock)
    before = staff_call(demo)
    with failing_inserts(demo, "call_events", "NEW.kind = 'staff_outcome'"):
        heard = call.press("2")  # taken in hand: the database refuses its trace
    assert "difficulté technique" in heard  # the safe answer, never silence
    after = staff_call(demo)
    assert (after.turn, after.last_response, after.state) == (
        before.turn,
        before.last_response,
        before.state,
    )
    assert events(demo, "staff_outcome") == [] and request_of(demo).reached is None
    with demo.snapshot() as session:  # nothing of the turn: no input, no prompt
        assert not session.scalars(
            select(CallEventRow).where(
                CallEventRow.call_id == before.id, CallEventRow.turn > before.turn
            )
        ).all()
    # The alert is stored once the answer went (the caller never waits for it): behind
    # `ivr serve`, a moment after the answer came back.
    wait_until(lambda: alert_kinds(demo) == ["webhook_failed"], "the alert", timeout=5)
    assert "C'est noté" in call.ask_again()  # the same request again: the turn played afresh
    [outcome] = events(demo, "staff_outcome")
    assert (outcome["outcome"], outcome["by"]) == ("acknowledged", TECHNICIAN)
    assert request_of(demo).reached == TECHNICIAN


def alert_kinds(db) -> list[str]:
    with db.snapshot() as session:
        return list(session.scalars(select(AlertRow.kind)))


def technician_hearing_the_request(phone, demo, clock, callees=None):
    """A technician on their own line, hearing the request a client left unanswered."""
    pins(demo, clock)
    unanswered_request(phone(at="2026-12-22T23:00", callees=NOBODY))
    call = phone(at="2026-12-22T23:20", from_=TECHNICIAN, callees=callees)
    call.start()
    call.press("2468#")
    call.press("1")
    return call


def staff_call(db) -> CallRow:
    with db.snapshot() as session:
        return session.scalars(select(CallRow).where(CallRow.flow == "staff")).one()


def request_of(db) -> CallRow:
    with db.snapshot() as session:
        return session.scalars(select(CallRow).where(CallRow.flow == "caller")).one()


def test_three_wrong_pins_end_the_call_and_are_logged(phone, demo, clock):
    pins(demo, clock)
    call = phone(from_=TECHNICIAN)
    call.start()
    assert "Code incorrect" in call.press("1111#")
    call.press("2222#")
    assert "Code incorrect trois fois" in call.press("3333#")
    assert call.ended
    assert [e["try"] for e in events(demo, "pin_refused")] == [1, 2, 3]
    assert events(demo, "staff_in") == []


def test_any_phone_reaches_the_staff_side_with_star_then_an_agency_code(phone, demo, clock):
    pins(demo, clock)
    call = phone(from_="+33611111111")  # not a line: the caller's flow first
    assert "numéro de contrat" in call.start()
    assert "code de votre agence" in call.press("*")
    heard = call.press("9999#")  # a mistyped code: * again
    assert "Cette agence n'est pas connue" in heard and "numéro de contrat" in heard
    assert "code de votre agence" in call.press("*")
    assert "code personnel" in call.press("0751#")
    assert "Code incorrect" in call.press("0000#")


def test_a_client_who_pressed_star_by_mistake_is_back_at_the_first_question(phone, demo, clock):
    """Never hung up for not knowing an agency code: their contract number, a silence or the
    danger key take them back to their own menus, as they were."""
    call = phone(from_="+33611111111")
    call.start()
    assert "code de votre agence" in call.press("*")
    heard = call.press("10000002#")  # their contract number, at the agency code
    assert "Cette agence n'est pas connue" in heard and "numéro de contrat" in heard
    call.press("10000002#")
    assert "Syndic Résidence Les Pins" in call.said_since_last_input
    assert call.press("1") and not call.ended  # identified: their request goes on
    again = phone(from_="+33611111111")
    again.start()
    again.press("*")
    assert "numéro de contrat" in again.silence()  # said nothing: asked their number again
    again.press("*")
    heard = again.press("9")  # the danger key, at the agency code: the danger menu at once
    assert "odeur de gaz, tapez 1" in heard and "agence" not in heard
    assert "Mettez-vous en sécurité" in again.press("4")
    with demo.snapshot() as session:
        flows = session.scalars(select(CallRow.flow).order_by(CallRow.id)).all()
    assert flows == ["caller", "caller"]


def test_a_manager_acknowledges_a_danger_escalation(phone, demo, clock):
    directory = ReferenceCache().directory(demo)
    set_pin(demo, clock, directory, MANAGER_IDF, "8642", "test")
    danger = phone(at="2026-12-24T03:00", callees={MANAGER_IDF: Callee(answers=False)})
    danger.start()
    danger.press("9")
    danger.press("1")  # a smell of gas
    danger.press("10000002#")
    assert danger.waiting_for == "record"  # the manager did not answer: a message is offered
    danger.hang_up()
    manager = phone(at="2026-12-24T03:10", from_=MANAGER_IDF)
    heard = manager.start()  # a manager is no technician
    assert "Espace d'astreinte. Tapez votre code personnel" in heard and "technicien" not in heard
    assert "alertes en cours" in manager.press("8642#")
    heard = manager.press("1")
    assert "Alerte 1 sur 1" in heard and "odeur de gaz" in heard and "Syndic" in heard
    assert "C'est noté" in manager.press("2")  # taken in hand
    assert "Aucune alerte" in manager.press("1")  # acknowledged: no longer under way
    [outcome] = events(demo, "staff_outcome")
    assert (outcome["outcome"], outcome["by"]) == ("acknowledged", MANAGER_IDF)


MANAGER_EST = "+33639980211"  # Anne-Sophie Kieffer, on duty 18-25 December 2026


def boiler_room_danger_unanswered(phone, demo, clock) -> None:
    """A smell of gas at the EHPAD's boiler room, at Marly (Metz agency), at 23:00: the
    manager on duty in the East, who has a PIN, does not answer."""
    set_pin(demo, clock, ReferenceCache().directory(demo), MANAGER_EST, "8642", "test")
    danger = phone(at="2026-12-22T23:00", callees={MANAGER_EST: Callee(answers=False)})
    danger.start()
    danger.press("9")
    danger.press("1")  # a smell of gas
    danger.press("30527640#")
    danger.hang_up()


def test_a_manager_calling_the_agency_line_of_an_alert_gets_the_clients_own_line(
    phone, demo, clock
):
    """Key 5 at an alert: the line of the client's on-call type (a boiler room's, at Metz, not
    the individual clients' line listed first), and the words say whom they call."""
    boiler_room_danger_unanswered(phone, demo, clock)
    manager = phone(at="2026-12-22T23:10", from_=MANAGER_EST)
    manager.start()
    manager.press("8642#")
    assert "Alerte 1 sur 1" in manager.press("1")
    assert "Nous appelons la ligne d'astreinte de l'agence." in manager.press("5")
    assert "IVR dials +33639980125" in " ".join(manager.transcript)


def test_a_line_that_does_not_answer_the_manager_is_said_so_and_the_alert_read_again(
    phone, demo, clock
):
    boiler_room_danger_unanswered(phone, demo, clock)
    nobody = {"+33639980125": Callee(answers=False)}  # the boiler rooms' on-call line
    manager = phone(at="2026-12-22T23:10", from_=MANAGER_EST, callees=nobody)
    manager.start()
    manager.press("8642#")
    manager.press("1")
    heard = manager.press("5")
    assert "Votre correspondant n'a pas répondu." in heard
    assert "Alerte 1 sur 1" in heard.split("n'a pas répondu.")[1]  # to try the client, or take it
    assert "C'est noté" in manager.press("2")


def test_a_danger_the_manager_took_while_the_caller_waited_is_no_alert_left(phone, demo, clock):
    set_pin(demo, clock, ReferenceCache().directory(demo), MANAGER_IDF, "8642", "test")
    danger = phone(at="2026-12-24T03:00", callees={MANAGER_IDF: Callee(keys=["1"])})
    danger.start()
    danger.press("9")
    danger.press("1")
    danger.press("10000002#")
    assert f"BRIDGED caller <-> {MANAGER_IDF}" in danger.transcript
    manager = phone(at="2026-12-24T03:10", from_=MANAGER_IDF)
    manager.start()
    manager.press("8642#")
    assert "Aucune alerte" in manager.press("1")


def test_a_danger_its_agency_processed_is_no_alert_left(phone, demo, clock):
    set_pin(demo, clock, ReferenceCache().directory(demo), MANAGER_IDF, "8642", "test")
    danger = phone(at="2026-12-24T03:00", callees={MANAGER_IDF: Callee(answers=False)})
    danger.start()
    danger.press("9")
    danger.press("1")
    danger.press("10000002#")
    danger.hang_up()
    with demo.session() as session:  # the agency marked it processed in the back office
        session.scalars(select(CallRow)).one().processed_at = clock.now()
    manager = phone(at="2026-12-24T03:10", from_=MANAGER_IDF)
    manager.start()
    manager.press("8642#")
    assert "Aucune alerte" in manager.press("1")
