"""A caller's request as its call recorded it: the call's row, the caller flow's state, the
rules' decision; and what the staff are told of it (`ivr.domain.summary`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.adapters.db import Database
from ivr.adapters.orm import CallEventRow, CallRow
from ivr.domain.model import Client
from ivr.domain.summary import RequestSummary, summarise
from ivr.services.reference import ReferenceCache
from voice_flows.caller import CallerState


@dataclass(frozen=True)
class CallRecord:
    call: CallRow
    state: CallerState
    decision: dict[str, Any]  # as `Decision.as_json` gave it; empty when none was taken

    @property
    def callback(self) -> str | None:
        """The number to call the client back on."""
        return self.state.callback or self.state.caller

    def summary(self, client: Client | None) -> RequestSummary:
        """What the staff are told of this request (`client`: its client, if known)."""
        state = self.state
        return summarise(
            self.call.request_id or self.call.id,  # a call again is heard as its request
            client,
            fault=state.fault,
            danger=state.danger,
            callback=self.callback,
            postcode=state.postcode,
        )


def record_of(session: Session, call: CallRow) -> CallRecord:
    decision = session.scalar(
        select(CallEventRow.detail)
        .where(CallEventRow.call_id == call.id, CallEventRow.kind == "decision")
        .order_by(CallEventRow.id.desc())
        .limit(1)
    )
    return CallRecord(call, CallerState.from_dict(call.state), dict(decision or {}))


def text_values(record: CallRecord, reference: ReferenceCache, db: Database) -> dict[str, str]:
    """What a text message says of a request (its client looked up in the file in force)."""
    client_id = record.call.client_id
    client = reference.client(db, client_id) if client_id else None
    return record.summary(client).values(spoken=False)
