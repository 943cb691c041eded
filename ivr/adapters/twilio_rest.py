"""Twilio's REST API, with the official client, at `TWILIO_API_BASE_URL` (docs/contract.md).

The few requests the dispatcher makes: place a call, ask how a call went, find a call placed
before a crash, send a text message, find the recordings made lately, delete one. Failures
come out as a provider's errors (`ivr.adapters.providers`): 5xx, 429 and network trouble are
worth retrying, any other refusal is not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import requests
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from ivr.adapters.providers import (
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)

T = TypeVar("T")
TIMEOUT_SECONDS = 10.0
# Then the call counts as not answered. Long enough for a mobile to forward to its voicemail
# box (French carriers do after 20 to 30 s), so that the summary can be left there.
RING_SECONDS = 40
# The status of a call still under way: its outcome is to come.
UNDER_WAY = frozenset({"queued", "initiated", "ringing", "in-progress"})
ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
CLOCK_SKEW = timedelta(minutes=1)


@dataclass(frozen=True)
class CallOutcome:
    status: str  # completed | busy | no-answer | failed | canceled | (under way)
    answered_by: str | None  # human | machine_end_beep | ... | unknown | None


@dataclass(frozen=True)
class FoundRecording:
    sid: str
    call_sid: str | None
    url: str  # as Twilio's callbacks give it: the media is this URL and an extension
    seconds: int
    status: str  # completed | absent | processing | ...
    source: str  # RecordVerb (a caller's message) | DialVerb (a conversation) | ...
    created: datetime | None

    def settled(self, before: datetime) -> bool:
        """A caller's message, made before `before`, with something to hear."""
        made = self.created is None or self.created <= before
        return self.source == "RecordVerb" and self.status == "completed" and made


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
                machine_detection="DetectMessageEnd",
                timeout=RING_SECONDS,
            )
        )
        return str(call.sid)

    def call_outcome(self, sid: str) -> CallOutcome:
        call = _provider(lambda: self.client.calls(sid).fetch())
        return CallOutcome(str(call.status), call.answered_by)

    def find_calls(self, to: str, from_: str, since: datetime) -> list[str]:
        """Calls from us to `to` created since `since` (give or take a minute of clock
        difference), newest first: where to look for a call placed but not recorded."""
        calls = _provider(
            lambda: self.client.calls.list(
                to=to, from_=from_, start_time_after=since - timedelta(days=1), limit=20
            )
        )
        return [str(c.sid) for c in calls if _since(c.date_created, since)]

    def find_messages(self, to: str, from_: str, since: datetime) -> list[str]:
        """Text messages from us to `to` since `since`'s day, newest first."""
        messages = _provider(
            lambda: self.client.messages.list(
                to=to, from_=from_, date_sent_after=since - timedelta(days=1), limit=20
            )
        )
        return [str(m.sid) for m in messages if _since(m.date_created, since)]

    def delete_recording(self, sid: str) -> None:
        """The recording's audio deleted at Twilio; one already gone is not an error."""
        with _provider_errors():
            try:
                self.client.api.account.recordings(sid).delete()
            except (TwilioRestException, TwilioServiceException) as error:
                if error.status != 404:
                    raise

    def recordings_since(self, since: datetime) -> list[FoundRecording]:
        """The recordings Twilio made since `since` (give or take a minute of clock
        difference): where a message whose callback was lost still is."""
        made = _provider(
            lambda: self.client.api.account.recordings.list(
                date_created_after=since - timedelta(days=1), page_size=1000
            )
        )
        base = self.client.api.base_url
        return [
            FoundRecording(
                str(r.sid),
                r.call_sid,
                f"{base}{(r.uri or '').removesuffix('.json')}",
                int(r.duration or 0),
                str(r.status),
                str(r.source),
                r.date_created,
            )
            for r in made
            if _since(r.date_created, since)
        ]

    def send_sms(self, to: str, from_: str, body: str) -> str:
        message = _provider(lambda: self.client.messages.create(to=to, from_=from_, body=body))
        return str(message.sid)


@dataclass(frozen=True)
class NumberSetUp:
    sid: str
    voice_url: str
    fallback_url: str
    status_callback: str
    sms_url: str


def configure_number(rest: TwilioRest, number: str, base_url: str) -> NumberSetUp:
    """Point the out-of-hours number's webhooks at this app (docs/contract.md, "Twilio webhooks"):
    "A call comes in", "Primary handler fails", "Call status changes"; and "A message comes in"
    (a client's STOP to the texts, ivr.services.text_replies)."""
    found = _provider(lambda: rest.client.incoming_phone_numbers.list(phone_number=number, limit=2))
    if len(found) != 1:
        raise PermanentProviderError(f"{number} is not a number of this Twilio account")
    updated = _provider(
        lambda: rest.client.incoming_phone_numbers(found[0].sid).update(
            voice_url=f"{base_url}/twilio/voice",
            voice_method="POST",
            voice_fallback_url=f"{base_url}/twilio/voice/fallback",
            voice_fallback_method="POST",
            status_callback=f"{base_url}/twilio/status",
            status_callback_method="POST",
            sms_url=f"{base_url}/twilio/sms",
            sms_method="POST",
        )
    )
    return NumberSetUp(
        str(updated.sid),
        str(updated.voice_url),
        str(updated.voice_fallback_url),
        str(updated.status_callback),
        str(updated.sms_url),
    )


def _since(created: datetime | None, since: datetime) -> bool:
    # Twilio filters by day only; a resource without a date (a fake) is given the benefit.
    return created is None or created >= since - CLOCK_SKEW


def _refused(status: int, what: str) -> ProviderError:
    if status >= 500 or status == 429:
        return TransientProviderError(f"Twilio answered {status}")
    if status in (401, 403):  # our credentials: worth trying again once fixed
        return TransientProviderError(f"Twilio refused our credentials ({status})")
    return PermanentProviderError(f"Twilio refused {what}")


def _provider(request: Callable[[], T]) -> T:
    with _provider_errors():
        return request()


@contextmanager
def _provider_errors() -> Iterator[None]:
    try:
        yield
    except (TwilioRestException, TwilioServiceException) as error:
        # Twilio's own message may quote a phone number: only its codes are kept.
        raise _refused(error.status, f"the request ({error.status}, code {error.code})") from error
    except TwilioException as error:
        # A listing's page refused: the SDK keeps the HTTP answer, not Twilio's error.
        status = getattr(error.args[1], "status_code", None) if len(error.args) > 1 else None
        if not isinstance(status, int):
            raise  # not Twilio's answer: a fault of ours, to be seen whole
        raise _refused(status, f"to list ({status})") from error
    except json.JSONDecodeError as error:  # a proxy's page, say: perhaps Twilio had it done
        raise TransientProviderError("Twilio answered other than JSON", maybe_done=True) from error
    except requests.ConnectTimeout as error:  # never connected: nothing was sent
        raise TransientProviderError("Twilio unreachable: ConnectTimeout") from error
    except (requests.ConnectionError, requests.Timeout) as error:  # perhaps sent, perhaps done
        raise TransientProviderError(
            f"Twilio unreachable: {type(error).__name__}", maybe_done=True
        ) from error
