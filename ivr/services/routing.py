"""Routing a call from stored data: load what `decide` needs, then let it decide."""

from __future__ import annotations

from datetime import datetime

from ivr.adapters.db import Database
from ivr.adapters.repository import find_client, load_directory
from ivr.domain.routing import Call, Decision, decide
from ivr.settings import Settings


def route_call(
    db: Database, settings: Settings, client_id: str, at: datetime, danger: bool = False
) -> Decision:
    """The decision for a call from the client with `client_id` (unknown: not covered)."""
    with db.session() as session:
        client = find_client(session, client_id)
        directory = load_directory(session)
    return decide(
        Call(at=at, client=client, danger=danger), directory, settings.NATIONAL_DUTY_NUMBER
    )
