"""payments bills transactions idempotency

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 05:18:20.595377
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_idempotency_keys_scope_key")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_idempotency_keys_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "bills",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("sub_biller_id", sa.String(length=36), nullable=False),
        sa.Column("ref_id", sa.String(length=100), nullable=False),
        sa.Column("date", sa.DateTime(), nullable=False),
        sa.Column("due_date", sa.DateTime(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_amount", sa.BigInteger(), nullable=False),
        sa.Column("total_tax", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("exchange_rate_khr", sa.String(length=50), nullable=False),
        sa.Column("total_amount_khr", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("payment_method", sa.String(length=20), nullable=False),
        sa.Column("payment_date", sa.DateTime(), nullable=True),
        sa.Column("payment_ref", sa.String(length=100), nullable=False),
        sa.Column("checkout_ref", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_bills_customer_id_customers")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_bills_merchant_id_merchants")),
        sa.ForeignKeyConstraint(["sub_biller_id"], ["sub_billers.id"], name=op.f("fk_bills_sub_biller_id_sub_billers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bills")),
        sa.UniqueConstraint("checkout_ref", name=op.f("uq_bills_checkout_ref")),
        sa.UniqueConstraint("merchant_id", "ref_id", name=op.f("uq_bills_merchant_id_ref_id")),
    )
    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.create_index("ix_bills_customer_created", ["customer_id", "created_at"], unique=False)

    op.create_table(
        "bill_details",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("bill_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("tax_amount", sa.BigInteger(), nullable=False),
        sa.Column("tax_name", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["bill_id"], ["bills.id"], name=op.f("fk_bill_details_bill_id_bills")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bill_details")),
    )
    with op.batch_alter_table("bill_details", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bill_details_bill_id"), ["bill_id"], unique=False)

    op.create_table(
        "transactions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("wallet_id", sa.String(length=36), nullable=True),
        sa.Column("bill_id", sa.String(length=36), nullable=True),
        sa.Column("sub_biller_id", sa.String(length=36), nullable=True),
        sa.Column("type", sa.String(length=30), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("tran_date", sa.DateTime(), nullable=False),
        sa.Column("expire_date", sa.DateTime(), nullable=False),
        sa.Column("paid_at", sa.DateTime(), nullable=True),
        sa.Column("entry_id", sa.String(length=36), nullable=True),
        sa.Column("bank_code", sa.String(length=30), nullable=True),
        sa.Column("payment_token_digest", sa.String(length=64), nullable=True),
        sa.Column("bank_ref", sa.String(length=100), nullable=False),
        sa.Column("bank_date", sa.String(length=20), nullable=False),
        sa.Column("payer_account_no", sa.String(length=60), nullable=False),
        sa.Column("payer_account_name", sa.String(length=200), nullable=False),
        sa.Column("payer_phone", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["bill_id"], ["bills.id"], name=op.f("fk_transactions_bill_id_bills")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_transactions_customer_id_customers")),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["ledger_entries.id"], name=op.f("fk_transactions_entry_id_ledger_entries")
        ),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_transactions_merchant_id_merchants")),
        sa.ForeignKeyConstraint(
            ["sub_biller_id"], ["sub_billers.id"], name=op.f("fk_transactions_sub_biller_id_sub_billers")
        ),
        sa.ForeignKeyConstraint(["wallet_id"], ["wallets.id"], name=op.f("fk_transactions_wallet_id_wallets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transactions_bill_id"), ["bill_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_transactions_entry_id"), ["entry_id"], unique=False)
        batch_op.create_index("ix_transactions_merchant_reference", ["merchant_id", "reference"], unique=False)

    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("billflow_enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(
            sa.Column("require_settlement_link", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    # Existing wallets get a payment token each before the column becomes required.
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_token", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    for (wallet_id,) in conn.execute(sa.text("SELECT id FROM wallets")).all():
        conn.execute(
            sa.text("UPDATE wallets SET payment_token = :t WHERE id = :id"),
            {"t": secrets.token_hex(16), "id": wallet_id},
        )
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.alter_column("payment_token", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_wallets_payment_token"), ["payment_token"])


def downgrade() -> None:
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_wallets_payment_token"), type_="unique")
        batch_op.drop_column("payment_token")

    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("require_settlement_link")
        batch_op.drop_column("billflow_enabled")

    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_transactions_merchant_reference")
        batch_op.drop_index(batch_op.f("ix_transactions_entry_id"))
        batch_op.drop_index(batch_op.f("ix_transactions_bill_id"))

    op.drop_table("transactions")
    with op.batch_alter_table("bill_details", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bill_details_bill_id"))

    op.drop_table("bill_details")
    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.drop_index("ix_bills_customer_created")

    op.drop_table("bills")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_expires_at"))

    op.drop_table("idempotency_keys")
