"""The Notification API's tables: a message, and one delivery per channel it goes out on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tonle.db import Base, BigId, created_at, uuid_pk


class Notification(Base):
    """A message sent through the Notification API (one per array element of the request)."""

    __tablename__ = "notifications"

    id: Mapped[str] = uuid_pk()  # the notificationId
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    ref_id: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    request: Mapped[str] = mapped_column(Text)  # the element as received, echoed in answers
    created_at: Mapped[datetime] = created_at()


class NotificationDelivery(Base):
    """One channel of one notification: queued -> sent | failed (after its retries, when asked for)."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (Index("ix_notification_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    notification_id: Mapped[str] = mapped_column(ForeignKey("notifications.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    to: Mapped[str] = mapped_column(String(320))
    meta: Mapped[str] = mapped_column(Text, default="{}")
    retry_on_failure: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20))  # queued | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    lease_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
