"""Money in: a wallet top-up is a pending transaction that only a bank's confirm can pay (sandbox or real)."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.checkout.models import Checkout
from tonle.config import Settings
from tonle.customers.models import Customer, Wallet
from tonle.db import new_id
from tonle.kit import codes, crypto
from tonle.kit.errors import MissedField, TonleError
from tonle.kit.money import AmountError, to_minor
from tonle.kit.timefmt import clock
from tonle.ledger import service as ledger
from tonle.ledger.models import Account
from tonle.merchants.models import Merchant
from tonle.payments.models import Transaction
from tonle.sandbox.models import Bank
from tonle.webhooks import outbox, payloads


async def start(
    session: AsyncSession, merchant: Merchant, settings: Settings, wallet_id: object, amount: object
) -> Transaction:
    if not isinstance(wallet_id, str) or not wallet_id.strip():
        raise MissedField([("Please provide [id].", "សូមផ្តល់ [id]។")])
    q = (
        select(Wallet, Customer)
        .join(Customer, Customer.id == Wallet.customer_id)
        .where(Wallet.merchant_id == merchant.id, Wallet.id == wallet_id, Wallet.deleted_at.is_(None))
    )
    found = (await session.execute(q)).first()
    if found is None:
        raise TonleError(codes.PAYMENT_METHOD_NOT_FOUND)
    wallet, customer = found
    if amount is None:
        raise MissedField([("Please provide [amount].", "សូមផ្តល់ [amount]។")])
    try:
        minor = to_minor(amount, wallet.currency)
    except AmountError as exc:
        raise MissedField(
            [(f"[amount] is not a valid {wallet.currency} amount: {exc}.", "[amount] មិនត្រឹមត្រូវ។")]
        ) from None
    if minor <= 0:
        raise MissedField([("[amount] must be greater than 0.", "[amount] ត្រូវតែធំជាង 0។")])
    now = clock.now()
    tran_id = new_id()
    tran = Transaction(
        id=tran_id,
        merchant_id=merchant.id,
        customer_id=customer.id,
        wallet_id=wallet.id,
        type="wallet_topup",
        reference=tran_id,
        amount=minor,
        fee=0,
        currency=wallet.currency,
        status="pending",
        tran_date=now,
        expire_date=now + timedelta(seconds=settings.topup_ttl_seconds),
        description=f"Top-up {wallet.name}",
        created_at=now,
    )
    session.add(tran)
    await session.flush()
    return tran


def effective_status(tran: Transaction) -> str:
    """A pending transaction past its expiry reads as expired (no writer needed to flip it)."""
    if tran.status == "pending" and tran.expire_date <= clock.now():
        return "expired"
    return tran.status


PAYABLE = ("wallet_topup", "checkout")


async def payable(session: AsyncSession, tran_id: str) -> Transaction:
    return check_payable(await session.get(Transaction, tran_id, populate_existing=True))


def check_payable(tran: Transaction | None) -> Transaction:
    if tran is None or tran.type not in PAYABLE:
        raise TonleError(codes.TRAN_NOT_FOUND)
    status = effective_status(tran)
    if status == "success":
        raise TonleError(codes.TRAN_ALREADY_PAID)
    if status == "expired":
        raise TonleError(codes.TRAN_EXPIRED)
    if status != "pending":
        raise TonleError(codes.TRAN_NOT_PAYABLE)
    return tran


async def inquire(session: AsyncSession, bank: Bank, identity: str) -> tuple[Transaction, str]:
    """Look a transaction up for a bank and hand that bank a fresh payment token (the previous one stops working).
    ``identity`` is the tran_id, or the MD5 of a scanned KHQR code (then the payment's channel is KHQR)."""
    from tonle.checkout import service as checkout

    channel = "Deeplink/Checkout"
    if len(identity) == 32 and all(ch in "0123456789abcdefABCDEF" for ch in identity):
        found = await checkout.by_md5(session, identity)
        identity, channel = (found.id, "KHQR") if found else (identity, channel)
    tran = await payable(session, identity)
    if tran.type == "checkout":
        await session.execute(update(Checkout).where(Checkout.tran_id == tran.id).values(channel=channel))
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
        raise TonleError(codes.BANK_PAYMENT_TOKEN_INVALID)
    if currency.upper() != tran.currency:
        raise TonleError(codes.BANK_CURRENCY_MISMATCH)
    try:
        total = to_minor(total_amount, tran.currency)
        original = to_minor(original_amount, tran.currency) if original_amount is not None else tran.amount
    except AmountError:
        raise TonleError(codes.BANK_AMOUNT_MISMATCH) from None
    if total != tran.amount + tran.fee or original != tran.amount:
        raise TonleError(codes.BANK_AMOUNT_MISMATCH)

    now = clock.now()
    # The guarded update is the one place where the race between two confirms is decided.
    won = await session.execute(
        update(Transaction)
        .where(Transaction.id == tran.id, Transaction.status == "pending")
        .values(
            status="success",
            paid_at=now,
            bank_ref=bank_ref,
            bank_date=bank_date,
            payer_account_no=payer.get("payer_account_no", "")[:60],
            payer_account_name=payer.get("payer_account_name", "")[:200],
            payer_phone=payer.get("payer_phone", "")[:40],
        )
    )
    if won.rowcount != 1:
        tran = await session.get(Transaction, tran_id, populate_existing=True)
        assert tran is not None
        if tran.status == "success":
            return tran, _same_confirm(tran, bank, bank_ref)
        raise TonleError(codes.TRAN_NOT_PAYABLE)
    clearing = await ledger.clearing_account(session, tran.merchant_id, bank.code, tran.currency)
    if tran.type == "checkout":
        from tonle.checkout import service as checkout

        entry = await checkout.credit(session, tran, bank, clearing)
    else:
        wallet = await session.get(Wallet, tran.wallet_id)
        assert wallet is not None
        account = await session.get(Account, wallet.account_id)
        assert account is not None
        try:
            entry = await ledger.post(
                session,
                merchant_id=tran.merchant_id,
                kind="wallet_topup",
                memo=f"top-up {tran.id} via {bank.code}",
                legs=[ledger.Leg(clearing, -tran.amount), ledger.Leg(account, tran.amount)],
            )
        except ledger.AccountClosed:
            raise TonleError(codes.TRAN_NOT_PAYABLE) from None
    await session.execute(update(Transaction).where(Transaction.id == tran.id).values(entry_id=entry.id))
    tran = await session.get(Transaction, tran_id, populate_existing=True)
    assert tran is not None
    await _announce(session, tran, bank)
    return tran, False


async def _announce(session: AsyncSession, tran: Transaction, bank: Bank) -> None:
    """The merchant's webhook for the payment, queued in this transaction (Bill24's payment body)."""
    merchant = await session.get(Merchant, tran.merchant_id)
    customer = await session.get(Customer, tran.customer_id) if tran.customer_id else None
    assert merchant is not None
    channel, purpose, identity, customers = "Bank Channel", tran.description, tran.reference, None
    device_code = ""
    if tran.type == "checkout":
        checkout = await session.get(Checkout, tran.id)
        assert checkout is not None
        channel, purpose, identity = checkout.channel, checkout.purpose, checkout.identity_code
        customers = json.loads(checkout.customers or "[]") or None
        device_code = checkout.device_code
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
        identity_code=identity,
        channel=channel,
        purpose=purpose,
        customer_code=customer.sync_code if customer else "",
        customer_name=customer.name if customer else "",
        description=tran.description,
        device_code=device_code,
        customers=customers,
    )
    await outbox.emit(
        session, merchant, "topup.success" if tran.type == "wallet_topup" else "payment.success", body, bill24_body=True
    )


def _same_confirm(tran: Transaction, bank: Bank, bank_ref: str) -> bool:
    """A repeat of the confirm that paid (same bank, same bank_ref) is answered as a success again; anything
    else is a second payment attempt and is refused."""
    if tran.bank_code == bank.code and tran.bank_ref == bank_ref:
        return True
    raise TonleError(codes.TRAN_ALREADY_PAID)
