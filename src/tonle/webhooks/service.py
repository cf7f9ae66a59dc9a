"""The merchant's side of webhooks: its endpoint, secret rotation, the delivery log, resends."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.config import Settings
from tonle.kit import signing
from tonle.kit.clock import clock
from tonle.merchants.models import Merchant
from tonle.webhooks.models import OutboxEvent, WebhookAttempt


async def rotate_secret(session: AsyncSession, settings: Settings, merchant: Merchant) -> tuple[str, datetime | None]:
    """A new secret signs from now on; the old one keeps signing too until the overlap ends."""
    now = clock.now()
    until = None
    if merchant.webhook_secret and settings.webhook_secret_overlap_seconds:
        until = now + timedelta(seconds=settings.webhook_secret_overlap_seconds)
        merchant.webhook_previous_secret, merchant.webhook_previous_secret_until = merchant.webhook_secret, until
    merchant.webhook_secret = signing.new_secret()
    await session.flush()
    return merchant.webhook_secret, until


async def enable(session: AsyncSession, merchant: Merchant) -> None:
    """Re-enable a disabled endpoint; its waiting queue becomes due at once."""
    merchant.webhook_disabled_at, merchant.webhook_disabled_reason, merchant.webhook_consecutive_failures = (
        None,
        None,
        0,
    )
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.merchant_id == merchant.id, OutboxEvent.status == "pending")
        .values(next_attempt_at=clock.now())
    )
    await session.flush()


def encode_cursor(event: OutboxEvent) -> str:
    return base64.urlsafe_b64encode(f"{event.created_at.isoformat()}|{event.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str] | None:
    try:
        stamp, event_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(stamp), event_id
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


async def list_events(
    session: AsyncSession,
    merchant_id: str,
    *,
    status: str | None,
    event_type: str | None,
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[OutboxEvent]:
    q = select(OutboxEvent).where(OutboxEvent.merchant_id == merchant_id)
    if status:
        q = q.where(OutboxEvent.status == status)
    if event_type:
        q = q.where(OutboxEvent.type == event_type)
    if since:
        q = q.where(OutboxEvent.created_at >= since)
    if until:
        q = q.where(OutboxEvent.created_at <= until)
    if after:
        stamp, event_id = after
        q = q.where(
            or_(OutboxEvent.created_at < stamp, and_(OutboxEvent.created_at == stamp, OutboxEvent.id < event_id))
        )
    q = q.order_by(OutboxEvent.created_at.desc(), OutboxEvent.id.desc()).limit(limit)
    return list((await session.execute(q)).scalars())


async def event_of(session: AsyncSession, merchant_id: str, event_id: str) -> OutboxEvent | None:
    q = select(OutboxEvent).where(OutboxEvent.merchant_id == merchant_id, OutboxEvent.id == event_id)
    return (await session.execute(q)).scalar_one_or_none()


async def attempts_of(session: AsyncSession, event: OutboxEvent) -> list[WebhookAttempt]:
    q = select(WebhookAttempt).where(WebhookAttempt.event_id == event.id).order_by(WebhookAttempt.id)
    return list((await session.execute(q)).scalars())


RESENDABLE = ("delivered", "failed", "no_endpoint", "pending")


async def resend(session: AsyncSession, merchant: Merchant, events: list[OutboxEvent]) -> int:
    """Queue the events again as a new series of attempts (their log stays)."""
    ids = [e.id for e in events if e.status in RESENDABLE]
    if ids:
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.merchant_id == merchant.id, OutboxEvent.id.in_(ids))
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=clock.now(),
                lease_until=None,
                lease_token=None,
                target_url=merchant.webhook_url,
            )
        )
    return len(ids)
