"""Running the Alembic migrations of `migrations/` from code (`ivr db upgrade`, tests), and
the data steps migrations share: the words administrators saved for a prompt whose default
changed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command, op
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from ivr.adapters.orm import UTCDateTime
from ivr.clock import Clock

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def revisions(connection: Connection) -> tuple[str | None, str | None]:
    """The schema's revision, and the newest the code knows (`ivr db upgrade` brings the one
    to the other)."""
    current = MigrationContext.configure(connection).get_current_revision()
    return current, head_revision()


def head_revision() -> str | None:
    """The newest revision the code knows: where `ivr db upgrade` brings a schema."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def schema_behind(connection: Connection) -> str | None:
    """Why this code cannot answer calls on the schema it finds, or None when it can: none
    yet, or one older than the code's (`ivr db upgrade`). A newer schema is fine: a release's
    migrations only add (columns with defaults, tables, indexes, an index made stricter), so
    the code of the release before keeps answering while the hosts are upgraded one by one
    (docs/operations.md)."""
    current, expected = revisions(connection)
    if current == expected:
        return None
    known = {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }
    if current is None or current in known:
        return f"schema at {current}, expected {expected}: ivr db upgrade"
    return None


def upgrade(engine: Engine, revision: str = "head", clock: Clock | None = None) -> None:
    """Bring the schema of `engine`'s database to `revision`; what the data steps write is
    dated by `clock` (the program's: IVR_CLOCK)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["clock"] = clock or Clock()
        command.upgrade(config, revision)


_VERSIONS = sa.table(
    "prompt_versions",
    sa.column("name", sa.String),
    sa.column("version", sa.Integer),
    sa.column("text", sa.Text),
    sa.column("audio_path", sa.String),
    sa.column("created_at", UTCDateTime()),
    sa.column("created_by", sa.String),
)
_ALERTS = sa.table(
    "alerts",
    sa.column("at", UTCDateTime()),
    sa.column("kind", sa.String),
    sa.column("message", sa.Text),
)


def saved_prompts(connection: Connection, names: Iterable[str]) -> dict[str, int]:
    """Of these prompts, those an administrator saved words for: their newest version."""
    rows = connection.execute(
        sa.select(_VERSIONS.c.name, sa.func.max(_VERSIONS.c.version))
        .where(_VERSIONS.c.name.in_(list(names)))
        .group_by(_VERSIONS.c.name)
    )
    return {name: version for name, version in rows}


def replace_saved_prompts(connection: Connection, words: Mapping[str, str], by: str) -> list[str]:
    """Each prompt of `words` an administrator saved gets these words as a new version (the
    old one stays in the history, for a rollback by hand); the names replaced."""
    saved = saved_prompts(connection, words)
    now = _now()
    for name, version in saved.items():
        new = {"name": name, "version": version + 1, "text": words[name], "audio_path": None}
        connection.execute(_VERSIONS.insert().values(**new, created_at=now, created_by=by))
    return sorted(saved)


def alert(connection: Connection, kind: str, message: str) -> None:
    """An alert for the operators, as the app stores them."""
    connection.execute(_ALERTS.insert().values(at=_now(), kind=kind, message=message))


def _now() -> datetime:
    """Now, by the clock `upgrade` was given (the alembic command line gives none)."""
    config = op.get_context().config
    clock = config.attributes.get("clock") if config is not None else None
    return (clock or Clock()).now()
