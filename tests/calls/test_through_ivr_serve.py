"""Calls placed into a real `ivr serve` (gunicorn) over HTTP on loopback, signed as Twilio
signs them: the same flow as the in-process transcripts, through the real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.simulator.phone import Callee, HttpTransport, PhoneCall
from tests.calls.conftest import MANAGER_IDF, TECHNICIAN, identify, through_details
from tests.conftest import AUTH_TOKEN


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(demo, database_url) -> Iterator[str]:
    """`ivr serve` on a free port, its clock on Thursday 24 December 2026 at 03:00."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_BASE_URL": base,
        "IVR_CLOCK": "2026-12-24T03:00:00",
    }
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "ivr"),
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2).close()
                break
            except urllib.error.HTTPError:
                raise
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=15)


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
    assert "Quittez immédiatement" in call.press("1")
    call.press("10000001#")
    assert f"BRIDGED caller <-> {MANAGER_IDF}" in call.transcript


def test_an_unsigned_request_is_refused_by_the_server(served):
    request = urllib.request.Request(f"{served}/twilio/voice", data=b"CallSid=CA1", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 403
