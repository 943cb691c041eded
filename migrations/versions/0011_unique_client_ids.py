"""a client id names one client: the client tables' index on it is unique

The import refuses a file where two lines share a client id, so the table in force has none.
The standby table's rows are never read (the next import empties it first), and an import
stopped half-way may have left a refused file there: it is emptied before its index is built.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TABLES = ("clients_a", "clients_b")


def _in_force() -> str | None:
    return op.get_bind().scalar(sa.text("SELECT clients_table FROM reference_state WHERE id = 1"))


def _rebuild(unique: bool) -> None:
    in_force = _in_force()
    for table in _TABLES:
        if unique and table != in_force:
            op.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 - our own table names
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_client_id")
            batch.create_index(f"ix_{table}_client_id", ["client_id"], unique=unique)


def upgrade() -> None:
    _rebuild(unique=True)


def downgrade() -> None:
    _rebuild(unique=False)
