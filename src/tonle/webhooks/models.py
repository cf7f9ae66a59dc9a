from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base, BigId, created_at, uuid_pk


class OutboxEvent(Base):
    """An event for the merchant, written in the same transaction as the change it announces, and its delivery
    state. The worker delivers it after commit; ``id`` is the event id every delivery carries.

    status: pending (due at ``next_attempt_at``) | delivered | failed (retries exhausted) | no_endpoint (the merchant
    had no webhook URL) | info (a note for the delivery log, never sent)."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_merchant_created", "merchant_id", "created_at"),
        Index("ix_outbox_events_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = uuid_pk()
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    type: Mapped[str] = mapped_column(String(60))
    target_url: Mapped[str | None] = mapped_column(Text, nullable=True)  # the merchant's webhook URL at the time
    body: Mapped[str] = mapped_column(Text)  # the exact JSON to send
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = created_at()


class WebhookAttempt(Base):
    """One try at delivering an event: when, where, how long, what came back."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_event", "event_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("outbox_events.id"))
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    attempt_no: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    latency_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_snippet: Mapped[str] = mapped_column(Text, default="")  # the first KB of the answer
    error: Mapped[str] = mapped_column(Text, default="")
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
