"""The words callers hear, as administrators edit them: each prompt's version in force, its
history, a new version of its words or a recording of it, in force from the next call."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import mutagen
from mutagen import MutagenError
from mutagen.mp3 import MP3
from mutagen.wave import WAVE
from sqlalchemy import func, select

from ivr.adapters.db import Database
from ivr.adapters.orm import PromptVersionRow
from ivr.adapters.prompt_store import defaults as prompt_defaults
from ivr.adapters.prompt_store import newest_versions
from ivr.clock import Clock
from ivr.domain.characters import forbidden_in
from ivr.domain.prompts import placeholders_in
from ivr.services.accounts import Account


@dataclass(frozen=True)
class PromptView:
    name: str
    text: str
    placeholders: tuple[str, ...]
    version: int  # 0: the default of config/prompts.toml
    edited_by: str | None
    edited_at: datetime | None


def prompt_list(db: Database) -> list[PromptView]:
    with db.snapshot() as session:
        latest = {row.name: row for row in newest_versions(session)}
    out = []
    for name, default in prompt_defaults().items():
        row = latest.get(name)
        out.append(
            PromptView(
                name,
                row.text if row else default.text,
                tuple(default.placeholders),
                row.version if row else 0,
                row.created_by if row else None,
                row.created_at if row else None,
            )
        )
    return out


def prompt_versions(db: Database, name: str) -> list[PromptVersionRow]:
    with db.snapshot() as session:
        return list(
            session.scalars(
                select(PromptVersionRow)
                .where(PromptVersionRow.name == name)
                .order_by(PromptVersionRow.version.desc())
            )
        )


class PromptError(ValueError):
    """Words that cannot be saved, said so the administrator can fix them."""


MAX_AUDIO = 5 * 1024 * 1024
AUDIO_FILE_NAME = re.compile(r"[a-z0-9_]+-v[0-9]+\.(wav|mp3)")  # `{prompt}-v{version}.{kind}`
AUDIO_KINDS = {WAVE: "wav", MP3: "mp3"}


def audio_kind(content: bytes) -> str | None:
    """ "wav" or "mp3" when the file is one with sound in it, read by `mutagen` (its chunks or
    its frames, not its first bytes nor its name: « RIFF....WAVE<html>… » is not a recording)."""
    try:
        audio = mutagen.File(io.BytesIO(content))
    except MutagenError:
        return None
    if audio is None or not audio.info.length > 0:
        return None
    return AUDIO_KINDS.get(type(audio))


def save_prompt_audio(
    db: Database, clock: Clock, who: Account, name: str, content: bytes, folder: Path
) -> int:
    """A recorded version of a prompt (played instead of the words), kept under `folder`;
    the words stay, for the trace and the back office. Its version number."""
    if not content:
        raise PromptError("le fichier est vide")
    if len(content) > MAX_AUDIO:
        raise PromptError("fichier trop gros (5 Mo au plus)")
    kind = audio_kind(content)
    if kind is None:
        raise PromptError("ce n'est ni un fichier WAV ni un MP3")
    current = next((p for p in prompt_list(db) if p.name == name), None)
    if current is None:
        raise PromptError(f"aucun message « {name} »")
    version = save_prompt(db, clock, who, name, current.text)
    file_name = f"{name}-v{version}.{kind}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / file_name).write_bytes(content)
    with db.session() as session:
        row = session.scalar(
            select(PromptVersionRow).where(
                PromptVersionRow.name == name, PromptVersionRow.version == version
            )
        )
        assert row is not None
        row.audio_path = file_name
    return version


def save_prompt(db: Database, clock: Clock, who: Account, name: str, text: str) -> int:
    """A new version of a prompt's words, in force from the next call; its number."""
    default = prompt_defaults().get(name)
    if default is None:
        raise PromptError(f"aucun message « {name} »")
    text = " ".join(text.split())
    if not text:
        raise PromptError("le texte est vide")
    forbidden = forbidden_in(text)
    if forbidden:
        raise PromptError(f"caractère de contrôle {forbidden} : retapez le texte sans lui")
    try:
        used = placeholders_in(text)
    except ValueError:
        raise PromptError("accolade mal fermée : écrivez {nom} pour une valeur") from None
    unknown = sorted(set(used) - set(default.placeholders))
    if unknown:
        allowed = ", ".join("{" + p + "}" for p in default.placeholders) or "aucune"
        raise PromptError(
            f"valeur inconnue : {', '.join('{' + u + '}' for u in unknown)} (permises : {allowed})"
        )
    with db.session() as session:
        current = session.scalar(
            select(func.max(PromptVersionRow.version)).where(PromptVersionRow.name == name)
        )
        version = (current or 0) + 1
        session.add(
            PromptVersionRow(
                name=name, version=version, text=text, created_at=clock.now(), created_by=who.email
            )
        )
    return version
