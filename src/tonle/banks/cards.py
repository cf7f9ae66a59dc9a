"""The card vault and acquirer: the one door through which Tonle learns what a card token stands for and charges
it. The vault, not Tonle, receives the card number (its page takes the customer's form post); Tonle receives a
token and what may be shown: brand, last four digits, expiry month and year. Charges are asked by Tonle's
reference: asked again, the vault answers the first outcome without charging twice; ``reverse`` gives a charge
back (reconciliation, when Tonle never recorded the payment it was for).

The vault behind the door is installed by the composition root: the sandbox vault (``tonle.sandbox.vault``), or a
connector to a real one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tonle.banks.debits import Debited
from tonle.db import Database


@dataclass(frozen=True)
class Card:
    token: str  # the vault's token: what Tonle charges
    brand: str  # visa | mastercard | unionpay | jcb | card
    last4: str
    exp_month: int
    exp_year: int  # four digits
    reference: str  # what the card form gave the vault (Tonle's page): a token only counts on its own page


class Vault(Protocol):
    # The code the acquirer's money comes in under (the merchant's clearing account with it).
    code: str
    name: str
    form_action: str  # where Tonle's card form posts the card (the vault's address, never Tonle's code)

    async def card(self, db: Database, token: str) -> Card | None: ...

    async def charge(self, db: Database, *, token: str, amount: int, currency: str, reference: str) -> Debited: ...

    async def reverse(self, db: Database, reference: str) -> None: ...

    async def unreversed(self, db: Database, prefix: str, since: datetime, before: datetime) -> list[str]:
        """References starting with ``prefix``, charged in [``since``, ``before``) and not reversed."""
        ...


_VAULT: list[Vault] = []


def install(vault: Vault) -> None:
    _VAULT[:] = [vault]


def vault() -> Vault:
    if not _VAULT:
        raise RuntimeError("no card vault installed (the composition root installs the sandbox vault)")
    return _VAULT[0]
