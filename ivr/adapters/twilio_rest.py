"""Twilio's REST API, with the official client, at `TWILIO_API_BASE_URL` (CONTRACT.md).

The few requests the dispatcher makes: place a call, ask how a call went, find a call placed
before a crash, send a text message. Provider failures come out as the job queue's errors:
5xx, 429 and network trouble are worth retrying, any other refusal is not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from ivr.services.jobs import PermanentError, TransientError

T = TypeVar("T")
TIMEOUT_SECONDS = 10.0
RING_SECONDS = 25  # then the call counts as not answered
# The status of a call still under way: its outcome is to come.
UNDER_WAY = frozenset({"queued", "initiated", "ringing", "in-progress"})


@dataclass(frozen=True)
class CallOutcome:
    status: str  # completed | busy | no-answer | failed | canceled | (under way)
    answered_by: str | None  # human | machine_end_beep | ... | unknown | None


class TwilioRest:
    def __init__(self, account_sid: str, auth_token: str, base_url: str) -> None:
        http = TwilioHttpClient(timeout=TIMEOUT_SECONDS)
        self.client = Client(account_sid, auth_token, http_client=http)
        # Every domain the client uses (api for Calls and Messages) goes to the configured base.
        self.client.api.base_url = base_url

    def place_call(self, to: str, from_: str, url: str, status_callback: str) -> str:
        """Call `to`; Twilio asks `url` what to say (with AnsweredBy: a person or a voicemail
        box, after its greeting) and posts the outcome to `status_callback`. The call's SID."""
        call = _provider(
            lambda: self.client.calls.create(
                to=to,
                from_=from_,
                url=url,
                method="POST",
                status_callback=status_callback,
                status_callback_method="POST",
                status_callback_event=["completed"],
                machine_detection="DetectMessageEndpoint",
                timeout=RING_SECONDS,
            )
        )
        return str(call.sid)

    def call_outcome(self, sid: str) -> CallOutcome:
        call = _provider(lambda: self.client.calls(sid).fetch())
        return CallOutcome(str(call.status), call.answered_by)

    def find_call(self, to: str, from_: str, placed_after: datetime) -> str | None:
        """A call to `to` placed since `placed_after`: one we placed but did not record."""
        calls = _provider(
            lambda: self.client.calls.list(
                to=to, from_=from_, start_time_after=placed_after, limit=1
            )
        )
        return str(calls[0].sid) if calls else None

    def find_message(self, to: str, from_: str, sent_after: datetime) -> str | None:
        """A text message to `to` sent since `sent_after`: one we sent but did not record."""
        messages = _provider(
            lambda: self.client.messages.list(
                to=to, from_=from_, date_sent_after=sent_after, limit=1
            )
        )
        return str(messages[0].sid) if messages else None

    def send_sms(self, to: str, from_: str, body: str) -> str:
        message = _provider(lambda: self.client.messages.create(to=to, from_=from_, body=body))
        return str(message.sid)


def _provider(request: Callable[[], T]) -> T:
    with _provider_errors():
        return request()


@contextmanager
def _provider_errors() -> Iterator[None]:
    try:
        yield
    except TwilioRestException as error:
        if error.status >= 500 or error.status == 429:
            raise TransientError(f"Twilio answered {error.status}") from error
        raise PermanentError(f"Twilio refused the request ({error.status}: {error.msg})") from error
    except (requests.ConnectionError, requests.Timeout) as error:
        raise TransientError(f"Twilio unreachable: {type(error).__name__}") from error
