"""Alerts reach people: each new alert is mailed to ALERT_EMAILS (a real SMTP server on
loopback, the fax tests' `gateway`) and texted to ALERT_SMS_NUMBERS (Twilio faked at the HTTP
level), once, whichever worker takes it; alerts of one kind wait out a quiet period and then
go together. The operations page shows each worker's last sign of life and how late the jobs
are."""

from __future__ import annotations

import re
import threading

from ivr.domain.trace_words import job_state
from ivr.services.accounts import add_user
from tests.conftest import log_in, wait_until
from tests.dispatch.test_dispatcher import jobs, unanswered_call

OPERATOR = "+33612345678"


def mails(server) -> list:
    return [message for _, message in server.received]


def texts_to_operator(fake_twilio) -> list[str]:
    return [m["Body"] for m in fake_twilio.messages if m["To"] == OPERATOR]


def test_an_alert_is_mailed_and_texted_once_then_the_next_ones_wait_the_quiet_period(
    night, demo, fake_twilio, gateway
):
    server, port = gateway
    n = night(
        ALERT_EMAILS="ops@example.fr, astreinte-chef@example.fr",
        ALERT_SMS_NUMBERS=OPERATOR,
        ALERT_SMTP_PORT=port,
    )
    unanswered_call(n)
    fake_twilio.failures = [400] * 2  # the two lines refused: two job_failed alerts
    n.run_worker()
    [first] = mails(server)
    assert first["To"] == "ops@example.fr, astreinte-chef@example.fr"
    assert first["Subject"] == "Astreinte : 1 alerte(s) : Tâche abandonnée après ses essais"
    assert "call_line job" in first.get_content() and "+336" not in first.get_content()
    assert texts_to_operator(fake_twilio) == [
        "Astreinte : 1 alerte(s) : Tâche abandonnée après ses essais. Voir la page Exploitation."
    ]
    n.later(minutes=5)
    n.run_worker()
    assert len(mails(server)) == 1  # the same kind again: quiet for now
    n.later(minutes=11)
    n.run_worker()
    assert len(mails(server)) == 2 and "1 alerte(s)" in mails(server)[1]["Subject"]
    assert len(texts_to_operator(fake_twilio)) == 2
    n.later(hours=1)
    n.run_worker()
    assert len(mails(server)) == 2  # nothing new: nothing sent


def test_without_twilio_alerts_are_mailed_and_their_texts_fail_nothing(
    night, demo, fake_twilio, gateway
):
    """A worker without IVR_CALLER_ID cannot text the operators: the mail goes, and the notice
    is done; failing it would raise an alert of its own, noticed in turn, for ever."""
    server, port = gateway
    n = night(
        IVR_CALLER_ID=None,
        ALERT_EMAILS="ops@example.fr",
        ALERT_SMS_NUMBERS=OPERATOR,
        ALERT_SMTP_PORT=port,
    )
    unanswered_call(n)
    for _ in range(8):
        n.run_worker()
        n.later(minutes=20)
    assert texts_to_operator(fake_twilio) == []
    notices = [j for j in jobs(demo) if j.kind == "alert_notice"]
    assert notices and {(j.status, j.outcome) for j in notices} == {("done", "mailed only")}
    said = job_state("done", "mailed only")  # as the operations page says it
    assert said == "faite : envoyée par e-mail seulement (pas de SMS sans Twilio)"
    assert not any("alert_notice" in m.get_content() for m in mails(server))


def test_without_anyone_to_tell_nothing_is_sent(night, demo, fake_twilio, gateway):
    server, _ = gateway
    n = night()
    unanswered_call(n)
    fake_twilio.failures = [400] * 2
    n.run_worker()
    assert mails(server) == [] and texts_to_operator(fake_twilio) == []


def test_the_operations_page_shows_the_workers_and_how_late_the_jobs_are(
    night, demo, fake_twilio, clock
):
    add_user(demo, clock, "ops@example.fr", "a long enough password", "admin")
    n = night()
    client, _ = log_in(n.app, "ops@example.fr", "a long enough password")
    page = client.get("/operations").get_data(as_text=True)
    assert "Aucun worker en marche" in page and "Aucune tâche en retard" in page
    n.run_worker()
    page = client.get("/operations").get_data(as_text=True)
    assert "en marche" in page
    unanswered_call(n)  # its jobs planned, not run: due
    n.dispatcher.plan_ended_calls()
    n.later(minutes=3)
    page = client.get("/operations").get_data(as_text=True)
    assert "silencieux depuis 3 min" in page
    # The line called again, the technician texted, the client's confirmation texted.
    assert "3 tâche(s) dues pas encore commencées" in page
    assert re.search(r"attend depuis 18\d s", page)  # three minutes late


def test_a_worker_stopped_as_asked_is_no_longer_listed_only_one_that_died(night, demo, clock):
    add_user(demo, clock, "ops@example.fr", "a long enough password", "admin")
    n = night()
    client, _ = log_in(n.app, "ops@example.fr", "a long enough password")

    def page() -> str:
        return client.get("/operations").get_data(as_text=True)

    stop = threading.Event()
    running = threading.Thread(target=n.worker.run, args=(stop, 0.01))
    running.start()
    wait_until(lambda: "en marche" in page(), "the worker's first beat")
    stop.set()
    running.join(10)
    n.later(minutes=5)
    assert "silencieux" not in page() and "Aucun worker en marche" in page()
    n.run_worker()  # a worker that beats, then is never heard of again: died
    n.later(minutes=5)
    assert "silencieux depuis 5 min" in page()
