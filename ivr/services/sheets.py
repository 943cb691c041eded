"""The summary sheet (§5.2): what it says of a request, when it goes, and its delivery to a fax
(the agency's; the regional direction's too, for a danger), followed until the provider says
it arrived.

The agency always gets its sheet, once the request's fate is known: nobody could be reached,
someone took it (while the caller waited, when the dispatcher called, or from their own
phone), or nobody was to be called. What changes after it went (the morning's call, what the
technician reported, the client's later calls about it) goes on a short follow-up sheet; a
sheet still to go is drawn when it goes, and says it already.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ivr.adapters.db import Database
from ivr.adapters.fax import Fax, FaxTransport, fax_callback_token, make_transport
from ivr.adapters.metrics import FAX_DELIVERIES
from ivr.adapters.orm import CallEventRow, CallRow, DialAttemptRow, JobRow
from ivr.adapters.sheet import (
    FollowUpData,
    SheetAttempt,
    SheetData,
    SheetReach,
    render_follow_up,
    render_sheet,
)
from ivr.clock import Clock
from ivr.domain import followup
from ivr.domain.local_time import in_paris
from ivr.domain.outcomes import RequestOutcome
from ivr.domain.phones import digit_pairs
from ivr.domain.progress import CLOSED_BY_CLIENT
from ivr.domain.routing import Action
from ivr.domain.summary import equipment_words
from ivr.domain.triage import Danger, Fault
from ivr.domain.wording import lasting, when
from ivr.services import jobs
from ivr.services.records import CallRecord, record_of
from ivr.services.reference import ReferenceCache
from ivr.settings import Settings

WAIT_FOR_FAX = timedelta(minutes=10)


@dataclass(frozen=True)
class _Person:
    """Whoever has a number, as the sheet names them."""

    title: str  # the box's headline: « Technicien joint »
    role: str  # « technicien d'astreinte »
    the_role: str  # « le technicien d'astreinte », « la permanence nationale »
    name: str = ""

    @property
    def who(self) -> str:
        return f"{self.role} {self.name}".strip()

    @property
    def the(self) -> str:
        return f"{self.the_role} {self.name}".strip()


_ROLES = {
    "technician": _Person(
        "Technicien joint", "technicien d'astreinte", "le technicien d'astreinte"
    ),
    "manager": _Person(
        "Cadre régional joint", "cadre régional d'astreinte", "le cadre régional d'astreinte"
    ),
    "national": _Person(
        "Permanence nationale jointe", "permanence nationale", "la permanence nationale"
    ),
    "operator": _Person("Conseiller joint", "conseiller", "le conseiller"),
    "legacy": _Person(
        "Astreinte habituelle jointe",
        "astreinte habituelle de l'agence",
        "l'astreinte habituelle de l'agence",
    ),
    "client": _Person("Client joint", "client", "le client"),
}
_TAKEN = {  # how someone the dispatcher called took the request
    "put_through": "a répondu à l'appel du service d'astreinte et a été mis en relation avec le "
    "client",
    RequestOutcome.ACKNOWLEDGED.value: "a répondu à l'appel du service d'astreinte et a pris "
    "la demande en charge",
}
_CLOSED = "le problème est réglé, la demande est close"  # the client said so, calling again


def plan_request_sheets(
    session: Session, queue: jobs.JobQueue, call: CallRow, at: datetime
) -> None:
    """The request's sheet to each fax its decision names, once (its job's key): a second
    plan changes nothing."""
    faxes = tuple(record_of(session, call).decision.get("fax_numbers", ()))
    for job in followup.sheets(call.id, faxes, at):
        queue.schedule(session, job.kind, job.key, job.due_at, call.id, job.payload)


def plan_follow_up(
    session: Session, queue: jobs.JobQueue, call_id: int, key: str, change: dict[str, Any]
) -> None:
    """What changed (`change`: what, by whom, when) on a short sheet, to each fax the request's
    sheet went to already; one still to go says it itself. The sheets are locked meanwhile:
    a worker cannot draw one between this look and the change's commit."""
    sheets = session.scalars(
        select(JobRow).where(JobRow.call_id == call_id, JobRow.kind == "sheet").with_for_update()
    ).all()
    gone = dict.fromkeys(j.payload["to"] for j in sheets if _drawn(j))
    for fax in gone:
        payload = {"to": fax, "change": change}
        queue.schedule(session, "sheet", f"{key}:{fax}", queue.clock.now(), call_id, payload)


def _drawn(job: JobRow) -> bool:
    """A request's sheet drawn already: being sent, sent, or waiting to be sent again after a
    provider's hiccup (it keeps its reference, and is not drawn again)."""
    return not job.payload.get("change") and (
        job.status != "pending" or job.provider_ref is not None
    )


@dataclass
class Sheets:
    db: Database
    clock: Clock
    reference: ReferenceCache
    queue: jobs.JobQueue
    fax: FaxTransport | None  # none configured: every sheet fails, visibly
    national_duty_number: str | None = None

    def send(self, job: jobs.Job) -> jobs.JobOutcome:
        """The `sheet` job: the request's sheet (or a follow-up), to one fax number, until it
        is delivered."""
        if self.fax is None:
            raise jobs.PermanentError("no fax transport configured")
        if job.provider_ref is not None:
            return self._status(job, job.provider_ref)
        if job.call_id is None:
            raise jobs.PermanentError("a sheet without its call")
        with self.db.snapshot() as session:
            call = session.get_one(CallRow, job.call_id)
        change = job.payload.get("change")
        pdf = self.follow_up_pdf(call, change) if change else self.pdf(job.call_id)
        with jobs.provider_errors():
            reference = self.fax.send(Fax(job.payload["to"], self._name(job, call), pdf, call.sid))
        self.queue.record_ref(job, reference)
        return self._status(job, reference)

    def _name(self, job: jobs.Job, call: CallRow) -> str:
        """Named after the sheet's reference and whom it is for: the same name when the job
        runs again (a transport may drop the duplicate), a new one when the provider failed to
        deliver the last."""
        directory = self.reference.directory(self.db)
        to = job.payload["to"]
        agency = directory.agencies.get(call.agency or "")
        regions = {r.fax for r in directory.regions.values()}
        recipient = "agence" if agency and agency.fax == to else "direction-regionale"
        if to not in regions and recipient != "agence":
            recipient = f"fax-{to.lstrip('+')}"
        name = (
            f"fiche-{call.id}-suite-{job.id}" if job.payload.get("change") else f"fiche-{call.id}"
        )
        resends = int(job.payload.get("resends", 0))
        return f"{name}-{recipient}" + (f"-renvoi-{resends}" if resends else "")

    def _status(self, job: jobs.Job, reference: str) -> jobs.JobOutcome:
        assert self.fax is not None
        with jobs.provider_errors():
            status = self.fax.status(reference)
        if status == "completed":
            return jobs.Done("delivered")
        if status == "failed":
            self.queue.forget_ref(job)  # send it again, later
            raise jobs.TransientError("the fax provider could not deliver the sheet")
        return jobs.Waiting(self.clock.now() + WAIT_FOR_FAX)

    def delivered(self, reference: str, status: str) -> bool:
        """The fax provider's delivery report (its callback): the sheet is delivered, or is
        sent again. False when no sheet waits for that fax."""
        with self.db.session() as session:
            row = session.scalars(
                select(JobRow).where(
                    JobRow.kind == "sheet",
                    JobRow.provider_ref == reference,
                    JobRow.status.in_(("pending", "running", "waiting")),
                )
            ).first()
            if row is None:
                return False
            now = self.clock.now()
            row.updated_at, row.lease_until = now, None
            FAX_DELIVERIES.labels(status).inc()
            if status == "completed":
                row.status, row.outcome, row.done_at = "done", "delivered", now
            elif status == "failed":
                row.payload = {**row.payload, "resends": int(row.payload.get("resends", 0)) + 1}
                row.provider_ref, row.status, row.due_at = None, "pending", now
                row.last_error = "the fax provider could not deliver the sheet"
            return True

    # --- What a sheet says ------------------------------------------------------------------

    def pdf(self, call_id: int) -> bytes:
        """The request's sheet as it stands: what the call established, who was tried, who
        took it, how and when, and what came of it when someone reported it."""
        with self.db.snapshot() as session:
            record = record_of(session, session.get_one(CallRow, call_id))
            added = select(CallRow.id).where(CallRow.request_id == call_id)
            attempts = session.scalars(
                select(DialAttemptRow)
                .where(or_(DialAttemptRow.call_id == call_id, DialAttemptRow.call_id.in_(added)))
                .order_by(DialAttemptRow.id)
            ).all()
            lines = session.scalars(
                select(JobRow).where(JobRow.call_id == call_id, JobRow.kind == "call_line")
            ).all()
            reports = session.execute(
                select(CallEventRow.at, CallEventRow.detail)
                .where(CallEventRow.call_id == call_id, CallEventRow.kind == "staff_outcome")
                .order_by(CallEventRow.id)
            ).all()
            again = session.scalars(
                select(CallEventRow.detail)
                .where(CallEventRow.call_id == call_id, CallEventRow.kind == "called_again")
                .order_by(CallEventRow.id)
            ).all()
            alerts = session.execute(
                select(CallEventRow.at, CallEventRow.detail)
                .where(
                    CallEventRow.call_id == call_id, CallEventRow.kind == followup.MANAGER_ALERTED
                )
                .order_by(CallEventRow.id)
            ).all()
            received = in_paris(record.call.started_at).date()
            said_again = [self._again(session, d["call"], d.get("choice"), received) for d in again]
        data = self._data(record, list(attempts), list(lines))
        reached = self._reach(call_id, list(attempts), list(lines), list(reports))
        data = replace(data, reached=reached, called_again=tuple(said_again))
        if alerts:  # the last time the manager was told of it
            at, detail = alerts[-1]
            data = replace(data, manager_alerted=f"{_alerted(detail)}, le {when(at)}")
        final = [r.detail for r in reports if r.detail.get("outcome") != "acknowledged"]
        if final:
            said = final[-1].get("label", final[-1].get("outcome", ""))
            slot = f", {final[-1]['slot']}" if final[-1].get("slot") else ""
            data = replace(data, follow_up=f"{said}{slot}", title_suffix=" — suite donnée")
        if any(d.get("choice") == "solved" for d in again):
            data = replace(data, title_suffix=" — demande close par le client")
        return render_sheet(data)

    def follow_up_pdf(self, call: CallRow, change: dict[str, Any]) -> bytes:
        """The short sheet of what changed since the request's sheet went."""
        client = self.reference.client(self.db, call.client_id) if call.client_id else None
        where = (
            f"{client.name}, {client.address}, {client.postcode} {client.city}"
            if client
            else "client non identifié"
        )
        at = datetime.fromisoformat(change["at"])
        if change["what"] in ("called_again", CLOSED_BY_CLIENT):
            choice = "solved" if change["what"] == CLOSED_BY_CLIENT else "add"
            with self.db.snapshot() as session:
                said = self._again(session, change["call"], choice, in_paris(at).date())
        else:
            said = self._change(change)
        return render_follow_up(
            FollowUpData(
                reference=str(call.id),
                received_at=call.started_at,
                agency=self._agency(call.agency),
                client=where,
                change=said,
                at=at,
            )
        )

    def _again(self, session: Session, call_id: int, choice: str | None, today: date) -> str:
        """What a later call of the client did to their request (`choice`: "solved", else a
        message added, its lines tried again), in one sentence; `today`: the day its time is
        said without a date."""
        call = session.get_one(CallRow, call_id)
        local = in_paris(call.started_at)
        at = f"à {local:%H:%M}" if local.date() == today else f"le {when(local)}"
        said = f"Le client a rappelé {at}"
        if choice == "solved":
            closings = session.scalars(
                select(CallEventRow.detail).where(
                    CallEventRow.call_id == call.request_id,
                    CallEventRow.kind == CLOSED_BY_CLIENT,
                )
            )
            cancelled = any(d.get("call") == call_id and d.get("cancelled") for d in closings)
            planned = " ; les appels prévus ont été annulés" if cancelled else ""
            return f"{said} : {_CLOSED}{planned}."
        if call.ended_at is None:
            return f"{said} ; son appel était en cours quand cette fiche est partie."
        attempts = session.scalars(
            select(DialAttemptRow).where(DialAttemptRow.call_id == call_id)
        ).all()
        clauses = []
        taken = next((a for a in attempts if a.accepted), None)
        if taken is not None:
            the = self._person(taken.number, taken.role).the
            clauses.append(f"a été mis en relation avec {the} ({digit_pairs(taken.number)})")
        elif attempts:
            clauses.append("n'a pu être mis en relation avec personne")
        if call.message_seconds > 0:
            clauses.append(f"a laissé un message de {lasting(call.message_seconds)}")
        elif attempts and taken is None:
            clauses.append("n'a pas laissé de message")
        return f"{said} : il {' et '.join(clauses)}." if clauses else f"{said}, sans message."

    def _change(self, change: dict[str, Any]) -> str:
        """One sentence for the agency: who, what."""
        if change["what"] == followup.MANAGER_ALERTED:
            return f"{_alerted(change)}."
        if change["what"] == "unreached":
            return (
                f"Le service d'astreinte n'a pu joindre personne après {change['tries']} "
                "appel(s) : la demande reste à traiter."
            )
        number = change["by"]
        the = self._person(number, change.get("role")).the
        who = f"{the[:1].upper()}{the[1:]} ({digit_pairs(number)})"
        if change["what"] == "reported":
            outcome = RequestOutcome(change["outcome"]).label
            slot = f", {change['slot']}" if change.get("slot") else ""
            return f"{who} indique : {outcome}{slot}."
        return f"{who} a répondu à l'appel du service d'astreinte et a pris la demande."

    def _reach(
        self, call_id: int, attempts: list[DialAttemptRow], lines: list[JobRow], reports: list[Any]
    ) -> SheetReach | None:
        """Who took the request first, how and when: put through while the caller waited (on
        their call, or when they called again), on the dispatcher's call, or from their own
        phone."""
        found: list[tuple[datetime, str, str | None, str]] = [
            (
                a.started_at,
                a.number,
                a.role,
                "mis en relation avec l'appelant pendant son appel"
                if a.call_id == call_id
                else "mis en relation avec le client quand il a rappelé",
            )
            for a in attempts
            if a.accepted
        ]
        found += [
            (
                _taken_at(j),
                j.payload["numbers"][j.payload["index"]],
                j.payload["role"],
                _TAKEN.get(
                    j.payload["taken"],
                    "a répondu à l'appel du service d'astreinte et a indiqué la suite donnée",
                ),
            )
            for j in lines
            if j.payload.get("taken")  # also while still on the line
        ]
        found += [
            (r.at, r.detail["by"], None, "a pris la demande en charge depuis son téléphone")
            for r in reports
            if "job" not in r.detail  # reported on the dispatcher's call: counted above
        ]
        if not found:
            return None
        at, number, role, how = min(found, key=lambda f: f[0])
        person = self._person(number, role)
        who = person.who
        return SheetReach(person.title, who[:1].upper() + who[1:], number, how, at)

    def _person(self, number: str, role: str | None) -> _Person:
        """Whoever has `number` (`role`: what they were called as)."""
        if number and number == self.national_duty_number:
            return _ROLES["national"]
        name = self.reference.directory(self.db).manager_named(number) if number else None
        if name:
            return replace(_ROLES["manager"], name=name)
        return _ROLES.get(role or "technician", _ROLES["technician"])

    def _awaited(self, record: CallRecord) -> str:
        """Who the rules meant to reach, as the box says they were not: the decision's first
        number (a manager, the national duty number), else the technician."""
        numbers = record.decision.get("call_numbers") or [""]
        roles = {Action.ESCALATE.value: "manager", Action.LEGACY.value: "legacy"}
        return self._person(numbers[0], roles.get(record.call.action or "", "technician")).title

    def _agency(self, cia: str | None) -> str | None:
        """The agency's name with its code."""
        agency = self.reference.directory(self.db).agencies.get(cia or "")
        return f"{agency.name} ({agency.cia})" if agency else cia

    def _data(
        self, record: CallRecord, attempts: list[DialAttemptRow], lines: list[JobRow]
    ) -> SheetData:
        call, state = record.call, record.state
        client = self.reference.client(self.db, call.client_id) if call.client_id else None
        tried = [
            SheetAttempt(
                a.number,
                self._person(a.number, a.role).who,
                a.started_at,
                a.outcome or "",
                a.accepted,
            )
            for a in attempts
        ] + [
            SheetAttempt(
                j.payload["numbers"][j.payload["index"]],
                self._person(j.payload["numbers"][j.payload["index"]], j.payload["role"]).who,
                j.updated_at,
                j.outcome or j.status,
                j.outcome == "reached",
            )
            for j in lines
            if j.status in ("done", "waiting")
        ]
        next_morning = next(
            (
                j.due_at
                for j in lines
                if j.payload.get("purpose") == "next_morning" and j.status != "cancelled"
            ),
            None,
        )
        return SheetData(
            reference=f"{call.id}",
            received_at=call.started_at,
            client_id=call.client_id,
            client_name=client.name if client else None,
            address=client.address if client else None,
            postcode=client.postcode if client else state.postcode,
            city=client.city if client else None,
            phones=tuple(filter(None, [client.phone, client.phone2])) if client else (),
            callback_number=record.callback,
            equipment=equipment_words(client) if client else None,
            contract=client.contract.label if client else None,
            delay=client.delay_label if client else None,
            fault=Fault(state.fault).label if state.fault else None,
            caller_words=state.own_words(),
            danger=Danger(state.danger).label if state.danger else None,
            action=call.action or Action.NOT_COVERED.value,
            reason=call.reason or "",
            reached=None,
            awaited=self._awaited(record),
            attempts=tuple(sorted(tried, key=lambda a: a.at)),
            next_morning_at=next_morning,
            message_left=call.message_seconds > 0,
            message_seconds=call.message_seconds,
            voicemail_message_left=any(j.outcome == "voicemail" for j in lines),
            agency=self._agency(call.agency),
            details_confirmed=state.details_confirmed,
        )


def _taken_at(job: JobRow) -> datetime:
    """When the person the dispatcher called took the request (before `taken_at` was kept:
    the job's last change)."""
    taken_at = job.payload.get("taken_at")
    return datetime.fromisoformat(taken_at) if taken_at else job.updated_at


def _alerted(detail: dict[str, Any]) -> str:
    """The regional manager (none on duty: the national duty number) told of the request with
    the others the technician's line left waiting (ivr.services.unreachable)."""
    who = "permanence nationale alertée" if detail.get("national") else "cadre régional alerté"
    return f"Technicien injoignable {detail['times']} fois de suite : {who} (appel et SMS)"


def make_sheets(
    db: Database, settings: Settings, clock: Clock, reference: ReferenceCache, queue: jobs.JobQueue
) -> Sheets:
    """The sheets, through the fax transport of FAX_TRANSPORT (reporting deliveries to
    /fax/status when SECRET_KEY is set; else the worker asks the provider)."""
    token = fax_callback_token(settings)
    callback = f"{settings.PUBLIC_BASE_URL}/fax/status?token={token}" if token else None
    transport = make_transport(settings, callback)
    return Sheets(db, clock, reference, queue, transport, settings.NATIONAL_DUTY_NUMBER)
