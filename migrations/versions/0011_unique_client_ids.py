"""a client id names one client: the client tables' index on it is unique

The import refuses a file where two lines share a client id, so the table in force has none:
it gets the unique index, under a new name (`uq_`), built before the old one is dropped. The
standby table is left as it is, rows and all: an import refused or stopped half-way may have
left lines there, and one may be loading it now. It loses its old index only; the next import
empties it and builds its indexes (`ivr.services.importing.clients`). An empty table (a
fresh database) gets the unique index at once.

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


def _empty(table: str) -> bool:
    found = op.get_bind().scalar(sa.text(f"SELECT 1 FROM {table} LIMIT 1"))  # noqa: S608
    return found is None


def upgrade() -> None:
    in_force = _in_force()
    # The table in force last: its old index is dropped just before the commit, and its new
    # one was built beside the calls reading it (they wait for the drop itself only, unless a
    # long reader holds the table: hence a quiet hour, docs/operations.md).
    for table in sorted(_TABLES, key=lambda t: t == in_force):
        if table == in_force or _empty(table):
            op.create_index(f"uq_{table}_client_id", table, ["client_id"], unique=True)
        op.drop_index(f"ix_{table}_client_id", table_name=table, if_exists=True)


def downgrade() -> None:
    for table in _TABLES:
        op.create_index(f"ix_{table}_client_id", table, ["client_id"], if_not_exists=True)
        op.drop_index(f"uq_{table}_client_id", table_name=table, if_exists=True)
