"""The ledger: the only code that moves money.

``post`` writes one journal entry: its postings sum to zero per currency, each account's cached balance moves in
a guarded UPDATE (an account that may not go negative never does, also under concurrent posts: PostgreSQL
re-checks the guard on the locked row), and it all happens inside the caller's transaction. Accounts are
updated in id order, so two entries touching the same accounts cannot deadlock.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from tonle.db import new_id
from tonle.kit.clock import clock
from tonle.kit.sql import insert_for
from tonle.ledger.models import Account, Entry, Posting


class AccountKind(StrEnum):
    wallet = "wallet"  # a customer's wallet
    sandbox_funding = "sandbox_funding"  # where seeded balances come from (may go negative)
    subbiller_settlement = "subbiller_settlement"
    bank_clearing = "bank_clearing"
    merchant_collection = "merchant_collection"
    fee = "fee"
    # Payments a biller took outside Tonle and recorded (Supplier API): its till (may go negative), and what it
    # collected so; no money Tonle holds.
    outside_tender = "outside_tender"
    outside_collection = "outside_collection"


class LedgerError(Exception):
    pass


class UnbalancedEntry(LedgerError):
    pass


class AccountClosed(LedgerError):
    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id} is closed")
        self.account_id = account_id


class InsufficientFunds(LedgerError):
    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id} cannot go below zero")
        self.account_id = account_id


@dataclass(frozen=True, slots=True)
class Leg:
    account: Account
    amount: int  # signed minor units: positive credits the account, negative debits it


def new_account(
    session: AsyncSession, *, merchant_id: str, kind: AccountKind, currency: str, owner_ref: str
) -> Account:
    """A brand-new account for a new owner (a wallet): no look-up needed, its owner_ref is fresh."""
    account = Account(
        id=new_id(),
        merchant_id=merchant_id,
        kind=kind.value,
        owner_ref=owner_ref,
        currency=currency,
        allow_negative=False,
        balance=0,
        created_at=clock.now(),
    )
    session.add(account)
    return account


async def close_accounts_if_empty(session: AsyncSession, account_ids: list[str]) -> bool:
    """Close all the accounts, or none of them when any holds money. Atomic against concurrent posts: a post
    either lands before (and the balance check fails) or finds the account closed."""
    if not account_ids:
        return True
    try:
        async with session.begin_nested():
            result = await session.execute(
                update(Account)
                .where(Account.id.in_(account_ids), Account.balance == 0, Account.closed_at.is_(None))
                .values(closed_at=clock.now())
            )
            if result.rowcount != len(account_ids):
                raise _NotEmpty
    except _NotEmpty:
        return False
    return True


class _NotEmpty(Exception):
    pass


_ACCOUNT_BY_KEY = select(Account).where(
    Account.merchant_id == bindparam("merchant_id"),
    Account.kind == bindparam("kind"),
    Account.owner_ref == bindparam("owner_ref"),
    Account.currency == bindparam("currency"),
)


async def open_account(
    session: AsyncSession,
    *,
    merchant_id: str,
    kind: AccountKind,
    currency: str,
    owner_ref: str = "",
    allow_negative: bool = False,
) -> Account:
    """Return the account with this (merchant, kind, owner, currency), creating it when there is none."""
    key = {"merchant_id": merchant_id, "kind": kind.value, "owner_ref": owner_ref, "currency": currency}
    # Look first: the account nearly always exists (a settle credits one that was opened long ago), and one
    # SELECT is one round trip instead of an INSERT that does nothing plus the SELECT.
    found = (await session.execute(_ACCOUNT_BY_KEY, key)).scalar_one_or_none()
    if found is not None:
        return found
    stmt = (
        insert_for(session, Account.__table__)
        .values(
            id=new_id(),
            merchant_id=merchant_id,
            kind=kind.value,
            owner_ref=owner_ref,
            currency=currency,
            allow_negative=allow_negative,
            balance=0,
            created_at=clock.now(),
        )
        .on_conflict_do_nothing(index_elements=["merchant_id", "kind", "owner_ref", "currency"])
    )
    await session.execute(stmt)  # a concurrent opener may win the race: then its row is the one
    return (await session.execute(_ACCOUNT_BY_KEY, key)).scalar_one()


_ENTRY_INSERT = Entry.__table__.insert()
_POSTING_INSERT = Posting.__table__.insert()
_MOVE = text(
    "UPDATE ledger_accounts SET balance = balance + :amount "
    "WHERE id = :id AND closed_at IS NULL AND (allow_negative OR balance + :amount >= 0) RETURNING balance"
)


async def post(session: AsyncSession, *, merchant_id: str, kind: str, legs: list[Leg], memo: str = "") -> Entry:
    """Write one balanced entry. Raises ``InsufficientFunds`` (a guarded account would go below zero) or
    ``AccountClosed`` with nothing written: the entry runs in a savepoint, so the caller's transaction stays usable."""
    if not legs or all(leg.amount == 0 for leg in legs):
        raise UnbalancedEntry("an entry needs at least one non-zero posting")
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        if not isinstance(leg.amount, int) or isinstance(leg.amount, bool):
            raise UnbalancedEntry("amounts are integers in minor units")
        totals[leg.account.currency] += leg.amount
    if any(totals.values()):
        raise UnbalancedEntry(f"postings do not sum to zero per currency: {dict(totals)}")

    now = clock.now()
    entry = Entry(id=new_id(), merchant_id=merchant_id, kind=kind, memo=memo[:255], created_at=now)
    async with session.begin_nested():
        # A Core INSERT, not session.add(): the entry row is written once and never changed, and the ORM's flush
        # machinery cost more CPU than the statement (bench/README.md). Callers use the returned entry's fields.
        await session.execute(
            _ENTRY_INSERT,
            {"id": entry.id, "merchant_id": merchant_id, "kind": kind, "memo": entry.memo, "created_at": now},
        )
        rows = []
        for leg in sorted(legs, key=lambda leg: leg.account.id):
            if leg.amount == 0:
                continue
            result = await session.execute(_MOVE, {"amount": leg.amount, "id": leg.account.id})
            after = result.scalar_one_or_none()
            if after is None:
                closed = await session.scalar(select(Account.closed_at).where(Account.id == leg.account.id))
                raise AccountClosed(leg.account.id) if closed else InsufficientFunds(leg.account.id)
            # Not a plain assignment: that would mark the row dirty and a later flush could write a stale balance.
            set_committed_value(leg.account, "balance", after)
            rows.append(
                {
                    "entry_id": entry.id,
                    "account_id": leg.account.id,
                    "currency": leg.account.currency,
                    "amount": leg.amount,
                    "balance_after": after,
                    "created_at": now,
                }
            )
        await session.execute(_POSTING_INSERT, rows)
    return entry


@dataclass
class NewEntry:
    merchant_id: str
    kind: str
    legs: list[Leg]
    memo: str = ""


BULK_CHUNK = 2000  # rows per multi-row statement: well under SQLite's and asyncpg's parameter limits


async def post_many(session: AsyncSession, entries: list[NewEntry]) -> list[str]:
    """Write many balanced entries at once (a bulk load: the seed), with the same rules as ``post``: each entry
    sums to zero per currency, guarded accounts never go below zero, closed accounts take nothing, and each
    posting's ``balance_after`` follows the account's history. The accounts are locked first (PostgreSQL), their
    postings written in the entries' order, and each account's balance updated once. All or nothing."""
    if not entries:
        return []
    for entry in entries:
        totals: dict[str, int] = defaultdict(int)
        for leg in entry.legs:
            if not isinstance(leg.amount, int) or isinstance(leg.amount, bool):
                raise UnbalancedEntry("amounts are integers in minor units")
            totals[leg.account.currency] += leg.amount
        if not entry.legs or any(totals.values()) or all(leg.amount == 0 for leg in entry.legs):
            raise UnbalancedEntry(f"entry {entry.memo!r} does not balance: {dict(totals)}")
    ids = sorted({leg.account.id for entry in entries for leg in entry.legs})
    state: dict[str, tuple[int, bool, bool]] = {}
    for start in range(0, len(ids), BULK_CHUNK):
        q = select(Account.id, Account.balance, Account.allow_negative, Account.closed_at).where(
            Account.id.in_(ids[start : start + BULK_CHUNK])
        )
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            q = q.with_for_update()
        for row in (await session.execute(q)).all():
            state[row.id] = (row.balance, row.allow_negative, row.closed_at is not None)
    running = {account_id: balance for account_id, (balance, _, _) in state.items()}
    now = clock.now()
    entry_rows, posting_rows = [], []
    for entry in entries:
        entry_id = new_id()
        entry_rows.append(
            {
                "id": entry_id,
                "merchant_id": entry.merchant_id,
                "kind": entry.kind,
                "memo": entry.memo[:255],
                "created_at": now,
            }
        )
        for leg in entry.legs:
            if leg.amount == 0:
                continue
            _, allow_negative, closed = state[leg.account.id]
            if closed:
                raise AccountClosed(leg.account.id)
            after = running[leg.account.id] + leg.amount
            if after < 0 and not allow_negative:
                raise InsufficientFunds(leg.account.id)
            running[leg.account.id] = after
            posting_rows.append(
                {
                    "entry_id": entry_id,
                    "account_id": leg.account.id,
                    "currency": leg.account.currency,
                    "amount": leg.amount,
                    "balance_after": after,
                    "created_at": now,
                }
            )
    async with session.begin_nested():
        for start in range(0, len(entry_rows), BULK_CHUNK):
            await session.execute(_ENTRY_INSERT, entry_rows[start : start + BULK_CHUNK])
        # Posting ids grow in insertion order, which is each account's history order.
        for start in range(0, len(posting_rows), BULK_CHUNK):
            await session.execute(_POSTING_INSERT, posting_rows[start : start + BULK_CHUNK])
        changed = [{"b_id": i, "b_balance": b} for i, b in running.items() if b != state[i][0]]
        if changed:
            await session.execute(
                update(Account.__table__)
                .where(Account.__table__.c.id == bindparam("b_id"))
                .values(balance=bindparam("b_balance")),
                changed,
            )
    for entry in entries:
        for leg in entry.legs:
            set_committed_value(leg.account, "balance", running[leg.account.id])
    return [row["id"] for row in entry_rows]


async def balances(session: AsyncSession, account_ids: list[str]) -> dict[str, int]:
    if not account_ids:
        return {}
    rows = await session.execute(select(Account.id, Account.balance).where(Account.id.in_(account_ids)))
    return {r.id: r.balance for r in rows}


async def clearing_account(session: AsyncSession, merchant_id: str, bank_code: str, currency: str) -> Account:
    """The merchant's position with a bank: debited when the bank pays in, credited when money goes out to it."""
    return await open_account(
        session,
        merchant_id=merchant_id,
        kind=AccountKind.bank_clearing,
        currency=currency,
        owner_ref=bank_code,
        allow_negative=True,
    )


async def settlement_account(session: AsyncSession, merchant_id: str, sub_biller_id: str, currency: str) -> Account:
    """What a sub-biller is owed: credited by settled payments, debited by payouts."""
    return await open_account(
        session,
        merchant_id=merchant_id,
        kind=AccountKind.subbiller_settlement,
        currency=currency,
        owner_ref=sub_biller_id,
    )
