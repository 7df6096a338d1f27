"""Order emulation and groups: trail by amount, native or emulated, the trailing water mark, bracket
parents, OCO groups and cancel-replace links.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NULLABLE = ("parent_order_id", "oco_group", "replaces")


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite allows it with a constant default), so offline ``--sql`` output works too.
    op.add_column("orders", sa.Column("trail_amount", sa.Text(), nullable=True))
    op.add_column("orders", sa.Column("emulated", sa.Boolean(), nullable=False, server_default="0"))
    op.add_column("orders", sa.Column("watermark", sa.Text(), nullable=True))
    for name in _NULLABLE:
        op.add_column("orders", sa.Column(name, sa.String(), nullable=True))
    op.create_index("ix_orders_parent_order_id", "orders", ["parent_order_id"])
    op.create_index("ix_orders_oco_group", "orders", ["oco_group"])


def downgrade() -> None:
    op.drop_index("ix_orders_oco_group", table_name="orders")
    op.drop_index("ix_orders_parent_order_id", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        for name in reversed(_NULLABLE):
            batch.drop_column(name)
        batch.drop_column("watermark")
        batch.drop_column("emulated")
        batch.drop_column("trail_amount")
