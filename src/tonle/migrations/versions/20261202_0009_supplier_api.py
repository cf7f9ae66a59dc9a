"""Supplier API: queues, records, pushed payments; consumer sync codes, draft bills, supplier token, short payment ids

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 06:38:47.586537
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BASE62 = (
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # as tonle.kit.crypto (a revision stands alone)
)


def upgrade() -> None:

    op.create_table(
        "supplier_queues",
        sa.Column("id", sa.String(length=8), nullable=False),
        sa.Column("code", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("operation", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_host", sa.String(length=100), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("total_record", sa.Integer(), nullable=False),
        sa.Column("records_done", sa.Integer(), nullable=False),
        sa.Column("total_added", sa.Integer(), nullable=False),
        sa.Column("total_updated", sa.Integer(), nullable=False),
        sa.Column("total_unchanged", sa.Integer(), nullable=False),
        sa.Column("total_canceled", sa.Integer(), nullable=False),
        sa.Column("total_deleted", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("lease_token", sa.String(length=36), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("start_date", sa.DateTime(), nullable=True),
        sa.Column("end_date", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_supplier_queues_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_queues")),
        sa.UniqueConstraint("code", name=op.f("uq_supplier_queues_code")),
    )
    with op.batch_alter_table("supplier_queues", schema=None) as batch_op:
        batch_op.create_index("ix_supplier_queues_merchant_created", ["merchant_id", "created_at"], unique=False)

    op.create_table(
        "supplier_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("queue_id", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sync_code", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("message_kh", sa.Text(), nullable=False),
        sa.Column("warning", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["supplier_queues.id"], name=op.f("fk_supplier_records_queue_id_supplier_queues")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_records")),
        sa.UniqueConstraint("queue_id", "position", name=op.f("uq_supplier_records_queue_id_position")),
    )
    op.create_table(
        "pushed_payments",
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("sync_code", sa.String(length=100), nullable=False),
        sa.Column("consumer_id", sa.String(length=36), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("bill_syncs", sa.Text(), nullable=False),
        sa.Column("excess", sa.BigInteger(), nullable=False),
        sa.Column("credit_spent", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("queue_id", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["bill_consumers.id"], name=op.f("fk_pushed_payments_consumer_id_bill_consumers")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_pushed_payments_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"], ["transactions.id"], name=op.f("fk_pushed_payments_transaction_id_transactions")
        ),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_pushed_payments")),
        sa.UniqueConstraint("merchant_id", "sync_code", name=op.f("uq_pushed_payments_merchant_id_sync_code")),
    )
    with op.batch_alter_table("pushed_payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pushed_payments_consumer_id"), ["consumer_id"], unique=False)

    with op.batch_alter_table("bill_consumers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sync_code", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("org_code", sa.String(length=100), server_default="", nullable=False))
        batch_op.add_column(sa.Column("name_kh", sa.String(length=255), server_default="", nullable=False))
        batch_op.add_column(sa.Column("address_kh", sa.Text(), server_default="", nullable=False))
        batch_op.create_unique_constraint(
            batch_op.f("uq_bill_consumers_merchant_id_sync_code"), ["merchant_id", "sync_code"]
        )

    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("draft", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("bill_type", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("notified_at", sa.DateTime(), nullable=True))

    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("supplier_token_digest", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_merchants_supplier_token_digest"), ["supplier_token_digest"])

    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("short_id", sa.String(length=8), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_transactions_short_id"), ["short_id"])
    # Bill payments made before this revision get their short payment id too (the Supplier API lists them).
    bind = op.get_bind()
    ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM transactions WHERE type = 'bank_bill'"))]
    given: set[str] = set()
    while len(given) < len(ids):
        given.add("".join(secrets.choice(BASE62) for _ in range(8)))
    if ids:
        bind.execute(
            sa.text("UPDATE transactions SET short_id = :s WHERE id = :i"),
            [{"s": s, "i": i} for s, i in zip(sorted(given), ids, strict=True)],
        )


def downgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_transactions_short_id"), type_="unique")
        batch_op.drop_column("short_id")

    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_merchants_supplier_token_digest"), type_="unique")
        batch_op.drop_column("supplier_token_digest")

    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("notified_at")
        batch_op.drop_column("bill_type")
        batch_op.drop_column("draft")

    with op.batch_alter_table("bill_consumers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_bill_consumers_merchant_id_sync_code"), type_="unique")
        batch_op.drop_column("address_kh")
        batch_op.drop_column("name_kh")
        batch_op.drop_column("org_code")
        batch_op.drop_column("sync_code")

    with op.batch_alter_table("pushed_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pushed_payments_consumer_id"))

    op.drop_table("pushed_payments")
    op.drop_table("supplier_records")
    with op.batch_alter_table("supplier_queues", schema=None) as batch_op:
        batch_op.drop_index("ix_supplier_queues_merchant_created")

    op.drop_table("supplier_queues")
