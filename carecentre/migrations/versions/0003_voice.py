"""Phone calls: each call's path through the menu, its outcome, and click-to-call state.

Revision ID: 0003_voice
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import carecentre.coltypes

revision: str = "0003_voice"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = carecentre.coltypes.UTCDateTime(timezone=True)


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "call",
        sa.Column("id", _ID, nullable=False),
        sa.Column("call_sid", _text(64), nullable=True),
        sa.Column(
            "direction",
            sa.Enum("inbound", "click_to_call", name="calldirection", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("number", _text(32), nullable=False),
        sa.Column("language", _text(8), nullable=True),
        sa.Column("queue", _text(64), nullable=True),
        sa.Column("topic", _text(200), nullable=True),
        sa.Column("reference", _text(20), nullable=True),
        sa.Column("path", sa.JSON(), nullable=False),
        sa.Column("status", _text(16), nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("outcome", _text(16), nullable=True),
        sa.Column("outcome_duration", sa.Integer(), nullable=True),
        sa.Column("ticket_id", _ID, nullable=True),
        sa.Column("agent_id", _ID, nullable=True),
        sa.Column("message_id", _ID, nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.Column("ended_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_sid"),
    )
    op.create_index(op.f("ix_call_ticket_id"), "call", ["ticket_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_call_ticket_id"), table_name="call")
    op.drop_table("call")
