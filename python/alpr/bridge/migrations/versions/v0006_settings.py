"""Settings edited in the dashboard (retention days) and failed sign-ins counted in the store.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "auth_failures",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_auth_failures_key", "auth_failures", ["scope", "key", "ts_ms"])
    op.create_index("ix_auth_failures_ts", "auth_failures", ["ts_ms"])


def downgrade() -> None:
    op.drop_index("ix_auth_failures_ts", "auth_failures")
    op.drop_index("ix_auth_failures_key", "auth_failures")
    op.drop_table("auth_failures")
    op.drop_table("settings")
