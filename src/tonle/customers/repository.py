"""Every customer query, always scoped to the calling merchant."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.customers.models import Customer, Wallet
from tonle.ledger.models import Account


async def live_customer(session: AsyncSession, merchant_id: str, sync_code: str) -> Customer | None:
    q = select(Customer).where(
        Customer.merchant_id == merchant_id, Customer.sync_code == sync_code, Customer.deleted_at.is_(None)
    )
    return (await session.execute(q)).scalar_one_or_none()


async def wallets_with_balances(session: AsyncSession, merchant_id: str, customer_id: str) -> list[tuple[Wallet, int]]:
    """The customer's live wallets in wallet order, each with its ledger balance (one query)."""
    q = (
        select(Wallet, Account.balance)
        .join(Account, Account.id == Wallet.account_id)
        .where(Wallet.merchant_id == merchant_id, Wallet.customer_id == customer_id, Wallet.deleted_at.is_(None))
        .order_by(Wallet.position)
    )
    return [(w, bal) for w, bal in (await session.execute(q)).all()]


async def wallets_with_accounts(
    session: AsyncSession, merchant_id: str, customer_id: str
) -> list[tuple[Wallet, Account]]:
    """The customer's live wallets in wallet order, each with its ledger account (one query), for paying from."""
    q = (
        select(Wallet, Account)
        .join(Account, Account.id == Wallet.account_id)
        .where(Wallet.merchant_id == merchant_id, Wallet.customer_id == customer_id, Wallet.deleted_at.is_(None))
        .order_by(Wallet.position)
    )
    return [(w, a) for w, a in (await session.execute(q)).all()]
