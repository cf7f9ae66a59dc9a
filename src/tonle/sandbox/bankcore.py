"""The sandbox banks' core: debits from their customers' accounts, asked through ``tonle.banks.debits``. Each debit
is the bank's own transaction (committed apart from Tonle's books, as a real bank's would be) and is kept by
Tonle's reference, so asking again answers the first outcome and never takes the money twice. A bank set offline
(fixture ``online: false``) answers ``bank_unavailable``."""

from __future__ import annotations

import secrets

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
        for _ in range(2):  # a concurrent ask with the same reference: the loser reads the winner's outcome
            async with db.sessions() as session, session.begin():
                kept = await session.get(SandboxDebit, reference)
                if kept is not None:
                    return Debited(kept.ok, kept.bank_ref, kept.reason)
                bank = await session.get(Bank, bank_code)
                outcome = Debited(False, reason="bank_unavailable")
                if bank is not None and bank.online:
                    outcome = await self._take(session, bank_code, account, amount, currency)
                session.add(
                    SandboxDebit(
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
                )
                try:
                    await session.flush()
                except IntegrityError:
                    await session.rollback()
                    continue
                return outcome
        raise RuntimeError("sandbox debit neither recorded nor found")

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
