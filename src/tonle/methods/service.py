"""Cards and bank accounts on file: the link page's session, what it puts on file, the list get_payment_methods
shows, the default, removal, and charging a method through the card vault or the bank.

A charge goes to another system (the vault, the bank) that commits on its own, so no transaction of Tonle's is open
while it is asked, and the payment it pays for is recorded afterwards, in one transaction with its ledger entry and
a ``MethodCharge`` row keyed by the charge's reference. A charge whose payment never got recorded (the request
failed after the charge, or its process died) is given back: inline when the request fails, else by
reconciliation, which claims the same key first, so a charge is either kept or reversed, never both."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.banks import cards, debits
from tonle.banks.debits import Debited
from tonle.banks.models import Bank
from tonle.config import Settings
from tonle.customers.models import Customer, PaymentMethod, Wallet
from tonle.db import Database
from tonle.kit.clock import clock
from tonle.kit.crypto import masked
from tonle.kit.domain import DomainError
from tonle.kit.sql import insert_for
from tonle.kit.urls import with_query
from tonle.merchants.models import Merchant
from tonle.methods.models import MethodCharge, MethodLink

KINDS = ("card", "bank_account")
# Every reference a method charge is asked with starts so: reconciliation looks at these only (direct debits use
# the same bank rail with references of their own).
CHARGE_PREFIX = "pm-"
# How far back reconciliation looks: a day of charges (it runs every minute; a worker down longer than a day
# leaves older unrecorded charges to the operator, docs/payments.md).
RECONCILE_WINDOW = timedelta(days=1)
BRANDS = {"visa": "Visa", "mastercard": "Mastercard", "unionpay": "UnionPay", "jcb": "JCB"}


class PageUnavailable(DomainError):
    """The link page cannot be used: ``reason`` unknown | expired | done."""


class MethodNotFound(DomainError):
    """No live method of this customer has the token."""


class Declined(DomainError):
    """The vault or the bank refused the charge (``reason``); nothing was taken, nothing is kept."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason=reason)


class ChargeReversed(DomainError):
    """Reconciliation gave the charge back before its payment was recorded (the request was too slow)."""


# ---------------------------------------------------------------- the link page's session


async def open_link(
    session: AsyncSession, settings: Settings, merchant: Merchant, customer: Customer, kind: str, web_url: str
) -> MethodLink:
    """``kind``: card, bank_account or "" (the customer picks); the routers check it."""
    link = MethodLink(
        merchant_id=merchant.id,
        customer_id=customer.id,
        page_ref=secrets.token_hex(16),
        kind=kind,
        web_url=web_url,
        expires_at=clock.now() + timedelta(seconds=settings.method_link_ttl_seconds),
    )
    session.add(link)
    await session.flush()
    return link


def link_url(settings: Settings, link: MethodLink) -> str:
    return f"{settings.issuer}/pay/methods/{link.page_ref}"


async def open_page(session: AsyncSession, page_ref: str, *, for_update: bool = False) -> MethodLink:
    q = select(MethodLink).where(MethodLink.page_ref == page_ref)
    if for_update:
        q = q.with_for_update()
    link = await session.scalar(q)
    if link is None:
        raise PageUnavailable(reason="unknown")
    if link.state != "open":
        raise PageUnavailable(reason="done", link=link)
    if link.expires_at <= clock.now():
        raise PageUnavailable(reason="expired", link=link)
    return link


def return_url(link: MethodLink, outcome: str, method: PaymentMethod | None = None) -> str:
    """Where the page goes back to, with the outcome (``success`` | ``cancelled`` | a refusal's reason) and the new
    method's id and token; empty when the biller gave no ``web_url``."""
    if not link.web_url:
        return ""
    query = {"status": outcome}
    if method is not None:
        query |= {"payment_method_id": method.id, "payment_method_token": method.payment_token, "type": method.type}
    return with_query(link.web_url, query)


def display_name(customer: Customer, method: PaymentMethod, bank: Bank | None = None) -> str:
    if method.type == "card":
        return f"{customer.name}'s {BRANDS.get(method.brand, 'Card')} card"
    return f"{customer.name}'s {bank.name if bank else method.bank_code} account"


async def _finish(session: AsyncSession, link: MethodLink, method: PaymentMethod) -> PaymentMethod:
    done = await session.execute(
        update(MethodLink)
        .where(MethodLink.id == link.id, MethodLink.state == "open")
        .values(state="done", method_id=method.id)
    )
    if done.rowcount != 1:  # the page was used twice at once: the other use won
        raise PageUnavailable(reason="done", link=link)
    session.add(method)
    await session.flush()
    link.state, link.method_id = "done", method.id
    return method


async def add_card(session: AsyncSession, link: MethodLink, card: cards.Card) -> PaymentMethod:
    """Put the vault's card on file: its token, brand, last four digits and expiry, nothing else."""
    customer = await session.get(Customer, link.customer_id)
    assert customer is not None
    method = PaymentMethod(
        merchant_id=link.merchant_id,
        customer_id=link.customer_id,
        type="card",
        last4=card.last4,
        brand=card.brand,
        vault_token=card.token,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
    )
    method.name = display_name(customer, method)
    return await _finish(session, link, method)


async def add_account(session: AsyncSession, link: MethodLink, bank: Bank, account: debits.Account) -> PaymentMethod:
    """Put an account the bank confirmed (the customer gave its one-time code) on file; the same account of the same
    customer again is the one already on file."""
    existing = await session.scalar(
        select(PaymentMethod).where(
            PaymentMethod.customer_id == link.customer_id,
            PaymentMethod.type == "bank_account",
            PaymentMethod.bank_code == bank.code,
            PaymentMethod.account_number == account.number,
            PaymentMethod.removed_at.is_(None),
        )
    )
    if existing is not None:
        await session.execute(
            update(MethodLink).where(MethodLink.id == link.id).values(state="done", method_id=existing.id)
        )
        link.state, link.method_id = "done", existing.id
        return existing
    customer = await session.get(Customer, link.customer_id)
    assert customer is not None
    method = PaymentMethod(
        merchant_id=link.merchant_id,
        customer_id=link.customer_id,
        type="bank_account",
        last4=account.number[-4:],
        bank_code=bank.code,
        account_number=account.number,
        currency=account.currency,
    )
    method.name = display_name(customer, method, bank)
    return await _finish(session, link, method)


async def cancel(session: AsyncSession, link: MethodLink) -> None:
    await session.execute(
        update(MethodLink).where(MethodLink.id == link.id, MethodLink.state == "open").values(state="cancelled")
    )
    link.state = "cancelled"


# ---------------------------------------------------------------- what is on file


async def methods_of(session: AsyncSession, merchant_id: str, customer_id: str) -> list[PaymentMethod]:
    return list(
        await session.scalars(
            select(PaymentMethod)
            .where(
                PaymentMethod.merchant_id == merchant_id,
                PaymentMethod.customer_id == customer_id,
                PaymentMethod.removed_at.is_(None),
            )
            .order_by(PaymentMethod.created_at, PaymentMethod.id)
        )
    )


def shown_number(method: PaymentMethod) -> str:
    """``**********4242`` for a card (the spec's example form), ``******4567`` for an account (its own length)."""
    return "*" * 10 + method.last4 if method.type == "card" else masked(method.account_number)


def sub_titles(method: PaymentMethod) -> tuple[str, str]:
    """``Account No : **********4242`` / ``លេខ account : ******4567``."""
    shown = shown_number(method)
    return f"Account No : {shown}", f"លេខ account : {shown}"


async def by_token(session: AsyncSession, merchant_id: str, customer_id: str, token: str) -> PaymentMethod | None:
    found = await session.scalar(
        select(PaymentMethod).where(
            PaymentMethod.merchant_id == merchant_id,
            PaymentMethod.payment_token == token,
            PaymentMethod.removed_at.is_(None),
        )
    )
    if found is None or found.customer_id != customer_id:
        return None
    return found


async def default_of(session: AsyncSession, merchant_id: str, customer_id: str) -> PaymentMethod | None:
    """The customer's default method when it is a card or an account; None: the first wallet is."""
    return await session.scalar(
        select(PaymentMethod).where(
            PaymentMethod.merchant_id == merchant_id,
            PaymentMethod.customer_id == customer_id,
            PaymentMethod.removed_at.is_(None),
            PaymentMethod.is_default.is_(True),
        )
    )


async def set_default(session: AsyncSession, merchant: Merchant, customer: Customer, token: str) -> None:
    """Make a card, an account or a wallet (by its token) the method a settle without a token pays with."""
    method = await by_token(session, merchant.id, customer.id, token)
    if method is None:
        wallet = await session.scalar(
            select(Wallet).where(
                Wallet.merchant_id == merchant.id,
                Wallet.customer_id == customer.id,
                Wallet.payment_token == token,
                Wallet.deleted_at.is_(None),
            )
        )
        if wallet is None:
            raise MethodNotFound()
        # The wallet's order decides among wallets; it moves first, and no card or account is default.
        await session.execute(
            update(Wallet)
            .where(Wallet.customer_id == customer.id, Wallet.id != wallet.id, Wallet.position <= wallet.position)
            .values(position=Wallet.position + 1)
        )
        wallet.position = 0
    await session.execute(
        update(PaymentMethod)
        .where(PaymentMethod.customer_id == customer.id, PaymentMethod.is_default.is_(True))
        .values(is_default=False)
    )
    if method is not None:
        method.is_default = True
    await session.flush()


async def remove(session: AsyncSession, merchant: Merchant, customer: Customer, token: str) -> PaymentMethod:
    method = await by_token(session, merchant.id, customer.id, token)
    if method is None:
        raise MethodNotFound()
    method.removed_at, method.is_default = clock.now(), False
    await session.flush()
    return method


# ---------------------------------------------------------------- charging


@dataclass(frozen=True)
class Charged:
    reference: str
    bank_code: str  # whose clearing account the money comes in through
    bank_name: str
    bank_ref: str
    payer_account: str  # masked, as the transaction shows it


def reference_for(tran_id: str) -> str:
    return CHARGE_PREFIX + tran_id


async def charge(db: Database, method: PaymentMethod, amount: int, currency: str, reference: str) -> Charged:
    """Ask the vault or the bank for the money, with no transaction of the caller open. Raises ``Declined``."""
    if method.type == "card":
        vault = cards.vault()
        answer: Debited = await vault.charge(
            db, token=method.vault_token, amount=amount, currency=currency, reference=reference
        )
        code, name = vault.code, vault.name
    else:
        answer = await debits.rail().debit(
            db,
            bank_code=method.bank_code,
            account=method.account_number,
            amount=amount,
            currency=currency,
            reference=reference,
        )
        async with db.sessions() as session:
            bank = await session.get(Bank, method.bank_code)
        code, name = method.bank_code, bank.name if bank else method.bank_code
    if not answer.ok:
        raise Declined(answer.reason or "declined")
    return Charged(reference, code, name, answer.bank_ref, shown_number(method))


async def keep(session: AsyncSession, charged: Charged, method: PaymentMethod, amount: int, currency: str) -> None:
    """Claim the charge for the payment being recorded in this transaction; ``ChargeReversed`` when
    reconciliation claimed it first."""
    table = MethodCharge.__table__
    row = {
        "reference": charged.reference,
        "merchant_id": method.merchant_id,
        "method_id": method.id,
        "amount": amount,
        "currency": currency,
        "state": "recorded",
        "created_at": clock.now(),
    }
    got = await session.execute(
        insert_for(session, table).values(**row).on_conflict_do_nothing().returning(table.c.reference)
    )
    if got.first() is None:
        raise ChargeReversed()


async def give_back(db: Database, kind: str, reference: str) -> None:
    """Reverse a charge (of a method of type ``kind``) whose payment is not recorded: the caller's transaction was
    rolled back (which expired the caller's objects: hence the type, not the method)."""
    if kind == "card":
        await cards.vault().reverse(db, reference)
    else:
        await debits.rail().reverse(db, reference)


async def reconcile(db: Database, settings: Settings) -> int:
    """Give back every charge older than the reconcile delay that no recorded payment claimed: the request that
    asked for it failed or died between the answer and its transaction. Answers how many were given back."""
    before = clock.now() - timedelta(seconds=settings.charge_reconcile_after_seconds)
    since = before - RECONCILE_WINDOW
    given = 0
    for rail in (cards.vault(), debits.rail()):
        for reference in await rail.unreversed(db, CHARGE_PREFIX, since, before):
            async with db.sessions() as session, session.begin():
                table = MethodCharge.__table__
                await session.execute(
                    insert_for(session, table)
                    .values(reference=reference, state="voided", created_at=clock.now())
                    .on_conflict_do_nothing()
                )
                state = await session.scalar(select(MethodCharge.state).where(MethodCharge.reference == reference))
            if state != "voided":
                continue  # its payment is recorded: the charge stays
            await rail.reverse(db, reference)
            given += 1
    return given
