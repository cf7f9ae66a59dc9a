"""The bank channel for bills: a bank customer picks a biller (its biller code), types a consumer code, and the bank
asks Tonle; Tonle asks wherever that biller's bills come from, opens a pending transaction for what was found and
hands the bank a payment token; the bank's confirm (``service.confirm``) pays it, once.

Bill sources register here (``register_source``): the Merchant Proxy asks the biller's own system; Hosted and the
Supplier API answer from the bills Tonle holds. A source answers with a ``Found`` (or a refusal), plus records to
keep (health of the calls it made). The look-up runs with no database transaction open: the bank waits on the
biller, and nothing of Tonle's waits with it."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.banks import service as banks
from tonle.banks.models import Bank, BillLookup
from tonle.config import Settings
from tonle.db import Base, new_id
from tonle.kit import crypto
from tonle.kit.clock import clock
from tonle.kit.domain import DomainError
from tonle.kit.money import to_major
from tonle.ledger import service as ledger
from tonle.ledger.models import Account, Entry
from tonle.merchants.models import Merchant
from tonle.transactions.models import Transaction, free_short_ids

KIND = "bank_bill"  # Transaction.type of a bill paid through the bank channel, whatever its source


class BillerNotFound(DomainError):
    """No biller has this biller code (or it takes no bank-channel payments)."""


class ConsumerNotFound(DomainError):
    """The biller knows no such consumer code (proxy code 1)."""


class BillOverdue(DomainError):
    """Proxy code 2."""


class NothingToPay(DomainError):
    """Proxy code 3, or an answer with nothing payable in it."""


class CurrencyNotAllowed(DomainError):
    """Proxy code 4."""


class BillerUnavailable(DomainError):
    """The biller's system did not answer usably (time-out, refused, HTTP error, a malformed answer): never "not
    found", since the bill may well exist. ``reason`` is logged and kept in the biller's health."""


class AmountOutOfRange(DomainError):
    """A confirm below the bill's minimum or above its maximum (facts: lowest, highest, in major units)."""


@dataclass(frozen=True)
class Biller:
    """What a source needs of the merchant, read before the transaction closes."""

    id: str
    name: str
    biller_code: str
    bill_source: str
    proxy_url: str
    api_url: str
    token: str
    webhook_secret: str


@dataclass(frozen=True)
class Found:
    """A bill as its source answered it. Amounts in minor units; ``lowest``/``highest`` None: no limit."""

    consumer_code: str
    consumer_name: str
    currency: str
    due: int
    lowest: int | None
    highest: int | None
    consumer_name_latin: str = ""
    phone: str = ""
    balance: int = 0
    description: str = ""
    last_bill_date: str = ""
    last_due_date: str = ""
    last_pay_date: str = ""
    bill_ref: str = ""  # the one bill the look-up found by its number (the payment goes to it), else empty
    source: str = ""  # the source whose rules settle and announce the payment, when not the biller's bill source


@dataclass
class Outcome:
    """What a source's look-up came to: a bill or a refusal, pending bills to show (or None), and records to keep."""

    found: Found | None = None
    refused: DomainError | None = None
    pending: dict[str, Any] | None = None
    records: list[Base] = field(default_factory=list)


# (session, settings, biller, what the customer typed, request id). A source that calls out (the proxy) must not
# use the session: no transaction stays open while a biller is asked.
LookUp = Callable[[AsyncSession, Settings, Biller, str, str], Awaitable[Outcome]]
# In the confirm's transaction, after the ledger entry: the source allocates the payment (and sets ``overpaid``).
Settle = Callable[[AsyncSession, Transaction, BillLookup], Awaitable[None]]
# The webhook's customers[] lines for a paid bill, when the source has its own (one per invoice paid).
Lines = Callable[[AsyncSession, Transaction, BillLookup], Awaitable[list[dict[str, Any]]]]
# The webhook's whole body, for a product whose webhook is not the payment body of §2.4 (the Supplier API's §5.6).
Body = Callable[[AsyncSession, Transaction, BillLookup, Bank], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Source:
    look_up: LookUp
    settle: Settle | None = None
    lines: Lines | None = None
    body: Body | None = None


_SOURCES: dict[str, Source] = {}


def register_source(
    name: str, look_up: LookUp, *, settle: Settle | None = None, lines: Lines | None = None, body: Body | None = None
) -> None:
    _SOURCES[name] = Source(look_up, settle, lines, body)


def sources() -> tuple[str, ...]:
    return tuple(_SOURCES)


async def biller(session: AsyncSession, bill_code: str) -> Biller:
    merchant = (
        await session.execute(select(Merchant).where(Merchant.biller_code == bill_code, Merchant.active.is_(True)))
    ).scalar_one_or_none()
    if merchant is None:
        raise BillerNotFound()
    return Biller(
        id=merchant.id,
        name=merchant.name,
        biller_code=merchant.biller_code or "",
        bill_source=merchant.bill_source,
        proxy_url=merchant.proxy_url or "",
        api_url=(merchant.biller_api_url or "").rstrip("/"),
        token=merchant.biller_api_token or "",
        webhook_secret=merchant.webhook_secret or "",
    )


@dataclass(frozen=True)
class Opened:
    tran: Transaction
    lookup: BillLookup
    token: str
    biller: Biller
    pending: dict[str, Any] | None


async def look_up(
    session: AsyncSession, settings: Settings, bank: Bank, bill_code: str, consumer_code: str, request_id: str = ""
) -> Opened:
    """Find the bill, and open a pending transaction for it that this bank (and no other) may pay once, until the
    look-up expires. The request's session is committed before the source is asked, and again before a refusal is
    raised, so that the calls' records are kept either way."""
    who = await biller(session, bill_code)
    source = _SOURCES.get(who.bill_source)
    await session.commit()  # no transaction stays open while the biller is asked
    if source is None:
        raise BillerUnavailable(f"bill source {who.bill_source!r} is not served here")
    outcome = await source.look_up(session, settings, who, consumer_code, request_id)
    session.add_all(outcome.records)
    if outcome.refused is not None or outcome.found is None:
        await session.commit()
        raise outcome.refused or BillerUnavailable("the source answered nothing")
    tran, lookup, token = await open_bill(
        session,
        merchant_id=who.id,
        source=outcome.found.source or who.bill_source,
        bill=outcome.found,
        bank_code=bank.code,
        ttl_seconds=settings.bill_lookup_ttl_seconds,
    )
    return Opened(tran, lookup, token, who, outcome.pending)


async def open_bill(
    session: AsyncSession,
    *,
    merchant_id: str,
    source: str,
    bill: Found,
    bank_code: str,
    ttl_seconds: int,
    channel: str = "Bank Channel",
) -> tuple[Transaction, BillLookup, str]:
    """A pending ``bank_bill`` transaction for a bill its source found, payable by this bank with the token
    answered, until it expires."""
    now = clock.now()
    token = secrets.token_hex(16)
    tran_id = new_id()
    (short_id,) = await free_short_ids(session, 1)
    tran = Transaction(
        id=tran_id,
        short_id=short_id,
        merchant_id=merchant_id,
        type=KIND,
        reference=tran_id,  # as a top-up's: the merchant finds it by the webhook's tran_id, not by a consumer code
        amount=bill.due,
        fee=0,
        currency=bill.currency,
        status="pending",
        tran_date=now,
        expire_date=now + timedelta(seconds=ttl_seconds),
        description=bill.description,
        bank_code=bank_code,
        payment_token_digest=crypto.digest(token),
    )
    session.add(tran)
    await session.flush()
    lookup = BillLookup(
        transaction_id=tran.id,
        merchant_id=merchant_id,
        source=source,
        consumer_code=bill.consumer_code[:100],
        consumer_name=bill.consumer_name[:255],
        consumer_name_latin=bill.consumer_name_latin[:255],
        phone=bill.phone[:50],
        due_amount=bill.due,
        min_amount=bill.lowest,
        max_amount=bill.highest,
        balance=bill.balance,
        description=bill.description,
        last_bill_date=bill.last_bill_date[:40],
        last_due_date=bill.last_due_date[:40],
        last_pay_date=bill.last_pay_date[:40],
        overpaid=0,
        bill_ref=bill.bill_ref[:100],
        channel=channel,
    )
    session.add(lookup)
    await session.flush()
    return tran, lookup, token


def bounds(lookup: BillLookup) -> tuple[int | None, int | None]:
    """The lowest and highest amount one payment of this bill may be; None: no limit (the proxy's -1). A source
    that gives no limits means the amount due, exactly (it answers them so, see proxy/answer.py)."""
    return lookup.min_amount, lookup.max_amount


# ---------------------------------------------------------------- how a bank pays such a bill (banks.PayableKind)


async def _lookup_of(session: AsyncSession, tran: Transaction) -> BillLookup:
    lookup = await session.get(BillLookup, tran.id)
    assert lookup is not None, f"bank_bill {tran.id} has no look-up"
    return lookup


async def _accept(session: AsyncSession, tran: Transaction, total: int) -> int:
    lookup = await _lookup_of(session, tran)
    lowest, highest = bounds(lookup)
    if total <= 0 or (lowest is not None and total < lowest) or (highest is not None and total > highest):
        raise AmountOutOfRange(
            lowest=to_major(lowest, tran.currency) if lowest is not None else None,
            highest=to_major(highest, tran.currency) if highest is not None else None,
        )
    return total


async def _credit(session: AsyncSession, tran: Transaction, bank: Bank, clearing: Account) -> Entry:
    lookup = await _lookup_of(session, tran)
    lookup.overpaid = max(0, tran.amount - lookup.due_amount)  # accepted up to max_amount, and reported
    target = await ledger.open_account(
        session, merchant_id=tran.merchant_id, kind=ledger.AccountKind.merchant_collection, currency=tran.currency
    )
    entry = await ledger.post(
        session,
        merchant_id=tran.merchant_id,
        kind="bank_bill_payment",
        memo=f"bill of {lookup.consumer_code} via {bank.code}",
        legs=[ledger.Leg(clearing, -tran.amount), ledger.Leg(target, tran.amount)],
    )
    source = _SOURCES.get(lookup.source)
    if source is not None and source.settle is not None:
        await source.settle(session, tran, lookup)  # same transaction as the entry: allocated exactly once
    await session.flush()
    return entry


async def _announce(session: AsyncSession, tran: Transaction, bank: Bank) -> banks.Announcement:
    lookup = await _lookup_of(session, tran)
    source = _SOURCES.get(lookup.source)
    # The §2.4 body has no description: the source's goes in purpose_of_transaction.
    said = partial(
        banks.Announcement,
        event_type="payment.success",
        channel=lookup.channel,
        purpose=lookup.description,
        identity_code=lookup.consumer_code,
    )
    if source is not None and source.body is not None:
        return said(body=await source.body(session, tran, lookup, bank))
    if source is not None and source.lines is not None:
        return said(customers=await source.lines(session, tran, lookup))
    line = {
        "branch_code": "",
        "branch_name": "",
        "customer_code": lookup.consumer_code,
        "customer_name": lookup.consumer_name,
        "customer_name_latin": lookup.consumer_name_latin,
        "bill_no": lookup.consumer_code,
        "amount": to_major(tran.amount, tran.currency),
    }
    return said(customers=[line])


banks.register(banks.PayableKind(KIND, credit=_credit, announce=_announce, accept=_accept))
