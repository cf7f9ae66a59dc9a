"""The bank channel for the bills Tonle keeps (the ``hosted`` bill source; the Supplier API's bills too): a bank's
look-up by consumer code or invoice number, the payment's allocation over the consumer's invoices (oldest due first,
the excess kept as overpay) in the confirm's transaction, the webhook's lines, and the KHQR code of an invoice's
digital bill, which a bank that scans it pays."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.banks import bills
from tonle.banks import service as banks
from tonle.banks.models import BillLookup
from tonle.config import Settings
from tonle.hosted.models import BillConsumer, Invoice, InvoiceAllocation, PushedPayment
from tonle.hosted.service import SOURCE, bill_url, due_of, lock_biller, state_of
from tonle.khqr import codec
from tonle.kit.clock import PHNOM_PENH, clock, epoch
from tonle.kit.money import to_major
from tonle.merchants.models import Merchant
from tonle.merchants.service import khqr_account
from tonle.transactions.models import Transaction

# ----------------------------------------------------------------------------------------- the look-up and payment

HELD_SOURCES = (SOURCE, "supplier")  # the bill sources answered from this store (Hosted import, Supplier API push)


def _due(inv: Invoice) -> int:
    return due_of(inv.total_amount, inv.paid_outside, inv.paid_bank)


def _local(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC).astimezone(PHNOM_PENH).replace(tzinfo=None)


async def open_invoices(
    session: AsyncSession, merchant_id: str, consumer_id: str, *, only: str | None = None, lock: bool = False
) -> list[Invoice]:
    """What a consumer owes, oldest due first (``only``: that one invoice)."""
    q = select(Invoice).where(
        Invoice.merchant_id == merchant_id,
        Invoice.consumer_id == consumer_id,
        Invoice.void.is_(False),
        Invoice.draft.is_(False),
        Invoice.total_amount - Invoice.paid_outside - Invoice.paid_bank > 0,
    )
    if only is not None:
        q = q.where(Invoice.ref_number == only)
    q = q.order_by(Invoice.due_date, Invoice.date, Invoice.ref_number)
    if lock:
        q = q.with_for_update()
    return list((await session.execute(q.execution_options(populate_existing=True))).scalars())


async def find_consumer(
    session: AsyncSession, merchant_id: str, typed: str
) -> tuple[BillConsumer, Invoice | None] | None:
    """The consumer a bank customer's typed code names: a consumer code, or else an invoice number (then that
    invoice too)."""
    consumer = (
        await session.execute(
            select(BillConsumer).where(
                BillConsumer.merchant_id == merchant_id, BillConsumer.code == typed, BillConsumer.active.is_(True)
            )
        )
    ).scalar_one_or_none()
    if consumer is not None:
        return consumer, None
    inv = (
        await session.execute(
            select(Invoice).where(
                Invoice.merchant_id == merchant_id,
                Invoice.ref_number == typed,
                Invoice.void.is_(False),
                Invoice.draft.is_(False),
            )
        )
    ).scalar_one_or_none()
    if inv is None:
        return None
    owner = await session.get(BillConsumer, inv.consumer_id)
    return (owner, inv) if owner is not None and owner.active else None


async def credit_of(session: AsyncSession, merchant_id: str, consumer_id: str, code: str, currency: str) -> int:
    """The consumer's credit in one currency: what their bank payments paid beyond their invoices (each look-up's
    overpay), plus what the payments their biller pushed paid beyond the bills named, less what pushed ``balance``
    payments spent of it."""
    bank = (
        select(func.coalesce(func.sum(BillLookup.overpaid), 0))
        .join(Transaction, Transaction.id == BillLookup.transaction_id)
        .where(
            BillLookup.merchant_id == merchant_id,
            BillLookup.source.in_(HELD_SOURCES),
            BillLookup.consumer_code == code,
            Transaction.status == "success",
            Transaction.currency == currency,
        )
    )
    pushed = (
        select(func.coalesce(func.sum(PushedPayment.excess - PushedPayment.credit_spent), 0))
        .join(Transaction, Transaction.id == PushedPayment.transaction_id)
        .where(PushedPayment.consumer_id == consumer_id, Transaction.currency == currency)
    )
    return int((await session.execute(bank)).scalar_one()) + int((await session.execute(pushed)).scalar_one())


async def look_up(
    session: AsyncSession, settings: Settings, biller: bills.Biller, typed: str, request_id: str
) -> bills.Outcome:
    """The bank-channel look-up: the consumer, what is due in the currency of their oldest due invoice (all of
    it: a payment may be part of it, or more), and their open invoices as pending bills."""
    found = await find_consumer(session, biller.id, typed)
    if found is None:
        return bills.Outcome(refused=bills.ConsumerNotFound())
    consumer, one = found
    owed = await open_invoices(session, biller.id, consumer.id, only=one.ref_number if one else None)
    if not owed:
        return bills.Outcome(refused=bills.NothingToPay())
    currency = owed[0].currency
    owed = [inv for inv in owed if inv.currency == currency]
    due = sum(_due(inv) for inv in owed)
    running, listed = 0, []
    for inv in owed:
        running += _due(inv)
        listed.append(
            {
                "date": _local(inv.date).strftime("%d/%m/%Y"),
                "amount": _due(inv),
                "balance": running,
                "digital_bill_url": bill_url(settings, inv),
                "ref_number": inv.ref_number,
                "due_date": _local(inv.due_date).strftime("%d/%m/%Y"),
                "state": state_of(inv),
            }
        )
    for item in listed:
        item["amount"] = to_major(item["amount"], currency)
        item["balance"] = to_major(item["balance"], currency)
    latest = max(owed, key=lambda inv: inv.date)
    refs = ", ".join(inv.ref_number for inv in owed[:5]) + (", ..." if len(owed) > 5 else "")
    return bills.Outcome(
        found=bills.Found(
            consumer_code=consumer.code,
            consumer_name=consumer.name,
            currency=currency,
            due=due,
            lowest=None,
            highest=None,
            phone=consumer.phone,
            balance=await credit_of(session, biller.id, consumer.id, consumer.code, currency),
            description=f"{'Invoice' if len(owed) == 1 else 'Invoices'} {refs}",
            last_bill_date=_local(latest.date).strftime("%d/%m/%Y"),
            last_due_date=_local(max(inv.due_date for inv in owed)).strftime("%d/%m/%Y"),
            bill_ref=one.ref_number if one else "",
            # The bills' own source: a Supplier API bill is announced in that product's webhook body.
            source=owed[0].source,
        ),
        pending={"opening_balance": 0, "pending_bills": list(reversed(listed))},
    )


async def settle(session: AsyncSession, tran: Transaction, lookup: BillLookup) -> None:
    """Allocate a bank payment over the consumer's invoices as they stand now (not as looked up): oldest due
    first, or the one invoice looked up by its number; what is left is the consumer's overpay."""
    await lock_biller(session, tran.merchant_id)
    consumer = (
        await session.execute(
            select(BillConsumer).where(
                BillConsumer.merchant_id == tran.merchant_id, BillConsumer.code == lookup.consumer_code
            )
        )
    ).scalar_one_or_none()
    left = tran.amount
    if consumer is not None:
        owed = await open_invoices(session, tran.merchant_id, consumer.id, only=lookup.bill_ref or None, lock=True)
        rows = []
        for inv in owed:
            if inv.currency != tran.currency or left == 0:
                continue
            take = min(left, _due(inv))
            left -= take
            rows.append(
                {"transaction_id": tran.id, "invoice_id": inv.id, "merchant_id": tran.merchant_id, "amount": take}
            )
            await session.execute(
                update(Invoice)
                .where(Invoice.id == inv.id)
                .values(paid_bank=Invoice.paid_bank + take, updated_at=clock.now())
            )
        if rows:
            await session.execute(insert(InvoiceAllocation), rows)
    lookup.overpaid = left


async def lines(session: AsyncSession, tran: Transaction, lookup: BillLookup) -> list[dict[str, Any]]:
    """The webhook's ``customers[]``: one line per invoice paid (``bill_no`` its number), and one for the
    overpay (``bill_no`` empty), so the lines add up to the payment."""
    rows = (
        await session.execute(
            select(Invoice.ref_number, InvoiceAllocation.amount)
            .join(Invoice, Invoice.id == InvoiceAllocation.invoice_id)
            .where(InvoiceAllocation.transaction_id == tran.id)
            .order_by(InvoiceAllocation.id)
        )
    ).all()
    base = {
        "branch_code": "",
        "branch_name": "",
        "customer_code": lookup.consumer_code,
        "customer_name": lookup.consumer_name,
        "customer_name_latin": lookup.consumer_name_latin,
    }
    out = [{**base, "bill_no": ref, "amount": to_major(amount, tran.currency)} for ref, amount in rows]
    if lookup.overpaid:
        out.append({**base, "bill_no": "", "amount": to_major(lookup.overpaid, tran.currency)})
    return out


bills.register_source(SOURCE, look_up, settle=settle, lines=lines)


# ------------------------------------------------------------------------------------------- the bill's KHQR


def khqr_of(merchant: Merchant, inv: Invoice) -> str | None:
    """The KHQR code for what is due on the invoice now (None when nothing is), the same string for the same
    invoice state: it is made of the invoice alone (its last change dates the code; it stays valid 30 days past
    the later of that and the due date)."""
    due = _due(inv)
    if inv.void or inv.draft or due == 0:
        return None
    changed = inv.updated_at
    data = codec.KHQR(
        **khqr_account(merchant),
        currency=inv.currency,
        amount=Decimal(to_major(due, inv.currency)),
        bill_number=inv.ref_number[:25],
        store_label=merchant.name[:25],
        created_ms=epoch(changed) * 1000,
        expires_ms=(epoch(max(changed, inv.due_date)) + 30 * 86400) * 1000,
    )
    return codec.encode(data)


async def shown_khqr(session: AsyncSession, merchant: Merchant, inv: Invoice) -> str | None:
    """The invoice's KHQR, remembered by its MD5 so that a bank that scans it (and sends the MD5, as for a
    checkout's code) finds the invoice."""
    qr = khqr_of(merchant, inv)
    md5 = codec.md5(qr) if qr else None
    if md5 != inv.khqr_md5:
        await session.execute(update(Invoice).where(Invoice.id == inv.id).values(khqr_md5=md5))
        inv.khqr_md5 = md5
    return qr


async def _by_scanned_bill(session: AsyncSession, identity: str) -> tuple[str, str] | None:
    """A bank sent the MD5 of a scanned invoice KHQR: open a pending transaction for exactly the amount that
    code carries, if it is still the invoice's current code (a code from before a payment names an old amount)."""
    if len(identity) != 32 or any(ch not in "0123456789abcdefABCDEF" for ch in identity):
        return None
    inv = (await session.execute(select(Invoice).where(Invoice.khqr_md5 == identity.lower()))).scalar_one_or_none()
    if inv is None:
        return None
    merchant = await session.get(Merchant, inv.merchant_id)
    consumer = await session.get(BillConsumer, inv.consumer_id)
    qr = khqr_of(merchant, inv) if merchant is not None and merchant.active else None
    if qr is None or consumer is None or codec.md5(qr) != inv.khqr_md5:
        return None
    due = _due(inv)
    tran, _lookup, _token = await bills.open_bill(
        session,
        merchant_id=inv.merchant_id,
        source=inv.source,
        bill=bills.Found(
            consumer_code=consumer.code,
            consumer_name=consumer.name,
            currency=inv.currency,
            due=due,
            lowest=due,
            highest=due,
            phone=consumer.phone,
            description=f"Invoice {inv.ref_number}",
            bill_ref=inv.ref_number,
        ),
        bank_code="",
        ttl_seconds=SCAN_TTL_SECONDS,
        channel="KHQR",
    )
    return tran.id, "KHQR"


SCAN_TTL_SECONDS = 1800  # a scanned invoice code's transaction, as a bank look-up's (TONLE_BILL_LOOKUP_TTL_SECONDS)
banks.register_alias(_by_scanned_bill)
