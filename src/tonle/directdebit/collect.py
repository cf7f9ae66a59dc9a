"""Collecting debts (spec other-apis §6.5, §6.6): a signal marks consumers due; the worker takes due consumers of
one biller under a lease (at most 50, one inquiry), asks the biller what each owes, and debits the consumer's
subscribed accounts in priority order through its bank.

Never twice for one debt. Bill24's inquiry names no debt, so what is debited is the inquiry's amount less what
Tonle already collected and the biller has not acknowledged (its webhook not yet answered 2xx). One collection per
consumer is in flight at a time (the collector's lease); signals during it make it run once more afterwards, when
the amount left is nothing. A debit is asked of the bank by Tonle's reference, recorded as ``sending`` first: a
worker killed after the bank's answer leaves it so, and the next run asks again by the same reference, gets the
first answer, and records it once (the ledger entry, the transaction and the webhook in one database
transaction, guarded by the debit's state).

Failures are never sent as a §2.4 body: a retryable refusal (insufficient funds, bank unavailable) of every
account is retried on the merchant's schedule (days after the first failure), then ends as the signed Tonle event
``direct_debit.failed``; a hard one (closed account, no account) fails at once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.banks import debits
from tonle.banks.models import Bank
from tonle.config import Settings
from tonle.db import Database, is_sqlite
from tonle.directdebit import biller
from tonle.directdebit.models import Collector, Debit, DebitAccount, Subscription, SubscriptionConsumer
from tonle.directdebit.service import accounts_of
from tonle.hosted.models import BillConsumer
from tonle.kit.clock import clock
from tonle.kit.crypto import masked
from tonle.kit.money import AmountError, to_major, to_minor
from tonle.kit.sql import insert_for
from tonle.ledger import service as ledger
from tonle.merchants.models import Merchant
from tonle.notifications import service as notify
from tonle.transactions.models import Transaction
from tonle.webhooks import outbox, payloads
from tonle.webhooks.models import OutboxEvent

CHANNEL = "Direct Debit"
TASK = "direct debit collections"


def retry_days(merchant: Merchant, settings: Settings) -> list[float]:
    raw = merchant.dd_retry_days if merchant.dd_retry_days is not None else settings.dd_retry_days
    return [float(d) for d in raw.replace(" ", "").split(",") if d]


async def signal(session: AsyncSession, merchant: Merchant, codes: list[str]) -> int:
    """Mark the merchant's subscribed consumers among ``codes`` due now; unknown codes are left alone. Repeated
    signals only set the same due time again (they coalesce)."""
    wanted = sorted(set(codes))
    if not wanted:
        return 0
    now = clock.now()
    subscribed = set(
        await session.scalars(
            select(DebitAccount.consumer_code)
            .where(
                DebitAccount.merchant_id == merchant.id,
                DebitAccount.consumer_code.in_(wanted),
                or_(DebitAccount.unsubscribe_at.is_(None), DebitAccount.unsubscribe_at > now),
            )
            .distinct()
        )
    )
    for code in sorted(subscribed):
        stmt = insert_for(session, Collector.__table__).values(
            id=str(uuid.uuid4()), merchant_id=merchant.id, consumer_code=code, due_at=now, updated_at=now
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["merchant_id", "consumer_code"], set_={"due_at": now, "updated_at": now}
            )
        )
    return len(subscribed)


@dataclass
class Held:
    id: str
    merchant_id: str
    consumer_code: str
    retry_no: int
    first_failed_at: datetime | None
    notice_amount: int | None
    notice_currency: str | None
    noticed_at: datetime | None


_DUE = "(due_at <= :now OR lease_until < :now) AND (lease_until IS NULL OR lease_until < :now)"


async def _claim(db: Database, settings: Settings) -> tuple[list[Held], str]:
    """Due consumers of one biller (the one waiting longest), at most one inquiry's worth, under a lease. A
    collector whose lease ran out (its worker died) is due again."""
    now = clock.now()
    token = str(uuid.uuid4())
    postgres = not is_sqlite(db.url)
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    pick = (
        f"SELECT id FROM dd_collectors WHERE {_DUE} AND merchant_id = "  # noqa: S608 (constants only)
        f"(SELECT merchant_id FROM dd_collectors WHERE {_DUE} ORDER BY COALESCE(due_at, lease_until) LIMIT 1) "
        f"ORDER BY COALESCE(due_at, lease_until), id LIMIT :n{lock}"
    )
    stmt = text(
        "UPDATE dd_collectors SET lease_until = :until, lease_token = :token, attempts = attempts + 1, "  # noqa: S608
        f"due_at = NULL WHERE id IN ({pick}) RETURNING id, merchant_id, consumer_code, retry_no, first_failed_at, "
        "notice_amount, notice_currency, noticed_at"
    )
    until = now + timedelta(seconds=settings.dd_lease_seconds)
    async with db.sessions() as session, session.begin():
        rows = (await session.execute(stmt, {"now": now, "until": until, "token": token, "n": biller.BATCH})).all()
    held = [
        Held(
            r.id,
            r.merchant_id,
            r.consumer_code,
            r.retry_no,
            _dt(r.first_failed_at),
            r.notice_amount,
            r.notice_currency,
            _dt(r.noticed_at),
        )
        for r in rows
    ]
    return sorted(held, key=lambda h: h.consumer_code), token


def _dt(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))  # SQLite's RETURNING hands back the stored text


async def next_due(db: Database) -> datetime | None:
    async with db.sessions() as session:
        due = await session.scalar(select(func.min(Collector.due_at)))
        lease = await session.scalar(select(func.min(Collector.lease_until)))
    return min((d for d in (due, lease) if d is not None), default=None)


async def run_once(db: Database, settings: Settings, http: httpx.AsyncClient | None = None) -> int:
    held, token = await _claim(db, settings)
    if not held:
        return 0
    async with db.sessions() as session:
        merchant = await session.get(Merchant, held[0].merchant_id)
    assert merchant is not None
    for col in held:
        await _recover(db, merchant, col)
    asked = await biller.inquire(settings, merchant, [c.consumer_code for c in held], http)
    for col in held:
        await _collect(db, settings, merchant, col, token, asked)
    return len(held)


async def _recover(db: Database, merchant: Merchant, col: Held) -> None:
    """Debits a dead worker left ``sending``: asked again by their reference, recorded once."""
    async with db.sessions() as session:
        stuck = list(await session.scalars(select(Debit).where(Debit.collector_id == col.id, Debit.state == "sending")))
    for d in stuck:
        result = await debits.rail().debit(
            db,
            bank_code=d.bank_code,
            account=await _number(db, d.account_id),
            amount=d.amount,
            currency=d.currency,
            reference=d.id,
        )
        await _record(db, merchant, d.id, result)


async def _number(db: Database, account_id: str) -> str:
    async with db.sessions() as session:
        acct = await session.get(DebitAccount, account_id)
    assert acct is not None
    return acct.account_number


async def _unacknowledged(session: AsyncSession, merchant_id: str, code: str, currency: str) -> int:
    """What Tonle collected from the consumer that the biller has not acknowledged (its webhook not delivered)."""
    got = await session.scalar(
        select(func.coalesce(func.sum(Debit.amount), 0))
        .select_from(Debit)
        .outerjoin(OutboxEvent, OutboxEvent.id == Debit.event_id)
        .where(
            Debit.merchant_id == merchant_id,
            Debit.consumer_code == code,
            Debit.currency == currency,
            Debit.state == "succeeded",
            (OutboxEvent.status.is_(None)) | (OutboxEvent.status != "delivered"),
        )
    )
    return int(got or 0)


async def _cap(session: AsyncSession, merchant_id: str, code: str, currency: str) -> int | None:
    caps = await session.scalars(
        select(SubscriptionConsumer.max_amount)
        .join(Subscription, Subscription.id == SubscriptionConsumer.subscription_id)
        .where(
            SubscriptionConsumer.merchant_id == merchant_id,
            SubscriptionConsumer.consumer_code == code,
            Subscription.status == "active",
            SubscriptionConsumer.max_amount.is_not(None),
        )
    )
    minors = []
    for cap in caps:
        try:
            minors.append(to_minor(cap, currency))
        except AmountError:
            continue
    return min(minors, default=None)


@dataclass
class Finish:
    """How a collector is left: when it is due next (None: when signalled), its retry state, and the events to
    write with it (only if the lease is still ours)."""

    outcome: str
    reason: str = ""
    due_at: datetime | None = None
    retry_no: int = 0
    first_failed_at: datetime | None = None
    notice: tuple[int, str, datetime] | None = None
    keep_notice: bool = False
    events: list[tuple[str, dict[str, Any]]] | None = None


async def _finish(db: Database, merchant: Merchant, col: Held, token: str, f: Finish, tell: Any = None) -> bool:
    now = clock.now()
    values: dict[str, Any] = {
        "lease_until": None,
        "lease_token": None,
        # A signal during the run set due_at: it runs again (and finds what is left); else the finish's time.
        "due_at": func.coalesce(Collector.due_at, f.due_at),
        "retry_no": f.retry_no,
        "first_failed_at": f.first_failed_at,
        "last_outcome": f.outcome,
        "last_reason": f.reason[:1000],
        "updated_at": now,
    }
    if f.notice is not None:
        values.update(notice_amount=f.notice[0], notice_currency=f.notice[1], noticed_at=f.notice[2])
    elif not f.keep_notice:
        values.update(notice_amount=None, notice_currency=None, noticed_at=None)
    async with db.sessions() as session, session.begin():
        moved = await session.execute(
            update(Collector).where(Collector.id == col.id, Collector.lease_token == token).values(**values)
        )
        if moved.rowcount != 1:
            return False  # the lease ran out and another worker took over: it writes the events
        for event_type, payload in f.events or []:
            await outbox.emit(session, merchant, event_type, payload)
        if tell is not None:
            await tell(session)
    return True


def _money(amount: int, currency: str) -> str:
    return f"{to_major(amount, currency)} {currency}"


async def _collect(
    db: Database, settings: Settings, merchant: Merchant, col: Held, token: str, asked: biller.Asked
) -> None:
    code = col.consumer_code
    base = {"consumer_code": code}
    if asked.error or code in asked.refused:
        why = f"inquiry: {asked.error or asked.refused[code]}"
        await _finish(
            db, merchant, col, token, Finish("failed", why, events=[("direct_debit.failed", {**base, "reason": why})])
        )
        return
    debt = asked.debts.get(code)
    if debt is None or debt.amount == 0:
        await _finish(db, merchant, col, token, Finish("nothing_due"))
        return
    async with db.sessions() as session:
        outstanding = debt.amount - await _unacknowledged(session, merchant.id, code, debt.currency)
        cap = await _cap(session, merchant.id, code, debt.currency)
        accounts = [a for a in await accounts_of(session, merchant.id, code) if a.currency == debt.currency]
        contact = await session.scalar(
            select(BillConsumer).where(BillConsumer.merchant_id == merchant.id, BillConsumer.code == code)
        )
    money = {**base, "amount": to_major(max(outstanding, 0), debt.currency), "currency": debt.currency}
    if outstanding <= 0:
        await _finish(db, merchant, col, token, Finish("awaiting_acknowledgement"))
        return
    if cap is not None and outstanding > cap:
        why = f"the debt {_money(outstanding, debt.currency)} is above the cap {_money(cap, debt.currency)}"
        held = {**money, "max_amount": to_major(cap, debt.currency), "reason": why}
        await _finish(db, merchant, col, token, Finish("held", why, events=[("direct_debit.held", held)]))
        return
    if not accounts:
        why = f"no subscribed {debt.currency} account"
        await _finish(
            db, merchant, col, token, Finish("failed", why, events=[("direct_debit.failed", {**money, "reason": why})])
        )
        return
    now = clock.now()
    lead = timedelta(hours=merchant.dd_notice_hours or 0)
    if lead:
        noticed = col.noticed_at is not None and (col.notice_amount, col.notice_currency) == (
            outstanding,
            debt.currency,
        )
        if not noticed:
            at = now + lead
            notice = {**money, "debit_at": at.strftime("%Y-%m-%dT%H:%M:%SZ")}

            async def tell(session: AsyncSession) -> None:
                await _pre_debit_notice(session, settings, merchant, debt, outstanding, at, contact)

            await _finish(
                db,
                merchant,
                col,
                token,
                Finish(
                    "noticed",
                    due_at=at,
                    retry_no=col.retry_no,
                    first_failed_at=col.first_failed_at,
                    notice=(outstanding, debt.currency, now),
                    events=[("direct_debit.notice", notice)],
                ),
                tell,
            )
            return
        assert col.noticed_at is not None
        if now < col.noticed_at + lead:
            await _finish(
                db,
                merchant,
                col,
                token,
                Finish(
                    "noticed",
                    due_at=col.noticed_at + lead,
                    retry_no=col.retry_no,
                    first_failed_at=col.first_failed_at,
                    keep_notice=True,
                ),
            )
            return
    reasons: list[str] = []
    for acct in accounts:
        debit_id = await _open_debit(db, merchant, col, acct, outstanding, debt)
        result = await debits.rail().debit(
            db,
            bank_code=acct.bank_code,
            account=acct.account_number,
            amount=outstanding,
            currency=debt.currency,
            reference=debit_id,
        )
        await _record(db, merchant, debit_id, result)
        if result.ok:
            await _finish(db, merchant, col, token, Finish("debited"))
            return
        reasons.append(result.reason)
    days = retry_days(merchant, settings)
    first = col.first_failed_at or now
    refusal = {**money, "reasons": reasons, "attempt": col.retry_no + 1}
    if any(r in debits.RETRYABLE for r in reasons) and col.retry_no < len(days):
        at = first + timedelta(days=days[col.retry_no])
        event = {**refusal, "next_attempt_at": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
        await _finish(
            db,
            merchant,
            col,
            token,
            Finish(
                "retry_scheduled",
                ", ".join(reasons),
                due_at=at,
                retry_no=col.retry_no + 1,
                first_failed_at=first,
                keep_notice=True,
                events=[("direct_debit.retry_scheduled", event)],
            ),
        )
        return
    why = ", ".join(reasons)
    await _finish(
        db, merchant, col, token, Finish("failed", why, events=[("direct_debit.failed", {**refusal, "reason": why})])
    )


async def _open_debit(
    db: Database, merchant: Merchant, col: Held, acct: DebitAccount, amount: int, debt: biller.Debt
) -> str:
    """The debit, kept as ``sending`` before the bank is asked (committed: a crash after the ask leaves a trace)."""
    debit_id = str(uuid.uuid4())
    async with db.sessions() as session, session.begin():
        session.add(
            Debit(
                id=debit_id,
                merchant_id=merchant.id,
                collector_id=col.id,
                consumer_code=col.consumer_code,
                consumer_name=debt.name_latin or debt.name,
                account_id=acct.id,
                bank_code=acct.bank_code,
                amount=amount,
                currency=debt.currency,
                state="sending",
                created_at=clock.now(),
            )
        )
    return debit_id


async def _record(db: Database, merchant: Merchant, debit_id: str, result: debits.Debited) -> None:
    """The bank's answer, once: a debit that happened becomes its transaction, one ledger entry (the bank's
    clearing to the biller's collection) and the biller's §2.4 webhook, in one database transaction."""
    now = clock.now()
    async with db.sessions() as session, session.begin():
        won = await session.execute(
            update(Debit)
            .where(Debit.id == debit_id, Debit.state == "sending")
            .values(
                state="succeeded" if result.ok else "refused",
                reason=result.reason,
                bank_ref=result.bank_ref,
                done_at=now,
            )
        )
        if won.rowcount != 1 or not result.ok:
            return
        d = await session.get(Debit, debit_id)
        acct = await session.get(DebitAccount, d.account_id) if d else None
        bank = await session.get(Bank, d.bank_code) if d else None
        assert d is not None and acct is not None and bank is not None
        sub = await session.get(Subscription, acct.subscription_id)
        tran = Transaction(
            id=str(uuid.uuid4()),
            merchant_id=merchant.id,
            type="direct_debit",
            reference=d.consumer_code,
            amount=d.amount,
            fee=0,
            currency=d.currency,
            status="success",
            tran_date=now,
            expire_date=now,
            paid_at=now,
            bank_code=bank.code,
            bank_ref=result.bank_ref,
            payer_account_no=masked(acct.account_number)[:60],
            payer_account_name=acct.account_name[:200],
            description=f"Direct debit {d.consumer_code}",
            created_at=now,
        )
        session.add(tran)
        await session.flush()
        clearing = await ledger.clearing_account(session, merchant.id, bank.code, d.currency)
        collection = await ledger.open_account(
            session, merchant_id=merchant.id, kind=ledger.AccountKind.merchant_collection, currency=d.currency
        )
        entry = await ledger.post(
            session,
            merchant_id=merchant.id,
            kind="direct_debit",
            memo=f"direct debit {d.id} via {bank.code}",
            legs=[ledger.Leg(clearing, -d.amount), ledger.Leg(collection, d.amount)],
        )
        tran.entry_id = entry.id
        body = payloads.payment_body(
            merchant.webhook_body_format,
            tran_id=tran.id,
            paid_at=now,
            amount=d.amount,
            fee=0,
            currency=d.currency,
            bank_code=bank.code,
            bank_name=bank.name,
            bank_ref=result.bank_ref,
            identity_code=d.consumer_code,
            channel=CHANNEL,
            purpose=sub.subscription_ref if sub else "",
            customer_code=d.consumer_code,
            customer_name=d.consumer_name,
        )
        event = await outbox.emit(session, merchant, "direct_debit.success", body, bill24_body=True)
        await session.execute(
            update(Debit).where(Debit.id == debit_id).values(transaction_id=tran.id, event_id=event.id)
        )


async def _pre_debit_notice(
    session: AsyncSession,
    settings: Settings,
    merchant: Merchant,
    debt: biller.Debt,
    amount: int,
    at: datetime,
    contact: BillConsumer | None,
) -> None:
    """The customer is told before the debit, through the Notification API's channels (e-mail and SMS where the
    biller gave Tonle an address for the consumer and the gateway has the channel; else the log channel)."""
    to = []
    if contact is not None and contact.email and notify.configured(settings, "email"):
        to.append(("email", contact.email))
    if contact is not None and contact.phone and notify.configured(settings, "sms"):
        to.append(("sms", contact.phone))
    local = at + timedelta(hours=7)
    await notify.queue(
        session,
        merchant.id,
        ref_id=f"dd-{debt.code}",
        subject=f"{merchant.name}: direct debit of {_money(amount, debt.currency)}",
        message=(
            f"Dear {debt.name_latin or debt.name or debt.code}, {merchant.name} will debit"
            f" {_money(amount, debt.currency)}"
            f" from your subscribed account on {local:%Y-%m-%d %H:%M} (Phnom Penh time) for customer code {debt.code}."
        ),
        to=to or [("log", debt.code)],
    )
