"""The words callers hear, as administrators edit them: each prompt's version in force, its
history, a new version of its words or a recording of it, in force from the next call; the
prompts grouped by moment of the call, each with its French title, when it is heard, and its
words as an example request would fill them (read aloud by the back office)."""

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
from ivr.adapters.prompt_store import Moment, guides, moments, newest_versions
from ivr.adapters.prompt_store import defaults as prompt_defaults
from ivr.clock import Clock
from ivr.domain.characters import forbidden_in
from ivr.domain.prompts import Prompts, placeholders_in
from ivr.services.accounts import Account

# What the back office fills a prompt's {values} with when it reads the words aloud: a demo
# request (a boiler down in Paris), as the flows say them (digits in pairs, symbols in words).
EXAMPLES = {
    "name": "Syndic Résidence Les Pins",
    "city": "Paris",
    "address": "37 rue Riquet",
    "place": "Paris, 37 rue Riquet",
    "client_id": "1 0 0 0 0 0 0 2",
    "phone": "06 11 11 11 11",
    "equipment": "Chaudières murales gaz des 48 logements",
    "contract": "Votre contrat",
    "delay": "une intervention sous 4 heures",
    "when": "demain samedi, à 8 heures",
    "opening": "dès son ouverture, lundi, à 8 heures",
    "gas_number": "0 800 47 33 33",
    "fault": "panne de chauffage",
    "danger": "odeur de gaz ou fuite de gaz",
    "reference": "1 2 7",
    "postcode": "75019",
    "position": "1",
    "count": "3",
    "time": "23 heures 05",
    "client": "Syndic Résidence Les Pins, 37 rue Riquet, à Paris",
    "message": "Un message de 20 secondes a été laissé.",
    "hours": "6",
    "agency": "Paris Nord",
    "requests": "réf. 127 Paris, 37 rue Riquet, panne de chauffage, 06 11 11 11 11",
    "slot": "le jeudi 24 décembre à 14 heures",
    "progress": "Le technicien a pris votre demande en charge à 23 heures 25.",
}

OTHERS = Moment("others", "Autres messages", "Messages sans moment de l'appel connu.")


@dataclass(frozen=True)
class PromptView:
    name: str
    text: str
    placeholders: tuple[str, ...]
    version: int  # 0: the default of config/prompts.toml
    edited_by: str | None
    edited_at: datetime | None
    title: str = ""  # French, for the administrator
    moment: Moment = OTHERS
    heard: str = ""  # French: when it is heard
    example: str = ""  # the words in force, their {values} filled from EXAMPLES
    audio: str | None = None  # a recording played instead of the words

    def examples(self) -> dict[str, str]:
        """The example values of this prompt's placeholders."""
        return {p: EXAMPLES.get(p, p) for p in self.placeholders}


@dataclass(frozen=True)
class PromptGroup:
    moment: Moment
    prompts: list[PromptView]


def prompt_list(db: Database) -> list[PromptView]:
    """Every prompt, in the order of config/prompts.toml, with its version in force."""
    with db.snapshot() as session:
        latest = {row.name: row for row in newest_versions(session)}
    texts = {name: row.text for name, row in latest.items()}
    filled = Prompts(prompt_defaults(), texts=texts)
    known = {m.key: m for m in moments()}
    out = []
    for name, default in prompt_defaults().items():
        row = latest.get(name)
        guide = guides()[name]
        out.append(
            PromptView(
                name,
                row.text if row else default.text,
                tuple(default.placeholders),
                row.version if row else 0,
                row.created_by if row else None,
                row.created_at if row else None,
                title=guide.title or name,
                moment=known.get(guide.moment, OTHERS),
                heard=guide.heard,
                example=filled.text(name, EXAMPLES),
                audio=row.audio_path if row else None,
            )
        )
    return out


def prompt_groups(db: Database) -> list[PromptGroup]:
    """The prompts by moment of the call, in the order a call meets them; a prompt whose
    moment is unknown last, under « Autres messages », never left out."""
    prompts = prompt_list(db)
    groups = [
        PromptGroup(moment, [p for p in prompts if p.moment == moment])
        for moment in (*moments(), OTHERS)
    ]
    return [group for group in groups if group.prompts]


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
# The longest default is about 300 characters. A thousand takes over a minute to say, and
# stays far from what Twilio's voices take in one <Say> (3,000 characters for Polly's) once
# the values (an address, an equipment) are put in: beyond, the caller would hear nothing.
MAX_TEXT = 1000
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
    if len(text) > MAX_TEXT:
        raise PromptError(
            f"texte trop long : {len(text)} caractères, {MAX_TEXT} au plus "
            "(plus d'une minute à écouter)"
        )
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
