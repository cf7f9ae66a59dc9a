"""Sub-billers: onboarding, settlement-account links through the bank's page, and payouts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.banks.models import Bank
from tonle.config import Settings
from tonle.db import new_id
from tonle.kit import crypto
from tonle.kit.clock import clock
from tonle.kit.domain import DomainError
from tonle.kit.money import to_major
from tonle.kit.urls import with_query
from tonle.ledger import service as ledger
from tonle.ledger.models import Account
from tonle.merchants.models import Merchant
from tonle.subbillers.models import Payout, SettlementLink, SubBiller
from tonle.webhooks import outbox


def new_number() -> str:
    return str(10_000_000 + secrets.randbelow(90_000_000))


def mask(account_number: str) -> str:
    """``0001******4411``: the first and last four digits of a long number, the last four of a short one."""
    n = len(account_number)
    if n > 8:
        return account_number[:4] + "*" * (n - 8) + account_number[-4:]
    return "*" * max(0, n - 4) + account_number[-4:]


class BankNotFound(DomainError):
    pass


class BankOffline(DomainError):
    """The sandbox bank is set offline: linking with it cannot start."""


class SubBillerExists(DomainError):
    pass


class NoFreeNumber(DomainError):
    """Five random sub-biller numbers in a row were taken."""


async def by_code(session: AsyncSession, merchant_id: str, code: str) -> SubBiller | None:
    q = select(SubBiller).where(SubBiller.merchant_id == merchant_id, SubBiller.code == code)
    return (await session.execute(q)).scalar_one_or_none()


async def linking_bank(session: AsyncSession, bank_id: str) -> Bank:
    bank = await session.get(Bank, bank_id)
    if bank is None:
        raise BankNotFound()
    if not bank.online:
        raise BankOffline()
    return bank


@dataclass
class NewSubBiller:
    code: str
    name: str
    name_kh: str | None
    address: str | None


@dataclass
class LinkRequest:
    bank_id: str
    return_url: str
    currency: str | None


async def create(session: AsyncSession, merchant: Merchant, inp: NewSubBiller) -> SubBiller:
    if await by_code(session, merchant.id, inp.code) is not None:
        raise SubBillerExists()
    for _ in range(5):
        sub = SubBiller(
            id=new_id(),
            merchant_id=merchant.id,
            code=inp.code,
            number=new_number(),
            name=inp.name,
            name_kh=inp.name_kh,
            address=inp.address,
            created_at=clock.now(),
        )
        try:
            async with session.begin_nested():
                session.add(sub)
                await session.flush()
            return sub
        except IntegrityError:
            if await by_code(session, merchant.id, inp.code) is not None:
                raise SubBillerExists() from None
            # else: the random number was taken; draw another
    raise NoFreeNumber()


async def start_link(
    session: AsyncSession, settings: Settings, merchant: Merchant, sub: SubBiller, req: LinkRequest
) -> str:
    """Open a pending link and answer the bank page's one-time URL."""
    bank = await linking_bank(session, req.bank_id)
    token = secrets.token_urlsafe(24)
    now = clock.now()
    session.add(
        SettlementLink(
            id=new_id(),
            merchant_id=merchant.id,
            sub_biller_id=sub.id,
            bank_code=bank.code,
            currency_restriction=req.currency,
            status="pending",
            return_url=req.return_url,
            url_token_digest=crypto.digest(token),
            url_expires_at=now + timedelta(seconds=settings.link_url_ttl_seconds),
            created_at=now,
        )
    )
    await session.flush()
    return f"{settings.issuer}/sandbox/bank/link/{token}"


async def links_of(
    session: AsyncSession, sub: SubBiller, bank_id: str | None = None
) -> list[tuple[SettlementLink, Bank]]:
    q = (
        select(SettlementLink, Bank)
        .join(Bank, Bank.code == SettlementLink.bank_code)
        .where(SettlementLink.merchant_id == sub.merchant_id, SettlementLink.sub_biller_id == sub.id)
        .order_by(SettlementLink.created_at)
    )
    if bank_id:
        q = q.where(SettlementLink.bank_code == bank_id)
    return [(link, bank) for link, bank in (await session.execute(q)).all()]


async def has_active_link(session: AsyncSession, sub: SubBiller) -> bool:
    q = select(SettlementLink.id).where(
        SettlementLink.merchant_id == sub.merchant_id,
        SettlementLink.sub_biller_id == sub.id,
        SettlementLink.status == "active",
    )
    return (await session.execute(q.limit(1))).first() is not None


# ---------------------------------------------------------------- the bank's linking page


class LinkPageError(Exception):
    """The URL cannot be used (unknown, used, expired): the page says so and nothing changes."""

    def __init__(self, reason: str, link: SettlementLink | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.link = link


async def open_link(session: AsyncSession, token: str) -> tuple[SettlementLink, SubBiller, Bank]:
    link = (
        await session.execute(select(SettlementLink).where(SettlementLink.url_token_digest == crypto.digest(token)))
    ).scalar_one_or_none()
    if link is None:
        raise LinkPageError("unknown")
    if link.url_used_at is not None or link.status != "pending":
        raise LinkPageError("used", link)
    if link.url_expires_at <= clock.now():
        raise LinkPageError("expired", link)
    sub = await session.get(SubBiller, link.sub_biller_id)
    bank = await session.get(Bank, link.bank_code)
    assert sub is not None and bank is not None
    return link, sub, bank


async def decide(
    session: AsyncSession,
    link: SettlementLink,
    sub: SubBiller,
    *,
    approve: bool,
    account_number: str = "",
    account_name: str = "",
    currency: str | None = None,
) -> SettlementLink:
    """Approve or reject once: the guarded update spends the one-time URL, so a replayed form changes nothing."""
    now = clock.now()
    values: dict[str, Any] = {"url_used_at": now, "decided_at": now, "status": "active" if approve else "rejected"}
    if approve:
        values.update(
            account_number=account_number,
            account_mask=mask(account_number),
            account_name=account_name,
            currency=currency,
        )
    spent = await session.execute(
        update(SettlementLink)
        .where(SettlementLink.id == link.id, SettlementLink.status == "pending", SettlementLink.url_used_at.is_(None))
        .values(**values)
    )
    if spent.rowcount != 1:
        raise LinkPageError("used", link)
    await session.refresh(link)
    if approve:
        has_default = (
            await session.execute(
                select(SettlementLink.id).where(
                    SettlementLink.sub_biller_id == sub.id,
                    SettlementLink.currency == currency,
                    SettlementLink.is_default.is_(True),
                )
            )
        ).first()
        if has_default is None:
            link.is_default = True
    merchant = await session.get(Merchant, link.merchant_id)
    assert merchant is not None
    await outbox.emit(session, merchant, f"sub_biller.link.{link.status}", link_event(link, sub))
    await session.flush()
    return link


def link_event(link: SettlementLink, sub: SubBiller) -> dict[str, Any]:
    return {
        "supplier_sync_code": sub.code,
        "link_id": link.id,
        "bank_id": link.bank_code,
        "status": link.status,
        "currency": link.currency or link.currency_restriction or "",
        "account_number": link.account_mask or "",
    }


def return_redirect(link: SettlementLink, sub: SubBiller, status: str) -> str:
    """The merchant's return_url with the outcome added to its query string."""
    params = {
        "status": status,
        "supplier_sync_code": sub.code,
        "bank_id": link.bank_code,
        "currency": link.currency or link.currency_restriction or "",
    }
    if status == "active" and link.account_mask:
        params["account_number"] = link.account_mask
    return with_query(link.return_url, params)


# ---------------------------------------------------------------- payouts


async def settlement_balances(session: AsyncSession, sub: SubBiller) -> dict[str, int]:
    q = select(Account.currency, Account.balance).where(
        Account.merchant_id == sub.merchant_id,
        Account.kind == ledger.AccountKind.subbiller_settlement.value,
        Account.owner_ref == sub.id,
    )
    return {cur: bal for cur, bal in (await session.execute(q)).all()}


class PayoutRefused(DomainError):
    """A payout that cannot be made; nothing moved."""


class PayoutAccountInactive(PayoutRefused):
    pass


class PayoutAmountNotPositive(PayoutRefused):
    pass


class PayoutInsufficientBalance(PayoutRefused):
    pass


class PayoutAlreadyCompleted(DomainError):
    """The bank's answer for this payout was taken already."""


async def request_payout(
    session: AsyncSession,
    settings: Settings,
    sub: SubBiller,
    link: SettlementLink,
    amount: int,
    requested_by: str,
) -> Payout:
    """Move ``amount`` from the sub-biller's settlement account to the bank's clearing account (guarded: two
    requests for one balance cannot both take it) and record a pending payout for the bank to complete."""
    if link.sub_biller_id != sub.id or link.status != "active" or not link.currency:
        raise PayoutAccountInactive("the account is not an active linked account")
    if amount <= 0:
        raise PayoutAmountNotPositive("the amount must be greater than 0")
    source = await ledger.settlement_account(session, sub.merchant_id, sub.id, link.currency)
    clearing = await ledger.clearing_account(session, sub.merchant_id, link.bank_code, link.currency)
    payout_id = new_id()
    try:
        entry = await ledger.post(
            session,
            merchant_id=sub.merchant_id,
            kind="payout",
            memo=f"payout {payout_id} to {link.bank_code}",
            legs=[ledger.Leg(source, -amount), ledger.Leg(clearing, amount)],
        )
    except ledger.InsufficientFunds:
        raise PayoutInsufficientBalance("the settlement balance is too small") from None
    payout = Payout(
        id=payout_id,
        merchant_id=sub.merchant_id,
        sub_biller_id=sub.id,
        link_id=link.id,
        currency=link.currency,
        amount=amount,
        status="pending",
        entry_id=entry.id,
        requested_by=requested_by,
        created_at=clock.now(),
    )
    session.add(payout)
    await session.flush()
    if settings.sandbox_payout_mode == "immediate":
        # The sandbox bank answers at once. Magic value: an account number ending in 0000 always fails.
        ok = not (link.account_number or "").endswith("0000")
        await complete_payout(
            session,
            payout,
            paid=ok,
            bank_ref=f"SBX{secrets.token_hex(6).upper()}" if ok else "",
            reason="" if ok else "account closed at the bank (sandbox: number ends in 0000)",
        )
    return payout


async def complete_payout(session: AsyncSession, payout: Payout, *, paid: bool, bank_ref: str, reason: str) -> Payout:
    """The bank's answer, taken once: pending -> paid, or pending -> failed with the money returned."""
    now = clock.now()
    done = await session.execute(
        update(Payout)
        .where(Payout.id == payout.id, Payout.status == "pending")
        .values(
            status="paid" if paid else "failed", bank_ref=bank_ref[:100], failure_reason=reason[:255], completed_at=now
        )
    )
    if done.rowcount != 1:
        raise PayoutAlreadyCompleted()
    await session.refresh(payout)
    link = await session.get(SettlementLink, payout.link_id)
    assert link is not None
    if not paid:
        source = await ledger.settlement_account(session, payout.merchant_id, payout.sub_biller_id, payout.currency)
        clearing = await ledger.clearing_account(session, payout.merchant_id, link.bank_code, payout.currency)
        reversal = await ledger.post(
            session,
            merchant_id=payout.merchant_id,
            kind="payout_reversal",
            memo=f"payout {payout.id} failed",
            legs=[ledger.Leg(clearing, -payout.amount), ledger.Leg(source, payout.amount)],
        )
        payout.reversal_entry_id = reversal.id
    merchant = await session.get(Merchant, payout.merchant_id)
    sub = await session.get(SubBiller, payout.sub_biller_id)
    assert merchant is not None and sub is not None
    await outbox.emit(session, merchant, f"payout.{payout.status}", payout_event(payout, sub, link))
    await session.flush()
    return payout


def payout_event(payout: Payout, sub: SubBiller, link: SettlementLink) -> dict[str, Any]:
    return {
        "payout_id": payout.id,
        "supplier_sync_code": sub.code,
        "status": payout.status,
        "amount": to_major(payout.amount, payout.currency),
        "currency": payout.currency,
        "bank_id": link.bank_code,
        "account_number": link.account_mask or "",
        "bank_ref": payout.bank_ref,
        "failure_reason": payout.failure_reason,
    }


async def default_link(session: AsyncSession, sub: SubBiller, currency: str) -> SettlementLink | None:
    q = (
        select(SettlementLink)
        .where(
            SettlementLink.sub_biller_id == sub.id,
            SettlementLink.status == "active",
            SettlementLink.currency == currency,
        )
        .order_by(SettlementLink.is_default.desc(), SettlementLink.decided_at)
        .limit(1)
    )
    return (await session.execute(q)).scalar_one_or_none()


def expiry(settings: Settings) -> datetime:
    return clock.now() + timedelta(seconds=settings.portal_ttl_seconds)
