"""Money in: a wallet top-up is a pending transaction that only a bank's confirm can pay (sandbox or real); this
module opens it and tells the bank service how it is credited and announced."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.banks import service as banks
from tonle.banks.models import Bank
from tonle.config import Settings
from tonle.customers.models import Customer, Wallet
from tonle.db import new_id
from tonle.kit.clock import clock
from tonle.kit.domain import DomainError
from tonle.kit.money import AmountError, to_minor
from tonle.ledger import service as ledger
from tonle.ledger.models import Account, Entry
from tonle.merchants.models import Merchant
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
