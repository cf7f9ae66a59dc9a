"""checkout khqr

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 06:25:41.786976
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkouts",
        sa.Column("tran_id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("flavour", sa.String(length=20), nullable=False),
        sa.Column("identity_code", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.String(length=255), nullable=False),
        sa.Column("device_code", sa.String(length=100), nullable=False),
        sa.Column("channel_code", sa.String(length=50), nullable=False),
        sa.Column("user_ref", sa.String(length=100), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("cancel_url", sa.Text(), nullable=False),
        sa.Column("redirect_url", sa.Text(), nullable=False),
        sa.Column("customers", sa.Text(), nullable=False),
        sa.Column("customer_code", sa.String(length=100), nullable=False),
        sa.Column("customer_name", sa.String(length=255), nullable=False),
        sa.Column("customer_phone", sa.String(length=50), nullable=False),
        sa.Column("customer_email", sa.String(length=254), nullable=False),
        sa.Column("khqr_string", sa.Text(), nullable=False),
        sa.Column("khqr_md5", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=30), nullable=False),
        sa.Column("favorite_bank", sa.String(length=30), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_checkouts_merchant_id_merchants")),
        sa.ForeignKeyConstraint(["tran_id"], ["transactions.id"], name=op.f("fk_checkouts_tran_id_transactions")),
        sa.PrimaryKeyConstraint("tran_id", name=op.f("pk_checkouts")),
        sa.UniqueConstraint("khqr_md5", name=op.f("uq_checkouts_khqr_md5")),
    )
    with op.batch_alter_table("checkouts", schema=None) as batch_op:
        batch_op.create_index("ix_checkouts_merchant_identity", ["merchant_id", "identity_code"], unique=False)

    with op.batch_alter_table("banks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sandbox_token", sa.String(length=200), nullable=True))

    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("logo_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("checkout_fee_fixed_khr", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("checkout_fee_fixed_usd", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("checkout_fee_bps", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("khqr_account_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("khqr_merchant_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("khqr_acquiring_bank", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("khqr_city", sa.String(length=15), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("merchants", schema=None) as batch_op:
        batch_op.drop_column("khqr_city")
        batch_op.drop_column("khqr_acquiring_bank")
        batch_op.drop_column("khqr_merchant_id")
        batch_op.drop_column("khqr_account_id")
        batch_op.drop_column("checkout_fee_bps")
        batch_op.drop_column("checkout_fee_fixed_usd")
        batch_op.drop_column("checkout_fee_fixed_khr")
        batch_op.drop_column("logo_url")

    with op.batch_alter_table("banks", schema=None) as batch_op:
        batch_op.drop_column("sandbox_token")

    with op.batch_alter_table("checkouts", schema=None) as batch_op:
        batch_op.drop_index("ix_checkouts_merchant_identity")

    op.drop_table("checkouts")
