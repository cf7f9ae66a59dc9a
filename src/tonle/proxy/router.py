"""Tonle extension: the health of the merchant's proxy, as Tonle saw its calls."""

from __future__ import annotations

from fastapi import APIRouter, Query

from tonle.merchants.auth import CurrentMerchant
from tonle.proxy import service
from tonle.wire import codes, envelope
from tonle.wire.dates import dotnet_local
from tonle.wire.http import CompatDep, Session

router = APIRouter(prefix="/tonle/v1/proxy", tags=["Merchant Proxy (Tonle)"])


@router.get("/health", summary="Your proxy's latency (p50/p99), error rate and last error, as Tonle saw its calls")
async def health(
    merchant: CurrentMerchant,
    session: Session,
    compat: CompatDep,
    hours: int = Query(default=24, ge=1, le=24 * 30, description="the window, in hours"),
):
    data = await service.health(session, merchant.id, hours=hours)
    for kind in ("proxy", "pending_bills"):
        last = data[kind]["last_error"]
        if last:
            last["at"] = dotnet_local(last["at"])
    data["biller_code"] = merchant.biller_code
    data["bill_source"] = merchant.bill_source
    data["proxy_url"] = merchant.proxy_url
    return envelope.product(codes.SUCCESS, data, compat)
