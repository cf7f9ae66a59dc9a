from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base, created_at


class Checkout(Base):
    """What a checkout transaction carries beyond money (the money is its ``transactions`` row, same id)."""

    __tablename__ = "checkouts"
    __table_args__ = (Index("ix_checkouts_merchant_identity", "merchant_id", "identity_code"),)

    tran_id: Mapped[str] = mapped_column(ForeignKey("transactions.id"), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    flavour: Mapped[str] = mapped_column(String(20))  # checkout | khqr | legacy | bill
    identity_code: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(255), default="")
    device_code: Mapped[str] = mapped_column(String(100), default="")
    channel_code: Mapped[str] = mapped_column(String(50), default="")
    user_ref: Mapped[str] = mapped_column(String(100), default="")
    language: Mapped[str] = mapped_column(String(5), default="km")
    cancel_url: Mapped[str] = mapped_column(Text, default="")
    redirect_url: Mapped[str] = mapped_column(Text, default="")
    customers: Mapped[str] = mapped_column(Text, default="[]")  # JSON, echoed by verify
    customer_code: Mapped[str] = mapped_column(String(100), default="")
    customer_name: Mapped[str] = mapped_column(String(255), default="")
    customer_phone: Mapped[str] = mapped_column(String(50), default="")
    customer_email: Mapped[str] = mapped_column(String(254), default="")
    khqr_string: Mapped[str] = mapped_column(Text)
    khqr_md5: Mapped[str] = mapped_column(String(32), unique=True)
    # The channel of the bank's current inquiry (KHQR when it found the transaction by the QR's MD5).
    channel: Mapped[str] = mapped_column(String(30), default="Deeplink/Checkout")
    favorite_bank: Mapped[str | None] = mapped_column(String(30), nullable=True)
    created_at: Mapped[datetime] = created_at()
