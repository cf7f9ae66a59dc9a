"""Writing events: one row per event, in the caller's transaction, nothing sent before commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tonle.db import new_id
from tonle.kit.clock import clock
from tonle.merchants.models import Merchant
from tonle.webhooks.models import OutboxEvent
from tonle.wire import wirejson


async def emit(
    session: AsyncSession, merchant: Merchant, event_type: str, payload: dict[str, Any], *, bill24_body: bool = False
) -> OutboxEvent:
    """Queue an event. Tonle's own events carry ``event_id`` and ``event_type`` first; a Bill24 payment body is kept
    as Bill24 shapes it, with the event id added last so merchants can drop duplicates."""
    event_id = new_id()
    body = (
        {**payload, "event_id": event_id}
        if bill24_body
        else {"event_id": event_id, "event_type": event_type, **payload}
    )
    now = clock.now()
    event = OutboxEvent(
        id=event_id,
        merchant_id=merchant.id,
        type=event_type,
        target_url=merchant.webhook_url,
        body=wirejson.dumps(body),
        status="pending" if merchant.webhook_url else "no_endpoint",
        next_attempt_at=now if merchant.webhook_url else None,
        attempts=0,
        created_at=now,
    )
    session.add(event)
    await session.flush()
    return event


async def note(session: AsyncSession, merchant: Merchant, event_type: str, payload: dict[str, Any]) -> OutboxEvent:
    """A line in the merchant's delivery log that is not sent anywhere (e.g. "your endpoint was disabled")."""
    event_id = new_id()
    event = OutboxEvent(
        id=event_id,
        merchant_id=merchant.id,
        type=event_type,
        target_url=merchant.webhook_url,
        body=wirejson.dumps({"event_id": event_id, "event_type": event_type, **payload}),
        status="info",
        attempts=0,
        created_at=clock.now(),
    )
    session.add(event)
    await session.flush()
    return event
