"""a caller's call may add to a request in progress (calls.request_id); numbers that said
STOP to the callers' texts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ivr.adapters.orm

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("request_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_calls_request_id_calls"), "calls", ["request_id"], ["id"])
        batch.create_index("ix_calls_request_id", ["request_id"])
        batch.create_index("ix_calls_client_id", ["client_id"])
        batch.create_index("ix_calls_from_number", ["from_number"])
    op.create_table(
        "text_opt_outs",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("at", ivr.adapters.orm.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_text_opt_outs")),
    )


def downgrade() -> None:
    op.drop_table("text_opt_outs")
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_from_number")
        batch.drop_index("ix_calls_client_id")
        batch.drop_index("ix_calls_request_id")
        batch.drop_constraint(op.f("fk_calls_request_id_calls"), type_="foreignkey")
        batch.drop_column("request_id")
