"""jobs have a priority (danger first among the due jobs); outbound calls are paced; alerts
are sent to people; workers say they are alive

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ivr.adapters.orm
from ivr.domain.followup import priority

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

jobs = sa.table(
    "jobs",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
    sa.column("payload", sa.JSON),
    sa.column("priority", sa.Integer),
)


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), server_default="3", nullable=False))
        batch.drop_index("ix_jobs_status_due_at")
        batch.create_index("ix_jobs_status_priority_due_at", ["status", "priority", "due_at"])
    op.create_table(
        "call_pacing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("next_slot_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_pacing")),
    )
    op.execute("INSERT INTO call_pacing (id, next_slot_us) VALUES (1, 0)")
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("notified_at", ivr.adapters.orm.UTCDateTime(), nullable=True))
        batch.create_index("ix_alerts_notified_at", ["notified_at"])
    op.create_table(
        "worker_beats",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("started_at", ivr.adapters.orm.UTCDateTime(), nullable=False),
        sa.Column("seen_at", ivr.adapters.orm.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker_beats")),
    )
    # The alerts of before are not news: nobody is sent them now.
    op.execute("UPDATE alerts SET notified_at = at")
    # The jobs still to run get the priority they would be scheduled with today.
    connection = op.get_bind()
    to_run = sa.select(jobs.c.id, jobs.c.kind, jobs.c.payload).where(
        jobs.c.status.in_(("pending", "running", "waiting"))
    )
    for job in connection.execute(to_run).all():
        first = priority(job.kind, job.payload or {})
        connection.execute(sa.update(jobs).where(jobs.c.id == job.id).values(priority=first))


def downgrade() -> None:
    op.drop_table("worker_beats")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index("ix_alerts_notified_at")
        batch.drop_column("notified_at")
    op.drop_table("call_pacing")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_status_priority_due_at")
        batch.create_index("ix_jobs_status_due_at", ["status", "due_at"])
        batch.drop_column("priority")
