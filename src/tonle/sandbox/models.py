"""The sandbox banks' own books: their customers' accounts (fixture ``accounts`` of a bank), which direct debits
draw on, and every debit asked of them by reference. Simulated: a real bank keeps these, not Tonle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base, created_at


class SandboxAccount(Base):
    __tablename__ = "sandbox_accounts"
    __table_args__ = (UniqueConstraint("bank_code", "number"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bank_code: Mapped[str] = mapped_column(ForeignKey("banks.code"))
    number: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)  # minor units; the bank's money, not Tonle's
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | closed
    created_at: Mapped[datetime] = created_at()


class SandboxDebit(Base):
    """A debit asked of a sandbox bank, kept by Tonle's reference: asked again, it answers the same outcome."""

    __tablename__ = "sandbox_debits"

    reference: Mapped[str] = mapped_column(String(64), primary_key=True)
    bank_code: Mapped[str] = mapped_column(String(30))
    account_number: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    ok: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str] = mapped_column(String(40), default="")
    bank_ref: Mapped[str] = mapped_column(String(40), default="")
    at: Mapped[datetime] = mapped_column(DateTime)
