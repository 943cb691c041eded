"""The words callers hear: defaults in `config/prompts.toml`, versions in the database.

The newest version of a prompt is in force; without one, its default. Values fill the
prompt's declared {placeholders} only: anything else in braces is left out, never evaluated.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ivr.adapters.orm import PromptVersionRow

DEFAULTS = Path(__file__).resolve().parents[2] / "config" / "prompts.toml"


@dataclass(frozen=True)
class PromptDefault:
    name: str
    text: str
    placeholders: tuple[str, ...]


@cache
def defaults() -> Mapping[str, PromptDefault]:
    """Every prompt the flows may use, with its default words."""
    data = tomllib.loads(DEFAULTS.read_text(encoding="utf-8"))
    return {
        name: PromptDefault(name, entry["text"], tuple(entry.get("placeholders", ())))
        for name, entry in data.items()
    }


def placeholders_in(text: str) -> list[str]:
    """The {names} a text uses (raises ValueError on a malformed brace)."""
    return [field for _, field, _, _ in string.Formatter().parse(text) if field is not None]


@dataclass(frozen=True, eq=False)
class Prompts:
    """The prompts in force: words, and an audio file where one is attached. One object per
    version in force: compared and hashed as itself (a key of the TwiML already built)."""

    texts: Mapping[str, str]
    audio: Mapping[str, str]

    def text(self, name: str, values: Mapping[str, str] | None = None) -> str:
        """The words of prompt `name`, its declared placeholders filled with `values`."""
        default = defaults().get(name)
        template = self.texts.get(name) or defaults()[name].text
        allowed = default.placeholders if default else ()
        out = []
        for literal, field in _parsed(template):
            out.append(literal)
            if field is not None and field in allowed and values:
                out.append(str(values.get(field, "")))
        return "".join(out)


@lru_cache(maxsize=1024)
def _parsed(template: str) -> tuple[tuple[str, str | None], ...]:
    """A prompt's words as (literal, placeholder) pairs: parsed once per text."""
    return tuple((literal, field) for literal, field, _, _ in string.Formatter().parse(template))


def load(session: Session) -> Prompts:
    newest = (
        select(PromptVersionRow.name, func.max(PromptVersionRow.version).label("version"))
        .group_by(PromptVersionRow.name)
        .subquery()
    )
    rows = session.scalars(
        select(PromptVersionRow).join(
            newest,
            (PromptVersionRow.name == newest.c.name)
            & (PromptVersionRow.version == newest.c.version),
        )
    ).all()
    return Prompts(
        texts={r.name: r.text for r in rows},
        audio={r.name: r.audio_path for r in rows if r.audio_path},
    )
