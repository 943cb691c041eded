"""Texts to the out-of-hours number (`POST /twilio/sms`): STOP stops the client's texts, START
brings them back, anything else is answered that texts are not read; signed like every
Twilio webhook; neither the sender's number nor the words are ever logged."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from ivr.adapters.orm import AlertRow, TextOptOutRow
from ivr.services.text_replies import Asked, asked
from tests.calls.conftest import identify, through_details
from tests.conftest import AUTH_TOKEN, BASE_URL, failing_inserts, sign
from tests.dispatch.conftest import ACCOUNT, IVR_NUMBER
from tests.dispatch.test_staff_dispatch import phone_of

MOBILE = "+33611111111"
LANDLINE = "+33145678901"
STOPPED = "Vous ne recevrez plus de SMS du service d'urgence chauffage."
RESTARTED = "Vous recevrez de nouveau les SMS du service d'urgence chauffage."
UNREAD = "Ce numéro ne lit pas les SMS."


def text(app, body: str, from_: str = MOBILE, **overrides: str):
    """A text to the number, posted by Twilio ("A message comes in"), signed."""
    params = {
        "MessageSid": "SM" + "a" * 32,
        "SmsSid": "SM" + "a" * 32,
        "AccountSid": ACCOUNT,
        "From": from_,
        "To": IVR_NUMBER,
        "Body": body,
        "NumMedia": "0",
        **overrides,
    }
    signature = sign(BASE_URL + "/twilio/sms", params, AUTH_TOKEN)
    answer = app.test_client().post(
        "/twilio/sms", data=params, headers={"X-Twilio-Signature": signature}
    )
    answer.close()  # sent: what the app does after the answer is done, as under gunicorn
    return answer


def replied(answer) -> str | None:
    """The words of the `<Message>` a webhook's TwiML answers with, if any."""
    assert answer.status_code == 200 and answer.mimetype == "application/xml"
    root = ET.fromstring(answer.get_data(as_text=True))
    assert root.tag == "Response"
    messages = root.findall("Message")
    assert len(messages) <= 1
    return messages[0].text if messages else None


def a_request(n, from_: str = MOBILE) -> None:
    """The 7/7 client calls from `from_` (a Friday evening: the technician is called the
    next morning), confirms the details and the fault, hangs up; the worker runs."""
    call = phone_of(n, from_)
    identify(call, "10000001")
    through_details(call)
    call.hang_up()
    n.run_worker()


def another_request(n, from_: str = MOBILE) -> None:
    """The client calls again while the first request is in progress, hears where it stands
    and chooses another request (3), for the client proposed (theirs)."""
    call = phone_of(n, from_)
    assert "Le technicien sera prévenu demain samedi, à 8 heures." in call.start()
    assert "Appelez-vous pour Madame Hélène Bérard" in call.press("3")
    call.press("1")
    through_details(call)
    call.hang_up()
    n.run_worker()


def texts_to(fake_twilio, number: str) -> list[str]:
    return [m["Body"] for m in fake_twilio.messages if m["To"] == number]


def opted_out(db) -> list[str]:
    with db.snapshot() as session:
        return list(session.scalars(select(TextOptOutRow.number)))


def test_stop_then_the_client_is_not_texted_again_until_start(night, demo, fake_twilio):
    n = night(at="2026-12-18T19:30")  # Friday: the 7/7 client's technician is called Saturday
    a_request(n)
    [confirmation] = texts_to(fake_twilio, MOBILE)
    assert "demande n°" in confirmation and "STOP" in confirmation
    assert "Le technicien sera prévenu demain samedi, à 8 heures." in confirmation

    assert STOPPED in replied(text(n.app, "Stop"))
    assert opted_out(demo) == [MOBILE]
    n.later(minutes=30)
    another_request(n)
    assert texts_to(fake_twilio, MOBILE) == [confirmation]  # not texted

    assert replied(text(n.app, "START")) == RESTARTED
    assert opted_out(demo) == []
    n.later(minutes=30)
    another_request(n)
    again = texts_to(fake_twilio, MOBILE)
    assert len(again) == 2 and "demande n°" in again[1] and again[1] != confirmation


def test_a_stop_sent_before_the_confirmation_goes_stops_it(night, demo, fake_twilio):
    """The number answered STOP to an earlier text: its next call's confirmation is not sent."""
    n = night(at="2026-12-18T19:30")
    text(n.app, "ARRÊT")
    a_request(n)
    assert texts_to(fake_twilio, MOBILE) == []


def test_a_landline_caller_gets_no_text(night, demo, fake_twilio):
    n = night(at="2026-12-18T19:30")
    a_request(n, from_=LANDLINE)
    assert fake_twilio.messages == []


@pytest.mark.parametrize(
    ("body", "meaning"),
    [
        ("STOP", Asked.STOP),
        ("  stop ", Asked.STOP),
        ("Stop.", Asked.STOP),
        ("ARRET", Asked.STOP),
        ("Arrêt", Asked.STOP),
        ("ARRÊT SMS", Asked.STOP),
        ("stop sms", Asked.STOP),
        ("Stop merci !", Asked.STOP),
        ("STOP STOP", Asked.STOP),
        ("UNSUBSCRIBE", Asked.STOP),
        ("Désinscrire", Asked.STOP),
        ("désabonnement", Asked.STOP),
        ("ＳＴＯＰ", Asked.STOP),  # full-width letters, as some keyboards send them
        ("START", Asked.START),
        ("start ", Asked.START),
        ("Unstop", Asked.START),
        ("", Asked.NOTHING),
        ("sms", Asked.NOTHING),
        ("Bonjour, le technicien est-il en route ?", Asked.NOTHING),
        ("Arrêt de la chaudière", Asked.NOTHING),  # a client telling of a fault: told to call
        ("Ne pas stop", Asked.NOTHING),
        ("STARTER", Asked.NOTHING),
    ],
)
def test_what_a_text_asks(body, meaning):
    assert asked(body) is meaning


def test_any_other_text_is_answered_that_texts_are_not_read(make_app, demo):
    app = make_app()
    words = replied(text(app, "Bonjour, ma chaudière est en panne"))
    assert words.startswith(UNREAD) and "appelez-le" in words
    assert opted_out(demo) == []
    assert UNREAD in replied(text(app, ""))  # a picture alone: no words


def test_the_reply_is_the_prompt_in_force(make_app, demo, clock):
    from ivr.services.accounts import add_user
    from ivr.services.prompt_editing import save_prompt
    from tests.web.test_backoffice import PASSWORD

    who = add_user(demo, clock, "ops@example.fr", PASSWORD, "admin")
    save_prompt(demo, clock, who, "sms_stopped", "C'est noté : plus aucun SMS de notre part.")
    app = make_app()
    assert replied(text(app, "stop")) == "C'est noté : plus aucun SMS de notre part."


def test_a_stop_already_recorded_is_answered_again_and_kept_once(make_app, demo):
    app = make_app()
    assert replied(text(app, "STOP")) == replied(text(app, "stop")) != ""
    assert opted_out(demo) == [MOBILE]
    assert replied(text(app, "START")) == replied(text(app, "start")) == RESTARTED
    assert opted_out(demo) == []


def test_the_senders_number_is_stored_as_e164(make_app, demo):
    app = make_app()
    replied(text(app, "stop", from_="0033 6 11 11 11 11"))
    assert opted_out(demo) == [MOBILE]


def test_a_sender_that_is_no_number_gets_no_answer(make_app, demo):
    app = make_app()
    assert replied(text(app, "STOP", from_="Orange")) is None
    assert opted_out(demo) == []


def test_an_unsigned_text_gets_403_and_changes_nothing(make_app, demo):
    app = make_app()
    client = app.test_client()
    params = {"MessageSid": "SM" + "a" * 32, "AccountSid": ACCOUNT, "From": MOBILE, "Body": "STOP"}
    assert client.post("/twilio/sms", data=params).status_code == 403
    signed = sign(BASE_URL + "/twilio/sms", params, "not-the-token")
    forged = client.post("/twilio/sms", data=params, headers={"X-Twilio-Signature": signed})
    assert forged.status_code == 403
    assert opted_out(demo) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"MessageSid": "", "SmsSid": ""},  # no message: a call's webhook pointed here
        {"AccountSid": "AC" + "9" * 32},  # another account's
        {"From": ""},
        {"Body": "STOP " * 400},
    ],
)
def test_a_signed_request_that_is_no_text_of_ours_is_refused(make_app, demo, overrides):
    app = make_app()
    assert text(app, "STOP", **overrides).status_code == 400
    assert opted_out(demo) == []
    with demo.snapshot() as session:
        assert session.scalars(select(AlertRow.kind)).all() == ["webhook_malformed"]


def test_a_stop_that_cannot_be_recorded_is_not_said_done(make_app, demo):
    app = make_app()
    with failing_inserts(demo, "text_opt_outs", "NEW.number IS NOT NULL"):
        answer = text(app, "STOP")
    assert answer.status_code == 500 and STOPPED not in answer.get_data(as_text=True)
    assert opted_out(demo) == []
    with demo.snapshot() as session:
        [alert] = session.scalars(select(AlertRow)).all()
    assert alert.kind == "webhook_failed" and MOBILE not in alert.message


def test_neither_the_number_nor_the_words_are_logged(make_app, demo, caplog):
    app = make_app()
    caplog.set_level(logging.DEBUG)
    body = "Stop merci, bonne soirée"
    replied(text(app, body))
    text(app, body, AccountSid="AC" + "9" * 32)  # refused: logged as such
    with failing_inserts(demo, "text_opt_outs", "NEW.number IS NOT NULL"):
        text(app, "STOP", from_="+33622222222")
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert caplog.records  # the refusal and the failure are logged, without them
    for secret in (MOBILE, "611111111", "+33622222222", "622222222", "bonne soirée"):
        assert secret not in logged
