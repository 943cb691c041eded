"""The back office's administration: the prompts callers hear (words, versions, recordings)
and operations (the reference data: ivr.web.reference). Every page but the recorded prompts
Twilio fetches needs an administrator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from werkzeug.wrappers import Response

from ivr.adapters.prompt_store import defaults as prompt_defaults
from ivr.services import back_office, prompt_editing
from ivr.services.accounts import audit
from ivr.web.auth import current_account, requires
from ivr.web.parts import clock, db, part, reference, settings
from voice_flows.instructions import Say

blueprint = Blueprint("admin", __name__)


# --- Prompts ----------------------------------------------------------------------------------


@blueprint.get("/prompts")
@requires("admin")
def prompts() -> str:
    return render_template("prompts.html", groups=prompt_editing.prompt_groups(db()))


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
        default_text=prompt_defaults()[name].text,
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
    """Back to a version's words, or (version 0) to the default words of prompts.toml."""
    versions = prompt_editing.prompt_versions(db(), name)
    old = next((v.text for v in versions if v.version == version), None)
    if version == 0 and name in prompt_defaults():
        old = prompt_defaults()[name].text
    if old is None:
        abort(404)
    try:  # a version saved before the rules of today (a length) may be refused now
        saved = prompt_editing.save_prompt(db(), clock(), current_account(), name, old)
    except prompt_editing.PromptError as error:
        flash(f"Non rétabli : {error}.")
        return redirect(url_for("admin.prompt", name=name))
    audit(db(), clock(), current_account(), "prompt_rolled_back", prompt=name, to=version)
    reference().forget()
    origin = f"de la version {version}" if version else "par défaut"
    flash(f"Retour au texte {origin} (nouvelle version {saved}).")
    return redirect(url_for("admin.prompt", name=name))


def _preview(name: str) -> str:
    """The TwiML a caller would get for this prompt alone, with example values."""
    example = {p: f"[{p}]" for p in prompt_defaults()[name].placeholders}
    return str(part("ivr.calls").renderer().say_and_hang_up((Say(name, example),)))


# --- Operations -------------------------------------------------------------------------------


@blueprint.get("/operations")
@requires("admin")
def operations() -> str:
    now = clock().now()
    return render_template("operations.html", ops=back_office.operations(db(), now), now=now)
