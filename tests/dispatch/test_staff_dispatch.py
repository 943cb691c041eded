"""The technician's side (§6) with the dispatcher: a coverage problem declared from a landline
suspends the unreachable-technician alert; a request the technician handled is not called
again the next morning."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from ivr.adapters.orm import CoverageRow, JobRow
from ivr.services.reference import ReferenceCache
from ivr.services.staff import set_pin
from ivr.simulator.dialer import Callee
from ivr.simulator.phone import PhoneCall
from ivr.simulator.transports import FlaskTransport
from tests.calls.conftest import BACKUP, MANAGER_IDF, TECHNICIAN, identify, through_details
from tests.calls.test_staff_calls import NOBODY, events, pins, unanswered_request
from tests.conftest import AUTH_TOKEN, BASE_URL
from tests.dispatch.test_sheet_contents import request_ids


def phone_of(n, from_: str, callees=None) -> PhoneCall:
    """A call into the night's app, from `from_`, at the night's time."""
    return PhoneCall(
        FlaskTransport(n.app),
        BASE_URL,
        AUTH_TOKEN,
        from_=from_,
        callees=callees,
        started_at=n.dispatcher.clock.now(),
    )


def test_from_a_landline_declare_poor_coverage_then_missed_calls_do_not_raise_the_manager(
    night, demo, clock, fake_twilio
):
    pins(demo, clock)
    n = night()
    landline = phone_of(n, "+33199887766")
    landline.start()
    assert "code de votre agence" in landline.press("*")
    assert "code personnel" in landline.press("0751#")
    landline.press("1357#")  # the backup line's PIN
    assert "combien d'heures" in landline.press("2")
    assert "pendant 6 heures" in landline.press("6#")
    landline.press("3")
    with demo.snapshot() as session:
        [declared] = session.scalars(select(CoverageRow)).all()
    assert (declared.number, declared.agency) == (BACKUP, "0751")

    for _ in range(3):
        n.later(minutes=20)
        call = phone_of(n, "+33611111111", NOBODY)
        unanswered_request(call)
        n.run_worker()
    assert MANAGER_IDF not in [c["To"] for c in fake_twilio.calls]  # suspended
    assert len(events(demo, "escalation_suspended")) == 1
    from ivr.services.accounts import add_user
    from tests.web.test_backoffice import PASSWORD

    add_user(demo, clock, "ops@example.fr", PASSWORD, "admin")
    office = n.app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', office.get("/login").text).group(1)
    form = {"email": "ops@example.fr", "password": PASSWORD, "csrf_token": token}
    office.post("/login", data=form)
    page = office.get("/operations").get_data(as_text=True)
    assert "06 39 98 01 02" in page and "pas d’alerte au cadre" in page  # the back office shows it
    n.later(hours=7)  # the declaration is over: the next unreachable time raises the manager
    call = phone_of(n, "+33611111111", NOBODY)
    unanswered_request(call)
    n.run_worker()
    assert MANAGER_IDF in [c["To"] for c in fake_twilio.calls]


def test_a_next_morning_call_is_cancelled_when_the_technician_already_handled_it(
    night, demo, clock, fake_twilio
):
    pins(demo, clock)
    n = night(at="2026-12-18T19:30")  # Friday: the 7/7 client is called back Saturday 08:00
    client = phone_of(n, "+33611111111")
    identify(client, "10000001")
    through_details(client)
    client.hang_up()
    n.run_worker()
    n.later(minutes=30)
    tech = phone_of(n, TECHNICIAN)
    tech.start()
    tech.press("2468#")
    assert "Madame Hélène Bérard" in tech.press("1")
    tech.press("3")
    tech.press("2")  # not our concern: a gas network cut
    tech.press("3")
    n.later(hours=13)
    n.run_worker()
    assert fake_twilio.calls == []  # no call on Saturday morning
    with demo.snapshot() as session:
        line = session.scalars(select(JobRow).where(JobRow.kind == "call_line")).one()
    assert line.status == "cancelled"
    assert timedelta(0) < n.dispatcher.clock.now() - line.due_at
    # The agency had its sheet on Friday evening: what the technician said follows it.
    [request] = request_ids(demo)
    sheet, follow_up_pdf = sorted(n.faxes.glob("*.pdf"))
    assert sheet.name == f"fiche-{request}-agence.pdf"
    assert re.fullmatch(rf"fiche-{request}-suite-\d+-agence\.pdf", follow_up_pdf.name)
    follow_up = pdf_text(follow_up_pdf)
    assert f"Fiche de suite — réf. {request}" in follow_up and "Madame" not in follow_up
    assert "Le technicien d'astreinte (06 39 98 01 01) indique : hors de notre ressort" in (
        " ".join(follow_up.split())
    )


def test_an_outcome_reported_before_the_sheet_went_is_on_the_sheet(night, demo, clock, fake_twilio):
    """Taken in hand from the technician's own phone before the dispatcher's rounds were over:
    the agency gets its sheet at once, saying who took it, how, when and what came of it."""
    pins(demo, clock)
    n = night()
    unanswered_request(phone_of(n, "+33611111111", NOBODY))
    n.run_worker()  # the line called again, and texted; the sheet waits for the outcome
    assert list(n.faxes.glob("*.pdf")) == []
    n.later(minutes=10)
    tech = phone_of(n, TECHNICIAN)
    tech.start()
    tech.press("2468#")
    tech.press("1")
    tech.press("3")
    tech.press("3")  # a time slot
    tech.press("23")
    tech.press("09")
    tech.press("3")
    n.run_worker()
    [sheet] = n.faxes.glob("*.pdf")
    text = " ".join(pdf_text(sheet).split())
    [request] = request_ids(demo)
    assert sheet.name == f"fiche-{request}-agence.pdf"
    assert "Technicien joint : OUI" in text and "Technicien d'astreinte, 06 39 98 01 01" in text
    assert "a pris la demande en charge depuis son téléphone, 23:10" in text
    assert (
        "suite donnée" in text and "rendez-vous convenu, le mercredi 23 décembre à 9 heures" in text
    )
    with demo.snapshot() as session:
        keys = session.scalars(select(JobRow.key).where(JobRow.kind == "sheet")).all()
    assert keys == [f"sheet:{request}:+33199001101"]  # no follow-up: the sheet says it


def pdf_text(path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_a_declared_coverage_problem_holds_back_only_the_alerts_of_the_declaring_line(
    night, demo, clock, fake_twilio
):
    """§6 NOTA: the technician's missed calls. Metz's collective technician warns they will
    be hard to reach; three boiler-room requests that ring the boiler-room lines, nobody
    taking them, still raise the manager."""
    collective, boiler_rooms = "+33639980123", ("+33639980125", "+33639980126")
    manager_est = "+33639980211"  # Anne-Sophie Kieffer, on duty 18-25 December 2026
    set_pin(demo, clock, ReferenceCache().directory(demo), collective, "8642", "test")
    n = night()  # Tuesday 23:00: Metz's collective and boiler-room windows open
    landline = phone_of(n, "+33353990000")
    landline.start()
    landline.press("*")
    landline.press("5701#")
    landline.press("8642#")
    landline.press("2")
    assert "pendant 6 heures" in landline.press("6#")
    landline.press("3")
    nobody = {line: Callee(answers=False) for line in boiler_rooms}
    for _ in range(3):
        n.later(minutes=20)
        call = phone_of(n, "+33611111119", nobody)
        identify(call, "30000002")  # Woippy's school boiler room
        through_details(call)
        call.leave_message(10)
        n.run_worker()
    assert events(demo, "escalation_suspended") == []
    assert events(demo, "technician_unreachable") == [{"times": 3}]
    assert manager_est in [c["To"] for c in fake_twilio.calls]
