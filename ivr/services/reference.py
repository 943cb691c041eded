"""The directory in force, kept in memory and read again only after an import."""

from __future__ import annotations

from threading import Lock

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.adapters.orm import ReferenceState
from ivr.adapters.repository import load_directory
from ivr.domain.model import Directory


class DirectoryCache:
    """One cheap query a call says whether the directory changed since it was read."""

    def __init__(self) -> None:
        self._lock = Lock()
        self._key: int | None = -1
        self._directory = Directory()

    def current(self, session: Session) -> Directory:
        key = session.scalar(select(ReferenceState.directory_import).where(ReferenceState.id == 1))
        with self._lock:
            if key != self._key:
                self._directory, self._key = load_directory(session), key
            return self._directory
