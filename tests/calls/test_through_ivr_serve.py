"""Calls placed into a real `ivr serve` (gunicorn) over HTTP on loopback, signed as Twilio
signs them: the same flow as the in-process transcripts, through the real server."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from ivr.simulator.dialer import Callee
from ivr.simulator.phone import PhoneCall
from ivr.simulator.transports import HttpTransport
from tests.calls.conftest import MANAGER_IDF, TECHNICIAN, identify, through_details
from tests.conftest import AUTH_TOKEN, running_ivr


@pytest.fixture
def served(demo, database_url) -> Iterator[str]:
    """`ivr serve`, its clock on Thursday 24 December 2026 at 03:00."""
    with running_ivr(
        database_url, TWILIO_AUTH_TOKEN=AUTH_TOKEN, IVR_CLOCK="2026-12-24T03:00:00"
    ) as base:
        yield base


def test_a_call_put_through_to_the_technician(served, twiml_schema):
    call = PhoneCall(
        HttpTransport(),
        served,
        AUTH_TOKEN,
        from_="+33611111111",
        callees={TECHNICIAN: Callee(keys=["1"])},
        validate=twiml_schema,
    )
    identify(call, "10000002")
    through_details(call)
    assert f"BRIDGED caller <-> {TECHNICIAN}" in call.transcript and call.ended


def test_danger_to_the_manager(served, twiml_schema):
    call = PhoneCall(
        HttpTransport(),
        served,
        AUTH_TOKEN,
        from_="+33611111111",
        callees={MANAGER_IDF: Callee(keys=["1"])},
        validate=twiml_schema,
    )
    call.start()
    call.press("9")
    assert "N'allumez rien" in call.press("1")
    call.press("10000001#")
    assert f"BRIDGED caller <-> {MANAGER_IDF}" in call.transcript


def test_an_unsigned_request_is_refused_by_the_server(served):
    request = urllib.request.Request(f"{served}/twilio/voice", data=b"CallSid=CA1", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 403
