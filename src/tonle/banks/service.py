"""Money in through a bank: the inquiry that hands a bank a payment token, and the confirm that pays, once.

The service knows no product by name. Each product registers a ``PayableKind`` for its transactions (the wallet
top-up in payments, the checkout transaction in checkout; hosted bills, proxy bills and direct-debit collections
next): how the money is credited, how the payment is announced, what an inquiry changes, and what other names a
bank may look a transaction up by (a scanned KHQR's MD5)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.banks.models import Bank
from tonle.customers.models import Customer
from tonle.kit import crypto
from tonle.kit.clock import clock
from tonle.kit.domain import DomainError
from tonle.kit.money import AmountError, to_minor
from tonle.ledger import service as ledger
from tonle.ledger.models import Account, Entry
from tonle.merchants.models import Merchant
from tonle.transactions.models import Transaction, effective_status
from tonle.webhooks import outbox, payloads


class TransactionNotFound(DomainError):
    """No transaction of a kind a bank can pay has this id."""


class TransactionAlreadyPaid(DomainError):
    """Paid already (by another confirm than this one)."""


class TransactionExpired(DomainError):
    pass


class TransactionNotPayable(DomainError):
    """Neither pending nor paid (failed), or its money has nowhere to go (the wallet was closed)."""


class PaymentTokenInvalid(DomainError):
    """Not the token the last inquiry handed to this bank."""


class CurrencyMismatch(DomainError):
    pass


class AmountMismatch(DomainError):
    pass


@dataclass(frozen=True)
class Announcement:
    """What the merchant's webhook says of a payment, beyond the transaction's own fields."""

    event_type: str  # topup.success | payment.success | ...
    channel: str  # payment_service_type
    purpose: str
    identity_code: str
    customers: list[dict[str, Any]] | None = None  # the product's bill lines, else one line for the payer
    device_code: str = ""
    body: dict[str, Any] | None = None  # the product's own webhook body, sent as it is (instead of Bill24's §2.4)


@dataclass(frozen=True)
class PayableKind:
    """How a bank pays one product's transactions (``Transaction.type``)."""

    type: str
    # Move the money: from the bank's clearing account (given) to wherever the product says, as one entry.
    credit: Callable[[AsyncSession, Transaction, Bank, Account], Awaitable[Entry]]
    announce: Callable[[AsyncSession, Transaction, Bank], Awaitable[Announcement]]
    # An inquiry found the transaction (``channel``: how, when an alias named it); the product may note it.
    on_inquiry: Callable[[AsyncSession, Transaction, str | None], Awaitable[None]] | None = None
    # The amount a confirm may pay (minor units in, the amount paid out, or a DomainError): None means exactly the
    # transaction's amount and fee. A bill whose biller allows part or over-payment says so here.
    accept: Callable[[AsyncSession, Transaction, int], Awaitable[int]] | None = None


# Another name a bank may send as identity_code: answers (tran_id, channel), or None when it is not one of its own.
Alias = Callable[[AsyncSession, str], Awaitable[tuple[str, str] | None]]

_KINDS: dict[str, PayableKind] = {}
_ALIASES: list[Alias] = []


def register(kind: PayableKind, alias: Alias | None = None) -> None:
    """Called once by each product's service module, at import."""
    _KINDS[kind.type] = kind
    if alias is not None and alias not in _ALIASES:
        _ALIASES.append(alias)


def register_alias(alias: Alias) -> None:
    """Another name for transactions of a kind already registered (a hosted invoice's scanned KHQR opens its
    ``bank_bill`` transaction on the spot)."""
    if alias not in _ALIASES:
        _ALIASES.append(alias)


def payable_types() -> tuple[str, ...]:
    return tuple(_KINDS)


async def payable(session: AsyncSession, tran_id: str) -> Transaction:
    return check_payable(await session.get(Transaction, tran_id, populate_existing=True))


def check_payable(tran: Transaction | None) -> Transaction:
    if tran is None or tran.type not in _KINDS:
        raise TransactionNotFound()
    status = effective_status(tran)
    if status == "success":
        raise TransactionAlreadyPaid()
    if status == "expired":
        raise TransactionExpired()
    if status != "pending":
        raise TransactionNotPayable()
    return tran


async def inquire(session: AsyncSession, bank: Bank, identity: str) -> tuple[Transaction, str]:
    """Look a transaction up for a bank and hand that bank a fresh payment token (the previous one stops working).
    ``identity`` is the tran_id, or another name a product registered (the MD5 of a scanned KHQR code)."""
    channel = None
    for alias in _ALIASES:
        found = await alias(session, identity)
        if found is not None:
            identity, channel = found
            break
    tran = await payable(session, identity)
    kind = _KINDS[tran.type]
    if kind.on_inquiry is not None:
        await kind.on_inquiry(session, tran, channel)
    token = secrets.token_hex(16)
    tran.bank_code, tran.payment_token_digest = bank.code, crypto.digest(token)
    await session.flush()
    return tran, token


async def confirm(
    session: AsyncSession,
    bank: Bank,
    *,
    tran_id: str,
    payment_token: str,
    bank_ref: str,
    currency: str,
    total_amount: object,
    original_amount: object,
    bank_date: str,
    payer: dict[str, str],
) -> tuple[Transaction, bool]:
    """Pay a pending transaction: exactly once, however many confirms arrive, one after another or at once.
    Returns (transaction, whether this call is a repeat of the confirm that paid it)."""
    # One read decides: reading again could see a concurrent confirm's success and call a repeat a second payment.
    tran = await session.get(Transaction, tran_id, populate_existing=True)
    if tran is not None and tran.status == "success":
        return tran, _same_confirm(tran, bank, bank_ref)
    tran = check_payable(tran)
    if (
        tran.bank_code != bank.code
        or not tran.payment_token_digest
        or not crypto.same(crypto.digest(payment_token), tran.payment_token_digest)
    ):
        raise PaymentTokenInvalid()
    if currency.upper() != tran.currency:
        raise CurrencyMismatch()
    kind = _KINDS[tran.type]
    try:
        total = to_minor(total_amount, tran.currency)
        original = to_minor(original_amount, tran.currency) if original_amount is not None else None
    except AmountError:
        raise AmountMismatch() from None
    if kind.accept is not None:
        if original is not None and original + tran.fee != total:
            raise AmountMismatch()
        paid = await kind.accept(session, tran, total - tran.fee)
    elif total != tran.amount + tran.fee or original not in (None, tran.amount):
        raise AmountMismatch()
    else:
        paid = tran.amount

    if not await record_payment(session, tran, bank, paid=paid, bank_ref=bank_ref, bank_date=bank_date, payer=payer):
        tran = await session.get(Transaction, tran_id, populate_existing=True)
        assert tran is not None
        if tran.status == "success":
            return tran, _same_confirm(tran, bank, bank_ref)
        raise TransactionNotPayable()
    tran = await session.get(Transaction, tran_id, populate_existing=True)
    assert tran is not None
    return tran, False


async def record_payment(
    session: AsyncSession,
    tran: Transaction,
    bank: Bank,
    *,
    paid: int,
    bank_ref: str,
    bank_date: str,
    payer: dict[str, str],
) -> bool:
    """The money of a pending transaction came in through ``bank`` (its confirm, or a charge of a card or account
    on file): mark it paid, credit it through the bank's clearing account and announce it. False: another payment
    of it won the race (nothing written)."""
    now = clock.now()
    # The guarded update is the one place where the race between two confirms is decided.
    won = await session.execute(
        update(Transaction)
        .where(Transaction.id == tran.id, Transaction.status == "pending")
        .values(
            status="success",
            amount=paid,
            paid_at=now,
            bank_code=bank.code,
            bank_ref=bank_ref,
            bank_date=bank_date,
            payer_account_no=payer.get("payer_account_no", "")[:60],
            payer_account_name=payer.get("payer_account_name", "")[:200],
            payer_phone=payer.get("payer_phone", "")[:40],
        )
    )
    if won.rowcount != 1:
        return False
    if paid != tran.amount:  # the credit moves what was paid
        tran = await session.get(Transaction, tran.id, populate_existing=True)
        assert tran is not None
    clearing = await ledger.clearing_account(session, tran.merchant_id, bank.code, tran.currency)
    entry = await _KINDS[tran.type].credit(session, tran, bank, clearing)
    await session.execute(update(Transaction).where(Transaction.id == tran.id).values(entry_id=entry.id))
    tran = await session.get(Transaction, tran.id, populate_existing=True)
    assert tran is not None
    await _announce(session, tran, bank)
    return True


async def _announce(session: AsyncSession, tran: Transaction, bank: Bank) -> None:
    """The merchant's webhook for the payment, queued in this transaction (Bill24's payment body)."""
    merchant = await session.get(Merchant, tran.merchant_id)
    customer = await session.get(Customer, tran.customer_id) if tran.customer_id else None
    assert merchant is not None
    said = await _KINDS[tran.type].announce(session, tran, bank)
    if said.body is not None:
        await outbox.emit(session, merchant, said.event_type, said.body, bill24_body=True)
        return
    body = payloads.payment_body(
        merchant.webhook_body_format,
        tran_id=tran.id,
        paid_at=tran.paid_at,
        amount=tran.amount,
        fee=tran.fee,
        currency=tran.currency,
        bank_code=bank.code,
        bank_name=bank.name,
        bank_ref=tran.bank_ref,
        identity_code=said.identity_code,
        channel=said.channel,
        purpose=said.purpose,
        customer_code=customer.sync_code if customer else "",
        customer_name=customer.name if customer else "",
        description=tran.description,
        device_code=said.device_code,
        customers=said.customers,
    )
    await outbox.emit(session, merchant, said.event_type, body, bill24_body=True)


def _same_confirm(tran: Transaction, bank: Bank, bank_ref: str) -> bool:
    """A repeat of the confirm that paid (same bank, same bank_ref) is answered as a success again; anything
    else is a second payment attempt and is refused."""
    if tran.bank_code == bank.code and tran.bank_ref == bank_ref:
        return True
    raise TransactionAlreadyPaid()
