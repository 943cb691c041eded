"""Twilio's webhooks: signatures, TwiML as Twilio's schema wants it, never a 500, replays."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from ivr.adapters.orm import AlertRow, CallEventRow, CallRow, DialAttemptRow, RecordingRow
from ivr.services.app_settings import RECORD_CALLS
from tests.conftest import AUTH_TOKEN, BASE_URL, failing_inserts, sign

CALL = {
    "CallSid": "CA" + "1" * 32,
    "From": "+33611111111",
    "To": "+33199000000",
    "AccountSid": "AC" + "0" * 32,
}


def post(
    client,
    path: str,
    params: dict[str, str],
    token: str = AUTH_TOKEN,
    *,
    signed_url: str | None = None,
    signed_params: dict[str, str] | None = None,
):
    signature = sign(signed_url or BASE_URL + path, signed_params or params, token)
    answer = client.post(path, data=params, headers={"X-Twilio-Signature": signature})
    answer.close()  # sent: what the app does after the answer is done, as under gunicorn
    return answer


def action(twiml: str) -> str:
    """The first action URL of a TwiML document, as a path with its query string."""
    url = re.search(r'action="([^"]+)"', twiml)
    assert url, twiml
    return url.group(1).replace("&amp;", "&").removeprefix(BASE_URL)


@pytest.fixture
def app_without_database(settings, tmp_path):
    """`app_without_database(**settings)`: the app, its database impossible to open."""
    from ivr.composition import create_app

    def build(**overrides: object):
        # A folder where the database file should be: SQLite cannot open it.
        return create_app(
            settings.model_copy(
                update={
                    "DATABASE_URL": f"sqlite:///{tmp_path}",
                    "PUBLIC_BASE_URL": BASE_URL,
                    "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                    **overrides,
                }
            )
        )

    return build


def count(db, model) -> int:
    with db.snapshot() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


# --- Signatures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    ["unsigned", "wrong token", "param changed", "param added", "other host", "query changed"],
)
def test_a_request_without_a_valid_signature_gets_403_and_changes_nothing(make_app, demo, tamper):
    client = make_app().test_client()
    path = "/twilio/voice"
    params = dict(CALL)
    if tamper == "unsigned":
        response = client.post(path, data=params)
    elif tamper == "wrong token":
        response = post(client, path, params, token="not-the-token")
    elif tamper == "param changed":
        response = post(client, path, {**params, "From": "+33622222222"}, signed_params=params)
    elif tamper == "param added":
        response = post(client, path, {**params, "Digits": "9"}, signed_params=params)
    elif tamper == "other host":
        response = post(client, path, params, signed_url="https://evil.example" + path)
    else:
        response = post(client, path + "?turn=2", params, signed_url=BASE_URL + path + "?turn=1")
    assert response.status_code == 403
    assert count(demo, CallRow) == 0


def test_every_twilio_url_is_checked(make_app):
    """Every route under /twilio/, found in the app itself, refuses an unsigned request."""
    app = make_app()
    client = app.test_client()
    paths = [
        rule.rule.replace("<step>", "identify")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/twilio/")
    ]
    assert len(paths) >= 10 and "/twilio/outbound/status" in paths
    for path in paths:
        assert client.post(f"{path}?turn=1&job=1", data=CALL).status_code == 403, path


def test_any_unsigned_request_under_twilio_gets_403_whatever_its_url_method_or_size(make_app, demo):
    """The contract: every request to /twilio/... without a valid signature gets 403, not a
    404, 405 or 413 that tells a prober what is there; a signed one to no URL of ours is a
    404, a signed GET a 405."""
    client = make_app().test_client()
    assert client.get("/twilio/voice").status_code == 403
    assert client.put("/twilio/status", data=CALL).status_code == 403
    assert client.post("/twilio/nothing-here", data=CALL).status_code == 403
    assert client.post("/twilio/voice", data={**CALL, "Pad": "x" * 70_000}).status_code == 403
    assert count(demo, CallRow) == 0
    assert post(client, "/twilio/nothing-here", CALL).status_code == 404
    get = client.get(
        "/twilio/voice", headers={"X-Twilio-Signature": sign(BASE_URL + "/twilio/voice", {})}
    )
    assert get.status_code == 405
    assert client.get("/twilio/voice", headers={"X-Twilio-Signature": "x"}).status_code == 403
    assert client.get("/healthz").status_code == 200  # not under /twilio/: not asked


def test_the_secondary_token_is_accepted_while_the_primary_is_rotated(make_app):
    client = make_app(TWILIO_AUTH_TOKEN_SECONDARY="next-token").test_client()
    assert post(client, "/twilio/voice", CALL, token="next-token").status_code == 200
    assert post(client, "/twilio/voice", CALL, token=AUTH_TOKEN).status_code == 200


def test_without_a_token_every_webhook_is_refused(make_app):
    client = make_app(TWILIO_AUTH_TOKEN=None).test_client()
    assert post(client, "/twilio/voice", CALL).status_code == 403


# --- TwiML ---------------------------------------------------------------------------------


def test_a_whole_call_answers_valid_twiml_at_every_turn(make_app, twiml_schema):
    client = make_app().test_client()
    twiml = post(client, "/twilio/voice", CALL).get_data(as_text=True)
    twiml_schema(twiml)
    assert 'language="fr-FR"' in twiml and 'voice="Polly.Lea-Neural"' in twiml
    for digits in ("10000002", "1", "1", "1", ""):
        twiml = post(client, action(twiml), {**CALL, "Digits": digits}).get_data(as_text=True)
        twiml_schema(twiml)
    assert "<Dial" in twiml and 'answerOnBridge="true"' in twiml
    assert "+33639980101" in twiml  # priority 1 first
    twiml = post(client, action(twiml), {**CALL, "DialCallStatus": "no-answer"}).get_data(
        as_text=True
    )
    twiml_schema(twiml)
    assert "<Dial" in twiml and "+33639980102" in twiml  # then the backup
    twiml = post(client, action(twiml), {**CALL, "DialCallStatus": "busy"}).get_data(as_text=True)
    twiml_schema(twiml)
    assert "<Record" in twiml and "n'a pas répondu" in twiml


def test_the_whisper_is_valid_twiml_and_screens_the_callee(make_app, twiml_schema):
    client = make_app().test_client()
    twiml = post(client, "/twilio/voice", CALL).get_data(as_text=True)
    for digits in ("10000002", "1", "1", "1", ""):
        twiml = post(client, action(twiml), {**CALL, "Digits": digits}).get_data(as_text=True)
    whisper_url = re.search(r'<Number[^>]* url="([^"]+)"', twiml).group(1).replace("&amp;", "&")
    leg = {
        "AccountSid": CALL["AccountSid"],
        "CallSid": "CA" + "2" * 32,
        "ParentCallSid": CALL["CallSid"],
        "To": "+33639980101",
    }
    whisper = post(client, whisper_url.removeprefix(BASE_URL), leg).get_data(as_text=True)
    twiml_schema(whisper)
    assert "Pour prendre l'appel, tapez 1" in whisper and "Paris" in whisper
    taken = post(client, action(whisper), {**leg, "Digits": "1"}).get_data(as_text=True)
    twiml_schema(taken)
    assert taken.strip().endswith("<Response />")


# --- Replays, status, recordings -----------------------------------------------------------


def test_a_replayed_webhook_gets_the_same_answer_and_no_second_decision(make_app, demo):
    client = make_app().test_client()
    twiml = post(client, "/twilio/voice", CALL).get_data(as_text=True)
    assert post(client, "/twilio/voice", CALL).get_data(as_text=True) == twiml
    for digits in ("10000002", "1", "1", "1"):
        twiml = post(client, action(twiml), {**CALL, "Digits": digits}).get_data(as_text=True)
    last = action(twiml)
    first = post(client, last, {**CALL, "Digits": ""}).get_data(as_text=True)
    again = post(client, last, {**CALL, "Digits": ""}).get_data(as_text=True)
    assert first == again
    with demo.snapshot() as session:
        decisions = session.scalars(
            select(CallEventRow.detail).where(CallEventRow.kind == "decision")
        ).all()
        calls = session.scalars(select(CallRow)).all()
    assert len(decisions) == 1 and decisions[0]["action"] == "call_now"
    assert len(calls) == 1 and calls[0].action == "call_now" and calls[0].agency == "0751"


def test_status_callbacks_are_applied_in_sequence(make_app, demo):
    client = make_app().test_client()
    post(client, "/twilio/voice", CALL)
    post(client, "/twilio/status", {**CALL, "CallStatus": "completed", "SequenceNumber": "3"})
    post(client, "/twilio/status", {**CALL, "CallStatus": "in-progress", "SequenceNumber": "1"})
    with demo.snapshot() as session:
        call = session.scalars(select(CallRow)).one()
    assert call.twilio_status == "completed" and call.ended_at is not None


def test_a_recording_is_kept_once(make_app, demo):
    client = make_app().test_client()
    post(client, "/twilio/voice", CALL)
    recording = {
        **CALL,
        "RecordingSid": "RE" + "3" * 32,
        "RecordingUrl": "https://x/RE3",
        "RecordingDuration": "14",
        "RecordingStatus": "completed",
    }
    for _ in range(2):
        assert (
            post(
                client, f"/twilio/recording?call={CALL['CallSid']}&kind=message", recording
            ).status_code
            == 204
        )
    with demo.snapshot() as session:
        rows = session.scalars(select(RecordingRow)).all()
    assert [(r.duration, r.kind) for r in rows] == [(14, "message")]


# --- Never silent, never a 500 -------------------------------------------------------------


def test_the_fallback_url_puts_the_caller_through_to_the_emergency_number(make_app, twiml_schema):
    client = make_app(EMERGENCY_FORWARD_NUMBER="+33199009999").test_client()
    twiml = post(client, "/twilio/voice/fallback", {**CALL, "ErrorCode": "11200"}).get_data(
        as_text=True
    )
    twiml_schema(twiml)
    assert "<Dial" in twiml and "+33199009999" in twiml


def test_the_fallback_without_an_emergency_number_gives_advice_and_takes_a_message(
    make_app, twiml_schema
):
    twiml = post(make_app().test_client(), "/twilio/voice/fallback", CALL).get_data(as_text=True)
    twiml_schema(twiml)
    assert "0 800 47 33 33" in twiml and "112" in twiml and "<Record" in twiml


def test_a_failure_inside_a_webhook_still_answers_the_caller_and_raises_an_alert(
    make_app, demo, twiml_schema
):
    """A call left in a step that a new version of the flow no longer has."""
    post(make_app().test_client(), "/twilio/voice", CALL)
    with demo.session() as session:
        call = session.scalars(select(CallRow)).one()
        call.state = {**call.state, "step": "a_step_removed_since"}
        turn = call.turn
    deployed = make_app().test_client()  # the new version: a new process reads the call
    response = post(
        deployed, f"/twilio/voice/step/a_step_removed_since?turn={turn}", {**CALL, "Digits": "1"}
    )
    assert response.status_code == 200
    twiml_schema(response.get_data(as_text=True))
    assert "<Record" in response.get_data(as_text=True)
    with demo.snapshot() as session:
        alerts = session.scalars(select(AlertRow)).all()
    assert [a.kind for a in alerts] == ["webhook_failed"]


def test_an_unreachable_database_forwards_the_call(app_without_database, twiml_schema):
    app = app_without_database(EMERGENCY_FORWARD_NUMBER="+33199009999")
    response = post(app.test_client(), "/twilio/voice", CALL)
    assert response.status_code == 200
    twiml_schema(response.get_data(as_text=True))
    assert "+33199009999" in response.get_data(as_text=True)


def test_a_forward_not_taken_gives_advice_and_takes_a_message_without_the_database(
    app_without_database, twiml_schema
):
    """The emergency number busy or unanswered: the caller is not sent away with a goodbye."""
    client = app_without_database(EMERGENCY_FORWARD_NUMBER="+33199009999").test_client()
    forward = post(client, "/twilio/voice", CALL).get_data(as_text=True)
    for status in ("busy", "no-answer", "failed"):
        twiml = post(client, action(forward), {**CALL, "DialCallStatus": status})
        assert twiml.status_code == 200
        twiml_schema(twiml.get_data(as_text=True))
        heard = twiml.get_data(as_text=True)
        assert "0 800 47 33 33" in heard and "112" in heard and "<Record" in heard
    taken = post(client, action(forward), {**CALL, "DialCallStatus": "completed"})
    assert "Au revoir" in taken.get_data(as_text=True) and "<Record" not in taken.get_data(
        as_text=True
    )


def test_callers_are_told_when_calls_are_recorded_and_may_refuse(make_app, demo, twiml_schema):
    from datetime import UTC, datetime

    from ivr.adapters.orm import AppSettingRow

    with demo.session() as session:
        session.add(
            AppSettingRow(
                key=RECORD_CALLS,
                value="on",
                updated_by="admin",
                updated_at=datetime(2026, 11, 1, tzinfo=UTC),
            )
        )
    client = make_app().test_client()
    twiml = post(client, "/twilio/voice", CALL).get_data(as_text=True)
    assert "cet appel peut être enregistré" in twiml and "tapez 3" in twiml
    twiml = post(client, action(twiml), {**CALL, "Digits": "3"}).get_data(as_text=True)
    assert "ne sera pas enregistré" in twiml
    for digits in ("10000002", "1", "1", "1", ""):
        twiml = post(client, action(twiml), {**CALL, "Digits": digits}).get_data(as_text=True)
    twiml_schema(twiml)
    assert "<Dial" in twiml and "record=" not in twiml


def test_the_safe_path_ends_on_a_url_that_needs_no_database(app_without_database, twiml_schema):
    app = app_without_database()
    client = app.test_client()
    twiml = post(client, "/twilio/voice", CALL).get_data(as_text=True)
    assert "<Record" in twiml and "112" in twiml
    goodbye = post(client, action(twiml), {**CALL, "RecordingDuration": "9"})
    assert goodbye.status_code == 200
    twiml_schema(goodbye.get_data(as_text=True))
    assert "Au revoir" in goodbye.get_data(as_text=True)


def test_a_call_first_seen_at_a_step_url_is_started(make_app, demo):
    client = make_app().test_client()
    twiml = post(client, "/twilio/voice/step/identify?turn=3", CALL).get_data(as_text=True)
    assert "numéro de contrat" in twiml
    assert count(demo, CallRow) == 1


def test_the_same_turn_sent_twice_at_once_is_decided_once(make_app, demo):
    """Twilio's retry racing the first request: both get one answer, one decision is kept."""
    from concurrent.futures import ThreadPoolExecutor

    app = make_app()
    client = app.test_client()
    twiml = post(client, "/twilio/voice", CALL).get_data(as_text=True)
    for digits in ("10000002", "1", "1", "1"):
        twiml = post(client, action(twiml), {**CALL, "Digits": digits}).get_data(as_text=True)
    last = action(twiml)
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(
            pool.map(
                lambda _: post(app.test_client(), last, {**CALL, "Digits": ""}).get_data(
                    as_text=True
                ),
                range(2),
            )
        )
    assert answers[0] == answers[1] and "<Dial" in answers[0]
    with demo.snapshot() as session:
        decisions = session.scalars(select(CallEventRow).where(CallEventRow.kind == "decision"))
        assert len(decisions.all()) == 1
        assert session.scalar(select(func.count()).select_from(DialAttemptRow)) == 1


def test_a_turn_answered_by_another_process_is_not_decided_again_by_this_one(make_app, demo):
    """Each process keeps the calls as it wrote them. Twilio's retry of a turn that another
    process answered meanwhile gets that process's answer, and nothing is written twice."""
    here, there = make_app().test_client(), make_app().test_client()  # two gunicorn workers
    twiml = post(here, "/twilio/voice", CALL).get_data(as_text=True)
    for digits in ("10000002", "1", "1", "1"):
        twiml = post(here, action(twiml), {**CALL, "Digits": digits}).get_data(as_text=True)
    fault = action(twiml)  # "here" keeps the call at this turn
    answered_there = post(there, fault, {**CALL, "Digits": "1"}).get_data(as_text=True)
    retried_here = post(here, fault, {**CALL, "Digits": "3"}).get_data(as_text=True)
    assert retried_here == answered_there
    with demo.snapshot() as session:
        call = session.scalars(select(CallRow)).one()
        faults = session.scalars(
            select(CallEventRow.detail).where(
                CallEventRow.kind == "input", CallEventRow.step == "ask_fault"
            )
        ).all()
    assert call.fault == "no_heating" and faults == [{"digits": "1"}]
    # And the next turn, sent to "here", is read again: "here" did not write the last one.
    twiml = post(here, action(answered_there), {**CALL, "Digits": ""}).get_data(as_text=True)
    assert "<Dial" in twiml


def test_a_first_turn_that_cannot_be_written_leaves_nothing_and_twilios_retry_starts_it(
    make_app, demo
):
    client = make_app().test_client()
    with failing_inserts(demo, "call_events", "NEW.kind = 'prompt'"):
        twiml = post(client, "/twilio/voice", CALL).get_data(as_text=True)
    assert "difficulté technique" in twiml  # the caller is not left in silence
    assert count(demo, CallRow) == 0 and count(demo, CallEventRow) == 0
    with demo.snapshot() as session:
        assert session.scalars(select(AlertRow.kind)).all() == ["webhook_failed"]
    twiml = post(client, "/twilio/voice", CALL).get_data(as_text=True)
    assert "numéro de contrat" in twiml and count(demo, CallRow) == 1


def test_a_status_callback_that_cannot_be_applied_answers_500_and_raises_an_alert(make_app, demo):
    """Twilio does not post it again: Twilio's console shows the 500, the operators get the
    alert, and the call's end is asked of Twilio later (tests/dispatch)."""
    client = make_app().test_client()
    post(client, "/twilio/voice", CALL)
    with failing_inserts(demo, "call_events", "NEW.kind = 'ended'"):
        answer = post(client, "/twilio/status", {**CALL, "CallStatus": "completed"})
    assert answer.status_code == 500
    with demo.snapshot() as session:
        assert session.scalars(select(CallRow.ended_at)).one() is None
        [alert] = session.scalars(select(AlertRow)).all()
    assert alert.kind == "webhook_failed" and alert.message.startswith("/twilio/status: ")
    assert alert.call_sid == CALL["CallSid"]


def test_a_worker_loads_what_calls_need_before_its_first_caller(make_app, demo):
    from sqlalchemy import event

    from ivr.composition import warm_up

    app = make_app()
    warm_up(app)  # as a gunicorn worker does once it has built the app
    sent: list[str] = []
    engine = app.extensions["ivr.calls_db"].engine
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    twiml = post(app.test_client(), "/twilio/voice", CALL).get_data(as_text=True)
    assert "numéro de contrat" in twiml and sent  # the call itself is read and written
    loaded = [s for s in sent if "FROM agencies" in s or "FROM oncall_windows" in s]
    assert loaded == [] and not any("JOIN" in s and "prompt_versions" in s for s in sent)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/twilio/voice", {k: v for k, v in CALL.items() if k != "CallSid"}),  # a text message
        ("/twilio/voice", {**CALL, "CallSid": "CA1"}),
        ("/twilio/voice", {**CALL, "AccountSid": "AC" + "9" * 32}),  # another account's
        ("/twilio/status", {**CALL, "CallStatus": "completed", "SequenceNumber": "9" * 40}),
        ("/twilio/voice/step/message_recorded?turn=1", {**CALL, "RecordingDuration": "9" * 40}),
        ("/twilio/outbound/status?job=" + "9" * 30, {**CALL, "CallStatus": "busy"}),
    ],
    ids=["no CallSid", "bad CallSid", "another account", "huge sequence", "huge duration", "job"],
)
def test_a_signed_request_that_is_not_one_of_our_calls_is_refused_with_an_alert(
    make_app, demo, path, params
):
    client = make_app().test_client()
    for _ in range(2):  # two of them share nothing either
        answer = post(client, path, params)
        assert answer.status_code == 400
    assert count(demo, CallRow) == 0
    with demo.snapshot() as session:
        assert session.scalars(select(AlertRow.kind)).all() == ["webhook_malformed"] * 2


def test_a_body_too_large_for_a_webhook_is_refused_before_it_is_read(make_app, demo):
    client = make_app().test_client()
    huge = b"CallSid=" + b"x" * (1024 * 1024)  # not read, so not Twilio's as far as we know
    answer = client.post(
        "/twilio/voice", data=huge, content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 403
    signed = {**CALL, "Pad": "x" * 70_000}  # signed, but over 64 kB: not read, so not checked
    assert post(client, "/twilio/voice", signed).status_code == 403
    assert count(demo, CallRow) == 0
    spoken = {**CALL, "SpeechResult": "plus de chauffage " * 200}  # 3.6 kB: a long answer
    assert post(client, "/twilio/voice", spoken).status_code == 200
