"""Reading the reference data in force as domain values."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from ivr.adapters.orm import (
    CLIENT_TABLES,
    AgencyRow,
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


def _client(row: Any) -> Client:
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


def table_in_force(session: Session) -> Table | None:
    """The client table in force. The other one keeps the previous file until the next
    import, so a lookup that straddles a swap still reads one complete file."""
    name = session.scalar(select(ReferenceState.clients_table).where(ReferenceState.id == 1))
    return CLIENT_TABLES.get(name or "")


def find_client(session: Session, client_id: str, table: Table | None = None) -> Client | None:
    """The client with that contract number in the client file in force (`table`, when the
    caller already knows which)."""
    table = table if table is not None else table_in_force(session)
    if table is None:
        return None
    row = session.execute(select(table).where(table.c.client_id == client_id)).first()
    return _client(row) if row else None


def clients_with_phone(session: Session, e164: str, table: Table | None) -> list[Client]:
    """Clients whose main or second phone is this number (to propose, never to skip asking),
    in the client file `table`."""
    if table is None:
        return []
    found = select(table).where((table.c.phone == e164) | (table.c.phone2 == e164)).limit(5)
    return [_client(row) for row in session.execute(found)]


def client_count(session: Session) -> int:
    """How many clients the file in force holds."""
    table = table_in_force(session)
    if table is None:
        return 0
    return session.scalar(select(func.count()).select_from(table)) or 0
