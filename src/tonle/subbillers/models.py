from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base, created_at, uuid_pk


class SubBiller(Base):
    """A sub-biller (supplier) that settled payments go to. ``code`` is the merchant's supplier_sync_code (what
    settle payment's payment_to names); ``number`` is Tonle's own code for it (Bill24's numeric ``code``)."""

    __tablename__ = "sub_billers"
    __table_args__ = (UniqueConstraint("merchant_id", "code"),)

    id: Mapped[str] = uuid_pk()
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    code: Mapped[str] = mapped_column(String(50))
    number: Mapped[str | None] = mapped_column(String(12), unique=True, nullable=True)
    name: Mapped[str] = mapped_column(String(255))
    name_kh: Mapped[str | None] = mapped_column(String(255), nullable=True)
    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = created_at()


class SettlementLink(Base):
    """A bank account a sub-biller links for its settlements, through the bank's linking page.

    pending (web_url handed out) -> active (approved on the bank page) | rejected. The page URL carries a one-time
    token (stored as a digest) that expires. The full account number is kept only here, for payouts; the API only
    ever shows ``account_mask``."""

    __tablename__ = "settlement_links"
    __table_args__ = (Index("ix_settlement_links_sub_biller", "sub_biller_id", "created_at"),)

    id: Mapped[str] = uuid_pk()
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    sub_biller_id: Mapped[str] = mapped_column(ForeignKey("sub_billers.id"))
    bank_code: Mapped[str] = mapped_column(ForeignKey("banks.code"))
    currency_restriction: Mapped[str | None] = mapped_column(String(3), nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)  # the account's, once approved
    status: Mapped[str] = mapped_column(String(20))  # pending | active | rejected
    account_number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    account_mask: Mapped[str | None] = mapped_column(String(40), nullable=True)
    account_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    return_url: Mapped[str] = mapped_column(Text)
    url_token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    url_expires_at: Mapped[datetime] = mapped_column(DateTime)
    url_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = created_at()


class Payout(Base):
    """Money leaving a sub-biller's settlement account for its linked bank account.

    pending (money already moved to the bank's clearing account) -> paid | failed (a reversing entry returns it)."""

    __tablename__ = "payouts"
    __table_args__ = (Index("ix_payouts_sub_biller", "sub_biller_id", "created_at"),)

    id: Mapped[str] = uuid_pk()
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    sub_biller_id: Mapped[str] = mapped_column(ForeignKey("sub_billers.id"))
    link_id: Mapped[str] = mapped_column(ForeignKey("settlement_links.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))  # pending | paid | failed
    entry_id: Mapped[str] = mapped_column(ForeignKey("ledger_entries.id"))
    reversal_entry_id: Mapped[str | None] = mapped_column(ForeignKey("ledger_entries.id"), nullable=True)
    bank_ref: Mapped[str] = mapped_column(String(100), default="")
    failure_reason: Mapped[str] = mapped_column(String(255), default="")
    requested_by: Mapped[str] = mapped_column(String(20))  # portal | scheduler | api
    completed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = created_at()
