"""What the agency reads at 8 a.m. (§5.2): every request gets its sheet, saying who was reached,
how and when, in French; what changes later follows on a short sheet. Whole calls through the
app, then the worker against a fake Twilio, sheets to a folder."""

from __future__ import annotations

from pypdf import PdfReader
from sqlalchemy import select

from ivr.adapters.orm import CallRow, JobRow
from ivr.services.reference import ReferenceCache
from ivr.services.staff import set_pin
from ivr.simulator.dialer import Callee
from ivr.simulator.phone import PhoneCall
from ivr.simulator.transports import FlaskTransport
from tests.calls.conftest import BACKUP, MANAGER_IDF, TECHNICIAN, identify
from tests.conftest import AUTH_TOKEN, BASE_URL
from tests.dispatch.test_dispatcher import (
    AGENCY_0751_FAX,
    caller_call,
    job_of,
    jobs,
    sheet_texts,
    unanswered_call,
)

IDF_FAX = "+33199001001"
METZ_FAX = "+33353011101"
EST_FAX = "+33353011001"


def phone(n, callees: dict[str, Callee] | None = None, from_: str = "+33611111111") -> PhoneCall:
    return PhoneCall(
        FlaskTransport(n.app),
        BASE_URL,
        AUTH_TOKEN,
        from_=from_,
        callees=callees or {},
        started_at=n.dispatcher.clock.now(),
    )


def request_ids(db) -> list[int]:
    """The callers' requests, oldest first (their ids name the sheets)."""
    with db.snapshot() as session:
        query = select(CallRow.id).where(CallRow.flow == "caller").order_by(CallRow.id)
        return list(session.scalars(query))


def sheets(n) -> dict[str, str]:
    """Each sheet by its file's name, its words on one line."""
    return {
        pdf.stem: " ".join(" ".join(page.extract_text() for page in PdfReader(pdf).pages).split())
        for pdf in n.faxes.glob("*.pdf")
    }


def ring_out(n, demo) -> None:
    """Every line still ringing rings out, and the worker goes on, until nothing is left."""
    while True:
        waiting = [j for j in jobs(demo) if j.kind == "call_line" and j.status == "waiting"]
        for job in waiting:
            n.twilio_posts(f"/twilio/outbound/status?job={job.id}", CallStatus="no-answer")
        ran = n.run_worker()
        if not waiting and not ran:
            return


def test_a_manager_taking_an_unreachable_alert_leaves_no_request_without_its_sheet(
    night, demo, fake_twilio
):
    """Three requests nobody took: the manager is called and takes the third in hand; each of
    the three reaches the agency, the third saying who took it."""
    n = night(DISPATCH_ROUNDS=1)
    for _ in range(3):
        unanswered_call(n)
        n.run_worker()
        n.later(minutes=30)
    manager_job = job_of(demo, "call_line", MANAGER_IDF)
    manager = n.pick_up(next(c for c in fake_twilio.calls if c["To"] == MANAGER_IDF))
    assert "n'a pas pu être joint 3 fois de suite" in manager.answer()
    assert "C'est noté" in manager.press("2")  # taken in hand
    n.twilio_posts(f"/twilio/outbound/status?job={manager_job.id}", CallStatus="completed")
    ring_out(n, demo)  # the technicians' lines: nobody
    sent = sheets(n)
    first, second, third_id = request_ids(demo)
    assert sorted(sent) == sorted(f"fiche-{i}-agence" for i in (first, second, third_id))
    assert "Technicien joint : NON" in sent[f"fiche-{first}-agence"]
    third = sent[f"fiche-{third_id}-agence"]
    assert "Cadre régional joint : OUI" in third
    assert "Cadre régional d'astreinte Claire Lefèvre, 06 39 98 02 01" in third
    assert "a répondu à l'appel du service d'astreinte et a pris la demande en charge" in third


def test_every_request_the_manager_is_told_of_says_so_and_waits_in_their_alerts(
    night, demo, fake_twilio
):
    """Three requests nobody took: the manager's call names the one its keys act on; the
    agency learns of each that the manager was told (on its sheet, or on a follow-up when
    the sheet went already); the manager calling in hears all three."""
    n = night(DISPATCH_ROUNDS=1)
    for time in range(3):
        unanswered_call(n)
        n.run_worker()
        if time < 2:
            ring_out(n, demo)  # the first two's sheets go before the manager is told
            n.later(minutes=30)
    first, second, third = request_ids(demo)
    manager_job = job_of(demo, "call_line", MANAGER_IDF)
    manager = n.pick_up(next(c for c in fake_twilio.calls if c["To"] == MANAGER_IDF))
    heard = manager.answer()
    reference = " ".join(str(third))
    assert f"Dernière demande, référence {reference} : panne de chauffage, Paris" in heard
    assert "Client : Syndic Résidence Les Pins, à rappeler au 06 11 11 11 11" in heard
    n.twilio_posts(f"/twilio/outbound/status?job={manager_job.id}", CallStatus="no-answer")
    ring_out(n, demo)
    sent = sheets(n)
    told = "Technicien injoignable 3 fois de suite : cadre régional alerté (appel et SMS)"
    for request in (first, second, third):
        its = " ".join(text for name, text in sent.items() if name.startswith(f"fiche-{request}-"))
        assert told in its, request
    assert f"{told}, le mercredi 23 décembre à 00:00" in sent[f"fiche-{third}-agence"]

    directory = ReferenceCache().directory(demo)
    set_pin(demo, n.dispatcher.clock, directory, MANAGER_IDF, "8642", "test")
    calling_in = phone(n, from_=MANAGER_IDF)
    calling_in.start()
    assert "alertes en cours" in calling_in.press("8642#")
    assert "Alerte 1 sur 3" in calling_in.press("1")

    n.later(minutes=30)  # a fourth: the manager is told again, the agency not a second time
    unanswered_call(n)
    n.run_worker()
    ring_out(n, demo)
    sent = sheets(n)
    assert len([name for name in sent if name.startswith(f"fiche-{first}-suite-")]) == 1
    assert not [name for name in sent if name.startswith(f"fiche-{third}-suite-")]  # its box
    assert len([c for c in fake_twilio.calls if c["To"] == MANAGER_IDF]) == 2


def test_the_managers_alerts_put_a_danger_first(night, demo, fake_twilio):
    """A danger nobody took, then three requests of an unreachable technician: the manager
    calling in hears the danger first, then the requests, newest first."""
    n = night(DISPATCH_ROUNDS=1)
    danger = phone(n, {MANAGER_IDF: Callee(answers=False)})
    danger.start()
    danger.press("9")
    danger.press("1")  # a smell of gas
    danger.press("10000002#")
    danger.hang_up()
    n.run_worker()
    ring_out(n, demo)
    for _ in range(3):
        n.later(minutes=30)
        unanswered_call(n)
        n.run_worker()
    set_pin(demo, n.dispatcher.clock, ReferenceCache().directory(demo), MANAGER_IDF, "8642", "x")
    calling_in = phone(n, from_=MANAGER_IDF)
    calling_in.start()
    calling_in.press("8642#")
    heard = calling_in.press("1")
    assert "Alerte 1 sur 4, reçue à 23 heures" in heard and "odeur de gaz" in heard
    heard = calling_in.press("4")
    latest = " ".join(str(request_ids(demo)[-1]))  # as the manager's text lists it: réf. N
    said = f"technicien injoignable, panne de chauffage, référence {latest}, pour Syndic"
    assert f"Alerte 2 sur 4, reçue à minuit 30 : {said}" in heard


def test_a_danger_sheet_names_the_manager_who_took_it_in_french_to_agency_and_direction(
    night, demo, fake_twilio
):
    n = night()
    call = phone(n, {MANAGER_IDF: Callee(keys=["1"])})
    call.start()
    call.say("ça sent le gaz dans la cuisine")
    call.press("1")  # yes, a danger
    call.press("10000002#")
    assert f"BRIDGED caller <-> {MANAGER_IDF}" in call.transcript
    n.run_worker()
    sent = sheets(n)
    [request] = request_ids(demo)
    assert sorted(sent) == [f"fiche-{request}-agence", f"fiche-{request}-direction-regionale"]
    assert sorted(meta["to"] for meta, _ in sheet_texts(n)) == sorted([AGENCY_0751_FAX, IDF_FAX])
    text = sent[f"fiche-{request}-agence"]
    assert "Cadre régional joint : OUI" in text and "Technicien joint" not in text
    assert "Cadre régional d'astreinte Claire Lefèvre, 06 39 98 02 01" in text
    assert "mis en relation avec l'appelant pendant son appel" in text
    assert "Agence : Paris Nord (0751)" in text
    assert "collectif" in text and "collective" not in text and "technician" not in text
    assert "Paroles de l'appelant ça sent le gaz dans la cuisine" in text
    assert "la fiche est faxée à l'agence Paris Nord et à la direction régionale" in text


def test_an_unidentified_caller_in_danger_the_agency_of_the_postcode_gets_the_sheet_too(
    night, demo, fake_twilio
):
    n = night()
    call = phone(n, {"+33639980301": Callee(keys=["1"])})
    call.start()
    call.press("9")
    call.press("1")  # gas
    call.press("#")  # no contract number
    call.press("57000")  # Metz
    call.hang_up()
    n.run_worker()
    assert sorted(meta["to"] for meta, _ in sheet_texts(n)) == sorted([METZ_FAX, EST_FAX])
    assert "Code postal 57000" in fake_twilio.messages[0]["Body"]


def test_a_client_without_cover_leaves_a_message_and_the_agency_gets_its_sheet(
    night, demo, fake_twilio
):
    n = night()
    call = phone(n)
    call.start()
    call.press("10000003#")
    assert "danger, tapez 9" in call.press("1")
    assert "laissez votre message" in call.press("#")  # any key but 9: no danger
    call.leave_message(12)
    n.run_worker()
    [(meta, text)] = sheet_texts(n)
    assert meta["to"] == AGENCY_0751_FAX and fake_twilio.calls == []
    assert "Non couvert : message pour l'agence" in text and "message enregistré (12 s)" in text
    assert "Technicien joint : NON" in text and "Aucun appel passé" in text


def test_a_voicemail_that_took_the_announcement_is_no_answer_on_the_sheet(night, demo, fake_twilio):
    n = night(DISPATCH_ROUNDS=1)
    callees = {TECHNICIAN: Callee(voicemail=True), BACKUP: Callee(answers=False)}
    caller_call(n, "10000002", callees, message=10)
    ring_out(n, demo)
    [(_, text)] = sheet_texts(n)
    text = " ".join(text.split())
    assert "06 39 98 01 01 technicien d'astreinte messagerie ou sans réponse" in text
    assert "abouti" not in text


def test_the_morning_call_that_reached_the_technician_follows_the_sheet(night, demo, fake_twilio):
    n = night(at="2026-12-18T19:30")  # Friday: the 7/7 client is called back Saturday 08:00
    caller_call(n, "10000001", {})
    n.run_worker()  # the sheet goes at once
    n.later(hours=12, minutes=31)
    n.run_worker()
    technician = n.pick_up(fake_twilio.calls[0])
    technician.answer()
    technician.press("2")  # taken in hand
    line = job_of(demo, "call_line")
    n.twilio_posts(f"/twilio/outbound/status?job={line.id}", CallStatus="completed")
    n.run_worker()
    sent = sheets(n)
    [follow_up] = [name for name in sent if "-suite-" in name]
    [request] = request_ids(demo)
    assert f"Fiche de suite — réf. {request}" in sent[follow_up]
    assert "Le samedi 19 décembre 2026 à 08:01" in sent[follow_up]
    assert (
        "Le technicien d'astreinte (06 39 98 01 01) a répondu à l'appel du service d'astreinte"
        in sent[follow_up]
    )
    with demo.snapshot() as session:
        kinds = session.scalars(select(JobRow.kind).where(JobRow.kind == "sheet")).all()
    assert len(kinds) == 2


def test_an_address_the_caller_said_is_wrong_is_flagged_on_the_sheet_and_the_reason_is_whole(
    night, demo, fake_twilio
):
    n = night()
    call = phone(n, {TECHNICIAN: Callee(keys=["1"])})
    identify(call, "10000002")
    call.press("2")  # not right
    call.press("2")  # the address or the equipment
    call.press("1")  # no heating
    call.press("#")
    assert f"BRIDGED caller <-> {TECHNICIAN}" in call.transcript
    n.run_worker()
    [request] = request_ids(demo)
    text = sheets(n)[f"fiche-{request}-agence"]
    assert "Adresse et équipement SIGNALÉS INEXACTS par l'appelant : à vérifier avec lui" in text
    assert "Technicien joint : OUI" in text and "Technicien d'astreinte, 06 39 98 01 01" in text
    assert "le technicien d'astreinte est appelé maintenant." in text  # the reason, whole
