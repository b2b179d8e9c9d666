"""The agents' workspace: sessions, set-password links, presence, tags and canned responses.

Revision ID: 0005_agent_ui
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import carecentre.coltypes

revision: str = "0005_agent_ui"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, carecentre.coltypes.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "agent_session",
        sa.Column("id", _ID, nullable=False),
        sa.Column("agent_id", _ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _when("created_at"),
        _when("last_seen_at"),
        _when("expires_at"),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_agent_session_agent_id", "agent_session", ["agent_id"])
    op.create_index("ix_agent_session_expires_at", "agent_session", ["expires_at"])
    op.create_table(
        "password_link",
        sa.Column("id", _ID, nullable=False),
        sa.Column("agent_id", _ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _when("created_at"),
        _when("expires_at"),
        _when("used_at", nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_password_link_agent_id", "password_link", ["agent_id"])
    op.create_table(
        "agent_presence",
        sa.Column("agent_id", _ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _when("updated_at"),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("agent_id"),
    )
    op.create_table(
        "tag",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "ticket_tag",
        sa.Column("ticket_id", _ID, nullable=False),
        sa.Column("tag_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(["tag_id"], ["tag.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_id", "tag_id"),
    )
    op.create_index("ix_ticket_tag_tag_id", "ticket_tag", ["tag_id"])
    op.create_table(
        "canned_response",
        sa.Column("id", _ID, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_by", _ID, nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.ForeignKeyConstraint(["created_by"], ["agent.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("title"),
    )


def downgrade() -> None:
    op.drop_table("canned_response")
    op.drop_index("ix_ticket_tag_tag_id", table_name="ticket_tag")
    op.drop_table("ticket_tag")
    op.drop_table("tag")
    op.drop_table("agent_presence")
    op.drop_index("ix_password_link_agent_id", table_name="password_link")
    op.drop_table("password_link")
    op.drop_index("ix_agent_session_expires_at", table_name="agent_session")
    op.drop_index("ix_agent_session_agent_id", table_name="agent_session")
    op.drop_table("agent_session")
