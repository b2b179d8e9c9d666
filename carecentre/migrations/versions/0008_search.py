"""Search and the queue's order at scale: full-text indexes for ticket search, and the indexes
the tickets list reads in due order.

SQLite: FTS5 tables with the trigram tokenizer over message bodies, ticket subjects and
references, contact names and identity addresses. Each is an external-content table (the text
is not stored twice) kept current by triggers on its table; a trigram query is a substring
match, case-insensitive, which is what the search promises. PostgreSQL: pg_trgm GIN indexes on the
same columns, which ``ILIKE '%…%'`` uses as it is.

These objects are named ``search_*`` and are left out of the comparison of models and
migrations (``carecentre.migrations.include_name``): SQLAlchemy cannot describe virtual tables,
triggers or operator classes. On SQLite, a later migration that recreates one of these tables
(batch mode: copy and move) must create its triggers again.

Revision ID: 0008_search
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_search"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# search table → (content table, indexed columns)
_FTS = {
    "search_message": ("message", ("body_text",)),
    "search_ticket": ("ticket", ("subject", "reference")),
    "search_contact": ("contact", ("name",)),
    "search_identity": ("contact_identity", ("address",)),
}


def _sqlite_upgrade() -> None:
    # Every name below is one of this module's constants: nothing comes from outside.
    for name, (table, columns) in _FTS.items():
        listed = ", ".join(columns)
        new = ", ".join(f"new.{c}" for c in columns)
        old = ", ".join(f"old.{c}" for c in columns)
        op.execute(
            f"CREATE VIRTUAL TABLE {name} USING fts5({listed}, content='{table}', "
            f"content_rowid='id', tokenize='trigram')"
        )
        insert = f"INSERT INTO {name}(rowid, {listed}) VALUES (new.id, {new});"  # noqa: S608
        delete = (
            f"INSERT INTO {name}({name}, rowid, {listed}) "  # noqa: S608
            f"VALUES ('delete', old.id, {old});"
        )
        op.execute(f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} BEGIN {insert} END")
        op.execute(f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} BEGIN {delete} END")
        # Only a change of the indexed text re-indexes: delivery updates touch messages often.
        op.execute(
            f"CREATE TRIGGER {name}_update AFTER UPDATE OF {listed} ON {table} "
            f"BEGIN {delete} {insert} END"
        )
        op.execute(f"INSERT INTO {name}({name}) VALUES ('rebuild')")  # noqa: S608


def _sqlite_downgrade() -> None:
    for name in _FTS:
        for suffix in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {name}")


def _postgres_upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, columns) in _FTS.items():
        for column in columns:
            op.execute(
                f"CREATE INDEX IF NOT EXISTS {name}_{column} ON {table} "
                f"USING gin ({column} gin_trgm_ops)"
            )


def _postgres_downgrade() -> None:
    for name, (_table, columns) in _FTS.items():
        for column in columns:
            op.execute(f"DROP INDEX IF EXISTS {name}_{column}")


def upgrade() -> None:
    op.create_index("ix_ticket_due", "ticket", ["due_at", "id"])
    op.create_index("ix_ticket_status_queue", "ticket", ["status", "queue_id"])
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    else:
        _postgres_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_downgrade()
    else:
        _postgres_downgrade()
    op.drop_index("ix_ticket_status_queue", table_name="ticket")
    op.drop_index("ix_ticket_due", table_name="ticket")
