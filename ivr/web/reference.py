"""The back office's reference data, for administrators: the files uploaded (the client file
imported by the worker, the directory's zip at once), the directory drawn (on-call windows,
managers' planning), staff PINs, the client file in force searched."""

from __future__ import annotations

import tempfile
import zipfile
import zlib
from pathlib import Path, PureWindowsPath

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ivr.domain.model import Contract, Directory
from ivr.services import back_office, timelines
from ivr.services.accounts import audit
from ivr.services.importing import SHRINK_CONFIRMATION, ImportReport, import_directory
from ivr.services.staff import StaffError, set_pin
from ivr.services.uploads import (
    last_client_import,
    queue_client_file,
    refused_for_shrinking,
    waiting_imports,
)
from ivr.web.auth import current_account, requires
from ivr.web.parts import clock, db, reference, settings

blueprint = Blueprint("reference", __name__)

MAX_UPLOAD = 200 * 1024 * 1024  # a million clients is some 150 MB of CSV
CONTRACT_NAMES = {contract.value: contract.label for contract in Contract}


@blueprint.route("/reference", methods=["GET", "POST"])
@requires("admin")
def reference_data() -> str:
    """Upload the client file (imported by the worker: the last import's report is shown) or
    the directory (a zip of its five files, imported at once: its report). The directory
    drawn; PINs; the client file in force searched."""
    report = _import_upload() if request.method == "POST" else None
    query = request.args.get("q", "").strip()
    directory = _directory()
    last_clients = last_client_import(db())
    return render_template(
        "reference.html",
        report=report,
        waiting=waiting_imports(db()),
        last_clients=last_clients,
        shrinking=last_clients is not None and refused_for_shrinking(last_clients),
        shrink_confirmation=SHRINK_CONFIRMATION,
        query=query,
        clients=back_office.search_clients(db(), query) if query else [],
        contract_names=CONTRACT_NAMES,
        week=timelines.on_call_week(directory),
        oncall_types=timelines.ONCALL_TYPE_NAMES,
        planning=timelines.managers_planning(directory, clock().now()),
        days=timelines.DAY_NAMES,
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
    name = _sent_name(upload.filename)  # what the reports and the history say, never a path
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sent" / name  # apart from the unpacked zip, whatever its name
        path.parent.mkdir()
        upload.save(path)
        if path.stat().st_size > MAX_UPLOAD:
            flash("Fichier trop gros.")
            return None
        if kind == "clients":  # the worker's: a million rows take a minute
            shrink = request.form.get("allow_shrink") == "yes"
            folder_kept = Path(settings().UPLOAD_FOLDER)
            queue_client_file(db(), clock(), path, folder_kept, allow_shrink=shrink)
            who = current_account()
            audit(db(), clock(), who, "import_clients_sent", file=name, allow_shrink=shrink)
            even = ", même s’il retire plus de 10 % des clients" if shrink else ""
            flash(f"Fichier {name} reçu : il est importé en arrière-plan{even}.")
            return None
        else:
            try:
                unpacked = _unzip(path, Path(folder) / "unpacked")
            except _Unzippable as why:
                flash(str(why))
                return None
            report = import_directory(db(), unpacked, clock(), name=name)
    audit(db(), clock(), current_account(), f"import_{kind}", file=name, accepted=report.accepted)
    reference().forget()
    return report


def _sent_name(filename: str) -> str:
    """The file's own name as the browser sent it: some send a Windows path; `.` and `..`
    would name a folder."""
    name = PureWindowsPath(filename).name  # splits on either kind of slash
    return name if name not in ("", ".", "..") else "fichier"


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
