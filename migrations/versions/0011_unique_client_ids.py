"""a client id names one client: the client tables' index on it is unique

The import refuses a file where two lines share a client id, so the table in force has none.
The new index has a new name (`uq_`): it is built before the old one is dropped.
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


def upgrade() -> None:
    in_force = _in_force()
    # The table in force last: its old index is dropped just before the commit, so that the
    # calls reading it wait for the drop's lock a moment at most (the new index is built
    # first, beside them).
    for table in sorted(_TABLES, key=lambda t: t == in_force):
        if table != in_force:
            op.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 - our own table names
        op.create_index(f"uq_{table}_client_id", table, ["client_id"], unique=True)
        op.drop_index(f"ix_{table}_client_id", table_name=table)


def downgrade() -> None:
    for table in _TABLES:
        op.create_index(f"ix_{table}_client_id", table, ["client_id"])
        op.drop_index(f"uq_{table}_client_id", table_name=table)
