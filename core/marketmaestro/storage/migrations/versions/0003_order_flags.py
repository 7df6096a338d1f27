"""Order flags: time in force, post-only and reduce-only.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite allows it with a constant default), so offline ``--sql`` output works too.
    op.add_column("orders", sa.Column("time_in_force", sa.String(), nullable=False, server_default="gtc"))
    op.add_column("orders", sa.Column("post_only", sa.Boolean(), nullable=False, server_default="0"))
    op.add_column("orders", sa.Column("reduce_only", sa.Boolean(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("reduce_only")
        batch.drop_column("post_only")
        batch.drop_column("time_in_force")
