"""Alembic environment: the URL comes from the caller (`ivr db upgrade`) or DATABASE_URL."""

from __future__ import annotations

from alembic import context

from ivr.adapters.db import make_engine
from ivr.adapters.orm import Base
from ivr.settings import load_settings

config = context.config
url = config.get_main_option("sqlalchemy.url") or load_settings().DATABASE_URL


def run_offline() -> None:
    context.configure(
        url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,  # type: ignore[arg-type]
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
