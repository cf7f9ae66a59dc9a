"""Every customer query, always scoped to the calling merchant.

The statements that every payment runs are built once, with bind parameters: building a SQLAlchemy expression
(``Customer.merchant_id == x``) cost more CPU than running the query (bench/README.md)."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.customers.models import Customer, Wallet
from tonle.ledger.models import Account

_LIVE_CUSTOMER = select(Customer).where(
    Customer.merchant_id == bindparam("merchant_id"),
    Customer.sync_code == bindparam("sync_code"),
    Customer.deleted_at.is_(None),
)
_WALLETS_WITH_BALANCES = (
    select(Wallet, Account.balance)
    .join(Account, Account.id == Wallet.account_id)
    .where(
        Wallet.merchant_id == bindparam("merchant_id"),
        Wallet.customer_id == bindparam("customer_id"),
        Wallet.deleted_at.is_(None),
    )
    .order_by(Wallet.position)
)


async def live_customer(session: AsyncSession, merchant_id: str, sync_code: str) -> Customer | None:
    params = {"merchant_id": merchant_id, "sync_code": sync_code}
    return (await session.execute(_LIVE_CUSTOMER, params)).scalar_one_or_none()


async def wallets_with_balances(session: AsyncSession, merchant_id: str, customer_id: str) -> list[tuple[Wallet, int]]:
    """The customer's live wallets in wallet order, each with its ledger balance (one query)."""
    params = {"merchant_id": merchant_id, "customer_id": customer_id}
    return [(w, bal) for w, bal in (await session.execute(_WALLETS_WITH_BALANCES, params)).all()]
