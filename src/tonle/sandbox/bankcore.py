"""The sandbox banks' core: debits from their customers' accounts, asked through ``tonle.banks.debits``. Each debit
is the bank's own transaction (committed apart from Tonle's books, as a real bank's would be) and is kept by
Tonle's reference, so asking again answers the first outcome and never takes the money twice. A bank set offline
(fixture ``online: false``) answers ``bank_unavailable``."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from tonle.banks.debits import Account, Debited
from tonle.banks.models import Bank
from tonle.db import Database
from tonle.kit.clock import clock
from tonle.sandbox.models import SandboxAccount, SandboxDebit


class SandboxRail:
    async def account(self, db: Database, *, bank_code: str, number: str) -> Account | None:
        async with db.sessions() as session:
            acct = await session.scalar(
                select(SandboxAccount).where(SandboxAccount.bank_code == bank_code, SandboxAccount.number == number)
            )
        if acct is None or acct.status != "open":
            return None
        return Account(acct.number, acct.name, acct.currency)

    async def debit(
        self, db: Database, *, bank_code: str, account: str, amount: int, currency: str, reference: str
    ) -> Debited:
        async def decide(session: Any) -> Debited:
            bank = await session.get(Bank, bank_code)
            if bank is None or not bank.online:
                return Debited(False, reason="bank_unavailable")
            return await self._take(session, bank_code, account, amount, currency)

        def record(outcome: Debited) -> SandboxDebit:
            return SandboxDebit(
                reference=reference,
                bank_code=bank_code,
                account_number=account,
                amount=amount,
                currency=currency,
                ok=outcome.ok,
                reason=outcome.reason,
                bank_ref=outcome.bank_ref,
                at=clock.now(),
            )

        return await asked_once(db, SandboxDebit, reference, decide, record)

    async def reverse(self, db: Database, reference: str) -> None:
        async with db.sessions() as session, session.begin():
            kept = await session.get(SandboxDebit, reference, with_for_update=True)
            if kept is None or not kept.ok or kept.reversed:
                return
            kept.reversed = True
            await session.execute(
                update(SandboxAccount)
                .where(SandboxAccount.bank_code == kept.bank_code, SandboxAccount.number == kept.account_number)
                .values(balance=SandboxAccount.balance + kept.amount)
            )

    async def unreversed(self, db: Database, prefix: str, since: datetime, before: datetime) -> list[str]:
        return await unreversed(db, SandboxDebit, prefix, since, before)

    async def _take(self, session, bank_code: str, number: str, amount: int, currency: str) -> Debited:
        acct = await session.scalar(
            select(SandboxAccount).where(SandboxAccount.bank_code == bank_code, SandboxAccount.number == number)
        )
        if acct is None:
            return Debited(False, reason="account_unknown")
        if acct.status != "open":
            return Debited(False, reason="account_closed")
        if acct.currency != currency:
            return Debited(False, reason="currency_mismatch")
        # One guarded update decides, so two debits at once never overdraw the account.
        taken = await session.execute(
            update(SandboxAccount)
            .where(SandboxAccount.id == acct.id, SandboxAccount.balance >= amount)
            .values(balance=SandboxAccount.balance - amount)
        )
        if taken.rowcount != 1:
            return Debited(False, reason="insufficient_funds")
        return Debited(True, bank_ref=f"{bank_code}{secrets.token_hex(5).upper()}")


# What the sandbox's bank and card vault share: an outcome kept by Tonle's reference (``SandboxDebit``,
# ``SandboxCardCharge``: reference, ok, reason, bank_ref, reversed, at).


async def asked_once(
    db: Database,
    model: Any,
    reference: str,
    decide: Callable[[Any], Awaitable[Debited]],
    record: Callable[[Debited], Any],
) -> Debited:
    """The outcome of what is asked by ``reference``: decided and kept the first time (in the institution's own
    transaction), the kept one every time after."""
    for _ in range(2):  # a concurrent ask with the same reference: the loser reads the winner's outcome
        async with db.sessions() as session, session.begin():
            kept = await session.get(model, reference)
            if kept is not None:
                return Debited(kept.ok, kept.bank_ref, kept.reason)
            outcome = await decide(session)
            session.add(record(outcome))
            try:
                await session.flush()
            except IntegrityError:
                await session.rollback()
                continue
            return outcome
    raise RuntimeError(f"sandbox outcome of {reference} neither recorded nor found")


async def unreversed(db: Database, model: Any, prefix: str, since: datetime, before: datetime) -> list[str]:
    async with db.sessions() as session:
        return list(
            await session.scalars(
                select(model.reference).where(
                    model.reference.startswith(prefix, autoescape=True),
                    model.ok.is_(True),
                    model.reversed.is_(False),
                    model.at >= since,
                    model.at < before,
                )
            )
        )
