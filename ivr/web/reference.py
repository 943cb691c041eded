"""The back office's reference data, for administrators: the files uploaded (the client file
imported by the worker, the directory's zip at once), the directory drawn (on-call windows,
managers' planning), staff PINs, the client file in force searched."""

from __future__ import annotations

import tempfile
import zipfile
import zlib
from pathlib import Path

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ivr.domain.model import Directory
from ivr.services import back_office, timelines
from ivr.services.accounts import audit
from ivr.services.importing import ImportReport, import_directory
from ivr.services.staff import StaffError, set_pin
from ivr.services.uploads import last_client_import, queue_client_file, waiting_imports
from ivr.web.auth import current_account, requires
from ivr.web.parts import clock, db, reference, settings

blueprint = Blueprint("reference", __name__)

MAX_UPLOAD = 200 * 1024 * 1024  # a million clients is some 150 MB of CSV
DAY_LABELS = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")


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
    return redirect(url_for("reference.reference_data"))
