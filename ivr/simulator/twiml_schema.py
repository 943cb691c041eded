"""Validation of voice TwiML against Twilio's XML Schema.

The schema is data kept outside the repository, in `shared/twilio/` beside it (see the README
there): `twiml_v20100401_twilioRealtimeCallSchema.xsd`, which includes
`synthesis-nonamespace.xsd` and `twilio-extensions.xsd`. It lacks `<Connect>`, `<Stop>` and
`<Pay>`, which the IVR does not use.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

SCHEMA_FILE = "twiml_v20100401_twilioRealtimeCallSchema.xsd"

_schemas: dict[Path, Any] = {}


class InvalidTwiml(ValueError):
    """A TwiML document that Twilio's schema rejects; `reason` says why, `path` where."""

    def __init__(self, reason: str, path: str | None, document: str) -> None:
        super().__init__(f"invalid TwiML at {path or '/'}: {reason}\n{document[:2000]}")
        self.reason = reason
        self.path = path
        self.document = document


def default_shared_dir() -> Path:
    """The `shared` folder beside the repository root."""
    return Path(__file__).resolve().parents[2].parent / "shared"


def load_validator(shared_dir: Path) -> Callable[[str], None] | None:
    """A function that raises `InvalidTwiml` for a document Twilio's schema rejects.

    None when `shared_dir/twilio` does not exist. The schema is loaded once per process.
    """
    folder = shared_dir / "twilio"
    if not folder.is_dir():
        return None
    path = (folder / SCHEMA_FILE).resolve()
    schema = _schemas.get(path)
    if schema is None:
        import xmlschema

        schema = _schemas[path] = xmlschema.XMLSchema(str(path))

    def validate(document: str) -> None:
        for error in schema.iter_errors(document):
            raise InvalidTwiml(str(error.reason), error.path, document)

    return validate
