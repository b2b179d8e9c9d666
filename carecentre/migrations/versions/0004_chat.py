"""Web chat: conversations (hashed resume tokens, per-conversation sequence) and their entries.

Revision ID: 0004_chat
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import carecentre.coltypes

revision: str = "0004_chat"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = carecentre.coltypes.UTCDateTime(timezone=True)


def _text(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "chat_conversation",
        sa.Column("id", _ID, nullable=False),
        sa.Column("token_hash", _text(64), nullable=False),
        sa.Column("chat_id", _text(64), nullable=False),
        sa.Column("contact_id", _ID, nullable=True),
        sa.Column("ticket_id", _ID, nullable=True),
        sa.Column(
            "status",
            sa.Enum("prechat", "open", "ended", name="chatstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("topic", _text(64), nullable=True),
        sa.Column("name", _text(200), nullable=True),
        sa.Column("language", _text(8), nullable=False),
        sa.Column("follow_up_email", _text(320), nullable=True),
        sa.Column("follow_up_phone", _text(32), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("agent_id", _ID, nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("last_seen_at", _WHEN, nullable=False),
        sa.Column("ended_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"]),
        sa.ForeignKeyConstraint(["contact_id"], ["contact.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chat_id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(
        op.f("ix_chat_conversation_ticket_id"), "chat_conversation", ["ticket_id"], unique=False
    )
    op.create_table(
        "chat_entry",
        sa.Column("id", _ID, nullable=False),
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", _text(16), nullable=False),
        sa.Column("author", _text(16), nullable=False),
        sa.Column("author_name", _text(200), nullable=True),
        sa.Column("notice", _text(32), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("client_id", _text(80), nullable=True),
        sa.Column("message_id", _ID, nullable=True),
        sa.Column("forwarded_message_id", _ID, nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["chat_conversation.id"]),
        sa.ForeignKeyConstraint(["forwarded_message_id"], ["message.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("conversation_id", "client_id", name="uq_chat_entry_client_id"),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_chat_entry_seq"),
        sa.UniqueConstraint("message_id"),
    )


def downgrade() -> None:
    op.drop_table("chat_entry")
    op.drop_index(op.f("ix_chat_conversation_ticket_id"), table_name="chat_conversation")
    op.drop_table("chat_conversation")
