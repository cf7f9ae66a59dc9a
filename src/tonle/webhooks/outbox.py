"""Writing events: one row per event, in the caller's transaction, nothing sent before commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tonle.db import new_id
from tonle.kit import wirejson
from tonle.kit.timefmt import clock
from tonle.merchants.models import Merchant
from tonle.webhooks.models import OutboxEvent


async def emit(session: AsyncSession, merchant: Merchant, event_type: str, payload: dict[str, Any]) -> OutboxEvent:
    event_id = new_id()
    body = {"event_id": event_id, "event_type": event_type, **payload}
    event = OutboxEvent(
        id=event_id,
        merchant_id=merchant.id,
        type=event_type,
        target_url=merchant.webhook_url,
        body=wirejson.dumps(body),
        status="pending",
        created_at=clock.now(),
    )
    session.add(event)
    await session.flush()
    return event
