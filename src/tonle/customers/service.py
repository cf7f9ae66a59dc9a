"""Customer rules: at most two wallets, one per currency; unique sync codes per merchant among live customers;
deletion only when every wallet is empty."""

from __future__ import annotations

import secrets

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.customers import repository as repo
from tonle.customers.models import Customer, PaymentMethod, Wallet
from tonle.customers.schemas import CustomerInput, NewWallet
from tonle.db import new_id
from tonle.kit.clock import clock
from tonle.kit.domain import DomainError
from tonle.ledger import service as ledger
from tonle.ledger.models import Account
from tonle.merchants.models import Merchant

MAX_WALLETS = 2


class CustomerExists(DomainError):
    """A live customer of the merchant has this sync code (``customer``: that one, when it could be read)."""

    def __init__(self, customer: Customer | None) -> None:
        super().__init__()
        self.customer = customer


class CustomerNotFound(DomainError):
    pass


class TooManyWallets(DomainError):
    pass


class WalletCurrencyRepeated(DomainError):
    pass


class WalletsDisabled(DomainError):
    """The merchant's wallet feature is off."""


class CustomerHasBalance(DomainError):
    """A wallet still holds money: the customer cannot be deleted."""


def _check_wallets(merchant: Merchant, existing: list[Wallet], new: list[NewWallet]) -> None:
    if not new:
        return
    if len(existing) + len(new) > MAX_WALLETS:
        raise TooManyWallets()
    currencies = [w.currency for w in existing] + [w.currency for w in new]
    if len(set(currencies)) != len(currencies):
        raise WalletCurrencyRepeated()
    if not merchant.wallet_enabled:
        raise WalletsDisabled()


async def _open_wallets(
    session: AsyncSession, customer: Customer, new: list[NewWallet], first_position: int
) -> list[Wallet]:
    ids = [new_id() for _ in new]
    accounts = [
        ledger.new_account(
            session, merchant_id=customer.merchant_id, kind=ledger.AccountKind.wallet, currency=w.currency, owner_ref=i
        )
        for i, w in zip(ids, new, strict=True)
    ]
    await session.flush()  # accounts first: wallets reference them (no ORM relationship orders the inserts)
    wallets = [
        Wallet(
            id=wallet_id,
            merchant_id=customer.merchant_id,
            customer_id=customer.id,
            account_id=account.id,
            name=w.name,
            currency=w.currency,
            position=first_position + i,
            created_at=clock.now(),
        )
        for i, (wallet_id, account, w) in enumerate(zip(ids, accounts, new, strict=True))
    ]
    session.add_all(wallets)
    await session.flush()
    return wallets


async def create(session: AsyncSession, merchant: Merchant, inp: CustomerInput) -> tuple[Customer, list[Wallet]]:
    _check_wallets(merchant, [], inp.wallets)
    existing = await repo.live_customer(session, merchant.id, inp.sync_code)
    if existing is not None:
        raise CustomerExists(existing)
    customer = Customer(
        id=new_id(),
        merchant_id=merchant.id,
        sync_code=inp.sync_code,
        name=inp.name,
        created_at=clock.now(),
        **inp.fields,
    )
    try:
        async with session.begin_nested():
            session.add(customer)
            await session.flush()
            wallets = await _open_wallets(session, customer, inp.wallets, 0)
    except IntegrityError:
        # Another request registered the same sync code between our look-up and our insert.
        existing = await repo.live_customer(session, merchant.id, inp.sync_code)
        if existing is None:
            raise
        raise CustomerExists(existing) from None
    return customer, wallets


async def create_many(
    session: AsyncSession, merchant: Merchant, inputs: list[CustomerInput]
) -> list[tuple[str, list[tuple[NewWallet, Account]]]]:
    """Register many new customers with their (empty) wallets in a few multi-row statements: the bulk path of a
    seed. The caller has made sure that none of the sync codes is live; the same wallet rules as ``create`` hold.
    Answers each customer's id with its wallets' ledger accounts, in the order given."""
    now = clock.now()
    customers, accounts, wallets, out = [], [], [], []
    for inp in inputs:
        _check_wallets(merchant, [], inp.wallets)
        customer_id = new_id()
        customers.append(
            {
                "id": customer_id,
                "merchant_id": merchant.id,
                "sync_code": inp.sync_code,
                "name": inp.name,
                "name_kh": inp.fields.get("name_kh"),
                "phone": inp.fields.get("phone"),
                "email": inp.fields.get("email"),
                "created_at": now,
            }
        )
        opened = []
        for position, w in enumerate(inp.wallets):
            wallet_id, account_id = new_id(), new_id()
            kind = ledger.AccountKind.wallet.value
            accounts.append(
                {
                    "id": account_id,
                    "merchant_id": merchant.id,
                    "kind": kind,
                    "owner_ref": wallet_id,
                    "currency": w.currency,
                    "allow_negative": False,
                    "balance": 0,
                    "created_at": now,
                }
            )
            wallets.append(
                {
                    "id": wallet_id,
                    "merchant_id": merchant.id,
                    "customer_id": customer_id,
                    "account_id": account_id,
                    "name": w.name,
                    "currency": w.currency,
                    "position": position,
                    "payment_token": secrets.token_hex(16),
                    "created_at": now,
                }
            )
            account = Account(
                id=account_id,
                merchant_id=merchant.id,
                kind=kind,
                owner_ref=wallet_id,
                currency=w.currency,
                allow_negative=False,
                balance=0,
            )
            opened.append((w, account))
        out.append((customer_id, opened))
    chunk = ledger.BULK_CHUNK
    # Accounts before wallets, customers before wallets: the foreign keys point that way.
    for table, rows in ((Customer.__table__, customers), (Account.__table__, accounts), (Wallet.__table__, wallets)):
        for start in range(0, len(rows), chunk):
            await session.execute(table.insert(), rows[start : start + chunk])
    return out


async def get(session: AsyncSession, merchant: Merchant, sync_code: str) -> Customer:
    customer = await repo.live_customer(session, merchant.id, sync_code)
    if customer is None:
        raise CustomerNotFound()
    return customer


async def update_profile(session: AsyncSession, merchant: Merchant, inp: CustomerInput) -> Customer:
    customer = await get(session, merchant, inp.sync_code)
    if inp.wallets:
        existing = [w for w, _ in await repo.wallets_with_balances(session, merchant.id, customer.id)]
        _check_wallets(merchant, existing, inp.wallets)
        await _open_wallets(session, customer, inp.wallets, max((w.position for w in existing), default=-1) + 1)
    if inp.name is not None:
        customer.name = inp.name
    for key, value in inp.fields.items():
        setattr(customer, key, value)
    customer.updated_at = clock.now()
    await session.flush()
    return customer


async def delete(session: AsyncSession, merchant: Merchant, sync_code: str) -> None:
    customer = await get(session, merchant, sync_code)
    wallets = [w for w, _ in await repo.wallets_with_balances(session, merchant.id, customer.id)]
    if not await ledger.close_accounts_if_empty(session, [w.account_id for w in wallets]):
        raise CustomerHasBalance()
    now = clock.now()
    customer.deleted_at = now
    if wallets:
        await session.execute(update(Wallet).where(Wallet.id.in_([w.id for w in wallets])).values(deleted_at=now))
    # Its cards and accounts on file go with it: their tokens pay nothing afterwards.
    await session.execute(
        update(PaymentMethod)
        .where(PaymentMethod.customer_id == customer.id, PaymentMethod.removed_at.is_(None))
        .values(removed_at=now, is_default=False)
    )
    await session.flush()
