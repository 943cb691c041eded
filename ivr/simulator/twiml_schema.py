"""Validation of voice TwiML against Twilio's XML Schema, vendored in `schema/` (its README
says where it comes from). It lacks `<Connect>`, `<Stop>` and `<Pay>`, which the IVR does not
use."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA = Path(__file__).resolve().parent / "schema" / "twiml_v20100401_twilioRealtimeCallSchema.xsd"

Validate = Callable[[str], None]


class InvalidTwiml(ValueError):
    """A TwiML document that Twilio's schema rejects; `reason` says why, `path` where."""

    def __init__(self, reason: str, path: str | None, document: str) -> None:
        super().__init__(f"invalid TwiML at {path or '/'}: {reason}\n{document[:2000]}")
        self.reason = reason
        self.path = path
        self.document = document


@cache
def _schema() -> Any:
    import xmlschema

    return xmlschema.XMLSchema(str(SCHEMA))


def validate(document: str) -> None:
    """Raise `InvalidTwiml` when Twilio's schema rejects `document` (loaded once a process)."""
    for error in _schema().iter_errors(document):
        raise InvalidTwiml(str(error.reason), error.path, document)
