"""Whole calls, driven as Twilio would through the project's phone engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack

import pytest

from ivr.domain.local_time import parse_instant
from ivr.simulator.dialer import Callee
from ivr.simulator.phone import PhoneCall
from ivr.simulator.transports import FlaskTransport, HttpTransport, Transport
from tests.conftest import AUTH_TOKEN, BASE_URL, running_ivr
from voice_flows import keys

TECHNICIAN = "+33639980101"  # 0751, priority 1
BACKUP = "+33639980102"  # 0751, priority 2
MANAGER_IDF = "+33639980201"  # Claire Lefèvre, on duty 18-25 December 2026


@pytest.fixture(params=["in-process", "ivr serve"])
def phone(request, make_app, twiml_schema, database_url) -> Iterator[Callable[..., PhoneCall]]:
    """`phone(at=..., from_=..., callees={...}, **settings)`: a call, ready to `start()`.

    Every transcript runs twice: into the app in-process, and into a real `ivr serve`
    (gunicorn, two workers) over HTTP on loopback, signed as Twilio signs."""
    with ExitStack() as servers:

        def place(
            at: str = "2026-12-22T23:00",
            from_: str = "+33611111111",
            callees: Mapping[str, Callee] | None = None,
            **settings: object,
        ) -> PhoneCall:
            if request.param == "in-process":
                transport: Transport = FlaskTransport(make_app(at=at, **settings))
                base = BASE_URL
            else:
                env = {name: str(value) for name, value in settings.items()}
                base = servers.enter_context(
                    running_ivr(database_url, TWILIO_AUTH_TOKEN=AUTH_TOKEN, IVR_CLOCK=at, **env)
                )
                transport = HttpTransport()
            return PhoneCall(
                transport,
                base,
                AUTH_TOKEN,
                from_=from_,
                callees=dict(callees or {}),
                validate=twiml_schema,
                started_at=parse_instant(at),
            )

        yield place


CALLING_AGAIN = "Vous nous avez appelés"  # a request of the caller's is in progress


def identify(call: PhoneCall, client_id: str) -> str:
    """Start the call, key the client number and confirm the identity read back: a new
    request. A caller told of a request of theirs in progress (recognised by their number,
    or once identified) asks for another one (3): their client confirmed, on to the details."""
    heard = call.start()
    if CALLING_AGAIN in heard:
        heard = call.press(keys.NEW_REQUEST)
        if "Appelez-vous pour" in heard:  # the client their number brought up, proposed
            heard = call.press(keys.YES)
        if "numéro de contrat" not in heard:
            return heard
    call.press(client_id + "#")
    heard = call.press("1")
    return call.press(keys.NEW_REQUEST) if CALLING_AGAIN in heard else heard


def through_details(call: PhoneCall, fault: str = "1", description: str | None = None) -> str:
    """Confirm the details read back (address, equipment, number to call back), choose the
    fault, describe it or not."""
    call.press("1")  # the details
    call.press(fault)
    return call.say(description) if description else call.press("#")
