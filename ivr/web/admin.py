"""The back office's administration: the prompts callers hear (words, versions, recordings),
the reference data (uploads, the directory drawn, PINs, the client file searched), and
operations. Every page but the recorded prompts Twilio fetches needs an administrator."""

from __future__ import annotations

import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from werkzeug.wrappers import Response

from ivr.adapters.prompt_store import defaults as prompt_defaults
from ivr.domain.model import Directory
from ivr.services import back_office, prompt_editing, timelines
from ivr.services.accounts import audit
from ivr.services.importing import ImportReport, import_directory
from ivr.services.staff import StaffError, set_pin
from ivr.services.uploads import last_client_import, queue_client_file, waiting_imports
from ivr.web.auth import current_account, requires
from ivr.web.parts import clock, db, part, reference, settings
from voice_flows.instructions import Say

blueprint = Blueprint("admin", __name__)

MAX_UPLOAD = 200 * 1024 * 1024  # a million clients is some 150 MB of CSV
DAY_LABELS = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")


# --- Prompts ----------------------------------------------------------------------------------


@blueprint.get("/prompts")
@requires("admin")
def prompts() -> str:
    return render_template("prompts.html", prompts=prompt_editing.prompt_list(db()))


@blueprint.route("/prompts/<name>", methods=["GET", "POST"])
@requires("admin")
def prompt(name: str) -> Any:
    found = next((p for p in prompt_editing.prompt_list(db()) if p.name == name), None)
    if found is None:
        abort(404)
    text = found.text
    if request.method == "POST":
        text = request.form.get("text", "")
        try:
            version = prompt_editing.save_prompt(db(), clock(), current_account(), name, text)
        except prompt_editing.PromptError as error:
            flash(f"Non enregistré : {error}.")
        else:
            audit(db(), clock(), current_account(), "prompt_saved", prompt=name, version=version)
            reference().forget()  # heard at once by this process, by the others within 1 s
            flash(f"Version {version} enregistrée : elle s'applique au prochain appel.")
            return redirect(url_for("admin.prompt", name=name))
    return render_template(
        "prompt.html",
        prompt=found,
        text=text,
        versions=prompt_editing.prompt_versions(db(), name),
        preview=_preview(name),
    )


@blueprint.post("/prompts/<name>/audio")
@requires("admin")
def prompt_audio(name: str) -> Response:
    upload = request.files.get("audio")
    content = upload.read(prompt_editing.MAX_AUDIO + 1) if upload else b""
    folder = Path(settings().MEDIA_FOLDER) / "prompts"
    who = current_account()
    try:
        version = prompt_editing.save_prompt_audio(db(), clock(), who, name, content, folder)
    except prompt_editing.PromptError as error:
        flash(f"Non enregistré : {error}.")
    else:
        audit(db(), clock(), who, "prompt_audio", prompt=name, version=version)
        reference().forget()
        flash(f"Version {version} enregistrée : l'enregistrement sera joué au prochain appel.")
    return redirect(url_for("admin.prompt", name=name))


@blueprint.get("/media/prompts/<file_name>")
def media(file_name: str) -> Response:
    """A recorded prompt, as Twilio fetches it to play it (no login: Twilio has none, and a
    prompt is what every caller hears anyway)."""
    if not prompt_editing.AUDIO_FILE_NAME.fullmatch(file_name):  # only names we write
        abort(404)
    folder = (Path(settings().MEDIA_FOLDER) / "prompts").resolve()
    path = (folder / file_name).resolve()
    if path.parent != folder or not path.is_file():
        abort(404)
    return send_file(path, mimetype="audio/wav" if path.suffix == ".wav" else "audio/mpeg")


@blueprint.post("/prompts/<name>/rollback/<int:version>")
@requires("admin")
def rollback(name: str, version: int) -> Response:
    versions = prompt_editing.prompt_versions(db(), name)
    old = next((v for v in versions if v.version == version), None)
    if old is None:
        abort(404)
    saved = prompt_editing.save_prompt(db(), clock(), current_account(), name, old.text)
    audit(db(), clock(), current_account(), "prompt_rolled_back", prompt=name, to=version)
    reference().forget()
    flash(f"Retour au texte de la version {version} (nouvelle version {saved}).")
    return redirect(url_for("admin.prompt", name=name))


def _preview(name: str) -> str:
    """The TwiML a caller would get for this prompt alone, with example values."""
    example = {p: f"[{p}]" for p in prompt_defaults()[name].placeholders}
    return str(part("ivr.calls").renderer().say_and_hang_up((Say(name, example),)))


# --- Reference data -------------------------------------------------------------------------


@blueprint.route("/reference", methods=["GET", "POST"])
@requires("admin")
def reference_data() -> str:
    """Upload the client file (imported by the worker: the last import's report is shown) or
    the directory (a zip of its five files, imported at once: its report). The directory
    drawn; PINs; the client file in force searched."""
    report = _import_upload() if request.method == "POST" else None
    query = request.args.get("q", "").strip()
    directory = _directory()
    return render_template(
        "reference.html",
        report=report,
        waiting=waiting_imports(db()),
        last_clients=last_client_import(db()),
        query=query,
        clients=back_office.search_clients(db(), query) if query else [],
        week=timelines.on_call_week(directory),
        planning=timelines.managers_planning(directory, clock().now()),
        days=DAY_LABELS,
        staff_numbers=directory.staff_phones(),
    )


def _directory() -> Directory:
    return reference().directory(db())


def _import_upload() -> ImportReport | None:
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
        if kind == "clients":  # the worker's: a million rows take a minute
            queue_client_file(db(), clock(), path, Path(settings().UPLOAD_FOLDER))
            audit(db(), clock(), current_account(), "import_clients_sent", file=name)
            flash(f"Fichier {name} reçu : il est importé en arrière-plan.")
            return None
        else:
            try:
                unpacked = _unzip(path, Path(folder) / "directory")
            except _Unzippable as why:
                flash(str(why))
                return None
            report = import_directory(db(), unpacked, clock())
    audit(db(), clock(), current_account(), f"import_{kind}", file=name, accepted=report.accepted)
    reference().forget()
    return report


# The directory is five small files: a zip beyond these is a mistake or a zip bomb (1 MB that
# expands to 1 GB), refused before it fills the memory or the disk.
MAX_ZIP_ENTRIES = 20
MAX_UNZIPPED = 20 * 1024 * 1024


class _Unzippable(Exception):
    """Why an upload is not the directory's zip, said to the administrator."""


def _unzip(path: Path, into: Path) -> Path:
    """The zip's files, flattened into `into` (their folders dropped: only names matter),
    streamed to disk and counted as they come: a member's declared size is not trusted."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) > MAX_ZIP_ENTRIES:
                raise _Unzippable(f"Trop de fichiers dans le zip ({len(members)}).")
            into.mkdir()
            left = MAX_UNZIPPED
            for member in members:
                name = Path(member.filename).name
                if name and not name.startswith("."):
                    left = _extract(archive, member, into / name, left)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error):
        raise _Unzippable("L'annuaire s'envoie en zip de ses cinq fichiers.") from None
    return into


def _extract(archive: zipfile.ZipFile, member: zipfile.ZipInfo, to: Path, left: int) -> int:
    """One member written to `to`; what is left of the allowance after it."""
    with archive.open(member) as source, to.open("wb") as target:
        while chunk := source.read(64 * 1024):
            left -= len(chunk)
            if left < 0:
                raise _Unzippable("Zip trop gros une fois décompressé (20 Mo au plus).")
            target.write(chunk)
    return left


@blueprint.post("/reference/pin")
@requires("admin")
def staff_pin() -> Response:
    """An on-call line's or a manager's PIN, set by an administrator (stored hashed)."""
    number = request.form.get("number", "")
    who = current_account()
    try:
        set_pin(db(), clock(), _directory(), number, request.form.get("pin", ""), who.email)
    except StaffError as error:
        flash(f"Code non enregistré : {error}.")
    else:
        audit(db(), clock(), who, "pin_set", number=number)
        flash(f"Code enregistré pour {number}.")
    return redirect(url_for("admin.reference_data"))


# --- Operations -------------------------------------------------------------------------------


@blueprint.get("/operations")
@requires("admin")
def operations() -> str:
    return render_template("operations.html", ops=back_office.operations(db()), now=clock().now())
