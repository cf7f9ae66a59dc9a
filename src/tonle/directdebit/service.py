"""Subscriptions: a biller's init, the customer's consent at a bank (from the subscription page, or from the bank's
own app after the biller's consumer/validate), and the accounts consumers subscribed: listed, made default,
unsubscribed (now or on a date), their history, and a subscription's verify."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.banks.debits import Account
from tonle.banks.models import Bank
from tonle.config import Settings
from tonle.directdebit.models import DebitAccount, History, Subscription, SubscriptionConsumer
from tonle.kit.clock import clock
from tonle.kit.crypto import masked
from tonle.kit.domain import DomainError
from tonle.kit.urls import with_query
from tonle.merchants.models import Merchant
from tonle.webhooks import outbox


class DuplicateReference(DomainError):
    """A subscription with this subscription_ref exists for the merchant."""


class SubscriptionNotFound(DomainError):
    pass


class AccountTokenNotFound(DomainError):
    """No subscribed account of this merchant has the token."""


class AlreadyUnsubscribed(DomainError):
    pass


class ConsumerNotFound(DomainError):
    """None of the consumer codes asked is a subscribed consumer of the merchant."""


class PageUnavailable(DomainError):
    """The subscription page cannot be used: ``reason`` unknown | expired | decided."""


@dataclass(frozen=True)
class NewConsumer:
    code: str
    name: str
    name_latin: str
    info: str
    max_amount: str | None = None


# Bill24's words for a subscription's and an account's states (only Active and Subscribed were seen).
STATUS = {"pending": "Pending", "active": "Active", "declined": "Declined", "expired": "Expired"}


def status_of(sub: Subscription, accounts_active: int | None = None) -> str:
    if sub.status == "pending" and sub.expires_at <= clock.now():
        return "Expired"
    if sub.status == "active" and accounts_active == 0:
        return "Unsubscribed"
    return STATUS.get(sub.status, sub.status.title())


def active(acct: DebitAccount, now: datetime | None = None) -> bool:
    return acct.unsubscribe_at is None or acct.unsubscribe_at > (now or clock.now())


def _active_clause(now: datetime) -> Any:
    return or_(DebitAccount.unsubscribe_at.is_(None), DebitAccount.unsubscribe_at > now)


async def _free(session: AsyncSession, column: Any, make: Any) -> str:
    for _ in range(20):
        value = make()
        if await session.scalar(select(func.count()).where(column == value)) == 0:
            return value
    raise RuntimeError("no free subscription number")


async def init(
    session: AsyncSession,
    settings: Settings,
    merchant: Merchant,
    *,
    ref: str,
    web_url: str,
    deeplink_url: str,
    consumers: list[NewConsumer],
) -> Subscription:
    taken = await session.scalar(
        select(func.count()).where(Subscription.merchant_id == merchant.id, Subscription.subscription_ref == ref)
    )
    if taken:
        raise DuplicateReference()
    sub = await _new(session, merchant, ref, web_url, deeplink_url, consumers, settings.dd_subscription_ttl_seconds)
    return sub


async def _new(
    session: AsyncSession,
    merchant: Merchant,
    ref: str,
    web_url: str,
    deeplink_url: str,
    consumers: list[NewConsumer],
    ttl: int,
    origin: str = "merchant",
) -> Subscription:
    now = clock.now()
    sub = Subscription(
        id=str(uuid.uuid4()),
        merchant_id=merchant.id,
        subscription_no=await _free(
            session, Subscription.subscription_no, lambda: str(10_000_000 + secrets.randbelow(90_000_000))
        ),
        page_ref=await _free(session, Subscription.page_ref, lambda: secrets.token_hex(6).upper()),
        subscription_ref=ref,
        web_url=web_url,
        deeplink_url=deeplink_url,
        origin=origin,
        status="pending",
        expires_at=now + timedelta(seconds=ttl),
        created_at=now,
    )
    session.add(sub)
    await session.flush()
    for c in consumers:
        session.add(
            SubscriptionConsumer(
                subscription_id=sub.id,
                merchant_id=merchant.id,
                consumer_code=c.code,
                consumer_name=c.name,
                consumer_name_latin=c.name_latin,
                additional_information=c.info,
                max_amount=c.max_amount,
            )
        )
    await session.flush()
    return sub


def page_url(settings: Settings, sub: Subscription) -> str:
    return f"{settings.issuer}/checkoutv2/subscription/{sub.page_ref}"


async def consumers_of(session: AsyncSession, sub: Subscription) -> list[SubscriptionConsumer]:
    rows = await session.scalars(
        select(SubscriptionConsumer)
        .where(SubscriptionConsumer.subscription_id == sub.id)
        .order_by(SubscriptionConsumer.id)
    )
    return list(rows)


async def open_page(session: AsyncSession, page_ref: str, *, for_update: bool = False) -> Subscription:
    """The pending subscription of a page link, or PageUnavailable saying why not."""
    q = select(Subscription).where(Subscription.page_ref == page_ref)
    if for_update:
        q = q.with_for_update()
    sub = await session.scalar(q)
    if sub is None:
        raise PageUnavailable(reason="unknown")
    if sub.status != "pending":
        raise PageUnavailable(reason="decided", subscription=sub)
    if sub.expires_at <= clock.now():
        raise PageUnavailable(reason="expired", subscription=sub)
    return sub


def return_url(sub: Subscription, outcome: str) -> str:
    """Where the customer goes back to: the biller's web URL (else its deeplink), told the subscription's number
    and outcome; "" when the biller gave neither."""
    base = sub.web_url or sub.deeplink_url
    if not base:
        return ""
    params = {"subscription_no": sub.subscription_no, "subscription_ref": sub.subscription_ref, "status": outcome}
    return with_query(base, params)


async def consent(session: AsyncSession, sub: Subscription, bank: Bank, account: Account) -> Subscription:
    """The customer approved at the bank: each consumer of the subscription gets the account, after its others."""
    now = clock.now()
    won = await session.execute(
        update(Subscription)
        .where(Subscription.id == sub.id, Subscription.status == "pending")
        .values(
            status="active",
            bank_code=bank.code,
            account_number=account.number,
            bank_ref=f"{bank.code}{secrets.token_hex(6).upper()}",
            subscribed_at=now,
        )
    )
    if won.rowcount != 1:  # decided by another request meanwhile
        raise PageUnavailable(reason="decided", subscription=sub)
    await session.refresh(sub)
    merchant = await session.get(Merchant, sub.merchant_id)
    assert merchant is not None
    codes = []
    for c in await consumers_of(session, sub):
        last = await session.scalar(
            select(func.max(DebitAccount.priority)).where(
                DebitAccount.merchant_id == sub.merchant_id,
                DebitAccount.consumer_code == c.consumer_code,
                _active_clause(now),
            )
        )
        session.add(
            DebitAccount(
                id=str(uuid.uuid4()),
                merchant_id=sub.merchant_id,
                subscription_id=sub.id,
                consumer_code=c.consumer_code,
                token=secrets.token_urlsafe(36),
                bank_code=bank.code,
                account_number=account.number,
                account_name=account.name,
                currency=account.currency,
                priority=(last or 0) + 1,
                subscribed_at=now,
            )
        )
        session.add(_history(sub.merchant_id, c.consumer_code, now, "Subscribed", bank.code, account.number))
        codes.append(c.consumer_code)
    await session.flush()
    await outbox.emit(
        session,
        merchant,
        "direct_debit.subscribed",
        {
            "subscription_no": sub.subscription_no,
            "subscription_ref": sub.subscription_ref,
            "bank_code": bank.code,
            "account_currency": account.currency,
            "consumer_codes": codes,
        },
    )
    return sub


async def decline(session: AsyncSession, sub: Subscription) -> Subscription:
    won = await session.execute(
        update(Subscription)
        .where(Subscription.id == sub.id, Subscription.status == "pending")
        .values(status="declined")
    )
    if won.rowcount != 1:
        raise PageUnavailable(reason="decided", subscription=sub)
    await session.refresh(sub)
    merchant = await session.get(Merchant, sub.merchant_id)
    assert merchant is not None
    await outbox.emit(
        session,
        merchant,
        "direct_debit.declined",
        {"subscription_no": sub.subscription_no, "subscription_ref": sub.subscription_ref},
    )
    return sub


async def subscribe_from_bank(
    session: AsyncSession, settings: Settings, merchant: Merchant, bank: Bank, consumer: NewConsumer, account: Account
) -> Subscription:
    """A customer subscribed in the bank's own app, after the biller's consumer/validate answered for the code."""
    ref = f"BANK-{bank.code}-{secrets.token_hex(4).upper()}"
    sub = await _new(
        session, merchant, ref, "", "", [consumer], settings.dd_subscription_ttl_seconds, origin="bank_app"
    )
    return await consent(session, sub, bank, account)


def _history(merchant_id: str, code: str, at: datetime, action: str, bank: str, number: str) -> History:
    return History(
        merchant_id=merchant_id, consumer_code=code, at=at, action=action, bank_code=bank, account_number=number
    )


async def accounts_of(
    session: AsyncSession, merchant_id: str, code: str, *, only_active: bool = True
) -> list[DebitAccount]:
    q = select(DebitAccount).where(DebitAccount.merchant_id == merchant_id, DebitAccount.consumer_code == code)
    if only_active:
        q = q.where(_active_clause(clock.now()))
    return list(await session.scalars(q.order_by(DebitAccount.priority, DebitAccount.subscribed_at)))


async def _banks(session: AsyncSession, codes: set[str]) -> dict[str, Bank]:
    if not codes:
        return {}
    return {b.code: b for b in await session.scalars(select(Bank).where(Bank.code.in_(sorted(codes))))}


def _iso(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt else ""


async def _latest_consumer(session: AsyncSession, merchant_id: str, code: str) -> SubscriptionConsumer | None:
    return await session.scalar(
        select(SubscriptionConsumer)
        .join(Subscription, Subscription.id == SubscriptionConsumer.subscription_id)
        .where(
            SubscriptionConsumer.merchant_id == merchant_id,
            SubscriptionConsumer.consumer_code == code,
            Subscription.status == "active",
        )
        .order_by(Subscription.subscribed_at.desc())
        .limit(1)
    )


async def subscribers(session: AsyncSession, merchant_id: str, codes: list[str]) -> list[dict[str, Any]]:
    """Each asked consumer that subscribed, with every account it subscribed (camelCase, §6.7)."""
    out = []
    now = clock.now()
    for code in dict.fromkeys(codes):
        who = await _latest_consumer(session, merchant_id, code)
        if who is None:
            continue
        accounts = await accounts_of(session, merchant_id, code, only_active=False)
        banks = await _banks(session, {a.bank_code for a in accounts})
        info = []
        for a in accounts:
            bank = banks.get(a.bank_code)
            info.append(
                {
                    "subscribeDate": _iso(a.subscribed_at),
                    "status": "Active" if active(a, now) else "Unsubscribed",
                    "customerBankAccount": {
                        "accountToken": a.token,
                        "code": a.bank_code,
                        "name": bank.name if bank else a.bank_code,
                        "bankLogo": (bank.logo or "") if bank else "",
                        "priority": a.priority,
                    },
                }
            )
        out.append(
            {
                "code": code,
                "name": who.consumer_name,
                "nameLatin": who.consumer_name_latin,
                "additionalInformation": who.additional_information,
                "accountInfo": info,
            }
        )
    if not out:
        raise ConsumerNotFound()
    return out


async def _by_token(session: AsyncSession, merchant_id: str, token: str) -> DebitAccount:
    acct = await session.scalar(
        select(DebitAccount).where(DebitAccount.merchant_id == merchant_id, DebitAccount.token == token)
    )
    if acct is None:
        raise AccountTokenNotFound()
    return acct


async def set_default(session: AsyncSession, merchant_id: str, token: str) -> DebitAccount:
    """The account becomes its consumer's first (priority 1); the others keep their order behind it."""
    acct = await _by_token(session, merchant_id, token)
    if not active(acct):
        raise AlreadyUnsubscribed()
    others = [a for a in await accounts_of(session, merchant_id, acct.consumer_code) if a.id != acct.id]
    acct.priority = 1
    for n, other in enumerate(others, start=2):
        other.priority = n
    session.add(
        _history(merchant_id, acct.consumer_code, clock.now(), "Set Default", acct.bank_code, acct.account_number)
    )
    await session.flush()
    return acct


async def unsubscribe(session: AsyncSession, merchant_id: str, token: str, at: datetime | None) -> DebitAccount:
    """A date in the future is kept and takes effect then; none, or a past or present one, takes effect now."""
    acct = await _by_token(session, merchant_id, token)
    now = clock.now()
    if not active(acct, now):
        raise AlreadyUnsubscribed()
    when = at if at is not None and at > now else now
    acct.unsubscribe_at = when
    await session.execute(
        delete(History).where(
            History.merchant_id == merchant_id,
            History.consumer_code == acct.consumer_code,
            History.action == "Unsubscribed",
            History.account_number == acct.account_number,
            History.at > now,
        )
    )  # a new date replaces one scheduled before
    session.add(_history(merchant_id, acct.consumer_code, when, "Unsubscribed", acct.bank_code, acct.account_number))
    await session.flush()
    return acct


async def histories(session: AsyncSession, merchant_id: str, code: str) -> list[dict[str, Any]]:
    rows = list(
        await session.scalars(
            select(History)
            .where(History.merchant_id == merchant_id, History.consumer_code == code, History.at <= clock.now())
            .order_by(History.at, History.id)
        )
    )
    banks = await _banks(session, {h.bank_code for h in rows})
    out = []
    for h in rows:
        bank = banks.get(h.bank_code)
        out.append(
            {
                "date": _iso(h.at),
                "account_no": masked(h.account_number),
                "action": h.action,
                "bank_name": bank.name if bank else h.bank_code,
                "bank_name_kh": (bank.name_kh or bank.name) if bank else h.bank_code,
                "bank_code": h.bank_code,
                "bank_logo": (bank.logo or "") if bank else "",
            }
        )
    return out


async def verify(session: AsyncSession, merchant_id: str, subscription_no: str) -> dict[str, Any]:
    sub = await session.scalar(
        select(Subscription).where(
            Subscription.merchant_id == merchant_id, Subscription.subscription_no == subscription_no
        )
    )
    if sub is None:
        raise SubscriptionNotFound()
    live = await session.scalar(
        select(func.count()).where(DebitAccount.subscription_id == sub.id, _active_clause(clock.now()))
    )
    bank = await session.get(Bank, sub.bank_code) if sub.bank_code else None
    return {
        "status": status_of(sub, live),
        "bank_ref": sub.bank_ref,
        "subscribe_date": _iso(sub.subscribed_at),
        "bank_name": bank.name if bank else "",
        "bank_name_kh": (bank.name_kh or bank.name) if bank else "",
        "details": [
            {
                "consumer_code": c.consumer_code,
                "consumer_name": c.consumer_name,
                "consumer_name_latin": c.consumer_name_latin,
                "additional_information": c.additional_information,
            }
            for c in await consumers_of(session, sub)
        ],
    }
