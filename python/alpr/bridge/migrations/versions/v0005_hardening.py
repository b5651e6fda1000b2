"""Hardening: encrypted reasons, audit rows indexed by plate, webhook dead letters.

Watchlist and alert reasons are encrypted (``reason_ct``); audit rows are indexed by plate (erasure redacts
them).

Revision ID: 0005
Revises: 0004

Existing clear ``reason`` values are sealed by the store when it opens (the migration has no key)
and the clear column is then left empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("watchlist") as b:
        b.add_column(sa.Column("reason_ct", sa.LargeBinary, nullable=True))
    with op.batch_alter_table("alerts") as b:
        b.add_column(sa.Column("reason_ct", sa.LargeBinary, nullable=True))
    with op.batch_alter_table("audit") as b:
        b.add_column(sa.Column("plate_bidx", sa.String(32), nullable=True))
    op.create_index("ix_audit_plate_bidx", "audit", ["plate_bidx"])
    op.create_table(
        "dead_letters",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("sink", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(256), nullable=False),
        sa.Column("payload_ct", sa.LargeBinary, nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("plate_bidx", sa.String(32), nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("failed_ms", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.String(256), nullable=False),
    )
    op.create_index("ix_dead_letters_sink_id", "dead_letters", ["sink", "id"])
    op.create_index("ix_dead_letters_plate_bidx", "dead_letters", ["plate_bidx"])


def downgrade() -> None:
    op.drop_index("ix_dead_letters_plate_bidx", "dead_letters")
    op.drop_index("ix_dead_letters_sink_id", "dead_letters")
    op.drop_table("dead_letters")
    op.drop_index("ix_audit_plate_bidx", "audit")
    with op.batch_alter_table("audit") as b:
        b.drop_column("plate_bidx")
    with op.batch_alter_table("alerts") as b:
        b.drop_column("reason_ct")
    with op.batch_alter_table("watchlist") as b:
        b.drop_column("reason_ct")
