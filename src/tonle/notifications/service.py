"""The Notification API's delivery side: channels behind one interface, sent by the worker, retried 5 / 15 / 30
minutes after a failure when the message asks for it (``metaData.retryOnFailure``)."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any, Protocol

import aiosmtplib
import httpx
from sqlalchemy import select, update

from tonle.config import Settings
from tonle.db import Database
from tonle.jobs.claims import lease_claim
from tonle.kit.clock import clock
from tonle.notifications.models import Notification, NotificationDelivery
from tonle.wire.edge import mask_pan

log = logging.getLogger("tonle.notify")
RETRIES = [timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=30)]
CHANNELS = ("sms", "telegram", "email", "log")


class ChannelError(Exception):
    pass


class Channel(Protocol):
    async def send(self, to: str, subject: str, message: str, meta: dict[str, Any]) -> None: ...


class EmailChannel:
    def __init__(self, settings: Settings) -> None:
        self.s = settings

    async def send(self, to: str, subject: str, message: str, meta: dict[str, Any]) -> None:
        recipients = [a.strip() for a in to.replace(";", ",").split(",") if a.strip()]
        cc = [a.strip() for a in str(meta.get("cc") or "").split(",") if a.strip()]
        bcc = [a.strip() for a in str(meta.get("bcc") or "").split(",") if a.strip()]
        body = message
        if meta.get("attachments"):
            # Attachments are given as URLs; Tonle links them rather than fetching arbitrary URLs server-side.
            body += f"\n\nAttachment: {meta['attachments']}"
        groups = [[r] for r in recipients] if meta.get("separateTo") else [recipients]
        for group in groups:
            mail = EmailMessage()
            mail["From"], mail["To"], mail["Subject"] = self.s.smtp_from, ", ".join(group), subject
            if cc:
                mail["Cc"] = ", ".join(cc)
            mail.set_content(body)
            try:
                await aiosmtplib.send(
                    mail,
                    recipients=group + cc + bcc,
                    hostname=self.s.smtp_host,
                    port=self.s.smtp_port,
                    username=self.s.smtp_username or None,
                    password=self.s.smtp_password or None,
                    start_tls=self.s.smtp_starttls,
                    timeout=15,
                )
            except (aiosmtplib.SMTPException, OSError) as exc:
                raise ChannelError(f"SMTP: {exc}") from exc


class TelegramChannel:
    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self.s, self.client = settings, client

    async def send(self, to: str, subject: str, message: str, meta: dict[str, Any]) -> None:
        url = f"{self.s.telegram_api_url.rstrip('/')}/bot{self.s.telegram_bot_token}/sendMessage"
        payload = {"chat_id": to, "text": f"{subject}\n{message}" if subject else message}
        if meta.get("parseMode"):
            payload["parse_mode"] = (
                str(meta["parseMode"]).upper() if str(meta["parseMode"]).lower() == "html" else meta["parseMode"]
            )
        try:
            r = await self.client.post(url, json=payload, timeout=15)
            answer = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ChannelError(f"Telegram: {type(exc).__name__}") from exc
        if not (r.status_code == 200 and isinstance(answer, dict) and answer.get("ok")):
            raise ChannelError(f"Telegram: {answer.get('description') if isinstance(answer, dict) else r.status_code}")


class SmsChannel:
    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self.s, self.client = settings, client

    async def send(self, to: str, subject: str, message: str, meta: dict[str, Any]) -> None:
        headers = {"Authorization": f"Bearer {self.s.sms_gateway_token}"} if self.s.sms_gateway_token else {}
        try:
            r = await self.client.post(
                self.s.sms_gateway_url, json={"to": to, "message": message}, headers=headers, timeout=15
            )
        except httpx.HTTPError as exc:
            raise ChannelError(f"SMS gateway: {type(exc).__name__}") from exc
        if not 200 <= r.status_code < 300:
            raise ChannelError(f"SMS gateway answered HTTP {r.status_code}")


class LogChannel:
    async def send(self, to: str, subject: str, message: str, meta: dict[str, Any]) -> None:
        # The log is no place for a card number a merchant may have put in a message.
        log.info("notification to %s: %s | %s", to, mask_pan(subject), mask_pan(message))


async def queue(
    session: Any, merchant_id: str, *, ref_id: str, subject: str, message: str, to: list[tuple[str, str]]
) -> Notification:
    """A message from Tonle itself (a product telling a biller's customer), sent by the worker as the Notification
    API's messages are: one delivery per (channel, address)."""
    now = clock.now()
    n = Notification(
        merchant_id=merchant_id,
        ref_id=ref_id[:100],
        subject=subject,
        message=message,
        request=json.dumps({"refId": ref_id, "subject": subject, "message": message}),
        created_at=now,
    )
    session.add(n)
    await session.flush()
    for channel, address in to:
        session.add(
            NotificationDelivery(
                notification_id=n.id,
                channel=channel,
                to=address[:320],
                meta="{}",
                retry_on_failure=False,
                status="queued",
                next_attempt_at=now,
                last_error="",
                attempts=0,
            )
        )
    await session.flush()
    return n


def configured(settings: Settings, channel: str) -> bool:
    return {
        "email": bool(settings.smtp_host),
        "telegram": bool(settings.telegram_bot_token),
        "sms": bool(settings.sms_gateway_url),
        "log": True,
    }.get(channel, False)


def channel_for(name: str, settings: Settings, client: httpx.AsyncClient) -> Channel:
    if name == "email":
        return EmailChannel(settings)
    if name == "telegram":
        return TelegramChannel(settings, client)
    if name == "sms":
        return SmsChannel(settings, client)
    return LogChannel()


@dataclass
class Due:
    id: int
    notification_id: str
    channel: str
    to: str
    meta: str
    retry: bool
    attempts: int
    token: str


async def claim(db: Database, limit: int) -> list[Due]:
    now = clock.now()
    token = str(uuid.uuid4())
    pick = (
        "SELECT id FROM notification_deliveries WHERE status = 'queued' AND next_attempt_at <= :now "
        "AND (lease_until IS NULL OR lease_until < :now) ORDER BY next_attempt_at, id LIMIT :n"
    )
    stmt = lease_claim(
        "notification_deliveries",
        pick,
        'id, notification_id, channel, "to", meta, retry_on_failure, attempts',
        postgres=db.engine.dialect.name == "postgresql",
    )
    async with db.sessions() as session, session.begin():
        rows = await session.execute(
            stmt,
            {"now": now, "n": limit, "until": now + timedelta(seconds=60), "token": token},
        )
        # Sent in the order they were queued: UPDATE ... RETURNING gives rows in storage order, not the pick's.
        return sorted(
            (
                Due(r.id, r.notification_id, r.channel, r.to, r.meta, bool(r.retry_on_failure), r.attempts, token)
                for r in rows
            ),
            key=lambda d: d.id,
        )


async def run_once(db: Database, settings: Settings, client: httpx.AsyncClient, batch: int = 20) -> int:
    due = await claim(db, batch)
    for d in due:
        async with db.sessions() as session:
            n = await session.get(Notification, d.notification_id)
        assert n is not None
        error = ""
        try:
            await channel_for(d.channel, settings, client).send(d.to, n.subject, n.message, json.loads(d.meta or "{}"))
        except ChannelError as exc:
            error = str(exc)
        now = clock.now()
        if not error:
            values: dict[str, Any] = {"status": "sent", "sent_at": now, "last_error": ""}
        elif d.retry and d.attempts <= len(RETRIES):
            values = {"next_attempt_at": now + RETRIES[d.attempts - 1], "last_error": error}
        else:
            values = {"status": "failed", "last_error": error}
        async with db.sessions() as session, session.begin():
            await session.execute(
                update(NotificationDelivery)
                .where(NotificationDelivery.id == d.id, NotificationDelivery.lease_token == d.token)
                .values(lease_until=None, lease_token=None, **values)
            )
    return len(due)


async def deliveries_of(session: Any, notification_id: str) -> list[NotificationDelivery]:
    q = (
        select(NotificationDelivery)
        .where(NotificationDelivery.notification_id == notification_id)
        .order_by(NotificationDelivery.id)
    )
    return list((await session.execute(q)).scalars())
