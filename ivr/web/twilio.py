"""Twilio's webhooks (CONTRACT.md): thin. Check the signature, parse, call, render.

Every request under /twilio/ is checked here, in one place, against X-Twilio-Signature over
PUBLIC_BASE_URL, the path and the raw query string; the secondary token is accepted too so
that the primary can be rotated. Anything else gets 403 and changes nothing.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy.exc import OperationalError
from twilio.request_validator import RequestValidator

from ivr.adapters.twilio_rest import UNDER_WAY
from ivr.services.calls import CallService, Webhook
from ivr.services.dispatch import Dispatcher
from ivr.services.outbound import OutboundCalls
from ivr.settings import Settings

log = logging.getLogger(__name__)
blueprint = Blueprint("twilio", __name__, url_prefix="/twilio")


def _service() -> CallService:
    service: CallService = current_app.extensions["ivr.calls"]
    return service


@blueprint.before_request
def check_signature() -> None:
    settings: Settings = current_app.extensions["ivr.settings"]
    tokens = [t for t in (settings.TWILIO_AUTH_TOKEN, settings.TWILIO_AUTH_TOKEN_SECONDARY) if t]
    url = settings.PUBLIC_BASE_URL + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("latin-1")
    signature = request.headers.get("X-Twilio-Signature", "")
    params = request.form.to_dict()
    if not any(_signed(RequestValidator(token), url, params, signature) for token in tokens):
        log.warning("refused an unsigned or badly signed request to %s", request.path)
        abort(403)


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
    return Webhook(request.form.get("CallSid", ""), request.form.to_dict())


def _safely(answer: Callable[[], str], fallback: Callable[[], str] | None = None) -> Response:
    """Answer a turn; if anything fails, the caller still gets a way forward (and an alert)."""
    service = _service()
    sid = request.form.get("CallSid")
    try:
        return _twiml(answer())
    except OperationalError:
        service.alert("database_unreachable", f"{request.path}: database unreachable", sid)
    except Exception as error:  # the caller must never get a 500 and silence
        log.exception("webhook %s failed", request.path)
        service.alert("webhook_failed", f"{request.path}: {type(error).__name__}", sid)
    return _twiml((fallback or service.safe_answer)())


@blueprint.post("/voice")
def voice() -> Response:
    """A call comes in."""
    return _safely(lambda: _service().incoming(_hook()))


@blueprint.post("/voice/fallback")
def fallback() -> Response:
    """Twilio's "primary handler fails": a person if configured, else advice and a message."""
    service = _service()
    service.alert(
        "fallback",
        f"Twilio used the fallback URL ({request.form.get('ErrorCode')})",
        request.form.get("CallSid"),
    )
    return _twiml(service.safe_answer())


@blueprint.post("/voice/goodbye")
def goodbye() -> Response:
    """The end of the safe path: needs nothing, so it cannot fail again."""
    return _twiml(_service().goodbye())


@blueprint.post("/voice/step/<step>")
def step(step: str) -> Response:
    """The answer to a question, the outcome of a dial, a recorded message."""
    turn = request.args.get("turn", type=int, default=-1)
    attempt = request.args.get("attempt", type=int)
    return _safely(lambda: _service().step(_hook(), step, turn, attempt))


@blueprint.post("/voice/whisper")
def whisper() -> Response:
    """The technician's or manager's leg, before it is bridged (call screening)."""
    attempt = request.args.get("attempt", type=int, default=0)
    stage = request.args.get("stage", "ask")
    tries = request.args.get("tries", type=int, default=0)
    service = _service()
    return _safely(
        lambda: service.whisper(_hook(), attempt, stage, tries), fallback=service.callee_safe_answer
    )


@blueprint.post("/status")
def status() -> Response:
    """Call status changes."""
    _service().status(_hook())
    return Response(status=204)


@blueprint.post("/recording")
def recording() -> Response:
    """A recording is available (recordingStatusCallback)."""
    _service().recording(_hook(), request.args.get("kind", "message"))
    return Response(status=204)


# --- The dispatcher's calls to technicians and managers --------------------------------------


def _outbound() -> OutboundCalls:
    service = _service()
    dispatcher: Dispatcher = current_app.extensions["ivr.dispatcher"]
    return OutboundCalls(dispatcher, service.renderer())


@blueprint.post("/outbound/answer")
def outbound_answer() -> Response:
    """A technician or a manager answered the dispatcher's call (or their voicemail did)."""
    job = request.args.get("job", type=int, default=0)
    answered_by = request.form.get("AnsweredBy")
    return _safely(
        lambda: _outbound().answer(job, answered_by), fallback=_service().callee_safe_answer
    )


@blueprint.post("/outbound/menu")
def outbound_menu() -> Response:
    job = request.args.get("job", type=int, default=0)
    tries = request.args.get("tries", type=int, default=1)
    digits = request.form.get("Digits", "")
    return _safely(
        lambda: _outbound().menu(job, digits, tries), fallback=_service().callee_safe_answer
    )


@blueprint.post("/outbound/outcome")
def outbound_outcome() -> Response:
    """Key 4 of the dispatcher's call: what came of the request (as on the staff's side)."""
    job = request.args.get("job", type=int, default=0)
    tries = request.args.get("tries", type=int, default=1)
    digits = request.form.get("Digits", "")
    return _safely(
        lambda: _outbound().outcome(job, digits, tries), fallback=_service().callee_safe_answer
    )


@blueprint.post("/outbound/status")
def outbound_status() -> Response:
    """How the dispatcher's call went: reached, voicemail, not answered; what follows."""
    dispatcher: Dispatcher = current_app.extensions["ivr.dispatcher"]
    job = request.args.get("job", type=int, default=0)
    status = request.form.get("CallStatus", "")
    if status in UNDER_WAY:
        return Response(status=204)
    dispatcher.line_outcome(
        job, status, request.form.get("AnsweredBy"), request.form.get("CallSid")
    )
    return Response(status=204)
