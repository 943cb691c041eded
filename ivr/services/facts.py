"""What the flows ask of the world (`voice_flows`' facts protocols), answered from the database
and the reference data in force.

Most questions need no query: what changes once a week is kept in `ReferenceCache`; a snapshot
is opened only for what is not kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ivr.adapters.db import Database
from ivr.adapters.orm import AppSettingRow
from ivr.adapters.repository import clients_with_phone
from ivr.clock import Clock
from ivr.domain.geography import agency_for_postcode
from ivr.domain.local_time import in_paris
from ivr.domain.model import Client
from ivr.domain.oncall import agency_opening, local_date
from ivr.domain.progress import Progress
from ivr.domain.routing import Call, Decision, decide
from ivr.domain.spoken import hour_said, said
from ivr.domain.triage import Danger, Fault
from ivr.services import calling_again, staff
from ivr.services.reference import ReferenceCache
from ivr.settings import Settings
from voice_flows.staff import WaitingRequest


@dataclass
class World:
    """The world as the flows see it during one turn."""

    db: Database
    reference: ReferenceCache
    settings: Settings
    clock: Clock

    def client(self, client_id: str) -> Client | None:
        return self.reference.client(self.db, client_id)

    @property
    def now(self) -> datetime:
        return self.clock.now()


class CallerWorld(World):
    """`voice_flows.caller.CallerFacts`."""

    @property
    def operator_number(self) -> str | None:
        return self.settings.OPERATOR_NUMBER

    @property
    def national_duty_number(self) -> str | None:
        return self.settings.NATIONAL_DUTY_NUMBER

    @property
    def speech(self) -> bool:
        return self.settings.IVR_SPEECH

    @property
    def recording_calls(self) -> bool:
        return self.reference.versions(self.db).record_calls

    def clients_with_phone(self, number: str) -> list[Client]:
        with self.db.snapshot() as session:
            return clients_with_phone(session, number, self.reference.clients_table(self.db))

    def decide(
        self,
        client: Client | None,
        danger: bool,
        postcode: str | None,
        legacy_unreached: bool = False,
    ) -> Decision:
        call = Call(self.clock.now(), client, danger, postcode, legacy_unreached)
        return decide(call, self.reference.directory(self.db), self.settings.NATIONAL_DUTY_NUMBER)

    def region_of_postcode(self, postcode: str) -> str | None:
        agency = agency_for_postcode(self.reference.directory(self.db), postcode)
        return agency.region if agency else None

    def agency_for(self, client_id: str | None, postcode: str | None) -> str | None:
        """The agency a caller's request is for: their client's, else the postcode's."""
        client = self.client(client_id) if client_id else None
        if client is not None:
            return client.agency
        return self.agency_of_postcode(postcode) if postcode else None

    def agency_of_postcode(self, postcode: str) -> str | None:
        agency = agency_for_postcode(self.reference.directory(self.db), postcode)
        return agency.cia if agency else None

    def agency_opening(self, client: Client) -> datetime | None:
        agency = self.reference.directory(self.db).agencies[client.agency]
        return agency_opening(self.clock.now(), agency.department)

    def gas_emergency_number(self, client: Client | None) -> str:
        if client is not None:
            with self.db.snapshot() as session:
                override = session.get(AppSettingRow, f"gas_emergency_number:{client.agency}")
            if override is not None:
                return override.value
        return self.settings.GAS_EMERGENCY_NUMBER

    def request_in_progress(self, client_id: str | None, number: str | None) -> Progress | None:
        with self.db.snapshot() as session:
            now = self.clock.now()
            return calling_again.request_in_progress(session, now, client_id, number)

    def progress(self, request_id: int) -> Progress | None:
        with self.db.snapshot() as session:
            return calling_again.progress_of(session, request_id)


class StaffWorld(World):
    """`voice_flows.staff.StaffFacts`."""

    def agency_lines(self, agency: str) -> list[str]:
        return [line.mobile for line in self.reference.directory(self.db).lines.get(agency, ())]

    def pin_of(self, numbers: list[str], pin: str) -> str | None:
        return staff.pin_ok(self.db, numbers, pin)

    def waiting(self, agency: str) -> list[WaitingRequest]:
        return [self._heard(w) for w in staff.waiting_requests(self.db, self.clock, agency)]

    def request(self, call_id: int) -> WaitingRequest | None:
        found = staff.request_of(self.db, call_id)
        return self._heard(found) if found is not None else None

    def alerts(self, region: str) -> list[WaitingRequest]:
        directory = self.reference.directory(self.db)
        return [
            self._heard(w, self._alerted_for(w), self._line_of(w))
            for w in staff.alerts(self.db, self.clock, directory, region)
        ]

    def _alerted_for(self, waiting: staff.Waiting) -> str:
        """The danger; or the unreachable technician, the fault and the reference the
        manager's text lists it by."""
        if waiting.danger:
            return Danger(waiting.danger).label
        fault = Fault(waiting.fault).label if waiting.fault else "panne non précisée"
        return f"technicien injoignable, {fault}, référence {' '.join(str(waiting.call_id))}"

    def _line_of(self, waiting: staff.Waiting) -> str | None:
        """The agency's on-call line for the request's client: of its contract's on-call type
        (a boiler room's is not the individual clients'); else the agency's first."""
        if not waiting.agency:
            return None
        client = self.client(waiting.client_id) if waiting.client_id else None
        kind = client.oncall_type(local_date(self.now)) if client else None
        lines = self.reference.directory(self.db).lines_for(waiting.agency, kind) if kind else ()
        return next(
            iter([line.mobile for line in lines] or self.agency_lines(waiting.agency)), None
        )

    def _heard(
        self, waiting: staff.Waiting, what: str | None = None, line: str | None = None
    ) -> WaitingRequest:
        """A request as the staff's flow says it: when, who and where, what (its fault, unless
        `what` says otherwise)."""
        if what is None:
            what = Fault(waiting.fault).label if waiting.fault else "panne non précisée"
        client = self.client(waiting.client_id) if waiting.client_id else None
        local = in_paris(waiting.started_at)
        return WaitingRequest(
            waiting.call_id,
            hour_said(local.hour, local.minute),
            said(f"{client.name}, {client.address}, à {client.city}")
            if client
            else "un appelant sans contrat",
            what,
            waiting.message_seconds,
            waiting.callback,
            line,
            waiting.message_url,
        )
