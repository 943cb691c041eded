"""What a Twilio webhook may carry, as typed models: a signed request is Twilio's, but not
always what we expect of it. One whose number is huge, or one without a call, would otherwise
end in a 500, or be taken for another caller's call. Such a request gets a 400.

The causes are a number's messaging URL pointed at the voice URL (a text message has no
`CallSid`), another account's requests signed with a shared token, or a bug.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


Count = Annotated[int | None, BeforeValidator(_blank_is_none), Field(ge=0, le=10**6)]
RowId = Annotated[int | None, BeforeValidator(_blank_is_none), Field(ge=1, le=2**31 - 1)]
CALL_SID = r"^CA[0-9a-f]{32}$"


class TwilioForm(BaseModel):
    """The body of every voice webhook: the fields we read, checked; the rest ignored."""

    model_config = ConfigDict(extra="ignore")

    CallSid: str = Field(pattern=CALL_SID)
    AccountSid: str = Field(pattern=r"^AC[0-9a-f]{32}$")
    # A caller's keys, however many they press (a contract number held down, a cat on the
    # keypad) are answered « numéro non reconnu », never refused: only past what no person
    # keys in one question.
    Digits: str = Field("", max_length=1000, pattern=r"^([0-9*#w]*|hangup)$")
    SpeechResult: str = Field("", max_length=4000)
    Confidence: Annotated[float | None, BeforeValidator(_blank_is_none), Field(ge=0, le=1)] = None
    SequenceNumber: Count = None
    CallDuration: Count = None
    DialCallDuration: Count = None
    RecordingDuration: Count = None


class TextForm(BaseModel):
    """The body of "A message comes in" (a text to the number): the fields read, checked."""

    model_config = ConfigDict(extra="ignore")

    MessageSid: str = Field(pattern=r"^(SM|MM)[0-9a-f]{32}$")
    AccountSid: str = Field(pattern=r"^AC[0-9a-f]{32}$")
    From: str = Field(min_length=1, max_length=64)
    Body: str = Field("", max_length=1600)  # ten segments, Twilio's longest


class TwilioQuery(BaseModel):
    """The query of the URLs the app gave Twilio (`turn`, `attempt`, `job`, `call`, `kind`)."""

    model_config = ConfigDict(extra="ignore")

    turn: Count = None
    attempt: RowId = None
    job: RowId = None
    call: str | None = Field(None, pattern=CALL_SID)
    kind: str | None = Field(None, max_length=20, pattern=r"^[a-z_]+$")


def malformed(
    form: dict[str, str], query: dict[str, str], account: str | None, *, text: bool = False
) -> str | None:
    """Why this request is not one of our calls' webhooks (`text`: a text to our number);
    None when it is. `account`: ours (TWILIO_ACCOUNT_SID), when it is set."""
    try:
        checked = (TextForm if text else TwilioForm).model_validate(form)
        TwilioQuery.model_validate(query)
    except ValidationError as error:
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
    if account and checked.AccountSid != account:
        return "AccountSid: another account's request"
    return None
