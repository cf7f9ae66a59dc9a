"""Small helpers shared by the tests."""

from __future__ import annotations

from typing import Any

import watch
from tonle.customers import repository as repo
from tonle.ledger import service as ledger
from tonle.ledger.models import Account


def fund_wallets(server, merchant_id: str, sync_code: str, amounts: dict[str, int]) -> None:
    """Credit a customer's wallets (minor units per currency) from the merchant's sandbox funding account, through
    the ledger, as the fixture loader does."""

    async def go(session: Any) -> None:
        customer = await repo.live_customer(session, merchant_id, sync_code)
        assert customer is not None
        for wallet, _ in await repo.wallets_with_balances(session, merchant_id, customer.id):
            amount = amounts.get(wallet.currency)
            if not amount:
                continue
            funding = await ledger.open_account(
                session,
                merchant_id=merchant_id,
                kind=ledger.AccountKind.sandbox_funding,
                currency=wallet.currency,
                allow_negative=True,
            )
            account = await session.get(Account, wallet.account_id)
            await ledger.post(
                session,
                merchant_id=merchant_id,
                kind="test_funding",
                legs=[ledger.Leg(funding, -amount), ledger.Leg(account, amount)],
            )

    server.in_session(go)


def ok(r, code: str = "000") -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["code"] == code, body
    return body["data"]


def add_sub_biller(server, merchant_id: str, code: str = "SP001", name: str = "Station One") -> None:
    from tonle.subbillers.models import SubBiller
    from tonle.subbillers.service import new_number

    async def go(session: Any) -> None:
        session.add(SubBiller(merchant_id=merchant_id, code=code, number=new_number(), name=name))

    server.in_session(go)


def add_bank(server, code: str, token: str, name: str = "Sandbox Bank") -> None:
    from tonle.banks.models import Bank
    from tonle.kit.crypto import digest

    watch.remember(token)

    async def go(session: Any) -> None:
        if await session.get(Bank, code) is None:
            session.add(Bank(code=code, name=name, api_token_digest=digest(token)))

    server.in_session(go)


def set_merchant(server, merchant_id: str, **values: Any) -> None:
    from tonle.merchants.models import Merchant

    async def go(session: Any) -> None:
        m = await session.get(Merchant, merchant_id)
        for k, v in values.items():
            setattr(m, k, v)

    server.in_session(go)


def add_sandbox_account(
    server, bank: str, number: str, name: str, currency: str, balance: int, status: str = "open"
) -> None:
    """An account at a sandbox bank (its own books), ``balance`` in minor units."""
    import uuid

    from tonle.sandbox.models import SandboxAccount

    async def go(session: Any) -> None:
        session.add(
            SandboxAccount(
                id=str(uuid.uuid4()),
                bank_code=bank,
                number=number,
                name=name,
                currency=currency,
                balance=balance,
                status=status,
            )
        )

    server.in_session(go)
