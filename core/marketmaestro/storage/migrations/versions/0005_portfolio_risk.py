"""Portfolio and risk: fees per position, equity snapshots per account and strategy, and the persisted
block of a breached hard risk limit.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SNAPSHOT_MONEY = ("equity", "realized_pnl", "unrealized_pnl", "fees", "exposure")


def upgrade() -> None:
    # Existing positions paid no recorded fees: "0" (money is exact text).
    op.add_column("positions", sa.Column("fees", sa.Text(), nullable=False, server_default="0"))
    op.create_table(
        "equity_snapshots",
        sa.Column("id", sa.Integer(), primary_key=True, nullable=False),
        sa.Column("exchange", sa.String(), nullable=False),
        sa.Column("strategy", sa.String(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.Text(), nullable=False) for name in _SNAPSHOT_MONEY),
    )
    op.create_index(
        "ix_equity_snapshots_exchange_strategy_timestamp",
        "equity_snapshots",
        ["exchange", "strategy", "timestamp"],
    )
    op.create_table(
        "risk_halts",
        sa.Column("id", sa.Integer(), primary_key=True, nullable=False),
        sa.Column("exchange", sa.String(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("since", sa.BigInteger(), nullable=False),
        sa.Column("until", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("exchange", name="uq_risk_halts_exchange"),
    )


def downgrade() -> None:
    op.drop_table("risk_halts")
    op.drop_index("ix_equity_snapshots_exchange_strategy_timestamp", table_name="equity_snapshots")
    op.drop_table("equity_snapshots")
    with op.batch_alter_table("positions") as batch:
        batch.drop_column("fees")
