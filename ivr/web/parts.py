"""The app's parts, as the composition root handed them in (`app.extensions`), typed."""

from __future__ import annotations

from typing import Any

from flask import current_app

from ivr.adapters.db import Database
from ivr.clock import Clock
from ivr.services.reference import ReferenceCache
from ivr.settings import Settings


def part(name: str) -> Any:
    return current_app.extensions[name]


def db() -> Database:
    found: Database = part("ivr.db")
    return found


def clock() -> Clock:
    found: Clock = part("ivr.clock")
    return found


def settings() -> Settings:
    found: Settings = part("ivr.settings")
    return found


def reference() -> ReferenceCache:
    found: ReferenceCache = part("ivr.reference")
    return found
