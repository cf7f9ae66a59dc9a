from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base, BigId, created_at, uuid_pk


class Account(Base):
    """A ledger account in one currency. ``balance`` is a cache of the sum of its postings, kept in the same
    statement that writes each posting and checked by ``tonle ledger verify``."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("merchant_id", "kind", "owner_ref", "currency"),
        CheckConstraint("allow_negative OR balance >= 0", name="no_negative"),
    )

    id: Mapped[str] = uuid_pk()
    merchant_id: Mapped[str] = mapped_column(
        ForeignKey("merchants.id"), index=True
    )  # every account has an owner merchant
    kind: Mapped[str] = mapped_column(String(40))  # see ledger.service.AccountKind
    owner_ref: Mapped[str] = mapped_column(String(100), default="")  # what owns it: wallet id, sub-biller id, bank code
    currency: Mapped[str] = mapped_column(String(3))
    allow_negative: Mapped[bool] = mapped_column(Boolean, default=False)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    # A closed account takes no more postings (a deleted customer's wallets); its history stays.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = created_at()


class Entry(Base):
    """A journal entry: one business event that moves money. Its postings sum to zero per currency."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_merchant_created", "merchant_id", "created_at"),)

    id: Mapped[str] = uuid_pk()
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    kind: Mapped[str] = mapped_column(String(40))
    memo: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = created_at()


class Posting(Base):
    __tablename__ = "ledger_postings"
    __table_args__ = (Index("ix_ledger_postings_account", "account_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)  # signed minor units: + credit to the account, - debit
    balance_after: Mapped[int] = mapped_column(BigInteger)  # the account's balance right after this posting
    created_at: Mapped[datetime] = created_at()
