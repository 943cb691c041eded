"""Alerts reach people: each new alert is mailed to ALERT_EMAILS (a real SMTP server on
loopback) and texted to ALERT_SMS_NUMBERS (Twilio faked at the HTTP level), once, whichever
worker takes it; alerts of one kind wait out a quiet period and then go together. The
operations page shows each worker's last sign of life and how late the jobs are."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller

from ivr.services.accounts import add_user
from tests.conftest import log_in
from tests.dispatch.test_dispatcher import unanswered_call

OPERATOR = "+33612345678"


class Inbox:
    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        parsed = BytesParser(_class=EmailMessage, policy=default_policy).parsebytes(
            envelope.content
        )
        self.mails.append(parsed)
        return "250 Message accepted"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def texts_to_operator(fake_twilio) -> list[str]:
    return [m["Body"] for m in fake_twilio.messages if m["To"] == OPERATOR]


def test_an_alert_is_mailed_and_texted_once_then_the_next_ones_wait_the_quiet_period(
    night, demo, fake_twilio, inbox
):
    mails, port = inbox
    n = night(
        ALERT_EMAILS="ops@example.fr, astreinte-chef@example.fr",
        ALERT_SMS_NUMBERS=OPERATOR,
        ALERT_SMTP_PORT=port,
    )
    unanswered_call(n)
    fake_twilio.failures = [400] * 2  # the two lines refused: two job_failed alerts
    n.run_worker()
    [first] = mails.mails
    assert first["To"] == "ops@example.fr, astreinte-chef@example.fr"
    assert first["Subject"] == "Astreinte : 1 alerte(s) : Tâche abandonnée après ses essais"
    assert "call_line job" in first.get_content() and "+336" not in first.get_content()
    assert texts_to_operator(fake_twilio) == [
        "Astreinte : 1 alerte(s) : Tâche abandonnée après ses essais. Voir la page Exploitation."
    ]
    n.later(minutes=5)
    n.run_worker()
    assert len(mails.mails) == 1  # the same kind again: quiet for now
    n.later(minutes=11)
    n.run_worker()
    assert len(mails.mails) == 2 and "1 alerte(s)" in mails.mails[1]["Subject"]
    assert len(texts_to_operator(fake_twilio)) == 2
    n.later(hours=1)
    n.run_worker()
    assert len(mails.mails) == 2  # nothing new: nothing sent


def test_without_anyone_to_tell_nothing_is_sent(night, demo, fake_twilio, inbox):
    mails, _ = inbox
    n = night()
    unanswered_call(n)
    fake_twilio.failures = [400] * 2
    n.run_worker()
    assert mails.mails == [] and texts_to_operator(fake_twilio) == []


def test_the_operations_page_shows_the_workers_and_how_late_the_jobs_are(
    night, demo, fake_twilio, clock
):
    add_user(demo, clock, "ops@example.fr", "a long enough password", "admin")
    n = night()
    client, _ = log_in(n.app, "ops@example.fr", "a long enough password")
    page = client.get("/operations").get_data(as_text=True)
    assert "Aucun worker n" in page and "Aucune tâche en retard" in page
    n.run_worker()
    page = client.get("/operations").get_data(as_text=True)
    assert "en marche" in page
    unanswered_call(n)  # its jobs planned, not run: due
    n.dispatcher.plan_ended_calls()
    n.later(minutes=3)
    page = client.get("/operations").get_data(as_text=True)
    assert "silencieux depuis 3 min" in page
    assert "2 tâche(s) dues pas encore commencées" in page
    assert re.search(r"attend depuis 18\d s", page)  # three minutes late
