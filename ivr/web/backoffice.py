"""The back office: calls and their trace, recordings, summary sheets, the agency's morning,
prompts, operations. Every page needs a login and the right role (`auth.requires`)."""

from __future__ import annotations

import tempfile
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from ivr.adapters.db import Database
from ivr.adapters.orm import AgencyRow, AlertRow, AuditRow, CoverageRow, ImportRecord, JobRow
from ivr.adapters.prompt_store import defaults as prompt_defaults
from ivr.clock import Clock
from ivr.domain.model import HOLIDAY, WEEKDAYS, Directory
from ivr.domain.oncall import planning_holes
from ivr.services import review
from ivr.services.accounts import audit
from ivr.services.dispatch import Dispatcher
from ivr.settings import Settings
from ivr.web.auth import current_account, requires
from voice_flows.instructions import Say

blueprint = Blueprint("backoffice", __name__)

ACTIONS = {
    "call_now": "Technicien appelé",
    "call_next_morning": "Technicien le lendemain matin",
    "fax_only": "Fiche seule",
    "escalate": "Danger : cadre régional",
    "not_covered": "Non couvert",
    "legacy": "Centre d'appels",
}


def _db() -> Database:
    db: Database = current_app.extensions["ivr.db"]
    return db


def _clock() -> Clock:
    clock: Clock = current_app.extensions["ivr.clock"]
    return clock


def _settings() -> Settings:
    settings: Settings = current_app.extensions["ivr.settings"]
    return settings


@blueprint.app_context_processor
def _layout() -> dict[str, Any]:
    from flask_login import current_user

    who = current_account() if current_user.is_authenticated else None
    return {"who": who, "actions": ACTIONS}


# --- Calls ------------------------------------------------------------------------------------


@blueprint.get("/calls")
@requires()
def calls() -> str:
    args = request.args
    wanted = review.CallFilter(
        night=_date(args.get("night")),
        agency=args.get("agency") or None,
        action=args.get("action") or None,
        danger=_yes_no(args.get("danger")),
        reached=_yes_no(args.get("reached")),
        page=args.get("page", type=int, default=1),
    )
    rows, total = review.calls(_db(), current_account(), wanted)
    with _db().snapshot() as session:
        agencies = session.scalars(select(AgencyRow.cia).order_by(AgencyRow.cia)).all()
    pages = max((total + review.PAGE - 1) // review.PAGE, 1)
    return render_template(
        "calls.html", rows=rows, total=total, wanted=wanted, pages=pages, agencies=agencies
    )


@blueprint.get("/calls/<int:call_id>")
@requires()
def call(call_id: int) -> str:
    found = review.trace(_db(), current_account(), call_id)
    if found is None:
        abort(404)
    return render_template("call.html", trace=found)


@blueprint.get("/recordings/<int:recording_id>/audio")
@requires()
def recording_audio(recording_id: int) -> Response:
    """A recording, streamed through the app with the account's rights checked: the
    provider's URL (and its credentials) never reach the browser."""
    row = review.recording(_db(), current_account(), recording_id)
    if row is None:
        abort(404)
    settings = _settings()
    stand_in = current_app.extensions.get("ivr.recordings")  # the demo's: it records nothing
    if stand_in is not None:
        audio, mimetype = stand_in(row.duration)
        return Response(audio, mimetype=mimetype)
    if not _twilio_media(row.url, settings.TWILIO_API_BASE_URL):
        abort(404)  # only Twilio's own media, never a URL of another host
    try:
        fetched = requests.get(
            f"{row.url}.mp3",
            auth=(settings.TWILIO_ACCOUNT_SID or "", settings.TWILIO_AUTH_TOKEN or ""),
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
    if review.trace(_db(), current_account(), call_id) is None:
        abort(404)
    dispatcher: Dispatcher = current_app.extensions["ivr.dispatcher"]
    return Response(dispatcher.sheets.pdf(call_id), mimetype="application/pdf")


@blueprint.post("/jobs/<int:job_id>/retry")
@requires("admin", "manager", "agency")
def retry(job_id: int) -> Response:
    with _db().snapshot() as session:
        job = session.get(JobRow, job_id)
    if job is None or job.call_id is None:
        abort(404)
    if review.trace(_db(), current_account(), job.call_id) is None:
        abort(404)
    if review.retry_job(_db(), _clock(), job_id):
        audit(_db(), _clock(), current_account(), "job_retried", job=job_id, kind=job.kind)
        flash("La tâche sera refaite dans quelques secondes.")
    return redirect(request.referrer or url_for("backoffice.call", call_id=job.call_id))


# --- The agency's morning ---------------------------------------------------------------------


@blueprint.get("/morning")
@requires()
def morning() -> str:
    return render_template("morning.html", rows=review.to_process(_db(), current_account()))


@blueprint.post("/calls/<int:call_id>/processed")
@requires()
def processed(call_id: int) -> Response:
    if review.mark_processed(_db(), _clock(), current_account(), call_id):
        audit(_db(), _clock(), current_account(), "call_processed", call=call_id)
    return redirect(url_for("backoffice.morning"))


# --- Prompts ----------------------------------------------------------------------------------


@blueprint.get("/prompts")
@requires("admin")
def prompts() -> str:
    return render_template("prompts.html", prompts=review.prompt_list(_db()))


@blueprint.route("/prompts/<name>", methods=["GET", "POST"])
@requires("admin")
def prompt(name: str) -> Any:
    found = next((p for p in review.prompt_list(_db()) if p.name == name), None)
    if found is None:
        abort(404)
    text = found.text
    if request.method == "POST":
        text = request.form.get("text", "")
        try:
            version = review.save_prompt(_db(), _clock(), current_account(), name, text)
        except review.PromptError as error:
            flash(f"Non enregistré : {error}.")
        else:
            audit(_db(), _clock(), current_account(), "prompt_saved", prompt=name, version=version)
            _prompts_changed()
            flash(f"Version {version} enregistrée : elle s'applique au prochain appel.")
            return redirect(url_for("backoffice.prompt", name=name))
    return render_template(
        "prompt.html",
        prompt=found,
        text=text,
        versions=review.prompt_versions(_db(), name),
        preview=_preview(name),
    )


@blueprint.post("/prompts/<name>/audio")
@requires("admin")
def prompt_audio(name: str) -> Response:
    upload = request.files.get("audio")
    content = upload.read(review.MAX_AUDIO + 1) if upload else b""
    folder = Path(_settings().MEDIA_FOLDER) / "prompts"
    try:
        version = review.save_prompt_audio(
            _db(), _clock(), current_account(), name, content, folder
        )
    except review.PromptError as error:
        flash(f"Non enregistré : {error}.")
    else:
        audit(_db(), _clock(), current_account(), "prompt_audio", prompt=name, version=version)
        _prompts_changed()
        flash(f"Version {version} enregistrée : l'enregistrement sera joué au prochain appel.")
    return redirect(url_for("backoffice.prompt", name=name))


@blueprint.get("/media/prompts/<file_name>")
def media(file_name: str) -> Response:
    """A recorded prompt, as Twilio fetches it to play it (no login: Twilio has none, and a
    prompt is what every caller hears anyway)."""
    folder = (Path(_settings().MEDIA_FOLDER) / "prompts").resolve()
    path = (folder / file_name).resolve()
    if path.parent != folder or not path.is_file():
        abort(404)
    return send_file(path, mimetype="audio/wav" if path.suffix == ".wav" else "audio/mpeg")


@blueprint.post("/prompts/<name>/rollback/<int:version>")
@requires("admin")
def rollback(name: str, version: int) -> Response:
    old = next((v for v in review.prompt_versions(_db(), name) if v.version == version), None)
    if old is None:
        abort(404)
    saved = review.save_prompt(_db(), _clock(), current_account(), name, old.text)
    audit(_db(), _clock(), current_account(), "prompt_rolled_back", prompt=name, to=version)
    _prompts_changed()
    flash(f"Retour au texte de la version {version} (nouvelle version {saved}).")
    return redirect(url_for("backoffice.prompt", name=name))


def _prompts_changed() -> None:
    """The next call of this process hears the change at once (others within a second)."""
    current_app.extensions["ivr.reference"].forget()


def _preview(name: str) -> str:
    """The TwiML a caller would get for this prompt alone, with example values."""
    renderer = current_app.extensions["ivr.calls"].renderer()
    example = {p: f"[{p}]" for p in prompt_defaults()[name].placeholders}
    return str(renderer.say_and_hang_up((Say(name, example),)))


# --- Reference data -------------------------------------------------------------------------

MAX_UPLOAD = 200 * 1024 * 1024  # a million clients is some 150 MB of CSV


@blueprint.route("/reference", methods=["GET", "POST"])
@requires("admin")
def reference() -> str:
    """Upload the client file or the directory (a zip of its five files); the import report.
    Search the client file in force."""
    report = None
    if request.method == "POST":
        report = _import_upload()
    query = request.args.get("q", "").strip()
    return render_template(
        "reference.html",
        report=report,
        query=query,
        clients=_search(query) if query else [],
        week=_week(),
        planning=_planning(),
        days=DAY_LABELS,
        staff_numbers=_directory().staff_phones(),
    )


DAY_LABELS = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")


def _directory() -> Directory:
    directory: Directory = current_app.extensions["ivr.reference"].directory(_db())
    return directory


def _week() -> list[dict[str, Any]]:
    """Each agency's on-call windows as bars on a week (minutes from Monday 00:00); a window
    ending the next day spills onto it; Sunday's spills onto Monday."""
    out = []
    directory = _directory()
    for cia, agency in sorted(directory.agencies.items()):
        bars = []
        for window in directory.windows.get(cia, ()):
            start = window.start.hour * 60 + window.start.minute
            end = window.end.hour * 60 + window.end.minute
            length = (end - start) % (24 * 60) or 24 * 60
            for day in window.days:
                if day not in WEEKDAYS:
                    continue
                begin = WEEKDAYS.index(day) * 1440 + start
                for piece_start, piece_end in _wrap(begin, begin + length):
                    bars.append(
                        {
                            "left": piece_start / (7 * 1440) * 100,
                            "width": (piece_end - piece_start) / (7 * 1440) * 100,
                            "type": window.oncall_type.value,
                            "label": f"{window.start:%H:%M}–{window.end:%H:%M}",
                        }
                    )
        holidays = [w for w in directory.windows.get(cia, ()) if HOLIDAY in w.days]
        lines = directory.lines.get(cia, ())
        out.append({"agency": agency, "bars": bars, "holidays": holidays, "lines": lines})
    return out


def _wrap(start: int, end: int) -> list[tuple[int, int]]:
    week = 7 * 1440
    if end <= week:
        return [(start, end)]
    return [(start, week), (0, end - week)]


def _planning() -> list[dict[str, Any]]:
    """Each region's managers for the next four weeks, with gaps and overlaps flagged."""
    now = _clock().now()
    until = now + timedelta(weeks=4)
    directory = _directory()
    out = []
    for code, region in sorted(directory.regions.items()):
        shifts = [s for s in directory.shifts.get(code, ()) if s.end > now and s.start < until]
        out.append(
            {
                "region": region,
                "shifts": shifts,
                "holes": planning_holes(directory.shifts.get(code, ()), now, until),
            }
        )
    return out


def _import_upload() -> Any:
    from ivr.services.importing import import_clients, import_directory

    upload = request.files.get("file")
    kind = request.form.get("kind")
    if upload is None or not upload.filename or kind not in ("clients", "directory"):
        flash("Choisissez un fichier.")
        return None
    name = Path(upload.filename).name  # the name the import history keeps, never a path
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        upload.save(path)
        if path.stat().st_size > MAX_UPLOAD:
            flash("Fichier trop gros.")
            return None
        if kind == "clients":
            report = import_clients(_db(), path, _clock())
        else:
            unpacked = _unzip(path, Path(folder) / "directory")
            if unpacked is None:
                flash("L'annuaire s'envoie en zip de ses cinq fichiers.")
                return None
            report = import_directory(_db(), unpacked, _clock())
    audit(_db(), _clock(), current_account(), f"import_{kind}", file=name, accepted=report.accepted)
    current_app.extensions["ivr.reference"].forget()
    return report


def _unzip(path: Path, into: Path) -> Path | None:
    """The zip's files, flattened into `into` (their folders dropped: only names matter)."""
    try:
        with zipfile.ZipFile(path) as archive:
            into.mkdir()
            for member in archive.infolist():
                name = Path(member.filename).name
                if member.is_dir() or not name or name.startswith("."):
                    continue
                (into / name).write_bytes(archive.read(member))
    except zipfile.BadZipFile:
        return None
    return into


def _search(query: str) -> list[Any]:
    from ivr.adapters.repository import table_in_force

    with _db().snapshot() as session:
        table = table_in_force(session)
        if table is None:
            return []
        pattern = f"%{query}%"
        return list(
            session.execute(
                select(table)
                .where(
                    (table.c.client_id == query)
                    | table.c.name.ilike(pattern)
                    | table.c.city.ilike(pattern)
                    | (table.c.phone == query)
                )
                .order_by(table.c.client_id)
                .limit(50)
            )
        )


@blueprint.post("/reference/pin")
@requires("admin")
def staff_pin() -> Response:
    """An on-call line's or a manager's PIN, set by an administrator (stored hashed)."""
    from ivr.services.staff import StaffError, set_pin

    number = request.form.get("number", "")
    try:
        set_pin(
            _db(),
            _clock(),
            _directory(),
            number,
            request.form.get("pin", ""),
            current_account().email,
        )
    except StaffError as error:
        flash(f"Code non enregistré : {error}.")
    else:
        audit(_db(), _clock(), current_account(), "pin_set", number=number)
        flash(f"Code enregistré pour {number}.")
    return redirect(url_for("backoffice.reference"))


# --- Operations -------------------------------------------------------------------------------


@blueprint.get("/operations")
@requires("admin")
def operations() -> str:
    with _db().snapshot() as session:
        jobs = session.scalars(
            select(JobRow)
            .where(JobRow.status.in_(("pending", "waiting", "failed", "running")))
            .order_by(JobRow.due_at)
            .limit(100)
        ).all()
        alerts = session.scalars(select(AlertRow).order_by(AlertRow.id.desc()).limit(50)).all()
        escalations = [
            job
            for job in session.scalars(
                select(JobRow)
                .where(
                    JobRow.kind == "call_line", JobRow.status.in_(("pending", "waiting", "running"))
                )
                .order_by(JobRow.due_at)
            )
            if job.payload.get("role") == "manager"
        ]
        imports = session.scalars(
            select(ImportRecord).order_by(ImportRecord.id.desc()).limit(20)
        ).all()
        log = session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(50)).all()
        coverage = session.scalars(
            select(CoverageRow).order_by(CoverageRow.id.desc()).limit(20)
        ).all()
    return render_template(
        "operations.html",
        jobs=jobs,
        alerts=alerts,
        imports=imports,
        audit_log=log,
        escalations=escalations,
        coverage=coverage,
        now=_clock().now(),
    )


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
