"""Supervision: routing rules, SLA policies, queue settings, agent capacities, each ticket's
routing and SLA state, and the ticket indexes the wallboard and the reports read.

Revision ID: 0007_supervisors
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import carecentre.coltypes

revision: str = "0007_supervisors"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, carecentre.coltypes.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "routing_rule",
        sa.Column("id", _ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("queue_id", _ID, nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("updated_by", _ID, nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.ForeignKeyConstraint(["queue_id"], ["queue.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["updated_by"], ["agent.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_index("ix_routing_rule_position", "routing_rule", ["position"])
    op.create_table(
        "sla_policy",
        sa.Column("id", _ID, nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("queue_id", _ID, nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("first_response_minutes", sa.Integer(), nullable=False),
        sa.Column("resolution_minutes", sa.Integer(), nullable=False),
        _when("updated_at"),
        sa.ForeignKeyConstraint(["queue_id"], ["queue.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope"),
    )
    op.create_index("ix_sla_policy_queue_id", "sla_policy", ["queue_id"])
    op.create_table(
        "queue_settings",
        sa.Column("queue_id", _ID, nullable=False),
        sa.Column("assignment", sa.String(length=16), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=True),
        sa.Column("last_agent_id", _ID, nullable=True),
        _when("updated_at"),
        sa.ForeignKeyConstraint(["queue_id"], ["queue.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("queue_id"),
    )
    op.create_table(
        "agent_capacity",
        sa.Column("agent_id", _ID, nullable=False),
        sa.Column("max_open", sa.Integer(), nullable=False),
        _when("updated_at"),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("agent_id"),
    )
    op.create_table(
        "ticket_route",
        sa.Column("ticket_id", _ID, nullable=False),
        sa.Column("how", sa.String(length=16), nullable=False),
        sa.Column("rule_id", _ID, nullable=True),
        sa.Column("label", sa.String(length=300), nullable=False),
        _when("created_at"),
        sa.ForeignKeyConstraint(["rule_id"], ["routing_rule.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_table(
        "ticket_sla",
        sa.Column("ticket_id", _ID, nullable=False),
        sa.Column("policy_id", _ID, nullable=True),
        sa.Column("queue_id", _ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        _when("started_at"),
        sa.Column("first_response_seconds", sa.Integer(), nullable=False),
        sa.Column("resolution_seconds", sa.Integer(), nullable=False),
        _when("paused_at", nullable=True),
        sa.Column("paused_seconds", sa.Integer(), nullable=False),
        _when("first_response_due_at"),
        _when("first_response_risk_at"),
        _when("resolution_due_at"),
        _when("resolution_risk_at"),
        _when("first_response_at", nullable=True),
        _when("finished_at", nullable=True),
        sa.Column("fired", sa.Integer(), nullable=False),
        _when("check_at", nullable=True),
        _when("updated_at"),
        sa.ForeignKeyConstraint(["policy_id"], ["sla_policy.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["ticket_id"], ["ticket.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_index("ix_ticket_sla_check_at", "ticket_sla", ["check_at"])
    op.create_index("ix_ticket_sla_report", "ticket_sla", ["started_at", "queue_id", "channel"])
    op.create_index(
        "ix_ticket_sla_open",
        "ticket_sla",
        [
            "finished_at",
            "queue_id",
            "channel",
            "paused_at",
            "first_response_at",
            "first_response_risk_at",
            "first_response_due_at",
            "resolution_risk_at",
            "resolution_due_at",
        ],
    )
    op.create_table(
        "sla_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "report_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("queue_id", _ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("finished", sa.Integer(), nullable=False),
        sa.Column("first_response_met", sa.Integer(), nullable=False),
        sa.Column("first_response_missed", sa.Integer(), nullable=False),
        sa.Column("resolution_met", sa.Integer(), nullable=False),
        sa.Column("resolution_missed", sa.Integer(), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("first_response", sa.JSON(), nullable=False),
        sa.Column("resolution", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("day", "queue_id", "channel"),
    )
    op.create_table(
        "report_month",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("queue_id", _ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("first_response_met", sa.Integer(), nullable=False),
        sa.Column("first_response_missed", sa.Integer(), nullable=False),
        sa.Column("resolution_met", sa.Integer(), nullable=False),
        sa.Column("resolution_missed", sa.Integer(), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("first_response", sa.JSON(), nullable=False),
        sa.Column("resolution", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("month", "queue_id", "channel"),
    )
    op.create_table(
        "report_month_done",
        sa.Column("month", sa.Date(), nullable=False),
        _when("computed_at"),
        sa.PrimaryKeyConstraint("month"),
    )
    op.create_table(
        "report_day_done",
        sa.Column("day", sa.Date(), nullable=False),
        _when("computed_at"),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_index(
        "ix_ticket_report",
        "ticket",
        ["created_at", "queue_id", "channel", "first_response_at", "resolved_at", "closed_at"],
    )
    op.create_index("ix_ticket_resolved", "ticket", ["resolved_at", "queue_id", "channel"])
    op.create_index(
        "ix_ticket_closed", "ticket", ["closed_at", "resolved_at", "queue_id", "channel"]
    )
    op.create_index("ix_ticket_first_response", "ticket", ["first_response_at", "queue_id"])
    op.create_index(
        "ix_ticket_open",
        "ticket",
        ["status", "first_response_at", "queue_id", "channel", "created_at", "assignee_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_ticket_open", table_name="ticket")
    op.drop_index("ix_ticket_first_response", table_name="ticket")
    op.drop_index("ix_ticket_closed", table_name="ticket")
    op.drop_index("ix_ticket_resolved", table_name="ticket")
    op.drop_index("ix_ticket_report", table_name="ticket")
    op.drop_table("report_day_done")
    op.drop_table("report_month_done")
    op.drop_table("report_month")
    op.drop_table("report_day")
    op.drop_table("sla_cursor")
    op.drop_index("ix_ticket_sla_open", table_name="ticket_sla")
    op.drop_index("ix_ticket_sla_report", table_name="ticket_sla")
    op.drop_index("ix_ticket_sla_check_at", table_name="ticket_sla")
    op.drop_table("ticket_sla")
    op.drop_table("ticket_route")
    op.drop_table("agent_capacity")
    op.drop_table("queue_settings")
    op.drop_index("ix_sla_policy_queue_id", table_name="sla_policy")
    op.drop_table("sla_policy")
    op.drop_index("ix_routing_rule_position", table_name="routing_rule")
    op.drop_table("routing_rule")
