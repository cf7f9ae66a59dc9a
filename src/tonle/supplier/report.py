"""Reading the Supplier API's payments back (``GET /payment/``, spec other-apis §5.7) and the fields of its §5.6
webhook: the bank's payments of the bills the Hosted store holds, and the payments the biller pushed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.banks.bills import KIND as BANK_BILL
from tonle.banks.models import Bank, BillLookup
from tonle.hosted import channel as store
from tonle.hosted.models import BillConsumer, Invoice, InvoiceAllocation, PushedPayment
from tonle.kit.money import to_major
from tonle.supplier.payments import PUSHED
from tonle.supplier.service import wire_time
from tonle.transactions.models import Transaction


async def payments(
    session: AsyncSession,
    merchant_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    customer_sync: str | None = None,
    method: str | None = None,
    currency: str | None = None,
    source: str | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """``GET /payment/``: the bank's payments of the bills this store holds and the biller's pushed payments, newest
    first, with the §5.6 webhook's fields."""
    lookup_consumer = and_(
        BillConsumer.merchant_id == Transaction.merchant_id, BillConsumer.code == BillLookup.consumer_code
    )
    q = (
        select(Transaction, BillLookup, PushedPayment, BillConsumer, Bank.name)
        .outerjoin(BillLookup, BillLookup.transaction_id == Transaction.id)
        .outerjoin(PushedPayment, PushedPayment.transaction_id == Transaction.id)
        .outerjoin(BillConsumer, or_(BillConsumer.id == PushedPayment.consumer_id, lookup_consumer))
        .outerjoin(Bank, Bank.code == Transaction.bank_code)
        .where(
            Transaction.merchant_id == merchant_id,
            Transaction.status == "success",
            or_(
                Transaction.type == PUSHED,
                and_(Transaction.type == BANK_BILL, BillLookup.source.in_(store.HELD_SOURCES)),
            ),
        )
    )
    if since is not None:
        q = q.where(Transaction.paid_at >= since)
    if until is not None:
        q = q.where(Transaction.paid_at < until)
    if customer_sync:
        q = q.where(BillConsumer.sync_code == customer_sync)
    if currency:
        q = q.where(Transaction.currency == currency)
    if source:
        q = q.where(Transaction.type == (BANK_BILL if source == "bank" else PUSHED))
    if method == "bank":
        q = q.where(Transaction.type == BANK_BILL)
    elif method:
        q = q.where(PushedPayment.method == method)
    q = q.order_by(Transaction.paid_at.desc(), Transaction.id).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    rows = (await session.execute(q)).all()
    ids = [t.id for t, *_ in rows]
    bills: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        q2 = (
            select(
                InvoiceAllocation.transaction_id,
                Invoice.id,
                Invoice.ref_number,
                InvoiceAllocation.amount,
                Invoice.currency,
            )
            .join(Invoice, Invoice.id == InvoiceAllocation.invoice_id)
            .where(InvoiceAllocation.transaction_id.in_(part))
            .order_by(InvoiceAllocation.id)
        )
        for tran_id, inv_id, ref, amount, cur in (await session.execute(q2)).all():
            bills[tran_id].append({"id": inv_id, "sync_code": ref, "amount": to_major(amount, cur)})
    out = []
    for t, lookup, pushed, consumer, bank_name in rows:
        out.append(
            {
                **webhook_fields(t, lookup, consumer, bank_name or ""),
                "source": "push" if pushed is not None else "bank",
                "payment_method": pushed.method if pushed is not None else "bank",
                "sync_code": pushed.sync_code if pushed is not None else "",
                "title": pushed.title if pushed is not None else "",
                "bills": bills[t.id],
            }
        )
    return out


def mask(value: str) -> str:
    """A payer's phone or account number with all but its first 3 and last 3 digits hidden."""
    digits = [i for i, ch in enumerate(value) if ch.isdigit()]
    if len(digits) <= 6:
        return value
    hidden = set(digits[3:-3])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(value))


def webhook_fields(t: Transaction, lookup: BillLookup | None, consumer: Any, bank_name: str) -> dict[str, Any]:
    """The §5.6 webhook's fields of a payment (``bills`` aside)."""
    return {
        "tnx_id": t.short_id or "",
        "tran_id": t.id,
        "tran_amount": to_major(t.amount, t.currency),
        "customer_fee": to_major(t.fee, t.currency),
        "supplier_fee": 0,
        "total_amount": to_major(t.amount + t.fee, t.currency),
        "currency": t.currency,
        "bank_name": bank_name,
        "bank_ref": t.bank_ref,
        "customer_sync_code": (consumer.sync_code if consumer is not None else None) or "",
        "customer_code": consumer.code if consumer is not None else (lookup.consumer_code if lookup else ""),
        "customer_name": consumer.name if consumer is not None else (lookup.consumer_name if lookup else ""),
        "customer_phone": consumer.phone if consumer is not None else (lookup.phone if lookup else ""),
        "paid_by": mask(t.payer_phone or t.payer_account_no),
        "paid_date": wire_time(t.paid_at) or "",
        "description": t.description,
        "checkout_ref": "",
    }


async def paid_bills(session: AsyncSession, tran_id: str) -> list[dict[str, Any]]:
    q = (
        select(Invoice.id, Invoice.ref_number)
        .join(InvoiceAllocation, InvoiceAllocation.invoice_id == Invoice.id)
        .where(InvoiceAllocation.transaction_id == tran_id)
        .order_by(InvoiceAllocation.id)
    )
    return [{"id": i, "sync_code": ref} for i, ref in (await session.execute(q)).all()]
