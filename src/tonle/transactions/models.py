"""The record of every payment and top-up, whatever paid it (a wallet, a bank's confirm, a scanned KHQR), and its
status as a reader sees it. Below the products (payments, checkout, banks) that all write and read it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base, created_at, uuid_pk
from tonle.kit.clock import clock
from tonle.kit.crypto import short_code
from tonle.kit.sql import among


class Transaction(Base):
    """A payment or a top-up. ``reference`` is what merchants look transactions up by (a bill's ref_id, or the
    transaction id of a top-up); banks address it by ``id`` (the tran_id / identity code)."""

    __tablename__ = "transactions"
    __table_args__ = (Index("ix_transactions_merchant_reference", "merchant_id", "reference"),)

    id: Mapped[str] = uuid_pk()
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), nullable=True)
    wallet_id: Mapped[str | None] = mapped_column(ForeignKey("wallets.id"), nullable=True)
    bill_id: Mapped[str | None] = mapped_column(ForeignKey("bills.id"), nullable=True, index=True)
    sub_biller_id: Mapped[str | None] = mapped_column(ForeignKey("sub_billers.id"), nullable=True)
    type: Mapped[str] = mapped_column(String(30))  # wallet_payment | wallet_topup
    reference: Mapped[str] = mapped_column(String(100))
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))  # pending | success | failed | expired
    tran_date: Mapped[datetime] = mapped_column(DateTime)
    expire_date: Mapped[datetime] = mapped_column(DateTime)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    entry_id: Mapped[str | None] = mapped_column(ForeignKey("ledger_entries.id"), nullable=True, index=True)
    # The bank side: which bank holds the current payment token (stored as a digest), and what it confirmed.
    bank_code: Mapped[str | None] = mapped_column(String(30), nullable=True)
    payment_token_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bank_ref: Mapped[str] = mapped_column(String(100), default="")
    bank_date: Mapped[str] = mapped_column(String(20), default="")
    payer_account_no: Mapped[str] = mapped_column(String(60), default="")
    payer_account_name: Mapped[str] = mapped_column(String(200), default="")
    payer_phone: Mapped[str] = mapped_column(String(40), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # The 8-character payment id of a bill payment (the Supplier API's ``tnx_id``, ``BUb4CmDE``); None for others.
    short_id: Mapped[str | None] = mapped_column(String(8), unique=True, nullable=True)
    created_at: Mapped[datetime] = created_at()


def effective_status(tran: Transaction) -> str:
    """A pending transaction past its expiry reads as expired (no writer needed to flip it)."""
    if tran.status == "pending" and tran.expire_date <= clock.now():
        return "expired"
    return tran.status


async def free_short_ids(session: AsyncSession, count: int) -> list[str]:
    """``count`` distinct short payment ids that no transaction has (a clash among 62^8 is all but impossible; the
    look-up makes it impossible, and the unique index guards the rest)."""
    while True:
        picked = list({short_code() for _ in range(count)})
        if len(picked) < count:
            continue
        q = select(Transaction.short_id).where(among(session, Transaction.short_id, picked))
        if not (await session.execute(q)).first():
            return picked
