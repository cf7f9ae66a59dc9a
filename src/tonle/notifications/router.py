"""The Notification API (spec §8): send SMS, Telegram and e-mail messages; answers in the family-G envelope."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tonle.kit.clock import clock
from tonle.merchants.auth import CurrentMerchant
from tonle.notifications import service as notify
from tonle.notifications.models import Notification, NotificationDelivery
from tonle.wire.http import AnyBody, Session, SettingsDep, body_schema
from tonle.wire.wirejson import WireJSONResponse

router = APIRouter(prefix="/notification/v1/notificationmessage", tags=["Notification"])
MAX_MESSAGES = 100


class ChannelIn(BaseModel):
    channel: str = Field(description="sms, telegram, email (or log, the sandbox's channel)")
    to: str = Field(description="phone, Telegram chat id, or e-mail address(es)")
    metaData: dict[str, Any] = Field(
        default_factory=dict,
        description='{"retryOnFailure": true} (+ telegram "parseMode"; email "cc", "bcc", "attachments", "separateTo")',
    )


class MessageIn(BaseModel):
    channels: list[ChannelIn]
    subject: str
    message: str
    refId: str


class SendRequest(BaseModel):
    """A JSON array of messages."""

    root: list[MessageIn] = Field(description="the body is the array itself")


def family_g(code: str, message: str, data: Any, status: int = 200) -> WireJSONResponse:
    return WireJSONResponse({"code": code, "message": message, "data": data}, status_code=status)


def _problems(i: int, item: Any) -> list[str]:
    if not isinstance(item, dict):
        return [f"[{i}] must be an object"]
    out = []
    for key in ("subject", "message", "refId"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            out.append(f"Please provide [{i}].{key}")
    channels = item.get("channels")
    if not isinstance(channels, list) or not channels:
        out.append(f"Please provide [{i}].channels")
        return out
    for j, ch in enumerate(channels):
        path = f"[{i}].channels[{j}]"
        if not isinstance(ch, dict):
            out.append(f"{path} must be an object")
            continue
        if ch.get("channel") not in notify.CHANNELS:
            out.append(f"{path}.channel must be one of sms, telegram, email, log")
        if not isinstance(ch.get("to"), str) or not ch["to"].strip() or len(ch["to"]) > 320:
            out.append(f"Please provide {path}.to")
        if ch.get("metaData") is not None and not isinstance(ch["metaData"], dict):
            out.append(f"{path}.metaData must be an object")
        elif ch.get("channel") == "telegram" and not (ch.get("metaData") or {}).get("parseMode"):
            out.append(f"Please provide {path}.metaData.parseMode")
    return out


@router.post("/send", summary="Send notifications (an array of messages)", openapi_extra=body_schema(SendRequest))
async def send(merchant: CurrentMerchant, session: Session, body: AnyBody, settings: SettingsDep):
    if not isinstance(body, list) or not body:
        return family_g("ERR_MISSED_FIELD", "The body must be a non-empty JSON array of messages.", None)
    if len(body) > MAX_MESSAGES:
        return family_g("ERR_MISSED_FIELD", f"At most {MAX_MESSAGES} messages per request.", None)
    problems = [p for i, item in enumerate(body) for p in _problems(i, item)]
    if problems:
        return family_g("ERR_MISSED_FIELD", ", ".join(problems) + ".", None)
    now = clock.now()
    answers = []
    for item in body:
        n = Notification(
            merchant_id=merchant.id,
            ref_id=item["refId"][:100],
            subject=item["subject"],
            message=item["message"],
            request=json.dumps(item, default=str),
            created_at=now,
        )
        session.add(n)
        await session.flush()
        refused = []
        for ch in item["channels"]:
            meta = ch.get("metaData") or {}
            ok = notify.configured(settings, ch["channel"])
            if not ok:
                refused.append(f"{ch['channel']}: the channel is not configured on this gateway")
            session.add(
                NotificationDelivery(
                    notification_id=n.id,
                    channel=ch["channel"],
                    to=ch["to"],
                    meta=json.dumps(meta, default=str),
                    retry_on_failure=bool(meta.get("retryOnFailure")),
                    status="queued" if ok else "failed",
                    next_attempt_at=now if ok else None,
                    last_error="" if ok else "channel not configured",
                    attempts=0,
                )
            )
        # status 0: accepted for every channel; 1: refused for some; 2: refused for all.
        status = 0 if not refused else (2 if len(refused) == len(item["channels"]) else 1)
        answers.append({"notificationId": n.id, "status": status, "exception": "; ".join(refused), **item})
    await session.flush()
    return family_g("SUCCESS", "Request success", answers)


@router.get("/{notification_id}", summary="Tonle extension: what became of a notification, per channel")
async def status_of(notification_id: str, merchant: CurrentMerchant, session: Session):
    n = await session.get(Notification, notification_id)
    if n is None or n.merchant_id != merchant.id:
        return family_g("404", "Record not found", None)
    deliveries = await notify.deliveries_of(session, n.id)
    data = {
        "notificationId": n.id,
        "refId": n.ref_id,
        "channels": [
            {"channel": d.channel, "to": d.to, "status": d.status, "attempts": d.attempts, "error": d.last_error}
            for d in deliveries
        ],
    }
    return family_g("SUCCESS", "Request success", data)
