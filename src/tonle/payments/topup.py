"""Money in: a wallet top-up is a pending transaction that only a bank's confirm can pay (sandbox or real); this
module opens it and tells the bank service how it is credited and announced."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.banks import service as banks
from tonle.banks.models import Bank
from tonle.config import Settings
from tonle.customers.models import Customer, PaymentMethod, Wallet
from tonle.db import Database, new_id
from tonle.kit.clock import clock
from tonle.kit.domain import DomainError
from tonle.kit.money import AmountError, to_minor
from tonle.ledger import service as ledger
from tonle.ledger.models import Account, Entry
from tonle.merchants.models import Merchant
from tonle.methods import service as methods
from tonle.transactions.models import Transaction


class WalletNotFound(DomainError):
    pass


class BadTopUpAmount(DomainError):
    """``reason``: missing, invalid (``why``, for the wallet's ``currency``) or not_positive."""

    def __init__(self, reason: str, currency: str, detail: str = "") -> None:
        super().__init__(detail or reason, reason=reason, currency=currency, why=detail)


async def start(
    session: AsyncSession, merchant: Merchant, settings: Settings, wallet_id: str, amount: object
) -> Transaction:
    """Open a pending top-up of one of the merchant's wallets; a bank's confirm pays it."""
    q = (
        select(Wallet, Customer)
        .join(Customer, Customer.id == Wallet.customer_id)
        .where(Wallet.merchant_id == merchant.id, Wallet.id == wallet_id, Wallet.deleted_at.is_(None))
    )
    found = (await session.execute(q)).first()
    if found is None:
        raise WalletNotFound()
    wallet, customer = found
    if amount is None:
        raise BadTopUpAmount("missing", wallet.currency)
    try:
        minor = to_minor(amount, wallet.currency)
    except AmountError as exc:
        raise BadTopUpAmount("invalid", wallet.currency, str(exc)) from None
    if minor <= 0:
        raise BadTopUpAmount("not_positive", wallet.currency)
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


class MethodCurrencyMismatch(DomainError):
    """The account on file holds another currency than the wallet."""


async def from_method(
    session: AsyncSession,
    db: Database,
    merchant: Merchant,
    settings: Settings,
    wallet_id: str,
    amount: object,
    method_id: str,
) -> Transaction:
    """A top-up paid at once from one of the customer's cards or accounts on file, through the same path as a bank's
    confirm (the money comes in through the vault's or bank's clearing account; the merchant is told). A decline
    leaves the top-up failed and nothing charged."""
    tran = await start(session, merchant, settings, wallet_id, amount)
    method = await session.scalar(
        select(PaymentMethod).where(
            PaymentMethod.id == method_id,
            PaymentMethod.merchant_id == merchant.id,
            PaymentMethod.customer_id == tran.customer_id,
            PaymentMethod.removed_at.is_(None),
        )
    )
    if method is None:
        raise methods.MethodNotFound()
    if method.currency is not None and method.currency != tran.currency:
        raise MethodCurrencyMismatch()
    reference, kind, tran_id = methods.reference_for(tran.id), method.type, tran.id
    await session.commit()  # the pending top-up exists before the money is asked for; no transaction stays open
    try:
        charged = await methods.charge(db, method, tran.amount, tran.currency, reference)
    except methods.Declined:
        await session.execute(update(Transaction).where(Transaction.id == tran.id).values(status="failed"))
        await session.commit()
        raise
    try:
        await methods.keep(session, charged, method, tran.amount, tran.currency)
        # A bank account's own bank; a card's acquirer is no bank of the fixtures (named for the books and webhook).
        payer_bank = await session.get(Bank, charged.bank_code) or Bank(code=charged.bank_code, name=charged.bank_name)
        payer = {"payer_account_no": charged.payer_account, "payer_account_name": method.name}
        if not await banks.record_payment(
            session,
            tran,
            payer_bank,
            paid=tran.amount,
            bank_ref=charged.bank_ref,
            bank_date=clock.now().date().isoformat(),
            payer=payer,
        ):
            raise RuntimeError(f"top-up {tran.id} was paid twice at once")
        await session.flush()
    except BaseException:
        await session.rollback()
        await methods.give_back(db, kind, reference)
        raise
    paid = await session.get(Transaction, tran_id, populate_existing=True)
    assert paid is not None
    return paid


async def _credit(session: AsyncSession, tran: Transaction, bank: Bank, clearing: Account) -> Entry:
    """The bank's money into the wallet the top-up was opened for."""
    wallet = await session.get(Wallet, tran.wallet_id)
    assert wallet is not None
    account = await session.get(Account, wallet.account_id)
    assert account is not None
    try:
        return await ledger.post(
            session,
            merchant_id=tran.merchant_id,
            kind="wallet_topup",
            memo=f"top-up {tran.id} via {bank.code}",
            legs=[ledger.Leg(clearing, -tran.amount), ledger.Leg(account, tran.amount)],
        )
    except ledger.AccountClosed:
        raise banks.TransactionNotPayable("the wallet was closed") from None


async def _announce(session: AsyncSession, tran: Transaction, _bank: Bank) -> banks.Announcement:
    return banks.Announcement("topup.success", "Bank Channel", tran.description, tran.reference)


banks.register(banks.PayableKind("wallet_topup", credit=_credit, announce=_announce))
