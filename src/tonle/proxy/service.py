"""The Merchant Proxy (spec other-apis §3): the bill source that asks the biller's own system. Registered with the
bank channel for bills as source ``proxy``; it keeps a record of every call for the biller's health figures."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.banks import bills
from tonle.config import Settings
from tonle.kit.clock import clock
from tonle.proxy import answer, client
from tonle.proxy.models import ProxyCall

log = logging.getLogger("tonle.proxy")


def _record(
    biller: bills.Biller, kind: str, started: datetime, reply: client.Reply, outcome: str, error: str, request_id: str
) -> ProxyCall:
    return ProxyCall(
        merchant_id=biller.id,
        kind=kind,
        started_at=started,
        latency_ms=reply.latency_ms,
        outcome=outcome,
        error=error[:1000],
        request_id=request_id[:100],
    )


async def _call(settings: Settings, biller: bills.Biller, url: str, consumer_code: str, request_id: str) -> Any:
    return await client.post(
        url,
        {"consumer_code": consumer_code},
        token=biller.token,
        secret=biller.webhook_secret,
        limit_seconds=settings.proxy_timeout_seconds,
        allow_private=settings.webhook_allow_private_targets,
        request_id=request_id,
    )


async def look_up(
    session: AsyncSession, settings: Settings, biller: bills.Biller, consumer_code: str, request_id: str
) -> bills.Outcome:
    """Ask the biller's proxy (and its pending bills, at once). ``session`` is not used: nothing stays open while
    the biller is asked."""
    started = clock.now()
    if not biller.proxy_url:
        return bills.Outcome(refused=bills.BillerUnavailable("the biller has no proxy URL"))
    calls = [_call(settings, biller, biller.proxy_url, consumer_code, request_id)]
    if biller.api_url:  # pending bills are asked at the same time: the bank waits for the slower of the two
        calls.append(_call(settings, biller, f"{biller.api_url}/pending_bills", consumer_code, request_id))
    replies = await asyncio.gather(*calls)
    out = bills.Outcome()

    reply = replies[0]
    try:
        if reply.status is None:
            raise answer.Unusable(reply.error)
        reading = answer.read(reply.status, reply.content)
    except answer.Unusable as exc:
        log.warning("proxy unavailable: biller=%s request_id=%s reason=%s", biller.biller_code, request_id, exc)
        out.refused = bills.BillerUnavailable(str(exc))
        out.records.append(_record(biller, "proxy", started, reply, "unavailable", str(exc), request_id))
    else:
        out.records.append(_record(biller, "proxy", started, reply, answer.OUTCOMES[reading.code], "", request_id))
        if reading.code in answer.REFUSALS:
            out.refused = answer.REFUSALS[reading.code]()
        else:
            out.found = reading.found

    if len(replies) > 1:
        pending = replies[1]
        try:
            if pending.status is None:
                raise answer.Unusable(pending.error)
            out.pending = answer.read_pending(pending.status, pending.content)
            out.records.append(_record(biller, "pending_bills", started, pending, "ok", "", request_id))
        except answer.Unusable as exc:  # the bill can still be paid: only the list is not shown
            log.warning(
                "pending bills unavailable: biller=%s request_id=%s reason=%s", biller.biller_code, request_id, exc
            )
            out.records.append(_record(biller, "pending_bills", started, pending, "unavailable", str(exc), request_id))
    return out


bills.register_source("proxy", look_up)


def _rank(sorted_ms: list[int], q: float) -> int | None:
    """Nearest-rank percentile."""
    if not sorted_ms:
        return None
    k = max(1, -(-len(sorted_ms) * q // 1))
    return sorted_ms[int(k) - 1]


async def health(session: AsyncSession, merchant_id: str, *, hours: int = 24) -> dict[str, Any]:
    """Per kind of call over the last ``hours``: count, p50/p99 latency, error rate (answers Tonle could not use;
    a biller's own refusals, codes 1-4, are answers), outcomes, and the last error."""
    since = clock.now() - timedelta(hours=hours)
    rows = (
        (
            await session.execute(
                select(ProxyCall)
                .where(ProxyCall.merchant_id == merchant_id, ProxyCall.started_at >= since)
                .order_by(ProxyCall.started_at, ProxyCall.id)
            )
        )
        .scalars()
        .all()
    )
    out: dict[str, Any] = {"window_hours": hours}
    for kind in ("proxy", "pending_bills"):
        mine = [r for r in rows if r.kind == kind]
        ms = sorted(r.latency_ms for r in mine)
        errors = [r for r in mine if r.outcome == "unavailable"]
        outcomes: dict[str, int] = {}
        for r in mine:
            outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
        last = errors[-1] if errors else None
        out[kind] = {
            "calls": len(mine),
            "p50_ms": _rank(ms, 0.5),
            "p99_ms": _rank(ms, 0.99),
            "error_rate": (Decimal(len(errors)) / len(mine)).quantize(Decimal("0.0001")).normalize() if mine else 0,
            "outcomes": outcomes,
            "last_error": (
                {"at": last.started_at, "error": last.error, "request_id": last.request_id} if last else None
            ),
        }
    return out
