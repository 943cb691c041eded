"""Tables, as typed SQLAlchemy 2 models. Migrations in `migrations/` follow this file."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes stored as UTC, read back aware on every backend (SQLite has no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # Every instant is stored in UTC and read back aware; every detail dict is JSON.
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON}


def table_of(model: type[Base]) -> Table:
    """A model's table, for the Core statements that run on every turn of a call."""
    return cast(Table, model.__table__)


# --- Directory (§4.2): replaced whole by `ivr import directory` -----------------------------


class RegionRow(Base):
    __tablename__ = "regions"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20))
    fax: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(200), default="")


class AgencyRow(Base):
    __tablename__ = "agencies"
    cia: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    address: Mapped[str] = mapped_column(String(300))
    postcode: Mapped[str] = mapped_column(String(10))
    city: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20))
    fax: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(200), default="")
    department: Mapped[str] = mapped_column(String(3))
    live_from: Mapped[date | None]
    legacy_number: Mapped[str | None] = mapped_column(String(20))


class OnCallWindowRow(Base):
    __tablename__ = "oncall_windows"
    id: Mapped[int] = mapped_column(primary_key=True)
    cia: Mapped[str] = mapped_column(ForeignKey("agencies.cia"), index=True)
    oncall_type: Mapped[str] = mapped_column(String(20))
    days: Mapped[str] = mapped_column(String(60))  # "mon,tue,holiday"
    start: Mapped[time]
    end: Mapped[time]


class OnCallLineRow(Base):
    __tablename__ = "oncall_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    cia: Mapped[str] = mapped_column(ForeignKey("agencies.cia"), index=True)
    oncall_type: Mapped[str] = mapped_column(String(20))
    mobile: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200), default="")
    priority: Mapped[int]


class ManagerShiftRow(Base):
    __tablename__ = "manager_shifts"
    id: Mapped[int] = mapped_column(primary_key=True)
    region: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    mobile: Mapped[str] = mapped_column(String(20))
    start: Mapped[datetime]
    end: Mapped[datetime]


# --- Client file (§4.1): two tables, one in force, the other loaded by the next import ------


class _ClientColumns:
    """A client as imported. `line` is its line in the file, for the import report."""

    id: Mapped[int] = mapped_column(primary_key=True)
    line: Mapped[int]
    client_id: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    postcode: Mapped[str] = mapped_column(String(10))
    city: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20))
    phone2: Mapped[str | None] = mapped_column(String(20))
    equipment: Mapped[str] = mapped_column(String(20))
    equipment_label: Mapped[str] = mapped_column(String(200))
    contract: Mapped[str] = mapped_column(String(20))
    delay_label: Mapped[str] = mapped_column(String(200))
    delay_hours: Mapped[float | None]
    agency: Mapped[str] = mapped_column(String(20))
    valid_until: Mapped[date | None]


def _client_indexes(table: str) -> tuple[Index, ...]:
    """Built after a load (far faster than kept up row by row); see services.importing."""
    return (
        # Unique: a client id names one client. The import builds it after the load and,
        # where two lines share an id, names both lines instead (services.importing.clients).
        Index(f"uq_{table}_client_id", "client_id", unique=True),
        Index(f"ix_{table}_phone", "phone"),
        # Most clients have no second phone: index only those who do.
        Index(
            f"ix_{table}_phone2",
            "phone2",
            sqlite_where=text("phone2 IS NOT NULL"),
            postgresql_where=text("phone2 IS NOT NULL"),
        ),
    )


class ClientsA(_ClientColumns, Base):
    __tablename__ = "clients_a"
    __table_args__ = _client_indexes("clients_a")


class ClientsB(_ClientColumns, Base):
    __tablename__ = "clients_b"
    __table_args__ = _client_indexes("clients_b")


CLIENT_TABLES: dict[str, Table] = {
    "clients_a": cast(Table, ClientsA.__table__),
    "clients_b": cast(Table, ClientsB.__table__),
}
CLIENT_COLUMNS = (
    "line",
    "client_id",
    "name",
    "address",
    "postcode",
    "city",
    "phone",
    "phone2",
    "equipment",
    "equipment_label",
    "contract",
    "delay_label",
    "delay_hours",
    "agency",
    "valid_until",
)


class ReferenceState(Base):
    """One row: which client table and which directory import are in force."""

    __tablename__ = "reference_state"
    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    clients_table: Mapped[str | None] = mapped_column(String(20))
    clients_import: Mapped[int | None]
    directory_import: Mapped[int | None]


class ImportRecord(Base):
    """The import history: every attempt, accepted or rejected."""

    __tablename__ = "imports"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "clients" | "directory"
    status: Mapped[str] = mapped_column(String(20))  # running | accepted | rejected | failed
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    file_name: Mapped[str] = mapped_column(String(500))
    file_hash: Mapped[str] = mapped_column(String(64))
    added: Mapped[int] = mapped_column(default=0)
    changed: Mapped[int] = mapped_column(default=0)
    removed: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    report: Mapped[str] = mapped_column(Text, default="")


# --- Calls: one row per call, per event, per dial attempt, per recording --------------------


class CallRow(Base):
    """A call to the out-of-hours number: a caller's (`flow` caller: a request), or a
    technician's or manager's own (`flow` staff). The flow's state lives in `state`; the
    columns beside it are copies kept for the back office's filters."""

    __tablename__ = "calls"
    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(20), default="inbound")
    flow: Mapped[str] = mapped_column(String(20), default="caller", server_default="caller")
    from_number: Mapped[str | None] = mapped_column(String(32), index=True)
    to_number: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    twilio_status: Mapped[str] = mapped_column(String(20), default="ringing")
    status_sequence: Mapped[int] = mapped_column(default=-1)
    step: Mapped[str] = mapped_column(String(40), default="welcome")
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    turn: Mapped[int] = mapped_column(default=0)
    last_response: Mapped[str] = mapped_column(Text, default="")
    client_id: Mapped[str | None] = mapped_column(String(12), index=True)
    agency: Mapped[str | None] = mapped_column(String(20), index=True)
    danger: Mapped[str | None] = mapped_column(String(20))
    fault: Mapped[str | None] = mapped_column(String(20))
    action: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    reached: Mapped[str | None] = mapped_column(String(32))
    message_seconds: Mapped[int] = mapped_column(default=0)
    # When the dispatcher planned what follows the call (its jobs); null until then.
    followed_up_at: Mapped[datetime | None]
    # The agency's morning: who marked the request processed, and when.
    processed_at: Mapped[datetime | None]
    processed_by: Mapped[str | None] = mapped_column(String(200))
    # A caller who called again about a request in progress (ivr.services.calling_again): the
    # request this call adds to. Such a call is no request of its own.
    request_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)


class CallEventRow(Base):
    """One thing that happened in a call: a prompt played, keys, words, a decision..."""

    __tablename__ = "call_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    at: Mapped[datetime]
    turn: Mapped[int]
    step: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(30))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DialAttemptRow(Base):
    """One number dialed for a call, and what came of it."""

    __tablename__ = "dial_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))  # technician | manager | operator | ...
    number: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    leg_sid: Mapped[str | None] = mapped_column(String(64))
    accepted: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str | None] = mapped_column(
        String(20)
    )  # completed, no-answer, busy..., or the announcement's: silent, declined


class LegRow(Base):
    """The callee's side of a call the app put someone through to or placed: the announcement
    before a caller is put through (`whisper`, for a dial attempt), or the dispatcher's call
    (`dispatch_call`, for a job). Its conversation goes turn by turn like a call's; its trace
    is the request's (`call_id`)."""

    __tablename__ = "legs"
    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    flow: Mapped[str] = mapped_column(String(20))
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("dial_attempts.id"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    started_at: Mapped[datetime]
    turn: Mapped[int] = mapped_column(default=0)
    step: Mapped[str] = mapped_column(String(40))
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    last_response: Mapped[str] = mapped_column(Text, default="")


class RecordingRow(Base):
    __tablename__ = "recordings"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    duration: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(20))  # message | call | emergency
    status: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime]


# --- What callers hear, settings, alerts -----------------------------------------------------


class PromptVersionRow(Base):
    """A version of a prompt's words; the newest is in force (defaults: config/prompts.toml)."""

    __tablename__ = "prompt_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    audio_path: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("name", "version"),)


class AppSettingRow(Base):
    """A setting administrators change at run time (e.g. whole-call recording)."""

    __tablename__ = "app_settings"
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))


class JobRow(Base):
    """Work done outside a call, the source of truth of the dispatcher (docs/architecture.md):
    what, for which call, when due, how it went. `key` makes scheduling it twice a no-op;
    `provider_ref` is written the moment a provider accepted the work (a call placed, a fax
    sent), before anything else, so that a retried job never does it twice."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    due_at: Mapped[datetime]
    # Among due jobs, the lower first (ivr.domain.followup.priority): danger before the rest.
    priority: Mapped[int] = mapped_column(default=3, server_default="3")
    # pending -> running -> done | waiting (for a provider's callback) | failed | cancelled
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None]
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    provider_ref: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(String(30))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    done_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_jobs_status_priority_due_at", "status", "priority", "due_at"),)


class CallPacingRow(Base):
    """One row: when the next outbound call may be placed (microseconds since the epoch),
    shared by every worker (ivr.services.pacing)."""

    __tablename__ = "call_pacing"
    id: Mapped[int] = mapped_column(primary_key=True)
    next_slot_us: Mapped[int] = mapped_column(BigInteger, default=0)


class WorkerBeatRow(Base):
    """Each `ivr worker` says it is alive (ivr.services.worker): the operations page shows who
    was last seen when, and how late the jobs are."""

    __tablename__ = "worker_beats"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)  # host:pid
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime]


class UserRow(Base):
    """A back-office account: `admin` (everything), `manager` (a region), `agency` (one)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    region: Mapped[str | None] = mapped_column(String(20))
    agency: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    # In every session's cookie; bumped at logout, which ends every session of the account.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")


class LoginFailureRow(Base):
    """Failed logins in a row, by e-mail address and by network address (`key`): the next
    try waits longer and longer, whichever process of the app answers it."""

    __tablename__ = "login_failures"
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    failures: Mapped[int]
    last_at: Mapped[datetime]


class StaffPinRow(Base):
    """The PIN of an on-call line or of a regional manager's mobile (§6), hashed."""

    __tablename__ = "staff_pins"
    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    pin_hash: Mapped[str] = mapped_column(String(300))
    set_at: Mapped[datetime]
    set_by: Mapped[str] = mapped_column(String(200))


class CoverageRow(Base):
    """A technician's declared technical problem (§6 NOTA): their line's missed calls do not
    raise the regional manager until `until`."""

    __tablename__ = "coverage_declarations"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), index=True)
    agency: Mapped[str] = mapped_column(String(20))
    declared_at: Mapped[datetime]
    until: Mapped[datetime]
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))


class AuditRow(Base):
    """Every change made in the back office: who, when, what."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    user_email: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AlertRow(Base):
    """Something an operator must look at: a webhook that failed, a job that keeps failing."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    call_sid: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None]
    # When it was sent to the people of ALERT_EMAILS / ALERT_SMS_NUMBERS (ivr.services.alerting).
    notified_at: Mapped[datetime | None] = mapped_column(index=True)


class TextOptOutRow(Base):
    """A number that answered STOP to the callers' texts: it is not texted again."""

    __tablename__ = "text_opt_outs"
    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime]
