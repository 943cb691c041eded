"""A message whose recording callback never came (the database out of reach as Twilio posted
it: the app answered 500, and Twilio does not post it again) is found by asking Twilio: kept
once, the operators alerted, on the operations page; as a safe-path message, since nobody has
heard it."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text

from ivr.adapters.orm import AlertRow, CallEventRow, CallRow, RecordingRow
from ivr.cli import main
from ivr.domain.local_time import parse_instant
from ivr.domain.trace_words import event_said
from ivr.simulator.dialer import Callee
from ivr.simulator.twiml import TwimlError
from tests.calls.conftest import BACKUP, TECHNICIAN, identify, through_details
from tests.conftest import AUTH_TOKEN, failing_inserts, running_ivr, sign
from tests.dispatch.conftest import ACCOUNT, IVR_NUMBER, TWILIO
from tests.dispatch.test_dispatcher import caller_phone
from tests.web.test_database_faults import hold_write_lock, sqlite_url  # noqa: F401 (a fixture)

CALLER_SID = "CA" + "7" * 32  # a call the database never saw: all of it on the safe path


def sid(n: int) -> str:
    return f"RE{n:032d}"


def kept(db) -> list[tuple[str, int | None, str, int]]:
    with db.snapshot() as session:
        rows = session.scalars(select(RecordingRow).order_by(RecordingRow.id))
        return [(r.sid, r.call_id, r.kind, r.duration) for r in rows]


def alerts(db) -> list[tuple[str, str]]:
    with db.snapshot() as session:
        return [
            (a.kind, a.message) for a in session.scalars(select(AlertRow).order_by(AlertRow.id))
        ]


def listings(fake_twilio) -> int:
    """How often Twilio was asked for its recordings."""
    return sum("/Recordings.json" in call.request.url for call in fake_twilio.mock.calls)


def test_a_message_whose_callback_was_lost_is_found_at_twilio_and_alerted_once(
    night, demo, fake_twilio
):
    n = night()
    made = n.dispatcher.clock.now() - timedelta(minutes=20)
    fake_twilio.recording(sid(1), CALLER_SID, made, duration="37")
    fake_twilio.recording(sid(2), CALLER_SID, made, duration="0", status="absent")  # silence
    fake_twilio.recording(sid(3), CALLER_SID, made, source="DialVerb")  # a conversation
    fresh = n.dispatcher.clock.now() - timedelta(minutes=1)
    fake_twilio.recording(sid(4), CALLER_SID, fresh)  # its callback may be on its way
    n.run_worker()
    assert kept(demo) == [(sid(1), None, "emergency", 37)]
    [(kind, message)] = alerts(demo)
    assert kind == "emergency_message"
    assert "found at Twilio" in message and "37 s" in message and sid(1) in message
    # The fresh one's callback comes, as it should: it is the caller's message, not lost.
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{sid(4)}"
    posted = {"RecordingSid": sid(4), "RecordingUrl": url, "RecordingDuration": "30"}
    assert n.twilio_posts("/twilio/recording?kind=message", CallSid=CALLER_SID, **posted)[0] == 204
    n.later(minutes=15)
    n.run_worker()
    n.later(hours=2)
    n.run_worker()
    assert kept(demo) == [(sid(1), None, "emergency", 37), (sid(4), None, "message", 30)]
    assert len(alerts(demo)) == 1  # each message once, however often Twilio is asked


def test_a_lost_message_of_a_known_call_is_on_its_trace(night, demo, fake_twilio):
    n = night()
    call_sid = "CA" + "5" * 32
    assert (
        n.twilio_posts("/twilio/voice", CallSid=call_sid, From="+33611111111", To=IVR_NUMBER)[0]
        == 200
    )  # the call began; the database went away before its message's callback
    fake_twilio.recording(sid(5), call_sid, n.dispatcher.clock.now(), duration="42")
    n.later(minutes=12)
    n.run_worker()
    with demo.snapshot() as session:
        call = session.scalars(select(CallRow).where(CallRow.sid == call_sid)).one()
        [event] = session.scalars(
            select(CallEventRow).where(
                CallEventRow.call_id == call.id, CallEventRow.kind == "recording"
            )
        )
    assert kept(demo) == [(sid(5), call.id, "emergency", 42)]
    said = event_said(event.kind, event.detail, str)
    assert "message laissé en mode secours" in said and "retrouvé chez Twilio" in said


def test_a_lost_callback_of_a_message_its_call_took_is_on_its_request(night, demo, fake_twilio):
    """The message's turn was stored, its recording callback refused: found at Twilio, it is
    the request's message (the technician hears it, the agency's card plays it)."""
    n = night()
    call = caller_phone(n, {TECHNICIAN: Callee(answers=False), BACKUP: Callee(answers=False)})
    identify(call, "10000002")
    through_details(call)
    refused = pytest.raises(TwimlError, match="status callback refused")
    with failing_inserts(demo, "recordings", "NEW.kind = 'message'"), refused:
        call.leave_message(20)
    assert kept(demo) == []
    [made] = call.recordings  # Twilio has it all the same
    fake_twilio.recordings.append(made)
    n.later(minutes=4)
    n.run_worker()  # the first pass: too fresh, its callback might still come
    assert kept(demo) == []
    n.later(minutes=11)
    n.run_worker()  # a later one, from where the last stood: found
    with demo.snapshot() as session:
        request = session.scalars(select(CallRow)).one()
        url = session.scalars(select(RecordingRow.url)).one()
    assert kept(demo) == [(made["sid"], request.id, "message", 20)]
    assert url == f"{TWILIO}/2010-04-01/Accounts/{ACCOUNT}/Recordings/{made['sid']}"
    # The callback refused was one alert (webhook_failed); finding the message is another.
    assert [kind for kind, _ in alerts(demo)] == ["webhook_failed", "message_found"]


def test_twilio_away_the_next_pass_looks_again_from_where_the_last_answered_one_stood(
    night, demo, fake_twilio
):
    n = night()
    n.run_worker()  # a pass: nothing lost
    n.later(minutes=30)
    fake_twilio.recording(sid(6), CALLER_SID, n.dispatcher.clock.now() - timedelta(minutes=25))
    fake_twilio.listing_failures = [503]
    n.run_worker()  # Twilio down: nothing found, nothing forgotten
    assert kept(demo) == [] and listings(fake_twilio) == 2
    n.later(minutes=1)
    n.run_worker()  # not asked again before the next pass is due
    assert listings(fake_twilio) == 2
    for _ in range(6):  # still away, half an hour on: the operators are told, once
        n.later(minutes=5)
        fake_twilio.listing_failures = [503]
        n.run_worker()
    assert [kind for kind, _ in alerts(demo)] == ["recordings_unchecked"]
    n.later(hours=3)  # hours later, the recording is older than this pass would look back
    n.run_worker()
    assert kept(demo) == [(sid(6), None, "emergency", 30)]


def test_a_callback_lost_by_ivr_serve_to_a_locked_database_is_found_by_ivr_worker(
    sqlite_url,  # noqa: F811
    fake_twilio,
):
    """The whole way: `ivr serve` answers the recording callback 500 (its database locked by
    another process), then, the lock gone, `ivr worker --burst` finds the message at Twilio."""
    params = {
        "AccountSid": ACCOUNT,
        "CallSid": CALLER_SID,
        "RecordingSid": sid(7),
        "RecordingUrl": f"{TWILIO}/2010-04-01/Accounts/{ACCOUNT}/Recordings/{sid(7)}",
        "RecordingDuration": "51",
        "RecordingStatus": "completed",
    }
    at = "2026-12-22T23:00"  # the program's clock, for `ivr serve` and `ivr worker` alike
    serving = running_ivr(sqlite_url, TWILIO_AUTH_TOKEN=AUTH_TOKEN, IVR_CLOCK=at)
    with serving as base, hold_write_lock(sqlite_url):
        url = f"{base}/twilio/recording?kind=emergency"
        signed = {"X-Twilio-Signature": sign(url, params, AUTH_TOKEN)}
        request = urllib.request.Request(url, urllib.parse.urlencode(params).encode(), signed)
        with pytest.raises(urllib.error.HTTPError) as refused:  # urllib: Twilio's, not faked
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 500  # in Twilio's console; never posted again
    made = parse_instant(at) - timedelta(minutes=11)
    fake_twilio.recording(sid(7), CALLER_SID, made, duration="51")
    env = {
        "DATABASE_URL": sqlite_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": TWILIO,
        "IVR_CALLER_ID": IVR_NUMBER,
        "NATIONAL_DUTY_NUMBER": "+33199009999",
        "IVR_CLOCK": at,
    }
    result = CliRunner().invoke(main, ["worker", "--burst"], env=env)
    assert result.exit_code == 0, result.output
    engine = create_engine(sqlite_url)
    with engine.connect() as connection:
        found = connection.execute(text("SELECT sid, kind, duration FROM recordings")).all()
        alerted = connection.execute(text("SELECT kind FROM alerts")).scalars().all()
    engine.dispose()
    assert found == [(sid(7), "emergency", 51)]
    assert alerted.count("emergency_message") == 1
