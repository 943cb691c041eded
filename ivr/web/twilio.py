"""Twilio's webhooks (docs/contract.md): thin. Check the signature, parse, call, render.

Every request under /twilio/ is checked here, in one place, against X-Twilio-Signature over
PUBLIC_BASE_URL, the path and the raw query string; the secondary token is accepted too so
that the primary can be rotated. Anything else gets 403 and changes nothing.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from flask import Blueprint, Response, abort, g, request
from sqlalchemy.exc import OperationalError
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from werkzeug.exceptions import RequestEntityTooLarge

from ivr.adapters.metrics import WEBHOOK_SECONDS
from ivr.adapters.twilio_rest import UNDER_WAY
from ivr.clock import Clock
from ivr.domain.phones import e164_or_none
from ivr.services import text_replies
from ivr.services.calls import Calls
from ivr.services.dispatch import Dispatcher
from ivr.services.trace import alert_on_failure
from ivr.services.turns import Conversations, Webhook
from ivr.web.parts import clock, part, reference, settings
from ivr.web.twilio_params import malformed

log = logging.getLogger(__name__)
# A webhook's body is a few hundred bytes (a spoken answer, a few kB): a larger one is not
# Twilio's, and is refused before it is read.
MAX_WEBHOOK_BYTES = 64 * 1024
blueprint = Blueprint("twilio", __name__, url_prefix="/twilio")


def _calls() -> Calls:
    calls: Calls = part("ivr.calls")
    return calls


@blueprint.before_app_request  # an app's hook: it also sees the URLs and methods of no route
def check_request() -> Response | None:
    """Under /twilio/: signed by Twilio, else 403 (whatever the URL, method or size: a prober
    learns nothing); then one of our calls' webhooks, else 400 and an alert."""
    if not request.path.startswith(f"{blueprint.url_prefix}/"):
        return None
    g.started = clock().now()
    request.max_content_length = MAX_WEBHOOK_BYTES  # before the body is read
    account = settings()
    tokens = [t for t in (account.TWILIO_AUTH_TOKEN, account.TWILIO_AUTH_TOKEN_SECONDARY) if t]
    url = account.PUBLIC_BASE_URL + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    signature = request.headers.get("X-Twilio-Signature", "")
    try:
        params = request.form.to_dict()
    except RequestEntityTooLarge:  # not Twilio's, and not read to check it
        params, tokens = {}, []
    if not any(_signed(RequestValidator(token), url, params, signature) for token in tokens):
        log.warning("refused an unsigned or badly signed request to %s", request.path)
        abort(403)
    if request.routing_exception is not None:  # signed, but for no URL of ours: 404 or 405
        return None
    structlog.contextvars.bind_contextvars(call_sid=params.get("CallSid"))  # on every log line
    g.signed = True  # Twilio's: its steps are ours, a bounded set of metric labels
    text = request.endpoint == "twilio.sms"  # a text to the number: no call of ours
    why = malformed(params, request.args.to_dict(), account.TWILIO_ACCOUNT_SID, text=text)
    if why is None:
        return None
    log.warning("refused a malformed webhook to %s: %s", request.path, why)
    return _after(Response(why, status=400), "webhook_malformed", f"{request.path}: {why}", None)


def _signed(validator: RequestValidator, url: str, params: dict[str, str], signature: str) -> bool:
    """The signature over the URL exactly as Twilio was given it: one HMAC for nearly every
    request. Only if that fails, Twilio's own check, which tries the URL with and without its
    port (two HMACs more)."""
    expected = validator.compute_signature(url, params)
    return hmac.compare_digest(expected.encode(), signature.encode()) or validator.validate(
        url, params, signature
    )


def _twiml(body: str) -> Response:
    return Response(body, mimetype="application/xml")


def _hook() -> Webhook:
    return Webhook(request.form.get("CallSid", ""), request.form.to_dict(), request.args.to_dict())


class DatabaseOutage:
    """Once a turn found the database unreachable (its waits are bounded: `CALLS_DB_SECONDS`),
    the turns of the next `LASTS`, by the program's clock, do not wait for it: each caller
    gets the safe answer at once. Else a stalled database would hold every thread of the
    worker, each for its bound, and the requests that need no database would wait behind."""

    LASTS = timedelta(seconds=10)

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._until: datetime | None = None

    def on(self) -> bool:
        return self._until is not None and self._clock.now() < self._until

    def begin(self) -> None:
        self._until = self._clock.now() + self.LASTS


@blueprint.teardown_request
def forget_call(_error: BaseException | None) -> None:
    structlog.contextvars.unbind_contextvars("call_sid")


@blueprint.after_request
def time_answer(response: Response) -> Response:
    """How long the answer took, by the step it answers (`voice/identify`, `status`...)."""
    if not g.get("signed"):  # anyone's URL: no label of theirs
        return response
    step = (request.view_args or {}).get("step") or "start"
    name = f"{(request.endpoint or '?').removeprefix('twilio.')}/{step}"
    WEBHOOK_SECONDS.labels(name).observe((clock().now() - g.started).total_seconds())
    return response


def _turn(kind: str, safe: Callable[[], str] | None = None) -> Response:
    """A turn of a conversation of `kind`; if anything fails, the person on the line still
    gets a way forward at once, and the operators an alert, written after the answer went."""
    conversations: Conversations = part(kind)
    safe_answer = safe or conversations.nothing_to_answer
    outage: DatabaseOutage = part("ivr.outage")
    if outage.on():
        return _twiml(safe_answer())
    sid = request.form.get("CallSid")
    try:
        return _twiml(conversations.answer(_hook()))
    except OperationalError:
        outage.begin()
        alert = ("database_unreachable", f"{request.path}: database unreachable", sid)
    except Exception as error:  # the caller must never get a 500 and silence
        log.exception("webhook %s failed", request.path)
        alert = ("webhook_failed", f"{request.path}: {type(error).__name__}", sid)
    return _after(_twiml(safe_answer()), *alert)


def _after(response: Response, kind: str, message: str, call_sid: str | None) -> Response:
    """`response`, with an alert stored once it is sent: the caller does not wait for a
    database that may be the trouble (`alert_on_failure` logs it if it cannot be stored)."""
    db, seen = part("ivr.calls_db"), clock().now()
    response.call_on_close(lambda: alert_on_failure(db, seen, kind, message, call_sid))
    return response


@blueprint.post("/voice")
@blueprint.post("/voice/step/<step>")
def voice(step: str | None = None) -> Response:
    """A call comes in; then each answer to a question, dial outcome, recorded message."""
    return _turn("ivr.calls", _calls().safe_answer)


@blueprint.post("/voice/fallback")
def fallback() -> Response:
    """Twilio's "primary handler fails": a person if configured, else advice and a message."""
    error = request.form.get("ErrorCode")
    answer = _twiml(_calls().safe_answer())
    return _after(
        answer, "fallback", f"Twilio used the fallback URL ({error})", request.form.get("CallSid")
    )


@blueprint.post("/voice/emergency/dialed")
def emergency_dialed() -> Response:
    """The safe answer's forward, over (its `<Dial>` outcome): needs nothing either."""
    return _twiml(_calls().emergency_dialed(request.form.get("DialCallStatus", "")))


@blueprint.post("/voice/goodbye")
def goodbye() -> Response:
    """The end of the safe path: needs nothing, so it cannot fail again."""
    return _twiml(_calls().goodbye())


@blueprint.post("/voice/whisper")
@blueprint.post("/voice/whisper/step/<step>")
def whisper(step: str | None = None) -> Response:
    """The technician's or manager's leg, before it is bridged (call screening)."""
    return _turn("ivr.announcements")


@blueprint.post("/status")
def status() -> Response:
    """Call status changes."""
    return _callback(lambda: _calls().status(_hook()))


@blueprint.post("/recording")
def recording() -> Response:
    """A recording is available (recordingStatusCallback)."""
    return _callback(lambda: _calls().recording(_hook(), request.args.get("kind", "message")))


def _callback(apply: Callable[[], None]) -> Response:
    """A callback about a call, applied: 204. Else 500 for Twilio's console and an alert:
    Twilio does not post it again. A call's lost end, or its lost message, is found by asking
    Twilio later (ivr.services.call_ends, ivr.services.recordings)."""
    try:
        apply()
    except OperationalError:  # as a turn says it
        alert = ("database_unreachable", f"{request.path}: database unreachable")
    except Exception as error:
        log.exception("callback %s failed", request.path)
        alert = ("webhook_failed", f"{request.path}: {type(error).__name__}")
    else:
        return Response(status=204)
    return _after(Response(status=500), *alert, request.form.get("CallSid"))


# --- The dispatcher's calls to technicians and managers --------------------------------------


@blueprint.post("/outbound/answer")
@blueprint.post("/outbound/step/<step>")
def outbound(step: str | None = None) -> Response:
    """A technician or a manager answered the dispatcher's call (or their voicemail did);
    then each of their answers."""
    return _turn("ivr.dispatcher_calls")


@blueprint.post("/outbound/status")
def outbound_status() -> Response:
    """How the dispatcher's call went: reached, voicemail, not answered; what follows."""
    dispatcher: Dispatcher = part("ivr.dispatcher")
    job = request.args.get("job", type=int, default=0)
    status = request.form.get("CallStatus", "")
    if status in UNDER_WAY:
        return Response(status=204)
    dispatcher.line_outcome(
        job, status, request.form.get("AnsweredBy"), request.form.get("CallSid")
    )
    return Response(status=204)


# --- Texts to the number ----------------------------------------------------------------------


@blueprint.post("/sms")
def sms() -> Response:
    """A text to the number ("A message comes in"): STOP stops the texts to its sender, START
    brings them back, anything else is answered that texts are not read. Neither the sender's
    number nor the words are ever logged."""
    answer = MessagingResponse()
    number = e164_or_none(request.form["From"])
    if number is None:  # a sender name, not a number: nobody to stop, or to answer
        return _twiml(str(answer))
    body, now = request.form.get("Body", ""), clock().now()
    try:
        words = text_replies.reply(part("ivr.calls_db"), reference(), number, body, now)
    except Exception as error:  # not said done when it is not: Twilio's console shows the 500
        log.error("answering a text failed: %s", type(error).__name__)  # no SQL, no number
        message = f"{request.path}: {type(error).__name__}"
        return _after(Response(status=500), "webhook_failed", message, None)
    answer.message(words)
    return _twiml(str(answer))
