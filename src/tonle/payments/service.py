"""Settle payment and the reads around it: payment methods, balances, wallet history, bills, transactions."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.bills.models import Bill, BillDetail
from tonle.customers.models import Customer, PaymentMethod, Wallet
from tonle.db import Database, new_id
from tonle.kit.clock import add_month, clock
from tonle.kit.domain import DomainError
from tonle.kit.sql import insert_for
from tonle.ledger import service as ledger
from tonle.ledger.models import Account, Posting
from tonle.merchants.models import Merchant
from tonle.methods import service as methods
from tonle.payments import hashing
from tonle.payments import repository as repo
from tonle.payments.schemas import SettleInput
from tonle.subbillers import service as subbillers
from tonle.transactions.models import Transaction


class SettleRefused(DomainError):
    """A settle payment refused in the spec's check order (§2.11); nothing is kept."""


class BillflowDisabled(SettleRefused):
    pass


class HashKeyMissing(SettleRefused):
    pass


class HashInvalid(SettleRefused):
    pass


class CustomerUnknown(SettleRefused):
    pass


class SubBillerUnknown(SettleRefused):
    pass


class SettlementLinkMissing(SettleRefused):
    """The merchant requires an active linked account of the sub-biller, and it has none."""


class PaymentTokenUnknown(SettleRefused):
    pass


class PaymentCurrencyMismatch(SettleRefused):
    pass


class NoPaymentMethod(SettleRefused):
    """The customer has no wallet in the bill's currency."""


class InsufficientBalance(SettleRefused):
    pass


class DuplicateBill(SettleRefused):
    """The merchant has a bill with this ref_id (``paid``: whether that one is paid)."""

    def __init__(self, paid: bool) -> None:
        super().__init__(paid=paid)


@dataclass
class Settled:
    bill_id: str
    paid: bool  # False: kept unpaid (default method, not enough money), awaiting checkout


async def settle(session: AsyncSession, merchant: Merchant, inp: SettleInput, db: Database) -> Settled:
    """Push a bill and pay it from the customer's wallet, card or account, in the spec's check order (§2.11)."""
    if not merchant.billflow_enabled:
        raise BillflowDisabled()
    if not merchant.bill_hash_key:
        raise HashKeyMissing()
    message = hashing.bill_message(
        inp.ref_id, inp.date, inp.currency_raw, inp.total_raw, inp.customer_sync_code, inp.payment_to
    )
    if not hashing.verify(message, merchant.bill_hash_key, inp.hash):
        raise HashInvalid()
    customer, wallets, default_method = await repo.customer_with_wallets(session, merchant.id, inp.customer_sync_code)
    if customer is None:
        raise CustomerUnknown()
    sub, target = await repo.sub_biller_with_account(session, merchant.id, inp.payment_to, inp.currency)
    if sub is None:
        raise SubBillerUnknown()
    if merchant.require_settlement_link and not await subbillers.has_active_link(session, sub):
        raise SettlementLinkMissing()
    # A repeated ref_id is refused before the payment method is looked at (§2.11). Not asked up front, though:
    # on the path of a new bill, the bill's own insert below finds a repeat (one statement fewer per payment,
    # bench/README.md); the errors that the duplicate check must win over ask here first.
    try:
        method = await _method_on_file(session, merchant, customer, wallets, default_method, inp)
        if method is not None:
            return await _settle_with_method(session, db, merchant, inp, customer, sub, target, method)
        wallet, source = _paying_wallet(wallets, inp)
    except SettleRefused:
        await _refuse_if_duplicate(session, merchant, inp)
        raise
    explicit = bool(inp.payment_method_token)

    # Money first, then the bill, written once in its final state: fewer statements than writing the bill, then
    # paying, then updating it (bench/README.md). A concurrent push of the same ref_id is still refused before
    # anything is kept: the loser's bill insert finds the (merchant, ref_id) unique index taken, and the error
    # rolls back its whole transaction, the money movement included.
    now = clock.now()
    bill_id, tran_id = new_id(), new_id()
    entry_id, paid, checkout_ref = None, True, None
    if inp.total > 0:
        if target is None:
            target = await ledger.settlement_account(session, sub.merchant_id, sub.id, inp.currency)
        try:
            entry = await ledger.post(
                session,
                merchant_id=merchant.id,
                kind="wallet_payment",
                memo=f"bill {inp.ref_id}",
                legs=[ledger.Leg(source, -inp.total), ledger.Leg(target, inp.total)],
            )
            entry_id = entry.id
        except ledger.InsufficientFunds:
            if explicit:
                await _refuse_if_duplicate(session, merchant, inp)
                raise InsufficientBalance() from None  # nothing is kept
            # The default method could not pay: the bill stays, unpaid, with a checkout reference [OBS].
            paid, checkout_ref = False, secrets.token_hex(6).upper()
    bill = _bill_row(bill_id, merchant, customer, sub, inp, now, paid, "wallet", tran_id, checkout_ref)
    inserted = await session.execute(_bill_insert(session), bill)
    if inserted.first() is None:
        # The ref_id was taken, before this request or by a concurrent one; raising rolls back the money movement.
        await _refuse_if_duplicate(session, merchant, inp)
        raise DuplicateBill(paid=False)
    if inp.details:
        await session.execute(
            _DETAIL_INSERT,
            [{"bill_id": bill_id, "position": i, **vars(d)} for i, d in enumerate(inp.details)],
        )
    if not paid:
        return Settled(bill_id, paid=False)
    await session.execute(
        _TRANSACTION_INSERT,
        _transaction_row(tran_id, merchant, customer, sub, bill_id, inp, now, entry_id, "wallet_payment")
        | {"wallet_id": wallet.id},
    )
    return Settled(bill_id, paid=True)


def _bill_row(
    bill_id: str,
    merchant: Merchant,
    customer: Customer,
    sub: Any,
    inp: SettleInput,
    now: datetime,
    paid: bool,
    method_type: str,
    tran_id: str,
    checkout_ref: str | None,
) -> dict[str, Any]:
    return {
        "id": bill_id,
        "merchant_id": merchant.id,
        "customer_id": customer.id,
        "sub_biller_id": sub.id,
        "ref_id": inp.ref_id,
        "date": inp.date,
        "due_date": inp.due_date,
        "currency": inp.currency,
        "total_amount": inp.total,
        "total_tax": inp.total_tax,
        "description": inp.description,
        "exchange_rate_khr": inp.exchange_rate_khr,
        "total_amount_khr": inp.total_amount_khr,
        "status": "paid" if paid else "unpaid",
        "payment_method": method_type if paid else "",
        "payment_date": now if paid else None,
        "payment_ref": tran_id if paid else "",
        "checkout_ref": checkout_ref,
        "created_at": now,
    }


def _transaction_row(
    tran_id: str,
    merchant: Merchant,
    customer: Customer,
    sub: Any,
    bill_id: str,
    inp: SettleInput,
    now: datetime,
    entry_id: str | None,
    type_: str,
) -> dict[str, Any]:
    return dict(
        id=tran_id,
        merchant_id=merchant.id,
        customer_id=customer.id,
        wallet_id=None,
        bill_id=bill_id,
        sub_biller_id=sub.id,
        type=type_,
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


async def _method_on_file(
    session: AsyncSession,
    merchant: Merchant,
    customer: Customer,
    wallets: list[tuple[Wallet, Account]],
    default_method: str | None,
    inp: SettleInput,
) -> PaymentMethod | None:
    """The card or account this settle pays with: the token's, else the customer's default one; None: a wallet."""
    token = inp.payment_method_token
    if token:
        if any(secrets.compare_digest(w.payment_token, token) for w, _ in wallets):
            return None
        method = await methods.by_token(session, merchant.id, customer.id, token)
        if method is None:
            raise PaymentTokenUnknown()
    elif default_method is not None:
        method = await session.get(PaymentMethod, default_method)
        assert method is not None
        if method.currency is not None and method.currency != inp.currency:
            return None  # a default account in another currency: the wallet in the bill's currency pays [INF]
    else:
        return None
    if method.currency is not None and method.currency != inp.currency:
        raise PaymentCurrencyMismatch()
    return method


# What a settle paid by each kind of method is recorded as (transaction_type; the bill's payment_method is the
# method's type) [INF].
METHOD_TRANSACTION_TYPES = {"card": "card_payment", "bank_account": "bank_account_payment"}


async def _settle_with_method(
    session: AsyncSession,
    db: Database,
    merchant: Merchant,
    inp: SettleInput,
    customer: Customer,
    sub: Any,
    target: Account | None,
    method: PaymentMethod,
) -> Settled:
    """Charge the card or account through its vault or bank, then record the bill, the transaction and one ledger
    entry (the vault's or bank's clearing → the sub-biller) in the request's transaction. A decline keeps nothing;
    a charge whose recording fails is given back."""
    await _refuse_if_duplicate(session, merchant, inp)  # before any money moves
    kind = method.type
    bill_id, tran_id = new_id(), new_id()
    reference = methods.reference_for(tran_id)
    charged = None
    if inp.total > 0:
        await session.commit()  # no transaction open while the vault or bank is asked (it commits on its own)
        charged = await methods.charge(db, method, inp.total, inp.currency, reference)
    try:
        now = clock.now()
        entry_id = None
        if charged is not None:
            await methods.keep(session, charged, method, inp.total, inp.currency)
            clearing = await ledger.clearing_account(session, merchant.id, charged.bank_code, inp.currency)
            if target is None:
                target = await ledger.settlement_account(session, sub.merchant_id, sub.id, inp.currency)
            entry = await ledger.post(
                session,
                merchant_id=merchant.id,
                kind=METHOD_TRANSACTION_TYPES[method.type],
                memo=f"bill {inp.ref_id} by {method.type} {method.last4}",
                legs=[ledger.Leg(clearing, -inp.total), ledger.Leg(target, inp.total)],
            )
            entry_id = entry.id
        bill = _bill_row(bill_id, merchant, customer, sub, inp, now, True, method.type, tran_id, None)
        if (await session.execute(_bill_insert(session), bill)).first() is None:
            raise DuplicateBill(paid=False)  # a concurrent push of this ref_id won
        if inp.details:
            await session.execute(
                _DETAIL_INSERT, [{"bill_id": bill_id, "position": i, **vars(d)} for i, d in enumerate(inp.details)]
            )
        row = _transaction_row(
            tran_id, merchant, customer, sub, bill_id, inp, now, entry_id, METHOD_TRANSACTION_TYPES[method.type]
        )
        if charged is not None:
            row |= {
                "bank_code": charged.bank_code,
                "bank_ref": charged.bank_ref,
                "payer_account_no": charged.payer_account,
                "payer_account_name": method.name[:200],
            }
        await session.execute(_TRANSACTION_INSERT, row)
        await session.flush()
    except BaseException:
        if charged is not None:
            await session.rollback()
            await methods.give_back(db, kind, reference)
        raise
    return Settled(bill_id, paid=True)


# The settle path's INSERTs, built once: building ``insert().values(...)`` per payment cost a third of its CPU
# (bench/README.md). Executed with a parameter dict, SQLAlchemy reuses the compiled statement.
_BILL_INSERTS: dict[str, Any] = {}
_DETAIL_INSERT = BillDetail.__table__.insert()
_TRANSACTION_INSERT = Transaction.__table__.insert()


def _bill_insert(session: AsyncSession) -> Any:
    name = session.get_bind().dialect.name
    if name not in _BILL_INSERTS:
        table = Bill.__table__
        _BILL_INSERTS[name] = (
            insert_for(session, table)
            .on_conflict_do_nothing(index_elements=["merchant_id", "ref_id"])
            .returning(table.c.id)
        )
    return _BILL_INSERTS[name]


async def _refuse_if_duplicate(session: AsyncSession, merchant: Merchant, inp: SettleInput) -> None:
    # The id as loaded, never refreshed: after a charge's recording was rolled back the merchant is expired.
    merchant_id = inspect(merchant).identity[0]
    existing = await repo.bill_by_ref(session, merchant_id, inp.ref_id)
    if existing is not None:
        raise DuplicateBill(paid=existing.status == "paid")


def _paying_wallet(wallets: list[tuple[Wallet, Account]], inp: SettleInput) -> tuple[Wallet, Account]:
    if inp.payment_method_token:
        found = next(
            ((w, a) for w, a in wallets if secrets.compare_digest(w.payment_token, inp.payment_method_token)), None
        )
        if found is None:
            raise PaymentTokenUnknown()
        if found[0].currency != inp.currency:
            raise PaymentCurrencyMismatch()
        return found
    found = next(((w, a) for w, a in wallets if w.currency == inp.currency), None)
    if found is None:
        raise NoPaymentMethod()
    return found


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
