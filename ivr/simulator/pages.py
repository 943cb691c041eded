"""The phone simulator page and its API (`/simulator`). Served only when IVR_SIMULATOR is on
(`ivr.composition`): a demo and training tool, never part of production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, render_template, request, send_file
from sqlalchemy import select

from ivr.adapters.repository import table_in_force
from ivr.domain.local_time import in_paris, parse_instant
from ivr.domain.phones import digit_pairs
from ivr.simulator.demo import BEHAVIOURS, Refused, Simulator

blueprint = Blueprint(
    "simulator",
    __name__,
    url_prefix="/simulator",
    template_folder="templates",
    static_folder="static",
)

# How a phone may be set to behave when a caller is put through to it, as the page says it.
BEHAVIOUR_LABELS = {
    "live": "sonne ici : vous décidez",
    "take": "décroche et tape 1",
    "ring": "ne répond pas",
    "voicemail": "messagerie",
    "busy": "occupé",
}


def _simulator() -> Simulator:
    simulator: Simulator = current_app.extensions["ivr.simulator"]
    return simulator


def _refused(error: Refused) -> Any:
    return jsonify(error=str(error)), 400


@blueprint.get("")
def page() -> str:
    simulator = _simulator()
    with simulator.db.snapshot() as session:
        table = table_in_force(session)
        clients = (
            session.execute(
                select(table.c.client_id, table.c.name, table.c.city, table.c.phone)
                .order_by(table.c.client_id)
                .limit(200)
            ).all()
            if table is not None
            else []
        )
    book = simulator.phonebook()
    staff = [
        (number, book.short(number))
        for number, _label in simulator.reference.directory(simulator.db).staff_phones()
    ]
    cases = simulator.guide()
    # The caller is a demo client from the start: the guide's first, else the file's first.
    caller = cases[0].caller if cases else (clients[0].phone if clients else "")
    return render_template(
        "simulator.html",
        clients=clients,
        staff=staff,
        cases=cases,
        caller=caller,
        now=in_paris(simulator.clock.now()).strftime("%Y-%m-%dT%H:%M"),
        behaviours=BEHAVIOUR_LABELS,
        pairs=digit_pairs,
    )


@blueprint.get("/api/state")
def state() -> Any:
    """What the page shows; the texts on the caller's phone (`phone`) too."""
    return jsonify(_simulator().state(request.args.get("phone", "").strip() or None))


@blueprint.post("/api/calls")
def place() -> Any:
    body = request.get_json(force=True)
    caller = str(body.get("from", "")).strip()
    if not caller:
        return jsonify(error="Indiquez le numéro de l'appelant."), 400
    try:
        at = parse_instant(body["at"]) if body.get("at") else None
    except ValueError:
        return jsonify(error="Date et heure illisibles."), 400
    try:
        return jsonify(id=_simulator().place(caller, at))
    except Refused as error:
        return _refused(error)


@blueprint.post("/api/texts")
def text() -> Any:
    """The caller's phone texts the out-of-hours number (« Répondre par SMS »)."""
    body = request.get_json(force=True)
    try:
        _simulator().text(str(body.get("from", "")), str(body.get("text", "")))
    except Refused as error:
        return _refused(error)
    return jsonify(ok=True)


@blueprint.post("/api/calls/<int:number>/<action>")
def act(number: int, action: str) -> Any:
    body = request.get_json(silent=True) or {}
    simulator = _simulator()
    if number not in simulator.calls:
        abort(404)
    try:
        if action == "transfer":  # at a phone the call rings to put the caller through
            simulator.put_through(
                number,
                str(body.get("number", "")),
                str(body.get("action", "")),
                str(body.get("value", "")),
            )
        else:
            simulator.act(number, action, str(body.get("value", "")))
    except Refused as error:
        return _refused(error)
    return jsonify(ok=True)


@blueprint.post("/api/outbound/<sid>/<action>")
def pick_up(sid: str, action: str) -> Any:
    body = request.get_json(silent=True) or {}
    try:
        _simulator().pick_up(sid, action, str(body.get("value", "")))
    except Refused as error:
        return _refused(error)
    return jsonify(ok=True)


@blueprint.post("/api/behaviour")
def behaviour() -> Any:
    body = request.get_json(force=True)
    number, how = str(body.get("number", "")), str(body.get("behaviour", ""))
    if how not in BEHAVIOURS:
        return jsonify(error="Comportement inconnu."), 400
    _simulator().behaviours[number] = how
    return jsonify(ok=True)


@blueprint.post("/api/guide/<key>")
def try_case(key: str) -> Any:
    """Ready a case of the guide: its phones set; the caller and time for the form."""
    try:
        case = _simulator().try_case(key)
    except Refused as error:
        return _refused(error)
    return jsonify(caller=case.caller, at=case.at_input, phones=dict(case.phones))


@blueprint.post("/api/clock")
def clock() -> Any:
    body = request.get_json(force=True)
    simulator = _simulator()
    if body.get("next_job"):
        if not simulator.to_next_job():
            return jsonify(error="Aucune tâche à venir."), 400
        return jsonify(ok=True)
    try:
        minutes = float(body.get("minutes", 0))
    except (TypeError, ValueError):
        return jsonify(error="Durée illisible."), 400
    if minutes < 0:
        return jsonify(error="L'horloge simulée ne recule jamais."), 400
    simulator.advance(minutes)
    return jsonify(ok=True)


@blueprint.get("/sheets/<name>.pdf")
def sheet(name: str) -> Any:
    folder = Path(_simulator().settings.FAX_FOLDER).resolve()
    path = (folder / f"{name}.pdf").resolve()
    if path.parent != folder or not path.is_file():
        abort(404)
    return send_file(path, mimetype="application/pdf")
