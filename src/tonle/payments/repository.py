"""Every payment query, always scoped to the calling merchant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.customers.models import Customer, Wallet
from tonle.ledger.models import Entry, Posting
from tonle.payments.models import Bill, BillDetail, Transaction
from tonle.subbillers.models import SubBiller


async def sub_biller(session: AsyncSession, merchant_id: str, code: str) -> SubBiller | None:
    q = select(SubBiller).where(SubBiller.merchant_id == merchant_id, SubBiller.code == code)
    return (await session.execute(q)).scalar_one_or_none()


async def bill_by_ref(session: AsyncSession, merchant_id: str, ref_id: str) -> Bill | None:
    q = select(Bill).where(Bill.merchant_id == merchant_id, Bill.ref_id == ref_id)
    return (await session.execute(q)).scalar_one_or_none()


async def bills_of(session: AsyncSession, merchant_id: str, customer_id: str) -> list[Bill]:
    q = (
        select(Bill)
        .where(Bill.merchant_id == merchant_id, Bill.customer_id == customer_id)
        .order_by(Bill.created_at.desc(), Bill.id.desc())
    )
    return list((await session.execute(q)).scalars())


async def details_of(session: AsyncSession, bill_ids: list[str]) -> dict[str, list[BillDetail]]:
    out: dict[str, list[BillDetail]] = {i: [] for i in bill_ids}
    if bill_ids:
        q = select(BillDetail).where(BillDetail.bill_id.in_(bill_ids)).order_by(BillDetail.bill_id, BillDetail.position)
        for d in (await session.execute(q)).scalars():
            out[d.bill_id].append(d)
    return out


async def customer_by_id(session: AsyncSession, merchant_id: str, customer_id: str) -> Customer | None:
    q = select(Customer).where(Customer.merchant_id == merchant_id, Customer.id == customer_id)
    return (await session.execute(q)).scalar_one_or_none()


async def transaction_by_reference(session: AsyncSession, merchant_id: str, reference: str) -> Transaction | None:
    q = (
        select(Transaction)
        .where(Transaction.merchant_id == merchant_id, Transaction.reference == reference)
        .order_by(Transaction.created_at.desc())
        .limit(1)
    )
    return (await session.execute(q)).scalar_one_or_none()


def history_query(
    merchant_id: str,
    customer_id: str,
    wallet_id: str | None,
    tran_type: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Select:
    """The postings of a customer's wallets, with the entry and (when there is one) the transaction behind each."""
    q = (
        select(Posting, Wallet, Entry, Transaction)
        .join(Wallet, Wallet.account_id == Posting.account_id)
        .join(Entry, Entry.id == Posting.entry_id)
        .outerjoin(Transaction, Transaction.entry_id == Entry.id)
        .where(Wallet.merchant_id == merchant_id, Wallet.customer_id == customer_id)
    )
    if wallet_id:
        q = q.where(Wallet.id == wallet_id)
    if tran_type:
        q = q.where(func.coalesce(Transaction.type, Entry.kind) == tran_type)
    if since:
        q = q.where(Posting.created_at >= since)
    if until:
        q = q.where(Posting.created_at <= until)
    return q
