"""A link session (the page a biller or the SDK opens for a customer to put a card or an account on file) and the
record of every charge of a method on file, by the reference the card vault or bank was asked with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base, created_at, uuid_pk


class MethodLink(Base):
    __tablename__ = "method_links"

    id: Mapped[str] = uuid_pk()
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    page_ref: Mapped[str] = mapped_column(String(64), unique=True)  # the page's address; unguessable
    kind: Mapped[str] = mapped_column(String(20), default="")  # card | bank_account | "" (the customer picks)
    web_url: Mapped[str] = mapped_column(Text, default="")  # where the page returns, with the outcome
    state: Mapped[str] = mapped_column(String(20), default="open")  # open | done | cancelled
    method_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # what it put on file
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = created_at()


class MethodCharge(Base):
    """One charge of a method on file, keyed by the reference the vault or bank was asked with (the transaction's
    id). Written in the transaction that records the payment (``recorded``), or by reconciliation when the payment
    never got recorded (``voided``: the charge is reversed at the vault or bank). The primary key decides which came
    first, so a charge is never both kept and reversed."""

    __tablename__ = "method_charges"

    reference: Mapped[str] = mapped_column(String(64), primary_key=True)
    merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"), nullable=True)
    method_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="")
    state: Mapped[str] = mapped_column(String(20))  # recorded | voided
    created_at: Mapped[datetime] = created_at()
