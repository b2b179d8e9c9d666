"""The wallboard's first responses of the day read from one index: it now holds the ticket's
channel beside its queue, so the ticket rows themselves are no longer read.

Revision ID: 0009_wallboard
Revises: 0007_supervisors
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_wallboard"
down_revision: str | None = "0007_supervisors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_ticket_first_response", table_name="ticket")
    op.create_index(
        "ix_ticket_first_response", "ticket", ["first_response_at", "queue_id", "channel"]
    )


def downgrade() -> None:
    op.drop_index("ix_ticket_first_response", table_name="ticket")
    op.create_index("ix_ticket_first_response", "ticket", ["first_response_at", "queue_id"])
