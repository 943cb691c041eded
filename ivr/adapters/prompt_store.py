"""Where the prompts come from: their defaults in `config/prompts.toml`, the versions saved by
administrators in the database (the newest of each is in force)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ivr.adapters.orm import PromptVersionRow
from ivr.domain.prompts import PromptDefault, Prompts

DEFAULTS = Path(__file__).resolve().parents[2] / "config" / "prompts.toml"


@cache
def defaults() -> Mapping[str, PromptDefault]:
    """Every prompt the flows may use, with its default words."""
    data = tomllib.loads(DEFAULTS.read_text(encoding="utf-8"))
    return {
        name: PromptDefault(name, entry["text"], tuple(entry.get("placeholders", ())))
        for name, entry in data.items()
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
