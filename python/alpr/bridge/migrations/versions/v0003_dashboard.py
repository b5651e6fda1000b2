"""Dashboard: users, login sessions, alert acknowledgements, camera health; ``audit.user_id``.

Revision ID: 0003
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("pw_hash", sa.String(256), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("cameras", sa.Text, nullable=True),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("seen_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_sessions_user", "sessions", ["user_id"])
    op.create_table(
        "alert_acks",
        sa.Column("alert_id", sa.BigInteger, primary_key=True),
        sa.Column("by", sa.String(128), nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "camera_health",
        sa.Column("camera", sa.String(128), primary_key=True),
        sa.Column("publisher", sa.String(64), nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("fps", sa.Float, nullable=True),
        sa.Column("frames", sa.BigInteger, nullable=True),
        sa.Column("dropped", sa.BigInteger, nullable=True),
    )
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("user_id", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit") as batch:
        batch.drop_column("user_id")
    for t in ("camera_health", "alert_acks", "sessions", "users"):
        op.drop_table(t)
