from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base


class ProxyCall(Base):
    """One call to a biller's proxy or pending-bills endpoint, kept for its health figures (p50/p99, errors)."""

    __tablename__ = "proxy_calls"
    __table_args__ = (Index("ix_proxy_calls_merchant_started", "merchant_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    kind: Mapped[str] = mapped_column(String(20))  # proxy | pending_bills
    started_at: Mapped[datetime] = mapped_column(DateTime)
    latency_ms: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(30))  # ok | not_found | overdue | nothing_due | currency | unavailable
    error: Mapped[str] = mapped_column(Text, default="")
    request_id: Mapped[str] = mapped_column(String(100), default="")
