from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base, created_at, uuid_pk


class OutboxEvent(Base):
    """An event for the merchant, written in the same transaction as the change it announces. The webhook engine
    delivers it after commit; ``id`` is the event id every delivery carries."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_merchant_created", "merchant_id", "created_at"),)

    id: Mapped[str] = uuid_pk()
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    type: Mapped[str] = mapped_column(String(60))
    target_url: Mapped[str | None] = mapped_column(Text, nullable=True)  # the merchant's webhook URL at the time
    body: Mapped[str] = mapped_column(Text)  # the exact JSON to send
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime] = created_at()
