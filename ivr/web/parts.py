"""The app's parts, as the composition root handed them in (`app.extensions`), typed."""

from __future__ import annotations

from typing import Any, cast

from flask import current_app

from ivr.adapters.db import Database
from ivr.clock import Clock
from ivr.services.reference import ReferenceCache
from ivr.settings import Settings


def part(name: str) -> Any:
    return current_app.extensions[name]


def db() -> Database:
    return cast(Database, part("ivr.db"))


def clock() -> Clock:
    return cast(Clock, part("ivr.clock"))


def settings() -> Settings:
    return cast(Settings, part("ivr.settings"))


def reference() -> ReferenceCache:
    return cast(ReferenceCache, part("ivr.reference"))
