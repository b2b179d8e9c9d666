"""Attachments fetched later (MMS pictures, voicemail recordings): attempts, error, next try.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import carecentre.coltypes

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attachment") as batch:
        batch.add_column(
            sa.Column("fetch_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("fetch_error", sa.String(length=2000), nullable=True))
        batch.add_column(
            sa.Column(
                "next_fetch_at", carecentre.coltypes.UTCDateTime(timezone=True), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("attachment") as batch:
        batch.drop_column("next_fetch_at")
        batch.drop_column("fetch_error")
        batch.drop_column("fetch_attempts")
