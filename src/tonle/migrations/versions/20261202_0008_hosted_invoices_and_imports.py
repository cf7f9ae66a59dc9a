"""Bill24 Hosted: consumers, invoices and their lines, payment allocations, import batches and rows

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 03:23:47.647697
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bill_consumers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=50), nullable=False),
        sa.Column("moc", sa.String(length=100), nullable=False),
        sa.Column("vat", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_bill_consumers_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bill_consumers")),
        sa.UniqueConstraint("merchant_id", "code", name=op.f("uq_bill_consumers_merchant_id_code")),
    )
    op.create_table(
        "invoice_imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("total_record", sa.Integer(), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("lease_token", sa.String(length=36), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_invoice_imports_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_imports")),
    )
    with op.batch_alter_table("invoice_imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_imports_merchant_id"), ["merchant_id"], unique=False)

    op.create_table(
        "invoice_import_rows",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reason_kh", sa.Text(), nullable=False),
        sa.Column("invoice_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_id"], ["invoice_imports.id"], name=op.f("fk_invoice_import_rows_import_id_invoice_imports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_import_rows")),
        sa.UniqueConstraint("import_id", "position", name=op.f("uq_invoice_import_rows_import_id_position")),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("consumer_id", sa.String(length=36), nullable=False),
        sa.Column("ref_number", sa.String(length=100), nullable=False),
        sa.Column("ref_id", sa.String(length=100), nullable=False),
        sa.Column("date", sa.DateTime(), nullable=False),
        sa.Column("due_date", sa.DateTime(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_amount", sa.BigInteger(), nullable=False),
        sa.Column("total_tax", sa.BigInteger(), nullable=False),
        sa.Column("paid_outside", sa.BigInteger(), nullable=False),
        sa.Column("paid_bank", sa.BigInteger(), nullable=False),
        sa.Column("exchange_rate_khr", sa.String(length=50), nullable=False),
        sa.Column("total_amount_khr", sa.BigInteger(), nullable=True),
        sa.Column("void", sa.Boolean(), nullable=False),
        sa.Column("page_token", sa.String(length=40), nullable=False),
        sa.Column("khqr_md5", sa.String(length=32), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["bill_consumers.id"], name=op.f("fk_invoices_consumer_id_bill_consumers")
        ),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_invoices_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("merchant_id", "ref_number", name=op.f("uq_invoices_merchant_id_ref_number")),
        sa.UniqueConstraint("page_token", name=op.f("uq_invoices_page_token")),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index("ix_invoices_consumer_due", ["consumer_id", "due_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_invoices_khqr_md5"), ["khqr_md5"], unique=False)
        batch_op.create_index("ix_invoices_merchant_created", ["merchant_id", "created_at"], unique=False)

    op.create_table(
        "invoice_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("invoice_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.String(length=40), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("tax_amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_lines_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
    )
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_lines_invoice_id"), ["invoice_id"], unique=False)

    op.create_table(
        "invoice_allocations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("transaction_id", sa.String(length=36), nullable=False),
        sa.Column("invoice_id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_allocations_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_invoice_allocations_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"], ["transactions.id"], name=op.f("fk_invoice_allocations_transaction_id_transactions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_allocations")),
    )
    with op.batch_alter_table("invoice_allocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_allocations_invoice_id"), ["invoice_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_invoice_allocations_transaction_id"), ["transaction_id"], unique=False)

    with op.batch_alter_table("bill_lookups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bill_ref", sa.String(length=100), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("channel", sa.String(length=30), nullable=False, server_default="Bank Channel"))


def downgrade() -> None:
    with op.batch_alter_table("bill_lookups", schema=None) as batch_op:
        batch_op.drop_column("channel")
        batch_op.drop_column("bill_ref")

    with op.batch_alter_table("invoice_allocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_allocations_transaction_id"))
        batch_op.drop_index(batch_op.f("ix_invoice_allocations_invoice_id"))

    op.drop_table("invoice_allocations")
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_lines_invoice_id"))

    op.drop_table("invoice_lines")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_merchant_created")
        batch_op.drop_index(batch_op.f("ix_invoices_khqr_md5"))
        batch_op.drop_index("ix_invoices_consumer_due")

    op.drop_table("invoices")
    op.drop_table("invoice_import_rows")
    with op.batch_alter_table("invoice_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_imports_merchant_id"))

    op.drop_table("invoice_imports")
    op.drop_table("bill_consumers")
