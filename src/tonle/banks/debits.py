"""Debits at a customer's bank (Auto Direct Debit): the one door through which Tonle asks a bank to take money from
an account a customer consented to. The bank is another system: a debit is asked with Tonle's own reference, and
asking again with the same reference answers the first outcome without taking the money twice, so a collection
whose worker died after the bank's answer finishes exactly once.

The bank behind the door is installed by the composition root: the sandbox banks (``tonle.sandbox.bankcore``),
or a connector to a real bank."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tonle.db import Database

# Why a bank refused a debit; the retryable ones may succeed later (the customer tops the account up, the bank
# comes back), the others never will.
RETRYABLE = frozenset({"insufficient_funds", "bank_unavailable"})
HARD = frozenset({"account_closed", "account_unknown", "currency_mismatch", "consent_withdrawn"})


@dataclass(frozen=True)
class Debited:
    ok: bool
    bank_ref: str = ""  # the bank's reference of a debit that happened
    reason: str = ""  # why it did not

    @property
    def retryable(self) -> bool:
        return not self.ok and self.reason in RETRYABLE


@dataclass(frozen=True)
class Account:
    """An account a bank shows its customer when asked to consent."""

    number: str
    name: str
    currency: str


class Rail(Protocol):
    async def debit(
        self, db: Database, *, bank_code: str, account: str, amount: int, currency: str, reference: str
    ) -> Debited: ...

    async def account(self, db: Database, *, bank_code: str, number: str) -> Account | None: ...

    async def reverse(self, db: Database, reference: str) -> None:
        """Give a debit back to the account (reconciliation: Tonle never recorded the payment it was for)."""
        ...

    async def unreversed(self, db: Database, prefix: str, since: datetime, before: datetime) -> list[str]:
        """References starting with ``prefix``, debited in [``since``, ``before``) and not reversed."""
        ...


_RAIL: list[Rail] = []


def install(rail: Rail) -> None:
    _RAIL[:] = [rail]


def rail() -> Rail:
    if not _RAIL:
        raise RuntimeError("no bank rail installed (the composition root installs the sandbox banks)")
    return _RAIL[0]
