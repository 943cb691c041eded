"""A phone texting the out-of-hours number, as Twilio posts a text that comes in ("A message
comes in", `POST /twilio/sms`): signed, with Twilio's parameters. The `<Message>`s of the
TwiML that answers are the texts the phone gets back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

from ivr.simulator.transports import Transport
from ivr.simulator.twiml import API_VERSION, Webhooks, new_sid, text_of


@dataclass(frozen=True)
class Text:
    """A text on a phone's screen: received, or typed on it (`mine`)."""

    at: datetime
    number: str  # the phone's, E.164
    words: str
    mine: bool = False


def send_text(
    transport: Transport,
    base_url: str,
    auth_token: str,
    account_sid: str,
    from_: str,
    to: str,
    body: str,
) -> list[str]:
    """Post the text `body` from `from_` to the number `to`; the replies' words."""
    sid = new_sid("SM")
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": account_sid,
        "From": from_,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": API_VERSION,
    }
    url = base_url.rstrip("/") + "/twilio/sms"
    verbs = Webhooks(transport, auth_token, None).twiml(url, params)
    return [text_of(verb) for verb in verbs if verb.tag == "Message"]


def screen(number: str, sent: Iterable[Mapping[str, str]], typed: Iterable[Text]) -> list[Text]:
    """What the phone `number` shows, oldest first: the texts the app sent it (Twilio's
    messages, dated), those typed on it and their replies."""
    received = [
        Text(parsedate_to_datetime(m["DateCreated"]), number, m.get("Body", ""))
        for m in sent
        if m.get("To") == number and m.get("DateCreated")
    ]
    mine = [t for t in typed if t.number == number]
    return sorted([*received, *mine], key=lambda t: t.at)  # stable: a reply after its text
