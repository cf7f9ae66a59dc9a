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
    reversed: Mapped[bool] = mapped_column(default=False)  # given back to the account (reconciliation)
    at: Mapped[datetime] = mapped_column(DateTime)


class SandboxCard(Base):
    """A card the sandbox vault tokenized. Like a real vault's record, minus the number: the sandbox keeps how the
    test card behaves (decided from its number when it was added), so not even the simulated vault stores it."""

    __tablename__ = "sandbox_cards"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column()
    exp_year: Mapped[int] = mapped_column()
    behaviour: Mapped[str] = mapped_column(String(30))  # approve | insufficient_funds | stolen_card | ...
    link_ref: Mapped[str] = mapped_column(String(64))  # the Tonle page it returns to
    state: Mapped[str] = mapped_column(String(20))  # active | awaiting_code | failed
    code_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the one-time code it sent
    code_tries: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = created_at()


class SandboxCardCharge(Base):
    """A charge asked of the sandbox vault, kept by Tonle's reference: asked again, it answers the same outcome."""

    __tablename__ = "sandbox_card_charges"

    reference: Mapped[str] = mapped_column(String(64), primary_key=True)
    card_token: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    ok: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str] = mapped_column(String(40), default="")
    bank_ref: Mapped[str] = mapped_column(String(40), default="")
    reversed: Mapped[bool] = mapped_column(default=False)
    at: Mapped[datetime] = mapped_column(DateTime)


class SandboxAccountCode(Base):
    """The one-time code a sandbox bank "sent" to confirm that an account may be put on file (shown on its page)."""

    __tablename__ = "sandbox_account_codes"

    link_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    bank_code: Mapped[str] = mapped_column(String(30))
    account_number: Mapped[str] = mapped_column(String(40))
    code_digest: Mapped[str] = mapped_column(String(64))
    tries: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = created_at()
