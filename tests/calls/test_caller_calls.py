"""The caller's call from the first word to the last, one transcript per path of
docs/call-flow.md. Every TwiML answer is checked against Twilio's schema on the way."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from ivr.adapters.orm import CallEventRow, CallRow, DialAttemptRow, RecordingRow
from ivr.simulator.dialer import Callee
from ivr.simulator.phone import CallStateError, PhoneCall
from ivr.simulator.transports import FlaskTransport
from tests.calls.conftest import BACKUP, MANAGER_IDF, TECHNICIAN, identify, through_details
from tests.conftest import AUTH_TOKEN, BASE_URL


def stored_call(db) -> CallRow:
    with db.snapshot() as session:
        return session.scalars(select(CallRow)).one()


def attempts(db) -> list[tuple[str, str, bool]]:
    with db.snapshot() as session:
        rows = session.scalars(select(DialAttemptRow).order_by(DialAttemptRow.id)).all()
    return [(a.role, a.number, a.accepted) for a in rows]


def events(db, kind: str) -> list[dict]:
    with db.snapshot() as session:
        return list(
            session.scalars(
                select(CallEventRow.detail)
                .where(CallEventRow.kind == kind)
                .order_by(CallEventRow.id)
            )
        )


def keys_by_step(db) -> dict[str, list[str]]:
    with db.snapshot() as session:
        rows = session.execute(
            select(CallEventRow.step, CallEventRow.detail)
            .where(CallEventRow.kind == "input")
            .order_by(CallEventRow.id)
        ).all()
    out: dict[str, list[str]] = {}
    for step, detail in rows:
        out.setdefault(step, []).append(detail["digits"])
    return out


# --- Covered, inside the window: put through to the technician ------------------------------


def test_call_now_the_technician_takes_the_call(phone, demo):
    call = phone(callees={TECHNICIAN: Callee(keys=["1"])})
    heard = call.start()
    assert "odeur de gaz" in heard and "tapez 9" in heard  # safety first, at the first menu
    assert "numéro de contrat" in heard
    assert "Syndic Résidence Les Pins, à Paris" in call.press("10000002#")
    details = call.press("1")  # read back: address, equipment, the caller's number in pairs
    assert "Adresse : 37 rue Riquet, Paris" in details
    assert "Équipement : Chaudières murales gaz des 48 logements" in details
    assert "Rappel au 06 11 11 11 11" in details
    heard = call.press("1")
    assert "Panne de chauffage ou chaudière en sécurité, tapez 1" in heard
    assert "tapez 9" in heard  # danger said again
    assert "Décrivez le problème" in call.press("1")
    heard = call.say("Plus de chauffage depuis ce soir dans tout l'immeuble")
    assert "Votre contrat prévoit une intervention sous 4 heures" in heard
    assert "Nous appelons le technicien, restez en ligne." in heard
    assert f"BRIDGED caller <-> {TECHNICIAN}" in call.transcript
    whisper = " ".join(line for line in call.transcript if line.startswith(f"TECH({TECHNICIAN})"))
    assert "Paris, 37 rue Riquet : panne de chauffage" in whisper
    assert "Chaudières murales gaz des 48 logements" in whisper and "06 11 11 11 11" in whisper
    assert call.ended
    stored = stored_call(demo)
    assert (stored.action, stored.reached, stored.fault) == ("call_now", TECHNICIAN, "no_heating")
    assert attempts(demo) == [("technician", TECHNICIAN, True)]
    assert events(demo, "description")[0]["speech"].startswith("Plus de chauffage")
    keyed = keys_by_step(demo)  # each answer on the trace under the question it answered
    assert keyed["identify"] == ["10000002"] and keyed["ask_fault"] == ["1"]
    assert keyed["confirm_identity"] == keyed["confirm_details"] == ["1"]


@pytest.mark.parametrize("operator", [{}, {"OPERATOR_NUMBER": "+33199008888"}])
def test_a_client_known_by_their_number_hears_at_most_120_words_before_the_technician_rings(
    phone, demo, operator
):
    """The expected keys only: yes, it is me; the details are right; no heating; no words.
    With or without an operator to offer."""
    callees = {TECHNICIAN: Callee(keys=["1"])}
    call = phone(from_="+33199002102", callees=callees, **operator)  # the Syndic's phone
    call.start()
    for key in ("1", "1", "1", "#"):
        call.press(key)
    transcript = call.transcript
    rings = next(i for i, line in enumerate(transcript) if line.startswith("IVR dials"))
    heard = [line.removeprefix("IVR: ") for line in transcript[:rings] if line.startswith("IVR: ")]
    words = sum(len(re.findall(r"\w[\w'-]*", said)) for said in heard)  # « d'urgence »: one
    assert words <= 120, f"{words} words: {heard}"
    assert f"BRIDGED caller <-> {TECHNICIAN}" in transcript


def test_a_voicemail_is_never_taken_for_the_technician(phone, demo):
    """The first line's voicemail answers: not connected; the backup takes the call."""
    call = phone(callees={TECHNICIAN: Callee(voicemail=True), BACKUP: Callee(keys=["1"])})
    identify(call, "10000002")
    through_details(call)
    assert f"BRIDGED caller <-> {TECHNICIAN}" not in call.transcript
    assert f"BRIDGED caller <-> {BACKUP}" in call.transcript
    assert attempts(demo) == [("technician", TECHNICIAN, False), ("technician", BACKUP, True)]
    # The voicemail box keeps the announcement once, and no goodbye: the leg ends at once.
    box = [line for line in call.transcript if line.startswith(f"TECH({TECHNICIAN}): IVR")]
    assert len([line for line in box if "Appel d'astreinte" in line]) == 1
    assert not any("Appel non pris" in line for line in box)
    assert box[-1].endswith("IVR hangs up")
    with demo.snapshot() as session:
        first = session.scalars(select(DialAttemptRow).order_by(DialAttemptRow.id)).first()
    assert first.outcome == "silent"  # for the sheet: never "answered"


def test_nobody_takes_it_the_caller_leaves_a_message(phone, demo):
    call = phone(callees={TECHNICIAN: Callee(answers=False), BACKUP: Callee(busy=True)})
    identify(call, "10000002")
    heard = through_details(call)
    assert "Le technicien d'astreinte n'a pas répondu" in heard
    assert "Nous continuons à l'appeler" in heard and "laissez votre message" in heard
    assert "prévenu" not in heard and "vous rappellera" not in heard  # nothing untrue
    assert call.waiting_for == "record"
    assert "message est enregistré" in call.leave_message(20)
    assert call.ended
    stored = stored_call(demo)
    assert stored.reached is None and stored.message_seconds == 20
    with demo.snapshot() as session:
        assert [r.kind for r in session.scalars(select(RecordingRow))] == ["message"]


def test_a_technician_who_presses_another_key_is_not_connected(phone, demo):
    call = phone(callees={TECHNICIAN: Callee(keys=["5"]), BACKUP: Callee(answers=False)})
    identify(call, "10000002")
    through_details(call)
    assert not any(line.startswith("BRIDGED") for line in call.transcript)
    assert call.waiting_for == "record"


# --- Covered, outside the window or resting: told what happens and when ---------------------


def test_a_7_7_client_on_friday_evening_is_called_back_saturday_morning(phone, demo):
    call = phone(at="2026-12-18T19:30")
    identify(call, "10000001")
    heard = through_details(call, fault="2")
    assert "Votre contrat sept jours sur sept prévoit une intervention le jour même" in heard
    assert "Nous appellerons le technicien d'astreinte demain samedi, à 8 heures" in heard
    assert "laissez votre message" in heard
    call.silence()
    assert stored_call(demo).action == "call_next_morning"
    assert attempts(demo) == []


def test_fax_only_the_agency_deals_with_it_when_it_opens(phone, demo):
    """A 7/7 client at night before a working day: told the agency has it, and never, before
    or after, that a technician will call them back."""
    call = phone(at="2026-12-22T23:00")
    identify(call, "10000001")
    heard = through_details(call)
    assert "transmise à votre agence, qui la traitera dès son ouverture, demain mercredi" in heard
    assert stored_call(demo).action == "fax_only"
    said = " ".join(line for line in call.transcript if line.startswith("IVR: "))
    assert "technicien" not in said and "rappellera" not in said


def test_fax_only_on_a_sunday_afternoon_the_caller_is_told_when_the_agency_opens(phone, demo):
    """Reims keeps nights only: a 7/7 client on Sunday 27 December at 15:00 is told Monday
    8 o'clock, not a « dès son ouverture » without a day."""
    call = phone(at="2026-12-27T15:00")
    identify(call, "40125736")
    heard = through_details(call)
    assert "qui la traitera dès son ouverture, demain lundi, à 8 heures" in heard
    assert stored_call(demo).action == "fax_only"


def test_a_client_without_cover_is_told_at_once_and_may_leave_a_message(phone, demo):
    call = phone()
    heard = identify(call, "10000003")
    assert "ne prévoit pas d'intervention" in heard and "danger, tapez 9" in heard
    assert "laissez votre message" in call.silence()  # no danger: the message
    call.leave_message(8)
    assert stored_call(demo).action == "not_covered"


def test_words_said_once_told_there_is_no_cover_are_kept_for_the_agency(phone, demo):
    """Told their contract has no cover, callers often say what is wrong at once: their words
    are the request's, on the agency's sheet, not lost before the message."""
    call = phone()
    identify(call, "10000003")
    assert "laissez votre message" in call.say("le radiateur de la chambre ne chauffe plus")
    call.leave_message(8)
    stored = stored_call(demo)
    assert stored.action == "not_covered"
    assert stored.state["description"] == "le radiateur de la chambre ne chauffe plus"


def test_a_bare_no_once_told_there_is_no_cover_is_no_description(phone, demo):
    call = phone()
    identify(call, "10000003")
    assert "laissez votre message" in call.say("non")  # no danger: not their request's words
    call.leave_message(8)
    assert stored_call(demo).state.get("description") is None


def test_a_client_without_cover_may_still_report_a_danger_once_told(phone, demo):
    """Danger is handled covered or not: told their contract has no cover, the caller can
    still press 9 (or say it) before the message."""
    call = phone(at="2026-12-24T03:00", callees={MANAGER_IDF: Callee(keys=["1"])})
    identify(call, "10000003")
    assert "odeur de gaz, tapez 1" in call.press("9")
    assert "N'allumez rien" in call.press("1")
    assert f"BRIDGED caller <-> {MANAGER_IDF}" in call.transcript
    assert stored_call(demo).action == "escalate"


# --- Identification --------------------------------------------------------------------------


def test_an_unknown_number_is_asked_again_twice_then_a_message_for_the_agency(phone, demo):
    call = phone()
    call.start()
    assert "n'est pas reconnu" in call.press("1" * 80 + "#")  # a key held down: not refused
    assert "n'est pas reconnu" in call.press("999#")
    heard = call.press("87654321#")
    assert "pas retrouvé votre contrat" in heard and "code postal" in heard
    heard = call.press("78000")
    assert "laissez votre message" in heard
    call.leave_message(10)
    stored = stored_call(demo)
    assert stored.client_id is None and stored.agency == "0781" and stored.action == "not_covered"
    assert len(events(demo, "client_unknown")) == 3


def test_the_callers_number_proposes_a_client_who_is_always_confirmed(phone, demo):
    call = phone(from_="+33199002101")  # Mme Bérard's phone
    heard = call.start()
    assert "Appelez-vous pour Madame Hélène Bérard, à Paris" in heard
    assert "Rappel au 01 99 00 21 01" in call.press("1")
    assert stored_call(demo).client_id == "10000001"


def test_a_proposed_client_can_be_refused(phone, demo):
    call = phone(from_="+33199002101")
    call.start()
    assert "numéro de contrat" in call.press("2")


def test_the_client_number_can_be_spoken(phone, demo):
    call = phone()
    call.start()
    assert "Syndic Résidence Les Pins" in call.say("un zéro zéro zéro zéro zéro zéro deux")


def test_another_number_to_call_back(phone, demo):
    call = phone()
    identify(call, "10000002")
    assert "autre numéro de rappel, tapez 1" in call.press("2")
    with pytest.raises(CallStateError):  # keys only: « oui » would answer neither choice
        call.say("oui")
    assert "Tapez le numéro" in call.press("1")
    assert "n'est pas valide" in call.press("0612#")
    assert "Rappel au 06 22 33 44 55" in call.press("0622334455#")
    call.press("1")
    assert events(demo, "details")[-1] == {"confirmed": True, "callback": "+33622334455"}


def test_an_address_the_caller_says_is_wrong_is_noted_and_the_call_goes_on(phone, demo):
    call = phone()
    identify(call, "10000002")
    call.press("2")  # not right
    heard = call.press("2")  # the address or the equipment
    assert "C'est noté" in heard and "Panne de chauffage ou chaudière en sécurité, tapez 1" in heard
    assert events(demo, "details") == [{"confirmed": False, "callback": "+33611111111"}]
    assert stored_call(demo).state["details_confirmed"] is False


# --- Stray keys and silence -------------------------------------------------------------------


def test_a_stray_key_is_answered_and_the_question_asked_again(phone, demo):
    call = phone()
    identify(call, "10000002")
    heard = call.press("7")
    assert heard.startswith("Cette touche n'est pas proposée") and "06 11 11 11 11" in heard


def test_silence_is_answered_and_after_three_the_call_goes_on(phone, demo):
    call = phone()
    identify(call, "10000002")
    call.press("1")  # now at the fault menu
    assert "pas entendu" in call.silence()
    assert "pas entendu" in call.silence()
    heard = call.silence()  # third miss: the fault is "other", the call goes on
    assert "Décrivez le problème" in heard
    assert stored_call(demo).fault == "other"


def test_three_silences_at_the_first_menu_never_hang_up_silently(phone, demo):
    call = phone()
    call.start()
    call.silence()
    call.silence()
    heard = call.silence()
    assert "code postal" in heard  # unidentified: a message for the agency
    assert not call.ended


# --- Danger ------------------------------------------------------------------------------------


def test_danger_keyed_at_the_first_menu_gas_instructions_then_the_manager(phone, demo):
    call = phone(at="2026-12-24T03:00", callees={MANAGER_IDF: Callee(keys=["1"])})
    call.start()
    assert "odeur de gaz, tapez 1" in call.press("9")
    heard = call.press("1")
    assert heard.index("N'allumez rien") < heard.index("ouvrez les fenêtres")
    assert heard.index("ouvrez les fenêtres") < heard.index("puis sortez")
    assert heard.count("0 800 47 33 33") == 2  # the number to dial, said twice
    assert "numéro de contrat" in heard
    heard = call.press("10000001#")
    assert "Nous appelons le responsable d'astreinte" in heard
    assert f"BRIDGED caller <-> {MANAGER_IDF}" in call.transcript
    whisper = " ".join(line for line in call.transcript if line.startswith(f"TECH({MANAGER_IDF})"))
    assert "Alerte danger : odeur de gaz" in whisper
    stored = stored_call(demo)
    assert (stored.action, stored.danger, stored.reached) == ("escalate", "gas", MANAGER_IDF)
    # Decided when danger was told (nobody known yet), then again once the client was keyed.
    first, then = events(demo, "decision")
    assert first["fax_numbers"] == [] and then["fax_numbers"] == ["+33199001101", "+33199001001"]


def test_the_danger_key_pressed_again_is_another_danger_at_once(phone, demo):
    call = phone(at="2026-12-24T03:00", callees={MANAGER_IDF: Callee(keys=["1"])})
    call.start()
    call.press("9")
    heard = call.press("9")  # in distress, the same key again
    assert "n'est pas proposée" not in heard and "Mettez-vous en sécurité" in heard
    assert "numéro de contrat" in heard
    assert stored_call(demo).danger == "other"


def test_danger_said_in_the_description(phone, demo):
    call = phone(callees={MANAGER_IDF: Callee(keys=["1"])}, at="2026-12-22T23:00")
    identify(call, "10000002")
    call.press("1")
    call.press("5")
    heard = call.say("ça sent le gaz dans la chaufferie")
    assert "Vous sentez une odeur de gaz ? Si oui, tapez 1. Sinon, tapez 2." in heard
    heard = call.press("1")  # yes
    assert "N'allumez rien" in heard and "Nous appelons le responsable d'astreinte" in heard
    assert stored_call(demo).action == "escalate"


def test_danger_words_denied_in_the_description_it_is_kept_and_the_call_goes_on(phone, demo):
    """« chaudière gaz en panne », then « no danger »: never asked to describe it again."""
    call = phone(callees={TECHNICIAN: Callee(keys=["1"])})
    identify(call, "10000002")
    call.press("1")
    call.press("1")
    call.say("la chaudière gaz est en panne")
    heard = call.press("2")  # no danger
    assert "décrivez" not in heard and "intervention sous 4 heures" in heard
    assert f"BRIDGED caller <-> {TECHNICIAN}" in call.transcript
    stored = stored_call(demo)
    assert (stored.action, stored.danger) == ("call_now", None)
    assert stored.state["description"] == "la chaudière gaz est en panne"


def test_a_caller_asked_the_same_question_a_sixth_time_is_offered_a_way_forward(phone, demo):
    """Danger words at the contract number, denied, again and again: never kept going round;
    the way on is the question's own, and the message is followed up like any other."""
    call = phone()
    call.start()
    for _ in range(5):
        assert "numéro de contrat" in call.said_since_last_input
        assert "odeur de gaz" in call.say("ça sent le gaz chez le voisin")
        heard = call.press("2")  # no danger
    assert "numéro de contrat" not in heard and "code postal" in heard
    assert "laissez votre message" in call.press("75018")
    assert events(demo, "visit_limit") == [{"step": "identify"}]
    stored = stored_call(demo)
    assert (stored.action, stored.agency) == ("not_covered", "0751")  # the agency's sheet


def test_a_client_going_round_at_the_details_moves_on_to_the_fault(phone, demo):
    call = phone(callees={TECHNICIAN: Callee(keys=["1"])})
    identify(call, "10000002")
    for _ in range(5):  # « not right, another number », and the same again
        call.press("2")
        call.press("1")
        heard = call.press("0622334455#")
    assert "Panne de chauffage ou chaudière en sécurité, tapez 1" in heard
    call.press("1")
    call.press("#")
    assert f"BRIDGED caller <-> {TECHNICIAN}" in call.transcript
    assert events(demo, "visit_limit") == [{"step": "confirm_details"}]


def test_an_unidentified_caller_in_danger_reaches_the_manager_of_the_region(phone, demo):
    call = phone(at="2026-12-24T03:00", callees={MANAGER_IDF: Callee(keys=["1"])})
    call.start()
    call.press("9")
    call.press("2")  # smoke, fire
    heard = call.press("#")
    assert "code postal" in heard
    call.press("75018")
    assert f"BRIDGED caller <-> {MANAGER_IDF}" in call.transcript
    whisper = " ".join(line for line in call.transcript if line.startswith(f"TECH({MANAGER_IDF})"))
    assert "Code postal 75018." in whisper and "À code postal" not in whisper


def test_equipment_written_with_symbols_is_read_in_words(phone, demo):
    call = phone()
    identify(call, "10402517")  # « Chaufferie gaz 2 × 120 kW »
    assert "Équipement : Chaufferie gaz 2 fois 120 kilowatts." in call.said_since_last_input


def test_danger_from_nowhere_known_goes_to_the_national_duty_number(phone, demo):
    call = phone(
        at="2026-12-24T03:00",
        NATIONAL_DUTY_NUMBER="+33199009999",
        callees={"+33199009999": Callee(keys=["1"])},
    )
    call.start()
    call.press("9")
    call.press("3")  # carbon monoxide
    assert "appelez le 15" in call.said_since_last_input
    call.press("#")
    call.press("13001")  # Marseille: no agency, no region
    assert "BRIDGED caller <-> +33199009999" in call.transcript


def test_danger_with_nobody_to_warn_never_says_someone_is_warned(make_app, twiml_schema):
    """The demo may run without a national duty number (`ivr serve` refuses to start without
    one, so in process): an unidentified caller keying no usable postcode is told to call
    112, never reassured."""
    app = make_app(at="2026-12-24T03:00", NATIONAL_DUTY_NUMBER=None)
    call = PhoneCall(FlaskTransport(app), BASE_URL, AUTH_TOKEN, validate=twiml_schema)
    call.start()
    call.press("9")
    call.press("1")  # gas
    call.press("#")  # no contract number
    call.press("#")  # no postcode either
    call.silence()
    heard = call.silence()
    assert "Nous ne pouvons prévenir personne" in heard and "appelez le 112" in heard
    assert "continuons" not in " ".join(call.transcript)
    assert not any(line.startswith("IVR dials") for line in call.transcript)
    assert call.waiting_for == "record"


def test_nobody_reachable_in_danger_the_caller_is_told_and_may_leave_a_message(phone, demo):
    call = phone(at="2026-12-24T03:00", callees={MANAGER_IDF: Callee(answers=False)})
    call.start()
    call.press("9")
    call.press("1")
    heard = call.press("10000001#")
    assert "Le responsable d'astreinte n'a pas encore répondu" in heard and "112" in heard
    assert "Nous continuons à l'appeler" in heard  # true: the dispatcher calls them again
    assert call.waiting_for == "record"


# --- Roll-out, operator -------------------------------------------------------------------------


def test_an_agency_not_live_yet_gets_its_calls_through_its_legacy_number(phone, demo):
    call = phone(callees={"+33199001290": Callee()})
    heard = identify(call, "20000001")
    assert "service d'astreinte de votre agence" in heard
    assert "BRIDGED caller <-> +33199001290" in call.transcript
    assert stored_call(demo).action == "legacy"


def test_danger_for_an_agency_not_live_yet_safety_first_then_the_legacy_number(phone, demo):
    call = phone(callees={"+33199001290": Callee()})
    call.start()
    call.press("9")
    call.press("1")
    heard = call.press("20000001#")
    assert "BRIDGED caller <-> +33199001290" in call.transcript
    transcript = " ".join(call.transcript)
    assert transcript.index("N'allumez rien") < transcript.index("BRIDGED")
    assert stored_call(demo).action == "legacy" and "votre agence" in heard


def test_danger_the_legacy_number_does_not_take_goes_to_the_manager_on_duty(phone, demo):
    call = phone(
        at="2026-12-24T03:00",
        callees={"+33199001290": Callee(answers=False), MANAGER_IDF: Callee(keys=["1"])},
    )
    call.start()
    call.press("9")
    call.press("1")
    call.press("20000001#")
    transcript = " ".join(call.transcript)
    assert "n'a pas répondu" in transcript and "Nous appelons le responsable" in transcript
    assert f"BRIDGED caller <-> {MANAGER_IDF}" in call.transcript
    assert (stored_call(demo).action, stored_call(demo).reached) == ("escalate", MANAGER_IDF)


def test_the_operator_key_at_every_menu_and_back_when_nobody_answers(phone, demo):
    """Said at the greeting only; heard at every menu."""
    call = phone(OPERATOR_NUMBER="+33199008888", callees={"+33199008888": Callee(answers=False)})
    heard = call.start()
    assert "conseiller, tapez 0" in heard
    identify_heard = call.press("10000002#")
    assert "conseiller" not in identify_heard  # not said again here: the call stays short
    heard = call.press("0")
    assert "Aucun conseiller n'est disponible" in heard and "Syndic Résidence" in heard
    call.press("1")
    heard = call.press("1")  # the fault menu: danger said again, not the operator
    assert "tapez 9" in heard and "conseiller" not in heard
    assert "Aucun conseiller" in call.press("0")  # it still works there


def test_a_caller_hanging_up_while_the_operator_rings_is_asked_nothing_more(phone, demo):
    call = phone(OPERATOR_NUMBER="+33199008888", callees={"+33199008888": Callee(live=True)})
    call.start()
    call.press("10000002#")
    call.press("0")
    assert call.waiting_for == "transfer"
    call.hang_up()
    [answered] = [r.body for r in call.requests if r.params.get("DialCallStatus")]
    assert "<Hangup" in answered and "conseiller" not in answered


def test_without_an_operator_number_0_is_a_stray_key(phone, demo):
    call = phone()
    call.start()
    call.press("10000002#")
    assert "conseiller" not in call.said_since_last_input
    assert "n'est pas proposée" in call.press("0")


def test_silence_at_the_message_is_answered_before_goodbye(phone, demo):
    """Twilio posts no action for an empty recording: the redirect after it answers."""
    call = phone()
    identify(call, "10000003")
    call.silence()  # no danger to report
    heard = call.silence()
    assert "Aucun message n'a été enregistré" in heard and "Au revoir" in heard
    assert call.ended and stored_call(demo).message_seconds == 0


def test_a_caller_who_hangs_up_leaves_a_trace_of_where(phone, demo):
    call = phone()
    identify(call, "10000002")
    call.press("1")
    call.hang_up()
    stored = stored_call(demo)
    assert stored.twilio_status == "completed" and stored.ended_at is not None
    ended = events(demo, "ended")
    assert ended == [{"status": "completed", "step": "ask_fault", "by_caller": True}]


def test_an_unreachable_manager_is_followed_by_the_national_duty_number(phone, demo):
    call = phone(
        at="2026-12-24T03:00",
        NATIONAL_DUTY_NUMBER="+33199009999",
        callees={MANAGER_IDF: Callee(answers=False), "+33199009999": Callee(keys=["1"])},
    )
    call.start()
    call.press("9")
    call.press("1")
    call.press("10000001#")
    assert "BRIDGED caller <-> +33199009999" in call.transcript
    assert attempts(demo) == [("manager", MANAGER_IDF, False), ("manager", "+33199009999", True)]


def test_the_danger_key_said_aloud(phone, demo):
    call = phone()
    call.start()
    assert "odeur de gaz, tapez 1" in call.say("neuf")


def test_nine_then_hash_where_a_number_is_typed(phone, demo):
    call = phone()
    call.start()
    for wrong in ("11111111#", "22222222#", "33333333#"):
        call.press(wrong)
    assert "code postal" in call.said_since_last_input
    assert "odeur de gaz, tapez 1" in call.press("9#")


def test_safety_instructions_cannot_be_cut_short_by_a_key(make_app, demo):
    """They are played before the next question, outside it: a key does not interrupt them."""
    call = PhoneCall(FlaskTransport(make_app()), BASE_URL, AUTH_TOKEN, from_="+33611111111")
    call.start()
    call.press("9")
    call.press("1")
    twiml = call.requests[-1].body
    assert twiml.index("N'allumez rien") < twiml.index("<Gather")


def test_spoken_answers_are_read_as_a_person_means_them(phone, demo):
    call = phone()
    identify(call, "10000002")
    assert "autre numéro de rappel" in call.say("non, j'ai un autre numéro")
    assert "Tapez le numéro" in call.press("1")  # this menu takes keys only
    call.press("0622334455#")
    call.press("1")
    call.press("1")  # no heating
    heard = call.say("plus d'eau chaude depuis neuf heures")  # no danger, not key 9
    assert "intervention sous 4 heures" in heard
