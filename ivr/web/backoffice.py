"""The back office's calls: the list and each call's trace, recordings, summary sheets, jobs
to retry, and the agency's morning. Every page needs a login and the right role
(`auth.requires`); an account sees only the calls within its reach."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ivr.domain.model import Client
from ivr.domain.trace_words import ACTIONS, Name, decision_said, event_said, job_for, namer
from ivr.services import agency_morning, back_office
from ivr.services.accounts import audit
from ivr.services.dispatch import Dispatcher
from ivr.services.retention import DELETED
from ivr.web.auth import current_account, requires
from ivr.web.parts import clock, db, part, reference, settings

blueprint = Blueprint("backoffice", __name__)


@blueprint.app_context_processor
def _layout() -> dict[str, Any]:
    from flask_login import current_user

    who = current_account() if current_user.is_authenticated else None
    return {
        "who": who,
        "actions": ACTIONS,
        "decision_said": decision_said,
        "retryable": back_office.retryable,
    }


@blueprint.get("/calls")
@requires()
def calls() -> str:
    args = request.args
    wanted = back_office.CallFilter(
        night=_date(args.get("night")),
        agency=args.get("agency") or None,
        action=args.get("action") or None,
        danger=_yes_no(args.get("danger")),
        reached=_yes_no(args.get("reached")),
        page=args.get("page", type=int, default=1),
    )
    rows, total = back_office.calls(db(), current_account(), wanted)
    pages = max((total + back_office.PAGE - 1) // back_office.PAGE, 1)
    agencies = back_office.agency_codes(db(), current_account())
    added = back_office.additions_of(db(), [row.id for row in rows])
    return render_template(
        "calls.html",
        rows=rows,
        total=total,
        wanted=wanted,
        pages=pages,
        agencies=agencies,
        added=added,
        name=_namer(),
    )


@blueprint.get("/calls/<int:call_id>")
@requires()
def call(call_id: int) -> str:
    found = back_office.trace(db(), current_account(), call_id)
    if found is None:
        abort(404)
    name = _namer(found.call.agency)
    card = agency_morning.card(db(), found.call, _client_of, name)
    events = [(e.at, event_said(e.kind, e.detail, name)) for e in found.events]
    return render_template(
        "call.html",
        trace=found,
        card=card,
        events=events,
        placed=found.placed(name),
        jobs=[(job, job_for(job.payload, name)) for job in found.jobs],
    )


@blueprint.get("/recordings/<int:recording_id>/audio")
@requires()
def recording_audio(recording_id: int) -> Response:
    """A recording, streamed through the app with the account's rights checked: the
    provider's URL (and its credentials) never reach the browser."""
    row = back_office.recording(db(), current_account(), recording_id)
    if row is None:
        abort(404)
    if row.status == DELETED:
        abort(410)  # past its retention: deleted at Twilio and here
    stand_in = current_app.extensions.get("ivr.recordings")  # the demo's: it records nothing
    if stand_in is not None:
        audio, mimetype = stand_in(row.duration)
        return Response(audio, mimetype=mimetype)
    account = settings()
    if not _twilio_media(row.url, account.TWILIO_API_BASE_URL):
        abort(404)  # only Twilio's own media, never a URL of another host
    try:
        fetched = requests.get(
            f"{row.url}.mp3",
            auth=(account.TWILIO_ACCOUNT_SID or "", account.TWILIO_AUTH_TOKEN or ""),
            stream=True,
            timeout=15,
        )
    except requests.RequestException:
        current_app.logger.warning("recording %s: Twilio unreachable", recording_id)
        abort(502)
    if fetched.status_code != 200:
        abort(502)
    return Response(fetched.iter_content(64 * 1024), mimetype="audio/mpeg")


@blueprint.get("/calls/<int:call_id>/sheet.pdf")
@requires()
def sheet(call_id: int) -> Response:
    if back_office.trace(db(), current_account(), call_id) is None:
        abort(404)
    dispatcher: Dispatcher = part("ivr.dispatcher")
    return Response(dispatcher.sheets.pdf(call_id), mimetype="application/pdf")


@blueprint.post("/jobs/<int:job_id>/retry")
@requires("admin", "manager", "agency")
def retry(job_id: int) -> Response:
    job = back_office.job_in_reach(db(), current_account(), job_id)
    if job is None:
        abort(404)
    if back_office.retry_job(db(), clock(), job_id):
        audit(db(), clock(), current_account(), "job_retried", job=job_id, kind=job.kind)
        flash("La tâche sera refaite dans quelques secondes.")
    return redirect(request.referrer or url_for("backoffice.call", call_id=job.call_id))


# --- The agency's morning ---------------------------------------------------------------------


@blueprint.get("/morning")
@requires()
def morning() -> str:
    who, now = current_account(), clock().now()
    found = agency_morning.morning(db(), clock(), who, _client_of, _namer())
    undo = {card.id for card in found.processed if agency_morning.undoable(card, who, now)}
    return render_template("morning.html", morning=found, undo=undo)


@blueprint.post("/calls/<int:call_id>/processed")
@requires()
def processed(call_id: int) -> Response:
    if agency_morning.mark_processed(db(), clock(), current_account(), call_id):
        audit(db(), clock(), current_account(), "call_processed", call=call_id)
        minutes = int(agency_morning.UNDO.total_seconds() // 60)
        flash(f"Demande n° {call_id} traitée : annulable {minutes} minutes, plus bas.")
    return redirect(url_for("backoffice.morning"))


@blueprint.post("/calls/<int:call_id>/unprocessed")
@requires()
def unprocessed(call_id: int) -> Response:
    if agency_morning.undo_processed(db(), clock(), current_account(), call_id):
        audit(db(), clock(), current_account(), "call_processed_undone", call=call_id)
        flash(f"Demande n° {call_id} remise à traiter.")
    else:
        flash(f"La demande n° {call_id} ne peut plus être remise à traiter.")
    return redirect(url_for("backoffice.morning"))


def _client_of(client_id: str) -> Client | None:
    return reference().client(db(), client_id)


def _namer(agency: str | None = None) -> Name:
    """Who has a number; `agency`: the request's, named first where agencies share one."""
    return namer(reference().directory(db()), settings().NATIONAL_DUTY_NUMBER, agency)


def _twilio_media(url: str, api_base: str) -> bool:
    host = urlsplit(url).hostname or ""
    return url.startswith("https://") and (
        host == "api.twilio.com"
        or host.endswith(".twilio.com")
        or host == urlsplit(api_base).hostname
    )


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _yes_no(text: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(text or "")
