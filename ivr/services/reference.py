"""What changes once a week, kept in memory: the directory, the client table in force, the
prompts, the recording setting.

Their versions are read again at most once a second per process: a change (an import, a
prompt edited, recording turned on) applies to calls within a second, and a webhook does not
spend four queries a turn asking whether anything changed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from sqlalchemy import Table, func, select

from ivr.adapters import prompt_store
from ivr.adapters.db import Database
from ivr.adapters.orm import CLIENT_TABLES, AppSettingRow, PromptVersionRow, ReferenceState
from ivr.adapters.repository import find_client, load_directory
from ivr.domain.model import Client, Directory
from ivr.domain.prompts import Prompts
from ivr.services.app_settings import RECORD_CALLS

FRESH_FOR = 1.0  # seconds
_CLIENTS_KEPT = 10_000  # the clients of calls under way, and then some


@dataclass(frozen=True)
class Versions:
    directory: int | None
    clients_table: str | None
    prompts: int | None
    record_calls: bool


class ReferenceCache:
    def __init__(self) -> None:
        self._lock = Lock()
        self._versions: Versions | None = None
        self._read_at = 0.0
        self._directory: tuple[int | None, Directory] | None = None
        self._prompts: tuple[int | None, Prompts] | None = None
        self._clients: OrderedDict[tuple[str, str], Client | None] = OrderedDict()

    def versions(self, db: Database) -> Versions:
        with self._lock:
            if self._versions is None or time.monotonic() - self._read_at >= FRESH_FOR:
                self._versions = self._read_versions(db)
                self._read_at = time.monotonic()
            return self._versions

    @staticmethod
    def _read_versions(db: Database) -> Versions:
        with db.snapshot() as session:
            state = session.execute(
                select(ReferenceState.directory_import, ReferenceState.clients_table).where(
                    ReferenceState.id == 1
                )
            ).first()
            record = session.scalar(
                select(AppSettingRow.value).where(AppSettingRow.key == RECORD_CALLS)
            )
            return Versions(
                directory=state.directory_import if state else None,
                clients_table=state.clients_table if state else None,
                prompts=session.scalar(select(func.max(PromptVersionRow.id))),
                record_calls=record == "on",
            )

    def directory(self, db: Database) -> Directory:
        key = self.versions(db).directory
        with self._lock:
            if self._directory is None or self._directory[0] != key:
                with db.snapshot() as session:
                    self._directory = (key, load_directory(session))
            return self._directory[1]

    def prompts(self, db: Database) -> Prompts:
        key = self.versions(db).prompts
        with self._lock:
            if self._prompts is None or self._prompts[0] != key:
                with db.snapshot() as session:
                    self._prompts = (key, prompt_store.load(session))
            return self._prompts[1]

    def clients_table(self, db: Database) -> Table | None:
        return CLIENT_TABLES.get(self.versions(db).clients_table or "")

    def client(self, db: Database, client_id: str) -> Client | None:
        """A client of the file in force. Kept by (table, id): an import loads the other
        table, so a kept client can never be one of an older file."""
        name = self.versions(db).clients_table
        table = CLIENT_TABLES.get(name or "")
        if table is None:
            return None
        key = (name or "", client_id)
        with self._lock:
            if key in self._clients:
                self._clients.move_to_end(key)
                return self._clients[key]
        with db.snapshot() as session:
            client = find_client(session, client_id, table)
        with self._lock:
            self._clients[key] = client
            if len(self._clients) > _CLIENTS_KEPT:
                self._clients.popitem(last=False)
        return client

    def forget(self) -> None:
        """Read everything again at the next call (tests, and after a change made here)."""
        with self._lock:
            self._versions = None
