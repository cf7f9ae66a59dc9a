"""bank channel for bills and the Merchant Proxy

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("merchants") as batch_op:
        batch_op.add_column(sa.Column("biller_code", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("bill_source", sa.String(length=20), nullable=False, server_default="hosted"))
        batch_op.add_column(sa.Column("biller_api_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("biller_api_token", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(op.f("uq_merchants_biller_code"), ["biller_code"])
    op.create_table(
        "bill_lookups",
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("consumer_code", sa.String(length=100), nullable=False),
        sa.Column("consumer_name", sa.String(length=255), nullable=False),
        sa.Column("consumer_name_latin", sa.String(length=255), nullable=False),
        sa.Column("phone", sa.String(length=50), nullable=False),
        sa.Column("due_amount", sa.BigInteger(), nullable=False),
        sa.Column("min_amount", sa.BigInteger(), nullable=True),
        sa.Column("max_amount", sa.BigInteger(), nullable=True),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("last_bill_date", sa.String(length=40), nullable=False),
        sa.Column("last_due_date", sa.String(length=40), nullable=False),
        sa.Column("last_pay_date", sa.String(length=40), nullable=False),
        sa.Column("overpaid", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"], ["transactions.id"], name=op.f("fk_bill_lookups_transaction_id_transactions")
        ),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_bill_lookups_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_bill_lookups")),
    )
    op.create_table(
        "proxy_calls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_proxy_calls_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proxy_calls")),
    )
    op.create_index("ix_proxy_calls_merchant_started", "proxy_calls", ["merchant_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_proxy_calls_merchant_started", table_name="proxy_calls")
    op.drop_table("proxy_calls")
    op.drop_table("bill_lookups")
    with op.batch_alter_table("merchants") as batch_op:
        batch_op.drop_constraint(op.f("uq_merchants_biller_code"), type_="unique")
        batch_op.drop_column("biller_api_token")
        batch_op.drop_column("biller_api_url")
        batch_op.drop_column("bill_source")
        batch_op.drop_column("biller_code")
