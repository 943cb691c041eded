"""Where the prompts come from: their defaults in `config/prompts.toml`, the versions saved by
administrators in the database (the newest of each is in force); and what the back office
tells administrators of each prompt (the moment of the call, a French title, when it is
heard), from the same file."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ivr.adapters.orm import PromptVersionRow
from ivr.domain.prompts import PromptDefault, Prompts

DEFAULTS = Path(__file__).resolve().parents[2] / "config" / "prompts.toml"


MOMENTS = "moments"  # the file's list of the moments of a call; every other table is a prompt


@dataclass(frozen=True)
class Moment:
    """A moment of a call, as the back office groups the prompts."""

    key: str
    name: str  # French
    about: str  # French: what happens then


@dataclass(frozen=True)
class PromptGuide:
    """What an administrator is told of a prompt; empty where the file says nothing."""

    moment: str  # a `Moment.key`
    title: str  # French
    heard: str  # French: when it is heard


@cache
def _file() -> dict[str, Any]:
    return tomllib.loads(DEFAULTS.read_text(encoding="utf-8"))


def _prompt_tables() -> dict[str, dict[str, Any]]:
    return {name: entry for name, entry in _file().items() if name != MOMENTS}


@cache
def defaults() -> Mapping[str, PromptDefault]:
    """Every prompt the flows may use, with its default words."""
    return {
        name: PromptDefault(name, entry["text"], tuple(entry.get("placeholders", ())))
        for name, entry in _prompt_tables().items()
    }


@cache
def moments() -> tuple[Moment, ...]:
    """The moments of a call, in the order a call meets them."""
    return tuple(Moment(m["key"], m["name"], m["about"]) for m in _file().get(MOMENTS, ()))


@cache
def guides() -> Mapping[str, PromptGuide]:
    """Each prompt's moment, French title and when it is heard: for the back office only (a
    prompt the file says nothing of still plays; a test sees that none is left so)."""
    return {
        name: PromptGuide(entry.get("moment", ""), entry.get("title", ""), entry.get("heard", ""))
        for name, entry in _prompt_tables().items()
    }


@cache
def default_prompts() -> Prompts:
    """The default words alone: what is said when the database cannot be read."""
    return Prompts(defaults())


def newest_versions(session: Session) -> list[PromptVersionRow]:
    """The version in force of each prompt an administrator changed."""
    newest = (
        select(PromptVersionRow.name, func.max(PromptVersionRow.version).label("version"))
        .group_by(PromptVersionRow.name)
        .subquery()
    )
    return list(
        session.scalars(
            select(PromptVersionRow).join(
                newest,
                (PromptVersionRow.name == newest.c.name)
                & (PromptVersionRow.version == newest.c.version),
            )
        )
    )


def load(session: Session) -> Prompts:
    """The prompts in force."""
    rows = newest_versions(session)
    return Prompts(
        defaults(),
        texts={r.name: r.text for r in rows},
        audio={r.name: r.audio_path for r in rows if r.audio_path},
    )
