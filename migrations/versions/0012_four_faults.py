"""the fault menu offers four choices (no heating or a boiler in safety, no hot water, a leak,
other): no schema change

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

from alembic import op

from ivr.adapters.migrations import alert, replace_saved_prompts

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


# The keys of the fault menu changed (4 is now « autre problème », 5 is gone): a version an
# administrator saved would announce the old ones. It is replaced by the new words, as a new
# version (the old stays in the history), and an alert says so.
NEW_WORDS = {
    "ask_fault": "Panne de chauffage ou chaudière en sécurité, tapez 1. Pas d'eau chaude, "
    "tapez 2. Fuite d'eau, tapez 3. Autre problème, tapez 4.",
}


def upgrade() -> None:
    connection = op.get_bind()
    replaced = replace_saved_prompts(connection, NEW_WORDS, "migration 0012 (four faults)")
    if replaced:
        alert(
            connection,
            "prompts_reset",
            "The saved words of ask_fault named the fault menu's old keys (4 a boiler in "
            "safety, 5 another problem): they were replaced by the new default words; check "
            "them in the back office (Messages).",
        )


def downgrade() -> None:
    pass  # the words saved before are in the history
