"""Settle payment and the reads around it: payment methods, balances, wallet history, bills, transactions."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.config import Compat
from tonle.customers import repository as customers
from tonle.customers.models import Customer, Wallet
from tonle.db import new_id
from tonle.kit import codes
from tonle.kit.errors import TonleError
from tonle.kit.timefmt import add_month, clock
from tonle.ledger import service as ledger
from tonle.ledger.models import Account, Posting
from tonle.merchants.models import Merchant
from tonle.payments import hashing
from tonle.payments import repository as repo
from tonle.payments.models import Bill, BillDetail, Transaction
from tonle.payments.schemas import SettleInput
from tonle.subbillers import service as subbillers

# What settle-payment business errors carry in `data` [OBS].
NO_BILL = {"bill": None, "payment": None}


def settle_error(code: codes.Code) -> TonleError:
    return TonleError(code, dict(NO_BILL))


async def customer_or_311(session: AsyncSession, merchant: Merchant, sync_code: str, data: object = None) -> Customer:
    customer = await customers.live_customer(session, merchant.id, sync_code)
    if customer is None:
        raise TonleError(codes.CUSTOMER_NOT_FOUND, data)
    return customer


@dataclass
class Settled:
    bill: Bill
    paid: bool  # False: kept unpaid (default method, not enough money), awaiting checkout


async def settle(session: AsyncSession, merchant: Merchant, inp: SettleInput, compat: Compat) -> Settled:
    """Push a bill and pay it from the customer's wallet, in the spec's check order (§2.11)."""
    if not merchant.billflow_enabled:
        raise settle_error(codes.BILLFLOW_DISABLED)
    if not merchant.bill_hash_key:
        raise settle_error(codes.HASH_CONFIG_NOT_FOUND)
    message = hashing.bill_message(
        inp.ref_id, inp.date, inp.currency_raw, inp.total_raw, inp.customer_sync_code, inp.payment_to
    )
    if not hashing.verify(message, merchant.bill_hash_key, inp.hash):
        raise settle_error(codes.HASH_INVALID)
    customer = await customer_or_311(session, merchant, inp.customer_sync_code, dict(NO_BILL))
    sub = await repo.sub_biller(session, merchant.id, inp.payment_to)
    if sub is None:
        raise settle_error(codes.SETTLEMENT_SUPPLIER_NOT_FOUND)
    if merchant.require_settlement_link and not await subbillers.has_active_link(session, sub):
        raise settle_error(codes.SETTLEMENT_LINK_NOT_FOUND)
    existing = await repo.bill_by_ref(session, merchant.id, inp.ref_id)
    if existing is not None:
        raise _duplicate(existing, compat)
    wallet = await _paying_wallet(session, merchant, customer, inp)
    explicit = bool(inp.payment_method_token)

    now = clock.now()
    bill = Bill(
        id=new_id(),
        merchant_id=merchant.id,
        customer_id=customer.id,
        sub_biller_id=sub.id,
        ref_id=inp.ref_id,
        date=inp.date,
        due_date=inp.due_date,
        currency=inp.currency,
        total_amount=inp.total,
        total_tax=inp.total_tax,
        description=inp.description,
        exchange_rate_khr=inp.exchange_rate_khr,
        total_amount_khr=inp.total_amount_khr,
        status="unpaid",
        payment_method="",
        payment_ref="",
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(bill)
            await session.flush()  # the (merchant, ref_id) unique index decides a race before any money moves
    except IntegrityError:
        raise settle_error(codes.BILL_EXISTS) from None
    session.add_all(BillDetail(bill_id=bill.id, position=i, **vars(d)) for i, d in enumerate(inp.details))

    entry_id = None
    if inp.total > 0:
        source = await session.get(Account, wallet.account_id)
        target = await ledger.settlement_account(session, sub.merchant_id, sub.id, inp.currency)
        assert source is not None
        try:
            entry = await ledger.post(
                session,
                merchant_id=merchant.id,
                kind="wallet_payment",
                memo=f"bill {inp.ref_id}",
                legs=[ledger.Leg(source, -inp.total), ledger.Leg(target, inp.total)],
            )
        except ledger.InsufficientFunds:
            if explicit:
                raise settle_error(codes.INSUFFICIENT_BALANCE) from None  # nothing is kept
            # The default method could not pay: the bill stays, unpaid, with a checkout reference [OBS].
            bill.checkout_ref = secrets.token_hex(6).upper()
            await session.flush()
            return Settled(bill, paid=False)
        entry_id = entry.id
    tran = Transaction(
        id=new_id(),
        merchant_id=merchant.id,
        customer_id=customer.id,
        wallet_id=wallet.id,
        bill_id=bill.id,
        sub_biller_id=sub.id,
        type="wallet_payment",
        reference=inp.ref_id,
        amount=inp.total,
        fee=0,
        currency=inp.currency,
        status="success",
        tran_date=now,
        expire_date=add_month(now),
        paid_at=now,
        entry_id=entry_id,
        description=inp.description,
        created_at=now,
    )
    session.add(tran)
    bill.status, bill.payment_method, bill.payment_date, bill.payment_ref = "paid", "wallet", now, tran.id
    await session.flush()
    return Settled(bill, paid=True)


def _duplicate(existing: Bill, compat: Compat) -> TonleError:
    # The live server answers 327 to any repeated ref_id; the docs know only 323 (already paid).
    if compat is Compat.docs and existing.status == "paid":
        return settle_error(codes.BILL_ALREADY_PAID)
    return settle_error(codes.BILL_EXISTS)


async def _paying_wallet(session: AsyncSession, merchant: Merchant, customer: Customer, inp: SettleInput) -> Wallet:
    wallets = [w for w, _ in await customers.wallets_with_balances(session, merchant.id, customer.id)]
    if inp.payment_method_token:
        wallet = next((w for w in wallets if secrets.compare_digest(w.payment_token, inp.payment_method_token)), None)
        if wallet is None:
            raise settle_error(codes.PAYMENT_TOKEN_INVALID)
        if wallet.currency != inp.currency:
            raise settle_error(codes.CURRENCY_MISMATCH)
        return wallet
    wallet = next((w for w in wallets if w.currency == inp.currency), None)
    if wallet is None:
        raise settle_error(codes.PAYMENT_METHOD_NOT_FOUND)
    return wallet


# ---------------------------------------------------------------- reads


@dataclass
class HistoryPage:
    rows: list[tuple]
    total: int
    page_index: int
    page_size: int


async def wallet_history(
    session: AsyncSession,
    merchant: Merchant,
    customer: Customer,
    *,
    wallet_id: str | None,
    tran_type: str | None,
    since: datetime | None,
    until: datetime | None,
    page_index: int,
    page_size: int,
) -> HistoryPage:
    q = repo.history_query(merchant.id, customer.id, wallet_id, tran_type, since, until)
    total = (await session.execute(select(func.count()).select_from(q.subquery()))).scalar_one()
    page = q.order_by(Posting.id.desc()).offset((page_index - 1) * page_size).limit(page_size)
    rows = [tuple(r) for r in (await session.execute(page)).all()]
    return HistoryPage(rows, total, page_index, page_size)
