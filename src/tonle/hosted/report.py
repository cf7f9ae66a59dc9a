"""The payment report of Bill24 Hosted (spec other-apis §4.3): every bank payment of the biller's bills in a time
range, with the invoices each one paid. It reads the payments' own records (the transaction, its look-up, its
allocations), each written in the transaction of the payment's ledger entry, so its sums are the ledger's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.banks.bills import KIND
from tonle.banks.models import Bank, BillLookup
from tonle.hosted.models import Invoice, InvoiceAllocation
from tonle.transactions.models import Transaction

# paymentMethod: Bill24 shows 1 for the bank channel; Tonle numbers the other ways in [INF, docs/hosted.md].
METHODS = {"Bank Channel": 1, "KHQR": 2}


@dataclass
class Paid:
    tran: Transaction
    lookup: BillLookup
    bank_name: str
    method: int
    bills: list[tuple[Invoice, int]]


async def payments(
    session: AsyncSession,
    merchant_id: str,
    since: datetime,
    until: datetime,
    *,
    consumer_code: str | None = None,
    method: int | None = None,
    currency: str | None = None,
) -> list[Paid]:
    """Payments with ``since <= paid_at < until`` (UTC), oldest first."""
    q = (
        select(Transaction, BillLookup, Bank.name)
        .join(BillLookup, BillLookup.transaction_id == Transaction.id)
        .outerjoin(Bank, Bank.code == Transaction.bank_code)
        .where(
            Transaction.merchant_id == merchant_id,
            Transaction.type == KIND,
            Transaction.status == "success",
            Transaction.paid_at >= since,
            Transaction.paid_at < until,
        )
        .order_by(Transaction.paid_at, Transaction.id)
    )
    if consumer_code:
        q = q.where(BillLookup.consumer_code == consumer_code)
    if currency:
        q = q.where(Transaction.currency == currency.upper())
    if method is not None:
        channels = [name for name, n in METHODS.items() if n == method]
        q = q.where(BillLookup.channel.in_(channels))
    rows = (await session.execute(q)).all()
    ids = [r[0].id for r in rows]
    allocated: dict[str, list[tuple[Invoice, int]]] = {}
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        for alloc, inv in (
            await session.execute(
                select(InvoiceAllocation, Invoice)
                .join(Invoice, Invoice.id == InvoiceAllocation.invoice_id)
                .where(InvoiceAllocation.transaction_id.in_(part))
                .order_by(InvoiceAllocation.id)
            )
        ).all():
            allocated.setdefault(alloc.transaction_id, []).append((inv, alloc.amount))
    return [
        Paid(
            tran, lookup, bank_name or tran.bank_code or "", METHODS.get(lookup.channel, 1), allocated.get(tran.id, [])
        )
        for tran, lookup, bank_name in rows
    ]
