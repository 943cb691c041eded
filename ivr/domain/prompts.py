"""The words callers and staff hear, by prompt name: a default for each (config/prompts.toml,
read by `ivr.adapters.prompt_store`), replaced by the newest version an administrator saved.

Values fill a prompt's declared {placeholders} only: anything else in braces is left out,
never evaluated.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache


@dataclass(frozen=True)
class PromptDefault:
    name: str
    text: str
    placeholders: tuple[str, ...]


def placeholders_in(text: str) -> list[str]:
    """The {names} a text uses (raises ValueError on a malformed brace)."""
    return [field for _, field, _, _ in string.Formatter().parse(text) if field is not None]


@dataclass(frozen=True, eq=False)
class Prompts:
    """The prompts in force: every default, the words saved since, and an audio file where
    one is attached (played instead of the words)."""

    defaults: Mapping[str, PromptDefault]
    texts: Mapping[str, str] = field(default_factory=dict)
    audio: Mapping[str, str] = field(default_factory=dict)

    def text(self, name: str, values: Mapping[str, str] | None = None) -> str:
        """The words of prompt `name`, its declared placeholders filled with `values`."""
        default = self.defaults[name]
        out = []
        for literal, placeholder in _parsed(self.texts.get(name) or default.text):
            out.append(literal)
            if placeholder in default.placeholders and values:
                out.append(str(values.get(placeholder, "")))
        return "".join(out)


@lru_cache(maxsize=1024)
def _parsed(template: str) -> tuple[tuple[str, str | None], ...]:
    """A prompt's words as (literal, placeholder) pairs: parsed once per text."""
    return tuple((literal, field) for literal, field, _, _ in string.Formatter().parse(template))
