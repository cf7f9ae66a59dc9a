"""Every payment query, always scoped to the calling merchant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.bills.models import Bill, BillDetail
from tonle.customers.models import Customer, PaymentMethod, Wallet
from tonle.ledger.models import Account, Entry, Posting
from tonle.subbillers.models import SubBiller
from tonle.transactions.models import Transaction

# Built once (see customers.repository): the settle path runs them on every payment.
_BILL_BY_REF = select(Bill).where(Bill.merchant_id == bindparam("m"), Bill.ref_id == bindparam("ref"))


# The customer's default card or account, if one is default (else its first wallet is): asked in the same query.
_DEFAULT_METHOD = (
    select(PaymentMethod.id)
    .where(
        PaymentMethod.customer_id == Customer.id,
        PaymentMethod.is_default.is_(True),
        PaymentMethod.removed_at.is_(None),
    )
    .limit(1)
    .scalar_subquery()
)
_CUSTOMER_WALLETS = (
    select(Customer, Wallet, Account, _DEFAULT_METHOD)
    .outerjoin(Wallet, and_(Wallet.customer_id == Customer.id, Wallet.deleted_at.is_(None)))
    .outerjoin(Account, Account.id == Wallet.account_id)
    .where(
        Customer.merchant_id == bindparam("m"), Customer.sync_code == bindparam("code"), Customer.deleted_at.is_(None)
    )
    .order_by(Wallet.position)
)
_SUB_BILLER_ACCOUNT = (
    select(SubBiller, Account)
    .outerjoin(
        Account,
        and_(
            Account.merchant_id == SubBiller.merchant_id,
            Account.kind == "subbiller_settlement",
            Account.owner_ref == SubBiller.id,
            Account.currency == bindparam("currency"),
        ),
    )
    .where(SubBiller.merchant_id == bindparam("m"), SubBiller.code == bindparam("code"))
)


async def customer_with_wallets(
    session: AsyncSession, merchant_id: str, sync_code: str
) -> tuple[Customer | None, list[tuple[Wallet, Account]], str | None]:
    """A live customer, its live wallets with their accounts in wallet order, and the id of its default card or
    account (None: the first wallet is the default): one query for settle."""
    rows = (await session.execute(_CUSTOMER_WALLETS, {"m": merchant_id, "code": sync_code})).all()
    if not rows:
        return None, [], None
    return rows[0][0], [(w, a) for _, w, a, _d in rows if w is not None], rows[0][3]


async def sub_biller_with_account(
    session: AsyncSession, merchant_id: str, code: str, currency: str
) -> tuple[SubBiller | None, Account | None]:
    """A sub-biller and its settlement account in ``currency`` (None until its first payment): one query."""
    row = (await session.execute(_SUB_BILLER_ACCOUNT, {"m": merchant_id, "code": code, "currency": currency})).first()
    return (row[0], row[1]) if row else (None, None)


async def bill_by_ref(session: AsyncSession, merchant_id: str, ref_id: str) -> Bill | None:
    return (await session.execute(_BILL_BY_REF, {"m": merchant_id, "ref": ref_id})).scalar_one_or_none()


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
