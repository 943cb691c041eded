"""Reading the reference data in force as domain values."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.adapters.orm import (
    AgencyRow,
    ClientRow,
    ManagerShiftRow,
    OnCallLineRow,
    OnCallWindowRow,
    ReferenceState,
    RegionRow,
)
from ivr.domain.model import (
    Agency,
    Client,
    Contract,
    Directory,
    Equipment,
    ManagerShift,
    OnCallLine,
    OnCallType,
    OnCallWindow,
    Region,
)


def reference_state(session: Session) -> ReferenceState:
    """The single state row, created on first use."""
    state = session.get(ReferenceState, 1)
    if state is None:
        state = ReferenceState(id=1)
        session.add(state)
        session.flush()
    return state


def load_directory(session: Session) -> Directory:
    """The whole directory in force (hundreds of rows: read at once, cached by the caller)."""
    return Directory.build(
        regions=[
            Region(r.code, r.name, r.phone, r.fax, r.email)
            for r in session.scalars(select(RegionRow))
        ],
        agencies=[
            Agency(
                a.cia,
                a.name,
                a.region,
                a.address,
                a.postcode,
                a.city,
                a.phone,
                a.fax,
                a.department,
                a.email,
                a.live_from,
                a.legacy_number,
            )
            for a in session.scalars(select(AgencyRow))
        ],
        windows=[
            OnCallWindow(
                w.cia, OnCallType(w.oncall_type), frozenset(w.days.split(",")), w.start, w.end
            )
            for w in session.scalars(select(OnCallWindowRow).order_by(OnCallWindowRow.id))
        ],
        lines=[
            OnCallLine(x.cia, OnCallType(x.oncall_type), x.mobile, x.priority, x.label)
            for x in session.scalars(select(OnCallLineRow))
        ],
        shifts=[
            ManagerShift(s.region, s.name, s.mobile, s.start, s.end)
            for s in session.scalars(select(ManagerShiftRow))
        ],
    )


def _client(row: ClientRow) -> Client:
    return Client(
        client_id=row.client_id,
        name=row.name,
        address=row.address,
        postcode=row.postcode,
        city=row.city,
        phone=row.phone,
        phone2=row.phone2,
        equipment=Equipment(row.equipment),
        equipment_label=row.equipment_label,
        contract=Contract(row.contract),
        delay_label=row.delay_label,
        delay_hours=row.delay_hours,
        agency=row.agency,
        valid_until=row.valid_until,
    )


# In the same statement as the lookup, so that a swap between two statements cannot matter.
_IN_FORCE = (
    select(ReferenceState.clients_generation).where(ReferenceState.id == 1).scalar_subquery()
)


def find_client(session: Session, client_id: str) -> Client | None:
    """The client with that contract number in the client file in force."""
    row = session.scalar(
        select(ClientRow).where(ClientRow.generation == _IN_FORCE, ClientRow.client_id == client_id)
    )
    return _client(row) if row else None


def clients_with_phone(session: Session, e164: str) -> list[Client]:
    """Clients whose main or second phone is this number (to propose, never to skip asking)."""
    by_phone = select(ClientRow).where(ClientRow.generation == _IN_FORCE)
    either = by_phone.where(ClientRow.phone == e164).union(by_phone.where(ClientRow.phone2 == e164))
    rows = session.scalars(select(ClientRow).from_statement(either.limit(5)))
    return [_client(row) for row in rows]
