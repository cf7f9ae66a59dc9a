"""The delivery worker: claims due events with a lease, POSTs them signed, logs every attempt, retries on schedule.

Claims are one UPDATE ... RETURNING over rows picked with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (on SQLite the
write lock serialises claimers), so several workers share the work and never hold the same event at once. An event
whose worker died mid-send is claimed again when its lease runs out: delivery is at least once, and every body
carries the event id for the merchant to drop duplicates.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.config import Settings
from tonle.db import Database
from tonle.jobs.claims import lease_claim
from tonle.kit import signing
from tonle.kit.clock import clock, epoch
from tonle.merchants.models import Merchant
from tonle.webhooks import outbox, schedule, targets
from tonle.webhooks.models import OutboxEvent, WebhookAttempt

log = logging.getLogger("tonle.webhooks")
SNIPPET = 1024


@dataclass
class Claimed:
    id: str
    merchant_id: str
    body: str
    attempt_no: int
    lease_token: str


_PICK = (
    "SELECT e.id FROM outbox_events e JOIN merchants m ON m.id = e.merchant_id "
    "WHERE e.status = 'pending' AND e.next_attempt_at <= :now AND (e.lease_until IS NULL OR e.lease_until < :now) "
    "AND m.webhook_disabled_at IS NULL ORDER BY e.next_attempt_at, e.id LIMIT :n"
)


async def claim(db: Database, limit: int, lease: timedelta) -> list[Claimed]:
    now = clock.now()
    token = str(uuid.uuid4())
    stmt = lease_claim(
        "outbox_events",
        _PICK,
        "id, merchant_id, body, attempts",
        postgres=db.engine.dialect.name == "postgresql",
        lock_of="e",
    )
    async with db.sessions() as session, session.begin():
        rows = await session.execute(
            stmt,
            {"now": now, "n": limit, "until": now + lease, "token": token},
        )
        return [Claimed(r.id, r.merchant_id, r.body, r.attempts, token) for r in rows]


def _secrets(merchant: Merchant, now: datetime) -> list[str]:
    keys = [merchant.webhook_secret] if merchant.webhook_secret else []
    if (
        merchant.webhook_previous_secret
        and merchant.webhook_previous_secret_until
        and merchant.webhook_previous_secret_until > now
    ):
        keys.append(merchant.webhook_previous_secret)
    return [k for k in keys if signing.is_valid_secret(k)]


@dataclass
class Outcome:
    url: str
    started: datetime
    latency_ms: int
    status_code: int | None
    snippet: str
    error: str

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def reason(self) -> str:
        """Why an attempt failed, in one line for the server log."""
        if self.error:
            return self.error
        return f"HTTP {self.status_code}: {self.snippet[:200]!r}"


async def send(client: httpx.AsyncClient, settings: Settings, merchant: Merchant, event: Claimed) -> Outcome:
    url = merchant.webhook_url or ""
    started = clock.now()
    t0 = time.perf_counter()
    body = event.body.encode()
    try:
        if not url:
            raise targets.TargetRefused("the merchant has no webhook URL")
        await targets.check(url, allow_private=settings.webhook_allow_private_targets)
        headers = {
            # Exactly this Content-Type (no charset): a widely used merchant plugin ignores anything else.
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "Tonle-Webhooks",
        }
        keys = _secrets(merchant, started)
        if keys:
            headers.update(signing.headers(keys, event.id, epoch(started), body))
        else:  # a merchant without a secret still gets the id and timestamp, to drop duplicates by
            headers.update({"webhook-id": event.id, "webhook-timestamp": str(epoch(started))})
        response = await client.post(url, content=body, headers=headers)
        snippet = response.content[:SNIPPET].decode("utf-8", errors="replace")
        return Outcome(url, started, int((time.perf_counter() - t0) * 1000), response.status_code, snippet, "")
    except (httpx.HTTPError, targets.TargetRefused, OSError) as exc:
        return Outcome(
            url, started, int((time.perf_counter() - t0) * 1000), None, "", f"{type(exc).__name__}: {exc}"[:1000]
        )


async def record(db: Database, settings: Settings, event: Claimed, merchant: Merchant, outcome: Outcome) -> None:
    """Log the attempt and move the event on, but only while we still hold its lease."""
    async with db.sessions() as session, session.begin():
        session.add(
            WebhookAttempt(
                event_id=event.id,
                merchant_id=event.merchant_id,
                attempt_no=event.attempt_no,
                url=outcome.url,
                started_at=outcome.started,
                latency_ms=outcome.latency_ms,
                status_code=outcome.status_code,
                response_snippet=outcome.snippet,
                error=outcome.error,
                delivered=outcome.delivered,
            )
        )
        now = clock.now()
        values: dict[str, object] = {
            "lease_until": None,
            "lease_token": None,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error or None,
        }
        if outcome.delivered:
            values.update(status="delivered", delivered_at=now)
        else:
            delay = schedule.next_delay(merchant.webhook_retry_profile, event.attempt_no)
            if delay is None:
                values["status"] = "failed"  # the schedule is exhausted; a resend starts a new series
            else:
                values["next_attempt_at"] = now + delay
            log.warning(
                "webhook delivery failed event=%s merchant=%s attempt=%s url=%s reason=%s next=%s",
                event.id,
                event.merchant_id,
                event.attempt_no,
                outcome.url.split("?", 1)[0],  # a query string may carry the merchant's own token
                outcome.reason,
                f"in {int(delay.total_seconds())}s" if delay is not None else "none (failed)",
            )
        moved = await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == event.id, OutboxEvent.lease_token == event.lease_token)
            .values(**values)
        )
        if moved.rowcount != 1:
            return  # our lease ran out and another worker took the event over; its result will count
        await _endpoint_health(session, settings, merchant.id, outcome.delivered)


async def _endpoint_health(session: AsyncSession, settings: Settings, merchant_id: str, delivered: bool) -> None:
    if delivered:
        await session.execute(update(Merchant).where(Merchant.id == merchant_id).values(webhook_consecutive_failures=0))
        return
    failures = (
        await session.execute(
            update(Merchant)
            .where(Merchant.id == merchant_id)
            .values(webhook_consecutive_failures=Merchant.webhook_consecutive_failures + 1)
            .returning(Merchant.webhook_consecutive_failures)
        )
    ).scalar_one()
    if failures >= settings.webhook_disable_after_failures:
        disabled = await session.execute(
            update(Merchant)
            .where(Merchant.id == merchant_id, Merchant.webhook_disabled_at.is_(None))
            .values(webhook_disabled_at=clock.now(), webhook_disabled_reason=f"{failures} failed deliveries in a row")
        )
        if disabled.rowcount == 1:
            merchant = await session.get(Merchant, merchant_id)
            assert merchant is not None
            await outbox.note(
                session,
                merchant,
                "webhook.endpoint.disabled",
                {"reason": f"{failures} failed deliveries in a row", "url": merchant.webhook_url or ""},
            )


async def run_once(db: Database, settings: Settings, client: httpx.AsyncClient, batch: int = 20) -> int:
    """Deliver what is due now; returns how many attempts were made."""
    # The lease outlives the longest send (the client's timeout) by a margin; a worker that died frees it then.
    lease = timedelta(seconds=settings.webhook_timeout_seconds + settings.webhook_lease_margin_seconds)
    events = await claim(db, batch, lease)
    if not events:
        return 0
    async with db.sessions() as session:
        ids = {e.merchant_id for e in events}
        merchants = {m.id: m for m in (await session.execute(select(Merchant).where(Merchant.id.in_(ids)))).scalars()}

    async def one(event: Claimed) -> None:
        merchant = merchants[event.merchant_id]
        outcome = await send(client, settings, merchant, event)
        await record(db, settings, event, merchant, outcome)

    await asyncio.gather(*(one(e) for e in events))
    return len(events)
