"""The bills Tonle holds for a biller: pushed by settle payment today, by Hosted imports and Supplier pushes next.
Below the products that write and pay them (payments, checkout) and the pages that list them (the portal)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base, BigId, created_at, uuid_pk


class Bill(Base):
    """A bill pushed by a merchant (settle payment). Amounts are minor units of ``currency``; ``date`` and
    ``due_date`` keep the wall-clock digits the merchant sent (no time-zone conversion, as the hash does)."""

    __tablename__ = "bills"
    __table_args__ = (
        UniqueConstraint("merchant_id", "ref_id"),
        UniqueConstraint("checkout_ref"),
        Index("ix_bills_customer_created", "customer_id", "created_at"),
    )

    id: Mapped[str] = uuid_pk()
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    sub_biller_id: Mapped[str] = mapped_column(ForeignKey("sub_billers.id"))
    ref_id: Mapped[str] = mapped_column(String(100))
    date: Mapped[datetime] = mapped_column(DateTime)
    due_date: Mapped[datetime] = mapped_column(DateTime)
    currency: Mapped[str] = mapped_column(String(3))
    total_amount: Mapped[int] = mapped_column(BigInteger)
    total_tax: Mapped[int] = mapped_column(BigInteger, default=0)
    description: Mapped[str] = mapped_column(Text, default="")
    exchange_rate_khr: Mapped[str] = mapped_column(String(50), default="")
    total_amount_khr: Mapped[str] = mapped_column(String(50), default="")
    status: Mapped[str] = mapped_column(String(20))  # paid | unpaid
    payment_method: Mapped[str] = mapped_column(String(20), default="")  # "wallet" once paid from a wallet
    payment_date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    payment_ref: Mapped[str] = mapped_column(String(100), default="")
    checkout_ref: Mapped[str | None] = mapped_column(String(40), nullable=True)  # set while the bill awaits checkout
    created_at: Mapped[datetime] = created_at()


class BillDetail(Base):
    __tablename__ = "bill_details"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bill_id: Mapped[str] = mapped_column(ForeignKey("bills.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    item_name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    price: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_name: Mapped[str] = mapped_column(String(255), default="")
