"""The dispatcher end to end (docs/procedure.md §5.2): a caller's call through the app, then the
worker's jobs against a fake Twilio, Twilio's callbacks signed, sheets to a folder."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import delete, select

from ivr.adapters.orm import AlertRow, CallEventRow, CallRow, DialAttemptRow, JobRow
from ivr.simulator.dialer import Callee
from ivr.simulator.phone import PhoneCall
from ivr.simulator.transports import FlaskTransport
from tests.calls.conftest import BACKUP, MANAGER_IDF, TECHNICIAN, identify, through_details
from tests.conftest import AUTH_TOKEN, BASE_URL, wait_until

AGENCY_0751_FAX = "+33199001101"


def caller_phone(
    night,
    callees: dict[str, Callee] | None = None,
    validate=None,
    from_: str = "+33611111111",
) -> PhoneCall:
    """A caller's phone on the night's app: the client's mobile, at the night's clock."""
    return PhoneCall(
        FlaskTransport(night.app),
        BASE_URL,
        AUTH_TOKEN,
        from_=from_,
        callees=callees,
        validate=validate,
        started_at=night.dispatcher.clock.now(),
    )


def caller_call(
    night, client_id: str, callees: dict[str, Callee], twiml_schema=None, message: int = 0
):
    """The caller's call, to its end: a message of `message` seconds if offered one."""
    call = caller_phone(night, callees, validate=twiml_schema)
    identify(call, client_id)
    through_details(call)
    assert call.waiting_for == "record"  # nobody took it, or nobody is to be called now
    if message:
        call.leave_message(message)
    else:
        call.hang_up()  # without leaving a message
    assert call.ended
    return call


def unanswered_call(night, twiml_schema=None) -> PhoneCall:
    """Client 10000002 (agency 0751, in its window): nobody takes it; a 20 s message."""
    callees = {TECHNICIAN: Callee(answers=False), BACKUP: Callee(answers=False)}
    return caller_call(night, "10000002", callees, twiml_schema, message=20)


def jobs(db) -> list[JobRow]:
    with db.snapshot() as session:
        return list(session.scalars(select(JobRow).order_by(JobRow.id)))


def job_of(db, kind: str, to: str | None = None) -> JobRow:
    for job in reversed(jobs(db)):
        numbers = job.payload.get("numbers")
        number = numbers[job.payload["index"]] if numbers else job.payload.get("to")
        if job.kind == kind and (to is None or number == to):
            return job
    raise AssertionError(f"no {kind} job to {to}")


def sheet_texts(night) -> list[tuple[dict, str]]:
    out = []
    for meta in sorted(night.faxes.glob("*.json")):
        pdf = meta.with_suffix(".pdf")
        text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
        out.append((json.loads(meta.read_text()), text))
    return out


def test_nobody_took_it_the_technician_is_called_and_texted_then_the_sheet_says_reached(
    night, demo, fake_twilio, twiml_schema
):
    n = night()
    unanswered_call(n, twiml_schema)
    assert n.run_worker() == 3  # the line called, the technician texted, the client texted

    [placed] = fake_twilio.calls
    assert (placed["To"], placed["From"]) == (TECHNICIAN, "+33199000000")
    assert placed["MachineDetection"] == "DetectMessageEnd"
    line = job_of(demo, "call_line", TECHNICIAN)
    assert placed["Url"] == f"{BASE_URL}/twilio/outbound/answer?job={line.id}"
    assert placed["StatusCallback"] == f"{BASE_URL}/twilio/outbound/status?job={line.id}"
    assert line.status == "waiting" and line.provider_ref == placed["Sid"]
    sms, to_client = fake_twilio.messages
    assert sms["To"] == TECHNICIAN and "06 11 11 11 11" in sms["Body"]
    assert to_client["To"] == "+33611111111" and f"demande n° {line.call_id}" in to_client["Body"]
    assert "Paris, 37 rue Riquet : panne de chauffage" in sms["Body"]  # the street, the fault
    assert "Chaudières murales gaz des 48 logements" in sms["Body"]  # the equipment
    assert "intervention sous 4 heures" in sms["Body"] and f"réf. {line.call_id}" in sms["Body"]

    # The technician answers: the summary, then the menu; they take it in hand.
    technician = n.pick_up(placed)
    heard = technician.answer()
    assert "06 11 11 11 11" in heard and "prendre la demande en charge" in heard
    assert "Paris, 37 rue Riquet" in heard and "Chaudières murales gaz" in heard
    assert "C'est noté" in technician.press("2")
    assert technician.ended

    with demo.snapshot() as session:
        call = session.scalars(select(CallRow)).one()
    assert call.reached == TECHNICIAN
    assert n.run_worker() == 1  # the sheet, now that the outcome is known
    [(meta, text)] = sheet_texts(n)
    assert meta["to"] == AGENCY_0751_FAX and meta["call_sid"] == call.sid
    assert "Technicien joint : OUI" in text


def test_voicemail_then_no_answer_then_a_second_round_then_the_sheet_says_not_reached(
    night, demo, fake_twilio, twiml_schema
):
    n = night(DISPATCH_RETRY_MINUTES=10, DISPATCH_ROUNDS=2)
    unanswered_call(n)
    n.run_worker()
    # The technician's voicemail answers: the summary is left after its beep, once.
    voicemail = n.pick_up(fake_twilio.calls[0])
    left = voicemail.answer(voicemail=True)
    assert "06 11 11 11 11" in left and "37 rue Riquet" in left and "Chaudières murales" in left
    assert voicemail.ended and voicemail.transcript.count("IVR hangs up") == 1
    assert job_of(demo, "call_line", TECHNICIAN).outcome == "voicemail"
    assert n.run_worker() == 1  # then the backup line, at once
    assert [c["To"] for c in fake_twilio.calls] == [TECHNICIAN, BACKUP]
    backup = job_of(demo, "call_line", BACKUP)
    n.twilio_posts(f"/twilio/outbound/status?job={backup.id}", CallStatus="no-answer")
    assert n.run_worker() == 0  # the second round waits ten minutes
    n.later(minutes=10, seconds=5)
    assert n.run_worker() == 1
    assert [c["To"] for c in fake_twilio.calls] == [TECHNICIAN, BACKUP, TECHNICIAN]
    for to in (TECHNICIAN, BACKUP):
        job = job_of(demo, "call_line", to)
        n.twilio_posts(f"/twilio/outbound/status?job={job.id}", CallStatus="busy")
        n.run_worker()
    assert len(fake_twilio.calls) == 4  # two rounds, then no more
    [(_, text)] = sheet_texts(n)
    assert "Technicien joint : NON" in text
    with demo.snapshot() as session:
        assert session.scalars(select(CallRow)).one().reached is None


def test_a_replayed_status_callback_changes_nothing(night, demo, fake_twilio):
    n = night()
    unanswered_call(n)
    n.run_worker()
    line = job_of(demo, "call_line", TECHNICIAN)
    for _ in range(3):
        n.twilio_posts(f"/twilio/outbound/status?job={line.id}", CallStatus="no-answer")
    assert len([j for j in jobs(demo) if j.kind == "call_line"]) == 2  # technician, backup


def test_twilio_down_then_back_the_call_is_placed_once(night, demo, fake_twilio):
    n = night()
    unanswered_call(n)
    fake_twilio.failures = [503, 503, 503]  # the call, then the text messages
    n.run_worker()
    assert fake_twilio.calls == [] and fake_twilio.messages == []
    retried = [j for j in jobs(demo) if j.kind in ("call_line", "sms")]
    assert {j.status for j in retried} == {"pending"} and all(j.last_error for j in retried)
    n.later(seconds=31)
    n.run_worker()
    assert len(fake_twilio.calls) == 1 and len(fake_twilio.messages) == 2  # technician, client
    n.later(minutes=20)  # the lease runs out before Twilio calls back: Twilio is asked
    fake_twilio.statuses[fake_twilio.calls[0]["Sid"]] = ("no-answer", None)
    n.run_worker()
    assert [c["To"] for c in fake_twilio.calls] == [TECHNICIAN, BACKUP]


def test_a_job_that_keeps_failing_is_failed_visibly_with_an_alert(night, demo, fake_twilio):
    n = night()
    unanswered_call(n)
    fake_twilio.failures = [400] * 3  # refused: not worth trying again as is
    n.run_worker()
    failed = [j for j in jobs(demo) if j.status == "failed"]
    # The technician's line, then the backup line (the chain goes on), then the text message.
    assert [j.kind for j in failed] == ["call_line", "sms", "call_line"]
    with demo.snapshot() as session:
        assert session.scalars(select(AlertRow.kind)).all() == ["job_failed"] * 3


def test_next_morning_a_7_7_client_on_friday_evening_is_called_saturday_at_8(
    night, demo, fake_twilio
):
    n = night(at="2026-12-18T19:30")  # a Friday
    caller_call(n, "10000001", {})
    n.run_worker()
    assert fake_twilio.calls == []  # not before the morning; the client is told when
    [told] = fake_twilio.messages
    assert told["To"] == "+33611111111" and "prévenu demain samedi, à 8 heures" in told["Body"]
    [(_, text)] = sheet_texts(n)  # the sheet goes at once, and says when
    assert "Technicien joint : NON" in text and "19 décembre" in text
    line = job_of(demo, "call_line")
    assert line.due_at.isoformat() == "2026-12-19T07:00:00+00:00"  # 08:00 in Paris
    n.later(hours=12, minutes=29)  # Saturday 07:59
    assert n.run_worker() == 0 and fake_twilio.calls == []
    n.later(minutes=1, seconds=1)
    assert n.run_worker() == 2  # called, and texted the summary
    assert [c["To"] for c in fake_twilio.calls] == [line.payload["numbers"][0]]
    # The client was told at once; the technician is texted in the morning.
    assert [m["To"] for m in fake_twilio.messages] == ["+33611111111", line.payload["numbers"][0]]


def test_danger_the_sheet_goes_to_the_agency_and_the_regional_direction(night, demo, fake_twilio):
    n = night()
    call = caller_phone(n, {MANAGER_IDF: Callee(answers=False)})
    call.start()
    call.press("9")
    call.press("1")  # a smell of gas
    call.press("10000002#")
    assert call.waiting_for == "record"  # the manager did not answer: a message is offered
    call.hang_up()
    n.run_worker()
    sent_to = sorted(meta["to"] for meta, _ in sheet_texts(n))
    assert len(sent_to) == 2 and AGENCY_0751_FAX in sent_to
    assert all("DANGER" in text for _, text in sheet_texts(n))
    assert fake_twilio.calls[0]["To"] == MANAGER_IDF  # not reached in the call: called again
    assert fake_twilio.messages[0]["To"] == MANAGER_IDF
    alert = fake_twilio.messages[0]["Body"]
    assert "ALERTE DANGER (odeur de gaz" in alert and "Paris, 37 rue Riquet" in alert
    assert "Chaudières murales gaz des 48 logements" in alert


def test_an_unidentified_caller_who_hangs_up_after_the_safety_instructions_is_not_forgotten(
    night, demo, fake_twilio
):
    """Danger reported, the instructions heard, then the line drops before the caller keys a
    contract number or a postcode: the national duty number is called and texted."""
    n = night(NATIONAL_DUTY_NUMBER="+33199009999")
    call = caller_phone(n)
    call.start()
    call.press("9")
    call.press("1")  # a smell of gas
    assert "numéro de contrat" in call.said_since_last_input
    call.hang_up()
    n.run_worker()
    assert [c["To"] for c in fake_twilio.calls] == ["+33199009999"]
    [text] = fake_twilio.messages
    assert text["To"] == "+33199009999" and "ALERTE DANGER (odeur de gaz" in text["Body"]
    assert "06 11 11 11 11" in text["Body"]  # whom to call back


@pytest.mark.parametrize("ringing", [TECHNICIAN, BACKUP])
def test_a_caller_who_hangs_up_while_a_line_rings_leaves_the_lines_to_the_worker(
    night, demo, fake_twilio, ringing
):
    """Twilio posts the dial's outcome even after the caller hung up: no other line is dialed
    for nobody, and the request is no unreachable time, as the line ringing was not tried to
    its end (nor, the first ringing, the backup at all)."""
    n = night()
    callees = {
        TECHNICIAN: Callee(live=ringing == TECHNICIAN, answers=False),
        BACKUP: Callee(live=True),
    }
    call = caller_phone(n, callees)
    identify(call, "10000002")
    through_details(call)
    twiml = hang_up_while_it_rings(call)
    assert "<Dial" not in twiml and "<Hangup" in twiml
    with demo.snapshot() as session:
        attempts = session.execute(
            select(DialAttemptRow.number, DialAttemptRow.outcome).order_by(DialAttemptRow.id)
        ).all()
        ended = session.scalars(select(CallEventRow).where(CallEventRow.kind == "ended")).one()
    assert attempts[-1] == (ringing, "caller_gone") and ended.detail["by_caller"]
    with demo.snapshot() as session:  # the trace says so too, not « pas de réponse »
        outcome = select(CallEventRow.detail).where(CallEventRow.kind == "dial_outcome")
        assert session.scalars(outcome).all()[-1]["caller_gone"] is True
    assert [number for number, _ in attempts] == [TECHNICIAN, BACKUP][: len(attempts)]
    assert len(attempts) == (1 if ringing == TECHNICIAN else 2)
    n.run_worker()
    assert [c["To"] for c in fake_twilio.calls] == [TECHNICIAN]  # the chain, from its start
    with demo.snapshot() as session:
        kinds = session.scalars(select(CallEventRow.kind)).all()
    assert "line_unreachable" not in kinds


def test_a_message_the_legacy_number_did_not_take_reaches_its_agency_on_its_sheet(
    night, demo, fake_twilio
):
    n = night()
    call = caller_phone(n, {"+33199001290": Callee(answers=False)})
    identify(call, "20000001")  # agency 0781, not live yet
    call.leave_message(12)
    n.run_worker()
    [(meta, text)] = sheet_texts(n)
    assert meta["to"] == "+33199001201" and fake_twilio.calls == []
    assert "dispositif habituel" in text and "Astreinte habituelle jointe : NON" in text


def test_a_danger_whose_caller_hangs_up_while_the_legacy_number_rings_is_escalated(
    night, demo, fake_twilio
):
    """Nobody warned and the caller gone: the manager on duty is called all the same."""
    n = night(at="2026-12-24T03:00")
    call = caller_phone(n, {"+33199001290": Callee(live=True)})
    call.start()
    call.press("9")
    call.press("1")  # a smell of gas
    call.press("20000001#")  # agency 0781, not live yet: its legacy number rings
    hang_up_while_it_rings(call)
    n.run_worker()
    assert [c["To"] for c in fake_twilio.calls] == [MANAGER_IDF]
    texts = " ".join(" ".join(text.split()) for _, text in sheet_texts(n))
    assert "DANGER" in texts and "l'appelant a raccroché avant" in texts


def test_an_unknown_caller_of_no_known_agency_is_promised_nothing_by_text(night, demo, fake_twilio):
    """No agency gets the message (a postcode of none of ours): no text says it will."""
    n = night()
    call = caller_phone(n)
    call.start()
    for _ in range(3):
        call.press("12345678#")  # not a contract of ours
    call.press("13001")  # Marseille: no agency of ours
    call.leave_message(20)
    n.run_worker()
    assert fake_twilio.messages == [] and sheet_texts(n) == []


def hang_up_while_it_rings(call: PhoneCall) -> str:
    """The caller hangs up while the line they are put through to rings: Twilio posts the
    dial's outcome all the same, with the call's status completed, then the call's end. What
    the app answered that outcome."""
    assert call.waiting_for == "transfer"
    call.hang_up()
    posted = [r for r in call.requests if r.params.get("DialCallStatus")]
    assert posted[-1].params["CallStatus"] == "completed" and posted[-1].status == 200
    return posted[-1].body


def lost_end(demo) -> str:
    """The call's end as if Twilio's status callback had never come: its SID."""
    with demo.session() as session:
        call = session.scalars(select(CallRow)).one()
        call.ended_at, call.followed_up_at, call.twilio_status = None, None, "in-progress"
        for event in session.scalars(select(CallEventRow).where(CallEventRow.kind == "ended")):
            session.delete(event)
        return call.sid


def asked_about(fake_twilio, sid: str) -> int:
    return sum(1 for c in fake_twilio.mock.calls if c.request.url.endswith(f"/Calls/{sid}.json"))


def test_a_call_whose_end_was_never_reported_is_asked_about_at_twilio_once_quiet(
    night, demo, fake_twilio
):
    """The status callback lost (the database out of reach at that moment): the call is
    followed up ten minutes after its last turn, not four hours later."""
    n = night()
    unanswered_call(n)
    sid = lost_end(demo)
    fake_twilio.statuses[sid] = ("in-progress", None)
    assert n.run_worker() == 0 and asked_about(fake_twilio, sid) == 0  # not quiet yet
    n.later(minutes=11)
    n.run_worker()
    n.run_worker()
    assert asked_about(fake_twilio, sid) == 1 and fake_twilio.calls == []  # under way: asked once
    fake_twilio.statuses[sid] = ("completed", None)
    n.later(minutes=11)
    n.run_worker()  # asked last in the pass, after the planning: planned at the next
    n.run_worker()
    assert asked_about(fake_twilio, sid) == 2
    assert [c["To"] for c in fake_twilio.calls] == [TECHNICIAN]  # followed up as any other
    with demo.snapshot() as session:
        call = session.scalars(select(CallRow)).one()
        events = session.scalars(select(CallEventRow)).all()
    assert call.ended_at is not None and call.twilio_status == "completed"
    assert [e.kind for e in events].count("status_asked") == 2
    [ended] = [e for e in events if e.kind == "ended"]
    assert ended.detail["asked"] and ended.detail["status"] == "completed"


def test_a_call_whose_end_twilio_cannot_tell_is_taken_as_ended_past_the_longest_call(
    night, demo, fake_twilio
):
    n = night()
    unanswered_call(n)
    sid = lost_end(demo)
    fake_twilio.statuses[sid] = ("in-progress", None)  # what Twilio would never say by then
    fake_twilio.lookup_failures = [500] * 50  # Twilio down: the quiet call cannot be asked about
    n.later(minutes=30)
    for _ in range(3):  # passes in a row: asked once, not at every pass
        n.run_worker()
    assert asked_about(fake_twilio, sid) == 1 and fake_twilio.calls == []
    with demo.snapshot() as session:
        assert session.scalars(select(CallRow.ended_at)).one() is None
    fake_twilio.lookup_failures = []
    n.later(hours=4)
    n.run_worker()
    n.run_worker()
    with demo.snapshot() as session:
        ended = session.scalars(select(CallEventRow).where(CallEventRow.kind == "ended")).one()
    assert ended.detail["status"] == "never reported"
    assert TECHNICIAN in [c["To"] for c in fake_twilio.calls]


def test_a_third_unreachable_request_in_one_night_raises_the_manager_a_second_does_not(
    night, demo, fake_twilio
):
    n = night()
    unanswered_call(n)
    n.later(minutes=30)
    unanswered_call(n)
    n.run_worker()
    assert MANAGER_IDF not in [c["To"] for c in fake_twilio.calls]
    n.later(minutes=30)
    unanswered_call(n)
    n.run_worker()
    assert MANAGER_IDF in [c["To"] for c in fake_twilio.calls]
    unreachable = [m for m in fake_twilio.messages if m["To"] == MANAGER_IDF]
    assert len(unreachable) == 1 and "3 fois" in unreachable[0]["Body"]


def test_each_technician_has_their_own_unreachable_streak(night, demo, fake_twilio):
    """Metz, a weeknight: its collective buildings and its boiler rooms each have their own
    on-call lines. Two collective requests and a boiler room's nobody took are two times for
    one technician and one for another: nobody is raised; a third collective one is."""
    manager_est = "+33639980211"
    nobody = {f"+336399801{n}": Callee(answers=False) for n in (23, 24, 25, 26)}
    n = night(at="2026-12-23T22:00")  # a Wednesday
    callers = ("30382714", "30459021", "30527640", "30382714")  # the third: a boiler room
    for number, client in enumerate(callers):
        call = caller_phone(n, nobody, from_=f"+3361111113{number}")
        identify(call, client)
        through_details(call)
        call.leave_message(10)
        n.run_worker()
        n.later(minutes=20)
        raised = manager_est in [c["To"] for c in fake_twilio.calls]
        assert raised is (number == 3), number
    [told] = [m["Body"] for m in fake_twilio.messages if m["To"] == manager_est]
    assert "injoignable 3 fois de suite" in told and "Marly" not in told  # not the boiler room


def test_without_twilio_settings_each_call_fails_visibly_and_the_sheet_still_goes(
    night, demo, fake_twilio
):
    """A worker started without IVR_CALLER_ID (it warns): the dispatcher's calls and texts
    cannot go, each fails with its alert, and the agency still gets its sheet."""
    n = night(IVR_CALLER_ID=None)
    unanswered_call(n)
    for _ in range(6):  # every round of calls
        n.run_worker()
        n.later(minutes=10)
    assert fake_twilio.calls == [] and fake_twilio.messages == []
    lines = [j for j in jobs(demo) if j.kind in ("call_line", "sms")]
    assert lines and {j.status for j in lines} == {"failed"}
    [(meta, text)] = sheet_texts(n)
    assert meta["to"] == AGENCY_0751_FAX and "Technicien joint : NON" in text


@pytest.mark.parametrize("placing_noted", [True, False])
def test_three_next_morning_calls_nobody_takes_raise_the_manager_in_the_morning(
    night, demo, fake_twilio, placing_noted
):
    """§5.2: three 7/7 clients call on Friday evening; on Saturday at 08:00 nobody takes the
    technician's line for any of them: three times in a row in Saturday's on-call period, and
    the manager on duty is called, as for three requests to call at once. A fourth request,
    taken in hand during the night, was never tried in the morning: it resets nothing."""
    n = night(at="2026-12-18T19:30")  # a Friday
    for number, client in enumerate(("10000001", "10245871", "10952807", "11152093")):
        call = caller_phone(n, {}, from_=f"+3361111114{number}")
        identify(call, client)
        through_details(call)
        call.leave_message(5)
        n.run_worker()
        n.later(minutes=10)
    with demo.session() as session:  # the technician called the fourth back at night
        session.scalars(select(CallRow).order_by(CallRow.id.desc())).first().reached = TECHNICIAN
    n.later(hours=12, minutes=5)  # Saturday 08:05: the morning calls are placed
    n.run_worker()
    for _ in range(12):  # each line of each request: no answer
        if not placing_noted:  # the worker stopped between placing each call and noting it
            with demo.session() as session:
                session.execute(delete(CallEventRow).where(CallEventRow.kind == "line_called"))
        waiting = [j for j in jobs(demo) if j.kind == "call_line" and j.status == "waiting"]
        if not waiting or MANAGER_IDF in [c["To"] for c in fake_twilio.calls]:
            break
        for job in waiting:
            n.twilio_posts(f"/twilio/outbound/status?job={job.id}", CallStatus="no-answer")
        n.run_worker()
    assert MANAGER_IDF in [c["To"] for c in fake_twilio.calls]
    [told] = [m["Body"] for m in fake_twilio.messages if m["To"] == MANAGER_IDF]
    assert "injoignable 3 fois de suite" in told


def test_the_next_morning_call_is_not_made_when_the_request_was_reached_meanwhile(
    night, demo, fake_twilio
):
    n = night(at="2026-12-18T19:30")
    caller_call(n, "10000001", {})
    n.run_worker()
    with demo.session() as session:  # dealt with meanwhile (e.g. the technician called back)
        session.scalars(select(CallRow)).one().reached = TECHNICIAN
    n.later(hours=13)
    n.run_worker()
    assert fake_twilio.calls == []
    assert job_of(demo, "call_line").outcome == "not_needed"


def test_a_line_not_called_as_the_request_was_taken_meanwhile_still_sends_its_sheet(
    night, demo, fake_twilio
):
    n = night()
    unanswered_call(n)
    n.worker.housekeeping()  # the ended call's jobs: the technician's line, no sheet yet
    assert [j.kind for j in jobs(demo)] == ["call_line", "sms", "sms"]  # the client's text
    with demo.session() as session:  # taken meanwhile, by a way that sent no sheet
        session.scalars(select(CallRow)).one().reached = TECHNICIAN
    n.run_worker()
    assert fake_twilio.calls == []
    assert job_of(demo, "call_line").outcome == "not_needed"
    assert job_of(demo, "sheet").status == "done"


def test_the_running_worker_starts_a_job_within_seconds_of_falling_due(night, demo, fake_twilio):
    n = night()
    stop = threading.Event()
    runner = threading.Thread(target=n.worker.run, args=(stop,), kwargs={"poll": 0.2})
    runner.start()
    try:
        caller_call(n, "10000001", {})  # fax only: the sheet is due as the call ends
        wait_until(lambda: list(n.faxes.glob("*.json")), "the sheet", timeout=5)
    finally:
        stop.set()
        runner.join(timeout=10)
    assert not runner.is_alive()  # stops when asked
    assert len(list(n.faxes.glob("*.json"))) == 1


def test_a_text_message_sent_but_not_recorded_is_found_not_sent_again(night, demo, fake_twilio):
    n = night()
    unanswered_call(n)
    n.dispatcher.plan_ended_calls()
    sms = job_of(demo, "sms", TECHNICIAN)
    fake_twilio.messages.append({"To": TECHNICIAN, "Sid": "SM" + "9" * 32, "Body": "..."})
    with demo.session() as session:  # as a worker that died after Twilio took the message
        row = session.get(JobRow, sms.id)
        row.attempts, row.status = 1, "running"
        row.payload = {**row.payload, "sending_since": n.dispatcher.clock.now().isoformat()}
        row.lease_until = n.dispatcher.clock.now() - timedelta(seconds=1)
    n.run_worker()
    assert [m["To"] for m in fake_twilio.messages] == [TECHNICIAN, "+33611111111"]
    assert job_of(demo, "sms", TECHNICIAN).provider_ref == "SM" + "9" * 32


def test_after_a_clear_refusal_another_requests_call_to_the_same_line_is_not_taken_for_ours(
    night, demo, fake_twilio
):
    n = night()
    unanswered_call(n)  # request A
    n.later(minutes=5)
    unanswered_call(n)  # request B, same technician
    fake_twilio.failures = [503]  # A's call: Twilio answers 503, so no call exists
    n.run_worker()
    assert len(fake_twilio.calls) == 1  # B's only
    n.later(seconds=31)
    n.run_worker()  # A again: Twilio shows B's call to that number, which is not A's
    tech_calls = [c for c in fake_twilio.calls if c["To"] == TECHNICIAN]
    assert len(tech_calls) == 2
    assert len({c["Url"] for c in tech_calls}) == 2  # one for each request


def test_twilio_calling_back_before_the_worker_wrote_waiting_the_outcome_stands(
    night, demo, fake_twilio
):
    n = night()
    unanswered_call(n)
    fake_twilio.on_call = lambda placed: n.twilio_posts(
        placed["StatusCallback"].removeprefix(BASE_URL), CallStatus="busy"
    )
    n.run_worker()
    lines = [j for j in jobs(demo) if j.kind == "call_line"]
    # Not overwritten by "waiting": each outcome stands, and the chain went on at once.
    assert [(j.status, j.outcome) for j in lines[:2]] == [("done", "busy"), ("done", "busy")]
    n.later(minutes=20)
    n.run_worker()  # the second round, busy too
    lines = [j for j in jobs(demo) if j.kind == "call_line"]
    assert [j.outcome for j in lines] == ["busy"] * 4
    assert len({c["Url"] for c in fake_twilio.calls}) == len(fake_twilio.calls) == 4


def test_a_line_twilio_refuses_is_skipped_and_the_chain_goes_on_to_the_sheet(
    night, demo, fake_twilio
):
    n = night(DISPATCH_ROUNDS=1)
    unanswered_call(n)
    fake_twilio.failures = [400]  # the technician's number refused (a typo in the directory)
    n.run_worker()
    assert job_of(demo, "call_line", TECHNICIAN).status == "failed"
    assert [c["To"] for c in fake_twilio.calls] == [BACKUP]
    backup = job_of(demo, "call_line", BACKUP)
    n.twilio_posts(f"/twilio/outbound/status?job={backup.id}", CallStatus="no-answer")
    n.run_worker()
    [(_, text)] = sheet_texts(n)
    assert "Technicien joint : NON" in text
    with demo.snapshot() as session:
        assert "job_failed" in session.scalars(select(AlertRow.kind)).all()


def test_a_person_who_presses_nothing_has_not_taken_the_request(night, demo, fake_twilio):
    n = night()
    unanswered_call(n)
    n.run_worker()
    technician = n.pick_up(fake_twilio.calls[0])
    technician.answer()
    technician.silence()
    assert "06 11 11 11 11" in technician.silence()  # told again
    technician.silence()
    assert technician.ended  # three silences: goodbye
    assert job_of(demo, "call_line", TECHNICIAN).outcome == "not_taken"
    n.run_worker()
    assert [c["To"] for c in fake_twilio.calls] == [TECHNICIAN, BACKUP]


def test_the_technician_hears_it_again_then_is_put_through_to_the_client(
    night, demo, fake_twilio, twiml_schema
):
    n = night()
    unanswered_call(n)
    n.run_worker()
    technician = n.pick_up(fake_twilio.calls[0])
    technician.answer()
    assert "06 11 11 11 11" in technician.press("*")
    technician.press("1")
    assert "BRIDGED caller <-> +33611111111" in technician.transcript and technician.ended
    [dial] = [r.body for r in technician.requests if "<Dial" in r.body]
    assert 'callerId="+33199000000"' in dial  # the out-of-hours number the client called
    with demo.snapshot() as session:
        assert session.scalars(select(CallRow)).one().reached == TECHNICIAN


def test_a_call_that_cannot_be_planned_raises_an_alert_and_holds_up_no_other(
    night, demo, fake_twilio
):
    n = night()
    unanswered_call(n)
    n.later(minutes=5)
    unanswered_call(n)
    with demo.session() as session:
        first = session.scalars(select(CallRow).order_by(CallRow.id)).first()
        first.action = "no_such_action"
    n.run_worker()
    with demo.snapshot() as session:
        assert session.scalars(select(AlertRow.kind)).all() == ["planning_failed"]
        assert all(c.followed_up_at for c in session.scalars(select(CallRow)))
    assert [c["To"] for c in fake_twilio.calls] == [TECHNICIAN]  # the second request's


def test_on_the_dispatchers_call_the_technician_reports_the_outcome_as_on_the_staff_side(
    night, demo, fake_twilio, twiml_schema
):
    n = night()
    unanswered_call(n)
    n.run_worker()
    technician = n.pick_up(fake_twilio.calls[0])
    technician.answer()
    assert "Hors de notre ressort" in technician.press("3")
    assert "Hors de notre ressort" in technician.press("7")  # asked again
    assert "C'est noté" in technician.press("2")
    assert technician.ended
    with demo.snapshot() as session:
        [reported] = session.scalars(
            select(CallEventRow.detail).where(CallEventRow.kind == "staff_outcome")
        ).all()
        call = session.scalars(select(CallRow)).one()
    assert (reported["outcome"], reported["by"]) == ("not_ours", TECHNICIAN)
    assert call.reached == TECHNICIAN
    assert job_of(demo, "call_line", TECHNICIAN).outcome == "reached"
