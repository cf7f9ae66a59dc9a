"""sub-biller links payouts outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 05:31:22.450568
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("banks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("online", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("target_url", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_outbox_events_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
    )
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_events_merchant_created", ["merchant_id", "created_at"], unique=False)

    op.create_table(
        "settlement_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("sub_biller_id", sa.String(length=36), nullable=False),
        sa.Column("bank_code", sa.String(length=30), nullable=False),
        sa.Column("currency_restriction", sa.String(length=3), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("account_number", sa.String(length=40), nullable=True),
        sa.Column("account_mask", sa.String(length=40), nullable=True),
        sa.Column("account_name", sa.String(length=200), nullable=True),
        sa.Column("return_url", sa.Text(), nullable=False),
        sa.Column("url_token_digest", sa.String(length=64), nullable=False),
        sa.Column("url_expires_at", sa.DateTime(), nullable=False),
        sa.Column("url_used_at", sa.DateTime(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["bank_code"], ["banks.code"], name=op.f("fk_settlement_links_bank_code_banks")),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_settlement_links_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["sub_biller_id"], ["sub_billers.id"], name=op.f("fk_settlement_links_sub_biller_id_sub_billers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_links")),
        sa.UniqueConstraint("url_token_digest", name=op.f("uq_settlement_links_url_token_digest")),
    )
    with op.batch_alter_table("settlement_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_settlement_links_merchant_id"), ["merchant_id"], unique=False)
        batch_op.create_index("ix_settlement_links_sub_biller", ["sub_biller_id", "created_at"], unique=False)

    op.create_table(
        "payouts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("merchant_id", sa.String(length=36), nullable=False),
        sa.Column("sub_biller_id", sa.String(length=36), nullable=False),
        sa.Column("link_id", sa.String(length=36), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.Column("reversal_entry_id", sa.String(length=36), nullable=True),
        sa.Column("bank_ref", sa.String(length=100), nullable=False),
        sa.Column("failure_reason", sa.String(length=255), nullable=False),
        sa.Column("requested_by", sa.String(length=20), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["ledger_entries.id"], name=op.f("fk_payouts_entry_id_ledger_entries")),
        sa.ForeignKeyConstraint(["link_id"], ["settlement_links.id"], name=op.f("fk_payouts_link_id_settlement_links")),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_payouts_merchant_id_merchants")),
        sa.ForeignKeyConstraint(
            ["reversal_entry_id"], ["ledger_entries.id"], name=op.f("fk_payouts_reversal_entry_id_ledger_entries")
        ),
        sa.ForeignKeyConstraint(
            ["sub_biller_id"], ["sub_billers.id"], name=op.f("fk_payouts_sub_biller_id_sub_billers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
    )
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payouts_merchant_id"), ["merchant_id"], unique=False)
        batch_op.create_index("ix_payouts_sub_biller", ["sub_biller_id", "created_at"], unique=False)

    with op.batch_alter_table("sub_billers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("address", sa.Text(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_sub_billers_number"), ["number"])
    # Sub-billers loaded from fixtures before this revision get their number now.
    conn = op.get_bind()
    taken: set[str] = set()
    for (sub_id,) in conn.execute(sa.text("SELECT id FROM sub_billers WHERE number IS NULL")).all():
        number = str(10_000_000 + secrets.randbelow(90_000_000))
        while number in taken:
            number = str(10_000_000 + secrets.randbelow(90_000_000))
        taken.add(number)
        conn.execute(sa.text("UPDATE sub_billers SET number = :n WHERE id = :id"), {"n": number, "id": sub_id})


def downgrade() -> None:
    with op.batch_alter_table("banks", schema=None) as batch_op:
        batch_op.drop_column("online")
    with op.batch_alter_table("sub_billers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_sub_billers_number"), type_="unique")
        batch_op.drop_column("address")
        batch_op.drop_column("number")

    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_index("ix_payouts_sub_biller")
        batch_op.drop_index(batch_op.f("ix_payouts_merchant_id"))

    op.drop_table("payouts")
    with op.batch_alter_table("settlement_links", schema=None) as batch_op:
        batch_op.drop_index("ix_settlement_links_sub_biller")
        batch_op.drop_index(batch_op.f("ix_settlement_links_merchant_id"))

    op.drop_table("settlement_links")
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_events_merchant_created")

    op.drop_table("outbox_events")
