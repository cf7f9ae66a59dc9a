"""Tonle's webhook API for merchants (an extension; Bill24 configures webhooks in its portal)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import Field

from tonle.merchants.auth import CurrentMerchant
from tonle.webhooks import service, targets
from tonle.webhooks.codes import EVENT_NOT_FOUND, INVALID_URL
from tonle.webhooks.models import OutboxEvent, WebhookAttempt
from tonle.webhooks.schedule import SCHEDULES
from tonle.wire import codes, envelope, wirejson
from tonle.wire.body import Custom, Date, Pass, Text, WireBody, parse
from tonle.wire.dates import dotnet_local
from tonle.wire.errors import TonleError
from tonle.wire.http import Body, CompatDep, Session, SettingsDep, body_schema

router = APIRouter(prefix="/tonle/v1/webhooks", tags=["Webhooks (Tonle)"])


class EndpointRequest(WireBody):
    url: Annotated[str, Text(required=True, max_len=2000)] = Field(
        description="http(s); production refuses loopback, private and link-local targets"
    )
    retry_profile: Annotated[
        str | None, Text(max_len=20, choices=tuple(SCHEDULES), shown=("standard", "bill24"), late_choice=True)
    ] = Field(default=None, description="standard (about 3 days) or bill24 (5 retries)")
    body_format: Annotated[str | None, Text(max_len=20, choices=("current", "legacy"), late_choice=True)] = Field(
        default=None, description="current (§2.4 payload) or legacy (older checkout payload)"
    )


class ResendRequest(WireBody):
    status: Annotated[
        str,
        Text(
            max_len=20,
            default="failed",
            choices=service.RESENDABLE,
            choice_text=("[status] must be failed, delivered, no_endpoint or pending.", "[status] មិនត្រឹមត្រូវ។"),
        ),
    ] = Field(default="failed", description="resend the events in this state")
    since: Annotated[str | None, Date()] = Field(default=None, description="Phnom Penh time")
    until: Annotated[str | None, Date()] = None


def _cursor(p: Pass, key: str) -> Any:
    raw = p.src.get(key)
    after = service.decode_cursor(raw) if raw else None
    if raw and after is None:
        p.fail(("[cursor] is not valid.", "[cursor] មិនត្រឹមត្រូវ។"))
    return after


EVENT_STATES = ("pending", "delivered", "failed", "no_endpoint", "info")


class DeliveriesQuery(WireBody):
    """The delivery log's query parameters that need more than a type (FastAPI checks the others)."""

    status: Annotated[str | None, Text(max_len=20, choices=EVENT_STATES)] = None
    event_type: Annotated[str | None, Text(max_len=100)] = None
    since: Annotated[str | None, Date()] = None
    until: Annotated[str | None, Date()] = None
    cursor: Annotated[str | None, Custom(_cursor)] = None


def _endpoint(merchant: Any) -> dict[str, Any]:
    return {
        "url": merchant.webhook_url,
        "enabled": merchant.webhook_disabled_at is None,
        "disabled_at": dotnet_local(merchant.webhook_disabled_at),
        "disabled_reason": merchant.webhook_disabled_reason,
        "consecutive_failures": merchant.webhook_consecutive_failures,
        "retry_profile": merchant.webhook_retry_profile,
        "body_format": merchant.webhook_body_format,
        "secret": merchant.webhook_secret,
        "previous_secret_valid_until": dotnet_local(merchant.webhook_previous_secret_until),
    }


def _event(e: OutboxEvent) -> dict[str, Any]:
    return {
        "event_id": e.id,
        "event_type": e.type,
        "status": e.status,
        "attempts": e.attempts,
        "created_at": dotnet_local(e.created_at),
        "next_attempt_at": dotnet_local(e.next_attempt_at) if e.status == "pending" else None,
        "delivered_at": dotnet_local(e.delivered_at),
        "last_status_code": e.last_status_code,
        "last_error": e.last_error,
    }


def _attempt(a: WebhookAttempt) -> dict[str, Any]:
    return {
        "attempt_no": a.attempt_no,
        "url": a.url,
        "started_at": dotnet_local(a.started_at),
        "latency_ms": a.latency_ms,
        "status_code": a.status_code,
        "response": a.response_snippet,
        "error": a.error,
        "delivered": a.delivered,
    }


@router.get("/endpoint", summary="Read the webhook endpoint, its secret and its health")
async def get_endpoint(merchant: CurrentMerchant, compat: CompatDep):
    return envelope.product(codes.SUCCESS, _endpoint(merchant), compat)


@router.post(
    "/endpoint",
    summary="Set the webhook URL (and retry profile, body format)",
    openapi_extra=body_schema(EndpointRequest),
)
async def set_endpoint(
    merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep, settings: SettingsDep
):
    req = parse(EndpointRequest, body)
    url, profile, fmt = req.url, req.retry_profile, req.body_format
    try:
        await targets.check(url, allow_private=settings.webhook_allow_private_targets)
    except targets.TargetRefused as exc:
        raise TonleError(
            INVALID_URL, text=(f"The webhook URL was refused: {exc}.", "URL webhook មិនត្រូវបានទទួលយកទេ។")
        ) from None
    merchant.webhook_url = url
    merchant.webhook_retry_profile = profile or merchant.webhook_retry_profile
    merchant.webhook_body_format = fmt or merchant.webhook_body_format
    if not merchant.webhook_secret:
        await service.rotate_secret(session, settings, merchant)
    await session.flush()
    return envelope.product(codes.SUCCESS, _endpoint(merchant), compat)


@router.post("/endpoint/enable", summary="Re-enable a disabled endpoint; its queue resumes")
async def enable_endpoint(merchant: CurrentMerchant, session: Session, compat: CompatDep):
    await service.enable(session, merchant)
    return envelope.product(codes.SUCCESS, _endpoint(merchant), compat)


@router.post("/secret/rotate", summary="Rotate the signing secret; the old one keeps signing during the overlap")
async def rotate(merchant: CurrentMerchant, session: Session, compat: CompatDep, settings: SettingsDep):
    await service.rotate_secret(session, settings, merchant)
    return envelope.product(codes.SUCCESS, _endpoint(merchant), compat)


@router.get("/deliveries", summary="The delivery log, newest first, with cursor pagination")
async def list_deliveries(
    request: Request,
    merchant: CurrentMerchant,
    session: Session,
    compat: CompatDep,
    status: str | None = Query(default=None, description="pending, delivered, failed, no_endpoint, info"),
    event_type: str | None = None,
    since: str | None = Query(default=None, description="Phnom Penh time"),
    until: str | None = None,
    cursor: str | None = None,
    limit: int = Query(default=50, ge=1, le=200),
):
    q = parse(
        DeliveriesQuery,
        {"status": status, "event_type": event_type, "since": since, "until": until, "cursor": cursor},
    )
    events = await service.list_events(
        session,
        merchant.id,
        status=q.status,
        event_type=q.event_type,
        since=q.since,
        until=q.until,
        after=q.cursor,
        limit=limit + 1,
    )
    more = len(events) > limit
    events = events[:limit]
    data = {"items": [_event(e) for e in events], "next_cursor": service.encode_cursor(events[-1]) if more else None}
    return envelope.product(codes.SUCCESS, data, compat)


@router.get("/deliveries/{event_id}", summary="One event: its body and every attempt")
async def get_delivery(event_id: str, merchant: CurrentMerchant, session: Session, compat: CompatDep):
    event = await service.event_of(session, merchant.id, event_id)
    if event is None:
        raise TonleError(EVENT_NOT_FOUND)
    data = {
        **_event(event),
        "body": wirejson.loads(event.body),
        "attempt_log": [_attempt(a) for a in await service.attempts_of(session, event)],
    }
    return envelope.product(codes.SUCCESS, data, compat)


@router.post("/deliveries/{event_id}/resend", summary="Send one event again")
async def resend_one(event_id: str, merchant: CurrentMerchant, session: Session, compat: CompatDep):
    event = await service.event_of(session, merchant.id, event_id)
    if event is None:
        raise TonleError(EVENT_NOT_FOUND)
    count = await service.resend(session, merchant, [event])
    return envelope.product(codes.SUCCESS, {"resent": count}, compat)


@router.post(
    "/deliveries/resend",
    summary="Send again every event in a state and time range",
    openapi_extra=body_schema(ResendRequest),
)
async def resend_many(merchant: CurrentMerchant, session: Session, body: Body, compat: CompatDep):
    req = parse(ResendRequest, body)
    events = await service.list_events(
        session,
        merchant.id,
        status=req.status,
        event_type=None,
        since=req.since,
        until=req.until,
        after=None,
        limit=10_000,
    )
    count = await service.resend(session, merchant, events)
    return envelope.product(codes.SUCCESS, {"resent": count}, compat)
