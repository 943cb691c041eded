"""The Twilio stand-in (`ivr.simulator.phone`) against a tiny IVR written here.

The tiny IVR checks every signature as Twilio's SDK does and logs what it receives, so each test
can look at what "Twilio" sent as well as at the transcript.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from xml.sax.saxutils import escape

import pytest
from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from ivr.simulator.dialer import Callee
from ivr.simulator.phone import CallStateError, PhoneCall
from ivr.simulator.transports import FlaskTransport, HttpTransport
from ivr.simulator.twiml import Ringing, TwimlError, WebhookRequest, Whispering
from ivr.simulator.twiml_schema import InvalidTwiml

TOKEN = "0123456789abcdef0123456789abcdef"
BASE = "https://ivr.example.test"
TECH = "+33611111111"
TECH2 = "+33622222222"
BROKEN = "+33600000500"


def twiml(*verbs: str) -> Response:
    body = '<?xml version="1.0" encoding="UTF-8"?><Response>' + "".join(verbs) + "</Response>"
    return Response(body, mimetype="text/xml")


def say(text: str) -> str:
    return f'<Say language="fr-FR" voice="Polly.Lea-Neural">{escape(text)}</Say>'


MENU = (
    '<Gather action="menu?lang=fr-FR&amp;next=a%2Fb" numDigits="1" input="dtmf speech" '
    'timeout="4">' + say("Tapez 1 pour une urgence, 2 pour laisser un message.") + "</Gather>"
)


def make_app() -> Flask:
    app = Flask(__name__)
    validator = RequestValidator(TOKEN)
    hits: list[tuple[str, dict[str, str]]] = []
    app.config["HITS"] = hits

    @app.before_request
    def check_signature() -> None:
        # The URL exactly as requested: `request.url` decodes escapes (%2F becomes /), which
        # would not be the URL Twilio signed.
        query = request.query_string.decode()
        url = request.base_url + (f"?{query}" if query else "")
        signature = request.headers.get("X-Twilio-Signature", "")
        if not validator.validate(url, request.form.to_dict(), signature):
            abort(403)
        hits.append((request.full_path.rstrip("?"), request.form.to_dict()))

    @app.post("/twilio/voice")
    def voice() -> Response:
        if request.form["From"] == BROKEN:
            return Response("<html>oops</html>", mimetype="text/html")
        if request.args.get("retry"):
            return twiml(MENU, say("Au revoir."), "<Hangup/>")
        return twiml(
            say("Bonjour."),
            "<Pause length='1'/>",
            MENU,
            say("Nous n'avons pas compris."),
            "<Redirect>voice?retry=1</Redirect>",
        )

    @app.post("/twilio/menu")
    def menu() -> Response:
        choice = request.form.get("Digits") or request.form.get("SpeechResult", "")
        if choice == "1" or "urgence" in choice:
            return twiml(
                say("Nous appelons le technicien."),
                '<Dial action="/twilio/dial-done" timeout="20" callerId="+33199000000" '
                f'answerOnBridge="true"><Number url="/twilio/whisper" '
                f'statusCallback="/twilio/leg-status">{TECH}</Number></Dial>',
                say("Jamais dit."),
            )
        if choice == "2":
            return twiml(
                say("Laissez un message après le bip."),
                '<Record action="/twilio/recorded" maxLength="60" playBeep="true" '
                'recordingStatusCallback="/twilio/recording-status"/>',
                say("Aucun message enregistré."),
                "<Hangup/>",
            )
        if choice == "3":
            return twiml(
                '<Gather action="number" timeout="5">'
                + say("Tapez votre numéro suivi de dièse.")
                + "</Gather>",
                say("Rien tapé."),
            )
        if choice == "4":
            return twiml(
                '<Gather action="/twilio/empty" actionOnEmptyResult="true" timeout="3">'
                + say("Tapez un code.")
                + "</Gather>",
                say("Jamais dit."),
            )
        if choice == "5":
            return twiml(
                f'<Dial action="/twilio/dial-done"><Number url="/twilio/whisper">{TECH}</Number>'
                f'<Number url="/twilio/whisper">{TECH2}</Number></Dial>'
            )
        if choice == "6":
            return twiml(f"<Dial>{TECH}</Dial>", say("Fin de la communication."))
        return twiml(say("Choix invalide."), "<Redirect>/twilio/voice</Redirect>")

    @app.post("/twilio/number")
    def number() -> Response:
        return twiml(say(f"Vous avez tapé {' '.join(request.form['Digits'])}."), "<Hangup/>")

    @app.post("/twilio/empty")
    def empty() -> Response:
        return twiml(say(f"Reçu: {request.form.get('Digits', 'rien')}."), "<Hangup/>")

    @app.post("/twilio/whisper")
    def whisper() -> Response:
        return twiml(
            '<Gather numDigits="1" action="/twilio/whisper-answer" timeout="5">'
            + say("Urgence chaudière. Tapez 1 pour accepter.")
            + "</Gather>",
            say("Appel refusé."),
            "<Hangup/>",
        )

    @app.post("/twilio/whisper-answer")
    def whisper_answer() -> Response:
        if request.form.get("Digits") == "1":
            return twiml(say("Mise en relation."))
        return twiml("<Hangup/>")

    @app.post("/twilio/dial-done")
    def dial_done() -> Response:
        if request.form.get("DialBridged") == "true":
            return twiml(say("Merci, au revoir."), "<Hangup/>")
        return twiml(say("Le technicien n'est pas disponible."), "<Hangup/>")

    @app.post("/twilio/recorded")
    def recorded() -> Response:
        return twiml(say("Merci pour votre message."), "<Hangup/>")

    @app.post("/twilio/recording-status")
    @app.post("/twilio/leg-status")
    @app.post("/twilio/status")
    def callback() -> tuple[str, int]:
        return "", 204

    return app


@pytest.fixture
def app() -> Flask:
    return make_app()


def hits(app: Flask, path: str) -> list[dict[str, str]]:
    """The forms posted to `path` (query string included when it has one)."""
    return [form for full, form in app.config["HITS"] if full.split("?")[0] == path]


def phone(app: Flask, **options: object) -> PhoneCall:
    return PhoneCall(FlaskTransport(app), BASE, TOKEN, **options)  # type: ignore[arg-type]


def only(requests: list[WebhookRequest], path: str) -> WebhookRequest:
    matching = [r for r in requests if r.url.startswith(BASE + path)]
    assert len(matching) == 1, [r.url for r in requests]
    return matching[0]


# -- signatures and the first request ------------------------------------------------------------


def test_every_request_is_signed_as_twilio_signs_it(app: Flask) -> None:
    call = phone(app, callees={TECH: Callee(keys=["1"])})
    call.start()
    call.press("1")
    assert call.ended
    # The app checks every signature and answers 403 to a bad one: it refused none.
    assert len(call.requests) == len(app.config["HITS"]) >= 6
    assert {sent.status for sent in call.requests} == {200, 204}
    # The query string reached the app as it was signed.
    assert [full for full, _ in app.config["HITS"] if full.startswith("/twilio/menu")] == [
        "/twilio/menu?lang=fr-FR&next=a%2Fb"
    ]


def test_a_wrong_auth_token_is_refused_by_the_app(app: Flask) -> None:
    call = PhoneCall(FlaskTransport(app), BASE, "not-the-token")
    with pytest.raises(TwimlError) as error:
        call.start()
    assert error.value.status == 403


def test_the_first_request_is_twilios_incoming_call(app: Flask) -> None:
    call = phone(app, from_="+33639981001", to="+33199000000")
    said = call.start()
    first = call.requests[0]
    assert first.url == f"{BASE}/twilio/voice"
    assert first.params == {
        "CallSid": call.call_sid,
        "AccountSid": call.account_sid,
        "From": "+33639981001",
        "To": "+33199000000",
        "Caller": "+33639981001",
        "Called": "+33199000000",
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    assert call.call_sid.startswith("CA") and len(call.call_sid) == 34
    assert call.account_sid.startswith("AC") and len(call.account_sid) == 34
    assert said == "Bonjour. Tapez 1 pour une urgence, 2 pour laisser un message."
    assert call.waiting_for == "gather"
    assert call.transcript == [
        "CALL +33639981001 -> +33199000000",
        "IVR: Bonjour.",
        "IVR: Tapez 1 pour une urgence, 2 pour laisser un message.",
    ]


# -- the caller's input ----------------------------------------------------------------------------


def test_keys_numdigits_and_the_finish_key(app: Flask) -> None:
    call = phone(app)
    call.start()
    # numDigits="1": only the first key is submitted.
    said = call.press("35")
    assert hits(app, "/twilio/menu")[-1]["Digits"] == "3"
    assert hits(app, "/twilio/menu")[-1]["CallStatus"] == "in-progress"
    assert said == "Tapez votre numéro suivi de dièse."
    # The trailing # ends the input and is not sent; the relative action resolved.
    said = call.press("0612#")
    assert [form["Digits"] for form in hits(app, "/twilio/number")] == ["0612"]
    assert said == "Vous avez tapé 0 6 1 2."
    assert call.ended
    assert "CALLER presses 0612#" in call.transcript


def test_speech(app: Flask) -> None:
    call = phone(app, callees={TECH: Callee(keys=["1"])})
    call.start()
    call.say("c'est une urgence", confidence=0.8)
    form = hits(app, "/twilio/menu")[-1]
    assert form["SpeechResult"] == "c'est une urgence"
    assert form["Confidence"] == "0.8"
    assert "Digits" not in form
    assert f"BRIDGED caller <-> {TECH}" in call.transcript


def test_silence_goes_on_to_the_next_verb(app: Flask) -> None:
    call = phone(app)
    call.start()
    said = call.silence()
    assert hits(app, "/twilio/menu") == []
    # The <Say> after the <Gather>, then <Redirect>voice?retry=1</Redirect>, relative.
    assert said == (
        "Nous n'avons pas compris. Tapez 1 pour une urgence, 2 pour laisser un message."
    )
    assert call.requests[-1].url == f"{BASE}/twilio/voice?retry=1"
    assert call.silence() == "Au revoir."
    assert call.ended
    assert call.transcript[-3:] == ["IVR: Au revoir.", "IVR hangs up", call.transcript[-1]]


def test_silence_with_action_on_empty_result_posts_no_digits(app: Flask) -> None:
    call = phone(app)
    call.start()
    call.press("4")
    said = call.silence()
    assert said == "Reçu: rien."
    assert "Digits" not in hits(app, "/twilio/empty")[0]


def test_the_wrong_kind_of_input_is_refused(app: Flask) -> None:
    call = phone(app)
    call.start()
    call.press("3")  # a dtmf-only <Gather>
    with pytest.raises(CallStateError):
        call.say("zéro six")
    with pytest.raises(CallStateError):
        call.leave_message()
    with pytest.raises(ValueError):
        call.press("12a")


# -- <Record> ----------------------------------------------------------------------------------


def test_a_message_left_and_its_recording_callback(app: Flask) -> None:
    call = phone(app)
    call.start()
    call.press("2")
    assert call.waiting_for == "record"
    assert call.transcript[-1] == "IVR beeps"
    said = call.leave_message(20)
    assert said == "Merci pour votre message."
    assert call.ended
    action = hits(app, "/twilio/recorded")[0]
    sid = action["RecordingSid"]
    assert sid.startswith("RE") and len(sid) == 34
    assert action["RecordingDuration"] == "20"
    assert action["RecordingUrl"].endswith(f"/Accounts/{call.account_sid}/Recordings/{sid}")
    assert hits(app, "/twilio/recording-status") == [
        {
            "AccountSid": call.account_sid,
            "CallSid": call.call_sid,
            "RecordingSid": sid,
            "RecordingUrl": action["RecordingUrl"],
            "RecordingStatus": "completed",
            "RecordingDuration": "20",
            "RecordingChannels": "1",
            "RecordingSource": "RecordVerb",
        }
    ]


def test_a_message_is_cut_at_max_length(app: Flask) -> None:
    call = phone(app)
    call.start()
    call.press("2")
    call.leave_message(300)
    assert hits(app, "/twilio/recorded")[0]["RecordingDuration"] == "60"


def test_a_silent_recording_requests_no_action_and_no_callback(app: Flask) -> None:
    call = phone(app)
    call.start()
    call.press("2")
    said = call.silence()
    assert said == "Aucun message enregistré."
    assert call.ended
    assert hits(app, "/twilio/recorded") == []
    assert hits(app, "/twilio/recording-status") == []


# -- <Dial> ------------------------------------------------------------------------------------


def test_a_technician_who_presses_1_is_bridged(app: Flask) -> None:
    call = phone(app, callees={TECH: Callee(keys=["1"], talk_seconds=95)})
    call.start()
    said = call.press("1")
    assert said == "Nous appelons le technicien. Merci, au revoir."
    assert call.ended
    t = f"TECH({TECH}): "
    assert call.transcript[4:13] == [
        "IVR: Nous appelons le technicien.",
        f"IVR dials {TECH} (timeout 20 s)",
        f"{TECH}: answers",
        t + "IVR: Urgence chaudière. Tapez 1 pour accepter.",
        t + "presses 1",
        t + "IVR: Mise en relation.",
        f"BRIDGED caller <-> {TECH}",
        f"{TECH}: conversation over after 95 s",
        "IVR: Merci, au revoir.",
    ]
    whisper = hits(app, "/twilio/whisper")[0]
    child = whisper["CallSid"]
    assert child.startswith("CA") and child != call.call_sid
    assert whisper["ParentCallSid"] == call.call_sid
    assert whisper["To"] == TECH
    assert whisper["From"] == "+33199000000"  # the Dial's callerId
    assert whisper["CallStatus"] == "in-progress"
    assert whisper["Direction"] == "outbound-dial"
    assert hits(app, "/twilio/whisper-answer")[0]["Digits"] == "1"
    done = hits(app, "/twilio/dial-done")[0]
    assert done["CallSid"] == call.call_sid
    assert {k: v for k, v in done.items() if k.startswith("Dial")} == {
        "DialCallStatus": "completed",
        "DialCallSid": child,
        "DialCallDuration": "95",
        "DialBridged": "true",
    }
    leg = hits(app, "/twilio/leg-status")
    assert [(f["CallSid"], f["CallStatus"], f["SequenceNumber"]) for f in leg] == [
        (child, "completed", "0")
    ]


def test_a_technician_who_presses_nothing_is_not_bridged(app: Flask) -> None:
    call = phone(app, callees={TECH: Callee()})
    call.start()
    said = call.press("1")
    assert said == "Nous appelons le technicien. Le technicien n'est pas disponible."
    t = f"TECH({TECH}): "
    assert t + "presses nothing" in call.transcript
    assert t + "IVR: Appel refusé." in call.transcript
    assert t + "IVR hangs up" in call.transcript
    assert not any(line.startswith("BRIDGED") for line in call.transcript)
    done = hits(app, "/twilio/dial-done")[0]
    assert {k: v for k, v in done.items() if k.startswith("Dial")} == {
        "DialCallStatus": "completed",
        "DialCallSid": hits(app, "/twilio/whisper")[0]["CallSid"],
        "DialCallDuration": "0",
    }


def test_the_status_for_a_refused_whisper_can_be_chosen(app: Flask) -> None:
    call = phone(app, callees={TECH: Callee(keys=["9"])}, whisper_hangup_status="no-answer")
    call.start()
    call.press("1")
    assert hits(app, "/twilio/whisper-answer")[0]["Digits"] == "9"
    assert hits(app, "/twilio/dial-done")[0]["DialCallStatus"] == "no-answer"


def test_voicemail_answers_but_never_presses(app: Flask) -> None:
    call = phone(app, callees={TECH: Callee(voicemail=True, keys=["1"])})
    call.start()
    call.press("1")
    assert f"{TECH}: answers (voicemail)" in call.transcript
    assert f"TECH({TECH}): presses nothing" in call.transcript
    assert "DialBridged" not in hits(app, "/twilio/dial-done")[0]


@pytest.mark.parametrize(
    ("callee", "status", "line"),
    [
        (Callee(busy=True), "busy", "busy"),
        (Callee(answers=False), "no-answer", "no answer"),
        (Callee(fails=True), "failed", "the call fails"),
    ],
)
def test_a_technician_who_cannot_be_reached(
    app: Flask, callee: Callee, status: str, line: str
) -> None:
    call = phone(app, callees=lambda number: callee)
    call.start()
    said = call.press("1")
    assert said == "Nous appelons le technicien. Le technicien n'est pas disponible."
    assert f"{TECH}: {line}" in call.transcript
    assert hits(app, "/twilio/whisper") == []
    done = hits(app, "/twilio/dial-done")[0]
    assert done["DialCallStatus"] == status
    assert done["DialCallSid"].startswith("CA")
    assert "DialBridged" not in done and "DialCallDuration" not in done
    assert hits(app, "/twilio/leg-status")[0]["CallStatus"] == status
    if status == "no-answer":
        assert call.duration >= 20  # it rang for the whole timeout


def test_parallel_numbers_the_first_to_accept_wins(app: Flask) -> None:
    call = phone(app, callees={TECH: Callee(voicemail=True), TECH2: Callee(keys=["1"])})
    call.start()
    call.press("5")
    assert f"BRIDGED caller <-> {TECH2}" in call.transcript
    whispers = hits(app, "/twilio/whisper")
    assert [w["To"] for w in whispers] == [TECH, TECH2]
    assert hits(app, "/twilio/dial-done")[0]["DialCallSid"] == whispers[1]["CallSid"]


def test_a_dial_without_action_goes_on_to_the_next_verb(app: Flask) -> None:
    call = phone(app)  # nobody configured: the callee answers
    call.start()
    said = call.press("6")
    assert said == "Fin de la communication."
    assert f"BRIDGED caller <-> {TECH}" in call.transcript
    assert hits(app, "/twilio/dial-done") == []


# -- a live callee: a person at the simulator's page -----------------------------------------------


def live_call(app: Flask, choice: str = "1") -> PhoneCall:
    """A call whose <Dial> (menu `choice`) rings phones a person answers, or not."""
    call = phone(app, callees=lambda number: Callee(live=True, talk_seconds=45))
    call.start()
    call.press(choice)
    return call


def test_a_live_callee_rings_until_a_person_answers_then_presses_the_whisper_keys(
    app: Flask,
) -> None:
    call = live_call(app)
    assert call.waiting_for == "transfer" and call.transfer == Ringing((TECH,))
    assert call.transcript[-1] == f"IVR dials {TECH} (timeout 20 s)"
    assert hits(app, "/twilio/whisper") == [] and hits(app, "/twilio/dial-done") == []
    with pytest.raises(CallStateError):
        call.press("1")  # the caller is on hold
    with pytest.raises(CallStateError):
        call.silence()

    said = call.pick_up(TECH, "answer")
    assert said == ""  # the caller hears nothing of the whisper
    waiting = call.transfer
    assert isinstance(waiting, Whispering) and waiting.number == TECH
    assert len(hits(app, "/twilio/whisper")) == 1
    assert call.transcript[-2:] == [
        f"{TECH}: answers",
        f"TECH({TECH}): IVR: Urgence chaudière. Tapez 1 pour accepter.",
    ]
    said = call.pick_up(TECH, "press", "1")
    assert said == "Merci, au revoir."
    assert call.ended and call.transfer is None
    assert call.transcript[-7:-3] == [
        f"TECH({TECH}): presses 1",
        f"TECH({TECH}): IVR: Mise en relation.",
        f"BRIDGED caller <-> {TECH}",
        f"{TECH}: conversation over after 45 s",
    ]
    done = hits(app, "/twilio/dial-done")[0]
    assert (done["DialBridged"], done["DialCallDuration"]) == ("true", "45")
    assert hits(app, "/twilio/whisper-answer")[0]["Digits"] == "1"


@pytest.mark.parametrize(
    ("action", "status", "line"),
    [("no-answer", "no-answer", "no answer"), ("busy", "busy", "busy")],
)
def test_a_live_callee_let_ring_or_busy(app: Flask, action: str, status: str, line: str) -> None:
    call = live_call(app)
    said = call.pick_up(TECH, action)
    assert said == "Le technicien n'est pas disponible."
    assert f"{TECH}: {line}" in call.transcript
    assert hits(app, "/twilio/whisper") == []
    assert hits(app, "/twilio/dial-done")[0]["DialCallStatus"] == status
    assert hits(app, "/twilio/leg-status")[0]["CallStatus"] == status
    assert (call.duration >= 20) is (action == "no-answer")  # it rang for the whole timeout


def test_a_live_callees_voicemail_answers_and_presses_nothing(app: Flask) -> None:
    call = live_call(app)
    call.pick_up(TECH, "voicemail")
    assert call.ended
    assert f"{TECH}: answers (voicemail)" in call.transcript
    assert f"TECH({TECH}): presses nothing" in call.transcript
    assert "DialBridged" not in hits(app, "/twilio/dial-done")[0]


@pytest.mark.parametrize(
    ("action", "line"), [("silence", "presses nothing"), ("hangup", "hangs up")]
)
def test_a_live_callee_who_answers_but_does_not_accept(app: Flask, action: str, line: str) -> None:
    call = live_call(app)
    call.pick_up(TECH, "answer")
    said = call.pick_up(TECH, action)
    assert said == "Le technicien n'est pas disponible."
    assert f"TECH({TECH}): {line}" in call.transcript
    assert not any(x.startswith("BRIDGED") for x in call.transcript)
    assert "DialBridged" not in hits(app, "/twilio/dial-done")[0]


def test_what_a_live_phone_cannot_do_is_refused_and_it_still_waits(app: Flask) -> None:
    call = live_call(app)
    with pytest.raises(CallStateError):
        call.pick_up(TECH2, "answer")  # not ringing
    with pytest.raises(ValueError):
        call.pick_up(TECH, "press", "1")  # it rings: answer it first
    call.pick_up(TECH, "answer")
    with pytest.raises(ValueError):
        call.pick_up(TECH, "busy")
    with pytest.raises(ValueError):
        call.pick_up(TECH, "press", "x")
    assert isinstance(call.transfer, Whispering)
    call.pick_up(TECH, "press", "1")
    with pytest.raises(CallStateError):
        call.pick_up(TECH, "press", "1")  # it is over


def test_the_caller_hangs_up_while_a_live_phone_rings(app: Flask) -> None:
    call = live_call(app)
    call.hang_up()
    assert call.ended and call.transfer is None and call.waiting_for is None
    assert call.transcript[-3:-1] == ["CALLER hangs up", f"{TECH}: stops ringing"]
    [done] = hits(app, "/twilio/dial-done")  # posted all the same, as Twilio does
    assert done["CallStatus"] == "completed" and done["DialCallStatus"] == "no-answer"
    assert len(hits(app, "/twilio/status")) == 1


def test_parallel_live_phones_the_first_to_accept_wins_the_others_stop_ringing(
    app: Flask,
) -> None:
    call = live_call(app, choice="5")
    assert call.transfer == Ringing((TECH, TECH2))
    call.pick_up(TECH2, "answer")
    call.pick_up(TECH2, "press", "1")
    bridged = call.transcript.index(f"BRIDGED caller <-> {TECH2}")
    assert call.transcript[bridged + 1 : bridged + 3] == [
        f"{TECH2}: conversation over after 45 s",
        f"{TECH}: stops ringing",
    ]
    assert [w["To"] for w in hits(app, "/twilio/whisper")] == [TECH2]
    assert (
        hits(app, "/twilio/dial-done")[0]["DialCallSid"]
        == hits(app, "/twilio/whisper")[0]["CallSid"]
    )


def test_parallel_live_phones_after_one_refuses_the_other_still_rings(app: Flask) -> None:
    call = live_call(app, choice="5")
    call.pick_up(TECH, "no-answer")
    assert call.transfer == Ringing((TECH2,))
    call.pick_up(TECH2, "voicemail")
    assert call.ended
    assert hits(app, "/twilio/dial-done")[0]["DialCallStatus"] == "completed"  # the voicemail


# -- the end of the call ---------------------------------------------------------------------------


def test_the_final_status_callback(app: Flask) -> None:
    call = phone(app)
    call.start()
    call.press("2")
    call.leave_message(12)
    assert call.ended and call.waiting_for is None
    (status,) = hits(app, "/twilio/status")
    assert status["CallSid"] == call.call_sid
    assert status["CallStatus"] == "completed"
    assert status["SequenceNumber"] == "0"
    assert status["CallbackSource"] == "call-progress-events"
    assert int(status["CallDuration"]) == call.duration >= 12
    assert parsedate_to_datetime(status["Timestamp"]).tzinfo is not None
    with pytest.raises(CallStateError):
        call.press("1")


def test_the_caller_hangs_up(app: Flask) -> None:
    call = phone(app)
    call.start()
    call.hang_up()
    call.hang_up()  # nothing more happens
    assert call.ended
    assert call.transcript[-2] == "CALLER hangs up"
    assert len(hits(app, "/twilio/status")) == 1
    assert hits(app, "/twilio/menu") == []


def test_a_response_that_is_not_twiml_is_an_error(app: Flask) -> None:
    call = phone(app, from_=BROKEN)
    with pytest.raises(TwimlError, match="not <Response>"):
        call.start()


def test_a_failing_webhook_is_an_error() -> None:
    app = Flask(__name__)

    @app.post("/twilio/voice")
    def voice() -> tuple[str, int]:
        return "boom", 500

    with pytest.raises(TwimlError) as error:
        phone(app).start()
    assert (error.value.status, error.value.body) == (500, "boom")


# -- over real HTTP ------------------------------------------------------------------------------


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(timeout=5)


def test_the_http_transport(app: Flask, server: str) -> None:
    call = PhoneCall(HttpTransport(), server, TOKEN, callees={TECH: Callee(keys=["1"])})
    call.start()
    call.press("1")
    assert call.ended
    assert f"BRIDGED caller <-> {TECH}" in call.transcript
    assert all(r.url.startswith(server) for r in call.requests)


# -- Twilio's schema -------------------------------------------------------------------------------


Validate = Callable[[str], None]


@pytest.fixture(scope="module")
def validate(twiml_schema: Validate) -> Validate:
    """Twilio's schema (the suite's one `twiml_schema` fixture)."""
    return twiml_schema


def test_the_schema_rejects_an_invalid_document(validate: Validate) -> None:
    with pytest.raises(InvalidTwiml) as error:
        validate("<Response><Say><Gather/></Say></Response>")
    assert "Gather" in error.value.reason
    assert error.value.path == "/Response/Say"


def test_the_schema_accepts_a_french_neural_voice(validate: Validate) -> None:
    validate('<Response><Say language="fr-FR" voice="Polly.Lea-Neural">Bonjour</Say></Response>')


def test_a_call_validates_every_document_it_follows(app: Flask, validate: Validate) -> None:
    seen: list[str] = []

    def recording_validate(document: str) -> None:
        seen.append(document)
        validate(document)

    call = phone(app, callees={TECH: Callee(keys=["1"])}, validate=recording_validate)
    call.start()
    call.press("1")
    assert call.ended
    assert any("Urgence chaudière" in document for document in seen)  # the callee leg too
    assert len(seen) == len([r for r in call.requests if r.status == 200])


def test_an_invalid_document_stops_the_call(validate: Validate) -> None:
    app = Flask(__name__)

    @app.post("/twilio/voice")
    def voice() -> Response:
        return twiml("<Say><Gather/></Say>")

    with pytest.raises(InvalidTwiml):
        phone(app, validate=validate).start()
