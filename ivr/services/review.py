"""What the back office shows and changes: calls within an account's reach, a call's whole
trace, the agency's morning, prompts and their versions, jobs to retry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.orm import Session

from ivr.adapters.db import Database
from ivr.adapters.orm import (
    AgencyRow,
    CallEventRow,
    CallRow,
    DialAttemptRow,
    JobRow,
    PromptVersionRow,
    RecordingRow,
)
from ivr.adapters.prompt_store import defaults as prompt_defaults
from ivr.adapters.prompt_store import newest_versions
from ivr.clock import Clock
from ivr.domain.local_time import PARIS
from ivr.domain.prompts import placeholders_in
from ivr.services.accounts import Account

PAGE = 25


@dataclass(frozen=True)
class CallFilter:
    night: date | None = None  # the night starting that evening (18:00 to 08:00, Paris)
    agency: str | None = None
    action: str | None = None
    danger: bool | None = None
    reached: bool | None = None
    page: int = 1


S = TypeVar("S", bound=Select[Any])


def visible(query: S, who: Account) -> S:  # a Select of any row shape
    """Only the calls the account may see: all, their region's, their agency's."""
    if who.role == "admin":
        return query
    if who.role == "manager":
        region_agencies = select(AgencyRow.cia).where(AgencyRow.region == who.region)
        return query.where(CallRow.agency.in_(region_agencies))
    return query.where(CallRow.agency == who.agency)


def calls(db: Database, who: Account, wanted: CallFilter) -> tuple[list[CallRow], int]:
    """A page of calls, newest first, and how many in all."""
    query = visible(select(CallRow), who)
    if wanted.night is not None:
        start = datetime.combine(wanted.night, time(18), PARIS)
        query = query.where(
            CallRow.started_at >= start, CallRow.started_at < start + timedelta(hours=14)
        )
    if wanted.agency:
        query = query.where(CallRow.agency == wanted.agency)
    if wanted.action:
        query = query.where(CallRow.action == wanted.action)
    if wanted.danger is not None:
        query = query.where(
            CallRow.danger.is_not(None) if wanted.danger else CallRow.danger.is_(None)
        )
    if wanted.reached is not None:
        query = query.where(
            CallRow.reached.is_not(None) if wanted.reached else CallRow.reached.is_(None)
        )
    with db.snapshot() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(
            query.order_by(CallRow.started_at.desc(), CallRow.id.desc())
            .limit(PAGE)
            .offset((max(wanted.page, 1) - 1) * PAGE)
        ).all()
    return list(rows), total


@dataclass(frozen=True)
class CallTrace:
    call: CallRow
    events: list[CallEventRow]
    attempts: list[DialAttemptRow]
    recordings: list[RecordingRow]
    jobs: list[JobRow]


def trace(db: Database, who: Account, call_id: int) -> CallTrace | None:
    """A call's whole trace, if the account may see it."""
    with db.snapshot() as session:
        call = session.scalar(visible(select(CallRow).where(CallRow.id == call_id), who))
        if call is None:
            return None
        return CallTrace(
            call,
            _of(session, CallEventRow, call_id, CallEventRow.id),
            _of(session, DialAttemptRow, call_id, DialAttemptRow.id),
            _of(session, RecordingRow, call_id, RecordingRow.id),
            _of(session, JobRow, call_id, JobRow.id),
        )


def _of(session: Session, row: Any, call_id: int, order: Any) -> list[Any]:
    return list(session.scalars(select(row).where(row.call_id == call_id).order_by(order)))


def recording(db: Database, who: Account, recording_id: int) -> RecordingRow | None:
    with db.snapshot() as session:
        row = session.get(RecordingRow, recording_id)
        if row is None or row.call_id is None:
            return None
        allowed = session.scalar(visible(select(CallRow.id).where(CallRow.id == row.call_id), who))
        return row if allowed else None


def to_process(db: Database, who: Account) -> list[CallRow]:
    """The agency's morning: requests and messages still to process, oldest first."""
    query = visible(select(CallRow), who).where(
        CallRow.processed_at.is_(None),
        CallRow.ended_at.is_not(None),
        or_(CallRow.action.is_not(None), CallRow.message_seconds > 0),
    )
    with db.snapshot() as session:
        return list(session.scalars(query.order_by(CallRow.started_at).limit(200)))


def mark_processed(db: Database, clock: Clock, who: Account, call_id: int) -> bool:
    with db.session() as session:
        call = session.scalar(visible(select(CallRow).where(CallRow.id == call_id), who))
        if call is None or call.processed_at is not None:
            return False
        call.processed_at, call.processed_by = clock.now(), who.email
        return True


def retry_job(db: Database, clock: Clock, job_id: int) -> bool:
    """A failed job (a sheet, a call) tried again now, from its first attempt."""
    with db.session() as session:
        result = session.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.status.in_(("failed", "done")))
            .values(
                status="pending",
                due_at=clock.now(),
                attempts=0,
                provider_ref=None,
                lease_until=None,
                updated_at=clock.now(),
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


# --- Prompts ----------------------------------------------------------------------------------


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


AUDIO_TYPES = {"wav": (b"RIFF", b"WAVE"), "mp3": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")}
MAX_AUDIO = 5 * 1024 * 1024


def audio_kind(content: bytes) -> str | None:
    """ "wav" or "mp3" when the file is one (read from its first bytes, not its name)."""
    if content[:4] == b"RIFF" and content[8:12] == b"WAVE":
        return "wav"
    if content[:3] == b"ID3" or content[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "mp3"
    return None


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
